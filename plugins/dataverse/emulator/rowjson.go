package emulator

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ncruces/go-sqlite3"
)

// selection is the columns a response carries, in output order, and the
// SQL that reads them. Row JSON is written straight from the statement's
// columns to the response (no intermediate map): rows stream.
type selection struct {
	e       *Entity
	attrs   []*Attribute
	names   []string // $select as given, for @odata.context ("" = none)
	cols    []int    // statement column of each attribute
	typeCol []int    // statement column of a polymorphic lookup's target type (-1)
	sqlCols string   // "t.rowid, t.versionnumber, …" (NULL for the rowid of a clustered table)
}

// newSelection builds the selection of $select (empty: every attribute).
// Selected attributes come in the order given, the primary key last when
// not selected (as Dataverse answers).
func newSelection(e *Entity, sel string) (*selection, error) {
	s := &selection{e: e}
	seen := map[string]bool{}
	if strings.TrimSpace(sel) == "" {
		s.attrs = append(s.attrs, e.Attributes...)
	} else {
		for _, n := range strings.Split(sel, ",") {
			n = strings.TrimSpace(n)
			if n == "" {
				return nil, badRequest(codeQuery, "The $select option has an empty item.")
			}
			a := e.prop(n)
			if a == nil {
				if e.byNav[n] != nil {
					return nil, badRequest(codeQuery, fmt.Sprintf("The navigation property '%s' cannot be selected; select _%s_value or use $expand.", n, e.byNav[n].Name))
				}
				if la := e.attr(n); la != nil && la.Kind == KindLookup {
					return nil, badRequest(codeQuery, fmt.Sprintf("Could not find a property named '%s' on type 'Microsoft.Dynamics.CRM.%s'; select the lookup as _%s_value.", n, e.Name, n))
				}
				return nil, propertyError(e, n)
			}
			if seen[a.Name] {
				continue
			}
			seen[a.Name] = true
			s.attrs = append(s.attrs, a)
			s.names = append(s.names, n)
		}
		if !seen[e.PrimaryKey] {
			s.attrs = append(s.attrs, e.attr(e.PrimaryKey))
		}
	}
	// Column 0 is the rowid file columns are streamed by; a clustered
	// table has neither (see Entity.clustered), so it reads a constant.
	rowid := "NULL"
	if !e.clustered() {
		rowid = "t.rowid"
	}
	cols := []string{rowid, "t.versionnumber"}
	for _, a := range s.attrs {
		s.cols = append(s.cols, len(cols))
		if a.Kind == KindFile {
			// The length only: the bytes stream from a blob handle.
			cols = append(cols, "length(t."+quoteIdent(a.Column)+")")
		} else {
			cols = append(cols, "t."+quoteIdent(a.Column))
		}
		if a.TypeColumn != "" {
			s.typeCol = append(s.typeCol, len(cols))
			cols = append(cols, "t."+quoteIdent(a.TypeColumn))
		} else {
			s.typeCol = append(s.typeCol, -1)
		}
	}
	s.sqlCols = strings.Join(cols, ", ")
	return s, nil
}

// contextSuffix is "accounts(name,telephone1)" or "accounts".
func (s *selection) contextSuffix() string {
	if len(s.names) == 0 {
		return s.e.SetName
	}
	return s.e.SetName + "(" + strings.Join(s.names, ",") + ")"
}

// annotations says which instance annotations (Prefer:
// odata.include-annotations) to write.
type annotations struct {
	patterns []string
	raw      string
}

func (an annotations) want(term string) bool {
	for _, p := range an.patterns {
		switch {
		case p == "*":
			return true
		case strings.HasSuffix(p, ".*") && strings.HasPrefix(term, strings.TrimSuffix(p, "*")):
			return true
		case p == term:
			return true
		}
	}
	return false
}

// rowWriter writes rows of one selection.
type rowWriter struct {
	w   *bufio.Writer
	sel *selection
	an  annotations
	db  *sqlite3.Conn // for streaming file columns
}

// writeRow writes the current row of st as a JSON object; prefix is
// written right after the opening brace (for example an @odata.context).
func (rw *rowWriter) writeRow(st *sqlite3.Stmt, prefix string) error {
	w := rw.w
	w.WriteString(`{`)
	if prefix != "" {
		w.WriteString(prefix)
		w.WriteByte(',')
	}
	w.WriteString(`"@odata.etag":"W/\"`)
	w.WriteString(strconv.FormatInt(st.ColumnInt64(1), 10))
	w.WriteString(`\""`)
	rowid := st.ColumnInt64(0)
	for i, a := range rw.sel.attrs {
		col := rw.sel.cols[i]
		name := a.jsonName()
		null := st.ColumnType(col) == sqlite3.NULL
		if !null {
			if err := rw.annotate(st, i, a, col); err != nil {
				return err
			}
		}
		w.WriteString(`,"`)
		w.WriteString(name)
		w.WriteString(`":`)
		if null {
			w.WriteString("null")
			continue
		}
		if err := rw.value(st, a, col, rowid); err != nil {
			return err
		}
	}
	w.WriteByte('}')
	return nil
}

// annotate writes the instance annotations of a non-null value.
func (rw *rowWriter) annotate(st *sqlite3.Stmt, i int, a *Attribute, col int) error {
	if len(rw.an.patterns) == 0 {
		return nil
	}
	w := rw.w
	name := a.jsonName()
	note := func(term, value string) {
		w.WriteString(`,"` + name + "@" + term + `":`)
		w.Write(appendJSONString(nil, value))
	}
	switch a.Kind {
	case KindLookup:
		target := a.Targets[0]
		if tc := rw.sel.typeCol[i]; tc >= 0 && st.ColumnType(tc) != sqlite3.NULL {
			target = st.ColumnText(tc)
		}
		nav := ""
		for j, t := range a.Targets {
			if t == target {
				nav = a.Navs[j]
			}
		}
		if rw.an.want("Microsoft.Dynamics.CRM.associatednavigationproperty") && nav != "" {
			note("Microsoft.Dynamics.CRM.associatednavigationproperty", nav)
		}
		if rw.an.want("Microsoft.Dynamics.CRM.lookuplogicalname") {
			note("Microsoft.Dynamics.CRM.lookuplogicalname", target)
		}
	case KindChoice:
		if rw.an.want("OData.Community.Display.V1.FormattedValue") {
			v := int(st.ColumnInt64(col))
			label := strconv.Itoa(v)
			for _, c := range a.Choices {
				if c.Value == v {
					label = c.Label
				}
			}
			note("OData.Community.Display.V1.FormattedValue", label)
		}
	case KindBool:
		if rw.an.want("OData.Community.Display.V1.FormattedValue") {
			label := "No"
			if st.ColumnInt64(col) != 0 {
				label = "Yes"
			}
			note("OData.Community.Display.V1.FormattedValue", label)
		}
	}
	return nil
}

func (rw *rowWriter) value(st *sqlite3.Stmt, a *Attribute, col int, rowid int64) error {
	w := rw.w
	switch a.Kind {
	case KindInt, KindChoice, KindBigInt:
		w.WriteString(strconv.FormatInt(st.ColumnInt64(col), 10))
	case KindMoney:
		w.WriteString(formatMoney(st.ColumnInt64(col)))
	case KindDouble:
		w.WriteString(strconv.FormatFloat(st.ColumnFloat(col), 'g', -1, 64))
	case KindBool:
		if st.ColumnInt64(col) != 0 {
			w.WriteString("true")
		} else {
			w.WriteString("false")
		}
	case KindDateTime:
		w.WriteByte('"')
		w.WriteString(formatDateTime(st.ColumnInt64(col)))
		w.WriteByte('"')
	case KindFile:
		w.WriteByte('"')
		if err := streamBase64(w, rw.db, rw.sel.e.Name, a.Column, rowid, 0, -1); err != nil {
			return err
		}
		w.WriteByte('"')
	default:
		w.Write(appendJSONString(w.AvailableBuffer(), st.ColumnText(col)))
	}
	return nil
}

// streamBase64 writes bytes [off, off+n) (n < 0: to the end) of a BLOB
// column as base64, reading the blob incrementally: a large document is
// never held whole in memory.
func streamBase64(w io.Writer, db *sqlite3.Conn, table, column string, rowid, off, n int64) error {
	b, err := db.OpenBlob("main", table, column, rowid, false)
	if err != nil {
		return err
	}
	defer b.Close()
	size := b.Size()
	if off > size {
		off = size
	}
	if n < 0 || off+n > size {
		n = size - off
	}
	if _, err := b.Seek(off, io.SeekStart); err != nil {
		return err
	}
	enc := base64.NewEncoder(base64.StdEncoding, w)
	if _, err := io.CopyN(enc, b, n); err != nil {
		return err
	}
	return enc.Close()
}

// formatMoney writes a money value stored in ten-thousandths as a JSON
// number without trailing zeros.
func formatMoney(v int64) string {
	neg := v < 0
	u := uint64(v)
	if neg {
		u = uint64(-v)
	}
	s := strconv.FormatUint(u/10000, 10)
	if f := u % 10000; f != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%04d", f), "0")
	}
	if neg {
		s = "-" + s
	}
	return s
}

func formatDateTime(micros int64) string {
	return time.UnixMicro(micros).UTC().Format("2006-01-02T15:04:05Z")
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD; <, > and & are not escaped (Dataverse does not).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
