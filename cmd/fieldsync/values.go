package main

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

// Field values as the CLI shows and reads them. A value is typed by the
// entity's schema: a datetime travels as Unix microseconds but reads as an
// RFC 3339 time, a choice as its number with its label.

// showValue writes a value for a person. Text is quoted, so an empty
// string and a missing value look different.
func showValue(f *sdk.Field, v sdk.Value) string {
	if v.IsNull() {
		return "null"
	}
	if f == nil {
		return v.String()
	}
	switch f.Type {
	case sdk.TypeDateTime:
		return v.Time().Format(time.RFC3339Nano)
	case sdk.TypeChoice:
		for _, c := range f.Choices {
			if c.Value == v.Int() {
				return fmt.Sprintf("%d (%s)", c.Value, c.Label)
			}
		}
	case sdk.TypeBinary:
		return fmt.Sprintf("%d bytes", len(v.Bytes()))
	case sdk.TypeDecimal, sdk.TypeGUID, sdk.TypeLookup:
		return v.Str()
	}
	return v.String()
}

// jsonValue is a value in --json output: null, a string, a number or a
// boolean; datetimes as RFC 3339 text, binary as base64.
func jsonValue(f *sdk.Field, v sdk.Value) any {
	switch v.Kind() {
	case sdk.KindNull:
		return nil
	case sdk.KindString:
		return v.Str()
	case sdk.KindInt:
		if f != nil && f.Type == sdk.TypeDateTime {
			return v.Time().Format(time.RFC3339Nano)
		}
		return v.Int()
	case sdk.KindFloat:
		return v.Float()
	case sdk.KindBool:
		return v.Bool()
	case sdk.KindBytes:
		return base64.StdEncoding.EncodeToString(v.Bytes())
	}
	return v.String()
}

// jsonValues converts a record's values for --json output (nil stays nil).
func jsonValues(ent *sdk.Entity, vals map[string]sdk.Value) map[string]any {
	if vals == nil {
		return nil
	}
	out := make(map[string]any, len(vals))
	for name, v := range vals {
		out[name] = jsonValue(ent.Field(name), v)
	}
	return out
}

var decimalText = regexp.MustCompile(`^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$`)

// dateLayouts are the datetime spellings --set accepts; times without a
// zone are UTC.
var dateLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"}

// parseValue reads s as a value of field f, as given to --set. An empty s
// is null, whatever the type.
func parseValue(f *sdk.Field, s string) (sdk.Value, error) {
	if s == "" {
		return sdk.Null(), nil
	}
	switch f.Type {
	case sdk.TypeString, sdk.TypeLookup:
		return sdk.String(s), nil
	case sdk.TypeGUID:
		return sdk.String(strings.ToLower(s)), nil
	case sdk.TypeInt:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return sdk.Value{}, fmt.Errorf("%q is not a whole number", s)
		}
		return sdk.Int(n), nil
	case sdk.TypeDecimal:
		t := strings.TrimPrefix(strings.TrimSpace(s), "+")
		if !decimalText.MatchString(t) {
			return sdk.Value{}, fmt.Errorf("%q is not a decimal number", s)
		}
		return sdk.String(t), nil
	case sdk.TypeFloat:
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return sdk.Value{}, fmt.Errorf("%q is not a number", s)
		}
		return sdk.Float(x), nil
	case sdk.TypeBool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true", "yes", "1", "on":
			return sdk.Bool(true), nil
		case "false", "no", "0", "off":
			return sdk.Bool(false), nil
		}
		return sdk.Value{}, fmt.Errorf("%q is not true or false", s)
	case sdk.TypeDateTime:
		for _, layout := range dateLayouts {
			if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
				return sdk.Time(t), nil
			}
		}
		return sdk.Value{}, fmt.Errorf("%q is not a time like 2026-01-31T14:00:00Z or 2026-01-31", s)
	case sdk.TypeChoice:
		if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
			for _, c := range f.Choices {
				if c.Value == n {
					return sdk.Int(n), nil
				}
			}
			if len(f.Choices) == 0 {
				return sdk.Int(n), nil
			}
		}
		var labels []string
		for _, c := range f.Choices {
			if strings.EqualFold(c.Label, strings.TrimSpace(s)) {
				return sdk.Int(c.Value), nil
			}
			labels = append(labels, fmt.Sprintf("%d %s", c.Value, c.Label))
		}
		return sdk.Value{}, fmt.Errorf("%q is not one of the choices (%s)", s, strings.Join(labels, ", "))
	case sdk.TypeBinary:
		b, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(s), "0x"))
		if err != nil {
			return sdk.Value{}, fmt.Errorf("binary values are written in hex")
		}
		return sdk.Bytes(b), nil
	}
	return sdk.Value{}, fmt.Errorf("fields of type %s cannot be set from the command line", f.Type)
}
