package fetchxml

import (
	"encoding/xml"
	"io"
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

// shape counts what a translation must contain: comparisons, links, and
// the text values that must come out unchanged.
type shape struct {
	leaves, links int
	texts         []string
}

func (sh *shape) walk(f *sdk.Filter, e *sdk.Entity) {
	switch f.Op {
	case sdk.OpAnd, sdk.OpOr, sdk.OpNot:
		for _, c := range f.Children {
			sh.walk(c, e)
		}
		return
	case sdk.OpLink:
		sh.links++
		sh.walk(f.Children[0], testSchema.Entity(e.Field(f.Field).Target))
		return
	}
	sh.leaves++
	fd := e.Field(f.Field)
	switch f.Op {
	case sdk.OpEq, sdk.OpNe, sdk.OpLt, sdk.OpLe, sdk.OpGt, sdk.OpGe, sdk.OpIn, sdk.OpNotIn:
		if fd != nil && fd.Type == sdk.TypeString {
			for _, v := range f.Values {
				sh.texts = append(sh.texts, v.Str())
			}
		}
	}
}

var fetchOperators = []string{
	"eq", "ne", "lt", "le", "gt", "ge", "in", "not-in", "like", "not-like", "begins-with",
	"not-begin-with", "null", "not-null", "last-x-days", "next-x-days", "eq-userid", "ne-userid",
	"eq-businessid", "ne-businessid", "eq-useroruserteams",
}

// parsed is what the fuzz check reads back from a document.
type parsed struct {
	conditions, links int
	outer             bool
	texts             []string // every value attribute and <value> text
}

func parseFetch(t *testing.T, doc string) parsed {
	t.Helper()
	var p parsed
	dec := xml.NewDecoder(strings.NewReader(doc))
	var stack []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("output does not parse: %v\n%s", err, doc)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			name := tok.Name.Local
			stack = append(stack, name)
			switch name {
			case "fetch", "entity", "attribute", "all-attributes", "order", "filter":
			case "value": // its text may come in several CharData tokens, or none
				p.texts = append(p.texts, "")
			case "condition":
				p.conditions++
				for _, a := range tok.Attr {
					switch a.Name.Local {
					case "operator":
						if !slices.Contains(fetchOperators, a.Value) {
							t.Fatalf("unknown operator %q in\n%s", a.Value, doc)
						}
					case "value":
						p.texts = append(p.texts, a.Value)
					}
				}
			case "link-entity":
				p.links++
				for _, a := range tok.Attr {
					if a.Name.Local == "link-type" && a.Value == "outer" {
						p.outer = true
					}
				}
			default:
				t.Fatalf("unexpected element <%s> in\n%s", name, doc)
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 && stack[len(stack)-1] == "value" {
				p.texts[len(p.texts)-1] += string(tok)
			} else if len(tok) > 0 {
				t.Fatalf("stray text %q in\n%s", tok, doc)
			}
		default:
			t.Fatalf("unexpected token %T in\n%s", tok, doc)
		}
	}
	return p
}

func FuzzFetchXML(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 9, 1, 0, 5, 3})
	f.Add([]byte("\x00\x01\x03\x00\x09\x01\x00\x02\x05'\"<&"))
	f.Add([]byte{1, 1, 3, 3, 0, 9, 3, 0, 9, 4, 9, 0, 0})
	f.Add([]byte{1, 2, 0, 3, 9, 1, 7, 2, 7, 3, 5, 4, 6, 8})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &fuzzBytes{b: data}
		e := &testSchema.Entities[int(r.next())%len(testSchema.Entities)]
		flt := r.filter(e, 0)
		fr, err := Filter(flt, testSchema, e)
		if err != nil {
			if sdk.KindOf(err) != sdk.Permanent || err.Error() == "" {
				t.Fatalf("error %v of kind %s", err, sdk.KindOf(err))
			}
			return
		}
		out := fr.String()
		if out == "" {
			t.Fatal("no error and no output")
		}
		if err := flt.Check(testSchema, e); err != nil {
			t.Fatalf("translated a filter the sdk refuses (%v):\n%s", err, out)
		}
		p := parseFetch(t, `<entity name="x">`+out+`</entity>`)

		var sh shape
		sh.walk(flt, e)
		if p.links != sh.links {
			t.Fatalf("%d link-entities for %d links:\n%s", p.links, sh.links, out)
		}
		want := sh.leaves
		if p.outer {
			want += sh.links // one guard per outer link
		}
		if p.conditions != want {
			t.Fatalf("%d conditions, want %d:\n%s", p.conditions, want, out)
		}
		// Every text compared must come back unchanged from the XML.
		got := slices.Clone(p.texts)
		for _, s := range sh.texts {
			i := slices.Index(got, s)
			if i < 0 {
				t.Fatalf("value %q does not round-trip; read back %q from\n%s", s, p.texts, out)
			}
			got = slices.Delete(got, i, i+1)
		}

		q, err := Query(e.Name, []string{e.PrimaryKey}, flt, testSchema, e, QueryOptions{Count: 50, Page: 2, PagingCookie: "<cookie page=\"1\"/>", OrderByPrimaryKey: true})
		if err != nil {
			t.Fatalf("Filter translated but Query failed: %v", err)
		}
		if pq := parseFetch(t, q); pq.conditions != p.conditions || pq.links != p.links {
			t.Fatalf("Query changed the filter:\n%s\n%s", out, q)
		}
	})
}
