package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/ncruces/go-sqlite3"

	"github.com/fieldsync/fieldsync/core/engine"
	"github.com/fieldsync/fieldsync/core/store"
	"github.com/fieldsync/fieldsync/plugins/mock"
	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/subprocess"
)

// benchOptions say what `fieldsync bench` measures.
type benchOptions struct {
	Records int    // rows of the large entity
	Changes int    // server changes for the incremental sync
	Dir     string // where the files go (a temporary directory when empty)
	// Plugin is how the mock is loaded for (b): "subprocess" (this binary's
	// `plugin serve mock`) or "builtin".
	Plugin string
	Keep   bool
}

// benchResult holds the figures, for the report and for tests.
type benchResult struct {
	RawRowsPerSec       float64
	RawMs               int64
	DownloadRowsPerSec  float64
	DownloadMs          int64
	Ratio               float64
	PeakHostBytes       uint64 // Go-managed memory of this process, sampled during (b)
	PeakPluginBytes     uint64 // the plugin process's peak resident set (subprocess only)
	IncrementalMs       int64
	IncrementalReceived int
}

// runBench measures, in one run on this machine:
//
//	(a) the raw ceiling: the same rows (random GUID keys, the same ten
//	    columns) written into an empty table with the same SQLite driver and
//	    no engine in between, the fastest way known: plain inserts in large
//	    transactions, then the unique key index;
//	(b) an initial download of the same number of records from the mock
//	    through the plugin transport into a fresh device store;
//	(c) an incremental sync of Changes server changes against that store.
func runBench(ctx context.Context, o benchOptions, out io.Writer) (*benchResult, error) {
	if o.Records <= 0 {
		return nil, fmt.Errorf("bench: records must be positive")
	}
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "fieldsync-bench-")
		if err != nil {
			return nil, err
		}
		dir = d
		if !o.Keep {
			defer os.RemoveAll(dir)
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	res := &benchResult{}
	fmt.Fprintf(out, "fieldsync bench: %d records, %d cores, %s/%s, files in %s\n", o.Records, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, dir)

	// The server, seeded first (not timed).
	fmt.Fprintf(out, "seeding the mock server with %d accounts ...\n", o.Records)
	srvPath := filepath.Join(dir, "server.db")
	srv, err := mock.Create(ctx, srvPath)
	if err != nil {
		return nil, err
	}
	if err := srv.Seed(ctx, mock.SeedOptions{Accounts: o.Records, Seed: 42}); err != nil {
		srv.Close()
		return nil, err
	}

	// (a) the raw ceiling, on the very rows the server holds.
	raw, err := rawCeiling(ctx, srv, filepath.Join(dir, "raw.db"), o.Records)
	srv.Close() // (b) reaches the server through the connector alone
	if err != nil {
		return nil, fmt.Errorf("raw ceiling: %w", err)
	}
	res.RawMs = raw.Milliseconds()
	res.RawRowsPerSec = float64(o.Records) / raw.Seconds()
	fmt.Fprintf(out, "(a) raw ceiling: %d rows in %d ms = %.0f rows/s\n", o.Records, res.RawMs, res.RawRowsPerSec)

	// (b) the initial download through the engine.
	devPath := filepath.Join(dir, "device.db")
	st, err := store.Open(ctx, devPath)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	conn, pid, err := benchConnector(ctx, o.Plugin, srvPath)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	eng, err := engine.New(engine.Options{
		Store: st, Connector: conn, Entities: []engine.EntityConfig{{Name: "account"}},
		User: "bench", Device: "bench",
	})
	if err != nil {
		return nil, err
	}
	runtime.GC()
	debug.FreeOSMemory() // what (a) used is not (b)'s
	stop := sampleMemory(&res.PeakHostBytes)
	start := time.Now()
	lg, err := eng.Sync(ctx, engine.SyncOptions{})
	took := time.Since(start)
	stop()
	if err != nil {
		return nil, fmt.Errorf("initial download: %w", err)
	}
	if got, _, _ := lg.Counts(); got != o.Records {
		return nil, fmt.Errorf("initial download received %d records, want %d", got, o.Records)
	}
	res.DownloadMs = took.Milliseconds()
	res.DownloadRowsPerSec = float64(o.Records) / took.Seconds()
	res.Ratio = res.DownloadRowsPerSec / res.RawRowsPerSec
	if pid > 0 {
		res.PeakPluginBytes = peakRSS(pid)
	}
	fmt.Fprintf(out, "(b) initial download (%s plugin): %d records in %d ms = %.0f records/s\n", o.Plugin, o.Records, res.DownloadMs, res.DownloadRowsPerSec)
	fmt.Fprintf(out, "    (b)/(a) = %.0f%%\n", res.Ratio*100)
	fmt.Fprintf(out, "    peak memory: engine process %.1f MiB (peak RSS)", float64(res.PeakHostBytes)/(1<<20))
	if res.PeakPluginBytes > 0 {
		fmt.Fprintf(out, ", plugin process %.1f MiB (peak RSS)", float64(res.PeakPluginBytes)/(1<<20))
	}
	fmt.Fprintln(out)

	// (c) an incremental sync of Changes server changes: updates, new rows
	// and deletes, made by an admin with plain SQL.
	if srv, err = mock.OpenServer(ctx, srvPath); err != nil {
		return nil, err
	}
	defer srv.Close()
	if err := serverChanges(ctx, srv, o.Changes); err != nil {
		return nil, err
	}
	start = time.Now()
	lg, err = eng.Sync(ctx, engine.SyncOptions{})
	if err != nil {
		return nil, fmt.Errorf("incremental sync: %w", err)
	}
	res.IncrementalMs = time.Since(start).Milliseconds()
	res.IncrementalReceived, _, _ = lg.Counts()
	fmt.Fprintf(out, "(c) incremental sync of %d changes against %d rows: %d ms (received %d)\n", o.Changes, o.Records, res.IncrementalMs, res.IncrementalReceived)
	return res, nil
}

// rawCeiling writes the server's accounts into an empty table of the same
// shape with no engine in between: rows are read first (not timed), then
// inserted 5,000 per transaction with plain inserts, then indexed.
func rawCeiling(ctx context.Context, srv *mock.Server, path string, n int) (time.Duration, error) {
	schema, err := srv.Schema(ctx)
	if err != nil {
		return 0, err
	}
	ent := schema.Entity("account")
	kinds := make([]sdk.Kind, len(ent.Fields))
	types := make([]sdk.FieldType, len(ent.Fields))
	for i, f := range ent.Fields {
		kinds[i], types[i] = f.Type.Kind(), f.Type
	}
	db, err := sqlite3.Open(path)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	cols := []string{"accountid TEXT NOT NULL"}
	for _, f := range ent.Fields {
		typ := map[sdk.Kind]string{sdk.KindString: "TEXT", sdk.KindInt: "INTEGER", sdk.KindFloat: "REAL", sdk.KindBool: "INTEGER"}[f.Type.Kind()]
		if f.Type == sdk.TypeDateTime {
			typ = "TEXT"
		}
		cols = append(cols, f.Name+" "+typ)
	}
	cols = append(cols, "_fs_version TEXT")
	if err := db.Exec(`PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=10000;
		CREATE TABLE account (` + strings.Join(cols, ", ") + `)`); err != nil {
		return 0, err
	}
	ins, _, err := db.Prepare("INSERT INTO account VALUES (" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")")
	if err != nil {
		return 0, err
	}
	defer ins.Close()
	// The rows come from the server a page of 5,000 at a time; only the
	// writing is timed, so the reading costs the ceiling nothing.
	var took time.Duration
	rows := 0
	c := srv.Connector("bench-raw")
	err = c.Fetch(ctx, sdk.FetchRequest{Entity: "account", PageSize: 5000}, func(p *sdk.Page) error {
		start := time.Now()
		defer func() { took += time.Since(start) }()
		if err := db.Exec("BEGIN"); err != nil {
			return err
		}
		for i := range p.IDs {
			ins.BindText(1, p.IDs[i])
			for j := range p.Columns {
				c := &p.Columns[j]
				n := j + 2
				switch {
				case c.IsNull(i):
					ins.BindNull(n)
				case types[j] == sdk.TypeDateTime:
					ins.BindText(n, time.UnixMicro(c.Ints[i]).UTC().Format("2006-01-02T15:04:05.000000Z"))
				case kinds[j] == sdk.KindString:
					ins.BindText(n, c.Strings[i])
				case kinds[j] == sdk.KindInt:
					ins.BindInt64(n, c.Ints[i])
				case kinds[j] == sdk.KindFloat:
					ins.BindFloat(n, c.Floats[i])
				case kinds[j] == sdk.KindBool:
					ins.BindBool(n, c.Bools[i])
				}
			}
			ins.BindText(len(cols), p.Versions[i])
			if err := ins.Exec(); err != nil {
				return err
			}
			rows++
		}
		return db.Exec("COMMIT")
	})
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := db.Exec("CREATE UNIQUE INDEX account_key ON account (accountid)"); err != nil {
		return 0, err
	}
	if rows != n {
		return 0, fmt.Errorf("wrote %d rows, want %d", rows, n)
	}
	return took + time.Since(start), nil
}

// benchConnector opens the mock for (b): as a subprocess plugin served by
// this very binary, or in-process.
func benchConnector(ctx context.Context, how, srvPath string) (sdk.Connector, int, error) {
	settings := map[string]string{"path": srvPath, "user": "bench"}
	switch how {
	case "builtin":
		c, err := mock.Factory(ctx, settings, hclog.NewNullLogger())
		return c, 0, err
	case "subprocess", "":
		exe, err := os.Executable()
		if err != nil {
			return nil, 0, err
		}
		c, err := subprocess.Open(ctx, subprocess.Config{Cmd: exec.Command(exe, "plugin", "serve", "mock"), Settings: settings})
		if err != nil {
			return nil, 0, err
		}
		return c, c.Pid(), nil
	}
	return nil, 0, fmt.Errorf("bench: plugin must be subprocess or builtin, not %q", how)
}

// serverChanges makes n changes on the server with plain SQL, as an admin
// would: 80% updates of random rows, 10% new rows, 10% deletes.
func serverChanges(ctx context.Context, srv *mock.Server, n int) error {
	upd, del := n*8/10, n/10
	ins := n - upd - del
	stmts := []string{
		fmt.Sprintf("UPDATE account SET city = 'Bench-' || rowid WHERE rowid IN (SELECT rowid FROM account ORDER BY random() LIMIT %d)", upd),
		fmt.Sprintf("DELETE FROM account WHERE rowid IN (SELECT rowid FROM account WHERE city NOT LIKE 'Bench-%%' ORDER BY random() LIMIT %d)", del),
	}
	for i := 0; i < ins; i++ {
		stmts = append(stmts, fmt.Sprintf("INSERT INTO account (name, city, employees) VALUES ('Bench new %d', 'Bench-new', %d)", i, rand.IntN(1000)))
	}
	return srv.Exec(ctx, "BEGIN; "+strings.Join(stmts, "; ")+"; COMMIT")
}

// sampleMemory records this process's peak resident set while (b) runs.
// On Linux the kernel's own peak (VmHWM) is reset first through
// /proc/self/clear_refs, so what (a) and the seeding used does not count;
// a sampler reading VmRSS every 20 ms covers systems without that.
// Resident memory, not Go's heap figures: the SQLite driver keeps its pages
// in memory of its own.
func sampleMemory(peak *uint64) (stop func()) {
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	var done atomic.Bool
	finished := make(chan struct{})
	self := os.Getpid()
	read := func() {
		if v := statusBytes(self, "VmRSS:"); v > *peak {
			*peak = v
		}
	}
	go func() {
		defer close(finished)
		for !done.Load() {
			read()
			time.Sleep(20 * time.Millisecond)
		}
		read()
		if v := statusBytes(self, "VmHWM:"); v > *peak {
			*peak = v
		}
	}()
	return func() { done.Store(true); <-finished }
}

// peakRSS reads a process's peak resident set (Linux; 0 elsewhere).
func peakRSS(pid int) uint64 { return statusBytes(pid, "VmHWM:") }

// statusBytes reads one kB figure of /proc/PID/status (Linux; 0 elsewhere).
func statusBytes(pid int, key string) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, key) {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
