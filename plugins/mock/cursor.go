package mock

import (
	"encoding/binary"
	"errors"

	"github.com/fieldsync/fieldsync/sdk"
)

// Tokens and cursors are opaque to the core; this is their wire format:
//
//	byte 0      0xF5 (magic)
//	byte 1      format version (1)
//	byte 2      kind (tokenKind…docCursorKind)
//	bytes 3–10  the server file's instance id
//	then unsigned varints, by kind:
//	  token              high-water version H
//	  full cursor        entity hash, H, last rowid sent
//	  incremental cursor entity hash, H, last version sent
//	  document cursor    last rowid sent
//
// The instance id makes a token of another (or a recreated) server file
// expire instead of silently skipping changes.
const (
	cursorMagic   = 0xF5
	cursorFormat  = 1
	cursorHeadLen = 3 + 8
)

type cursorKind byte

const (
	tokenKind cursorKind = iota + 1
	fullCursorKind
	incCursorKind
	docCursorKind
)

func (k cursorKind) String() string {
	switch k {
	case tokenKind:
		return "change token"
	case docCursorKind:
		return "document cursor"
	}
	return "cursor"
}

// cursor is a decoded token or cursor; which fields mean something depends
// on kind.
type cursor struct {
	kind       cursorKind
	entityHash uint32
	high       int64 // H: the version clock when the fetch began
	last       int64 // last rowid (full, document) or version (incremental) sent
}

func (s *Server) encode(c cursor) []byte {
	b := make([]byte, 0, cursorHeadLen+3*binary.MaxVarintLen64)
	b = append(b, cursorMagic, cursorFormat, byte(c.kind))
	b = append(b, s.instance[:]...)
	switch c.kind {
	case tokenKind:
		b = binary.AppendUvarint(b, uint64(c.high))
	case fullCursorKind, incCursorKind:
		b = binary.AppendUvarint(b, uint64(c.entityHash))
		b = binary.AppendUvarint(b, uint64(c.high))
		b = binary.AppendUvarint(b, uint64(c.last))
	case docCursorKind:
		b = binary.AppendUvarint(b, uint64(c.last))
	}
	return b
}

var errForeign = errors.New("foreign")

// decode parses b, which must be of kind want. A malformed value is a
// Permanent error; one minted by another server instance is TokenExpired.
func (s *Server) decode(b []byte, want cursorKind) (cursor, error) {
	c, err := s.parse(b)
	if errors.Is(err, errForeign) {
		return c, sdk.Errorf(sdk.TokenExpired, "mock: %s was issued by another server instance (the server file was recreated); resync", want)
	}
	if err != nil {
		return c, sdk.Errorf(sdk.Permanent, "mock: malformed %s: %v", want, err)
	}
	if c.kind != want {
		return c, sdk.Errorf(sdk.Permanent, "mock: malformed %s: it is a %s", want, c.kind)
	}
	return c, nil
}

func (s *Server) parse(b []byte) (cursor, error) {
	var c cursor
	if len(b) < cursorHeadLen || b[0] != cursorMagic {
		return c, errors.New("not a mock cursor")
	}
	if b[1] != cursorFormat {
		return c, errors.New("unknown cursor format")
	}
	c.kind = cursorKind(b[2])
	if c.kind < tokenKind || c.kind > docCursorKind {
		return c, errors.New("unknown cursor kind")
	}
	if string(b[3:cursorHeadLen]) != string(s.instance[:]) {
		return c, errForeign
	}
	rest := b[cursorHeadLen:]
	next := func() (int64, error) {
		v, n := binary.Uvarint(rest)
		if n <= 0 || v > 1<<62 {
			return 0, errors.New("bad number")
		}
		rest = rest[n:]
		return int64(v), nil
	}
	var err error
	switch c.kind {
	case tokenKind:
		c.high, err = next()
	case fullCursorKind, incCursorKind:
		var h int64
		if h, err = next(); err == nil {
			if h > 0xFFFFFFFF {
				return c, errors.New("bad entity hash")
			}
			c.entityHash = uint32(h)
			if c.high, err = next(); err == nil {
				c.last, err = next()
			}
		}
	case docCursorKind:
		c.last, err = next()
	}
	if err != nil {
		return c, err
	}
	if len(rest) != 0 {
		return c, errors.New("trailing bytes")
	}
	return c, nil
}
