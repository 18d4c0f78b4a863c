package dataverse

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fieldsync/fieldsync/sdk"
)

// Wire forms (Web API JSON): GUIDs and lookups as strings, compared and
// carried in lower case; integers, decimals and doubles as JSON numbers
// (also accepted as strings, the IEEE754Compatible form); date-times as ISO
// 8601 (Edm.DateTimeOffset; Dataverse keeps whole seconds), dates as
// YYYY-MM-DD (Edm.Date, read as midnight UTC); binary as base64.

// decodeValue converts one JSON token (from a Decoder with UseNumber) of a
// field into an sdk value.
func decodeValue(f *field, tok json.Token) (sdk.Value, error) {
	if tok == nil {
		return sdk.Null(), nil
	}
	bad := func() (sdk.Value, error) {
		return sdk.Null(), fmt.Errorf("%w: field %s (%s) holds %v", errMalformed, f.name, f.edm, tok)
	}
	num, isNum := tok.(json.Number)
	str, isStr := tok.(string)
	switch f.typ {
	case sdk.TypeString:
		if !isStr {
			return bad()
		}
		return sdk.String(str), nil
	case sdk.TypeGUID, sdk.TypeLookup:
		if !isStr {
			return bad()
		}
		return sdk.String(strings.ToLower(str)), nil
	case sdk.TypeInt, sdk.TypeChoice:
		text := string(num)
		if isStr {
			text = str
		} else if !isNum {
			return bad()
		}
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			// 12.0 from a lenient server is still 12.
			fl, ferr := strconv.ParseFloat(text, 64)
			if ferr != nil || fl != math.Trunc(fl) || math.Abs(fl) > 1<<53 {
				return bad()
			}
			n = int64(fl)
		}
		return sdk.Int(n), nil
	case sdk.TypeDecimal:
		text := string(num)
		if isStr {
			text = str
		} else if !isNum {
			return bad()
		}
		d, err := canonicalDecimal(text)
		if err != nil {
			return bad()
		}
		return sdk.String(d), nil
	case sdk.TypeFloat:
		if isStr {
			switch str {
			case "INF":
				return sdk.Float(math.Inf(1)), nil
			case "-INF":
				return sdk.Float(math.Inf(-1)), nil
			case "NaN":
				return sdk.Float(math.NaN()), nil
			}
			num = json.Number(str)
		} else if !isNum {
			return bad()
		}
		fl, err := strconv.ParseFloat(string(num), 64)
		if err != nil {
			return bad()
		}
		return sdk.Float(fl), nil
	case sdk.TypeBool:
		b, ok := tok.(bool)
		if !ok {
			return bad()
		}
		return sdk.Bool(b), nil
	case sdk.TypeDateTime:
		if !isStr {
			return bad()
		}
		t, err := parseTime(f.edm, str)
		if err != nil {
			return bad()
		}
		return sdk.Time(t), nil
	case sdk.TypeBinary:
		if !isStr {
			return bad()
		}
		b, err := base64.StdEncoding.DecodeString(str)
		if err != nil {
			return bad()
		}
		return sdk.Bytes(b), nil
	}
	return bad()
}

func parseTime(edm, s string) (time.Time, error) {
	if edm == "Edm.Date" {
		return time.Parse(time.DateOnly, s)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// canonicalDecimal returns a plain decimal text ("-12.5") for a JSON
// number, expanding exponents, which sdk decimals do not carry.
func canonicalDecimal(s string) (string, error) {
	if !strings.ContainsAny(s, "eE") {
		if _, ok := new(big.Rat).SetString(s); !ok || strings.ContainsAny(s, "/ ") {
			return "", fmt.Errorf("%q is not a decimal", s)
		}
		return strings.TrimPrefix(s, "+"), nil
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return "", fmt.Errorf("%q is not a decimal", s)
	}
	// Enough places for any exponent form a server sends of a money or
	// decimal column (Dataverse: at most 10 decimal places).
	out := r.FloatString(10)
	if strings.Contains(out, ".") {
		out = strings.TrimRight(strings.TrimRight(out, "0"), ".")
	}
	return out, nil
}

// errReadOnly marks a write to a column the server sets.
var errReadOnly = errors.New("is read-only")

// encodeValue renders v, to be written to f, as a JSON value. Values of the
// wrong kind and values the column cannot hold exactly are refused (never
// widened or rounded): the change fails as Permanent.
func encodeValue(f *field, v sdk.Value) (json.RawMessage, error) {
	if v.IsNull() {
		return json.RawMessage("null"), nil
	}
	if err := v.CheckType(f.typ); err != nil {
		return nil, err
	}
	switch f.typ {
	case sdk.TypeString:
		if !utf8.ValidString(v.Str()) {
			return nil, errors.New("text is not valid UTF-8")
		}
		return json.Marshal(v.Str())
	case sdk.TypeGUID, sdk.TypeLookup:
		g, err := canonicalGUID(v.Str())
		if err != nil {
			return nil, err
		}
		return json.Marshal(g)
	case sdk.TypeInt, sdk.TypeChoice:
		n := v.Int()
		if (f.edm == "Edm.Int32" && (n < math.MinInt32 || n > math.MaxInt32)) ||
			(f.edm == "Edm.Int16" && (n < math.MinInt16 || n > math.MaxInt16)) {
			return nil, fmt.Errorf("%d does not fit a %s", n, f.edm)
		}
		return json.RawMessage(strconv.FormatInt(n, 10)), nil
	case sdk.TypeDecimal:
		d, err := plainDecimal(v.Str())
		if err != nil {
			return nil, err
		}
		return json.RawMessage(d), nil
	case sdk.TypeFloat:
		fl := v.Float()
		if math.IsNaN(fl) || math.IsInf(fl, 0) {
			return nil, fmt.Errorf("%v cannot be stored", fl)
		}
		return json.RawMessage(strconv.FormatFloat(fl, 'g', -1, 64)), nil
	case sdk.TypeBool:
		return json.RawMessage(strconv.FormatBool(v.Bool())), nil
	case sdk.TypeDateTime:
		t := v.Time()
		if f.edm == "Edm.Date" {
			if t != t.Truncate(24*time.Hour) {
				return nil, fmt.Errorf("%s is a date-only column; %s is not a midnight UTC", f.name, t.Format(time.RFC3339Nano))
			}
			return json.Marshal(t.Format(time.DateOnly))
		}
		if y := t.Year(); y < 1 || y > 9999 {
			return nil, fmt.Errorf("year %d is out of range", y)
		}
		return json.Marshal(t.Format("2006-01-02T15:04:05.999999Z07:00"))
	case sdk.TypeBinary:
		return json.Marshal(base64.StdEncoding.EncodeToString(v.Bytes()))
	}
	return nil, fmt.Errorf("%s columns cannot be written", f.typ)
}

// plainDecimal checks that s is a plain decimal number and returns it
// without a leading plus.
func plainDecimal(s string) (string, error) {
	d := strings.TrimPrefix(s, "+")
	body := strings.TrimPrefix(d, "-")
	intPart, frac, dot := strings.Cut(body, ".")
	if intPart == "" || !allDigits(intPart) || (dot && (frac == "" || !allDigits(frac))) {
		return "", fmt.Errorf("%q is not a decimal number", s)
	}
	return d, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// canonicalGUID checks 8-4-4-4-12 hex form and lowers it.
func canonicalGUID(s string) (string, error) {
	if !sdk.IsGUID(s) {
		return "", fmt.Errorf("%q is not a GUID", s)
	}
	return strings.ToLower(s), nil
}

// sameValue compares a value a device wrote with the one the server holds,
// to tell a retried write that was already applied from a conflict:
// decimals by number (the server keeps its own scale), floats within a
// relative 1e-9, date-times to the second (Dataverse keeps whole seconds),
// everything else exactly.
func sameValue(t sdk.FieldType, want, got sdk.Value) bool {
	if want.IsNull() || got.IsNull() {
		return want.IsNull() && got.IsNull()
	}
	switch t {
	case sdk.TypeDecimal:
		a, okA := new(big.Rat).SetString(want.Str())
		b, okB := new(big.Rat).SetString(got.Str())
		return okA && okB && a.Cmp(b) == 0
	case sdk.TypeFloat:
		w, g := want.Float(), got.Float()
		return w == g || math.Abs(w-g) <= 1e-9*math.Max(math.Abs(w), math.Abs(g))
	case sdk.TypeDateTime:
		return want.Time().Truncate(time.Second).Equal(got.Time().Truncate(time.Second))
	case sdk.TypeGUID, sdk.TypeLookup:
		return strings.EqualFold(want.Str(), got.Str())
	}
	return want.Equal(got)
}
