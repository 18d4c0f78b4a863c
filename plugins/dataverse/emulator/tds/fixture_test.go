package tds

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	_ "github.com/ncruces/go-sqlite3/driver"

	"github.com/fieldsync/fieldsync/plugins/dataverse/tsql"
)

// The test store: a SQLite table account shaped like Dataverse's, read
// through tsql's SQLite rendering, as the emulator will.

const goodToken = "good-token"

func validToken(tok string) (string, bool) {
	if tok == goodToken {
		return "user@example.com", true
	}
	return "", false
}

// column of the test entity: its TDS type and how SQLite holds it.
type testColumn struct {
	tds Column
	col tsql.Col
	// load turns a scanned SQLite value into the Result value.
	load func(any) any
}

var micros = func(v any) (any, error) {
	switch v := v.(type) {
	case time.Time:
		return v.UnixMicro(), nil
	case string:
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return nil, err
		}
		return t.UnixMicro(), nil
	}
	return v, nil
}

var accountColumns = []testColumn{
	{tds: Column{Name: "accountid", Type: TypeGUID}, col: tsql.Col{Name: "accountid", Convert: lower}},
	{tds: Column{Name: "name", Type: TypeNVarChar, Size: 160, Nullable: true}, col: tsql.Col{Name: "name", NoCase: true}},
	{tds: Column{Name: "numberofemployees", Type: TypeInt, Nullable: true}, col: tsql.Col{Name: "numberofemployees"}},
	{tds: Column{Name: "revenue", Type: TypeDecimal, Precision: 19, Scale: 4, Nullable: true}, col: tsql.Col{Name: "revenue",
		Expr: func(ref string) string { return "CAST(" + ref + " AS REAL)" },
		Convert: func(v any) (any, error) {
			if s, ok := v.(string); ok {
				return strconv.ParseFloat(s, 64)
			}
			return v, nil
		}}},
	{tds: Column{Name: "createdon", Type: TypeDateTime2, Nullable: true}, col: tsql.Col{Name: "createdon", Convert: micros},
		load: func(v any) any { return time.UnixMicro(v.(int64)).UTC() }},
	{tds: Column{Name: "donotemail", Type: TypeBit, Nullable: true}, col: tsql.Col{Name: "donotemail"},
		load: func(v any) any { return v.(int64) != 0 }},
	{tds: Column{Name: "rating", Type: TypeFloat, Nullable: true}, col: tsql.Col{Name: "rating"}},
	{tds: Column{Name: "bigcount", Type: TypeBigInt, Nullable: true}, col: tsql.Col{Name: "bigcount"}},
	{tds: Column{Name: "parentaccountid", Type: TypeGUID, Nullable: true}, col: tsql.Col{Name: "parentaccountid", Convert: lower}},
	{tds: Column{Name: "description", Type: TypeNVarChar, Nullable: true}, col: tsql.Col{Name: "description", NoCase: true}},
}

func lower(v any) (any, error) {
	if s, ok := v.(string); ok {
		return strings.ToLower(s), nil
	}
	return v, nil
}

type catalog struct{}

func (catalog) Table(entity string) (string, bool) {
	if strings.EqualFold(entity, "account") {
		return "account", true
	}
	return "", false
}

func (catalog) Column(entity, column string) (tsql.Col, bool) {
	for _, c := range accountColumns {
		if strings.EqualFold(c.tds.Name, column) {
			return c.col, true
		}
	}
	return tsql.Col{}, false
}

func (catalog) Columns(string) []string {
	out := make([]string, len(accountColumns))
	for i, c := range accountColumns {
		out[i] = c.tds.Name
	}
	return out
}

// account is one test row; nil pointers are nulls.
type account struct {
	id          string
	name        *string
	employees   *int64
	revenue     *string
	createdon   *time.Time
	donotemail  *bool
	rating      *float64
	bigcount    *int64
	parent      *string
	description *string
}

func ptr[T any](v T) *T { return &v }

func guidN(n int) string {
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", n*2654435761%0xffffffff, n%0xffff, n%0xfff, (n*7)%0xfff, n)
}

// testAccounts makes n rows: every third has nulls in every nullable column.
func testAccounts(n int) []account {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]account, n)
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range out {
		a := account{id: guidN(i + 1)}
		if i%3 != 2 {
			a.name = ptr(fmt.Sprintf("%s %d", []string{"Alpha", "beta", "Gamma", "Ďelta 𝄞"}[i%4], i))
			a.employees = ptr(int64(r.IntN(100000) - 50))
			a.revenue = ptr(fmt.Sprintf("%d.%04d", r.IntN(1000000), r.IntN(10000)))
			a.createdon = ptr(base.Add(time.Duration(i) * 1234567 * time.Microsecond))
			a.donotemail = ptr(i%2 == 0)
			a.rating = ptr(float64(i) / 7)
			a.bigcount = ptr(int64(i) << 40)
			a.parent = ptr(guidN(1))
			a.description = ptr(strings.Repeat("Lorem ipsum ", i%5))
		}
		out[i] = a
	}
	return out
}

// openStore writes rows to a new SQLite database.
func openStore(t testing.TB, rows []account) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE account (accountid TEXT PRIMARY KEY, name TEXT, numberofemployees INTEGER,
		revenue TEXT, createdon INTEGER, donotemail INTEGER, rating REAL, bigcount INTEGER, parentaccountid TEXT, description TEXT)`); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range rows {
		var created any
		if a.createdon != nil {
			created = a.createdon.UnixMicro()
		}
		var dne any
		if a.donotemail != nil {
			dne = *a.donotemail
		}
		if _, err := tx.Exec(`INSERT INTO account VALUES (?,?,?,?,?,?,?,?,?,?)`, a.id, deref(a.name), deref(a.employees),
			deref(a.revenue), created, dne, deref(a.rating), deref(a.bigcount), deref(a.parent), deref(a.description)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return db
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// sqliteQuery is a Query function over a store.
func sqliteQuery(db *sql.DB) func(ctx context.Context, user string, q *tsql.Select, args []any) (Result, error) {
	return func(ctx context.Context, user string, q *tsql.Select, args []any) (Result, error) {
		sq, err := q.SQLite(catalog{}, args)
		if err != nil {
			return nil, err
		}
		rows, err := db.QueryContext(ctx, sq.SQL, sq.Args...)
		if err != nil {
			return nil, err
		}
		res := &rowsResult{rows: rows}
		for i, name := range sq.Columns {
			for _, c := range accountColumns {
				if strings.EqualFold(c.tds.Name, name) {
					col := c.tds
					col.Name = sq.Names[i]
					res.cols = append(res.cols, col)
					res.load = append(res.load, c.load)
				}
			}
		}
		return res, nil
	}
}

type rowsResult struct {
	rows *sql.Rows
	cols []Column
	load []func(any) any
	vals []any
	err  error
}

func (r *rowsResult) Columns() []Column { return r.cols }
func (r *rowsResult) Next() bool {
	if !r.rows.Next() {
		return false
	}
	vals := make([]any, len(r.cols))
	ptrs := make([]any, len(r.cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if r.err = r.rows.Scan(ptrs...); r.err != nil {
		return false
	}
	for i, v := range vals {
		if v != nil && r.load[i] != nil {
			vals[i] = r.load[i](v)
		}
	}
	r.vals = vals
	return true
}
func (r *rowsResult) Values() []any { return r.vals }
func (r *rowsResult) Err() error {
	if r.err != nil {
		return r.err
	}
	return r.rows.Err()
}
func (r *rowsResult) Close() error { return r.rows.Close() }

// startServer serves o on a loopback port.
func startServer(t testing.TB, o Options) (*Server, string) {
	t.Helper()
	if o.ValidToken == nil {
		o.ValidToken = validToken
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(o)
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != ErrServerClosed {
			t.Errorf("Serve returned %v", err)
		}
	})
	return s, l.Addr().String()
}

// openDB connects go-mssqldb with an access token.
func openDB(t testing.TB, addr, token, extra string) *sql.DB {
	t.Helper()
	dsn := "sqlserver://" + addr + "?database=org&encrypt=disable&dial+timeout=5&app+name=tds-test" + extra
	c, err := mssql.NewAccessTokenConnector(dsn, func() (string, error) { return token, nil })
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	return db
}
