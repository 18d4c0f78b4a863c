package mock

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

func TestFullFetchPaging(t *testing.T) {
	s, path := newServer(t)
	ctx := context.Background()
	must(t, s.Seed(ctx, SeedOptions{Accounts: 103, Seed: 7}))
	c := newConnector(t, path, "dev")

	tests := []struct {
		name      string
		pageSize  int
		wantPages int
	}{
		{"default", 0, 1},
		{"one", 1, 103},
		{"seven", 7, 15},
		{"exact", 103, 1},
		{"capped", sdk.MaxPageSize + 1000, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fetchAll(t, c, sdk.FetchRequest{Entity: "account", PageSize: tt.pageSize})
			if len(r.rows) != 103 || len(r.order) != 103 {
				t.Fatalf("got %d rows (%d unique), want 103", len(r.order), len(r.rows))
			}
			if len(r.pages) != tt.wantPages {
				t.Errorf("got %d pages, want %d", len(r.pages), tt.wantPages)
			}
			for i, p := range r.pages {
				if p.Last != (i == len(r.pages)-1) {
					t.Errorf("page %d: Last = %v", i, p.Last)
				}
				if len(p.Cursor) == 0 {
					t.Errorf("page %d has no cursor", i)
				}
			}
			if r.token == nil {
				t.Fatal("last page has no token")
			}
			rec := r.rows[r.order[0]]
			if len(rec.ID) != 36 || !isGUID(rec.ID) || len(rec.Values) != 10 || rec.Version == "" {
				t.Errorf("odd record %+v", rec)
			}
		})
	}
}

func TestFullFetchResume(t *testing.T) {
	s, path := newServer(t)
	ctx := context.Background()
	must(t, s.Seed(ctx, SeedOptions{Accounts: 50, Seed: 1}))
	c := newConnector(t, path, "dev")
	all := fetchAll(t, c, sdk.FetchRequest{Entity: "account", PageSize: 10})
	// Resuming from page i's cursor yields exactly the rows after it.
	for i, p := range all.pages {
		r := fetchAll(t, c, sdk.FetchRequest{Entity: "account", PageSize: 10, Cursor: p.Cursor})
		want := all.order[(i+1)*10:]
		if !slices.Equal(r.order, want) {
			t.Fatalf("resume after page %d: got %d rows, want %d", i, len(r.order), len(want))
		}
		if string(r.token) != string(all.token) {
			t.Errorf("resume after page %d: token differs", i)
		}
	}
}

func TestFetchFieldSelection(t *testing.T) {
	s, path := newServer(t)
	must(t, s.Seed(context.Background(), SeedOptions{Accounts: 5}))
	c := newConnector(t, path, "dev")
	r := fetchAll(t, c, sdk.FetchRequest{Entity: "account", Fields: []string{"revenue", "name"}})
	p := r.pages[0]
	if !slices.Equal(p.Fields, []string{"revenue", "name"}) || len(p.Columns) != 2 {
		t.Fatalf("fields %v", p.Fields)
	}
	if len(p.Columns[1].Strings) != 5 || p.Columns[1].Strings[0] == "" {
		t.Errorf("names %q", p.Columns[1].Strings)
	}
	r = fetchAll(t, c, sdk.FetchRequest{Entity: "account", Fields: []string{}})
	if len(r.pages[0].Fields) != 0 || len(r.pages[0].IDs) != 5 {
		t.Errorf("empty selection: %d fields, %d ids", len(r.pages[0].Fields), len(r.pages[0].IDs))
	}
}

func TestFetchRejectsBadRequests(t *testing.T) {
	s, path := newServer(t)
	must(t, s.Seed(context.Background(), SeedOptions{Accounts: 3}))
	c := newConnector(t, path, "dev")
	full := fetchAll(t, c, sdk.FetchRequest{Entity: "contact", PageSize: 1})
	other := newServer2(t)

	tests := []struct {
		name string
		req  sdk.FetchRequest
		kind sdk.ErrorKind
	}{
		{"unknown entity", sdk.FetchRequest{Entity: "nope"}, sdk.Permanent},
		{"unknown field", sdk.FetchRequest{Entity: "account", Fields: []string{"nope"}}, sdk.Permanent},
		{"key as field", sdk.FetchRequest{Entity: "account", Fields: []string{"accountid"}}, sdk.Permanent},
		{"field twice", sdk.FetchRequest{Entity: "account", Fields: []string{"name", "name"}}, sdk.Permanent},
		{"negative page", sdk.FetchRequest{Entity: "account", PageSize: -1}, sdk.Permanent},
		{"garbage token", sdk.FetchRequest{Entity: "account", Token: []byte("hello")}, sdk.Permanent},
		{"empty token", sdk.FetchRequest{Entity: "account", Token: []byte{}}, sdk.Permanent},
		{"garbage cursor", sdk.FetchRequest{Entity: "account", Cursor: []byte{0xF5, 1, 2}}, sdk.Permanent},
		{"cursor as token", sdk.FetchRequest{Entity: "account", Token: full.pages[0].Cursor}, sdk.Permanent},
		{"token as cursor", sdk.FetchRequest{Entity: "account", Cursor: full.token}, sdk.Permanent},
		{"cursor of another entity", sdk.FetchRequest{Entity: "account", Cursor: full.pages[0].Cursor}, sdk.Permanent},
		{"token of another server", sdk.FetchRequest{Entity: "account", Token: other}, sdk.TokenExpired},
		{"bad filter op", sdk.FetchRequest{Entity: "account", Filter: &sdk.Filter{Op: "xx", Field: "name"}}, sdk.Permanent},
		{"filter on unknown field", sdk.FetchRequest{Entity: "account", Filter: sdk.Cmp("nope", sdk.OpEq, sdk.String("x"))}, sdk.Permanent},
		{"filter wrong type", sdk.FetchRequest{Entity: "account", Filter: sdk.Cmp("employees", sdk.OpEq, sdk.String("x"))}, sdk.Permanent},
		{"filter bad decimal", sdk.FetchRequest{Entity: "account", Filter: sdk.Cmp("revenue", sdk.OpGt, sdk.String("1e5"))}, sdk.Permanent},
		{"filter empty and", sdk.FetchRequest{Entity: "account", Filter: sdk.And()}, sdk.Permanent},
		{"filter nil child", sdk.FetchRequest{Entity: "account", Filter: sdk.Or(nil)}, sdk.Permanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fetchErr(c, tt.req)
			if err == nil {
				t.Fatal("no error")
			}
			var se *sdk.Error
			if !errors.As(err, &se) || se.Kind != tt.kind {
				t.Fatalf("error %v (kind %s), want kind %s", err, sdk.KindOf(err), tt.kind)
			}
		})
	}
}

// newServer2 returns a token minted by another server file.
func newServer2(t *testing.T) []byte {
	_, path := newServer(t)
	c := newConnector(t, path, "other")
	return fetchAll(t, c, sdk.FetchRequest{Entity: "account"}).token
}

func TestIncrementalFetch(t *testing.T) {
	s, path := newServer(t)
	ctx := context.Background()
	must(t, s.Seed(ctx, SeedOptions{Accounts: 30, Seed: 3}))
	c := newConnector(t, path, "dev")
	full := fetchAll(t, c, sdk.FetchRequest{Entity: "account"})

	// Nothing changed: one empty last page, same high-water mark.
	r := fetchAll(t, c, sdk.FetchRequest{Entity: "account", Token: full.token})
	if len(r.pages) != 1 || len(r.rows) != 0 || len(r.deletes) != 0 {
		t.Fatalf("no changes: %d pages, %d rows, %d deletes", len(r.pages), len(r.rows), len(r.deletes))
	}

	// Update 5, delete 5 (interleaved by version), push-create 1.
	ids := full.order
	for i := 0; i < 10; i++ {
		if i%2 == 0 {
			must(t, s.Exec(ctx, fmt.Sprintf("UPDATE account SET name = 'changed %d' WHERE accountid = '%s'", i, ids[i])))
		} else {
			must(t, s.Exec(ctx, fmt.Sprintf("DELETE FROM account WHERE accountid = '%s'", ids[i])))
		}
	}
	// Page size 1, resuming from every page's cursor through a new call.
	var got []string
	var deletes []string
	req := sdk.FetchRequest{Entity: "account", Token: full.token, PageSize: 1}
	var token []byte
	for calls := 0; token == nil; calls++ {
		if calls > 20 {
			t.Fatal("incremental fetch does not end")
		}
		var cur []byte
		err := c.Fetch(ctx, req, func(p *sdk.Page) error {
			got = append(got, p.IDs...)
			deletes = append(deletes, p.Deletes...)
			if len(p.IDs)+len(p.Deletes) > 1 {
				t.Errorf("page of size 1 holds %d items", len(p.IDs)+len(p.Deletes))
			}
			cur = p.Cursor
			if p.Last {
				token = p.Token
			}
			return errStop // one page per call
		})
		if err != nil && !errors.Is(err, errStop) {
			t.Fatal(err)
		}
		req.Cursor = cur
	}
	want := []string{ids[0], ids[2], ids[4], ids[6], ids[8]}
	if !slices.Equal(got, want) {
		t.Errorf("upserts %v, want %v", got, want)
	}
	wantDel := []string{ids[1], ids[3], ids[5], ids[7], ids[9]}
	if !slices.Equal(deletes, wantDel) {
		t.Errorf("deletes %v, want %v", deletes, wantDel)
	}
	r = fetchAll(t, c, sdk.FetchRequest{Entity: "account", Token: token})
	if len(r.rows)+len(r.deletes) != 0 {
		t.Errorf("changes seen twice: %d rows, %d deletes", len(r.rows), len(r.deletes))
	}
	// Other entities' changes do not show up.
	r = fetchAll(t, c, sdk.FetchRequest{Entity: "contact", Token: full.token})
	if len(r.rows)+len(r.deletes) != 0 {
		t.Errorf("contact changes: %d rows, %d deletes", len(r.rows), len(r.deletes))
	}
}

var errStop = errors.New("stop")

// A row changed while a full read runs comes again in the next incremental
// fetch, whether the read had passed it or not.
func TestChangesDuringFullFetch(t *testing.T) {
	s, path := newServer(t)
	ctx := context.Background()
	must(t, s.Seed(ctx, SeedOptions{Accounts: 40, Seed: 4}))
	c := newConnector(t, path, "dev")
	var first, last string
	pages := 0
	var token []byte
	err := c.Fetch(ctx, sdk.FetchRequest{Entity: "account", PageSize: 10}, func(p *sdk.Page) error {
		pages++
		if pages == 1 {
			first = p.IDs[0]
			must(t, s.Exec(ctx, "UPDATE account SET city = 'During' WHERE accountid = '"+first+"'"))
			must(t, s.Exec(ctx, "INSERT INTO account (name) VALUES ('new during read')"))
		}
		if p.Last {
			token = p.Token
			last = p.IDs[len(p.IDs)-1]
		}
		return nil
	})
	must(t, err)
	r := fetchAll(t, c, sdk.FetchRequest{Entity: "account", Token: token})
	if _, ok := r.rows[first]; !ok {
		t.Errorf("row updated behind the read is missing from the next incremental fetch")
	}
	if len(r.rows) != 2 {
		t.Errorf("incremental after full read: %d rows, want 2", len(r.rows))
	}
	_ = last
}

func TestFetchCancellation(t *testing.T) {
	s, path := newServer(t)
	must(t, s.Seed(context.Background(), SeedOptions{Accounts: 100}))
	c := newConnector(t, path, "dev")
	ctx, cancel := context.WithCancel(context.Background())
	pages := 0
	err := c.Fetch(ctx, sdk.FetchRequest{Entity: "account", PageSize: 10}, func(p *sdk.Page) error {
		pages++
		if pages == 2 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || pages != 2 {
		t.Fatalf("err %v after %d pages", err, pages)
	}
	// The connection went back to the pool in working order.
	r := fetchAll(t, c, sdk.FetchRequest{Entity: "account"})
	if len(r.rows) != 100 {
		t.Fatalf("after cancel: %d rows", len(r.rows))
	}
}

func TestCallbackErrorIsReturned(t *testing.T) {
	s, path := newServer(t)
	must(t, s.Seed(context.Background(), SeedOptions{Accounts: 3}))
	c := newConnector(t, path, "dev")
	err := c.Fetch(context.Background(), sdk.FetchRequest{Entity: "account"}, func(*sdk.Page) error { return errStop })
	if err != errStop {
		t.Fatalf("got %v", err)
	}
}
