// Package filterfuzz is a test helper for the fuzz targets of filter
// translators (FetchXML, OData, SOQL, T-SQL...): it decodes fuzz input bytes
// into sdk.Filter trees over a schema. Most trees are well formed, so that
// translation is reached; some have unknown fields, values of the wrong kind
// or arity, empty groups, links to the wrong entity and hostile text.
//
// The decoding is deterministic and total: every byte string, including an
// empty one, gives a filter (bytes past the end read as zero). What the
// translated output must look like is each target's own business; this
// package only draws the input.
//
// It uses only the standard library and sdk, so it builds wherever sdk does,
// GOOS=wasip1 included.
package filterfuzz

import (
	"math"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

// Decoder reads fuzz input one byte at a time.
type Decoder struct{ b []byte }

// New returns a Decoder over b. It does not copy b.
func New(b []byte) *Decoder { return &Decoder{b: b} }

// Byte consumes and returns the next input byte, or 0 when the input is
// used up.
func (d *Decoder) Byte() byte {
	if len(d.b) == 0 {
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

// Int64 consumes eight bytes as a big-endian int64.
func (d *Decoder) Int64() int64 {
	var x int64
	for range 8 {
		x = x<<8 | int64(d.Byte())
	}
	return x
}

// Pick consumes a byte and returns the element of xs it selects. xs must
// not be empty.
func Pick[T any](d *Decoder, xs []T) T { return xs[int(d.Byte())%len(xs)] }

// Text consumes bytes for a string of 0 to 7 pieces drawn from pieces, or
// from Pieces when pieces is nil.
func (d *Decoder) Text(pieces []string) string {
	if pieces == nil {
		pieces = Pieces
	}
	var b strings.Builder
	for range int(d.Byte() % 8) {
		b.WriteString(Pick(d, pieces))
	}
	return b.String()
}

// Entity consumes a byte and returns the entity of s it selects. s must
// have an entity.
func (d *Decoder) Entity(s *sdk.Schema) *sdk.Entity {
	return &s.Entities[int(d.Byte())%len(s.Entities)]
}

// Seeds returns short inputs for a fuzz target's seed corpus (f.Add each):
// the empty input and a few short ones that draw groups, negations, links
// and comparisons (the first byte picks the entity, as with Entity).
func Seeds() [][]byte {
	return [][]byte{
		{},
		{0, 9, 1, 0, 5, 3},
		[]byte("\x00\x01\x03\x00\x09\x01\x00\x02\x05'\"<&"),
		{1, 1, 3, 3, 0, 9, 3, 0, 9, 4, 9, 0, 0},
		{1, 2, 0, 3, 9, 1, 7, 2, 7, 3, 5, 4, 6, 8},
	}
}

// Pieces are the default fragments of generated text: quotes, escapes,
// wildcards, markup, control bytes, invalid UTF-8 and injection attempts
// for the usual query languages. Do not modify it; to change it, pass your
// own list in Options.Pieces.
var Pieces = []string{
	"a", "Z", "0", " ", "'", "''", `"`, `\`, `\'`, "%", "_", "[", "]", "^", "<", ">", "&",
	";", "#", "\n", "\r", "\t", "é", "€", "𝄞", "\x00", "\x01", "\x7f", "\xff", "\ufffe",
	"ab", "--", "/*", "$", " or 1 eq 1", ")", "]]>", "&amp;", "<!--",
}

// Decimals are the default texts drawn for a decimal field: valid, edge
// and malformed numbers. Do not modify it.
var Decimals = []string{
	"0", "12.50", "-3", "+7.25", "1e5", ".5", "5.", "", "1.2.3", "-", "00.000",
	"9999999999999999999999999999.1",
}

// Floats are the default values drawn for a float field, non-finite ones
// and negative zero included. Do not modify it.
var Floats = []float64{
	0, -1.5, 1e300, 5e-324, math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 123456789.125,
}

// CmpOps are the default comparison operators: every sdk comparison a
// translator is expected to know or refuse, plus one ("regex") that no
// translator knows. Do not modify it.
var CmpOps = []sdk.FilterOp{
	sdk.OpEq, sdk.OpNe, sdk.OpLt, sdk.OpLe, sdk.OpGt, sdk.OpGe, sdk.OpIn, sdk.OpNotIn, sdk.OpLike,
	sdk.OpBeginsWith, sdk.OpIsNull, sdk.OpNotNull, sdk.OpLastXDays, sdk.OpNextXDays, sdk.OpOnOrAfter,
	sdk.OpEqUserID, sdk.OpNeUserID, sdk.OpEqBusinessID, sdk.OpEqUserOrUserTeams, "regex",
}

// IDs are the texts drawn for a GUID or lookup value: one of two
// well-formed ids, generated text, or Stem (an id missing its end)
// completed with generated text. A backend with other ids passes its own:
// for Salesforce, say, an 18-character id, a 15-character one, and the
// first 17 characters of the 18.
type IDs struct {
	A, B string
	Stem string
}

// GUIDs are the default IDs: Dataverse-style GUIDs, one lower case and one
// upper case.
var GUIDs = IDs{
	A:    "2b1c5e0a-7d3f-4c1e-9a8b-0123456789ab",
	B:    "9F8E7D6C-5B4A-4938-8271-6A5B4C3D2E1F",
	Stem: "2b1c5e0a-7d3f-4c1e-9a8b-0123456789a",
}

// DefaultMaxDepth is the depth Options.MaxDepth stands for when zero.
const DefaultMaxDepth = 5

// Options shape the trees Filter draws. The zero value draws from the
// defaults above.
type Options struct {
	// Ops are the comparison operators drawn; nil means CmpOps.
	Ops []sdk.FilterOp
	// MaxDepth is the nesting depth at which only comparisons are drawn
	// (the root is at depth 0); 0 means DefaultMaxDepth, and a negative
	// depth draws a single comparison.
	MaxDepth int
	// NoLinks stops Filter from drawing links to parent entities.
	NoLinks bool
	// Pieces make up generated text; nil means Pieces.
	Pieces []string
	// IDs are drawn for GUID and lookup fields; the zero value means GUIDs.
	IDs IDs
	// Decimals are drawn for decimal fields; nil means Decimals.
	Decimals []string
	// Floats are drawn for float fields; nil means Floats.
	Floats []float64
}

func (o Options) withDefaults() Options {
	if o.Ops == nil {
		o.Ops = CmpOps
	}
	if o.MaxDepth == 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.Pieces == nil {
		o.Pieces = Pieces
	}
	if o.IDs == (IDs{}) {
		o.IDs = GUIDs
	}
	if o.Decimals == nil {
		o.Decimals = Decimals
	}
	if o.Floats == nil {
		o.Floats = Floats
	}
	return o
}

// Filter consumes bytes for a filter tree on entity e of schema s. Links
// follow lookup fields of e to their target in s (sometimes, on purpose,
// back to e itself); comparisons name a field of e, its primary key, or a
// field e does not have.
func (d *Decoder) Filter(s *sdk.Schema, e *sdk.Entity, opts Options) *sdk.Filter {
	g := gen{d: d, s: s, o: opts.withDefaults()}
	return g.filter(e, 0)
}

type gen struct {
	d *Decoder
	s *sdk.Schema
	o Options
}

func (g *gen) text() string { return g.d.Text(g.o.Pieces) }

func (g *gen) filter(e *sdk.Entity, depth int) *sdk.Filter {
	d := g.d
	kind := d.Byte() % 10
	if depth >= g.o.MaxDepth {
		kind = 9
	}
	switch kind {
	case 0, 1:
		f := &sdk.Filter{Op: sdk.OpAnd}
		if kind == 1 {
			f.Op = sdk.OpOr
		}
		for range int(d.Byte() % 4) { // sometimes none: invalid
			f.Children = append(f.Children, g.filter(e, depth+1))
		}
		return f
	case 2:
		return sdk.Not(g.filter(e, depth+1))
	case 3:
		if g.o.NoLinks {
			break
		}
		var lookups []sdk.Field
		for _, f := range e.Fields {
			if f.Type == sdk.TypeLookup {
				lookups = append(lookups, f)
			}
		}
		if len(lookups) > 0 {
			fd := Pick(d, lookups)
			parent := g.s.Entity(fd.Target)
			if d.Byte()%8 == 7 || parent == nil { // a condition on the wrong entity
				parent = e
			}
			return sdk.Link(fd.Name, g.filter(parent, depth+1))
		}
	}
	return g.cmp(e)
}

// cmp draws a comparison on e.
func (g *gen) cmp(e *sdk.Entity) *sdk.Filter {
	d := g.d
	field, typ := e.PrimaryKey, sdk.TypeGUID
	if i := int(d.Byte()) % (len(e.Fields) + 2); i < len(e.Fields) {
		field, typ = e.Fields[i].Name, e.Fields[i].Type
	} else if i == len(e.Fields)+1 {
		field = "nosuch"
	}
	op := Pick(d, g.o.Ops)
	f := sdk.Cmp(field, op)
	switch op {
	case sdk.OpIsNull, sdk.OpNotNull, sdk.OpEqUserID, sdk.OpNeUserID, sdk.OpEqBusinessID, sdk.OpEqUserOrUserTeams:
	case sdk.OpLastXDays, sdk.OpNextXDays:
		if d.Byte()%8 == 7 {
			f.Values = append(f.Values, sdk.Int(d.Int64()))
		} else {
			f.Values = append(f.Values, sdk.Int(int64(d.Byte()%40)))
		}
	case sdk.OpIn, sdk.OpNotIn:
		for range 1 + int(d.Byte()%4) {
			f.Values = append(f.Values, g.value(typ))
		}
	case sdk.OpLike, sdk.OpBeginsWith:
		f.Values = append(f.Values, sdk.String(g.text()))
	default:
		f.Values = append(f.Values, g.value(typ))
	}
	if d.Byte()%32 == 31 { // wrong arity
		f.Values = append(f.Values, sdk.Int(1))
	}
	return f
}

// value draws a value for a field of type t: mostly of its kind, sometimes
// null or of another kind.
func (g *gen) value(t sdk.FieldType) sdk.Value {
	d := g.d
	if d.Byte()%16 == 15 { // a value of the wrong kind, or null
		switch d.Byte() % 4 {
		case 0:
			return sdk.Null()
		case 1:
			return sdk.String(g.text())
		case 2:
			return sdk.Int(d.Int64())
		default:
			return sdk.Bytes([]byte("x"))
		}
	}
	switch t {
	case sdk.TypeString:
		return sdk.String(g.text())
	case sdk.TypeDecimal:
		return sdk.String(Pick(d, g.o.Decimals))
	case sdk.TypeGUID, sdk.TypeLookup:
		switch d.Byte() % 4 {
		case 0:
			return sdk.String(g.o.IDs.A)
		case 1:
			return sdk.String(g.o.IDs.B)
		case 2:
			return sdk.String(g.text())
		default:
			return sdk.String(g.o.IDs.Stem + g.text())
		}
	case sdk.TypeInt, sdk.TypeChoice:
		if d.Byte()%2 == 0 {
			return sdk.Int(int64(int8(d.Byte())))
		}
		return sdk.Int(d.Int64())
	case sdk.TypeFloat:
		return sdk.Float(Pick(d, g.o.Floats))
	case sdk.TypeBool:
		return sdk.Bool(d.Byte()%2 == 0)
	case sdk.TypeDateTime:
		switch d.Byte() % 4 {
		case 0:
			return sdk.Int(d.Int64())
		case 1:
			return sdk.Int(int64(d.Byte()) * 86400e6)
		default:
			return sdk.Time(time.Date(2026, 1, 1, int(d.Byte()%24), 0, 0, int(d.Byte())*1000, time.UTC))
		}
	}
	return sdk.Bytes([]byte(g.text()))
}
