package remote_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/fieldsync/fieldsync/plugins/mock"
	"github.com/fieldsync/fieldsync/plugins/mock/httpapi"
	"github.com/fieldsync/fieldsync/plugins/mock/remote"
	"github.com/fieldsync/fieldsync/sdk"
)

// BenchmarkFetch streams every account of one seeded server in process and
// through the HTTP API (loopback, default pages per request) in the same
// run, so the records/s figures compare as a ratio: the HTTP leg is what
// the WASM build adds on top of its host's HTTP function. Every value of
// every row is read, as the engine's store writer would.
//
//	MOCK_BENCH_N=1000000 go test -run '^$' -bench Fetch -benchtime 3x ./plugins/mock/remote
func BenchmarkFetch(b *testing.B) {
	n := 100_000
	if v := os.Getenv("MOCK_BENCH_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("MOCK_BENCH_N=%q is not a positive number", v)
		}
	}
	ctx := context.Background()
	srv, err := mock.Create(ctx, filepath.Join(b.TempDir(), "server.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	if err := srv.Seed(ctx, mock.SeedOptions{Accounts: n, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(httpapi.Handler(srv))
	defer ts.Close()
	legs := []struct {
		name string
		open func() sdk.Connector
	}{
		{"inprocess", func() sdk.Connector { return srv.Connector("bench") }},
		{"http", func() sdk.Connector {
			c, err := remote.New(ctx, ts.URL, remote.Options{User: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			return c
		}},
	}
	for _, leg := range legs {
		b.Run(leg.name, func(b *testing.B) {
			c := leg.open()
			defer c.Close(ctx)
			schema, err := c.Schema(ctx)
			if err != nil {
				b.Fatal(err)
			}
			var kinds []sdk.Kind
			for _, f := range schema.Entity("account").Fields {
				kinds = append(kinds, f.Type.Kind())
			}
			b.ReportAllocs()
			records := 0
			for b.Loop() {
				got := 0
				err := c.Fetch(ctx, sdk.FetchRequest{Entity: "account", PageSize: sdk.DefaultPageSize}, func(p *sdk.Page) error {
					if err := p.Validate(kinds); err != nil {
						return err
					}
					for i := range p.IDs {
						for j := range p.Columns {
							_ = p.Columns[j].Value(kinds[j], i)
						}
					}
					got += p.Len()
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				if got != n {
					b.Fatalf("fetched %d accounts, want %d", got, n)
				}
				records += got
			}
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
