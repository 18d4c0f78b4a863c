package sdk

import (
	"fmt"
)

// Page is one batch of a fetch: upserted rows in columnar form, deleted ids,
// and the cursor that resumes the fetch after this page. Fields are named once
// per page, never per row, so a page crosses a process or WASM boundary as a
// handful of slices (see MEASUREMENTS in the project docs: a message per row
// cannot keep up).
//
// A page handed to a fetch callback belongs to the callee: the connector must
// not touch it after the callback returns, and the callee may keep it.
type Page struct {
	Fields   []string // selected fields, in column order
	IDs      []string // primary key of each upserted row
	Versions []string // opaque row version of each upserted row (may be empty strings)
	Columns  []Column // one per field, each with len(IDs) slots
	Deletes  []string // ids deleted on the server (or that left the filter)

	// Cursor resumes the fetch after this page: a FetchRequest with the same
	// entity, fields, filter and token plus this cursor continues with the
	// next page. Opaque to the core.
	Cursor []byte
	// Last is set on the final page of a fetch, which carries Token.
	Last bool
	// Token is the change token to pass to the next incremental fetch; set on
	// the last page only. Opaque to the core.
	Token []byte

	// Encoded, when set, is the whole page already encoded as the plugin
	// protocol's Page message, as a connector received it from its server;
	// Fields, IDs, Versions, Columns and Deletes are then left empty (Cursor,
	// Last and Token are still set). A transport forwards the bytes instead
	// of decoding and encoding every value again, which inside a WASM guest
	// is most of the cost of a page. A connector sets it when its pages go
	// straight to a transport (the mock's remote connector does when built
	// as WASM); transports and the engine decode such a page like any other.
	Encoded []byte
}

// Len is the number of upserted rows.
func (p *Page) Len() int { return len(p.IDs) }

// Column holds one field's values for every row of a page, in the slice of
// the field's storage Kind; the other slices stay empty. Null rows keep a
// zero slot so row i is always at index i.
type Column struct {
	Nulls   []byte // bitmap: bit i%8 of byte i/8 set means row i is null; empty: none null
	Strings []string
	Ints    []int64
	Floats  []float64
	Bools   []bool
	Binary  [][]byte
}

// IsNull reports whether row i is null.
func (c *Column) IsNull(i int) bool {
	return i/8 < len(c.Nulls) && c.Nulls[i/8]&(1<<(i%8)) != 0
}

// Value returns row i as a Value, given the column's kind.
func (c *Column) Value(k Kind, i int) Value {
	if c.IsNull(i) {
		return Null()
	}
	switch k {
	case KindString:
		return String(c.Strings[i])
	case KindInt:
		return Int(c.Ints[i])
	case KindFloat:
		return Float(c.Floats[i])
	case KindBool:
		return Bool(c.Bools[i])
	case KindBytes:
		return Bytes(c.Binary[i])
	}
	return Null()
}

// Append adds v as the next row. A null (or a value of another kind, which a
// caller should have refused earlier) takes a zero slot and sets the null bit.
func (c *Column) Append(k Kind, v Value) {
	row := c.rows(k)
	null := v.kind != k
	switch k {
	case KindString:
		c.Strings = append(c.Strings, v.s)
	case KindInt:
		c.Ints = append(c.Ints, v.i)
	case KindFloat:
		c.Floats = append(c.Floats, v.Float())
	case KindBool:
		c.Bools = append(c.Bools, v.i != 0)
	case KindBytes:
		c.Binary = append(c.Binary, v.b)
	default:
		return
	}
	if null {
		c.SetNull(row)
	}
}

// SetNull marks row i null.
func (c *Column) SetNull(i int) {
	for len(c.Nulls) <= i/8 {
		c.Nulls = append(c.Nulls, 0)
	}
	c.Nulls[i/8] |= 1 << (i % 8)
}

func (c *Column) rows(k Kind) int {
	switch k {
	case KindString:
		return len(c.Strings)
	case KindInt:
		return len(c.Ints)
	case KindFloat:
		return len(c.Floats)
	case KindBool:
		return len(c.Bools)
	case KindBytes:
		return len(c.Binary)
	}
	return 0
}

// Validate checks that a page is well formed for the given field kinds (one
// per field, in page order): every column has one slot per row in the slice
// of its kind and nothing in the others, versions (if any) match the rows,
// and the null bitmap is not longer than the rows need. With nil kinds it
// checks the shape alone (each column uses at most one slice, of len(IDs)),
// which is what a transport can check without the schema. The core calls it
// on every page that comes from a plugin, so a bad plugin yields an error,
// never an index panic.
func (p *Page) Validate(kinds []Kind) error {
	n := len(p.IDs)
	if len(p.Columns) != len(p.Fields) {
		return fmt.Errorf("page has %d fields but %d columns", len(p.Fields), len(p.Columns))
	}
	if kinds != nil && len(kinds) != len(p.Fields) {
		return fmt.Errorf("page has %d fields, expected %d", len(p.Fields), len(kinds))
	}
	if len(p.Versions) != 0 && len(p.Versions) != n {
		return fmt.Errorf("page has %d rows but %d versions", n, len(p.Versions))
	}
	if !p.Last && len(p.Token) != 0 {
		return fmt.Errorf("page carries a change token but is not the last page")
	}
	for j := range p.Columns {
		c := &p.Columns[j]
		used := 0
		for _, k := range []Kind{KindString, KindInt, KindFloat, KindBool, KindBytes} {
			got := c.rows(k)
			want := 0
			switch {
			case kinds != nil && k == kinds[j]:
				want = n
			case kinds == nil && got != 0:
				want = n
				used++
			}
			if got != want {
				return fmt.Errorf("column %q has %d %s values for %d rows", p.Fields[j], got, k, n)
			}
		}
		if kinds != nil && kinds[j] == KindNull {
			return fmt.Errorf("field %q has no storage kind", p.Fields[j])
		}
		if used > 1 {
			return fmt.Errorf("column %q mixes value kinds", p.Fields[j])
		}
		if len(c.Nulls) > (n+7)/8 {
			return fmt.Errorf("column %q has a null bitmap of %d bytes for %d rows", p.Fields[j], len(c.Nulls), n)
		}
	}
	for i, id := range p.IDs {
		if id == "" {
			return fmt.Errorf("row %d has an empty id", i)
		}
	}
	return nil
}

// Row returns row i as a Record (for tests and slow paths; bulk readers use
// the columns directly).
func (p *Page) Row(kinds []Kind, i int) Record {
	r := Record{ID: p.IDs[i], Values: make(map[string]Value, len(p.Fields))}
	if i < len(p.Versions) {
		r.Version = p.Versions[i]
	}
	for j, f := range p.Fields {
		r.Values[f] = p.Columns[j].Value(kinds[j], i)
	}
	return r
}

// PageBuilder assembles a page row by row for connectors whose source is
// row-oriented.
type PageBuilder struct {
	page  Page
	kinds []Kind
}

// NewPageBuilder starts a page for fields of the given types.
func NewPageBuilder(fields []string, types []FieldType) *PageBuilder {
	b := &PageBuilder{kinds: make([]Kind, len(types))}
	for i, t := range types {
		b.kinds[i] = t.Kind()
	}
	b.Reset(fields)
	return b
}

// Reset starts a new page with the same field kinds.
func (b *PageBuilder) Reset(fields []string) {
	b.page = Page{Fields: fields, Columns: make([]Column, len(fields))}
}

// Add appends a row; values are in field order.
func (b *PageBuilder) Add(id, version string, values ...Value) {
	b.page.IDs = append(b.page.IDs, id)
	b.page.Versions = append(b.page.Versions, version)
	for j := range b.page.Columns {
		v := Null()
		if j < len(values) {
			v = values[j]
		}
		b.page.Columns[j].Append(b.kinds[j], v)
	}
}

// Delete records a deleted id.
func (b *PageBuilder) Delete(id string) { b.page.Deletes = append(b.page.Deletes, id) }

// Len is the number of rows and deletes added so far.
func (b *PageBuilder) Len() int { return len(b.page.IDs) + len(b.page.Deletes) }

// Page returns the page built so far and starts a new one.
func (b *PageBuilder) Page() *Page {
	p := b.page
	b.Reset(p.Fields)
	return &p
}
