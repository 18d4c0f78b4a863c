package tsql

import (
	"database/sql"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/ncruces/go-sqlite3/driver"

	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/filtertest"
)

// schemaCatalog stores an sdk schema in SQLite: one table per entity,
// date-times as Unix microseconds, decimals as text compared as REAL,
// GUIDs in lower case, text compared ignoring case.
type schemaCatalog struct{ s *sdk.Schema }

func (c schemaCatalog) entity(name string) *sdk.Entity {
	for i := range c.s.Entities {
		if strings.EqualFold(c.s.Entities[i].Name, name) {
			return &c.s.Entities[i]
		}
	}
	return nil
}

func (c schemaCatalog) Table(entity string) (string, bool) {
	e := c.entity(entity)
	if e == nil {
		return "", false
	}
	return e.Name, true
}

func (c schemaCatalog) Column(entity, column string) (Col, bool) {
	e := c.entity(entity)
	if e == nil {
		return Col{}, false
	}
	if strings.EqualFold(column, e.PrimaryKey) {
		return Col{Name: e.PrimaryKey, Convert: lowerText}, true
	}
	for _, f := range e.Fields {
		if !strings.EqualFold(f.Name, column) {
			continue
		}
		switch f.Type {
		case sdk.TypeString:
			return Col{Name: f.Name, NoCase: true}, true
		case sdk.TypeDecimal:
			return Col{Name: f.Name, Expr: func(ref string) string { return "CAST(" + ref + " AS REAL)" },
				Convert: func(v any) (any, error) {
					if s, ok := v.(string); ok {
						return strconv.ParseFloat(s, 64)
					}
					return v, nil
				}}, true
		case sdk.TypeDateTime:
			return Col{Name: f.Name, Convert: func(v any) (any, error) {
				if t, ok := v.(time.Time); ok {
					return t.UnixMicro(), nil
				}
				return v, nil
			}}, true
		case sdk.TypeGUID, sdk.TypeLookup:
			return Col{Name: f.Name, Convert: lowerText}, true
		}
		return Col{Name: f.Name}, true
	}
	return Col{}, false
}

func (c schemaCatalog) Columns(entity string) []string {
	e := c.entity(entity)
	if e == nil {
		return nil
	}
	return append([]string{e.PrimaryKey}, e.FieldNames()...)
}

func lowerText(v any) (any, error) {
	if s, ok := v.(string); ok {
		return strings.ToLower(s), nil
	}
	return v, nil
}

func openTestDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, e := range testSchema.Entities {
		cols := []string{quoteIdent(e.PrimaryKey) + " TEXT PRIMARY KEY"}
		for _, f := range e.Fields {
			cols = append(cols, quoteIdent(f.Name))
		}
		if _, err := db.Exec("CREATE TABLE " + quoteIdent(e.Name) + " (" + strings.Join(cols, ", ") + ")"); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func insert(t *testing.T, db *sql.DB, entity string, row map[string]any) {
	t.Helper()
	var cols, marks []string
	var vals []any
	for k, v := range row {
		cols = append(cols, quoteIdent(k))
		marks = append(marks, "?")
		if tm, ok := v.(time.Time); ok {
			v = tm.UnixMicro()
		}
		vals = append(vals, v)
	}
	if _, err := db.Exec("INSERT INTO "+quoteIdent(entity)+" ("+strings.Join(cols, ", ")+") VALUES ("+strings.Join(marks, ", ")+")", vals...); err != nil {
		t.Fatal(err)
	}
}

// TestWhereOnSQLite runs translated filters through the parser and the
// SQLite rendering against data, end to end.
func TestWhereOnSQLite(t *testing.T) {
	db := openTestDB(t)
	const a1, a2, a3, a4 = "a0000000-0000-0000-0000-000000000001", "a0000000-0000-0000-0000-000000000002",
		"a0000000-0000-0000-0000-000000000003", "a0000000-0000-0000-0000-000000000004"
	const c1, c2, c3, c4 = "c0000000-0000-0000-0000-000000000001", "c0000000-0000-0000-0000-000000000002",
		"c0000000-0000-0000-0000-000000000003", "c0000000-0000-0000-0000-000000000004"
	insert(t, db, "account", map[string]any{"accountid": a1, "name": "Contoso", "city": "Praha", "revenue": "1000.50",
		"employees": 10, "rating": 4.5, "active": 1, "createdon": testNow.Add(-48 * time.Hour), "ownerid": userID,
		"owningbusinessunit": buID, "statecode": 0, "order": "first"})
	insert(t, db, "account", map[string]any{"accountid": a2, "name": "50%_off[1]'", "city": "Brno", "revenue": "7.25",
		"employees": 200, "rating": 1.0, "active": 0, "createdon": testNow.Add(72 * time.Hour), "ownerid": team1,
		"parentaccountid": a1, "statecode": 1})
	insert(t, db, "account", map[string]any{"accountid": a3, "name": "contoso ltd", "createdon": time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		"ownerid": guid1, "parentaccountid": a2, "statecode": 2})
	insert(t, db, "account", map[string]any{"accountid": a4, "name": "Fabrikam", "city": "praha", "createdon": testNow.Add(-time.Hour),
		"ownerid": team2})
	insert(t, db, "contact", map[string]any{"contactid": c1, "parentcustomerid": a1, "lastname": "Novak"})
	insert(t, db, "contact", map[string]any{"contactid": c2, "parentcustomerid": a2, "lastname": "Nováková"})
	insert(t, db, "contact", map[string]any{"contactid": c3, "lastname": "Svoboda"})
	insert(t, db, "contact", map[string]any{"contactid": c4, "parentcustomerid": a3})

	for _, c := range []struct {
		entity string
		f      *sdk.Filter
		want   []string
	}{
		{"account", sdk.Cmp("name", sdk.OpEq, sdk.String("contoso")), []string{a1}},
		{"account", sdk.Cmp("city", sdk.OpEq, sdk.String("PRAHA")), []string{a1, a4}},
		{"account", sdk.Cmp("name", sdk.OpLike, sdk.String("%con_oso%")), []string{a1, a3}},
		{"account", sdk.Cmp("name", sdk.OpLike, sdk.String("%[1]%")), []string{a2}},
		{"account", sdk.Cmp("name", sdk.OpBeginsWith, sdk.String("50%_off[1]'")), []string{a2}},
		{"account", sdk.Cmp("name", sdk.OpBeginsWith, sdk.String("5_")), nil},
		{"account", sdk.Cmp("city", sdk.OpIsNull), []string{a3}},
		{"account", sdk.Cmp("parentaccountid", sdk.OpNotNull), []string{a2, a3}},
		{"account", sdk.Cmp("createdon", sdk.OpLastXDays, sdk.Int(30)), []string{a1, a4}},
		{"account", sdk.Cmp("createdon", sdk.OpLastXDays, sdk.Int(0)), []string{a4}},
		{"account", sdk.Cmp("createdon", sdk.OpNextXDays, sdk.Int(7)), []string{a2}},
		{"account", sdk.Cmp("createdon", sdk.OpNextXDays, sdk.Int(2)), nil},
		{"account", sdk.Cmp("createdon", sdk.OpOnOrAfter, date(2026, 5, 4, 15, 0, 0, 0)), []string{a1, a2, a4}},
		{"account", sdk.Cmp("ownerid", sdk.OpEqUserOrUserTeams), []string{a1, a2, a4}},
		{"account", sdk.Cmp("ownerid", sdk.OpEqUserID), []string{a1}},
		{"account", sdk.Cmp("ownerid", sdk.OpNeUserID), []string{a2, a3, a4}},
		{"account", sdk.Cmp("owningbusinessunit", sdk.OpEqBusinessID), []string{a1}},
		{"account", sdk.Cmp("ownerid", sdk.OpEq, sdk.String(strings.ToUpper(guid1))), []string{a3}},
		{"account", sdk.Cmp("revenue", sdk.OpLt, sdk.String("1000.50")), []string{a2}},
		{"account", sdk.Cmp("revenue", sdk.OpGe, sdk.String("8")), []string{a1}},
		{"account", sdk.Cmp("statecode", sdk.OpNotIn, sdk.Int(0), sdk.Int(2)), []string{a2}},
		{"account", sdk.Cmp("rating", sdk.OpLe, sdk.Float(4.5)), []string{a1, a2}},
		{"account", sdk.Cmp("active", sdk.OpEq, sdk.Bool(true)), []string{a1}},
		{"account", sdk.Cmp("order", sdk.OpEq, sdk.String("First")), []string{a1}},
		{"account", sdk.Not(sdk.Cmp("employees", sdk.OpGt, sdk.Int(50))), []string{a1}},
		{"account", sdk.Or(sdk.Cmp("employees", sdk.OpGt, sdk.Int(50)), sdk.Cmp("city", sdk.OpIsNull)), []string{a2, a3}},
		{"account", sdk.Link("parentaccountid", sdk.Cmp("accountid", sdk.OpIn, sdk.String(a1))), []string{a2}},
		{"contact", sdk.Link("parentcustomerid", sdk.Cmp("name", sdk.OpEq, sdk.String("Contoso"))), []string{c1}},
		{"contact", sdk.Not(sdk.Link("parentcustomerid", sdk.Cmp("statecode", sdk.OpEq, sdk.Int(1)))), []string{c1, c3, c4}},
		{"contact", sdk.Link("parentcustomerid", sdk.Link("parentaccountid", sdk.Cmp("name", sdk.OpLike, sdk.String("Cont%")))), []string{c2}},
		{"contact", sdk.And(sdk.Cmp("lastname", sdk.OpBeginsWith, sdk.String("nov")),
			sdk.Link("parentcustomerid", sdk.Cmp("createdon", sdk.OpLastXDays, sdk.Int(3)))), []string{c1}},
	} {
		e := testSchema.Entity(c.entity)
		where, args, err := Where(c.f, testSchema, e, testUC)
		if err != nil {
			t.Fatalf("%s: %v", filtertest.Describe(testSchema, e, c.f), err)
		}
		s, err := Parse("SELECT " + e.PrimaryKey + " FROM " + e.Name + " WHERE " + where + " ORDER BY " + e.PrimaryKey)
		if err != nil {
			t.Fatal(err)
		}
		names := make([]string, len(args))
		for i := range args {
			names[i] = "@p" + strconv.Itoa(i+1)
		}
		if err := s.Bind(names); err != nil {
			t.Fatal(err)
		}
		q, err := s.SQLite(schemaCatalog{testSchema}, args)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := db.Query(q.SQL, q.Args...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", where, err, q.SQL)
		}
		var got []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			got = append(got, id)
		}
		rows.Close()
		if !slices.Equal(got, c.want) {
			t.Errorf("%s\n  T-SQL  %s\n  SQLite %s %v\n  got %v, want %v", filtertest.Describe(testSchema, e, c.f), where, q.SQL, q.Args, got, c.want)
		}
	}
}

func TestSQLiteRendering(t *testing.T) {
	cat := schemaCatalog{testSchema}
	for _, c := range []struct {
		q, sql string
		args   []any
		in     []any
		err    string
	}{
		{q: "SELECT TOP (@p1) accountid, name AS n FROM account WHERE name LIKE @p2 ORDER BY name DESC, accountid",
			in:   []any{int64(5), "A[%]b!_c%"},
			sql:  `SELECT t0."accountid", t0."name" FROM "account" AS t0 WHERE t0."name" LIKE ? ESCAPE '\' ORDER BY t0."name" COLLATE NOCASE DESC, t0."accountid" ASC LIMIT ?`,
			args: []any{`A\%b!_c%`, int64(5)}},
		{q: "SELECT name FROM account WHERE name LIKE 'a!%b' ESCAPE '!' AND city NOT LIKE N'x\\y'",
			sql:  `SELECT t0."name" FROM "account" AS t0 WHERE (t0."name" LIKE ? ESCAPE '\' AND t0."city" NOT LIKE ? ESCAPE '\')`,
			args: []any{`a\%b`, `x\\y`}},
		{q: "SELECT DISTINCT city FROM account a WHERE a.employees BETWEEN -1 AND 2.5 OR NOT (a.createdon >= @p1) OR createdon IS NULL",
			in:   []any{time.UnixMicro(5).UTC()},
			sql:  `SELECT DISTINCT t0."city" FROM "account" AS t0 WHERE ((t0."employees" BETWEEN ? AND ? OR NOT (t0."createdon" >= ?)) OR t0."createdon" IS NULL)`,
			args: []any{int64(-1), 2.5, int64(5)}},
		{q: "SELECT contactid FROM contact WHERE parentcustomerid IN (SELECT accountid FROM account WHERE ownerid = @p1) AND lastname IN ('a', NULL)",
			in:   []any{"ABC"},
			sql:  `SELECT t0."contactid" FROM "contact" AS t0 WHERE (t0."parentcustomerid" IN (SELECT t1."accountid" FROM "account" AS t1 WHERE t1."ownerid" = ?) AND t0."lastname" COLLATE NOCASE IN (?, NULL))`,
			args: []any{"abc", "a"}},
		{q: "SELECT * FROM businessunit WHERE @p1 = name", in: []any{"x"},
			sql: `SELECT t0."businessunitid", t0."name" FROM "businessunit" AS t0 WHERE ? COLLATE NOCASE = t0."name"`, args: []any{"x"}},
		{q: "SELECT x FROM nosuch", err: "Invalid object name 'nosuch'."},
		{q: "SELECT nosuch FROM account", err: "Invalid column name 'nosuch'."},
		{q: "SELECT name FROM account AS a WHERE b.name = 1", err: `The multi-part identifier "b.name" could not be bound.`},
		{q: "SELECT name FROM account WHERE accountid IN (SELECT contactid FROM contact WHERE name = 1)", err: "Invalid column name 'name'."},
		{q: "SELECT name FROM account WHERE name LIKE 'a[b-c]'", err: "bracket expressions"},
		{q: "SELECT name FROM account WHERE name LIKE 'ab' ESCAPE 'xy'", err: "invalid escape character"},
		{q: "SELECT name FROM account WHERE name LIKE 'ab!' ESCAPE '!'", err: "invalid escape character"},
		{q: "SELECT name FROM account WHERE name LIKE city", err: "pattern from a column"},
		{q: "SELECT TOP (@p1) name FROM account", in: []any{"x"}, err: "must be an integer"},
		{q: "SELECT TOP (@p1) name FROM account", in: []any{int64(-1)}, err: "may not be negative"},
		{q: "SELECT name FROM account WHERE name = @@VERSION", err: "@@VERSION is not supported"},
		{q: "SELECT name FROM account WHERE name = 1e999", err: "Arithmetic overflow"},
	} {
		s, err := Parse(c.q)
		if err != nil {
			t.Fatalf("%s: %v", c.q, err)
		}
		names := make([]string, len(c.in))
		for i := range c.in {
			names[i] = "@p" + strconv.Itoa(i+1)
		}
		if err := s.Bind(names); err != nil {
			t.Fatal(err)
		}
		got, err := s.SQLite(cat, c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.q, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.q, err)
			continue
		}
		if got.SQL != c.sql || !slices.Equal(got.Args, c.args) {
			t.Errorf("%s:\n got  %s %#v\n want %s %#v", c.q, got.SQL, got.Args, c.sql, c.args)
		}
	}
	if _, err := (&Select{Items: []Item{{Expr: &Literal{Kind: LitNumber, Text: "1"}}}}).SQLite(cat, nil); err == nil {
		t.Error("a constant query rendered")
	}
}

func TestLikeToSQLite(t *testing.T) {
	for _, c := range []struct {
		in   string
		esc  rune
		want string
	}{
		{"abc", 0, "abc"},
		{"a%b_c", 0, "a%b_c"},
		{"[%][_][[]x]", 0, `\%\_[x]`},
		{`back\slash`, 0, `back\\slash`},
		{"50!%", '!', `50\%`},
		{"!!", '!', "!"},
		{"ž[ž]", 0, "žž"},
	} {
		got, err := LikeToSQLite(c.in, c.esc)
		if err != nil || got != c.want {
			t.Errorf("LikeToSQLite(%q, %q) = %q, %v; want %q", c.in, c.esc, got, err, c.want)
		}
	}
	for _, bad := range []string{"[a-c]", "[^a]", "[", "[ab]", "[]]"} {
		if _, err := LikeToSQLite(bad, 0); err == nil {
			t.Errorf("LikeToSQLite(%q) accepted", bad)
		}
	}
}
