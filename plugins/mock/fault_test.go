package mock

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

func TestFaultFailRate(t *testing.T) {
	s, path := newServer(t)
	ctx := context.Background()
	c := newConnector(t, path, "dev")
	must(t, s.SetFaults(ctx, Faults{FailRate: 100}))
	calls := map[string]func() error{
		"fetch":  func() error { _, err := fetchErr(c, sdk.FetchRequest{Entity: "account"}); return err },
		"schema": func() error { _, err := c.Schema(ctx); return err },
		"push": func() error {
			_, err := c.Push(ctx, sdk.PushRequest{Changes: []sdk.Change{{ChangeID: "x", Op: sdk.OpCreate, Entity: "account", Values: vals("name", sdk.String("x"))}}})
			return err
		},
		"list documents": func() error {
			return c.ListDocuments(ctx, sdk.DocumentQuery{}, func(*sdk.DocumentPage) error { return nil })
		},
	}
	for name, call := range calls {
		if err := call(); !sdk.IsRetryable(err) {
			t.Errorf("%s with fail_rate 100: %v", name, err)
		}
	}
	if n, _ := s.Count(ctx, "account"); n != 0 {
		t.Errorf("a failed push applied %d rows", n)
	}
	// Flipped off by plain SQL from "another process".
	must(t, s.Exec(ctx, `UPDATE _fault SET value = 0 WHERE name = 'fail_rate'`))
	for name, call := range calls {
		if err := call(); err != nil {
			t.Errorf("%s with fail_rate 0: %v", name, err)
		}
	}
	// Half the calls fail, roughly.
	must(t, s.SetFaults(ctx, Faults{FailRate: 50}))
	failed := 0
	for range 200 {
		if _, err := c.Schema(ctx); sdk.IsRetryable(err) {
			failed++
		}
	}
	if failed < 50 || failed > 150 {
		t.Errorf("%d of 200 calls failed at fail_rate 50", failed)
	}
	if err := s.SetFaults(ctx, Faults{FailRate: 101}); err == nil {
		t.Error("fail rate 101 accepted")
	}
}

func TestFaultPageDelay(t *testing.T) {
	s, path := newServer(t)
	ctx := context.Background()
	must(t, s.Seed(ctx, SeedOptions{Accounts: 4}))
	c := newConnector(t, path, "dev")
	must(t, s.SetFaults(ctx, Faults{PageDelay: 20 * time.Millisecond}))
	f, err := s.Faults(ctx)
	must(t, err)
	if f.PageDelay != 20*time.Millisecond {
		t.Fatalf("faults %+v", f)
	}
	start := time.Now()
	fetchAll(t, c, sdk.FetchRequest{Entity: "account", PageSize: 1})
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Errorf("4 pages in %v with a 20 ms page delay", d)
	}
	// The delay honours cancellation.
	must(t, s.SetFaults(ctx, Faults{PageDelay: time.Hour}))
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err = c.Fetch(cctx, sdk.FetchRequest{Entity: "account"}, func(*sdk.Page) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v", err)
	}
}

func TestRequestLog(t *testing.T) {
	s, path := newServer(t)
	ctx := context.Background()
	must(t, s.Seed(ctx, SeedOptions{Accounts: 25}))
	_, last, err := s.Requests(ctx, 0)
	must(t, err)
	c := newConnector(t, path, "alice")
	full := fetchAll(t, c, sdk.FetchRequest{Entity: "account", PageSize: 10, Filter: sdk.Cmp("name", sdk.OpNotNull)})
	must(t, s.Exec(ctx, "DELETE FROM account WHERE rowid IN (1, 2)"))
	fetchAll(t, c, sdk.FetchRequest{Entity: "account", Token: full.token})
	push(t, c, sdk.Change{ChangeID: "1", Op: sdk.OpCreate, Entity: "contact", Values: vals("lastname", sdk.String("x"))})
	reqs, _, err := s.Requests(ctx, last)
	must(t, err)
	var fetches []Request
	for _, r := range reqs {
		if r.Op == "fetch" {
			fetches = append(fetches, r)
		}
	}
	if len(fetches) != 2 {
		t.Fatalf("%d fetch requests logged: %+v", len(fetches), reqs)
	}
	f := fetches[0]
	if f.User != "alice" || f.Entity != "account" || f.Rows != 25 || f.Pages != 3 || !strings.Contains(f.Filter, "name not-null") {
		t.Errorf("full fetch logged as %+v", f)
	}
	if f := fetches[1]; f.Rows != 0 || f.Deletes != 2 {
		t.Errorf("incremental fetch logged as %+v", f)
	}
	if p := reqs[len(reqs)-1]; p.Op != "push" || p.Rows != 1 || p.Entity != "contact" {
		t.Errorf("push logged as %+v", p)
	}
}
