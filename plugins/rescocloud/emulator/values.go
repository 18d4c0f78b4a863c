package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on written values.
const (
	maxMemo     = 1 << 20  // characters in a Memo without its own MaxLength
	maxDocument = 16 << 20 // bytes of one annotation's documentbody
)

// likeMatch reports whether v matches the T-SQL LIKE pattern p: % is any
// run, _ one character, [abc], [a-z] and [^a] classes; comparison ignores
// case, as Dynamics' default collation does. A [ without its ] is literal.
func likeMatch(v, p string) bool {
	vs := []rune(strings.ToLower(v))
	toks := likeTokens([]rune(strings.ToLower(p)))
	// Wildcard matching with backtracking to the last %: O(len(v)*len(p)).
	vi, ti, star, mark := 0, 0, -1, 0
	for vi < len(vs) {
		if ti < len(toks) && toks[ti].kind != '%' && toks[ti].match(vs[vi]) {
			vi++
			ti++
		} else if ti < len(toks) && toks[ti].kind == '%' {
			star, mark = ti, vi
			ti++
		} else if star >= 0 {
			mark++
			vi, ti = mark, star+1
		} else {
			return false
		}
	}
	for ti < len(toks) && toks[ti].kind == '%' {
		ti++
	}
	return ti == len(toks)
}

type likeTok struct {
	kind   byte // '%', '_', 'c' (literal), '[' (class)
	r      rune
	neg    bool
	ranges [][2]rune
}

func (t likeTok) match(r rune) bool {
	switch t.kind {
	case '_':
		return true
	case 'c':
		return t.r == r
	case '[':
		in := false
		for _, g := range t.ranges {
			if g[0] <= r && r <= g[1] {
				in = true
				break
			}
		}
		return in != t.neg
	}
	return false
}

func likeTokens(p []rune) []likeTok {
	var out []likeTok
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '%':
			if len(out) == 0 || out[len(out)-1].kind != '%' {
				out = append(out, likeTok{kind: '%'})
			}
		case '_':
			out = append(out, likeTok{kind: '_'})
		case '[':
			end := -1
			for j := i + 2; j < len(p); j++ { // a ] right after [ belongs to the class
				if p[j] == ']' {
					end = j
					break
				}
			}
			if end < 0 {
				out = append(out, likeTok{kind: 'c', r: '['})
				continue
			}
			t := likeTok{kind: '['}
			body := p[i+1 : end]
			if len(body) > 1 && body[0] == '^' {
				t.neg, body = true, body[1:]
			}
			for k := 0; k < len(body); k++ {
				if k+2 < len(body) && body[k+1] == '-' {
					t.ranges = append(t.ranges, [2]rune{body[k], body[k+2]})
					k += 2
				} else {
					t.ranges = append(t.ranges, [2]rune{body[k], body[k]})
				}
			}
			out = append(out, t)
			i = end
		default:
			out = append(out, likeTok{kind: 'c', r: p[i]})
		}
	}
	return out
}

// plainDecimal checks s is [+-]digits[.digits] and returns it canonical:
// no plus, a digit before the point, the scale kept ("12.50").
func plainDecimal(s string) (string, bool) {
	if len(s) == 0 || len(s) > 64 {
		return "", false
	}
	neg := false
	switch s[0] {
	case '+':
		s = s[1:]
	case '-':
		neg, s = true, s[1:]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" && frac == "" {
		return "", false
	}
	for _, part := range []string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return "", false
			}
		}
	}
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	out := intPart
	if hasDot && frac != "" {
		out += "." + frac
	}
	if neg && strings.Trim(out, "0.") != "" {
		out = "-" + out
	}
	return out, true
}

// decCompare compares two decimal texts exactly.
func decCompare(a, b string) (int, bool) {
	var x, y big.Rat
	if _, ok := x.SetString(a); !ok {
		return 0, false
	}
	if _, ok := y.SetString(b); !ok {
		return 0, false
	}
	return x.Cmp(&y), true
}

// parseDateTime accepts RFC 3339 (with or without a fraction), a date and
// time without a zone (UTC) and a bare date (midnight UTC).
func parseDateTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			if y := t.Year(); y < 1 || y > 9999 {
				return time.Time{}, false
			}
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func formatDateTime(us int64) string {
	return time.UnixMicro(us).UTC().Format(time.RFC3339Nano)
}

// lookupValue is how a Lookup travels in JSON.
type lookupValue struct {
	Id          string `json:"Id"`
	LogicalName string `json:"LogicalName"`
}

// strictDecode decodes raw into v, refusing unknown fields and trailing data.
func strictDecode(raw []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return fmt.Errorf("unexpected data after the JSON value")
	}
	return nil
}

// written is one attribute value decoded for a write.
type written struct {
	attr   *Attribute
	value  any    // nil for null
	target string // a lookup's LogicalName
}

// decodeValue turns the JSON value of attribute a into a column value.
// Errors are BadRequest messages.
func decodeValue(a *Attribute, raw json.RawMessage) (written, error) {
	w := written{attr: a}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		if a.Required {
			return w, fmt.Errorf("attribute %q is required and cannot be null", a.Name)
		}
		return w, nil
	}
	bad := func(want string) (written, error) {
		return w, fmt.Errorf("attribute %q (%s) needs %s", a.Name, a.Type, want)
	}
	switch a.Type {
	case TypeString, TypeMemo, TypeGuid:
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return bad("a JSON string")
		}
		if a.Type == TypeGuid {
			g, ok := parseGUID(s)
			if !ok {
				return bad("a GUID")
			}
			w.value = g
			return w, nil
		}
		max := a.MaxLength
		if max == 0 {
			max = maxMemo
		}
		if n := utf8.RuneCountInString(s); n > max {
			return w, fmt.Errorf("attribute %q holds %d characters; at most %d are allowed", a.Name, n, max)
		}
		w.value = s
	case TypeInteger, TypeBigInt, TypePicklist:
		var n json.Number
		if strictDecode(raw, &n) != nil {
			return bad("a whole number")
		}
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil {
			return bad("a whole number")
		}
		if a.Type == TypeInteger && (i < math.MinInt32 || i > math.MaxInt32) {
			return bad("a 32-bit whole number")
		}
		if a.Type == TypePicklist {
			ok := false
			for _, o := range a.Options {
				ok = ok || o.Value == i
			}
			if !ok {
				return w, fmt.Errorf("attribute %q has no option %d", a.Name, i)
			}
		}
		w.value = i
	case TypeDouble:
		var f float64
		if json.Unmarshal(raw, &f) != nil {
			return bad("a number")
		}
		w.value = f
	case TypeMoney, TypeDecimal:
		var n json.Number
		if strictDecode(raw, &n) != nil {
			return bad("a number")
		}
		d, ok := plainDecimal(n.String())
		if !ok {
			return bad("a plain decimal number (no exponent)")
		}
		w.value = d
	case TypeBoolean:
		var b bool
		if json.Unmarshal(raw, &b) != nil {
			return bad("true or false")
		}
		w.value = b
	case TypeDateTime:
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return bad("an RFC 3339 string")
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || t.Year() < 1 || t.Year() > 9999 {
			return bad("an RFC 3339 string")
		}
		w.value = t.UTC().UnixMicro()
	case TypeLookup:
		var l lookupValue
		if strictDecode(raw, &l) != nil {
			return bad(`{"Id":"<guid>","LogicalName":"<entity>"}`)
		}
		g, ok := parseGUID(l.Id)
		if !ok {
			return bad("an Id that is a GUID")
		}
		ok = false
		for _, t := range a.Targets {
			ok = ok || t == l.LogicalName
		}
		if !ok {
			return w, fmt.Errorf("attribute %q cannot point at %q (targets: %s)", a.Name, l.LogicalName, strings.Join(a.Targets, ", "))
		}
		w.value, w.target = g, l.LogicalName
	case TypeBinary:
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return bad("a base64 string")
		}
		if base64.StdEncoding.DecodedLen(len(s)) > maxDocument+3 {
			return w, fmt.Errorf("attribute %q holds more than %d bytes", a.Name, maxDocument)
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return bad("a base64 string")
		}
		if len(b) > maxDocument {
			return w, fmt.Errorf("attribute %q holds more than %d bytes", a.Name, maxDocument)
		}
		if b == nil {
			b = []byte{}
		}
		w.value = b
	default:
		return w, fmt.Errorf("attribute %q cannot be written", a.Name)
	}
	return w, nil
}
