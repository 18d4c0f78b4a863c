package engine

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/ncruces/go-sqlite3"

	"github.com/fieldsync/fieldsync/core/store"
	"github.com/fieldsync/fieldsync/plugins/salesforce"
	"github.com/fieldsync/fieldsync/plugins/salesforce/emulator"
)

// sfBenchN is how many accounts BenchmarkSalesforce downloads: from
// FIELDSYNC_SF_BENCH_N, or 20,000.
func sfBenchN(b *testing.B) int {
	if v := os.Getenv("FIELDSYNC_SF_BENCH_N"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("FIELDSYNC_SF_BENCH_N=%q is not a positive number", v)
		}
		return n
	}
	return 20_000
}

// BenchmarkSalesforce measures, against the Salesforce emulator on
// loopback, end to end (connector in process, engine, store):
//
//   - the initial download of N accounts (records/s);
//
//   - the upload of 10,000 changes made on the device, 5,000 updates of
//     downloaded accounts and 5,000 accounts created offline, in pushes of
//     1,000 (changes/s), and the API calls the org counted for it, per
//     10,000 changes (the aim is 50 or fewer).
//
//     FIELDSYNC_SF_BENCH_N=1000000 go test -run '^$' -bench Salesforce -benchtime 1x -timeout 1h ./core/engine
func BenchmarkSalesforce(b *testing.B) {
	n := sfBenchN(b)
	const changes = 10_000
	if n < changes/2 {
		b.Fatalf("FIELDSYNC_SF_BENCH_N must be at least %d (the upload updates %d downloaded accounts)", changes/2, changes/2)
	}
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		srv, err := emulator.New(emulator.Options{Path: filepath.Join(dir, "org.db"), DailyLimit: 10_000_000})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := srv.Seed(ctx, emulator.SeedOptions{Accounts: n, Users: 2, Seed: 1}); err != nil {
			b.Fatal(err)
		}
		b.Logf("seeded %d accounts in %v", n, time.Since(start).Round(time.Millisecond))
		hs := httptest.NewServer(srv.Handler())
		settings := map[string]string{
			"login_url": hs.URL, "grant": "password",
			"client_id": emulator.DefaultClientID, "client_secret": emulator.DefaultClientSecret,
			"username": emulator.DefaultUsername, "password": emulator.DefaultPassword,
		}
		conn, err := salesforce.Factory(ctx, settings, hclog.NewNullLogger())
		if err != nil {
			b.Fatal(err)
		}
		path := filepath.Join(dir, "device.db")
		st, err := store.Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		ents := []EntityConfig{{Name: "Account", Fields: []string{"Name", "AccountNumber", "Phone", "Website", "Industry",
			"NumberOfEmployees", "AnnualRevenue", "BillingCity", "BillingCountry", "Description"}}}
		eng, err := New(Options{Store: st, Connector: conn, Entities: ents, PageSize: 2000, UploadBatch: 1000, User: "bench", Device: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		calls0 := srv.APICalls()
		start = time.Now()
		lg, err := eng.Sync(ctx, SyncOptions{})
		elapsed := time.Since(start)
		if err != nil || lg.Result != "ok" {
			b.Fatalf("download: %v %+v", err, lg)
		}
		if got := lg.Entities[0].Received; got != n {
			b.Fatalf("received %d of %d accounts", got, n)
		}
		down := float64(n) / elapsed.Seconds()
		b.ReportMetric(down, "download-records/s")
		b.Logf("download: %d accounts in %v (%.0f records/s), %d API calls", n, elapsed.Round(time.Millisecond), down, srv.APICalls()-calls0)

		// The device's changes, made as an app makes them: plain SQL.
		app, err := sqlite3.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := app.Exec(fmt.Sprintf(`UPDATE Account SET Name = Name || ' (edited)', NumberOfEmployees = 1
			WHERE Id IN (SELECT Id FROM Account ORDER BY Id LIMIT %d)`, changes/2)); err != nil {
			b.Fatal(err)
		}
		if err := app.Exec(fmt.Sprintf(`WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < %d)
			INSERT INTO Account (Name, NumberOfEmployees, BillingCity) SELECT printf('Offline %%05d', n), n, 'Ostrava' FROM i`, changes/2)); err != nil {
			b.Fatal(err)
		}
		app.Close()
		calls0 = srv.APICalls()
		reqs0 := len(srv.Requests())
		start = time.Now()
		lg, err = eng.Sync(ctx, SyncOptions{})
		elapsed = time.Since(start)
		if err != nil || lg.Result != "ok" {
			b.Fatalf("upload: %v %+v", err, lg)
		}
		if got := lg.Upload.Created + lg.Upload.Updated; got != changes {
			b.Fatalf("uploaded %d changes (%+v), want %d", got, lg.Upload, changes)
		}
		// The sync also reads back the rows it wrote (their server
		// values); the upload's calls are the composite requests.
		calls := int64(0)
		for _, r := range srv.Requests()[reqs0:] {
			if strings.HasSuffix(r.Path, "/composite") {
				calls++
			}
		}
		b.Logf("the whole sync made %d API calls; download %+v", srv.APICalls()-calls0, lg.Entities[0])
		up := float64(changes) / elapsed.Seconds()
		b.ReportMetric(up, "upload-changes/s")
		b.ReportMetric(float64(calls)*10_000/changes, "calls/10k-changes")
		b.Logf("upload: %d changes in %v (%.0f changes/s), %d API calls (%.1f per 10,000 changes)",
			changes, elapsed.Round(time.Millisecond), up, calls, float64(calls)*10_000/changes)
		st.Close()
		conn.Close(ctx)
		hs.Close()
		srv.Close()
	}
}
