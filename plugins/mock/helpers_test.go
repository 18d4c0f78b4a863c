package mock

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

// newServer creates a fresh server file with the default model.
func newServer(t testing.TB) (*Server, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "server.db")
	s, err := Create(context.Background(), path)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// newConnector opens a connector of its own (its own connections, as a
// separate device process would have) on path.
func newConnector(t testing.TB, path, user string) *Connector {
	t.Helper()
	c, err := New(context.Background(), path, Options{User: user})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// result is everything a fetch delivered.
type result struct {
	rows    map[string]sdk.Record
	order   []string
	deletes []string
	pages   []*sdk.Page
	token   []byte
}

// fetchAll runs a fetch to its end, checking every page's shape.
func fetchAll(t testing.TB, c sdk.Connector, req sdk.FetchRequest) result {
	t.Helper()
	r, err := fetchErr(c, req)
	if err != nil {
		t.Fatalf("Fetch %s: %v", req.Entity, err)
	}
	return r
}

func fetchErr(c sdk.Connector, req sdk.FetchRequest) (result, error) {
	ctx := context.Background()
	r := result{rows: map[string]sdk.Record{}}
	schema, err := c.Schema(ctx)
	if err != nil {
		return r, err
	}
	e := schema.Entity(req.Entity)
	err = c.Fetch(ctx, req, func(p *sdk.Page) error {
		var kinds []sdk.Kind
		for _, f := range p.Fields {
			if e == nil || e.Field(f) == nil {
				return sdk.Errorf(sdk.Permanent, "page names unknown field %q", f)
			}
			kinds = append(kinds, e.Field(f).Type.Kind())
		}
		if err := p.Validate(kinds); err != nil {
			return err
		}
		for i := range p.IDs {
			rec := p.Row(kinds, i)
			r.rows[rec.ID] = rec
			r.order = append(r.order, rec.ID)
		}
		r.deletes = append(r.deletes, p.Deletes...)
		r.pages = append(r.pages, p)
		if p.Last {
			r.token = p.Token
		}
		return nil
	})
	return r, err
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func fetchReq(entity string) sdk.FetchRequest { return sdk.FetchRequest{Entity: entity} }

func containsVerb(s string) bool { return strings.Contains(s, "%") }

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func containsByte(s string, b byte) bool { return strings.IndexByte(s, b) >= 0 }

func lower(s string) string { return strings.ToLower(s) }
