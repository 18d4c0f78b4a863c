package sdk

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestValueKindsAndEquality(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 123000, time.UTC)
	tests := []struct {
		name string
		v    Value
		kind Kind
		str  string
	}{
		{"null", Null(), KindNull, "null"},
		{"string", String("a"), KindString, `"a"`},
		{"int", Int(-4), KindInt, "-4"},
		{"float", Float(1.5), KindFloat, "1.5"},
		{"bool", Bool(true), KindBool, "true"},
		{"bytes", Bytes([]byte{1, 2}), KindBytes, "bytes[2]"},
		{"time", Time(now), KindInt, fmt.Sprint(now.UnixMicro())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.v.Kind() != tt.kind || tt.v.String() != tt.str {
				t.Fatalf("kind %s string %s, want %s %s", tt.v.Kind(), tt.v, tt.kind, tt.str)
			}
			if !tt.v.Equal(tt.v) {
				t.Fatal("value not equal to itself")
			}
		})
	}
	if Time(now).Time() != now {
		t.Fatalf("time round trip: %v", Time(now).Time())
	}
	if Int(1).Equal(Float(1)) || String("1").Equal(Int(1)) || Bytes([]byte{1}).Equal(Bytes([]byte{2})) {
		t.Fatal("values of different kind or content compare equal")
	}
	if err := String("x").CheckType(TypeInt); err == nil {
		t.Fatal("a string was accepted for an int field")
	}
	if err := Null().CheckType(TypeInt); err != nil {
		t.Fatal(err)
	}
}

func TestPageBuilderAndValidate(t *testing.T) {
	types := []FieldType{TypeString, TypeInt, TypeFloat, TypeBool, TypeBinary, TypeDateTime}
	kinds := make([]Kind, len(types))
	for i, ty := range types {
		kinds[i] = ty.Kind()
	}
	b := NewPageBuilder([]string{"s", "i", "f", "b", "x", "d"}, types)
	for r := 0; r < 20; r++ {
		vals := []Value{String(fmt.Sprint(r)), Int(int64(r)), Float(float64(r)), Bool(r%2 == 0), Bytes([]byte{byte(r)}), Int(int64(r) * 1000)}
		vals[r%6] = Null()
		b.Add(fmt.Sprintf("id%d", r), fmt.Sprint(r), vals...)
	}
	b.Delete("gone")
	p := b.Page()
	if err := p.Validate(kinds); err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(nil); err != nil {
		t.Fatalf("shape check: %v", err)
	}
	for r := 0; r < 20; r++ {
		row := p.Row(kinds, r)
		if !row.Values[[]string{"s", "i", "f", "b", "x", "d"}[r%6]].IsNull() {
			t.Fatalf("row %d: null lost", r)
		}
		if r%6 != 1 && row.Values["i"].Int() != int64(r) {
			t.Fatalf("row %d: i = %v", r, row.Values["i"])
		}
	}
	if b.Len() != 0 {
		t.Fatal("builder not reset after Page")
	}

	bad := []struct {
		name  string
		mod   func(p *Page)
		kinds []Kind
		want  string
	}{
		{"short column", func(p *Page) { p.Columns[0].Strings = p.Columns[0].Strings[:3] }, kinds, "values for"},
		{"wrong kind", func(p *Page) { p.Columns[1].Strings = make([]string, 20) }, kinds, "values for"},
		{"mixed kinds", func(p *Page) { p.Columns[1].Strings = make([]string, 20) }, nil, "mixes"},
		{"versions", func(p *Page) { p.Versions = p.Versions[:2] }, kinds, "versions"},
		{"fields vs columns", func(p *Page) { p.Fields = p.Fields[:2] }, nil, "columns"},
		{"long bitmap", func(p *Page) { p.Columns[0].Nulls = make([]byte, 9) }, kinds, "bitmap"},
		{"token before last", func(p *Page) { p.Token = []byte("t") }, kinds, "token"},
		{"empty id", func(p *Page) { p.IDs[3] = "" }, kinds, "empty id"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			b := NewPageBuilder([]string{"s", "i", "f", "b", "x", "d"}, types)
			for r := 0; r < 20; r++ {
				b.Add(fmt.Sprint(r), "1", String("a"), Int(1), Float(1), Bool(true), Bytes(nil), Int(2))
			}
			p := b.Page()
			tt.mod(p)
			err := p.Validate(tt.kinds)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

var testEntity = &Entity{
	Name: "account", PrimaryKey: "accountid",
	Fields: []Field{{Name: "name", Type: TypeString}, {Name: "n", Type: TypeInt}, {Name: "parent", Type: TypeLookup, Target: "account"}},
}

func TestFilterValidate(t *testing.T) {
	deep := Cmp("n", OpEq, Int(1))
	for i := 0; i < MaxFilterDepth+1; i++ {
		deep = Not(deep)
	}
	tests := []struct {
		name string
		f    *Filter
		want string // "" means valid
	}{
		{"nil", nil, ""},
		{"eq", Cmp("name", OpEq, String("a")), ""},
		{"key", Cmp("accountid", OpEq, String("x")), ""},
		{"group", And(Cmp("n", OpGt, Int(1)), Or(Cmp("name", OpLike, String("a%")), Cmp("parent", OpIsNull))), ""},
		{"in", Cmp("n", OpIn, Int(1), Int(2)), ""},
		{"unknown field", Cmp("nope", OpEq, Int(1)), "no field"},
		{"unknown op", Cmp("n", "approx", Int(1)), "unknown operator"},
		{"wrong type", Cmp("n", OpEq, String("1")), "cannot be stored"},
		{"two values for eq", Cmp("n", OpEq, Int(1), Int(2)), "takes 1"},
		{"in without values", Cmp("n", OpIn), "at least one"},
		{"null with a value", Cmp("n", OpIsNull, Int(1)), "takes 0"},
		{"compare with null", Cmp("n", OpEq, Null()), "use null"},
		{"empty and", And(), "no conditions"},
		{"not of two", &Filter{Op: OpNot, Children: []*Filter{Cmp("n", OpIsNull), Cmp("n", OpIsNull)}}, "one condition"},
		{"nil child", And(nil), "empty condition"},
		{"like on int", Cmp("n", OpLike, Int(1)), "needs a text value"},
		{"too deep", deep, "deeper"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.f.Validate(testEntity)
			if tt.want == "" && err != nil {
				t.Fatal(err)
			}
			if tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestSchemaValidate(t *testing.T) {
	good := func() *Schema {
		return &Schema{Entities: []Entity{
			{Name: "account", PrimaryKey: "accountid", Fields: []Field{{Name: "name", Type: TypeString}}},
			{Name: "contact", PrimaryKey: "contactid",
				Fields:    []Field{{Name: "parent", Type: TypeLookup, Target: "account"}},
				Relations: []Relationship{{Name: "r", Field: "parent", Parent: "account"}}},
		}}
	}
	if err := good().Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		mod  func(s *Schema)
		want string
	}{
		{"no name", func(s *Schema) { s.Entities[0].Name = "" }, "no name"},
		{"duplicate entity", func(s *Schema) { s.Entities[1].Name = "account" }, "twice"},
		{"no key", func(s *Schema) { s.Entities[0].PrimaryKey = "" }, "primary key"},
		{"field repeats key", func(s *Schema) { s.Entities[0].Fields[0].Name = "accountid" }, "twice"},
		{"unknown type", func(s *Schema) { s.Entities[0].Fields[0].Type = 99 }, "unknown type"},
		{"lookup target", func(s *Schema) { s.Entities[1].Fields[0].Target = "nope" }, "unknown entity"},
		{"relationship parent", func(s *Schema) { s.Entities[1].Relations[0].Parent = "nope" }, "unknown parent"},
		{"relationship field", func(s *Schema) { s.Entities[1].Relations[0].Field = "nope" }, "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good()
			tt.mod(s)
			if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	for _, ty := range []FieldType{TypeString, TypeInt, TypeDecimal, TypeFloat, TypeBool, TypeDateTime, TypeGUID, TypeLookup, TypeChoice, TypeBinary} {
		if got, err := ParseFieldType(ty.String()); err != nil || got != ty {
			t.Fatalf("ParseFieldType(%s) = %v, %v", ty, got, err)
		}
	}
	if _, err := ParseFieldType("money"); err == nil {
		t.Fatal("unknown type name accepted")
	}
}

func TestErrors(t *testing.T) {
	cause := errors.New("socket closed")
	err := fmt.Errorf("fetch account page 3: %w", Errorf(Retryable, "read: %w", cause))
	if !errors.Is(err, ErrRetryable) || errors.Is(err, ErrPermanent) || !IsRetryable(err) {
		t.Fatalf("kind lost through wrapping: %v", err)
	}
	if !errors.Is(err, cause) {
		t.Fatal("cause lost")
	}
	if KindOf(errors.New("plain")) != Permanent || IsRetryable(nil) {
		t.Fatal("an unknown error must count as permanent")
	}
	if !errors.Is(Errorf(TokenExpired, "old"), ErrTokenExpired) {
		t.Fatal("token expired not matched")
	}
}
