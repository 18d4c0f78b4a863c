package store

import (
	"strings"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

// TestCapture drives the capture triggers with writes from a second
// connection, as a host app makes them, on a table holding two downloaded
// rows (a1 at version v1, a2 at version v7).
func TestCapture(t *testing.T) {
	type want struct {
		id          string
		op          sdk.Op
		state       string
		fields      []string // nil: all
		baseVersion string
		base        map[string]sdk.Value // nil: not checked
	}
	a1Base := vals("name", "A", "city", "Oslo", "employees", 10)
	tests := []struct {
		name  string
		steps func(t *testing.T, h *hostApp, s *Store)
		want  []want
	}{
		{
			name: "insert",
			steps: func(_ *testing.T, h *hostApp, _ *Store) {
				h.exec("INSERT INTO account (accountid, name) VALUES ('n1', 'New')")
			},
			want: []want{{id: "n1", op: sdk.OpCreate, state: StatePending}},
		},
		{
			name: "update two fields then one again",
			steps: func(_ *testing.T, h *hostApp, _ *Store) {
				h.exec("UPDATE account SET name = 'B', city = 'Bergen' WHERE accountid = 'a1'")
				h.exec("UPDATE account SET name = 'C' WHERE accountid = 'a1'")
			},
			want: []want{{id: "a1", op: sdk.OpUpdate, state: StatePending, fields: []string{"name", "city"}, baseVersion: "v1", base: a1Base}},
		},
		{
			name: "updates of different fields in separate statements",
			steps: func(_ *testing.T, h *hostApp, _ *Store) {
				h.exec("UPDATE account SET name = 'B' WHERE accountid = 'a1'")
				h.exec("UPDATE account SET employees = 11 WHERE accountid = 'a1'")
			},
			want: []want{{id: "a1", op: sdk.OpUpdate, state: StatePending, fields: []string{"name", "employees"}, baseVersion: "v1", base: a1Base}},
		},
		{
			name: "update to null",
			steps: func(_ *testing.T, h *hostApp, _ *Store) {
				h.exec("UPDATE account SET city = NULL WHERE accountid = 'a1'")
			},
			want: []want{{id: "a1", op: sdk.OpUpdate, state: StatePending, fields: []string{"city"}, baseVersion: "v1", base: a1Base}},
		},
		{
			name: "insert then update",
			steps: func(_ *testing.T, h *hostApp, _ *Store) {
				h.exec("INSERT INTO account (accountid, name) VALUES ('n1', 'New')")
				h.exec("UPDATE account SET city = 'Oslo' WHERE accountid = 'n1'")
			},
			want: []want{{id: "n1", op: sdk.OpCreate, state: StatePending}},
		},
		{
			name: "insert then delete",
			steps: func(_ *testing.T, h *hostApp, _ *Store) {
				h.exec("INSERT INTO account (accountid, name) VALUES ('n1', 'New')")
				h.exec("UPDATE account SET city = 'Oslo' WHERE accountid = 'n1'")
				h.exec("DELETE FROM account WHERE accountid = 'n1'")
			},
			want: nil,
		},
		{
			name: "update then delete",
			steps: func(_ *testing.T, h *hostApp, _ *Store) {
				h.exec("UPDATE account SET name = 'B' WHERE accountid = 'a1'")
				h.exec("DELETE FROM account WHERE accountid = 'a1'")
			},
			want: []want{{id: "a1", op: sdk.OpDelete, state: StatePending, fields: []string{}, baseVersion: "v1", base: a1Base}},
		},
		{
			name:  "delete",
			steps: func(_ *testing.T, h *hostApp, _ *Store) { h.exec("DELETE FROM account WHERE accountid = 'a2'") },
			want:  []want{{id: "a2", op: sdk.OpDelete, state: StatePending, fields: []string{}, baseVersion: "v7"}},
		},
		{
			name: "delete then insert again",
			steps: func(_ *testing.T, h *hostApp, _ *Store) {
				h.exec("DELETE FROM account WHERE accountid = 'a1'")
				h.exec("INSERT INTO account (accountid, name) VALUES ('a1', 'Again')")
			},
			want: []want{{id: "a1", op: sdk.OpUpdate, state: StatePending, fields: nil, baseVersion: "v1", base: a1Base}},
		},
		{
			name: "two rows in one statement",
			steps: func(_ *testing.T, h *hostApp, _ *Store) {
				h.exec("UPDATE account SET employees = employees + 1")
			},
			want: []want{
				{id: "a1", op: sdk.OpUpdate, state: StatePending, fields: []string{"employees"}, baseVersion: "v1", base: a1Base},
				{id: "a2", op: sdk.OpUpdate, state: StatePending, fields: []string{"employees"}, baseVersion: "v7"},
			},
		},
		{
			name: "rolled back by the host",
			steps: func(_ *testing.T, h *hostApp, _ *Store) {
				h.exec("BEGIN; UPDATE account SET name = 'B' WHERE accountid = 'a1'; INSERT INTO account (name) VALUES ('x'); ROLLBACK")
			},
			want: nil,
		},
		{
			name: "inflight change edited again",
			steps: func(t *testing.T, h *hostApp, s *Store) {
				h.exec("UPDATE account SET name = 'B' WHERE accountid = 'a1'")
				if err := s.MarkInflight(bg, outbox(t, s)); err != nil {
					t.Fatal(err)
				}
				h.exec("UPDATE account SET city = 'Bergen' WHERE accountid = 'a1'")
				h.exec("UPDATE account SET employees = 3 WHERE accountid = 'a1'")
			},
			want: []want{
				{id: "a1", op: sdk.OpUpdate, state: StateInflight, fields: []string{"name"}, baseVersion: "v1", base: a1Base},
				{id: "a1", op: sdk.OpUpdate, state: StatePending, fields: []string{"city", "employees"}, baseVersion: "v1",
					base: vals("name", "B", "city", "Oslo", "employees", 10)},
			},
		},
		{
			name: "delete of a row whose create is inflight",
			steps: func(t *testing.T, h *hostApp, s *Store) {
				h.exec("INSERT INTO account (accountid, name) VALUES ('n1', 'New')")
				if err := s.MarkInflight(bg, outbox(t, s)); err != nil {
					t.Fatal(err)
				}
				h.exec("DELETE FROM account WHERE accountid = 'n1'")
			},
			want: []want{
				{id: "n1", op: sdk.OpCreate, state: StateInflight},
				{id: "n1", op: sdk.OpDelete, state: StatePending, fields: []string{}},
			},
		},
		{
			name: "update of a row whose create is inflight",
			steps: func(t *testing.T, h *hostApp, s *Store) {
				h.exec("INSERT INTO account (accountid, name) VALUES ('n1', 'New')")
				if err := s.MarkInflight(bg, outbox(t, s)); err != nil {
					t.Fatal(err)
				}
				h.exec("UPDATE account SET name = 'Newer' WHERE accountid = 'n1'")
			},
			want: []want{
				{id: "n1", op: sdk.OpCreate, state: StateInflight},
				{id: "n1", op: sdk.OpUpdate, state: StatePending, fields: []string{"name"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := openStore(t)
			seedAccounts(t, s, acct("a1", "v1", "A", "Oslo", 10), acct("a2", "v7", "Z", "Rome", 70))
			if n := len(allChanges(t, s)); n != 0 {
				t.Fatalf("the download was captured: %d changes", n)
			}
			h := openHost(t, path)
			tt.steps(t, h, s)
			got := allChanges(t, s)
			if len(got) != len(tt.want) {
				for _, c := range got {
					t.Logf("got %s %s %s fields=%v", c.Op, c.ID, c.State, c.Fields)
				}
				t.Fatalf("%d changes, want %d", len(got), len(tt.want))
			}
			for i, w := range tt.want {
				c := got[i]
				if c.ID != w.id || c.Op != w.op || c.State != w.state || c.Entity != "account" {
					t.Errorf("change %d = %s %s %s %s, want %s %s %s", i, c.Entity, c.Op, c.ID, c.State, w.op, w.id, w.state)
				}
				if (c.Fields == nil) != (w.fields == nil) || !sameStrings(c.Fields, w.fields) {
					t.Errorf("change %d fields = %#v, want %#v", i, c.Fields, w.fields)
				}
				if c.BaseVersion != w.baseVersion {
					t.Errorf("change %d base version = %q, want %q", i, c.BaseVersion, w.baseVersion)
				}
				if w.base != nil {
					wantValues(t, "base", c.Base, w.base)
				}
				if len(c.ChangeID) != 32 {
					t.Errorf("change id %q", c.ChangeID)
				}
				if time.Since(c.CreatedAt).Abs() > time.Minute || c.UpdatedAt.Before(c.CreatedAt) {
					t.Errorf("times %v %v", c.CreatedAt, c.UpdatedAt)
				}
			}
			ids := map[string]bool{}
			for _, c := range got {
				if ids[c.ChangeID] {
					t.Errorf("change id %s used twice", c.ChangeID)
				}
				ids[c.ChangeID] = true
			}
		})
	}
}

// TestCaptureFreezesInflight checks that an inflight change keeps its
// change id, fields and base however the row is edited afterwards.
func TestCaptureFreezesInflight(t *testing.T) {
	s, path := openStore(t)
	seedAccounts(t, s, acct("a1", "v1", "A", "Oslo", 10))
	h := openHost(t, path)
	h.exec("UPDATE account SET name = 'B' WHERE accountid = 'a1'")
	before := outbox(t, s)
	if err := s.MarkInflight(bg, before); err != nil {
		t.Fatal(err)
	}
	h.exec("UPDATE account SET city = 'Bergen', name = 'C' WHERE accountid = 'a1'")
	h.exec("DELETE FROM account WHERE accountid = 'a1'")
	after := allChanges(t, s)
	if len(after) != 2 {
		t.Fatalf("%d changes", len(after))
	}
	if c := after[0]; c.ChangeID != before[0].ChangeID || c.State != StateInflight || !sameStrings(c.Fields, []string{"name"}) || c.Op != sdk.OpUpdate {
		t.Errorf("inflight change moved: %+v", c)
	}
	if c := after[1]; c.Op != sdk.OpDelete || c.State != StatePending {
		t.Errorf("change behind it %+v", c)
	}
}

// TestStoreWritesNotCaptured checks that rows written on the server's
// behalf (downloads, settled conflicts, upload answers) never reach the
// outbox, and that a later host write is captured again.
func TestStoreWritesNotCaptured(t *testing.T) {
	s, path := openStore(t)
	seedAccounts(t, s, acct("a1", "v1", "A", "Oslo", 10), acct("a2", "v1", "B", "Oslo", 10))
	apply(t, s, "account", pageOf(accountEnt, nil, []row{acct("a1", "v2", "A2", "Oslo", 11), acct("a3", "v1", "C", "Rome", 1)}, deletes("a2"), last("t2")), nil)
	if n := len(allChanges(t, s)); n != 0 {
		t.Fatalf("downloads were captured: %d changes", n)
	}
	h := openHost(t, path)
	h.exec("UPDATE account SET name = 'local' WHERE accountid = 'a1'")
	r := &recorder{out: Outcome{Kind: KeepRemote}}
	apply(t, s, "account", pageOf(accountEnt, nil, []row{acct("a1", "v3", "remote", "Oslo", 11)}, last("t3")), r.resolve)
	if n := len(allChanges(t, s)); n != 0 {
		t.Fatalf("settling a conflict was captured: %d changes", n)
	}
	if h.text("SELECT count(*) FROM _fs_applying") != "0" {
		t.Error("_fs_applying outlived the transaction")
	}
	h.exec("UPDATE account SET name = 'again' WHERE accountid = 'a3'")
	if n := len(outbox(t, s)); n != 1 {
		t.Fatalf("a host write after a download: %d changes, want 1", n)
	}
}

func TestHostCannotChangeKey(t *testing.T) {
	s, path := openStore(t)
	seedAccounts(t, s, acct("a1", "v1", "A", "Oslo", 1))
	h := openHost(t, path)
	h.exec("INSERT INTO account (accountid, name) VALUES ('n1', 'new')")
	for _, id := range []string{"a1", "n1"} {
		err := h.try("UPDATE account SET accountid = 'z' WHERE accountid = '" + id + "'")
		if err == nil || !strings.Contains(err.Error(), "key of a synced row cannot change") {
			t.Errorf("changing the key of %s: %v", id, err)
		}
	}
	// Writing the same key again (as ORMs do with every column) is fine.
	h.exec("UPDATE account SET accountid = accountid, name = 'B' WHERE accountid = 'a1'")
	out := outbox(t, s)
	if len(out) != 2 || out[1].ID != "a1" || !sameStrings(out[1].Fields, []string{"name"}) {
		t.Errorf("outbox %+v", out)
	}
	if h.count("account WHERE accountid = 'z'") != 0 {
		t.Error("the key changed")
	}
}
