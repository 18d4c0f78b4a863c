package contracttest

import (
	"context"
	"fmt"
	"maps"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

// pushBatch is how many changes the suite sends per Push when it seeds rows;
// small enough for any backend's batch limit (Salesforce composite: 200).
const pushBatch = 50

// row is one row the suite wrote, as it expects the server to hold it.
type row struct {
	i       int    // index its values were made from
	id      string // server id
	version string // version the last push answered
	values  map[string]sdk.Value
}

func (f *fixture) changeID() string { return fmt.Sprintf("ct%s-c%d", f.marker, f.changes.Add(1)) }

// index hands out value indexes, so that no two rows or updates of a run
// carry the same values.
func (f *fixture) index() int { return int(f.rows.Add(1)) }

// createChange is a create of a row with the given values. Its id is a
// client-chosen GUID when the entity accepts one, else a temporary id.
func (f *fixture) createChange(i int, vals map[string]sdk.Value) sdk.Change {
	id := fmt.Sprintf("tmp-ct%s-%d", f.marker, i)
	if f.ent.Capabilities.ClientIDs {
		id = f.guid(guidID, i)
	}
	return sdk.Change{ChangeID: f.changeID(), Op: sdk.OpCreate, Entity: f.ent.Name, ID: id, Values: vals}
}

// create pushes n new rows from device c.
func (f *fixture) create(t *testing.T, c sdk.Connector, n int) []row {
	t.Helper()
	vals := make([]map[string]sdk.Value, n)
	idx := make([]int, n)
	for k := range vals {
		idx[k] = f.index()
		vals[k] = f.values(t, idx[k])
	}
	return f.createValues(t, c, idx, vals)
}

// createValues pushes one create per values map, in batches.
func (f *fixture) createValues(t *testing.T, c sdk.Connector, idx []int, vals []map[string]sdk.Value) []row {
	t.Helper()
	var rows []row
	ids := map[string]bool{}
	for start := 0; start < len(vals); start += pushBatch {
		end := min(start+pushBatch, len(vals))
		changes := make([]sdk.Change, 0, end-start)
		for k := start; k < end; k++ {
			changes = append(changes, f.createChange(idx[k], vals[k]))
		}
		results := f.mustApply(t, c, changes...)
		for k, r := range results {
			if ids[r.ID] {
				t.Fatalf("create %d answered id %q, which an earlier create of this subtest got too", start+k, r.ID)
			}
			ids[r.ID] = true
			f.written[r.ID] = true
			rows = append(rows, row{i: idx[start+k], id: r.ID, version: r.Version, values: vals[start+k]})
		}
	}
	return rows
}

// update pushes new values for r from device c and returns r as it is now.
// A version that does not move would hide the next change from conflict
// detection, so it fails the subtest.
func (f *fixture) update(t *testing.T, c sdk.Connector, r row) row {
	t.Helper()
	i := f.index()
	vals := f.values(t, i)
	res := f.mustApply(t, c, sdk.Change{ChangeID: f.changeID(), Op: sdk.OpUpdate, Entity: f.ent.Name, ID: r.id, BaseVersion: r.version, Values: vals})[0]
	if r.version != "" && res.Version == r.version {
		t.Errorf("update of %q answered version %q, the version it was made against; a version must change when the row does", r.id, res.Version)
	}
	merged := maps.Clone(r.values)
	maps.Copy(merged, vals)
	return row{i: i, id: r.id, version: res.Version, values: merged}
}

// remove deletes r from device c.
func (f *fixture) remove(t *testing.T, c sdk.Connector, r row) {
	t.Helper()
	f.mustApply(t, c, sdk.Change{ChangeID: f.changeID(), Op: sdk.OpDelete, Entity: f.ent.Name, ID: r.id, BaseVersion: r.version})
}

// push sends one batch and checks the shape of the answer: one result per
// change, in request order, each naming its change id. A Push error ends the
// subtest.
func (f *fixture) push(t *testing.T, c sdk.Connector, changes ...sdk.Change) []sdk.ChangeResult {
	t.Helper()
	resp, err := f.tryPush(t, c, changes...)
	if err != nil {
		t.Fatalf("Push of %s: %v", describeChanges(changes), err)
	}
	return resp
}

func (f *fixture) tryPush(t *testing.T, c sdk.Connector, changes ...sdk.Change) ([]sdk.ChangeResult, error) {
	t.Helper()
	var resp *sdk.PushResponse
	err := f.call(t, "Push of "+describeChanges(changes), func(ctx context.Context) (err error) {
		resp, err = c.Push(ctx, sdk.PushRequest{Changes: changes})
		return err
	})
	if err != nil {
		return nil, err
	}
	if resp == nil {
		t.Fatalf("Push of %s returned a nil response and no error", describeChanges(changes))
	}
	if len(resp.Results) != len(changes) {
		t.Fatalf("Push of %s answered %d results; want one per change", describeChanges(changes), len(resp.Results))
	}
	for k, r := range resp.Results {
		if r.ChangeID != changes[k].ChangeID {
			t.Errorf("Push result %d answers change id %q, want %q: results come in request order", k, r.ChangeID, changes[k].ChangeID)
		}
	}
	return resp.Results, nil
}

// mustApply pushes changes that must all be applied, and checks what an
// applied result owes: the row's id (the requested one for updates, deletes
// and client-chosen ids) and no conflict or error beside it.
func (f *fixture) mustApply(t *testing.T, c sdk.Connector, changes ...sdk.Change) []sdk.ChangeResult {
	t.Helper()
	results := f.push(t, c, changes...)
	for k, r := range results {
		ch := changes[k]
		what := fmt.Sprintf("%s of %q (change %d of %d)", ch.Op, ch.ID, k+1, len(changes))
		if r.Status != sdk.StatusApplied {
			t.Fatalf("%s: %s, want applied", what, describeResult(r))
		}
		if r.Err != nil || r.Current != nil || r.ServerDeleted {
			t.Errorf("%s is applied but also carries an error or a conflict: %s", what, describeResult(r))
		}
		switch {
		case r.ID == "":
			t.Fatalf("%s: applied without the row's id", what)
		case ch.Op == sdk.OpCreate && f.ent.Capabilities.ClientIDs && r.ID != ch.ID:
			t.Fatalf("%s: applied as id %q; entity %q has ClientIDs, so the client-chosen id must be kept", what, r.ID, f.ent.Name)
		case ch.Op != sdk.OpCreate && r.ID != ch.ID:
			t.Errorf("%s: applied as id %q, want the requested id", what, r.ID)
		}
	}
	return results
}

// expectRows checks that got holds each of rows with the values and version
// the suite last wrote.
func (f *fixture) expectRows(t *testing.T, where string, got *fetched, rows []row) {
	t.Helper()
	missing := 0
	for _, r := range rows {
		rec, ok := got.rows[r.id]
		if !ok {
			if missing++; missing <= 5 {
				t.Errorf("%s: row %q is missing (%s)", where, r.id, got)
			}
			continue
		}
		f.checkRow(t, where, r, rec)
	}
	if missing > 5 {
		t.Errorf("%s: %d rows missing in all", where, missing)
	}
}

// checkRow compares a fetched record with what the suite wrote: every field
// the suite wrote and the fetch selected, and the version the last push
// answered (a connector that reports versions on push must report the same
// ones on fetch, or the engine would take every row for changed).
func (f *fixture) checkRow(t *testing.T, where string, want row, got sdk.Record) {
	t.Helper()
	if want.version != "" && got.Version != want.version {
		t.Errorf("%s: row %q has version %q; the push that wrote it answered %q", where, want.id, got.Version, want.version)
	}
	for name, wv := range want.values {
		gv, ok := got.Values[name]
		if !ok {
			continue
		}
		fd := f.ent.Field(name)
		if fd == nil {
			continue
		}
		if !sameValue(fd.Type, wv, gv) {
			t.Errorf("%s: row %q field %q is %v, want %v", where, want.id, name, gv, wv)
		}
	}
}

func describeChanges(changes []sdk.Change) string {
	if len(changes) == 1 {
		return fmt.Sprintf("%s of %q", changes[0].Op, changes[0].ID)
	}
	return fmt.Sprintf("%d changes", len(changes))
}

func describeResult(r sdk.ChangeResult) string {
	switch r.Status {
	case sdk.StatusApplied:
		return fmt.Sprintf("applied (id %q, version %q)", r.ID, r.Version)
	case sdk.StatusConflict:
		if r.Current == nil {
			return fmt.Sprintf("conflict (no current row, server deleted %v)", r.ServerDeleted)
		}
		return fmt.Sprintf("conflict (current version %q, server deleted %v)", r.Current.Version, r.ServerDeleted)
	case sdk.StatusFailed:
		if r.Err == nil {
			return "failed with no error"
		}
		return fmt.Sprintf("failed (%s: %s)", r.Err.Kind, r.Err.Message)
	}
	return fmt.Sprintf("status %d", r.Status)
}
