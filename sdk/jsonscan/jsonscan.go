// Package jsonscan walks JSON bytes without reflection: a connector's hot
// path reads its pages with it, checking the JSON as it goes and slicing
// out values without copies. encoding/json's per-byte state machine and
// reflection cost far more inside a WASM guest than natively (about a
// microsecond per byte of a page was measured there), so connectors built
// for WASM read their large answers through this package.
//
// A Scanner accepts exactly RFC 8259 JSON, except that it refuses invalid
// UTF-8 in strings (encoding/json replaces it) and a property name with
// escapes (which no name a connector knows has).
package jsonscan

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Scanner walks one JSON text. I is the offset of the next byte.
type Scanner struct {
	b []byte
	I int
}

// New returns a Scanner over b.
func New(b []byte) *Scanner { return &Scanner{b: b} }

// End checks that only white space follows the value just read.
func (s *Scanner) End() error {
	s.Space()
	if s.I != len(s.b) {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func (s *Scanner) Space() {
	for s.I < len(s.b) {
		switch s.b[s.I] {
		case ' ', '\t', '\n', '\r':
			s.I++
		default:
			return
		}
	}
}
func (s *Scanner) Peek() byte {
	s.Space()
	if s.I < len(s.b) {
		return s.b[s.I]
	}
	return 0
}
func (s *Scanner) Expect(c byte) error {
	if s.Peek() != c {
		return fmt.Errorf("expected %q at offset %d", c, s.I)
	}
	s.I++
	return nil
}
func (s *Scanner) Null() bool {
	if s.Peek() == 'n' && bytes.HasPrefix(s.b[s.I:], []byte("null")) {
		s.I += 4
		return true
	}
	return false
}

// object calls member for each key, positioned at its value, which member
// must consume.
func (s *Scanner) Object(member func(key []byte) error) error {
	if err := s.Expect('{'); err != nil {
		return err
	}
	if s.Peek() == '}' {
		s.I++
		return nil
	}
	for {
		key, err := s.String()
		if err != nil {
			return err
		}
		// The name's bytes, not a copy: rawString checked them, and the
		// names we know have no escapes (a name with one matches none).
		name := key[1 : len(key)-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			return fmt.Errorf("a property name with escapes at offset %d", s.I)
		}
		if err := s.Expect(':'); err != nil {
			return err
		}
		if err := member(name); err != nil {
			return err
		}
		switch s.Peek() {
		case ',':
			s.I++
		case '}':
			s.I++
			return nil
		default:
			return fmt.Errorf("expected , or } at offset %d", s.I)
		}
	}
}
func (s *Scanner) Array(elem func() error) error {
	if err := s.Expect('['); err != nil {
		return err
	}
	if s.Peek() == ']' {
		s.I++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch s.Peek() {
		case ',':
			s.I++
		case ']':
			s.I++
			return nil
		default:
			return fmt.Errorf("expected , or ] at offset %d", s.I)
		}
	}
}

// rawString returns a JSON string with its quotes, checked.
func (s *Scanner) String() ([]byte, error) {
	if s.Peek() != '"' {
		return nil, fmt.Errorf("expected a string at offset %d", s.I)
	}
	start := s.I
	s.I++
	for s.I < len(s.b) {
		c := s.b[s.I]
		switch {
		case c == '"':
			s.I++
			raw := s.b[start:s.I]
			if !utf8.Valid(raw) {
				return nil, fmt.Errorf("invalid UTF-8 in a string at offset %d", start)
			}
			return raw, nil
		case c == '\\':
			if s.I+1 >= len(s.b) {
				return nil, errors.New("unterminated string")
			}
			switch s.b[s.I+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.I += 2
			case 'u':
				if s.I+6 > len(s.b) {
					return nil, errors.New("unterminated string")
				}
				for _, h := range s.b[s.I+2 : s.I+6] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return nil, fmt.Errorf("bad \\u escape at offset %d", s.I)
					}
				}
				s.I += 6
			default:
				return nil, fmt.Errorf("bad escape at offset %d", s.I)
			}
		case c < 0x20:
			return nil, fmt.Errorf("control character in a string at offset %d", s.I)
		default:
			s.I++
		}
	}
	return nil, errors.New("unterminated string")
}

// value returns any JSON value's bytes, checked.
func (s *Scanner) Value() ([]byte, error) {
	switch c := s.Peek(); {
	case c == '"':
		return s.String()
	case c == '{':
		start := s.I
		err := s.Object(func([]byte) error { _, err := s.Value(); return err })
		return s.b[start:s.I], err
	case c == '[':
		start := s.I
		err := s.Array(func() error { _, err := s.Value(); return err })
		return s.b[start:s.I], err
	case c == 't' || c == 'f' || c == 'n':
		for _, lit := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(s.b[s.I:], []byte(lit)) {
				start := s.I
				s.I += len(lit)
				return s.b[start:s.I], nil
			}
		}
	case c == '-' || c >= '0' && c <= '9':
		start := s.I
		if s.b[s.I] == '-' {
			s.I++
		}
		digits := func() int {
			k := s.I
			for s.I < len(s.b) && s.b[s.I] >= '0' && s.b[s.I] <= '9' {
				s.I++
			}
			return s.I - k
		}
		d0 := s.I
		if digits() == 0 || (s.b[d0] == '0' && s.I-d0 > 1) {
			return nil, fmt.Errorf("bad number at offset %d", start)
		}
		if s.I < len(s.b) && s.b[s.I] == '.' {
			s.I++
			if digits() == 0 {
				return nil, fmt.Errorf("bad number at offset %d", start)
			}
		}
		if s.I < len(s.b) && (s.b[s.I] == 'e' || s.b[s.I] == 'E') {
			s.I++
			if s.I < len(s.b) && (s.b[s.I] == '+' || s.b[s.I] == '-') {
				s.I++
			}
			if digits() == 0 {
				return nil, fmt.Errorf("bad number at offset %d", start)
			}
		}
		return s.b[start:s.I], nil
	}
	return nil, fmt.Errorf("unexpected %s at offset %d", describeByte(s.Peek()), s.I)
}
func describeByte(c byte) string {
	if c == 0 {
		return "end of input"
	}
	return strconv.QuoteRune(rune(c))
}
