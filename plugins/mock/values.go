package mock

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fieldsync/fieldsync/sdk"
	"github.com/ncruces/go-sqlite3"
)

// isDecimal reports whether s is a plain decimal number as the sdk carries
// decimals: optional minus, digits, optional fraction ("12.50", "-3").
func isDecimal(s string) bool {
	if strings.HasPrefix(s, "-") {
		s = s[1:]
	}
	if s == "" || len(s) > 64 {
		return false
	}
	digits, dot := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot && digits > 0 && i < len(s)-1:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}

// isGUID reports whether s is a GUID in canonical 8-4-4-4-12 form (any
// case).
func isGUID(s string) bool { return sdk.IsGUID(s) }

// pushArg checks a pushed value against its field and returns what is bound
// for it. The error says what is wrong in terms a person fixes.
func pushArg(f *sdk.Field, v sdk.Value) (any, error) {
	if v.IsNull() {
		if f.Required {
			return nil, fmt.Errorf("field %s is required", f.Name)
		}
		return nil, nil
	}
	if err := v.CheckType(f.Type); err != nil {
		return nil, fmt.Errorf("field %s: %w", f.Name, err)
	}
	switch f.Type {
	case sdk.TypeString:
		s := v.Str()
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("field %s: text is not valid UTF-8", f.Name)
		}
		if f.MaxLength > 0 && utf8.RuneCountInString(s) > f.MaxLength {
			return nil, fmt.Errorf("field %s: %d characters, at most %d allowed", f.Name, utf8.RuneCountInString(s), f.MaxLength)
		}
		return s, nil
	case sdk.TypeDecimal:
		if !isDecimal(v.Str()) {
			return nil, fmt.Errorf("field %s: %q is not a decimal number", f.Name, v.Str())
		}
		return v.Str(), nil
	case sdk.TypeGUID, sdk.TypeLookup:
		if !isGUID(v.Str()) {
			return nil, fmt.Errorf("field %s: %q is not a GUID", f.Name, v.Str())
		}
		return strings.ToLower(v.Str()), nil
	case sdk.TypeFloat:
		if x := v.Float(); math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("field %s: %v cannot be stored", f.Name, x)
		}
		return v.Float(), nil
	case sdk.TypeBool:
		return v.Bool(), nil
	case sdk.TypeChoice:
		if len(f.Choices) > 0 && !hasChoice(f.Choices, v.Int()) {
			return nil, fmt.Errorf("field %s: %d is not one of its choices", f.Name, v.Int())
		}
		return v.Int(), nil
	case sdk.TypeInt, sdk.TypeDateTime:
		return v.Int(), nil
	case sdk.TypeBinary:
		return v.Bytes(), nil
	}
	return nil, fmt.Errorf("field %s has type %s, which cannot be written", f.Name, f.Type)
}

func hasChoice(cs []sdk.Choice, v int64) bool {
	for _, c := range cs {
		if c.Value == v {
			return true
		}
	}
	return false
}

// columnValue reads result column col as a value of type t. It is the slow
// path (conflicts, tests); Fetch reads columns straight into pages.
func columnValue(s *sqlite3.Stmt, col int, t sdk.FieldType) sdk.Value {
	ct := s.ColumnType(col)
	if ct == sqlite3.NULL {
		return sdk.Null()
	}
	switch t.Kind() {
	case sdk.KindString:
		return sdk.String(s.ColumnText(col))
	case sdk.KindInt:
		if t == sdk.TypeDateTime && ct == sqlite3.TEXT {
			us, ok := parseTimeText(s.ColumnText(col))
			if !ok {
				return sdk.Null()
			}
			return sdk.Int(us)
		}
		return sdk.Int(s.ColumnInt64(col))
	case sdk.KindFloat:
		return sdk.Float(s.ColumnFloat(col))
	case sdk.KindBool:
		return sdk.Bool(s.ColumnInt64(col) != 0)
	case sdk.KindBytes:
		return sdk.Bytes(s.ColumnBlob(col, nil))
	}
	return sdk.Null()
}

// parseTimeText reads a datetime an admin wrote as text ('2024-05-01',
// '2024-05-01 10:00:00', RFC 3339) as Unix microseconds.
func parseTimeText(s string) (int64, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixMicro(), true
		}
	}
	return 0, false
}

// readRecord reads one row by id with all its fields. It returns nil when
// there is no such row.
func readRecord(c *conn, e *entity, id string) (*sdk.Record, int64, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT rowid, _version")
	for _, f := range e.Fields {
		b.WriteString(", ")
		b.WriteString(quote(f.Name))
	}
	fmt.Fprintf(&b, " FROM %s WHERE %s = ?", e.table, e.pk)
	s, err := c.prep(b.String())
	if err != nil {
		return nil, 0, err
	}
	defer s.Reset()
	if err := s.BindText(1, id); err != nil {
		return nil, 0, err
	}
	if !s.Step() {
		return nil, 0, s.Err()
	}
	rowid := s.ColumnInt64(0)
	r := &sdk.Record{ID: id, Version: strconv.FormatInt(s.ColumnInt64(1), 10), Values: make(map[string]sdk.Value, len(e.Fields))}
	for i, f := range e.Fields {
		r.Values[f.Name] = columnValue(s, 2+i, f.Type)
	}
	return r, rowid, nil
}
