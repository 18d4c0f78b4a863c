package contracttest

import (
	"fmt"
	"maps"
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

// GUID spaces keep generated GUIDs of different purposes apart.
const (
	guidValue = 1 // values of TypeGUID fields
	guidID    = 2 // client-chosen row ids
)

// timeBase is the first generated datetime. Generated datetimes fall on whole
// seconds because some backends keep no finer precision.
var timeBase = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// values returns the values of the suite's i-th row: Config.NewValues(i), or
// one generated value per writable field.
func (f *fixture) values(t *testing.T, i int) map[string]sdk.Value {
	t.Helper()
	if f.cfg.NewValues != nil {
		v := f.cfg.NewValues(i)
		if v == nil {
			t.Fatalf("Config.NewValues(%d) returned nil", i)
		}
		return maps.Clone(v) // the suite may change its copy
	}
	vals := map[string]sdk.Value{}
	for _, fd := range f.ent.Fields {
		if fd.ReadOnly {
			continue
		}
		v, ok := f.generate(fd, i)
		if !ok {
			if fd.Required {
				t.Fatalf("cannot generate a value for required field %s.%s (%s); set Config.NewValues", f.ent.Name, fd.Name, fd.Type)
			}
			continue
		}
		vals[fd.Name] = v
	}
	return vals
}

// generate makes the i-th value of a field from its type alone; it reports
// false where the type gives too little to go on (lookups need a real target
// row, choices their options, short strings room for a unique value).
func (s *suite) generate(fd sdk.Field, i int) (sdk.Value, bool) {
	text := fmt.Sprintf("ct%s-%d", s.marker, i)
	switch fd.Type {
	case sdk.TypeString:
		if fd.MaxLength > 0 && len(text) > fd.MaxLength {
			return sdk.Null(), false
		}
		return sdk.String(text), true
	case sdk.TypeDecimal:
		return sdk.String(fmt.Sprintf("%d.25", i)), true
	case sdk.TypeInt:
		return sdk.Int(int64(i)), true
	case sdk.TypeFloat:
		return sdk.Float(float64(i) + 0.5), true
	case sdk.TypeBool:
		return sdk.Bool(i%2 == 0), true
	case sdk.TypeDateTime:
		return sdk.Time(timeBase.Add(time.Duration(i) * time.Hour)), true
	case sdk.TypeGUID:
		return sdk.String(s.guid(guidValue, i)), true
	case sdk.TypeChoice:
		if len(fd.Choices) == 0 {
			return sdk.Null(), false
		}
		return sdk.Int(fd.Choices[i%len(fd.Choices)].Value), true
	case sdk.TypeBinary:
		return sdk.Bytes([]byte(text)), true
	}
	return sdk.Null(), false
}

// guid returns a lower-case canonical GUID unique to this run, space and i.
func (s *suite) guid(space, i int) string {
	return fmt.Sprintf("%s-%04x-4000-8000-%012x", s.marker, space, i)
}

// sameValue compares a value the suite wrote with the one a fetch returned.
// Decimals compare by number, since a server may keep its own scale ("1.25"
// and "1.2500" are the same amount); floats within a relative 1e-9, since a
// server may store them through text; everything else exactly.
func sameValue(t sdk.FieldType, want, got sdk.Value) bool {
	if want.IsNull() || got.IsNull() {
		return want.IsNull() && got.IsNull()
	}
	switch t {
	case sdk.TypeDecimal:
		a, okA := new(big.Rat).SetString(want.Str())
		b, okB := new(big.Rat).SetString(got.Str())
		if okA && okB && got.Kind() == sdk.KindString {
			return a.Cmp(b) == 0
		}
	case sdk.TypeFloat:
		if got.Kind() == sdk.KindFloat {
			w, g := want.Float(), got.Float()
			return w == g || math.Abs(w-g) <= 1e-9*math.Max(math.Abs(w), math.Abs(g))
		}
	}
	return want.Equal(got)
}
