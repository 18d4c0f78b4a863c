package dataverse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/fieldsync/fieldsync/sdk"
)

// parseItem reads one row out of raw, a JSON value the decoder already
// scanned and validated: the members named in slots go to vals through
// their field, the key to id, @odata.etag to etag; a deleted row of a delta
// response ({"@odata.context":"…/$deletedEntity","id":…}, or OData 4.01's
// {"@removed":{…},"@id":"set(id)"}) comes back with deleted set and its id.
// Other members are skipped. It accepts what readItem's token walk accepted
// (TestParseItemMatchesTokens holds them to the same answers).
func parseItem(raw []byte, e *entity, slots map[string]int, fields []*field, vals []sdk.Value) (item, error) {
	var it item
	p := rowScanner{b: raw}
	p.space()
	if !p.eat('{') {
		return it, fmt.Errorf("%w: expected {, got %s", errMalformed, p.describe())
	}
	var delID, atID string
	for {
		p.space()
		if p.eat('}') {
			break
		}
		p.eat(',')
		p.space()
		keyRaw := p.value()
		p.space()
		p.eat(':')
		p.space()
		val := p.value()
		key, ok := jsonString(keyRaw)
		if !ok {
			return it, fmt.Errorf("%w: expected a property name", errMalformed)
		}
		if slot, ok := slots[key]; ok {
			tok, err := scalarToken(val)
			if err != nil {
				return it, fmt.Errorf("%w: %s holds %v", errMalformed, key, err)
			}
			if vals[slot], err = decodeValue(fields[slot], tok); err != nil {
				return it, err
			}
			continue
		}
		switch key {
		case e.pk, "@odata.etag", "@odata.context", "id", "@id":
			tok, err := scalarToken(val)
			if err != nil {
				return it, fmt.Errorf("%w: %s holds %v", errMalformed, key, err)
			}
			s, _ := tok.(string)
			switch key {
			case e.pk:
				it.id = strings.ToLower(s)
			case "@odata.etag":
				it.etag = s
			case "@odata.context":
				it.deleted = it.deleted || strings.HasSuffix(s, "$deletedEntity")
			case "id":
				delID = s
			case "@id":
				atID = s
			}
		case "@removed":
			it.deleted = true
		}
	}
	if it.deleted && it.id == "" {
		it.id = strings.ToLower(delID)
		if it.id == "" {
			it.id = idOfLink(atID)
		}
	}
	if it.id == "" {
		return it, fmt.Errorf("%w: a row without its key %s", errMalformed, e.pk)
	}
	return it, nil
}

// rowScanner walks valid JSON bytes.
type rowScanner struct {
	b []byte
	i int
}

func (p *rowScanner) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *rowScanner) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *rowScanner) describe() string {
	if p.i >= len(p.b) {
		return "the end"
	}
	return fmt.Sprintf("%q", p.b[p.i])
}

// value returns the bytes of the value at the scanner and moves past it.
func (p *rowScanner) value() []byte {
	start := p.i
	if p.i >= len(p.b) {
		return nil
	}
	switch p.b[p.i] {
	case '"':
		p.i = stringEnd(p.b, p.i)
	case '{', '[':
		depth := 0
		for p.i < len(p.b) {
			switch p.b[p.i] {
			case '"':
				p.i = stringEnd(p.b, p.i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			p.i++
			if depth == 0 {
				break
			}
		}
	default:
		for p.i < len(p.b) {
			switch p.b[p.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return p.b[start:p.i]
			}
			p.i++
		}
	}
	return p.b[start:p.i]
}

// stringEnd returns the index after the string starting at b[i] ('"').
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// jsonString decodes a JSON string's bytes.
func jsonString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), true
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}

// scalarToken is what json.Decoder.Token (with UseNumber) gives for a
// scalar value: a string, a json.Number, a bool, or nil for null. Objects
// and arrays are an error.
func scalarToken(v []byte) (json.Token, error) {
	if len(v) == 0 {
		return nil, fmt.Errorf("nothing")
	}
	switch v[0] {
	case '"':
		s, ok := jsonString(v)
		if !ok {
			return nil, fmt.Errorf("a malformed string")
		}
		return s, nil
	case '{':
		return nil, fmt.Errorf("%v", json.Delim('{'))
	case '[':
		return nil, fmt.Errorf("%v", json.Delim('['))
	case 't':
		return true, nil
	case 'f':
		return false, nil
	case 'n':
		return nil, nil
	}
	return json.Number(v), nil
}
