package engine

import (
	"context"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/core/store"
	"github.com/fieldsync/fieldsync/plugins/dataverse"
	"github.com/fieldsync/fieldsync/plugins/dataverse/emulator"
	"github.com/fieldsync/fieldsync/sdk"
)

// dvBenchN is how many accounts BenchmarkDataverseDownload reads: from
// FIELDSYNC_DV_BENCH_N, or 20,000.
func dvBenchN(b *testing.B) int {
	if v := os.Getenv("FIELDSYNC_DV_BENCH_N"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("FIELDSYNC_DV_BENCH_N=%q is not a positive number", v)
		}
		return n
	}
	return 20_000
}

// BenchmarkDataverseDownload is the initial download of one entity from the
// Dataverse emulator on loopback, end to end (connector, engine, store), over
// the Web API and over TDS, in one run so the two compare as a ratio. The
// emulator's two endpoints read the same SQLite tables through the same
// store, so the ratio measures the protocols and our client code.
//
//	FIELDSYNC_DV_BENCH_N=1000000 go test -run '^$' -bench DataverseDownload -benchtime 1x -timeout 1h ./core/engine
func BenchmarkDataverseDownload(b *testing.B) {
	n := dvBenchN(b)
	ctx := context.Background()
	dir := b.TempDir()
	srv, err := emulator.New(emulator.Options{Path: filepath.Join(dir, "org.db"), Tenant: "tenant1"})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	start := time.Now()
	if err := srv.Store().Seed(ctx, emulator.SeedOptions{Accounts: n, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d accounts in %v", n, time.Since(start).Round(time.Millisecond))
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.ServeTDS(tl)

	settings := func(extra map[string]string) map[string]string {
		s := map[string]string{
			"url": hs.URL, "tenant": "tenant1",
			"client_id": emulator.DefaultClientID, "client_secret": emulator.DefaultClientSecret,
			"token_url": hs.URL + "/tenant1/oauth2/v2.0/token",
		}
		for k, v := range extra {
			s[k] = v
		}
		return s
	}
	paths := []struct {
		name  string
		extra map[string]string
	}{
		{"webapi", nil},
		{"tds", map[string]string{"tds": tl.Addr().String(), "tds_encrypt": "disable"}},
	}
	rates := map[string]float64{}
	for _, p := range paths {
		b.Run(p.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				conn, err := dataverse.Factory(ctx, settings(p.extra), hclog.NewNullLogger())
				if err != nil {
					b.Fatal(err)
				}
				st, err := store.Open(ctx, filepath.Join(b.TempDir(), "device.db"))
				if err != nil {
					b.Fatal(err)
				}
				eng, err := New(Options{Store: st, Connector: conn, Entities: []EntityConfig{{Name: "account"}},
					PageSize: 5000, User: "bench", Device: "bench"})
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				start := time.Now()
				lg, err := eng.Sync(ctx, SyncOptions{})
				elapsed := time.Since(start)
				if err != nil {
					b.Fatalf("sync: %v", err)
				}
				el := lg.Entities[0]
				if el.Received != n {
					b.Fatalf("received %d of %d accounts", el.Received, n)
				}
				if el.Path != p.name {
					b.Fatalf("the download took the %q path, want %q", el.Path, p.name)
				}
				rate := float64(n) / elapsed.Seconds()
				rates[p.name] = rate
				b.ReportMetric(rate, "records/s")
				if lg.Backend != nil {
					b.ReportMetric(float64(lg.Backend.Requests), "requests")
				}
				b.Logf("%s: %d accounts in %v (%.0f records/s), %d backend requests", p.name, n,
					elapsed.Round(time.Millisecond), rate, lg.Backend.Requests)
				st.Close()
				conn.Close(ctx)
			}
		})
	}
	if rates["webapi"] > 0 && rates["tds"] > 0 {
		b.Logf("TDS / Web API: %.2f×", rates["tds"]/rates["webapi"])
	}
	// The same reads without the engine and the store: the connector
	// fetching pages and dropping them, so the protocols and the client
	// code alone compare.
	fetchRates := map[string]float64{}
	for _, p := range paths {
		b.Run(p.name+"-fetch-only", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				conn, err := dataverse.Factory(ctx, settings(p.extra), hclog.NewNullLogger())
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				start := time.Now()
				got := 0
				err = conn.Fetch(ctx, sdk.FetchRequest{Entity: "account", PageSize: 5000}, func(pg *sdk.Page) error {
					got += pg.Len()
					return nil
				})
				elapsed := time.Since(start)
				if err != nil || got != n {
					b.Fatalf("fetch: %d of %d rows, %v", got, n, err)
				}
				rate := float64(n) / elapsed.Seconds()
				fetchRates[p.name] = rate
				b.ReportMetric(rate, "records/s")
				b.Logf("%s, fetch only: %d accounts in %v (%.0f records/s)", p.name, n, elapsed.Round(time.Millisecond), rate)
				conn.Close(ctx)
			}
		})
	}
	if fetchRates["webapi"] > 0 && fetchRates["tds"] > 0 {
		b.Logf("fetch only, TDS / Web API: %.2f×", fetchRates["tds"]/fetchRates["webapi"])
	}
}
