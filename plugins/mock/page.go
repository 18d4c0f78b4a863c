package mock

import (
	"strconv"

	"github.com/fieldsync/fieldsync/sdk"
	"github.com/ncruces/go-sqlite3"
)

// pageReader builds columnar pages straight from a statement's result
// columns: no per-row maps or Values. Text (ids, versions, string columns)
// is appended to one byte arena per page and turned into a single string at
// the end, so a page of a thousand ten-field rows costs a handful of
// allocations rather than thousands.
type pageReader struct {
	fields []string
	types  []sdk.FieldType
	kinds  []sdk.Kind
	base   int // result column of the first selected field

	page    *sdk.Page
	n       int
	arena   []byte
	idSpan  []uint32   // start, end per row
	verSpan []uint32   // start, end per row
	strSpan [][]uint32 // per string column: start, end per row
}

func newPageReader(e *entity, sel []int, base int) *pageReader {
	r := &pageReader{
		fields:  make([]string, len(sel)),
		types:   make([]sdk.FieldType, len(sel)),
		kinds:   make([]sdk.Kind, len(sel)),
		base:    base,
		strSpan: make([][]uint32, len(sel)),
	}
	for j, i := range sel {
		r.fields[j] = e.Fields[i].Name
		r.types[j] = e.Fields[i].Type
		r.kinds[j] = e.kinds[i]
	}
	return r
}

// start begins a page expected to hold about rows rows.
func (r *pageReader) start(rows int) {
	fields := append([]string(nil), r.fields...) // the page is the callee's to keep
	p := &sdk.Page{Fields: fields, Columns: make([]sdk.Column, len(fields))}
	for j, k := range r.kinds {
		c := &p.Columns[j]
		switch k {
		case sdk.KindInt:
			c.Ints = make([]int64, 0, rows)
		case sdk.KindFloat:
			c.Floats = make([]float64, 0, rows)
		case sdk.KindBool:
			c.Bools = make([]bool, 0, rows)
		case sdk.KindBytes:
			c.Binary = make([][]byte, 0, rows)
		}
		r.strSpan[j] = r.strSpan[j][:0]
	}
	r.page, r.n = p, 0
	r.arena = r.arena[:0]
	r.idSpan, r.verSpan = r.idSpan[:0], r.verSpan[:0]
}

func (r *pageReader) text(spans []uint32, b []byte) []uint32 {
	start := uint32(len(r.arena))
	r.arena = append(r.arena, b...)
	return append(spans, start, uint32(len(r.arena)))
}

// add appends the statement's current row: id in column 1, version in
// column 2, the selected fields from r.base on.
func (r *pageReader) add(s *sqlite3.Stmt) {
	row := r.n
	r.n++
	r.idSpan = r.text(r.idSpan, s.ColumnRawText(1))
	start := uint32(len(r.arena))
	r.arena = strconv.AppendInt(r.arena, s.ColumnInt64(2), 10)
	r.verSpan = append(r.verSpan, start, uint32(len(r.arena)))

	for j, k := range r.kinds {
		col := r.base + j
		c := &r.page.Columns[j]
		switch k {
		case sdk.KindString:
			b := s.ColumnRawText(col)
			if b == nil {
				pos := uint32(len(r.arena))
				r.strSpan[j] = append(r.strSpan[j], pos, pos)
				c.SetNull(row)
				continue
			}
			r.strSpan[j] = r.text(r.strSpan[j], b)
		case sdk.KindInt:
			switch s.ColumnType(col) {
			case sqlite3.INTEGER:
				c.Ints = append(c.Ints, s.ColumnInt64(col))
			case sqlite3.NULL:
				c.Ints = append(c.Ints, 0)
				c.SetNull(row)
			default: // an admin's text or float; read it as well as it goes
				v := columnValue(s, col, r.types[j])
				c.Append(sdk.KindInt, v)
			}
		case sdk.KindFloat:
			if s.ColumnType(col) == sqlite3.NULL {
				c.Floats = append(c.Floats, 0)
				c.SetNull(row)
				continue
			}
			c.Floats = append(c.Floats, s.ColumnFloat(col))
		case sdk.KindBool:
			if s.ColumnType(col) == sqlite3.NULL {
				c.Bools = append(c.Bools, false)
				c.SetNull(row)
				continue
			}
			c.Bools = append(c.Bools, s.ColumnInt64(col) != 0)
		case sdk.KindBytes:
			if s.ColumnType(col) == sqlite3.NULL {
				c.Binary = append(c.Binary, nil)
				c.SetNull(row)
				continue
			}
			c.Binary = append(c.Binary, s.ColumnBlob(col, []byte{}))
		}
	}
}

// finish returns the page, with its text cut out of one string.
func (r *pageReader) finish() *sdk.Page {
	p := r.page
	all := string(r.arena)
	cut := func(spans []uint32) []string {
		out := make([]string, len(spans)/2)
		for i := range out {
			out[i] = all[spans[2*i]:spans[2*i+1]]
		}
		return out
	}
	if r.n > 0 {
		p.IDs = cut(r.idSpan)
		p.Versions = cut(r.verSpan)
	}
	for j, k := range r.kinds {
		if k == sdk.KindString {
			if r.n > 0 {
				p.Columns[j].Strings = cut(r.strSpan[j])
			}
		}
	}
	r.page = nil
	// Do not let one huge page pin a huge arena for the rest of the fetch.
	if cap(r.arena) > 8<<20 {
		r.arena = nil
	}
	return p
}
