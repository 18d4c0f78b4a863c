package emulator

import (
	"io"
	"net/http"
	"testing"
)

// BenchmarkPage reads full 5000-row pages of accounts over HTTP (all
// columns): the Web API's download path, streamed from a keyset SELECT.
func BenchmarkPage(b *testing.B) {
	e := newEnv(b, nil)
	if err := e.srv.Seed(b.Context(), SeedOptions{Accounts: 20000, Seed: 3}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	rows := 0
	for b.Loop() {
		next := e.url + "accounts"
		for next != "" {
			req, _ := http.NewRequest("GET", next, nil)
			req.Header.Set("Authorization", "Bearer "+e.token)
			req.Header.Set("Prefer", "odata.maxpagesize=5000")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			next = nextLinkOf(body)
			rows += 5000
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "records/s")
}
