package tsql

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/filterfuzz"
)

// tsqlOptions draw text from pieces aimed at SQL Server (bracketed names,
// parameters, N'…' literals, statements), add a decimal too wide for
// decimal(38) and leave out negative infinity.
var tsqlOptions = filterfuzz.Options{
	Pieces: []string{
		"a", "Z", "0", " ", "'", "''", `"`, `\`, "%", "_", "[", "]", "^", "-", "<", ">", "@p1", "@@version",
		";", "--", "/*", "*/", "\n", "\r", "\t", "é", "𝄞", "\x00", "\x01", "\xff", "\ufffe", "N'", ")",
		" OR 1=1", "DROP TABLE account", "SELECT", "]]",
	},
	Decimals: slices.Concat(filterfuzz.Decimals, []string{strings.Repeat("9", 39)}),
	Floats:   []float64{0, -1.5, 1e300, 5e-324, math.NaN(), math.Inf(1), math.Copysign(0, -1), 123456789.125},
}

// values collects the texts that a translation must pass as arguments
// unchanged (comparisons and sets on text fields).
func mustPass(f *sdk.Filter, e *sdk.Entity, out *[]string) {
	switch f.Op {
	case sdk.OpAnd, sdk.OpOr, sdk.OpNot:
		for _, c := range f.Children {
			mustPass(c, e, out)
		}
		return
	case sdk.OpLink:
		mustPass(f.Children[0], testSchema.Entity(e.Field(f.Field).Target), out)
		return
	case sdk.OpEq, sdk.OpNe, sdk.OpLt, sdk.OpLe, sdk.OpGt, sdk.OpGe, sdk.OpIn, sdk.OpNotIn:
		if fd := e.Field(f.Field); fd != nil && fd.Type == sdk.TypeString {
			for _, v := range f.Values {
				*out = append(*out, v.Str())
			}
		}
	}
}

// FuzzWhere translates random filters and parses the result back with
// this package's parser: the text holds no literal, every argument is used
// exactly once, printing is stable and SQLite rendering accepts it.
func FuzzWhere(f *testing.F) {
	for _, b := range filterfuzz.Seeds() {
		f.Add(b)
	}
	f.Add([]byte{1, 3, 3, 1, 9, 0, 18, 9, 2, 9, 12})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := filterfuzz.New(data)
		e := r.Entity(testSchema)
		flt := r.Filter(testSchema, e, tsqlOptions)
		uc := testUC
		switch r.Byte() % 8 {
		case 6:
			uc = UserContext{}
		case 7:
			uc.TeamIDs = nil
		}
		out, args, err := Where(flt, testSchema, e, uc)
		if err != nil {
			if sdk.KindOf(err) != sdk.Permanent || err.Error() == "" {
				t.Fatalf("error %v of kind %s", err, sdk.KindOf(err))
			}
			return
		}
		if out == "" {
			t.Fatal("no error and no output")
		}
		if err := flt.Check(testSchema, e); err != nil {
			t.Fatalf("translated a filter the sdk refuses (%v):\n%s", err, out)
		}
		checkRoundTrip(t, e, out, args)
		var must []string
		mustPass(flt, e, &must)
		for _, s := range must {
			found := false
			for _, a := range args {
				if a == any(s) {
					found = true
					break
				}
			}
			if !found {
				t.Fatalf("value %q is not among the arguments %q of\n%s", s, args, out)
			}
		}
	})
}

// FuzzParse feeds arbitrary text to the parser: it never panics, and what
// it accepts prints as text that parses to the same print.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"SELECT TOP 3 accountid, name FROM account WHERE name LIKE @p1 ORDER BY accountid",
		"SELECT @@VERSION; SET NOCOUNT ON",
		"SELECT a.x AS [y]]z] FROM dbo.t a WHERE NOT (x IN (SELECT y FROM u WHERE z BETWEEN -1 AND 2e3) OR w IS NOT NULL) AND v LIKE N'a!%' ESCAPE '!'",
		"SELECT * FROM t WHERE \"q\" != 'it''s' -- c\n/* x /* y */ */",
		"INSERT INTO t VALUES (1)",
		"SELECT 1, N'x', NULL, @p",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		stmts, err := ParseBatch(src)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		for _, st := range stmts {
			printed := st.String()
			again, err := ParseBatch(printed)
			if err != nil {
				t.Fatalf("%q prints as %q, which does not parse: %v", src, printed, err)
			}
			if len(again) != 1 || again[0].String() != printed {
				t.Fatalf("%q prints as %q, which reparses differently", src, printed)
			}
			if s, ok := st.(*Select); ok && !s.IsConstant() {
				_, _ = s.SQLite(schemaCatalog{testSchema}, nil)
			}
		}
	})
}
