package tsql

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

// fuzzBytes decodes fuzz input into filter trees over testSchema: mostly
// well-formed ones (so translation is reached), some with unknown fields,
// wrong kinds, wrong arity and hostile text.
type fuzzBytes struct{ b []byte }

func (r *fuzzBytes) next() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *fuzzBytes) int64() int64 {
	var x int64
	for range 8 {
		x = x<<8 | int64(r.next())
	}
	return x
}

func pick[T any](r *fuzzBytes, xs []T) T { return xs[int(r.next())%len(xs)] }

var fuzzPieces = []string{
	"a", "Z", "0", " ", "'", "''", `"`, `\`, "%", "_", "[", "]", "^", "-", "<", ">", "@p1", "@@version",
	";", "--", "/*", "*/", "\n", "\r", "\t", "é", "𝄞", "\x00", "\x01", "\xff", "\ufffe", "N'", ")",
	" OR 1=1", "DROP TABLE account", "SELECT", "]]",
}

func (r *fuzzBytes) text() string {
	var b strings.Builder
	for range int(r.next() % 8) {
		b.WriteString(pick(r, fuzzPieces))
	}
	return b.String()
}

func (r *fuzzBytes) value(t sdk.FieldType) sdk.Value {
	if r.next()%16 == 15 { // a value of the wrong kind, or null
		switch r.next() % 4 {
		case 0:
			return sdk.Null()
		case 1:
			return sdk.String(r.text())
		case 2:
			return sdk.Int(r.int64())
		default:
			return sdk.Bytes([]byte("x"))
		}
	}
	switch t {
	case sdk.TypeString:
		return sdk.String(r.text())
	case sdk.TypeDecimal:
		return sdk.String(pick(r, []string{"0", "12.50", "-3", "+7.25", "1e5", ".5", "5.", "", "1.2.3", "-", "00.000",
			"9999999999999999999999999999.1", strings.Repeat("9", 39)}))
	case sdk.TypeGUID, sdk.TypeLookup:
		switch r.next() % 4 {
		case 0:
			return sdk.String(guid1)
		case 1:
			return sdk.String(guid2)
		case 2:
			return sdk.String(r.text())
		default:
			return sdk.String("2b1c5e0a-7d3f-4c1e-9a8b-0123456789a" + r.text())
		}
	case sdk.TypeInt, sdk.TypeChoice:
		if r.next()%2 == 0 {
			return sdk.Int(int64(int8(r.next())))
		}
		return sdk.Int(r.int64())
	case sdk.TypeFloat:
		return sdk.Float(pick(r, []float64{0, -1.5, 1e300, 5e-324, math.NaN(), math.Inf(1), math.Copysign(0, -1), 123456789.125}))
	case sdk.TypeBool:
		return sdk.Bool(r.next()%2 == 0)
	case sdk.TypeDateTime:
		switch r.next() % 4 {
		case 0:
			return sdk.Int(r.int64())
		case 1:
			return sdk.Int(int64(r.next()) * 86400e6)
		default:
			return sdk.Time(time.Date(2026, 1, 1, int(r.next()%24), 0, 0, int(r.next())*1000, time.UTC))
		}
	}
	return sdk.Bytes([]byte(r.text()))
}

var fuzzCmpOps = []sdk.FilterOp{
	sdk.OpEq, sdk.OpNe, sdk.OpLt, sdk.OpLe, sdk.OpGt, sdk.OpGe, sdk.OpIn, sdk.OpNotIn, sdk.OpLike,
	sdk.OpBeginsWith, sdk.OpIsNull, sdk.OpNotNull, sdk.OpLastXDays, sdk.OpNextXDays, sdk.OpOnOrAfter,
	sdk.OpEqUserID, sdk.OpNeUserID, sdk.OpEqBusinessID, sdk.OpEqUserOrUserTeams, "regex",
}

func (r *fuzzBytes) filter(e *sdk.Entity, depth int) *sdk.Filter {
	kind := r.next() % 10
	if depth >= 5 {
		kind = 9
	}
	switch kind {
	case 0, 1:
		g := &sdk.Filter{Op: sdk.OpAnd}
		if kind == 1 {
			g.Op = sdk.OpOr
		}
		for range int(r.next() % 4) { // sometimes none: invalid
			g.Children = append(g.Children, r.filter(e, depth+1))
		}
		return g
	case 2:
		return sdk.Not(r.filter(e, depth+1))
	case 3:
		var lookups []sdk.Field
		for _, f := range e.Fields {
			if f.Type == sdk.TypeLookup {
				lookups = append(lookups, f)
			}
		}
		if len(lookups) > 0 {
			fd := pick(r, lookups)
			parent := testSchema.Entity(fd.Target)
			if r.next()%8 == 7 { // a condition on the wrong entity
				parent = e
			}
			return sdk.Link(fd.Name, r.filter(parent, depth+1))
		}
	}
	field, typ := e.PrimaryKey, sdk.TypeGUID
	if i := int(r.next()) % (len(e.Fields) + 2); i < len(e.Fields) {
		field, typ = e.Fields[i].Name, e.Fields[i].Type
	} else if i == len(e.Fields)+1 {
		field = "nosuch"
	}
	op := pick(r, fuzzCmpOps)
	f := sdk.Cmp(field, op)
	switch op {
	case sdk.OpIsNull, sdk.OpNotNull, sdk.OpEqUserID, sdk.OpNeUserID, sdk.OpEqBusinessID, sdk.OpEqUserOrUserTeams:
	case sdk.OpLastXDays, sdk.OpNextXDays:
		if r.next()%8 == 7 {
			f.Values = append(f.Values, sdk.Int(r.int64()))
		} else {
			f.Values = append(f.Values, sdk.Int(int64(r.next()%40)))
		}
	case sdk.OpIn, sdk.OpNotIn:
		for range 1 + int(r.next()%4) {
			f.Values = append(f.Values, r.value(typ))
		}
	case sdk.OpLike, sdk.OpBeginsWith:
		f.Values = append(f.Values, sdk.String(r.text()))
	default:
		f.Values = append(f.Values, r.value(typ))
	}
	if r.next()%32 == 31 { // wrong arity
		f.Values = append(f.Values, sdk.Int(1))
	}
	return f
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
	f.Add([]byte{})
	f.Add([]byte{0, 9, 1, 0, 5, 3})
	f.Add([]byte("\x00\x01\x03\x00\x09\x01\x00\x02\x05'\"<&"))
	f.Add([]byte{1, 1, 3, 3, 0, 9, 3, 0, 9, 4, 9, 0, 0})
	f.Add([]byte{1, 2, 0, 3, 9, 1, 7, 2, 7, 3, 5, 4, 6, 8})
	f.Add([]byte{1, 3, 3, 1, 9, 0, 18, 9, 2, 9, 12})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &fuzzBytes{b: data}
		e := &testSchema.Entities[int(r.next())%len(testSchema.Entities)]
		flt := r.filter(e, 0)
		uc := testUC
		switch r.next() % 8 {
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
