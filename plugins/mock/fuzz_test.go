package mock

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

// FuzzCursor feeds arbitrary bytes to Fetch and ListDocuments as tokens and
// cursors: every input is answered with rows or a typed error, never a
// panic, and a malformed one never with a Retryable error (retrying it
// would loop forever).
func FuzzCursor(f *testing.F) {
	s, err := Create(context.Background(), f.TempDir()+"/fuzz.db")
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Seed(ctx, SeedOptions{Accounts: 5, ContactsPerAccount: 1}); err != nil {
		f.Fatal(err)
	}
	c := s.Connector("fuzz")
	// Seeds: real tokens and cursors of every kind, and near misses.
	err = c.Fetch(ctx, sdk.FetchRequest{Entity: "account", PageSize: 2}, func(p *sdk.Page) error {
		f.Add(p.Cursor, false)
		if p.Last {
			f.Add(p.Token, true)
			f.Add(p.Token, false)
		}
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(s.encode(cursor{kind: incCursorKind, high: 3, last: 2}), false)
	f.Add(s.encode(cursor{kind: docCursorKind, last: 1}), false)
	f.Add([]byte{cursorMagic, cursorFormat, byte(tokenKind)}, true)
	f.Add([]byte{}, true)
	f.Add(append(s.encode(cursor{kind: tokenKind, high: 1}), 0xFF), true)
	f.Add(append(s.encode(cursor{kind: tokenKind}), 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01), true)

	f.Fuzz(func(t *testing.T, b []byte, asToken bool) {
		req := sdk.FetchRequest{Entity: "account", PageSize: 2}
		if asToken {
			req.Token = b
		} else {
			req.Cursor = b
		}
		err := c.Fetch(ctx, req, func(p *sdk.Page) error {
			if len(p.Fields) != 10 || len(p.Columns) != 10 {
				return errors.New("odd page")
			}
			return nil
		})
		if err != nil && err.Error() == "odd page" {
			t.Fatal("a page without the entity's ten fields")
		}
		if err != nil && sdk.IsRetryable(err) {
			t.Fatalf("retryable error for a bad cursor: %v", err)
		}
		err = c.ListDocuments(ctx, sdk.DocumentQuery{Cursor: b}, func(*sdk.DocumentPage) error { return nil })
		if err != nil && sdk.IsRetryable(err) {
			t.Fatalf("retryable error for a bad document cursor: %v", err)
		}
	})
}

// FuzzFilter builds filter trees from arbitrary bytes: a filter either runs
// or is refused with a Permanent error.
func FuzzFilter(f *testing.F) {
	s, err := Create(context.Background(), f.TempDir()+"/fuzz.db")
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Seed(ctx, SeedOptions{Accounts: 20}); err != nil {
		f.Fatal(err)
	}
	c := s.Connector("fuzz")
	f.Add([]byte{0, 1, 2, 3})
	f.Add([]byte{5, 0, 7, 7, 1, 9, 9, 2, 200, 3, 4})
	f.Add([]byte("like %a% begins"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fb := filterBytes{b: b}
		filter := fb.node(0)
		req := sdk.FetchRequest{Entity: "account", Filter: filter}
		err := c.Fetch(ctx, req, func(*sdk.Page) error { return nil })
		if err != nil && sdk.KindOf(err) != sdk.Permanent {
			t.Fatalf("filter %s: %v", filterText(filter), err)
		}
		req.Token = s.encode(cursor{kind: tokenKind})
		err = c.Fetch(ctx, req, func(*sdk.Page) error { return nil })
		if err != nil && sdk.KindOf(err) != sdk.Permanent {
			t.Fatalf("incremental, filter %s: %v", filterText(filter), err)
		}
	})
}

type filterBytes struct {
	b []byte
	i int
}

func (fb *filterBytes) next() byte {
	if fb.i >= len(fb.b) {
		return 0
	}
	fb.i++
	return fb.b[fb.i-1]
}

var fuzzOps = append(append([]sdk.FilterOp(nil), sdk.FilterOps...), "bogus")

var fuzzFields = []string{"name", "accountnumber", "email", "city", "employees", "revenue", "rating", "active",
	"createdon", "industrycode", "accountid", "nope", ""}

func (fb *filterBytes) node(depth int) *sdk.Filter {
	if fb.i >= len(fb.b) && depth > 0 {
		return nil
	}
	op := fuzzOps[int(fb.next())%len(fuzzOps)]
	f := &sdk.Filter{Op: op}
	switch op {
	case sdk.OpAnd, sdk.OpOr, sdk.OpNot:
		if depth > 40 {
			return f
		}
		n := int(fb.next() % 4)
		for range n {
			f.Children = append(f.Children, fb.node(depth+1))
		}
		return f
	}
	f.Field = fuzzFields[int(fb.next())%len(fuzzFields)]
	n := int(fb.next() % 4)
	for range n {
		f.Values = append(f.Values, fb.value())
	}
	return f
}

func (fb *filterBytes) value() sdk.Value {
	switch fb.next() % 7 {
	case 0:
		return sdk.Null()
	case 1:
		l := int(fb.next() % 8)
		s := make([]byte, 0, l)
		for range l {
			s = append(s, fb.next())
		}
		return sdk.String(string(s))
	case 2:
		return sdk.Int(int64(fb.next()) - 100)
	case 3:
		return sdk.Float([]float64{math.NaN(), math.Inf(1), 0.5, -3}[fb.next()%4])
	case 4:
		return sdk.Bool(fb.next()%2 == 0)
	case 5:
		return sdk.Bytes([]byte{fb.next()})
	}
	return sdk.String([]string{"1.5", "-0", "00.10", "1e5", ".5", "12.", "99"}[fb.next()%7])
}

// FuzzFilterText runs admin-written filter text through the whole path a
// configuration takes: parse, convert to an entity's field types, compile
// to SQL and run, as a user of the server. Every step either works or
// refuses with a clear error; the SQL the compiler writes always runs.
func FuzzFilterText(f *testing.F) {
	ctx := context.Background()
	s, err := Create(ctx, f.TempDir()+"/fuzz.db")
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	if err := s.Seed(ctx, SeedOptions{Accounts: 10, ContactsPerAccount: 1, OpportunitiesPerAccount: 1}); err != nil {
		f.Fatal(err)
	}
	if _, err := s.AddUser(ctx, "fuzz", "b0000000-0000-4000-8000-000000000001"); err != nil {
		f.Fatal(err)
	}
	c := s.Connector("fuzz")
	schema, err := c.Schema(ctx)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		"city eq 'Oslo' and employees gt 10",
		"parentaccountid link (city begins-with 'B' or not active eq true)",
		"ownerid eq-useroruserteams or closedate last-x-days 30",
		"industrycode in (1, 2, 3) and revenue ge 10.5",
		"createdon on-or-after 2026-01-01 and name like '%a_'",
		"accountid link (name null)",
	} {
		f.Add(uint8(0), seed)
		f.Add(uint8(1), seed)
		f.Add(uint8(2), seed)
	}
	f.Fuzz(func(t *testing.T, which uint8, text string) {
		ent := &schema.Entities[int(which)%len(schema.Entities)]
		parsed, err := sdk.ParseFilter(text)
		if err != nil {
			return
		}
		typed, err := parsed.Coerce(schema, ent)
		if err != nil {
			return
		}
		err = c.Fetch(ctx, sdk.FetchRequest{Entity: ent.Name, Filter: typed}, func(*sdk.Page) error { return nil })
		if err != nil && sdk.KindOf(err) != sdk.Permanent {
			t.Fatalf("%s: filter %q: %v", ent.Name, text, err)
		}
	})
}
