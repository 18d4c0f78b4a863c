package contracttest

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

// grace is how long a call may take to return once its context has ended.
// The contract says cancellation stops a call "promptly"; five seconds is
// generous for any transport and short enough to keep a hung suite visible.
const grace = 5 * time.Second

// fixture is one subtest's world: a fresh backend, a first device on it, and
// what that device says about itself.
type fixture struct {
	*suite
	backend Backend
	a       sdk.Connector // device A; device B comes from connect
	info    sdk.Info
	schema  *sdk.Schema
	ent     *sdk.Entity
	written map[string]bool // ids of the rows this subtest created
}

func (s *suite) setup(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{suite: s, backend: s.cfg.NewBackend(t), written: map[string]bool{}}
	if f.backend == nil {
		t.Fatal("Config.NewBackend returned a nil Backend")
	}
	f.a = f.connect(t)
	err := f.call(t, "Info", func(ctx context.Context) (err error) {
		f.info, err = f.a.Info(ctx)
		return err
	})
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	err = f.call(t, "Schema", func(ctx context.Context) (err error) {
		f.schema, err = f.a.Schema(ctx)
		return err
	})
	if err != nil {
		t.Fatalf("Schema: %v", err)
	}
	if f.schema == nil {
		t.Fatal("Schema returned a nil schema and no error")
	}
	if f.ent = f.schema.Entity(s.cfg.Entity); f.ent == nil {
		var names []string
		for _, e := range f.schema.Entities {
			names = append(names, e.Name)
		}
		t.Fatalf("Schema has no entity %q (Config.Entity); it offers %q", s.cfg.Entity, names)
	}
	if caps := f.ent.Capabilities; !caps.Push || !caps.Incremental {
		t.Fatalf("entity %q must offer Push and Incremental for the suite to test it (capabilities %+v)", f.ent.Name, caps)
	}
	return f
}

// connect opens one more device on the fixture's backend and closes it when
// the subtest ends.
func (f *fixture) connect(t *testing.T) sdk.Connector {
	t.Helper()
	c := f.backend.Connect(t)
	if c == nil {
		t.Fatal("Backend.Connect returned a nil connector")
	}
	t.Cleanup(func() {
		// The Close subtest judges Close; here a second Close only has to
		// not take the test binary down.
		defer func() { _ = recover() }()
		ctx, cancel := context.WithTimeout(context.Background(), f.cfg.Timeout)
		defer cancel()
		_ = c.Close(ctx)
	})
	return c
}

// call runs one connector call under the configured timeout; see guard.
func (f *fixture) call(t *testing.T, what string, fn func(ctx context.Context) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), f.cfg.Timeout)
	defer cancel()
	return guard(t, ctx, what, fn)
}

// guard runs fn on its own goroutine so that a panic in the connector becomes
// a failure of the subtest rather than of the whole test binary, and a call
// that ignores its context is reported instead of hanging the run. A
// goroutine stuck in such a call is abandoned.
func guard(t *testing.T, ctx context.Context, what string, fn func(ctx context.Context) error) error {
	t.Helper()
	type outcome struct {
		err      error
		panicked any
		stack    []byte
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		defer func() {
			if r := recover(); r != nil {
				o.panicked, o.stack = r, debug.Stack()
			}
			done <- o
		}()
		o.err = fn(ctx)
	}()
	var o outcome
	select {
	case o = <-done:
	case <-ctx.Done():
		timer := time.NewTimer(grace)
		defer timer.Stop()
		select {
		case o = <-done:
		case <-timer.C:
			t.Fatalf("%s did not return within %v after its context ended (%v): a connector must stop when its context is cancelled", what, grace, context.Cause(ctx))
		}
	}
	if o.panicked != nil {
		t.Fatalf("%s panicked: %v\n%s", what, o.panicked, o.stack)
	}
	return o.err
}

// fetch runs one Fetch and keeps every page; the callee owns a page once
// the callback has it, so keeping them is allowed.
func (f *fixture) fetch(t *testing.T, c sdk.Connector, req sdk.FetchRequest) ([]*sdk.Page, error) {
	t.Helper()
	var pages []*sdk.Page
	err := f.call(t, describe(req), func(ctx context.Context) error {
		return c.Fetch(ctx, req, func(p *sdk.Page) error {
			pages = append(pages, p)
			return nil
		})
	})
	return pages, err
}

// mustFetch fetches and checks the pages' shape (see check); a fetch error
// ends the subtest.
func (f *fixture) mustFetch(t *testing.T, c sdk.Connector, req sdk.FetchRequest) *fetched {
	t.Helper()
	pages, err := f.fetch(t, c, req)
	if err != nil {
		t.Fatalf("%s: %v", describe(req), err)
	}
	return f.check(t, req, pages)
}

// fetched is a fetch's pages, read back into rows.
type fetched struct {
	pages   []*sdk.Page
	rows    map[string]sdk.Record // upserted rows by id
	deletes map[string]bool
	items   [][]string // per page, "u:"+id for an upsert and "d:"+id for a delete
	token   []byte
}

func (r *fetched) String() string {
	return fmt.Sprintf("%d pages, %d rows, %d deletes", len(r.pages), len(r.rows), len(r.deletes))
}

// check enforces what every fetch owes its caller, whatever it asked for:
//
//   - every page passes Page.Validate for the kinds of its fields, names
//     only fields of the entity, and exactly the selected fields (all of
//     them when FetchRequest.Fields is nil, none with IDsOnly), in any order;
//   - no page holds more rows plus deletes than the page size asked for, nor
//     more than sdk.MaxPageSize: the page size bounds memory on both sides;
//   - every page but the last carries a cursor; exactly the last page is
//     marked Last and carries a non-empty change token;
//   - no id is upserted twice, deleted twice, or both upserted and deleted
//     in one fetch, so applying the pages in any order gives one answer.
func (f *fixture) check(t *testing.T, req sdk.FetchRequest, pages []*sdk.Page) *fetched {
	t.Helper()
	desc := describe(req)
	res := &fetched{pages: pages, rows: map[string]sdk.Record{}, deletes: map[string]bool{}}
	want := req.Fields
	switch {
	case req.IDsOnly:
		want = []string{}
	case want == nil:
		want = f.ent.FieldNames()
	}
	want = slices.Sorted(slices.Values(want))
	seen := map[string]int{} // id -> page number
	if len(pages) == 0 {
		t.Errorf("%s delivered no page; every fetch ends with a Last page carrying a change token", desc)
	}
	for i, p := range pages {
		where := fmt.Sprintf("%s: page %d of %d", desc, i+1, len(pages))
		res.items = append(res.items, nil)
		if p == nil {
			t.Errorf("%s is nil", where)
			continue
		}
		kinds, err := f.kinds(p.Fields)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		if err := p.Validate(kinds); err != nil {
			t.Errorf("%s is malformed: %v", where, err)
			continue
		}
		if got := slices.Sorted(slices.Values(p.Fields)); !slices.Equal(got, want) {
			t.Errorf("%s has fields %q, want %q", where, got, want)
		}
		n := p.Len() + len(p.Deletes)
		if req.PageSize > 0 && n > req.PageSize {
			t.Errorf("%s holds %d rows and deletes, more than the page size %d asked for", where, n, req.PageSize)
		}
		if n > sdk.MaxPageSize {
			t.Errorf("%s holds %d rows and deletes, more than sdk.MaxPageSize", where, n)
		}
		last := i == len(pages)-1
		switch {
		case p.Last && !last:
			t.Errorf("%s is marked Last, yet %d more pages followed", where, len(pages)-1-i)
		case !p.Last && last:
			t.Errorf("%s is the final page but not marked Last", where)
		case last && len(p.Token) == 0:
			t.Errorf("%s is the Last page but carries no change token", where)
		case !last && len(p.Cursor) == 0:
			t.Errorf("%s carries no cursor, so the fetch cannot resume after it", where)
		}
		for j, id := range p.IDs {
			if first, dup := seen[id]; dup {
				t.Errorf("%s repeats id %q, already delivered on page %d", where, id, first)
				continue
			}
			seen[id] = i + 1
			res.rows[id] = p.Row(kinds, j)
			res.items[i] = append(res.items[i], "u:"+id)
		}
		for _, id := range p.Deletes {
			if first, dup := seen[id]; dup {
				t.Errorf("%s deletes id %q, already delivered on page %d", where, id, first)
				continue
			}
			seen[id] = i + 1
			res.deletes[id] = true
			res.items[i] = append(res.items[i], "d:"+id)
		}
		if last {
			res.token = p.Token
		}
	}
	return res
}

// kinds returns the storage kind of each named field of the entity.
func (f *fixture) kinds(fields []string) ([]sdk.Kind, error) {
	kinds := make([]sdk.Kind, len(fields))
	dup := map[string]bool{}
	for i, name := range fields {
		fd := f.ent.Field(name)
		if fd == nil {
			return nil, fmt.Errorf("names field %q, which entity %q does not have", name, f.ent.Name)
		}
		if dup[name] {
			return nil, fmt.Errorf("names field %q twice", name)
		}
		dup[name] = true
		kinds[i] = fd.Type.Kind()
	}
	return kinds, nil
}

// describe names a fetch request in failure messages.
func describe(req sdk.FetchRequest) string {
	var b strings.Builder
	if req.Token == nil {
		b.WriteString("full fetch")
	} else {
		b.WriteString("incremental fetch")
	}
	fmt.Fprintf(&b, " of %q", req.Entity)
	if req.Fields != nil {
		fmt.Fprintf(&b, " fields %q", req.Fields)
	}
	if req.Filter != nil {
		fmt.Fprintf(&b, " filter %s", formatFilter(req.Filter))
	}
	if req.Cursor != nil {
		b.WriteString(" resumed from a cursor")
	}
	if req.PageSize > 0 {
		fmt.Fprintf(&b, " (page size %d)", req.PageSize)
	}
	return b.String()
}

// formatFilter writes a filter as text for failure messages.
func formatFilter(f *sdk.Filter) string {
	if f == nil {
		return "<nil>"
	}
	switch f.Op {
	case sdk.OpAnd, sdk.OpOr, sdk.OpNot:
		parts := make([]string, len(f.Children))
		for i, c := range f.Children {
			parts[i] = formatFilter(c)
		}
		return fmt.Sprintf("%s(%s)", f.Op, strings.Join(parts, ", "))
	}
	vals := make([]string, len(f.Values))
	for i, v := range f.Values {
		vals[i] = v.String()
	}
	return strings.TrimSpace(fmt.Sprintf("%s %s %s", f.Field, f.Op, strings.Join(vals, ",")))
}
