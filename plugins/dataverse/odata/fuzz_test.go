package odata

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
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
	"a", "Z", "0", " ", "'", "''", `"`, `\`, `\'`, "%", "_", "[", "]", "^", "<", ">", "&",
	";", "#", "\n", "\r", "\t", "é", "€", "𝄞", "\x00", "\x01", "\x7f", "\xff", "\ufffe",
	"ab", "--", "/*", "$", " or 1 eq 1", ")", "]]>", "&amp;", "<!--",
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
		return sdk.String(pick(r, []string{"0", "12.50", "-3", "+7.25", "1e5", ".5", "5.", "", "1.2.3", "-", "00.000", "9999999999999999999999999999.1"}))
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
		return sdk.Float(pick(r, []float64{0, -1.5, 1e300, 5e-324, math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 123456789.125}))
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
	// A comparison.
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

// lex splits a $filter expression into its string literals ('…' with ”
// for a quote, and "…" JSON strings inside [ ]) and the rest, in which a
// literal stands as S.
func lex(s string) (lits []string, skeleton string, err error) {
	var sk strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			var lit strings.Builder
			j := i + 1
			for ; ; j++ {
				if j >= len(s) {
					return nil, "", fmt.Errorf("unterminated literal at %d", i)
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						lit.WriteByte('\'')
						j++
						continue
					}
					break
				}
				lit.WriteByte(s[j])
			}
			lits = append(lits, lit.String())
			sk.WriteByte('S')
			i = j
		case c == '"' && depth > 0:
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' {
					j++
				}
			}
			if j >= len(s) {
				return nil, "", fmt.Errorf("unterminated JSON string at %d", i)
			}
			var lit string
			if err := json.Unmarshal([]byte(s[i:j+1]), &lit); err != nil {
				return nil, "", fmt.Errorf("JSON string at %d: %v", i, err)
			}
			lits = append(lits, lit)
			sk.WriteByte('S')
			i = j
		default:
			switch c {
			case '[':
				depth++
			case ']':
				depth--
			}
			sk.WriteByte(c)
		}
	}
	return lits, sk.String(), nil
}

// skeletonOK reports whether the text outside literals holds only what the
// translator writes itself: names, numbers, dates, operators, brackets.
func skeletonOK(sk string) bool {
	parens := 0
	for i := 0; i < len(sk); i++ {
		c := sk[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("_ /,=.:-[]", c) >= 0:
		case c == '(':
			parens++
		case c == ')':
			parens--
			if parens < 0 {
				return false
			}
		default:
			return false
		}
	}
	return parens == 0
}

// expected walks a filter for the texts that must come out unchanged as
// literals, and every literal the translator may write.
func expected(f *sdk.Filter, e *sdk.Entity, must *[]string, may map[string]bool) {
	switch f.Op {
	case sdk.OpAnd, sdk.OpOr, sdk.OpNot:
		for _, c := range f.Children {
			expected(c, e, must, may)
		}
		return
	case sdk.OpLink:
		expected(f.Children[0], testSchema.Entity(e.Field(f.Field).Target), must, may)
		return
	}
	may[f.Field] = true
	typ := sdk.TypeGUID
	if fd := e.Field(f.Field); fd != nil {
		typ = fd.Type
	}
	for _, v := range f.Values {
		if s, err := text(typ, v); err == nil {
			may[s] = true
			switch f.Op {
			case sdk.OpEq, sdk.OpNe, sdk.OpLt, sdk.OpLe, sdk.OpGt, sdk.OpGe, sdk.OpIn, sdk.OpNotIn:
				if typ == sdk.TypeString {
					*must = append(*must, s)
				}
			}
		}
		if v.Kind() == sdk.KindString {
			p := v.Str()
			may[literalPattern(p)] = true
			may[literalPattern(strings.Trim(p, "%"))] = true
		}
	}
}

func FuzzODataFilter(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 9, 1, 0, 5, 3})
	f.Add([]byte("\x00\x01\x03\x00\x09\x01\x00\x02\x05'\"<&"))
	f.Add([]byte{1, 1, 3, 3, 0, 9, 3, 0, 9, 4, 9, 0, 0})
	f.Add([]byte{1, 2, 0, 3, 9, 1, 7, 2, 7, 3, 5, 4, 6, 8})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &fuzzBytes{b: data}
		e := &testSchema.Entities[int(r.next())%len(testSchema.Entities)]
		flt := r.filter(e, 0)
		out, err := Filter(flt, testSchema, e, testNav)
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
		lits, sk, err := lex(out)
		if err != nil {
			t.Fatalf("%v in\n%s", err, out)
		}
		if !skeletonOK(sk) {
			t.Fatalf("unexpected text outside literals:\n%s\nskeleton %s", out, sk)
		}
		var must []string
		may := map[string]bool{}
		expected(flt, e, &must, may)
		for _, l := range lits {
			if !may[l] {
				t.Fatalf("literal %q comes from nowhere in\n%s", l, out)
			}
		}
		got := slices.Clone(lits)
		for _, s := range must {
			i := slices.Index(got, s)
			if i < 0 {
				t.Fatalf("value %q does not round-trip; literals %q in\n%s", s, lits, out)
			}
			got = slices.Delete(got, i, i+1)
		}
	})
}
