package sdk

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Kind is how a value is carried: one of five storage kinds, or null.
type Kind uint8

const (
	KindNull Kind = iota
	KindString
	KindInt
	KindFloat
	KindBool
	KindBytes
)

var kindNames = [...]string{"null", "string", "int", "float", "bool", "bytes"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Value is one typed value. The zero Value is null. Values are small and
// passed by value; they are used where rows are few (filters, pushes,
// conflicts). Bulk data travels in columnar Pages.
type Value struct {
	kind Kind
	s    string
	i    int64 // also float64 bits and bool
	b    []byte
}

// Null returns the null value.
func Null() Value { return Value{} }

// String returns a string value (also decimal, guid and lookup fields).
func String(s string) Value { return Value{kind: KindString, s: s} }

// Int returns an integer value (also choice and datetime fields).
func Int(i int64) Value { return Value{kind: KindInt, i: i} }

// Float returns a float value.
func Float(f float64) Value { return Value{kind: KindFloat, i: int64(math.Float64bits(f))} }

// Bool returns a boolean value.
func Bool(b bool) Value {
	v := Value{kind: KindBool}
	if b {
		v.i = 1
	}
	return v
}

// Bytes returns a binary value. The slice is not copied.
func Bytes(b []byte) Value { return Value{kind: KindBytes, b: b} }

// Time returns a datetime value: Unix microseconds, UTC.
func Time(t time.Time) Value { return Int(t.UnixMicro()) }

func (v Value) Kind() Kind      { return v.kind }
func (v Value) IsNull() bool    { return v.kind == KindNull }
func (v Value) Str() string     { return v.s }
func (v Value) Int() int64      { return v.i }
func (v Value) Float() float64  { return math.Float64frombits(uint64(v.i)) }
func (v Value) Bool() bool      { return v.i != 0 }
func (v Value) Bytes() []byte   { return v.b }
func (v Value) Time() time.Time { return time.UnixMicro(v.i).UTC() }

// Equal reports whether two values have the same kind and content.
func (v Value) Equal(o Value) bool {
	if v.kind != o.kind {
		return false
	}
	switch v.kind {
	case KindString:
		return v.s == o.s
	case KindBytes:
		return bytes.Equal(v.b, o.b)
	case KindNull:
		return true
	}
	return v.i == o.i
}

// GoString and String make test failures readable.
func (v Value) String() string {
	switch v.kind {
	case KindNull:
		return "null"
	case KindString:
		return strconv.Quote(v.s)
	case KindInt:
		return strconv.FormatInt(v.i, 10)
	case KindFloat:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case KindBool:
		return strconv.FormatBool(v.Bool())
	case KindBytes:
		return fmt.Sprintf("bytes[%d]", len(v.b))
	}
	return fmt.Sprintf("Value(kind %d)", v.kind)
}

// CheckType reports whether v may be stored in a field of type t (null is
// always accepted here; required-ness is the backend's to check).
func (v Value) CheckType(t FieldType) error {
	if v.kind == KindNull || v.kind == t.Kind() {
		return nil
	}
	return fmt.Errorf("a %s value cannot be stored in a %s field", v.kind, t)
}
