package contracttest

import (
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

// testPush: a batch of creates, updates and deletes is applied in order and
// answered per change in request order, each result carrying the change id
// and the row's id (the client-chosen one when the entity has ClientIDs, the
// requested one for updates and deletes). An update moves the version; a
// full fetch, from this device and from another, then shows the new values
// and versions and no longer shows the deleted row.
func testPush(t *testing.T, f *fixture) {
	rows := f.create(t, f.a, 2)
	x, y := rows[0], rows[1]
	if x.version == "" {
		t.Logf("the connector answers creates with no row version; the suite cannot check versions")
	}

	i, j := f.index(), f.index()
	upd := sdk.Change{ChangeID: f.changeID(), Op: sdk.OpUpdate, Entity: f.ent.Name, ID: x.id, BaseVersion: x.version, Values: f.values(t, i)}
	del := sdk.Change{ChangeID: f.changeID(), Op: sdk.OpDelete, Entity: f.ent.Name, ID: y.id, BaseVersion: y.version}
	zvals := f.values(t, j)
	res := f.mustApply(t, f.a, upd, del, f.createChange(j, zvals))
	if x.version != "" && (res[0].Version == "" || res[0].Version == x.version) {
		t.Errorf("update of %q from version %q answered version %q; a version must change when the row does", x.id, x.version, res[0].Version)
	}
	x = row{i: i, id: x.id, version: res[0].Version, values: upd.Values}
	z := row{i: j, id: res[2].ID, version: res[2].Version, values: zvals}
	f.written[z.id] = true

	for _, dev := range []struct {
		name string
		c    sdk.Connector
	}{{"the pushing device", f.a}, {"another device", f.connect(t)}} {
		req := sdk.FetchRequest{Entity: f.ent.Name, PageSize: f.cfg.PageSize}
		got := f.mustFetch(t, dev.c, req)
		where := describe(req) + " on " + dev.name + " after the push"
		f.expectRows(t, where, got, []row{x, z})
		if _, ok := got.rows[y.id]; ok {
			t.Errorf("%s still returns deleted row %q", where, y.id)
		}
	}
}

// testConflicts: the server refuses a change made against a version it has
// moved past, and says what it holds instead, so the engine can run the
// entity's conflict policy with all three versions at hand.
//
//   - An update or delete whose BaseVersion is stale is answered with
//     StatusConflict and Current: the server's row with its id, version and
//     values. It is not applied.
//   - An update of a row deleted on the server is a conflict with no Current
//     row (and ServerDeleted set, as sdk.ChangeResult asks).
//   - A delete of a row deleted on the server may be applied (deleting is
//     idempotent) or answered with that conflict, but it is not a failure.
//
// A connector that answers no row versions cannot detect stale changes; the
// subtest is skipped for it, saying so.
func testConflicts(t *testing.T, f *fixture) {
	x := f.create(t, f.a, 1)[0]
	if x.version == "" {
		t.Skip("the connector answers creates with no row version, so it cannot detect stale changes")
	}
	b := f.connect(t)
	server := f.update(t, b, x) // device B moves the row on

	stale := sdk.Change{ChangeID: f.changeID(), Op: sdk.OpUpdate, Entity: f.ent.Name, ID: x.id, BaseVersion: x.version, Values: f.values(t, f.index())}
	f.expectConflict(t, "update against a stale version", f.push(t, f.a, stale)[0], server)
	staleDel := sdk.Change{ChangeID: f.changeID(), Op: sdk.OpDelete, Entity: f.ent.Name, ID: x.id, BaseVersion: x.version}
	f.expectConflict(t, "delete against a stale version", f.push(t, f.a, staleDel)[0], server)

	req := sdk.FetchRequest{Entity: f.ent.Name, PageSize: f.cfg.PageSize}
	f.expectRows(t, describe(req)+" after two refused stale changes", f.mustFetch(t, f.a, req), []row{server})

	f.remove(t, b, server)
	gone := sdk.Change{ChangeID: f.changeID(), Op: sdk.OpUpdate, Entity: f.ent.Name, ID: x.id, BaseVersion: server.version, Values: f.values(t, f.index())}
	switch r := f.push(t, f.a, gone)[0]; {
	case r.Status != sdk.StatusConflict:
		t.Errorf("update of %q, deleted on the server: %s, want a conflict with ServerDeleted", x.id, describeResult(r))
	case r.Current != nil:
		t.Errorf("update of %q, deleted on the server: conflict with a current row (version %q); a deleted row has none", x.id, r.Current.Version)
	case !r.ServerDeleted:
		t.Logf("update of %q, deleted on the server: conflict without ServerDeleted; sdk.ChangeResult asks for it", x.id)
	}
	goneDel := sdk.Change{ChangeID: f.changeID(), Op: sdk.OpDelete, Entity: f.ent.Name, ID: x.id, BaseVersion: server.version}
	switch r := f.push(t, f.a, goneDel)[0]; {
	case r.Status == sdk.StatusApplied:
	case r.Status == sdk.StatusConflict && r.Current == nil:
	default:
		t.Errorf("delete of %q, already deleted on the server: %s, want applied or a conflict with ServerDeleted", x.id, describeResult(r))
	}
}

// expectConflict checks that r is a conflict carrying the server's row.
func (f *fixture) expectConflict(t *testing.T, what string, r sdk.ChangeResult, server row) {
	t.Helper()
	if r.Status != sdk.StatusConflict {
		t.Errorf("%s of %q: %s, want a conflict carrying the server's row", what, server.id, describeResult(r))
		return
	}
	if r.Current == nil {
		t.Errorf("%s of %q: conflict without the server's current row", what, server.id)
		return
	}
	if r.ServerDeleted {
		t.Errorf("%s of %q: conflict says ServerDeleted, but the row exists", what, server.id)
	}
	if r.Current.ID != server.id {
		t.Errorf("%s of %q: conflict carries row %q", what, server.id, r.Current.ID)
	}
	f.checkRow(t, what+": the conflict's current row", server, *r.Current)
}

// testIdempotency: a change id is applied at most once. The engine retries a
// batch whose outcome it does not know (a Push error, a crash, a dropped
// connection) with the same change ids, from a new connection; the server
// must answer each repeat with its first outcome, not apply it again.
//
//   - A create pushed twice yields one row, and the same id and version.
//   - An update pushed twice is applied once: the repeat answers the first
//     version (not a conflict, though its base version is now stale) and the
//     version does not move again.
//   - A delete pushed twice answers applied twice.
func testIdempotency(t *testing.T, f *fixture) {
	retry := f.connect(t) // the retry comes over a new connection
	i := f.index()
	vals := f.values(t, i)
	create := f.createChange(i, vals)
	first := f.mustApply(t, f.a, create)[0]
	f.written[first.ID] = true
	again := f.push(t, retry, create)[0]
	if again.Status != sdk.StatusApplied || again.ID != first.ID || again.Version != first.Version {
		t.Errorf("create with change id %q pushed twice: first %s, then %s; a repeated change id must get the first outcome", create.ChangeID, describeResult(first), describeResult(again))
	}
	req := sdk.FetchRequest{Entity: f.ent.Name, PageSize: f.cfg.PageSize}
	if n := f.countMatching(f.mustFetch(t, f.a, req), vals); n != 1 {
		t.Errorf("after a create with change id %q was pushed twice, %d rows hold its values; want 1", create.ChangeID, n)
	}

	j := f.index()
	update := sdk.Change{ChangeID: f.changeID(), Op: sdk.OpUpdate, Entity: f.ent.Name, ID: first.ID, BaseVersion: first.Version, Values: f.values(t, j)}
	u1 := f.mustApply(t, f.a, update)[0]
	u2 := f.push(t, retry, update)[0]
	if u2.Status != sdk.StatusApplied || u2.Version != u1.Version {
		t.Errorf("update with change id %q pushed twice: first %s, then %s; a repeated change id must get the first outcome", update.ChangeID, describeResult(u1), describeResult(u2))
	}
	got := f.mustFetch(t, f.a, req)
	f.expectRows(t, describe(req)+" after an update was pushed twice", got, []row{{i: j, id: first.ID, version: u1.Version, values: update.Values}})

	del := sdk.Change{ChangeID: f.changeID(), Op: sdk.OpDelete, Entity: f.ent.Name, ID: first.ID, BaseVersion: u1.Version}
	d1 := f.mustApply(t, f.a, del)[0]
	if d2 := f.push(t, retry, del)[0]; d2.Status != sdk.StatusApplied || d2.ID != d1.ID {
		t.Errorf("delete with change id %q pushed twice: first %s, then %s; a repeated change id must get the first outcome", del.ChangeID, describeResult(d1), describeResult(d2))
	}
}

// countMatching counts the fetched rows that hold every value in vals.
func (f *fixture) countMatching(got *fetched, vals map[string]sdk.Value) int {
	n := 0
	for _, rec := range got.rows {
		ok := true
		for name, want := range vals {
			fd := f.ent.Field(name)
			if fd == nil || !sameValue(fd.Type, want, rec.Values[name]) {
				ok = false
				break
			}
		}
		if ok {
			n++
		}
	}
	return n
}
