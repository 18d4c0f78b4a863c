package engine

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/core/store"
	"github.com/fieldsync/fieldsync/plugins/rescocloud/emulator"
	"github.com/fieldsync/fieldsync/sdk"
)

// rcBenchN is how many accounts BenchmarkRescoDownload reads: from
// FIELDSYNC_RC_BENCH_N, or 20,000.
func rcBenchN(b *testing.B) int {
	if v := os.Getenv("FIELDSYNC_RC_BENCH_N"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("FIELDSYNC_RC_BENCH_N=%q is not a positive number", v)
		}
		return n
	}
	return 20_000
}

// BenchmarkRescoDownload is the initial download of N accounts from the
// Resco Cloud emulator on loopback, end to end (connector, engine, store),
// with the connector as a WASM plugin (its default build) and as a
// subprocess plugin, in one run so the two compare as a ratio; then the
// requests of a sync with nothing changed, over 20 entities.
//
//	FIELDSYNC_RC_BENCH_N=1000000 go test -run '^$' -bench RescoDownload -benchtime 1x -timeout 1h ./core/engine
func BenchmarkRescoDownload(b *testing.B) {
	n := rcBenchN(b)
	o := newRCOrg(b, emulator.SeedOptions{Accounts: n, RowsPerExtraEntity: 3, Users: 2, Seed: 1})
	rates := map[string]float64{}
	for _, tr := range []string{"wasm", "subprocess"} {
		b.Run(tr, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				var conn sdk.Connector
				if tr == "wasm" {
					conn = o.wasm(b, o.hs.URL)
				} else {
					conn = o.subprocess(b)
				}
				st, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "device.db"))
				if err != nil {
					b.Fatal(err)
				}
				eng, err := New(Options{Store: st, Connector: conn, Entities: []EntityConfig{{Name: "account"}},
					PageSize: 5000, User: "bench", Device: "bench"})
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				reqs0 := o.srv.RequestCount()
				start := time.Now()
				lg, err := eng.Sync(context.Background(), SyncOptions{})
				elapsed := time.Since(start)
				if err != nil || lg.Result != "ok" {
					b.Fatalf("sync: %v %+v", err, lg)
				}
				if got := lg.Entities[0].Received; got != n {
					b.Fatalf("received %d of %d accounts", got, n)
				}
				rate := float64(n) / elapsed.Seconds()
				rates[tr] = rate
				b.ReportMetric(rate, "records/s")
				b.Logf("%s: %d accounts in %v (%.0f records/s), %d requests", tr, n, elapsed.Round(time.Millisecond), rate, o.srv.RequestCount()-reqs0)
				st.Close()
			}
		})
	}
	if rates["wasm"] > 0 && rates["subprocess"] > 0 {
		b.Logf("WASM / subprocess: %.2f", rates["wasm"]/rates["subprocess"])
	}
	b.Run("no-change-20-entities", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			st, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "device.db"))
			if err != nil {
				b.Fatal(err)
			}
			var ents []EntityConfig
			for _, e := range rescoTwenty() {
				if e.Name != "account" { // the large one is measured above
					ents = append(ents, e)
				}
			}
			ents = append(ents, EntityConfig{Name: "account", Filter: sdk.Cmp("numberofemployees", sdk.OpLt, sdk.Int(100))})
			eng, err := New(Options{Store: st, Connector: o.wasm(b, o.hs.URL), Entities: ents, User: "bench", Device: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			if lg, err := eng.Sync(context.Background(), SyncOptions{}); err != nil || lg.Result != "ok" {
				b.Fatalf("first sync: %v %+v", err, lg)
			}
			before := o.srv.RequestCount()
			if lg, err := eng.Sync(context.Background(), SyncOptions{}); err != nil || lg.Result != "ok" {
				b.Fatalf("no-change sync: %v %+v", err, lg)
			}
			reqs := o.srv.RequestCount() - before
			b.ReportMetric(float64(reqs), "requests")
			b.Logf("a sync of %d entities with nothing changed: %d requests", len(ents), reqs)
			st.Close()
		}
	})
}
