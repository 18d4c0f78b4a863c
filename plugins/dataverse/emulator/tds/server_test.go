package tds

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-sql/civil"
	mssql "github.com/microsoft/go-mssqldb"
	"github.com/shopspring/decimal"

	"github.com/fieldsync/fieldsync/plugins/dataverse/tsql"
)

func storeServer(t *testing.T, n int, o Options) (*sql.DB, []account) {
	t.Helper()
	rows := testAccounts(n)
	store := openStore(t, rows)
	o.Query = sqliteQuery(store)
	_, addr := startServer(t, o)
	return openDB(t, addr, goodToken, ""), rows
}

func TestSelectTopLike(t *testing.T) {
	db, rows := storeServer(t, 60, Options{})
	ctx := context.Background()
	got, err := db.QueryContext(ctx, "SELECT TOP 3 accountid, name FROM account WHERE name LIKE @p1 ORDER BY accountid", "gamma%")
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	var ids, names []string
	for got.Next() {
		var id mssql.UniqueIdentifier
		var name string
		if err := got.Scan(&id, &name); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, strings.ToLower(id.String()))
		names = append(names, name)
	}
	if err := got.Err(); err != nil {
		t.Fatal(err)
	}
	var want []account
	for _, a := range rows {
		if a.name != nil && strings.HasPrefix(strings.ToLower(*a.name), "gamma") {
			want = append(want, a)
		}
	}
	sort.Slice(want, func(i, j int) bool { return want[i].id < want[j].id })
	want = want[:3]
	for i := range want {
		if ids[i] != want[i].id || names[i] != *want[i].name {
			t.Errorf("row %d: %s %q, want %s %q", i, ids[i], names[i], want[i].id, *want[i].name)
		}
	}
	if len(ids) != 3 {
		t.Fatalf("%d rows, want 3", len(ids))
	}
}

// TestAllTypes reads every served type, with and without nulls, and
// checks each value against the store.
func TestAllTypes(t *testing.T) {
	db, rows := storeServer(t, 9, Options{})
	for _, a := range rows {
		var (
			id          mssql.UniqueIdentifier
			name        sql.NullString
			employees   sql.NullInt64
			revenue     sql.NullString
			createdon   sql.NullTime
			donotemail  sql.NullBool
			rating      sql.NullFloat64
			bigcount    sql.NullInt64
			parent      mssql.NullUniqueIdentifier
			description sql.NullString
		)
		err := db.QueryRow(`SELECT accountid, name, numberofemployees, revenue, createdon, donotemail, rating, bigcount,
			parentaccountid, description FROM account WHERE accountid = @p1`, a.id).
			Scan(&id, &name, &employees, &revenue, &createdon, &donotemail, &rating, &bigcount, &parent, &description)
		if err != nil {
			t.Fatalf("%s: %v", a.id, err)
		}
		check := func(what string, valid bool, got any, want any) {
			t.Helper()
			wantValid := want != nil
			if valid != wantValid {
				t.Errorf("%s %s: valid %v, want %v", a.id, what, valid, wantValid)
				return
			}
			if valid && fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s %s: %v, want %v", a.id, what, got, want)
			}
		}
		if !strings.EqualFold(id.String(), a.id) {
			t.Errorf("id %s, want %s", id, a.id)
		}
		check("name", name.Valid, name.String, deref(a.name))
		check("employees", employees.Valid, employees.Int64, deref(a.employees))
		check("revenue", revenue.Valid, revenue.String, deref(a.revenue))
		check("createdon", createdon.Valid, createdon.Time.UTC(), deref(a.createdon))
		check("donotemail", donotemail.Valid, donotemail.Bool, deref(a.donotemail))
		check("rating", rating.Valid, rating.Float64, deref(a.rating))
		check("bigcount", bigcount.Valid, bigcount.Int64, deref(a.bigcount))
		var p any
		if parent.Valid {
			p = strings.ToLower(parent.UUID.String())
		}
		check("parent", parent.Valid, p, deref(a.parent))
		check("description", description.Valid, description.String, deref(a.description))
	}
}

func TestSelectStarAndAliases(t *testing.T) {
	db, _ := storeServer(t, 5, Options{})
	rs, err := db.Query("SELECT * FROM account ORDER BY accountid DESC")
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rs.Columns()
	rs.Close()
	if want := (catalog{}).Columns("account"); !slices.Equal(cols, want) {
		t.Errorf("columns %v, want %v", cols, want)
	}
	types, _ := func() ([]*sql.ColumnType, error) {
		rs, err := db.Query("SELECT a.accountid AS id, a.revenue AS [the revenue] FROM dbo.account AS a")
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Close()
		return rs.ColumnTypes()
	}()
	if types[0].Name() != "id" || types[1].Name() != "the revenue" || types[0].DatabaseTypeName() != "UNIQUEIDENTIFIER" {
		t.Errorf("column types %s %s %s", types[0].Name(), types[1].Name(), types[0].DatabaseTypeName())
	}
	if p, s, ok := types[1].DecimalSize(); !ok || p != 19 || s != 4 {
		t.Errorf("revenue decimal(%d,%d) %v", p, s, ok)
	}
}

// TestKeyRangePaging reads a large table in pages by key range, as the
// connector does under the 80 MB cap.
func TestKeyRangePaging(t *testing.T) {
	const n, page = 2500, 700
	db, rows := storeServer(t, n, Options{})
	last := "00000000-0000-0000-0000-000000000000"
	var got []string
	for pages := 0; ; pages++ {
		if pages > n/page+2 {
			t.Fatal("paging does not end")
		}
		rs, err := db.Query("SELECT TOP (@p2) accountid, name, description FROM account WHERE accountid > @p1 ORDER BY accountid", last, page)
		if err != nil {
			t.Fatal(err)
		}
		k := 0
		for rs.Next() {
			var id mssql.UniqueIdentifier
			var name, desc sql.NullString
			if err := rs.Scan(&id, &name, &desc); err != nil {
				t.Fatal(err)
			}
			last = strings.ToLower(id.String())
			got = append(got, last)
			k++
		}
		if err := rs.Err(); err != nil {
			t.Fatal(err)
		}
		if k < page {
			break
		}
	}
	want := make([]string, len(rows))
	for i, a := range rows {
		want[i] = a.id
	}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("paged %d ids, want %d in order", len(got), len(want))
	}
}

func TestBadTokenRefused(t *testing.T) {
	var queried atomic.Bool
	_, addr := startServer(t, Options{Query: func(context.Context, string, *tsql.Select, []any) (Result, error) {
		queried.Store(true)
		return nil, errors.New("unreachable")
	}})
	db := openDB(t, addr, "bad-token", "")
	err := db.Ping()
	var me mssql.Error
	if !errors.As(err, &me) || me.Number != ErrLoginFailed || !strings.Contains(me.Message, "Login failed") {
		t.Fatalf("bad token: %v (%#v)", err, me)
	}
	// SQL authentication is refused too: Entra ID only.
	sqlAuth, err := sql.Open("sqlserver", "sqlserver://sa:secret@"+addr+"?encrypt=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer sqlAuth.Close()
	if err := sqlAuth.Ping(); err == nil || !strings.Contains(err.Error(), "Login failed") {
		t.Fatalf("SQL login: %v", err)
	}
	if queried.Load() {
		t.Fatal("a refused login reached Query")
	}
	// A good token still works on the same server.
	if err := openDB(t, addr, goodToken, "").Ping(); err != nil {
		t.Fatal(err)
	}
}

func TestReadOnly(t *testing.T) {
	db, _ := storeServer(t, 3, Options{})
	db.SetMaxOpenConns(1)
	for _, q := range []string{
		"INSERT INTO account (name) VALUES ('x')",
		"UPDATE account SET name = 'x'",
		"DELETE FROM account",
		"MERGE account USING x ON 1=1 WHEN MATCHED THEN DELETE;",
		"CREATE TABLE t (a int)",
		"DROP TABLE account",
		"TRUNCATE TABLE account",
		"EXEC sp_who",
		"EXECUTE ('select 1')",
		"WITH c AS (SELECT accountid FROM account) SELECT * FROM c",
		"SELECT name INTO copy FROM account",
		"SELECT 1; DELETE FROM account",
	} {
		_, err := db.Exec(q)
		var me mssql.Error
		if !errors.As(err, &me) || me.Number != tsql.ErrNotSupported || !strings.Contains(me.Message, "not supported") {
			t.Errorf("%s: %v", q, err)
		}
		// The same, with a parameter, goes through sp_executesql.
		_, err = db.Exec(q+" -- @p1", 1)
		if !errors.As(err, &me) || me.Number != tsql.ErrNotSupported {
			t.Errorf("%s (RPC): %v", q, err)
		}
	}
	// A stored procedure by name is an RPC of its own: refused.
	if _, err := db.Exec("sp_who", 1); err == nil || !strings.Contains(err.Error(), "EXECUTE statements are not supported") {
		t.Errorf("RPC sp_who: %v", err)
	}
	for q, num := range map[string]int32{
		"SELECT name FROM nosuch":                        tsql.ErrInvalidObject,
		"SELECT nosuch FROM account":                     tsql.ErrInvalidColumn,
		"SELECT name FROM account WHERE":                 tsql.ErrSyntax,
		"SELECT name FROM account WHERE name = @missing": tsql.ErrUndeclared,
	} {
		_, err := db.Exec(q)
		var me mssql.Error
		if !errors.As(err, &me) || me.Number != num {
			t.Errorf("%s: %v, want error %d", q, err, num)
		}
	}
	if _, err := db.Begin(); err == nil {
		t.Error("a transaction was begun")
	}
	var one int
	if err := db.QueryRow("SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("the connection is unusable after refusals: %v", err)
	}
}

func TestConstantsAndSession(t *testing.T) {
	_, addr := startServer(t, Options{})
	db := openDB(t, addr, goodToken, "")
	db.SetMaxOpenConns(1)
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	for range 3 { // pooled reuse sends the reset-connection flag
		var v string
		if err := db.QueryRow("SELECT @@VERSION").Scan(&v); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(v, "Microsoft SQL Azure (RTM) - 12.0.2000.8") {
			t.Fatalf("@@VERSION = %q", v)
		}
	}
	var one, two int64
	var s string
	var nullv sql.NullInt64
	if err := db.QueryRow("SET NOCOUNT ON; SET ANSI_NULLS, QUOTED_IDENTIFIER ON; SELECT 1, -2 AS b, N'x''y', NULL").Scan(&one, &two, &s, &nullv); err != nil {
		t.Fatal(err)
	}
	if one != 1 || two != -2 || s != "x'y" || nullv.Valid {
		t.Fatalf("got %d %d %q %v", one, two, s, nullv)
	}
	if _, err := db.Exec("SET TEXTSIZE 2147483647"); err != nil {
		t.Fatal(err)
	}
}

// TestParameters sends each parameter type go-mssqldb writes and reads it
// back through SELECT @pN.
func TestParameters(t *testing.T) {
	_, addr := startServer(t, Options{})
	db := openDB(t, addr, goodToken, "")
	when := time.Date(2026, 3, 4, 5, 6, 7, 123456700, time.FixedZone("x", 2*3600))
	guid := mssql.UniqueIdentifier{0x2b, 0x1c, 0x5e, 0x0a, 0x7d, 0x3f, 0x4c, 0x1e, 0x9a, 0x8b, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab}
	long := strings.Repeat("ž𝄞", 5000)
	cases := []struct {
		arg  any
		want string
	}{
		{"text ž 𝄞", "text ž 𝄞"},
		{"", ""},
		{int64(-1) << 40, "-1099511627776"},
		{int32(-7), "-7"},
		{int16(300), "300"},
		{int8(-3), "253"}, // go-mssqldb sends int8 as tinyint, which SQL Server reads unsigned
		{uint8(200), "200"},
		{true, "true"},
		{2.5, "2.5"},
		{float32(1.5), "1.5"},
		{when, "2026-03-04T03:06:07.1234567Z"},
		{civil.DateTime{Date: civil.Date{Year: 1999, Month: 12, Day: 31}, Time: civil.Time{Hour: 23, Minute: 59, Second: 58, Nanosecond: 100}}, "1999-12-31T23:59:58.0000001Z"},
		{civil.Date{Year: 1, Month: 1, Day: 1}, "0001-01-01T00:00:00Z"},
		{mssql.DateTime1(time.Date(2000, 2, 29, 12, 0, 1, 0, time.UTC)), "2000-02-29T12:00:01Z"},
		{guid, "2b1c5e0a-7d3f-4c1e-9a8b-0123456789ab"},
		{mssql.Money[decimal.Decimal]{Decimal: decimal.RequireFromString("-12.3456")}, "-12.3456"},
		{decimal.RequireFromString("12.50"), "12.5"}, // a Valuer: sent as nvarchar
		{mssql.NVarCharMax(long), long},
		{mssql.VarChar("latin"), "latin"},
		{[]byte{1, 2, 3}, ""}, // varbinary: refused for SELECT
		{sql.NullString{}, "<nil>"},
		{sql.NullInt64{}, "<nil>"},
		{nil, "<nil>"},
	}
	for _, c := range cases {
		var got any
		err := db.QueryRow("SELECT @p1", c.arg).Scan(&got)
		if _, bin := c.arg.([]byte); bin {
			if err == nil {
				t.Errorf("%T: selected a varbinary parameter", c.arg)
			}
			continue
		}
		if err != nil {
			t.Errorf("%T: %v", c.arg, err)
			continue
		}
		var s string
		switch g := got.(type) {
		case time.Time:
			s = g.UTC().Format(time.RFC3339Nano)
		case []byte:
			s = string(g)
		case nil:
			s = "<nil>"
		default:
			s = fmt.Sprint(g)
		}
		if s != c.want {
			t.Errorf("%T: got %q, want %q", c.arg, s, c.want)
		}
	}
	// Named parameters keep their names; several are bound by name.
	var a, b int64
	if err := db.QueryRow("SELECT @second, @first", sql.Named("first", 1), sql.Named("second", 2)).Scan(&a, &b); err != nil || a != 2 || b != 1 {
		t.Fatalf("named: %d %d %v", a, b, err)
	}
}

func TestPacketSizes(t *testing.T) {
	rows := testAccounts(300)
	for i := range rows {
		rows[i].description = ptr(strings.Repeat("𝄞é", 3000+i))
	}
	store := openStore(t, rows)
	_, addr := startServer(t, Options{Query: sqliteQuery(store)})
	for _, size := range []string{"512", "4096", "32767", "40000"} {
		db := openDB(t, addr, goodToken, "&packet+size="+size)
		rs, err := db.Query("SELECT accountid, description FROM account ORDER BY accountid")
		if err != nil {
			t.Fatal(err)
		}
		k := 0
		for rs.Next() {
			var id mssql.UniqueIdentifier
			var d string
			if err := rs.Scan(&id, &d); err != nil {
				t.Fatal(err)
			}
			k++
		}
		if err := rs.Err(); err != nil || k != len(rows) {
			t.Fatalf("packet size %s: %d rows, %v", size, k, err)
		}
		rs.Close()
	}
}

// generator is a Query whose rows never end (or end after n), each with
// a text of size characters; it records whether its context ended.
type generator struct {
	n, size   int
	cancelled atomic.Bool
	started   chan struct{}
}

func (g *generator) query(ctx context.Context, user string, q *tsql.Select, args []any) (Result, error) {
	if g.started != nil {
		close(g.started)
	}
	context.AfterFunc(ctx, func() {
		if context.Cause(ctx) == errAttention {
			g.cancelled.Store(true)
		}
	})
	return &genResult{g: g, ctx: ctx, text: strings.Repeat("x", g.size)}, nil
}

type genResult struct {
	g    *generator
	ctx  context.Context
	i    int
	text string
}

func (r *genResult) Columns() []Column {
	return []Column{{Name: "n", Type: TypeBigInt}, {Name: "text", Type: TypeNVarChar}}
}
func (r *genResult) Next() bool {
	if r.ctx.Err() != nil {
		return false
	}
	if r.g.n > 0 && r.i >= r.g.n {
		return false
	}
	r.i++
	return true
}
func (r *genResult) Values() []any { return []any{int64(r.i), r.text} }
func (r *genResult) Err() error    { return r.ctx.Err() }
func (r *genResult) Close() error  { return nil }

// TestResultCap checks Dataverse's 80 MB cap: rows up to it arrive, then
// the query fails.
func TestResultCap(t *testing.T) {
	g := &generator{size: 64 << 10} // 128 KiB of UTF-16 per row: 640 rows fill 80 MiB
	_, addr := startServer(t, Options{Query: g.query})
	db := openDB(t, addr, goodToken, "&packet+size=32767")
	rs, err := db.Query("SELECT n, text FROM big")
	if err != nil {
		t.Fatal(err)
	}
	k := 0
	for rs.Next() {
		k++
	}
	err = rs.Err()
	var me mssql.Error
	if !errors.As(err, &me) || me.Number != ErrResultTooLarge || !strings.Contains(me.Message, "80 MB") {
		t.Fatalf("after %d rows: %v", k, err)
	}
	rowBytes := 1 + 8 + 1 + 8 + 4 + 2*(64<<10) + 4 // token, bigint, PLP header, chunk, terminator
	if want := DefaultMaxResultBytes / rowBytes; k != want {
		t.Errorf("%d rows before the cap, want %d", k, want)
	}
	// The connection goes on.
	var one int
	if err := db.QueryRow("SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}

	// A smaller cap, as configured.
	_, addr = startServer(t, Options{Query: (&generator{n: 100, size: 100}).query, MaxResultBytes: 1000})
	rs, err = openDB(t, addr, goodToken, "").Query("SELECT n, text FROM big")
	if err != nil {
		t.Fatal(err)
	}
	for k = 0; rs.Next(); k++ {
	}
	if err := rs.Err(); err == nil || k != 1000/(1+9+8+4+200+4) {
		t.Fatalf("cap 1000: %d rows, %v", k, err)
	}
}

// TestAttention cancels a query mid-result: go-mssqldb sends ATTENTION,
// the server stops the query and acknowledges, the connection is reused.
func TestAttention(t *testing.T) {
	g := &generator{size: 1000}
	_, addr := startServer(t, Options{Query: g.query})
	db := openDB(t, addr, goodToken, "")
	db.SetMaxOpenConns(1)
	for round := range 3 {
		g.cancelled.Store(false)
		ctx, cancel := context.WithCancel(context.Background())
		rs, err := db.QueryContext(ctx, "SELECT n, text FROM endless")
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < 50 && rs.Next(); k++ {
		}
		cancel()
		for rs.Next() {
		}
		if err := rs.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("round %d: rows end with %v", round, err)
		}
		rs.Close()
		deadline := time.Now().Add(5 * time.Second)
		for !g.cancelled.Load() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if !g.cancelled.Load() {
			t.Fatal("the query's context was not cancelled")
		}
		var one int
		if err := db.QueryRow("SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("round %d: connection after attention: %v", round, err)
		}
	}
	// Closing rows early also sends ATTENTION (go-mssqldb cancels the
	// rest); a finished small result may be acknowledged on its own.
	g.n = 5
	for range 20 {
		rs, err := db.Query("SELECT n, text FROM small")
		if err != nil {
			t.Fatal(err)
		}
		rs.Next()
		rs.Close()
		var one int
		if err := db.QueryRow("SELECT 1").Scan(&one); err != nil {
			t.Fatalf("after early close: %v", err)
		}
	}
}

func TestConcurrentConnections(t *testing.T) {
	const conns = 40
	db, rows := storeServer(t, 200, Options{})
	db.SetMaxOpenConns(conns)
	var wg, ready sync.WaitGroup
	release := make(chan struct{})
	errs := make(chan error, conns)
	for i := range conns {
		wg.Add(1)
		ready.Add(1)
		go func() {
			defer wg.Done()
			readyDone := sync.OnceFunc(ready.Done)
			defer readyDone()
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			c, err := db.Conn(ctx) // one connection each
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for j := range 5 {
				a := rows[(i*5+j)%len(rows)]
				var id mssql.UniqueIdentifier
				var emp sql.NullInt64
				if err := c.QueryRowContext(ctx, "SELECT accountid, numberofemployees FROM account WHERE accountid = @p1", a.id).Scan(&id, &emp); err != nil {
					errs <- err
					return
				}
				if !strings.EqualFold(id.String(), a.id) {
					errs <- fmt.Errorf("got %s for %s", id, a.id)
					return
				}
			}
			readyDone()
			<-release // hold the connection until all are open
		}()
	}
	ready.Wait()
	if s := db.Stats(); s.OpenConnections != conns {
		t.Errorf("%d connections were open, want %d", s.OpenConnections, conns)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestServerClose(t *testing.T) {
	g := &generator{size: 10, started: make(chan struct{})}
	s, addr := startServer(t, Options{Query: g.query})
	db := openDB(t, addr, goodToken, "")
	done := make(chan error, 1)
	go func() {
		rs, err := db.Query("SELECT n FROM endless")
		if err == nil {
			for rs.Next() {
			}
			err = rs.Err()
		}
		done <- err
	}()
	<-g.started
	s.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("an endless query ended without error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the query")
	}
}

func TestValueEncoding(t *testing.T) {
	col := Column{Name: "d", Type: TypeDecimal, Precision: 5, Scale: 2}
	for _, c := range []struct {
		in   any
		want string // hex of the value, or "error"
	}{
		{"1.5", "05 01 96000000"},
		{"-1.005", "05 00 65000000"}, // rounds half away from zero
		{"999.99", "05 01 9f860100"},
		{"999.995", "error"},
		{int64(-3), "05 00 2c010000"},
		{0.25, "05 01 19000000"},
		{"1e5", "error"},
		{"abc", "error"},
	} {
		b, err := col.appendValue(nil, c.in)
		got := fmt.Sprintf("% x", b)
		if err != nil {
			got = "error"
		}
		want := c.want
		if want != "error" {
			want = spaced(strings.ReplaceAll(want, " ", ""))
		}
		if got != want {
			t.Errorf("decimal %v: %s, want %s", c.in, got, want)
		}
	}
	g := Column{Name: "g", Type: TypeGUID}
	b, err := g.appendValue(nil, "00112233-4455-6677-8899-AABBCCDDEEFF")
	if err != nil || fmt.Sprintf("% x", b) != "10 33 22 11 00 55 44 77 66 88 99 aa bb cc dd ee ff" {
		t.Errorf("guid: % x %v", b, err)
	}
	for _, bad := range []any{"x", int64(1), []byte{1}} {
		if _, err := g.appendValue(nil, bad); err == nil {
			t.Errorf("guid %v accepted", bad)
		}
	}
	i := Column{Name: "i", Type: TypeInt}
	if _, err := i.appendValue(nil, int64(math.MaxInt32)+1); err == nil {
		t.Error("int overflow accepted")
	}
	n := Column{Name: "n", Type: TypeNVarChar, Size: 2}
	if _, err := n.appendValue(nil, "abc"); err == nil {
		t.Error("nvarchar(2) took 3 characters")
	}
	dt := Column{Name: "t", Type: TypeDateTime2}
	if _, err := dt.appendValue(nil, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)); err == nil {
		t.Error("year 10000 accepted")
	}
	for _, bad := range []Column{{Type: TypeNVarChar, Size: 4001}, {Type: TypeDecimal, Precision: 39}, {Type: TypeDecimal, Precision: 5, Scale: 6}, {Type: TypeDateTime2, Scale: 8}, {Type: 99}} {
		if bad.check() == nil {
			t.Errorf("column %+v accepted", bad)
		}
	}
}

func spaced(h string) string {
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}
