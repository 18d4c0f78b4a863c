package main

import (
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

func TestParseValue(t *testing.T) {
	choice := &sdk.Field{Name: "c", Type: sdk.TypeChoice, Choices: []sdk.Choice{{Value: 1, Label: "Open"}, {Value: 2, Label: "Won"}}}
	tests := []struct {
		name    string
		field   *sdk.Field
		in      string
		want    sdk.Value
		wantErr bool
	}{
		{"empty is null", &sdk.Field{Type: sdk.TypeInt}, "", sdk.Null(), false},
		{"string", &sdk.Field{Type: sdk.TypeString}, " a b ", sdk.String(" a b "), false},
		{"int", &sdk.Field{Type: sdk.TypeInt}, "42", sdk.Int(42), false},
		{"int refused", &sdk.Field{Type: sdk.TypeInt}, "4.2", sdk.Value{}, true},
		{"decimal", &sdk.Field{Type: sdk.TypeDecimal}, "+12.50", sdk.String("12.50"), false},
		{"decimal refused", &sdk.Field{Type: sdk.TypeDecimal}, "1e5", sdk.Value{}, true},
		{"float", &sdk.Field{Type: sdk.TypeFloat}, "2.5", sdk.Float(2.5), false},
		{"bool yes", &sdk.Field{Type: sdk.TypeBool}, "yes", sdk.Bool(true), false},
		{"bool refused", &sdk.Field{Type: sdk.TypeBool}, "maybe", sdk.Value{}, true},
		{"datetime", &sdk.Field{Type: sdk.TypeDateTime}, "2026-01-31T14:00:00Z", sdk.Time(time.Date(2026, 1, 31, 14, 0, 0, 0, time.UTC)), false},
		{"date", &sdk.Field{Type: sdk.TypeDateTime}, "2026-01-31", sdk.Time(time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)), false},
		{"datetime refused", &sdk.Field{Type: sdk.TypeDateTime}, "yesterday", sdk.Value{}, true},
		{"choice number", choice, "2", sdk.Int(2), false},
		{"choice label", choice, "won", sdk.Int(2), false},
		{"choice refused", choice, "3", sdk.Value{}, true},
		{"guid lower-cased", &sdk.Field{Type: sdk.TypeGUID}, "ABC", sdk.String("abc"), false},
		{"binary hex", &sdk.Field{Type: sdk.TypeBinary}, "0x0aff", sdk.Bytes([]byte{0x0a, 0xff}), false},
		{"binary refused", &sdk.Field{Type: sdk.TypeBinary}, "zz", sdk.Value{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseValue(tt.field, tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseValue(%q): error %v, want error %v", tt.in, err, tt.wantErr)
			}
			if err == nil && !got.Equal(tt.want) {
				t.Errorf("parseValue(%q) = %v, want %v", tt.in, got, tt.want)
			}
			if err == nil && !got.IsNull() {
				if cerr := got.CheckType(tt.field.Type); cerr != nil {
					t.Errorf("parseValue(%q) gave a value its field cannot hold: %v", tt.in, cerr)
				}
			}
		})
	}
}

func TestCount(t *testing.T) {
	tests := []struct {
		in   int
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {1234567, "1,234,567"}, {-1000, "-1,000"}}
	for _, tt := range tests {
		if got := count(tt.in); got != tt.want {
			t.Errorf("count(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
