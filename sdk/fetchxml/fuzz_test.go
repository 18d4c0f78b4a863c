package fetchxml

import (
	"encoding/xml"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/filterfuzz"
)

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
	for _, b := range filterfuzz.Seeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := filterfuzz.New(data)
		e := r.Entity(testSchema)
		flt := r.Filter(testSchema, e, filterfuzz.Options{})
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
