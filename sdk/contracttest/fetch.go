package contracttest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

// testFullFetch: a full fetch returns every row exactly once, with the values
// and version its push left, in pages of at most the requested size, the
// last one marked Last with a change token (see fixture.check for the page
// rules every fetch obeys).
func testFullFetch(t *testing.T, f *fixture) {
	rows := f.create(t, f.a, f.cfg.Rows)
	req := sdk.FetchRequest{Entity: f.ent.Name, PageSize: f.cfg.PageSize}
	got := f.mustFetch(t, f.a, req)
	f.expectRows(t, describe(req), got, rows)
	for _, r := range rows {
		if got.deletes[r.id] {
			t.Errorf("%s lists live row %q as deleted", describe(req), r.id)
		}
	}
}

// testResume: the cursor of any page resumes the fetch right after that
// page. For every page k but the last, a fetch with the same request plus
// page k's cursor returns exactly the rows pages k+1.. returned: together
// with pages 1..k every row once, none twice. This is what lets the engine
// commit a page with its cursor and, after a crash, go on where it stopped.
func testResume(t *testing.T, f *fixture) {
	rows := f.create(t, f.a, f.cfg.Rows)
	req := sdk.FetchRequest{Entity: f.ent.Name, PageSize: f.cfg.PageSize}
	want := map[string]bool{}
	for _, r := range rows {
		want["u:"+r.id] = true
	}
	f.checkResume(t, req, want, nil)
}

// checkResume fetches req, then resumes it from each page's cursor. want are
// the items (see fetched.items) the fetch must deliver; optional may be
// delivered or not, but at most once.
func (f *fixture) checkResume(t *testing.T, req sdk.FetchRequest, want, optional map[string]bool) {
	t.Helper()
	base := f.mustFetch(t, f.a, req)
	f.checkItems(t, describe(req), base.items, want, optional)
	if len(base.pages) < 3 {
		t.Fatalf("%s returned %d pages; resuming needs at least 3 (raise Config.Rows or lower Config.PageSize)", describe(req), len(base.pages))
	}
	for k := 0; k < len(base.pages)-1; k++ {
		p := base.pages[k]
		if p == nil || len(p.Cursor) == 0 {
			continue // reported by check
		}
		resumed := req
		resumed.Cursor = p.Cursor
		got := f.mustFetch(t, f.a, resumed)
		items := append(slices.Clone(base.items[:k+1]), got.items...)
		f.checkItems(t, fmt.Sprintf("pages 1..%d of %s, then the fetch resumed from page %d's cursor", k+1, describe(req), k+1), items, want, optional)
	}
}

// checkItems checks that pages deliver every wanted item once, optional ones
// at most once, and nothing twice.
func (f *fixture) checkItems(t *testing.T, where string, pages [][]string, want, optional map[string]bool) {
	t.Helper()
	count := map[string]int{}
	for _, items := range pages {
		for _, it := range items {
			count[it]++
		}
	}
	var missing, twice, extra []string
	for it := range want {
		if count[it] == 0 {
			missing = append(missing, it)
		}
	}
	for it, n := range count {
		if n > 1 {
			twice = append(twice, it)
		}
		if !want[it] && !optional[it] && f.ours(it) {
			extra = append(extra, it)
		}
	}
	report := func(what string, items []string) {
		t.Helper()
		if len(items) == 0 {
			return
		}
		slices.Sort(items)
		more := ""
		if len(items) > 5 {
			more = fmt.Sprintf(" and %d more", len(items)-5)
			items = items[:5]
		}
		t.Errorf("%s: %s (u: upsert, d: delete) %q%s", where, what, items, more)
	}
	report("missing", missing)
	report("delivered twice", twice)
	report("unexpected", extra)
}

// ours reports whether an item names a row of this subtest; rows a backend
// held before are none of the suite's business.
func (f *fixture) ours(item string) bool {
	_, ok := f.written[item[2:]]
	return ok
}

// testFieldSelection: FetchRequest.Fields selects exactly those columns, in
// any order (fixture.check compares every page's Fields with the
// selection), with the values the rows were written with.
func testFieldSelection(t *testing.T, f *fixture) {
	names := f.ent.FieldNames()
	if len(names) == 0 {
		t.Skipf("entity %q has no fields besides its key", f.ent.Name)
	}
	rows := f.create(t, f.a, 10)
	selections := [][]string{{names[0]}}
	if len(names) > 1 {
		selections = append(selections, []string{names[len(names)-1], names[0]})
	}
	for _, fields := range selections {
		req := sdk.FetchRequest{Entity: f.ent.Name, Fields: fields, PageSize: 4}
		f.expectRows(t, describe(req), f.mustFetch(t, f.a, req), rows)
	}
}
