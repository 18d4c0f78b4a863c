package contracttest

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

// Names no connector offers.
const (
	noEntity = "contracttest_no_such_entity"
	noField  = "contracttest_no_such_field"
)

// garbage is what a corrupted cursor or token looks like.
var garbage = []byte("\x00contracttest: not a cursor or token \xff\xfe")

// testBadInput: a request the connector cannot serve fails as sdk.Permanent
// (the same request will fail again, so the engine must not retry it) with
// a message a person can act on, and never panics. A Fetch says so in its
// error. A Push says so in the result of the bad change alone (an error
// from Push means "outcome unknown, retry the batch"), and applies the good
// changes around it.
//
// A malformed token may also be answered with sdk.TokenExpired (the engine
// then refetches the entity in full); a filter on an entity without the
// Filter capability with sdk.Unsupported.
func testBadInput(t *testing.T, f *fixture) {
	fetchFails := func(name string, req sdk.FetchRequest, kinds ...sdk.ErrorKind) {
		t.Run(name, func(t *testing.T) {
			_, err := f.fetch(t, f.a, req)
			expectKind(t, describe(req), err, append(kinds, sdk.Permanent)...)
		})
	}
	filterKinds := []sdk.ErrorKind{}
	if !f.ent.Capabilities.Filter {
		filterKinds = append(filterKinds, sdk.Unsupported)
	}
	e := f.ent.Name
	fetchFails("FetchUnknownEntity", sdk.FetchRequest{Entity: noEntity})
	fetchFails("FetchUnknownField", sdk.FetchRequest{Entity: e, Fields: []string{noField}})
	fetchFails("FilterUnknownField", sdk.FetchRequest{Entity: e, Filter: sdk.Cmp(noField, sdk.OpEq, sdk.String("x"))}, filterKinds...)
	fetchFails("FilterMalformed", sdk.FetchRequest{Entity: e, Filter: &sdk.Filter{Op: sdk.OpEq, Field: f.ent.PrimaryKey}}, filterKinds...)
	fetchFails("FilterUnknownOperator", sdk.FetchRequest{Entity: e, Filter: &sdk.Filter{Op: "contracttest-op", Field: f.ent.PrimaryKey, Values: []sdk.Value{sdk.String("x")}}}, filterKinds...)
	fetchFails("FilterWrongType", sdk.FetchRequest{Entity: e, Filter: sdk.Cmp(f.ent.PrimaryKey, sdk.OpEq, sdk.Int(1))}, filterKinds...)
	fetchFails("MalformedCursor", sdk.FetchRequest{Entity: e, Cursor: garbage, PageSize: f.cfg.PageSize})
	fetchFails("MalformedToken", sdk.FetchRequest{Entity: e, Token: garbage, PageSize: f.cfg.PageSize}, sdk.TokenExpired)

	// A create of the i-th row, then spoiled.
	bad := func(spoil func(*sdk.Change)) sdk.Change {
		i := f.index()
		ch := f.createChange(i, maps.Clone(f.values(t, i)))
		spoil(&ch)
		return ch
	}
	pushFails := func(name string, ch sdk.Change) {
		t.Run(name, func(t *testing.T) {
			i, j := f.index(), f.index()
			good1, good2 := f.createChange(i, f.values(t, i)), f.createChange(j, f.values(t, j))
			res, err := f.tryPush(t, f.a, good1, ch, good2)
			if err != nil {
				t.Fatalf("Push of a batch with one bad change (%s): error %v; the bad change's failure belongs in its result, since an error means the whole batch's outcome is unknown", name, err)
			}
			expectFailed(t, name+" (change 2 of 3)", res[1])
			for _, k := range []int{0, 2} {
				if res[k].Status != sdk.StatusApplied {
					t.Errorf("good change %d of 3 in a batch with one bad change: %s, want applied; one bad change must not sink the others", k+1, describeResult(res[k]))
				}
			}
		})
	}
	pushFails("PushUnknownEntity", bad(func(c *sdk.Change) { c.Entity = noEntity }))
	pushFails("PushUnknownField", bad(func(c *sdk.Change) { c.Values[noField] = sdk.String("x") }))
	if fd := f.writable(); fd != nil {
		wrong := sdk.String("contracttest")
		if fd.Type.Kind() == sdk.KindString {
			wrong = sdk.Int(7)
		}
		pushFails("PushWrongType", bad(func(c *sdk.Change) { c.Values[fd.Name] = wrong }))
	}
	if i := slices.IndexFunc(f.ent.Fields, func(fd sdk.Field) bool { return fd.ReadOnly }); i >= 0 {
		fd := f.ent.Fields[i]
		v, ok := f.generate(fd, f.index())
		if !ok {
			v = sdk.String("contracttest")
		}
		pushFails("PushReadOnlyField", bad(func(c *sdk.Change) { c.Values[fd.Name] = v }))
	}
	pushFails("PushInvalidOp", bad(func(c *sdk.Change) { c.Op = sdk.Op(99) }))
}

// writable is the first writable field, or nil.
func (f *fixture) writable() *sdk.Field {
	for i, fd := range f.ent.Fields {
		if !fd.ReadOnly {
			return &f.ent.Fields[i]
		}
	}
	return nil
}

// expectKind checks that err is of one of the kinds and says something
// beyond its kind.
func expectKind(t *testing.T, what string, err error, kinds ...sdk.ErrorKind) {
	t.Helper()
	if err == nil {
		t.Errorf("%s succeeded; want an error of kind %s", what, kinds[len(kinds)-1])
		return
	}
	if kind := sdk.KindOf(err); !slices.Contains(kinds, kind) {
		t.Errorf("%s: error of kind %s (%v), want %s: the same request will fail again, so the engine must not retry it", what, kind, err, kinds[len(kinds)-1])
	}
	if msg := strings.TrimSpace(err.Error()); msg == "" || msg == string(sdk.KindOf(err)) {
		t.Errorf("%s: error %q says nothing beyond its kind", what, msg)
	}
}

// expectFailed checks that r is a permanent failure with a message.
func expectFailed(t *testing.T, what string, r sdk.ChangeResult) {
	t.Helper()
	switch {
	case r.Status != sdk.StatusFailed:
		t.Errorf("%s: %s, want failed as permanent", what, describeResult(r))
	case r.Err == nil:
		t.Errorf("%s: failed with no Err", what)
	default:
		expectKind(t, what, r.Err, sdk.Permanent)
	}
}
