package mock

import (
	"context"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

func TestTokenExpiry(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		expire func(*Server) error
	}{
		{"purge tombstones", func(s *Server) error { _, err := s.PurgeTombstones(ctx); return err }},
		{"expire tokens", func(s *Server) error { return s.ExpireTokens(ctx) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := newServer(t)
			must(t, s.Seed(ctx, SeedOptions{Accounts: 20, Seed: 5}))
			c := newConnector(t, path, "dev")
			full := fetchAll(t, c, sdk.FetchRequest{Entity: "account", PageSize: 5})
			must(t, s.Exec(ctx, "DELETE FROM account WHERE rowid = 3"))
			// A token taken before the purge expires; the full cursor too.
			must(t, tt.expire(s))
			for _, req := range []sdk.FetchRequest{
				{Entity: "account", Token: full.token},
				{Entity: "account", Cursor: full.pages[0].Cursor},
			} {
				_, err := fetchErr(c, req)
				if sdk.KindOf(err) != sdk.TokenExpired || err == nil {
					t.Fatalf("got %v, want a token-expired error", err)
				}
			}
			// A resync's token works.
			again := fetchAll(t, c, sdk.FetchRequest{Entity: "account"})
			if len(again.rows) != 19 {
				t.Errorf("resync: %d rows", len(again.rows))
			}
			r := fetchAll(t, c, sdk.FetchRequest{Entity: "account", Token: again.token})
			if len(r.rows)+len(r.deletes) != 0 {
				t.Errorf("after resync: %d rows, %d deletes", len(r.rows), len(r.deletes))
			}
		})
	}
}

// A purge between the pages of an incremental fetch expires it at the next
// page: the deletes it would have sent are gone.
func TestPurgeDuringIncremental(t *testing.T) {
	s, path := newServer(t)
	ctx := context.Background()
	must(t, s.Seed(ctx, SeedOptions{Accounts: 10}))
	c := newConnector(t, path, "dev")
	full := fetchAll(t, c, sdk.FetchRequest{Entity: "account"})
	must(t, s.Exec(ctx, "UPDATE account SET city = 'x'"))
	pages := 0
	err := c.Fetch(ctx, sdk.FetchRequest{Entity: "account", Token: full.token, PageSize: 3}, func(p *sdk.Page) error {
		pages++
		if pages == 1 {
			_, err := s.PurgeTombstones(ctx)
			return err
		}
		return nil
	})
	if sdk.KindOf(err) != sdk.TokenExpired || err == nil || pages != 1 {
		t.Fatalf("after %d pages: %v", pages, err)
	}
}

func TestTokenFromTheFuture(t *testing.T) {
	s, path := newServer(t)
	ctx := context.Background()
	c := newConnector(t, path, "dev")
	tok := s.encode(cursor{kind: tokenKind, high: 1 << 40})
	_, err := fetchErr(c, sdk.FetchRequest{Entity: "account", Token: tok})
	if sdk.KindOf(err) != sdk.TokenExpired || err == nil {
		t.Fatalf("got %v", err)
	}
	_ = ctx
}
