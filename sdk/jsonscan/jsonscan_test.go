package jsonscan

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzValue holds the Scanner to encoding/json: a text it accepts whole is
// valid JSON, and valid JSON in valid UTF-8 is accepted.
func FuzzValue(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":[1,2.5,-0,1e3,"x\"y",true,null]}`, `"\u00e9"`, `01`, `{"a" 1}`, `[1,]`, `"\x"`, ` 1 `, `{"a\u0062":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := New(b)
		_, err := s.Value()
		if err == nil {
			err = s.End()
		}
		valid := json.Valid(b)
		if err == nil && !valid {
			t.Fatalf("the scanner accepts invalid JSON %q", b)
		}
		// Names with escapes are refused by design; texts with a
		// backslash anywhere are left out of this direction.
		if err != nil && valid && utf8.Valid(b) && !bytes.Contains(b, []byte(`\`)) {
			t.Fatalf("the scanner refuses valid JSON %q: %v", b, err)
		}
	})
}

func TestObjectAndArray(t *testing.T) {
	s := New([]byte(` {"a": [1, "two", {"b": null}], "c": true} `))
	var keys []string
	err := s.Object(func(key []byte) error {
		keys = append(keys, string(key))
		_, err := s.Value()
		return err
	})
	if err != nil || s.End() != nil || len(keys) != 2 || keys[0] != "a" || keys[1] != "c" {
		t.Fatalf("keys %v, %v", keys, err)
	}
	for _, bad := range []string{`{"a":1,}`, `{"a":01}`, `{"a":"\q"}`, "{\"a\":\"\x01\"}", `{"a":tru}`, `[1 2]`, `{"a":1} x`, "\"\xff\""} {
		s := New([]byte(bad))
		_, err := s.Value()
		if err == nil {
			err = s.End()
		}
		if err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
