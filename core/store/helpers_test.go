package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/fieldsync/fieldsync/sdk"
)

// The entities the tests use. account is the plain case; contact looks up
// account (for id remapping); asset has a field of every type.
var (
	accountEnt = sdk.Entity{Name: "account", PrimaryKey: "accountid", Fields: []sdk.Field{
		{Name: "name", Type: sdk.TypeString},
		{Name: "city", Type: sdk.TypeString},
		{Name: "employees", Type: sdk.TypeInt},
	}}
	contactEnt = sdk.Entity{Name: "contact", PrimaryKey: "contactid", Fields: []sdk.Field{
		{Name: "fullname", Type: sdk.TypeString},
		{Name: "parentid", Type: sdk.TypeLookup, Target: "account"},
	}}
	assetEnt = sdk.Entity{Name: "asset", PrimaryKey: "assetid", Fields: []sdk.Field{
		{Name: "label", Type: sdk.TypeString},
		{Name: "count", Type: sdk.TypeInt},
		{Name: "price", Type: sdk.TypeDecimal},
		{Name: "weight", Type: sdk.TypeFloat},
		{Name: "active", Type: sdk.TypeBool},
		{Name: "seen", Type: sdk.TypeDateTime},
		{Name: "tag", Type: sdk.TypeGUID},
		{Name: "owner", Type: sdk.TypeLookup, Target: "account"},
		{Name: "kind", Type: sdk.TypeChoice},
		{Name: "photo", Type: sdk.TypeBinary},
	}}
)

var bg = context.Background()

// openStore opens a store on a fresh file and closes it when the test ends.
func openStore(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "device.db")
	return reopen(t, path), path
}

// reopen opens another Store on path (the same process restarted).
func reopen(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(bg, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ensure(t testing.TB, s *Store, ent sdk.Entity, fields []string) bool {
	t.Helper()
	resync, err := s.EnsureEntity(bg, ent, fields)
	if err != nil {
		t.Fatalf("EnsureEntity(%s): %v", ent.Name, err)
	}
	return resync
}

// hostApp is a second connection on the store's file, writing with plain
// SQL as a host app or the sqlite3 shell would.
type hostApp struct {
	t  testing.TB
	db *sqlite3.Conn
}

func openHost(t testing.TB, path string) *hostApp {
	t.Helper()
	db, err := sqlite3.Open(path)
	if err != nil {
		t.Fatalf("host open: %v", err)
	}
	if err := db.BusyTimeout(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &hostApp{t: t, db: db}
}

// exec runs SQL (several statements allowed) and fails the test on error.
func (h *hostApp) exec(sql string) {
	h.t.Helper()
	if err := h.db.Exec(sql); err != nil {
		h.t.Fatalf("host: %s: %v", sql, err)
	}
}

// try runs SQL and returns its error.
func (h *hostApp) try(sql string) error { return h.db.Exec(sql) }

// text runs a query and returns the first column of the first row as text
// ("<none>" when there is no row).
func (h *hostApp) text(sql string) string {
	h.t.Helper()
	rows := h.rows(sql)
	if len(rows) == 0 {
		return "<none>"
	}
	return rows[0][0]
}

// rows runs a query and returns every row's columns as text (NULL as
// "<null>").
func (h *hostApp) rows(sql string) [][]string {
	h.t.Helper()
	st, _, err := h.db.Prepare(sql)
	if err != nil {
		h.t.Fatalf("host: %s: %v", sql, err)
	}
	defer st.Close()
	var out [][]string
	for st.Step() {
		row := make([]string, st.ColumnCount())
		for i := range row {
			if st.ColumnType(i) == sqlite3.NULL {
				row[i] = "<null>"
			} else {
				row[i] = st.ColumnText(i)
			}
		}
		out = append(out, row)
	}
	if err := st.Err(); err != nil {
		h.t.Fatalf("host: %s: %v", sql, err)
	}
	return out
}

func (h *hostApp) count(table string) int {
	h.t.Helper()
	var n int
	for _, c := range h.text("SELECT count(*) FROM " + table) {
		n = n*10 + int(c-'0')
	}
	return n
}

func (h *hostApp) hasIndex(name string) bool {
	h.t.Helper()
	return h.text("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = '"+name+"'") == "1"
}

// row is one downloaded row: id, version and values in field order.
type row struct {
	id, version string
	vals        []sdk.Value
}

func acct(id, version, name, city string, employees int64) row {
	return row{id, version, []sdk.Value{sdk.String(name), sdk.String(city), sdk.Int(employees)}}
}

// pageOf builds a page of ent's fields (all of them when fields is nil).
type pageOpt func(*sdk.Page)

func cursor(c string) pageOpt { return func(p *sdk.Page) { p.Cursor = []byte(c) } }
func last(token string) pageOpt {
	return func(p *sdk.Page) { p.Last, p.Token = true, []byte(token) }
}
func deletes(ids ...string) pageOpt {
	return func(p *sdk.Page) { p.Deletes = append(p.Deletes, ids...) }
}

func pageOf(ent sdk.Entity, fields []string, rows []row, opts ...pageOpt) *sdk.Page {
	if fields == nil {
		fields = ent.FieldNames()
	}
	types := make([]sdk.FieldType, len(fields))
	for i, f := range fields {
		types[i] = ent.Field(f).Type
	}
	b := sdk.NewPageBuilder(fields, types)
	for _, r := range rows {
		b.Add(r.id, r.version, r.vals...)
	}
	p := b.Page()
	for _, o := range opts {
		o(p)
	}
	return p
}

func apply(t testing.TB, s *Store, entity string, p *sdk.Page, resolve Resolver) PageStats {
	t.Helper()
	if resolve == nil {
		resolve = noConflict(t)
	}
	st, err := s.ApplyPage(bg, entity, p, resolve)
	if err != nil {
		t.Fatalf("ApplyPage(%s): %v", entity, err)
	}
	return st
}

// seedAccounts sets up account and downloads rows into it in one full
// download, leaving the entity ready.
func seedAccounts(t testing.TB, s *Store, rows ...row) {
	t.Helper()
	ensure(t, s, accountEnt, nil)
	if _, err := s.BeginFull(bg, "account"); err != nil {
		t.Fatal(err)
	}
	apply(t, s, "account", pageOf(accountEnt, nil, rows, last("tok-seed")), nil)
}

// noConflict is a resolver that must not be called.
func noConflict(t testing.TB) Resolver {
	return func(e *sdk.Entity, c Conflict) (Outcome, error) {
		t.Errorf("unexpected conflict on %s %s", e.Name, c.Change.ID)
		return Outcome{Kind: Park}, nil
	}
}

// recorder answers every conflict with out and remembers what it saw.
type recorder struct {
	out Outcome
	got []Conflict
}

func (r *recorder) resolve(_ *sdk.Entity, c Conflict) (Outcome, error) {
	r.got = append(r.got, c)
	return r.out, nil
}

func outbox(t testing.TB, s *Store) []*Change {
	t.Helper()
	out, err := s.Outbox(bg)
	if err != nil {
		t.Fatalf("Outbox: %v", err)
	}
	return out
}

// allChanges lists every outbox entry, whatever its state.
func allChanges(t testing.TB, s *Store) []*Change {
	t.Helper()
	out, err := s.changes(bg, "1")
	if err != nil {
		t.Fatalf("changes: %v", err)
	}
	return out
}

func getRow(t testing.TB, s *Store, entity, id string) *sdk.Record {
	t.Helper()
	r, err := s.Row(bg, entity, id)
	if err != nil {
		t.Fatalf("Row(%s, %s): %v", entity, id, err)
	}
	return r
}

func state(t testing.TB, s *Store, entity string) State {
	t.Helper()
	st, err := s.State(bg, entity)
	if err != nil {
		t.Fatalf("State(%s): %v", entity, err)
	}
	return st
}

// vals builds a values map from name/value pairs: a string becomes a string
// value, an int an int value, nil a null, an sdk.Value itself.
func vals(kv ...any) map[string]sdk.Value {
	m := map[string]sdk.Value{}
	for i := 0; i+1 < len(kv); i += 2 {
		var v sdk.Value
		switch x := kv[i+1].(type) {
		case string:
			v = sdk.String(x)
		case int:
			v = sdk.Int(int64(x))
		case sdk.Value:
			v = x
		case nil:
		default:
			panic("vals: unsupported value")
		}
		m[kv[i].(string)] = v
	}
	return m
}

// wantValues reports the differences between two values maps.
func wantValues(t testing.TB, what string, got, want map[string]sdk.Value) {
	t.Helper()
	if (got == nil) != (want == nil) {
		t.Errorf("%s: got %v, want %v", what, got, want)
		return
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || !g.Equal(w) {
			t.Errorf("%s[%s] = %v (present %v), want %v", what, k, g, ok, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s has unexpected %s = %v", what, k, g)
		}
	}
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		seen[x]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}
