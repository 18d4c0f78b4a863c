package dataverse

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/fieldsync/fieldsync/sdk"
)

// collection decodes an OData collection response as a stream:
//
//	{"@odata.context": …, "value": [ {row}, … ], "@odata.nextLink": …, "@odata.deltaLink": …}
//
// one row at a time (encoding/json Decoder tokens), so a page of 5000 rows
// is never held as JSON. Links may come before or after "value"; they are
// known once next reports the end.
type collection struct {
	dec       *json.Decoder
	raw       json.RawMessage // the row being read; its buffer is reused
	nextLink  string
	deltaLink string
	inValue   bool
	done      bool
}

// errMalformed marks a response that is not an OData collection.
var errMalformed = errors.New("not an OData collection")

func openCollection(r io.Reader) (*collection, error) {
	c := &collection{dec: newDecoder(r)}
	if err := c.expectDelim('{'); err != nil {
		return nil, err
	}
	if err := c.members(); err != nil {
		return nil, err
	}
	return c, nil
}

// members reads top-level members until "value" opens or the object ends.
func (c *collection) members() error {
	for c.dec.More() {
		key, err := c.key()
		if err != nil {
			return err
		}
		switch key {
		case "value":
			if err := c.expectDelim('['); err != nil {
				return err
			}
			c.inValue = true
			return nil
		case "@odata.nextLink", "@odata.deltaLink":
			tok, err := c.dec.Token()
			if err != nil {
				return err
			}
			s, ok := tok.(string)
			if !ok {
				return fmt.Errorf("%w: %s is not a string", errMalformed, key)
			}
			if key == "@odata.nextLink" {
				c.nextLink = s
			} else {
				c.deltaLink = s
			}
		default:
			if err := skipValue(c.dec); err != nil {
				return err
			}
		}
	}
	if err := c.expectDelim('}'); err != nil {
		return err
	}
	c.done = true
	return nil
}

// more reports whether another row follows; after false, the links are
// set and the response is read to its end.
func (c *collection) more() (bool, error) {
	if c.done {
		return false, nil
	}
	if c.inValue && c.dec.More() {
		return true, nil
	}
	if c.inValue {
		if err := c.expectDelim(']'); err != nil {
			return false, err
		}
		c.inValue = false
	}
	if err := c.members(); err != nil {
		return false, err
	}
	if c.inValue { // a second "value": not OData
		return false, fmt.Errorf("%w: two value arrays", errMalformed)
	}
	return false, nil
}

// item is one element of a value array as the connector needs it.
type item struct {
	id      string
	etag    string
	deleted bool
}

// readItem decodes the next row. Properties named in slots go to vals (by
// index) through their field; the key to id; @odata.etag to etag. A deleted
// row of a delta response — {"@odata.context":"…/$deletedEntity","id":…}
// (PROTOCOLS.md), or OData 4.01's {"@removed":{…},"@id":"set(id)"} — comes
// back with deleted set and its id. Other properties are skipped.
func (c *collection) readItem(e *entity, slots map[string]int, fields []*field, vals []sdk.Value) (item, error) {
	for i := range vals {
		vals[i] = sdk.Null()
	}
	// The decoder scans the whole row in one go (validating it), which is
	// several times cheaper than walking it token by token; parseItem then
	// reads the members out of the scanned bytes.
	if err := c.dec.Decode(&c.raw); err != nil {
		if err == io.EOF {
			return item{}, io.ErrUnexpectedEOF
		}
		return item{}, err
	}
	return parseItem(c.raw, e, slots, fields, vals)
}

// skipItem reads past the next row, keeping its key only.
func (c *collection) skipItem(e *entity) (item, error) {
	return c.readItem(e, nil, nil, nil)
}

// idOfLink returns the key of an entity URL: …/accounts(0000…) → 0000….
func idOfLink(s string) string {
	i := strings.LastIndexByte(s, '(')
	if i < 0 || !strings.HasSuffix(s, ")") {
		return ""
	}
	return strings.ToLower(strings.Trim(s[i+1:len(s)-1], "'"))
}

func (c *collection) key() (string, error) {
	tok, err := c.dec.Token()
	if err != nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("%w: expected a property name, got %v", errMalformed, tok)
	}
	return s, nil
}

func (c *collection) expectDelim(want json.Delim) error {
	tok, err := c.dec.Token()
	if err != nil {
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("%w: expected %v, got %v", errMalformed, want, tok)
	}
	return nil
}

func newDecoder(r io.Reader) *json.Decoder {
	d := json.NewDecoder(r)
	d.UseNumber()
	return d
}

// skipValue reads past one JSON value of any shape.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			if err == io.EOF {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				depth++
			default:
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
	}
}
