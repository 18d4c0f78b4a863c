package engine

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/ncruces/go-sqlite3"

	"github.com/fieldsync/fieldsync/core/store"
	"github.com/fieldsync/fieldsync/plugins/mock"
	"github.com/fieldsync/fieldsync/sdk"
)

// world is a mock server and devices syncing with it, in one test.
type world struct {
	t   *testing.T
	srv *mock.Server
	dir string
}

func newWorld(t *testing.T, accounts int) *world {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	srv, err := mock.Create(ctx, filepath.Join(dir, "server.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if accounts > 0 {
		if err := srv.Seed(ctx, mock.SeedOptions{Accounts: accounts, ContactsPerAccount: 2, OpportunitiesPerAccount: 1, Seed: 3}); err != nil {
			t.Fatal(err)
		}
	}
	return &world{t: t, srv: srv, dir: dir}
}

// device is one device: its store, its engine, and a host-app connection
// writing the store's file with plain SQL.
type device struct {
	t     *testing.T
	store *store.Store
	eng   *Engine
	conn  sdk.Connector
	app   *sqlite3.Conn
}

func (w *world) device(name string, entities []EntityConfig, mod ...func(*Options)) *device {
	t := w.t
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(w.dir, name+".db")
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := mock.Factory(ctx, map[string]string{"path": w.srv.Path(), "user": name}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Store: st, Connector: conn, Entities: entities, User: name, Device: name, RetryBackoff: time.Millisecond}
	for _, m := range mod {
		m(&opts)
	}
	eng, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	app, err := sqlite3.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	app.BusyTimeout(10 * time.Second)
	t.Cleanup(func() {
		app.Close()
		conn.Close(ctx)
		st.Close()
	})
	return &device{t: t, store: st, eng: eng, conn: conn, app: app}
}

func (d *device) sync() *Log {
	d.t.Helper()
	lg, err := d.eng.Sync(context.Background(), SyncOptions{})
	if err != nil {
		d.t.Fatalf("sync: %v (log errors: %+v)", err, lg.Errors)
	}
	return lg
}

func (d *device) exec(sql string) {
	d.t.Helper()
	if err := d.app.Exec(sql); err != nil {
		d.t.Fatalf("%s: %v", sql, err)
	}
}

func (d *device) count(sql string) int64 {
	d.t.Helper()
	var n int64
	d.first(sql, func(st *sqlite3.Stmt) { n = st.ColumnInt64(0) })
	return n
}

func (d *device) text(sql string) string {
	d.t.Helper()
	var s string
	d.first(sql, func(st *sqlite3.Stmt) { s = st.ColumnText(0) })
	return s
}

// first runs a query on the host app's connection and reads its first row.
func (d *device) first(sql string, read func(*sqlite3.Stmt)) {
	d.t.Helper()
	st, _, err := d.app.Prepare(sql)
	if err != nil {
		d.t.Fatal(err)
	}
	defer st.Close()
	if !st.Step() {
		d.t.Fatalf("%s: no row (%v)", sql, st.Err())
	}
	read(st)
}

func (w *world) count(sql string) int64 {
	w.t.Helper()
	n, err := w.srv.QueryInt(context.Background(), sql)
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}

func (w *world) exec(sql string) {
	w.t.Helper()
	if err := w.srv.Exec(context.Background(), sql); err != nil {
		w.t.Fatal(err)
	}
}

var allThree = []EntityConfig{{Name: "account"}, {Name: "contact"}, {Name: "opportunity"}}

func TestFirstSyncAndBothWays(t *testing.T) {
	w := newWorld(t, 50)
	d := w.device("dev1", allThree)
	lg := d.sync()
	if lg.Result != "ok" {
		t.Fatalf("result %s: %+v", lg.Result, lg.Errors)
	}
	for _, e := range []string{"account", "contact", "opportunity"} {
		if got, want := d.count("SELECT count(*) FROM "+e), w.count("SELECT count(*) FROM "+e); got != want {
			t.Fatalf("%s: device has %d rows, server %d", e, got, want)
		}
	}
	// A host app writes with plain SQL; the next sync uploads it.
	d.exec("INSERT INTO account (accountid, name, city) VALUES ('11111111-1111-4111-8111-111111111111', 'Offline Ltd', 'Brno')")
	d.exec("UPDATE account SET city = 'Praha' WHERE accountid = '11111111-1111-4111-8111-111111111111'")
	// An admin edits the server with plain SQL; the next sync downloads it.
	w.exec("UPDATE account SET name = 'Renamed by admin' WHERE rowid = 1")
	lg = d.sync()
	if lg.Upload.Created != 1 || lg.Upload.Changes != 1 {
		t.Fatalf("upload: %+v", lg.Upload)
	}
	if got := w.count("SELECT count(*) FROM account WHERE name = 'Offline Ltd' AND city = 'Praha'"); got != 1 {
		t.Fatalf("server has %d copies of the offline account", got)
	}
	if got := d.count("SELECT count(*) FROM account WHERE name = 'Renamed by admin'"); got != 1 {
		t.Fatalf("device did not get the admin's edit")
	}
	if got := d.count("SELECT count(*) FROM _fs_outbox"); got != 0 {
		t.Fatalf("%d changes left in the outbox", got)
	}
}

func (w *world) text(sql string) string {
	w.t.Helper()
	out, err := w.srv.QueryText(context.Background(), sql)
	if err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
	return out
}

var (
	keepLocal  = store.Outcome{Kind: store.KeepLocal}
	keepRemote = store.Outcome{Kind: store.KeepRemote}
)
