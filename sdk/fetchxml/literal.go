package fetchxml

import (
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fieldsync/fieldsync/sdk"
)

// literal renders v, a value of a field of type t, as FetchXML value text
// (before XML escaping).
func literal(t sdk.FieldType, v sdk.Value) (string, error) {
	if v.Kind() != t.Kind() || v.IsNull() {
		return "", fmt.Errorf("a %s value cannot be compared with a %s field", v.Kind(), t)
	}
	switch t {
	case sdk.TypeString:
		if err := checkText(v.Str()); err != nil {
			return "", err
		}
		return v.Str(), nil
	case sdk.TypeDecimal:
		return decimal(v.Str())
	case sdk.TypeGUID, sdk.TypeLookup:
		return guid(v.Str())
	case sdk.TypeInt, sdk.TypeChoice:
		return strconv.FormatInt(v.Int(), 10), nil
	case sdk.TypeFloat:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "", fmt.Errorf("%v is not a comparable number", f)
		}
		return strconv.FormatFloat(f, 'f', -1, 64), nil
	case sdk.TypeBool:
		// Two-option values are written 1 and 0 in FetchXML.
		if v.Bool() {
			return "1", nil
		}
		return "0", nil
	case sdk.TypeDateTime:
		return dateTime(time.UnixMicro(v.Int()).UTC())
	}
	return "", fmt.Errorf("%s fields cannot be filtered", t)
}

// dateTime writes an instant as ISO 8601 UTC, with the fraction of a second
// only when there is one (FetchXML parses both).
func dateTime(t time.Time) (string, error) {
	if y := t.Year(); y < 1 || y > 9999 {
		return "", fmt.Errorf("date-time in year %d is out of range", y)
	}
	return t.Format("2006-01-02T15:04:05.999999Z07:00"), nil
}

// startOfUTCDay returns midnight UTC of the day holding us (Unix
// microseconds).
func startOfUTCDay(us int64) time.Time {
	t := time.UnixMicro(us).UTC()
	return t.Truncate(24 * time.Hour)
}

// decimal checks that s is a plain decimal number ("-12.50") and returns it
// without a leading plus.
func decimal(s string) (string, error) {
	if !sdk.IsPlainDecimal(s) {
		return "", fmt.Errorf("%q is not a decimal number", s)
	}
	return strings.TrimPrefix(s, "+"), nil
}

// guid checks that s is a GUID in canonical 8-4-4-4-12 form and returns it
// in lower case (how the sdk carries ids).
func guid(s string) (string, error) {
	if !sdk.IsGUID(s) {
		return "", fmt.Errorf("%q is not a GUID", s)
	}
	return strings.ToLower(s), nil
}

// checkName accepts the logical names Dataverse and Resco use: a letter or
// underscore, then letters, digits and underscores.
func checkName(s string) error {
	if s == "" || len(s) > 128 {
		return fmt.Errorf("%q is not a logical name", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return fmt.Errorf("%q is not a logical name", s)
	}
	return nil
}

// checkText refuses text XML 1.0 cannot carry (invalid UTF-8, most control
// characters): escaping would have to replace it, changing the value.
func checkText(s string) error {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return errors.New("text is not valid UTF-8")
			}
		}
		if !(r == 0x09 || r == 0x0A || r == 0x0D ||
			r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF) {
			return fmt.Errorf("text holds %U, which XML cannot carry", r)
		}
	}
	return nil
}

// escape writes s with XML escaping; tabs and line ends become character
// references, so they survive attribute-value normalisation.
func escape(w *strings.Builder, s string) {
	_ = xml.EscapeText(w, []byte(s)) // a strings.Builder never fails
}
