package filterfuzz

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

var schema = &sdk.Schema{Entities: []sdk.Entity{
	{Name: "account", PrimaryKey: "accountid", Fields: []sdk.Field{
		{Name: "name", Type: sdk.TypeString},
		{Name: "revenue", Type: sdk.TypeDecimal},
		{Name: "score", Type: sdk.TypeFloat},
		{Name: "parentid", Type: sdk.TypeLookup, Target: "account"},
		{Name: "ownerid", Type: sdk.TypeLookup, Target: "user"},
	}},
	{Name: "user", PrimaryKey: "userid", Fields: []sdk.Field{
		{Name: "name", Type: sdk.TypeString},
		{Name: "created", Type: sdk.TypeDateTime},
		{Name: "active", Type: sdk.TypeBool},
		{Name: "kind", Type: sdk.TypeChoice},
	}},
}}

// inputs returns n random byte strings of up to 200 bytes.
func inputs(n int) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([][]byte, n)
	for i := range out {
		out[i] = make([]byte, rng.IntN(200))
		for j := range out[i] {
			out[i][j] = byte(rng.UintN(256))
		}
	}
	return out
}

// dump prints a filter tree in full, values included.
func dump(f *sdk.Filter) string {
	s := fmt.Sprintf("(%s %q %#v", f.Op, f.Field, f.Values)
	for _, c := range f.Children {
		s += " " + dump(c)
	}
	return s + ")"
}

func depth(f *sdk.Filter) int {
	d := 0
	for _, c := range f.Children {
		d = max(d, 1+depth(c))
	}
	return d
}

func TestDeterministicAndBounded(t *testing.T) {
	valid := 0
	for _, b := range inputs(2000) {
		d := New(b)
		e := d.Entity(schema)
		f := d.Filter(schema, e, Options{})
		again := New(b)
		if g := again.Filter(schema, again.Entity(schema), Options{}); dump(g) != dump(f) {
			t.Fatalf("%x decodes two ways:\n%s\n%s", b, f, g)
		}
		if depth(f) > DefaultMaxDepth {
			t.Fatalf("%x: depth %d over %d:\n%s", b, depth(f), DefaultMaxDepth, f)
		}
		if f.Check(schema, e) == nil {
			valid++
		}
	}
	if valid < 200 {
		t.Errorf("only %d of 2000 filters are valid", valid)
	}
}

func TestOptions(t *testing.T) {
	opts := Options{Ops: []sdk.FilterOp{sdk.OpEq, sdk.OpIn}, MaxDepth: 2, NoLinks: true}
	for _, b := range inputs(2000) {
		d := New(b)
		f := d.Filter(schema, d.Entity(schema), opts)
		if depth(f) > 2 {
			t.Fatalf("%x: depth %d over 2:\n%s", b, depth(f), f)
		}
		f.Walk(func(f *sdk.Filter) {
			switch f.Op {
			case sdk.OpAnd, sdk.OpOr, sdk.OpNot:
			default:
				if !slices.Contains(opts.Ops, f.Op) {
					t.Fatalf("%x: operator %q not asked for:\n%s", b, f.Op, f)
				}
			}
		})
	}
	d := New([]byte{3, 0, 0, 0})
	if f := d.Filter(schema, &schema.Entities[0], Options{MaxDepth: -1}); len(f.Children) != 0 {
		t.Errorf("MaxDepth -1 drew %s, want a comparison", f)
	}
}

func TestExhaustedInput(t *testing.T) {
	d := New(nil)
	if d.Byte() != 0 || d.Int64() != 0 || d.Text(nil) != "" {
		t.Error("empty input does not read as zeros")
	}
	if f := d.Filter(schema, d.Entity(schema), Options{}); f.Op != sdk.OpAnd || len(f.Children) != 0 {
		t.Errorf("empty input gives %s, want an empty and", f)
	}
}
