package engine

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/core/conflict"
	"github.com/fieldsync/fieldsync/core/wasmhost"
	"github.com/fieldsync/fieldsync/plugins/mock"
	"github.com/fieldsync/fieldsync/plugins/mock/httpapi"
	"github.com/fieldsync/fieldsync/sdk"
)

// benchAccounts is how many accounts the WASM benchmarks stream:
// FIELDSYNC_WASM_BENCH_N, or 100,000.
func benchAccounts(b *testing.B) int {
	if v := os.Getenv("FIELDSYNC_WASM_BENCH_N"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("FIELDSYNC_WASM_BENCH_N=%q is not a positive number", v)
		}
		return n
	}
	return 100_000
}

// BenchmarkMockWASM streams every account of one seeded server in-process
// and through the mock built as WASM (which reaches the same server over
// its HTTP API, under the sandbox's network policy), in one run, so the
// records/s compare as a ratio. The warm start (a cache hit) is reported too.
//
//	FIELDSYNC_WASM_BENCH_N=1000000 go test -run '^$' -bench MockWASM -benchtime 1x ./core/engine
func BenchmarkMockWASM(b *testing.B) {
	n := benchAccounts(b)
	ctx := context.Background()
	srv, err := mock.Create(ctx, filepath.Join(b.TempDir(), "server.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	if err := srv.Seed(ctx, mock.SeedOptions{Accounts: n, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	url := serveMock(b, srv, httpapi.Options{})
	for _, tr := range []struct {
		name string
		open func() sdk.Connector
	}{
		{"inprocess", func() sdk.Connector { return srv.Connector("bench") }},
		{"wasm", func() sdk.Connector {
			start := time.Now()
			c := openMockWASM(b, url, nil, nil)
			b.ReportMetric(float64(time.Since(start).Milliseconds()), "open-ms")
			return c
		}},
	} {
		b.Run(tr.name, func(b *testing.B) {
			c := tr.open()
			defer c.Close(ctx)
			records := 0
			for b.Loop() {
				got := 0
				if err := c.Fetch(ctx, sdk.FetchRequest{Entity: "account", PageSize: 1000}, func(p *sdk.Page) error {
					got += p.Len()
					return nil
				}); err != nil {
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

// BenchmarkWASMPolicy settles one conflict after another with the example
// numbers-max policy built as WASM, and with the built-in merge policy for
// comparison, and reports conflicts resolved per second.
//
//	go test -run '^$' -bench WASMPolicy ./core/engine
func BenchmarkWASMPolicy(b *testing.B) {
	ctx := context.Background()
	ent := mock.DefaultModel().Entity("opportunity")
	in := conflict.Input{
		Entity: ent, LocalOp: sdk.OpUpdate, Changed: []string{"name", "probability"},
		Base:   map[string]sdk.Value{"name": sdk.String("Base"), "probability": sdk.Int(10), "statecode": sdk.Int(0)},
		Local:  map[string]sdk.Value{"name": sdk.String("Device"), "probability": sdk.Int(80), "statecode": sdk.Int(0)},
		Remote: &sdk.Record{ID: "1", Version: "9", Values: map[string]sdk.Value{"name": sdk.String("Server"), "probability": sdk.Int(60), "statecode": sdk.Int(1)}},
	}
	wasmPol, err := wasmhost.OpenPolicy(ctx, wasmhost.Config{Path: policyModule.get(b), CacheDir: wasmCache()})
	if err != nil {
		b.Fatal(err)
	}
	defer wasmPol.Close(ctx)
	merge, _ := conflict.Lookup(conflict.MergeFields)
	for _, p := range []struct {
		name string
		pol  conflict.Policy
	}{{"wasm-numbers-max", wasmPol}, {"builtin-merge", merge}} {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := p.pol.Resolve(in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "conflicts/s")
		})
	}
}
