package dataverse

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/fieldsync/fieldsync/sdk"
)

// readItemTokens is the row reader as it was, walking the row token by
// token: the oracle parseItem must agree with.
func (c *collection) readItemTokens(e *entity, slots map[string]int, fields []*field, vals []sdk.Value) (item, error) {
	var it item
	for i := range vals {
		vals[i] = sdk.Null()
	}
	if err := c.expectDelim('{'); err != nil {
		return it, err
	}
	var delID, atID string
	for c.dec.More() {
		key, err := c.key()
		if err != nil {
			return it, err
		}
		if slot, ok := slots[key]; ok {
			tok, err := c.dec.Token()
			if err != nil {
				return it, err
			}
			if d, isDelim := tok.(json.Delim); isDelim {
				return it, fmt.Errorf("%w: %s holds %v", errMalformed, key, d)
			}
			if vals[slot], err = decodeValue(fields[slot], tok); err != nil {
				return it, err
			}
			continue
		}
		switch key {
		case e.pk, "@odata.etag", "@odata.context", "id", "@id":
			tok, err := c.dec.Token()
			if err != nil {
				return it, err
			}
			s, _ := tok.(string)
			if _, isDelim := tok.(json.Delim); isDelim {
				return it, fmt.Errorf("%w: %s holds %v", errMalformed, key, tok)
			}
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
			if err := skipValue(c.dec); err != nil {
				return it, err
			}
		default:
			if err := skipValue(c.dec); err != nil {
				return it, err
			}
		}
	}
	if err := c.expectDelim('}'); err != nil {
		return it, err
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

// FuzzParseItemMatchesTokens: for any collection, reading its rows with
// parseItem gives the same rows, values and failures as the token walk.
func FuzzParseItemMatchesTokens(f *testing.F) {
	for _, s := range []string{
		`{"value":[{"@odata.etag":"W/\"1\"","accountid":"AAAAAAAA-0000-0000-0000-000000000001","name":"x\u00e9\"q","numberofemployees":3,"revenue":12.50,"createdon":"2026-01-02T03:04:05Z"}]}`,
		`{"value":[{"@odata.context":"x/$deletedEntity","id":"A","reason":"deleted"},{"@removed":{"reason":"deleted"},"@id":"accounts(b)"}]}`,
		`{"value":[{"accountid":"a","name":{"nested":[1,"}",2]}}]}`,
		`{"value":[{"accountid":"a","name":null,"numberofemployees":"7","other":[{"a":"]"}]}]}`,
		`{"value":[ { "accountid" : "a" , "name" : "\ud83d\ude00" } , {"name":"no key"} ]}`,
		"{\"value\":[{\"accountid\":\"a\",\"name\":\"\xff\xfe\"}]}",
		`{"value":[{"accountid":"a","numberofemployees":1.5e3,"revenue":"1e2"}]}`,
		`{"value":[1,"x",{"accountid":true}]}`,
	} {
		f.Add(s)
	}
	m := loadTestModel(f)
	e := m.byName["account"]
	fields := []*field{e.byName["name"], e.byName["numberofemployees"], e.byName["createdon"], e.byName["revenue"]}
	slots := map[string]int{"name": 0, "numberofemployees": 1, "createdon": 2, "revenue": 3}
	f.Fuzz(func(t *testing.T, in string) {
		a, errA := openCollection(strings.NewReader(in))
		b, errB := openCollection(strings.NewReader(in))
		if (errA == nil) != (errB == nil) {
			t.Fatalf("open: %v / %v", errA, errB)
		}
		if errA != nil {
			return
		}
		va, vb := make([]sdk.Value, len(fields)), make([]sdk.Value, len(fields))
		for i := 0; i < 200; i++ {
			moreA, errA := a.more()
			moreB, errB := b.more()
			if moreA != moreB || (errA == nil) != (errB == nil) {
				t.Fatalf("row %d: more %v/%v, %v/%v", i, moreA, moreB, errA, errB)
			}
			if errA != nil || !moreA {
				return
			}
			itA, errA := a.readItem(e, slots, fields, va)
			itB, errB := b.readItemTokens(e, slots, fields, vb)
			if (errA == nil) != (errB == nil) {
				t.Fatalf("row %d of %q: parseItem error %v, token walk error %v", i, in, errA, errB)
			}
			if errA != nil {
				return
			}
			if itA != itB || !reflect.DeepEqual(fmt.Sprint(va), fmt.Sprint(vb)) {
				t.Fatalf("row %d of %q:\n parseItem %+v %v\n tokens    %+v %v", i, in, itA, va, itB, vb)
			}
		}
	})
}

var _ = json.Delim('{')

// TestFormatGUID: the TDS reader's GUID text is the driver's, lower-cased.
func TestFormatGUID(t *testing.T) {
	for _, raw := range [][16]byte{{}, {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0xff}} {
		var u mssql.UniqueIdentifier
		if err := u.Scan(raw[:]); err != nil {
			t.Fatal(err)
		}
		if got, want := formatGUID(u), strings.ToLower(u.String()); got != want {
			t.Errorf("formatGUID %s, want %s", got, want)
		}
	}
}
