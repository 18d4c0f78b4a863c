package tsql

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAccepts(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"SELECT TOP 3 accountid, name FROM account WHERE name LIKE @p1 ORDER BY accountid",
			"SELECT TOP (3) accountid, name FROM account WHERE name LIKE @p1 ORDER BY accountid"},
		{"select top(@p2) accountid from account where accountid > @p1 order by accountid asc;",
			"SELECT TOP (@p2) accountid FROM account WHERE accountid > @p1 ORDER BY accountid"},
		{"SELECT 1", "SELECT 1"},
		{"select 1;", "SELECT 1"},
		{"SELECT @@version", "SELECT @@VERSION"},
		{"SELECT @@VERSION AS v, 'x' [y], -1.5e3 z", "SELECT @@VERSION AS v, N'x' AS y, -1.5e3 AS z"},
		{"SELECT * FROM [account]", "SELECT * FROM account"},
		{"SELECT DISTINCT a.[name] FROM dbo.account AS a", "SELECT DISTINCT a.name FROM account AS a"},
		{"SELECT [order], [x]]y], \"quoted id\" FROM [my table] t", "SELECT [order], [x]]y], [quoted id] FROM [my table] AS t"},
		{"SELECT name FROM account WHERE a = 1 AND b <> 2 OR c != 3 AND NOT d < 4",
			"SELECT name FROM account WHERE (a = 1 AND b <> 2) OR (c <> 3 AND (NOT d < 4))"},
		{"SELECT name FROM account WHERE a <= 1 AND b >= 2 AND c !< 3 AND d !> 4",
			"SELECT name FROM account WHERE ((a <= 1 AND b >= 2) AND c >= 3) AND d <= 4"},
		{"SELECT name FROM account WHERE (a = 1 OR b = 2) AND c IN (1, N'two', @p1, NULL) AND d NOT IN (4)",
			"SELECT name FROM account WHERE ((a = 1 OR b = 2) AND c IN (1, N'two', @p1, NULL)) AND d NOT IN (4)"},
		{"SELECT name FROM account WHERE name LIKE N'50!%' ESCAPE '!' AND city NOT LIKE @p1 AND x IS NULL AND y IS NOT NULL",
			"SELECT name FROM account WHERE ((name LIKE N'50!%' ESCAPE N'!' AND city NOT LIKE @p1) AND x IS NULL) AND y IS NOT NULL"},
		{"SELECT name FROM account WHERE n BETWEEN 1 AND 2 AND m NOT BETWEEN @a AND @b",
			"SELECT name FROM account WHERE n BETWEEN 1 AND 2 AND m NOT BETWEEN @a AND @b"},
		{"SELECT contactid FROM contact WHERE parentcustomerid IN (SELECT accountid FROM account WHERE name = N'x') AND NOT (ownerid NOT IN (SELECT DISTINCT systemuserid FROM systemuser))",
			"SELECT contactid FROM contact WHERE parentcustomerid IN (SELECT accountid FROM account WHERE name = N'x') AND (NOT ownerid NOT IN (SELECT DISTINCT systemuserid FROM systemuser))"},
		{"-- leading comment\nSELECT /* inline /* nested */ */ name FROM account -- trailing",
			"SELECT name FROM account"},
		{"SELECT name FROM account WHERE name = 'it''s' AND n = N''", "SELECT name FROM account WHERE name = N'it''s' AND n = N''"},
		{"SELECT Straße FROM konto", "SELECT Straße FROM konto"},
		{"SELECT name FROM account WHERE n = +5 AND m = -.5", "SELECT name FROM account WHERE n = 5 AND m = -.5"},
	} {
		s, err := Parse(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if got := s.String(); got != c.want {
			t.Errorf("%s:\n got  %s\n want %s", c.in, got, c.want)
		}
		again, err := Parse(s.String())
		if err != nil || again.String() != s.String() {
			t.Errorf("%s: printing does not round-trip: %v", c.in, err)
		}
	}
}

func TestParseBatch(t *testing.T) {
	stmts, err := ParseBatch("SET NOCOUNT ON; SET ANSI_NULLS, QUOTED_IDENTIFIER ON SELECT 1 ;; SET TEXTSIZE 2147483647\nSET TRANSACTION ISOLATION LEVEL READ COMMITTED")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range stmts {
		got = append(got, s.String())
	}
	want := "SET NOCOUNT ON|SET ANSI_NULLS, QUOTED_IDENTIFIER ON|SELECT 1|SET TEXTSIZE 2147483647|SET TRANSACTION ISOLATION LEVEL READ COMMITTED"
	if strings.Join(got, "|") != want {
		t.Errorf("got %q", strings.Join(got, "|"))
	}
	if _, err := Parse("SET NOCOUNT ON"); err == nil {
		t.Error("Parse took a SET statement")
	}
	if _, err := Parse("SELECT 1; SELECT 2"); err == nil {
		t.Error("Parse took two statements")
	}
}

func TestParseRefuses(t *testing.T) {
	for _, c := range []struct {
		in     string
		number int32
		msg    string
	}{
		{"INSERT INTO account (name) VALUES ('x')", ErrNotSupported, "DML statements are not supported (INSERT)"},
		{"insert account values (1)", ErrNotSupported, "DML statements are not supported (INSERT)"},
		{"UPDATE account SET name = 'x'", ErrNotSupported, "DML statements are not supported (UPDATE)"},
		{"DELETE account", ErrNotSupported, "DML statements are not supported (DELETE)"},
		{"MERGE x USING y ON 1 = 1 WHEN MATCHED THEN DELETE;", ErrNotSupported, "(MERGE)"},
		{"SELECT name INTO t FROM account", ErrNotSupported, "(SELECT INTO)"},
		{"CREATE TABLE t (a int)", ErrNotSupported, "DDL statements are not supported (CREATE)"},
		{"DROP TABLE account", ErrNotSupported, "(DROP)"},
		{"ALTER TABLE account ADD x int", ErrNotSupported, "(ALTER)"},
		{"TRUNCATE TABLE account", ErrNotSupported, "(TRUNCATE)"},
		{"EXEC sp_who", ErrNotSupported, "EXECUTE statements are not supported"},
		{"execute sp_executesql N'select 1'", ErrNotSupported, "EXECUTE statements are not supported"},
		{"WITH c AS (SELECT 1) SELECT * FROM c", ErrNotSupported, "common table expressions"},
		{"SELECT 1; DELETE FROM account", ErrNotSupported, "(DELETE)"},
		{"BEGIN TRAN", ErrNotSupported, "transactions"},
		{"DECLARE @x int", ErrNotSupported, "DECLARE"},
		{"SET @x = 1", ErrNotSupported, "variables"},
		{"SELECT a.name FROM account a JOIN contact c ON c.x = a.y", ErrNotSupported, "joins"},
		{"SELECT a.name FROM account a, contact c", ErrNotSupported, "joins"},
		{"SELECT name FROM account UNION SELECT name FROM contact", ErrNotSupported, "UNION"},
		{"SELECT name FROM account GROUP BY name", ErrNotSupported, "GROUP BY"},
		{"SELECT name FROM account ORDER BY name OFFSET 5 ROWS", ErrNotSupported, "OFFSET"},
		{"SELECT name FROM account FOR JSON AUTO", ErrNotSupported, "FOR XML/JSON"},
		{"SELECT name FROM account WITH (NOLOCK)", ErrNotSupported, "table hints"},
		{"SELECT count(*) FROM account", ErrNotSupported, "functions (count)"},
		{"SELECT name FROM account WHERE upper(name) = 'X'", ErrNotSupported, "functions (upper)"},
		{"SELECT name FROM account WHERE CAST(x AS int) = 1", ErrNotSupported, "CAST"},
		{"SELECT name FROM account WHERE EXISTS (SELECT 1)", ErrNotSupported, "EXISTS"},
		{"SELECT name FROM account WHERE x = (SELECT 1)", ErrNotSupported, "scalar subqueries"},
		{"SELECT name FROM account WHERE x + 1 = 2", ErrNotSupported, "arithmetic"},
		{"SELECT name + 'x' FROM account", ErrNotSupported, "expressions in the select list"},
		{"SELECT TOP 10 PERCENT name FROM account", ErrNotSupported, "PERCENT"},
		{"SELECT name FROM account ORDER BY 1", ErrNotSupported, "column number"},
		{"SELECT name FROM account WHERE x IN (SELECT a, b FROM t)", 116, "Only one expression"},
		{"SELECT name FROM account WHERE x IN (SELECT TOP 1 a FROM t)", ErrNotSupported, "TOP and ORDER BY in a subquery"},
		{"SELECT name FROM account WHERE x IN (SELECT 1)", ErrNotSupported, "needs a FROM"},
		{"SELECT 1 FROM account", ErrNotSupported, "column names only"},
		{"SELECT *", 263, "Must specify table"},
		{"SELECT name", ErrInvalidColumn, "Invalid column name 'name'."},
		{"SELECT 1 WHERE 1 = 1", ErrNotSupported, "WHERE without FROM"},
		{"SELECT a.* FROM account a", ErrNotSupported, "qualified *"},
		{"SELECT x = name FROM account", ErrNotSupported, "alias = expression"},
		{"SELECT name FROM account WHERE a.b.c = 1", ErrNotSupported, "more than two parts"},
		{"SELECT name FROM a.b.c.d", ErrSyntax, "Incorrect syntax near '.'."},
		{"SELECT name FROM account WHERE x = 0x1F", ErrNotSupported, "binary literals"},
		{"SELECT name FROM account WHERE", ErrSyntax, "near the end of the batch"},
		{"SELECT name FROM account WHERE name", ErrSyntax, "near the end of the batch"},
		{"SELECT name FROM account WHERE name = 'x", ErrSyntax, "Unclosed quotation mark"},
		{"SELECT [name FROM account", ErrSyntax, "Unclosed quotation mark"},
		{"SELECT name /* FROM account", ErrSyntax, "Missing end comment mark"},
		{"SELECT name FROM account WHERE name = @", ErrSyntax, "Incorrect syntax near '@'."},
		{"SELECT name FROM account WHERE 12abc = 1", ErrSyntax, "Incorrect syntax near '12a'."},
		{"SELECT name FROM account WHERE x = 1e", ErrSyntax, "Incorrect syntax near '1e'."},
		{"SELECT name FROM account WHERE x ~ 1", ErrSyntax, "Incorrect syntax near '~'."},
		{"SELECT from account", ErrSyntax, "Incorrect syntax near 'from'."},
		{"SELECT name FROM select", ErrSyntax, "Incorrect syntax near 'select'."},
		{"SELECT TOP 1.5 name FROM account", 1060, "must be an integer"},
		{"SELECT TOP @p1 name FROM account", ErrSyntax, "near '@p1'"},
		{"SELECT [] FROM account", ErrSyntax, "missing or empty"},
		{"", ErrSyntax, "no statement"},
		{";;", ErrSyntax, "no statement"},
		{"GO", ErrSyntax, "near 'GO'"},
		{"(SELECT 1)", ErrNotSupported, "parenthesized queries"},
		{"SELECT name FROM account WHERE name = \xff", ErrSyntax, "not valid text"},
		{"SELECT name FROM account WHERE " + strings.Repeat("(", MaxDepth+1) + "a = 1" + strings.Repeat(")", MaxDepth+1), ErrNotSupported, "nested more than"},
		{"SELECT name FROM account WHERE " + strings.Repeat("NOT ", MaxDepth+1) + "a = 1", ErrNotSupported, "nested more than"},
		{strings.Repeat(" ", MaxQueryLength+1), ErrNotSupported, "longer than"},
	} {
		_, err := ParseBatch(c.in)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%.80s: error %v, want *Error", c.in, err)
			continue
		}
		if e.Number != c.number || !strings.Contains(e.Message, c.msg) {
			t.Errorf("%.80s: error %d %q, want %d containing %q", c.in, e.Number, e.Message, c.number, c.msg)
		}
	}
}

func TestBindAndParams(t *testing.T) {
	s, err := Parse("SELECT TOP (@P2) a FROM t WHERE a = @p1 AND b IN (SELECT c FROM u WHERE d = @p1)")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Bind([]string{"@p1", "@p2"}); err != nil {
		t.Fatal(err)
	}
	var idx []int
	for _, p := range s.Params() {
		idx = append(idx, p.Index)
	}
	if len(idx) != 3 || idx[0] != 1 || idx[1] != 0 || idx[2] != 0 {
		t.Errorf("indexes %v", idx)
	}
	err = s.Bind([]string{"@p1"})
	var e *Error
	if !errors.As(err, &e) || e.Number != ErrUndeclared || e.Message != `Must declare the scalar variable "@P2".` {
		t.Errorf("undeclared: %v", err)
	}
	if !(&Select{}).IsConstant() || s.IsConstant() {
		t.Error("IsConstant")
	}
}

func TestQuoteName(t *testing.T) {
	for in, want := range map[string]string{
		"name": "name", "order": "[order]", "SELECT": "[SELECT]", "a b": "[a b]", "x]y": "[x]]y]",
		"1a": "[1a]", "#t": "[#t]", "_x1": "_x1", "": "[]", "Ž": "Ž",
	} {
		if got := QuoteName(in); got != want {
			t.Errorf("QuoteName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := QuoteString("it's"); got != "N'it''s'" {
		t.Errorf("QuoteString: %s", got)
	}
}
