package store

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/fieldsync/fieldsync/sdk"
)

// timeLayout is how datetime fields are stored: ISO 8601 in UTC with
// microseconds, so plain SQL reads them and sorts them as text, and
// SQLite's date functions accept them.
const timeLayout = "2006-01-02T15:04:05.000000Z"

func formatTime(micros int64) string { return time.UnixMicro(micros).UTC().Format(timeLayout) }

// timeLayouts are the text forms SQLite's date functions accept (see
// https://sqlite.org/lang_datefunc.html, "Time Values"): a date, optionally
// a time of HH:MM or HH:MM:SS[.fff] after a 'T' or a space, optionally a
// zone of Z or ±HH:MM. Without a zone a time is UTC. Go's parser takes a
// fraction of a second after the seconds whether the layout shows one or not.
var timeLayouts = []string{
	time.RFC3339Nano, // our own layout first: what the store writes
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04Z07:00",
	"2006-01-02 15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
}

// parseTime reads a datetime a host app wrote, in any of timeLayouts.
func parseTime(s string) (int64, error) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixMicro(), nil
		}
	}
	return 0, fmt.Errorf("%q is not a date and time (want ISO 8601, e.g. 2026-11-26T10:00:00Z)", s)
}

// bindValue binds v, a value of a field of type t, to parameter n.
func bindValue(st *sqlite3.Stmt, n int, t sdk.FieldType, v sdk.Value) error {
	switch v.Kind() {
	case sdk.KindNull:
		return st.BindNull(n)
	case sdk.KindString:
		return st.BindText(n, v.Str())
	case sdk.KindInt:
		if t == sdk.TypeDateTime {
			return st.BindText(n, formatTime(v.Int()))
		}
		return st.BindInt64(n, v.Int())
	case sdk.KindFloat:
		return st.BindFloat(n, v.Float())
	case sdk.KindBool:
		return st.BindBool(n, v.Bool())
	case sdk.KindBytes:
		return bindBytes(st, n, v.Bytes())
	}
	return st.BindNull(n)
}

// bindBytes binds a non-null binary value. The driver binds a nil slice as
// NULL, but a nil slice here is an empty value (decoders often give nil for
// empty bytes); only the page's null bitmap or a null Value means NULL.
func bindBytes(st *sqlite3.Stmt, n int, b []byte) error {
	if b == nil {
		b = []byte{}
	}
	return st.BindBlob(n, b)
}

// bindColumn binds row i of column c (of field type t) to parameter n,
// straight from the page's slices.
func bindColumn(st *sqlite3.Stmt, n int, t sdk.FieldType, k sdk.Kind, c *sdk.Column, i int) error {
	if c.IsNull(i) {
		return st.BindNull(n)
	}
	switch k {
	case sdk.KindString:
		return st.BindText(n, c.Strings[i])
	case sdk.KindInt:
		if t == sdk.TypeDateTime {
			return st.BindText(n, formatTime(c.Ints[i]))
		}
		return st.BindInt64(n, c.Ints[i])
	case sdk.KindFloat:
		return st.BindFloat(n, c.Floats[i])
	case sdk.KindBool:
		return st.BindBool(n, c.Bools[i])
	case sdk.KindBytes:
		return bindBytes(st, n, c.Binary[i])
	}
	return st.BindNull(n)
}

// columnValue reads column col as a value of field type t. Host apps write
// these tables with plain SQL, so a value of the wrong storage class is
// converted when it can be and refused with an error when it cannot.
func columnValue(st *sqlite3.Stmt, col int, f sdk.Field) (sdk.Value, error) {
	dt := st.ColumnType(col)
	if dt == sqlite3.NULL {
		return sdk.Null(), nil
	}
	switch f.Type.Kind() {
	case sdk.KindString:
		return sdk.String(st.ColumnText(col)), nil
	case sdk.KindInt:
		if f.Type == sdk.TypeDateTime {
			if dt == sqlite3.INTEGER {
				return sdk.Int(st.ColumnInt64(col)), nil
			}
			m, err := parseTime(st.ColumnText(col))
			if err != nil {
				return sdk.Null(), fmt.Errorf("field %s: %w", f.Name, err)
			}
			return sdk.Int(m), nil
		}
		if dt == sqlite3.INTEGER {
			return sdk.Int(st.ColumnInt64(col)), nil
		}
		i, err := strconv.ParseInt(strings.TrimSpace(st.ColumnText(col)), 10, 64)
		if err != nil {
			return sdk.Null(), fmt.Errorf("field %s: %q is not an integer", f.Name, st.ColumnText(col))
		}
		return sdk.Int(i), nil
	case sdk.KindFloat:
		if dt == sqlite3.TEXT {
			x, err := strconv.ParseFloat(strings.TrimSpace(st.ColumnText(col)), 64)
			if err != nil {
				return sdk.Null(), fmt.Errorf("field %s: %q is not a number", f.Name, st.ColumnText(col))
			}
			return sdk.Float(x), nil
		}
		return sdk.Float(st.ColumnFloat(col)), nil
	case sdk.KindBool:
		return sdk.Bool(st.ColumnInt64(col) != 0), nil
	case sdk.KindBytes:
		return sdk.Bytes(st.ColumnBlob(col, nil)), nil
	}
	return sdk.Null(), fmt.Errorf("field %s: unknown type %s", f.Name, f.Type)
}

// valuesToJSON encodes a record's values as a JSON object: datetimes as ISO
// text, binary as base64 (the conflict table) or hex (the outbox's base
// column, which the capture triggers fill with json_object, hex for blobs).
func valuesToJSON(ent *sdk.Entity, vals map[string]sdk.Value, hexBinary bool) (string, error) {
	if vals == nil {
		return "", nil
	}
	out := make(map[string]any, len(vals))
	for name, v := range vals {
		f := ent.Field(name)
		switch {
		case v.IsNull():
			out[name] = nil
		case v.Kind() == sdk.KindBytes && hexBinary:
			out[name] = hex.EncodeToString(v.Bytes())
		case v.Kind() == sdk.KindBytes:
			out[name] = base64.StdEncoding.EncodeToString(v.Bytes())
		case f != nil && f.Type == sdk.TypeDateTime:
			out[name] = formatTime(v.Int())
		case v.Kind() == sdk.KindString:
			out[name] = v.Str()
		case v.Kind() == sdk.KindInt:
			out[name] = v.Int()
		case v.Kind() == sdk.KindFloat:
			if math.IsNaN(v.Float()) || math.IsInf(v.Float(), 0) {
				out[name] = nil
			} else {
				out[name] = v.Float()
			}
		case v.Kind() == sdk.KindBool:
			out[name] = v.Bool()
		}
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// valuesFromJSON decodes what valuesToJSON (or a trigger's json_object of a
// row, where binary is hex) wrote, by the entity's field types. Fields the
// entity no longer has are dropped.
func valuesFromJSON(ent *sdk.Entity, s string, hexBinary bool) (map[string]sdk.Value, error) {
	if s == "" {
		return nil, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf("stored record is not JSON: %w", err)
	}
	out := make(map[string]sdk.Value, len(raw))
	for name, r := range raw {
		f := ent.Field(name)
		if f == nil {
			continue
		}
		v, err := jsonValue(*f, r, hexBinary)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}

func jsonValue(f sdk.Field, r json.RawMessage, hexBinary bool) (sdk.Value, error) {
	if string(r) == "null" {
		return sdk.Null(), nil
	}
	switch f.Type.Kind() {
	case sdk.KindString:
		var s string
		if err := json.Unmarshal(r, &s); err != nil {
			// A number stored in a text column comes back as a JSON number.
			return sdk.String(string(r)), nil
		}
		return sdk.String(s), nil
	case sdk.KindInt:
		if f.Type == sdk.TypeDateTime {
			var s string
			if err := json.Unmarshal(r, &s); err == nil {
				m, err := parseTime(s)
				return sdk.Int(m), err
			}
		}
		var n json.Number
		if err := json.Unmarshal(r, &n); err != nil {
			return sdk.Null(), err
		}
		i, err := n.Int64()
		return sdk.Int(i), err
	case sdk.KindFloat:
		var x float64
		err := json.Unmarshal(r, &x)
		return sdk.Float(x), err
	case sdk.KindBool:
		var b bool
		if err := json.Unmarshal(r, &b); err != nil {
			var n int64
			if err := json.Unmarshal(r, &n); err != nil {
				return sdk.Null(), err
			}
			b = n != 0
		}
		return sdk.Bool(b), nil
	case sdk.KindBytes:
		var s string
		if err := json.Unmarshal(r, &s); err != nil {
			return sdk.Null(), err
		}
		var b []byte
		var err error
		if hexBinary {
			b, err = hex.DecodeString(s)
		} else {
			b, err = base64.StdEncoding.DecodeString(s)
		}
		return sdk.Bytes(b), err
	}
	return sdk.Null(), fmt.Errorf("unknown type %s", f.Type)
}
