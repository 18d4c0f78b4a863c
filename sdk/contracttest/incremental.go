package contracttest

import (
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

// testIncremental: a fetch from a change token returns what changed since
// the token was issued, and nothing else. Device A reads everything and
// keeps the token; device B (a second Connect on the same backend) creates,
// updates and deletes rows; then, on device A:
//
//   - the fetch from the token returns the created rows and the updated one
//     with their new values and versions, and the deleted id in Deletes when
//     the entity TracksDeletes (without it, the deleted id may be missing
//     but is never upserted);
//   - it returns no row of the suite that did not change. Re-sending
//     unchanged rows is harmless for correctness, but a connector that does
//     it on every sync turns "nothing changed" into a full download, so the
//     contract forbids it: a timestamp-based connector has to keep the ids
//     it already sent at the boundary timestamp in its token;
//   - a fetch from the token that fetch ended with, right after, returns
//     nothing of the suite's;
//   - tokens chain: one more change by B shows up, alone, from that token;
//   - a token may be used again (the engine does, when it crashed before it
//     committed the next one): the first token still returns all of B's
//     changes, each row with its newest values.
func testIncremental(t *testing.T, f *fixture) {
	rows := f.create(t, f.a, 6)
	t0 := f.mustFetch(t, f.a, sdk.FetchRequest{Entity: f.ent.Name, PageSize: f.cfg.PageSize}).token

	b := f.connect(t)
	created := f.create(t, b, 3)
	updated := f.update(t, b, rows[2])
	f.remove(t, b, rows[3])

	want := map[string]bool{"u:" + updated.id: true}
	for _, r := range created {
		want["u:"+r.id] = true
	}
	optional := map[string]bool{}
	if f.ent.Capabilities.TracksDeletes {
		want["d:"+rows[3].id] = true
	} else {
		optional["d:"+rows[3].id] = true
	}

	req := sdk.FetchRequest{Entity: f.ent.Name, Token: t0, PageSize: f.cfg.PageSize}
	first := f.mustFetch(t, f.a, req)
	f.checkItems(t, describe(req)+" after device B's changes", first.items, want, optional)
	f.expectRows(t, describe(req), first, append(created, updated))

	req.Token = first.token
	quiet := f.mustFetch(t, f.a, req)
	f.checkItems(t, describe(req)+" from the newest token, with nothing changed since", quiet.items, nil, nil)

	again := f.update(t, b, created[0])
	req.Token = quiet.token
	chained := f.mustFetch(t, f.a, req)
	f.checkItems(t, describe(req)+" from the token of a fetch that returned nothing, after one update", chained.items, map[string]bool{"u:" + again.id: true}, nil)
	f.expectRows(t, describe(req), chained, []row{again})

	req.Token = t0
	reused := f.mustFetch(t, f.a, req)
	f.checkItems(t, describe(req)+" reusing the first token", reused.items, want, optional)
	f.expectRows(t, describe(req)+" reusing the first token", reused, []row{again, created[1], created[2], updated})
}

// testIncrementalResume: cursors of an incremental fetch resume it, as
// cursors of a full fetch do (see testResume): from each page's cursor, with
// the same token, exactly the remaining upserts and deletes.
func testIncrementalResume(t *testing.T, f *fixture) {
	rows := f.create(t, f.a, 20)
	t0 := f.mustFetch(t, f.a, sdk.FetchRequest{Entity: f.ent.Name, PageSize: f.cfg.PageSize}).token

	b := f.connect(t)
	want, optional := map[string]bool{}, map[string]bool{}
	for _, r := range f.create(t, b, 20) {
		want["u:"+r.id] = true
	}
	for _, r := range rows[:7] {
		want["u:"+f.update(t, b, r).id] = true
	}
	for _, r := range rows[7:14] {
		f.remove(t, b, r)
		if f.ent.Capabilities.TracksDeletes {
			want["d:"+r.id] = true
		} else {
			optional["d:"+r.id] = true
		}
	}
	f.checkResume(t, sdk.FetchRequest{Entity: f.ent.Name, Token: t0, PageSize: 7}, want, optional)
}
