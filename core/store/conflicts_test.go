package store

import (
	"errors"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

// parkOne parks a conflict on a1 (local name edit against a server edit
// of name and city) and returns its id.
func parkOne(t *testing.T) (*Store, *hostApp, int64) {
	t.Helper()
	s, path := openStore(t)
	seedAccounts(t, s, acct("a1", "v1", "A", "Oslo", 1))
	h := openHost(t, path)
	h.exec("UPDATE account SET name = 'local' WHERE accountid = 'a1'")
	r := &recorder{out: Outcome{Kind: Park, Policy: "manual", Reason: "a person decides"}}
	apply(t, s, "account", pageOf(accountEnt, nil, []row{acct("a1", "v2", "remote", "Bergen", 1)}, last("t2")), r.resolve)
	cs, err := s.Conflicts(bg, false)
	if err != nil || len(cs) != 1 {
		t.Fatalf("Conflicts: %v %+v", err, cs)
	}
	return s, h, cs[0].ID
}

func TestResolveConflict(t *testing.T) {
	tests := []struct {
		name      string
		out       Outcome
		wantRow   map[string]sdk.Value
		wantOp    sdk.Op // 0: nothing to send
		wantField []string
		wantRes   string
	}{
		{
			name:    "keep local",
			out:     Outcome{Kind: KeepLocal, Reason: "the technician was on site"},
			wantRow: vals("name", "local", "city", "Oslo", "employees", 1), wantOp: sdk.OpUpdate,
			wantRes: "local: the technician was on site",
		},
		{
			name:    "keep remote",
			out:     Outcome{Kind: KeepRemote},
			wantRow: vals("name", "remote", "city", "Bergen", "employees", 1),
			wantRes: "server",
		},
		{
			name:    "merged",
			out:     Outcome{Kind: Merged, Values: vals("name", "local", "city", "Bergen", "employees", 1), Push: []string{"name"}},
			wantRow: vals("name", "local", "city", "Bergen", "employees", 1), wantOp: sdk.OpUpdate, wantField: []string{"name"},
			wantRes: "merged",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, id := parkOne(t)
			if err := s.ResolveConflict(bg, id, tt.out); err != nil {
				t.Fatalf("ResolveConflict: %v", err)
			}
			r := getRow(t, s, "account", "a1")
			wantValues(t, "row", r.Values, tt.wantRow)
			if r.Version != "v2" {
				t.Errorf("row version %q, want the server's v2", r.Version)
			}
			out := allChanges(t, s)
			if tt.wantOp == 0 {
				if len(out) != 0 {
					t.Errorf("outbox %+v", out)
				}
			} else {
				if len(out) != 1 || out[0].Op != tt.wantOp || out[0].State != StatePending || out[0].BaseVersion != "v2" {
					t.Fatalf("outbox %+v", out)
				}
				if tt.wantField != nil && !sameStrings(out[0].Fields, tt.wantField) {
					t.Errorf("fields %v, want %v", out[0].Fields, tt.wantField)
				}
			}
			pc, err := s.ConflictByID(bg, id)
			if err != nil {
				t.Fatal(err)
			}
			if pc.ResolvedAt.IsZero() || pc.Resolution != tt.wantRes {
				t.Errorf("resolved %v %q, want %q", pc.ResolvedAt, pc.Resolution, tt.wantRes)
			}
			if open, _ := s.Conflicts(bg, false); len(open) != 0 {
				t.Errorf("still open: %+v", open)
			}
			if all, _ := s.Conflicts(bg, true); len(all) != 1 {
				t.Errorf("Conflicts(all) %+v", all)
			}
			if err := s.ResolveConflict(bg, id, tt.out); err == nil || !strings.Contains(err.Error(), "already resolved") {
				t.Errorf("resolving twice: %v", err)
			}
		})
	}
}

func TestResolveConflictRefused(t *testing.T) {
	tests := []struct {
		name string
		out  Outcome
	}{
		{"merged with a wrong type", Outcome{Kind: Merged, Values: vals("name", "x", "employees", "many")}},
		{"merged with an unknown field", Outcome{Kind: Merged, Values: vals("name", "x", "nope", "y")}},
		{"park again", Outcome{Kind: Park}},
		{"no outcome", Outcome{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, id := parkOne(t)
			if err := s.ResolveConflict(bg, id, tt.out); err == nil {
				t.Fatal("accepted")
			}
			if r := getRow(t, s, "account", "a1"); r.Values["name"].Str() != "local" || r.Version != "v1" {
				t.Errorf("a refused resolution changed the row: %+v", r)
			}
			pc, err := s.ConflictByID(bg, id)
			if err != nil || !pc.ResolvedAt.IsZero() {
				t.Errorf("a refused resolution closed the conflict: %v %+v", err, pc)
			}
			if all := allChanges(t, s); len(all) != 1 || all[0].State != StateConflict {
				t.Errorf("outbox %+v", all)
			}
		})
	}
	s, _ := openStore(t)
	if _, err := s.ConflictByID(bg, 42); !errors.Is(err, ErrNoConflict) {
		t.Errorf("ConflictByID(42): %v", err)
	}
	if err := s.ResolveConflict(bg, 42, Outcome{Kind: KeepLocal}); !errors.Is(err, ErrNoConflict) {
		t.Errorf("ResolveConflict(42): %v", err)
	}
}

// A person merges a conflict where the device had deleted the row: the
// merged row exists, so it is sent as an update, not a delete.
func TestResolveConflictMergeLocalDelete(t *testing.T) {
	s, path := openStore(t)
	seedAccounts(t, s, acct("a1", "v1", "A", "Oslo", 1))
	openHost(t, path).exec("DELETE FROM account WHERE accountid = 'a1'")
	park := &recorder{out: Outcome{Kind: Park, Policy: "manual"}}
	apply(t, s, "account", pageOf(accountEnt, nil, []row{acct("a1", "v2", "remote", "Bergen", 1)}, last("t2")), park.resolve)
	cs, _ := s.Conflicts(bg, false)
	if len(cs) != 1 || cs[0].Local != nil || cs[0].LocalOp != "delete" {
		t.Fatalf("conflicts %+v", cs)
	}
	if err := s.ResolveConflict(bg, cs[0].ID, Outcome{Kind: Merged, Values: vals("name", "merged", "city", "Bergen", "employees", 1)}); err != nil {
		t.Fatal(err)
	}
	if r := getRow(t, s, "account", "a1"); r == nil || r.Values["name"].Str() != "merged" {
		t.Errorf("row %+v", r)
	}
	if out := outbox(t, s); len(out) != 1 || out[0].Op != sdk.OpUpdate || out[0].BaseVersion != "v2" {
		t.Errorf("outbox %+v, want an update against v2", out)
	}
}

// Conflicts stay readable after a restart (the store keeps each entity's
// schema) and binary and datetime values survive the conflict table.
func TestConflictsAfterRestart(t *testing.T) {
	s, path := openStore(t)
	ensure(t, s, assetEnt, nil)
	if _, err := s.BeginFull(bg, "asset"); err != nil {
		t.Fatal(err)
	}
	remote := assetRow("x1", "v2", "remote", []byte{0, 1, 2, 0xff}, 1_700_000_000_123_456)
	apply(t, s, "asset", pageOf(assetEnt, nil, []row{assetRow("x1", "v1", "base", []byte{9}, 1_600_000_000_000_001)}, last("t1")), nil)
	openHost(t, path).exec("UPDATE asset SET label = 'local', photo = NULL WHERE assetid = 'x1'")
	park := &recorder{out: Outcome{Kind: Park, Policy: "manual"}}
	apply(t, s, "asset", pageOf(assetEnt, nil, []row{remote}, last("t2")), park.resolve)
	s.Close()
	s2 := reopen(t, path)
	cs, err := s2.Conflicts(bg, false)
	if err != nil || len(cs) != 1 {
		t.Fatalf("Conflicts after restart: %v %+v", err, cs)
	}
	c := cs[0]
	if got := c.Remote["photo"].Bytes(); string(got) != "\x00\x01\x02\xff" {
		t.Errorf("remote photo %x", got)
	}
	if got := c.Remote["seen"].Int(); got != 1_700_000_000_123_456 {
		t.Errorf("remote seen %d", got)
	}
	if got := c.Base["photo"].Bytes(); string(got) != "\x09" {
		t.Errorf("base photo %x", got)
	}
	if !c.Local["photo"].IsNull() || c.Local["label"].Str() != "local" {
		t.Errorf("local %v", c.Local)
	}
	if err := s2.ResolveConflict(bg, c.ID, Outcome{Kind: KeepRemote}); err != nil {
		t.Fatal(err)
	}
	r := getRow(t, s2, "asset", "x1")
	want := map[string]sdk.Value{}
	for i, f := range assetEnt.Fields {
		want[f.Name] = remote.vals[i]
	}
	wantValues(t, "row", r.Values, want)
}

// A device edit of a parked row is uploaded, meets the server again and is
// parked again: the row keeps one open conflict, showing the newest sides.
func TestParkAgainAfterUpload(t *testing.T) {
	s, h, id := parkOne(t)
	h.exec("UPDATE account SET employees = 2 WHERE accountid = 'a1'")
	batch := outbox(t, s)
	if len(batch) != 1 || batch[0].State != StatePending {
		t.Fatalf("outbox %+v", batch)
	}
	if err := s.MarkInflight(bg, batch); err != nil {
		t.Fatal(err)
	}
	current := &sdk.Record{ID: "a1", Version: "v3", Values: vals("name", "remote3", "city", "Bergen", "employees", 1)}
	park := &recorder{out: Outcome{Kind: Park, Policy: "manual"}}
	stats, err := s.ApplyResults(bg, batch, []sdk.ChangeResult{{Status: sdk.StatusConflict, Current: current}}, park.resolve)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Parked != 1 {
		t.Errorf("stats %+v", stats)
	}
	cs, _ := s.Conflicts(bg, true)
	if len(cs) != 1 || cs[0].ID != id {
		t.Fatalf("conflicts %+v, want conflict %d alone", cs, id)
	}
	if cs[0].RemoteVersion != "v3" || cs[0].Local["employees"].Int() != 2 || cs[0].Base["name"].Str() != "A" {
		t.Errorf("conflict not refreshed: %+v", cs[0])
	}
	if err := s.ResolveConflict(bg, id, Outcome{Kind: KeepLocal}); err != nil {
		t.Fatal(err)
	}
	out := outbox(t, s)
	if len(out) != 1 || out[0].BaseVersion != "v3" || len(allChanges(t, s)) != 1 {
		t.Errorf("outbox %+v", out)
	}
	if err := s.LoadValues(bg, out); err != nil || out[0].Values["name"].Str() != "local" || out[0].Values["employees"].Int() != 2 {
		t.Errorf("values %v %v", out[0].Values, err)
	}
}

// A parked row that a policy settles afterwards (the upload of a later
// edit met a server-wins policy) does not leave its conflict open.
func TestSettledRowClosesParkedConflict(t *testing.T) {
	s, h, id := parkOne(t)
	h.exec("UPDATE account SET employees = 2 WHERE accountid = 'a1'")
	batch := outbox(t, s)
	current := &sdk.Record{ID: "a1", Version: "v3", Values: vals("name", "remote3", "city", "Bergen", "employees", 1)}
	wins := &recorder{out: Outcome{Kind: KeepRemote, Policy: "server-wins", Reason: "took the server's row"}}
	if _, err := s.ApplyResults(bg, batch, []sdk.ChangeResult{{Status: sdk.StatusConflict, Current: current}}, wins.resolve); err != nil {
		t.Fatal(err)
	}
	pc, err := s.ConflictByID(bg, id)
	if err != nil || pc.ResolvedAt.IsZero() || pc.Resolution != "server-wins: took the server's row" {
		t.Errorf("conflict %v %+v", err, pc)
	}
	if n := len(allChanges(t, s)); n != 0 {
		t.Errorf("outbox has %d changes", n)
	}
	if err := s.ResolveConflict(bg, id, Outcome{Kind: KeepLocal}); err == nil {
		t.Error("a settled conflict was resolved again")
	}
}

func TestResolveConflictConcurrently(t *testing.T) {
	s, _, id := parkOne(t)
	errs := make(chan error, 16)
	start := make(chan struct{})
	for i := 0; i < cap(errs); i++ {
		go func() {
			<-start
			errs <- s.ResolveConflict(bg, id, Outcome{Kind: KeepLocal})
		}()
	}
	close(start)
	ok := 0
	for i := 0; i < cap(errs); i++ {
		if err := <-errs; err == nil {
			ok++
		} else if !strings.Contains(err.Error(), "already resolved") {
			t.Errorf("ResolveConflict: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d resolutions succeeded, want 1", ok)
	}
	if all := allChanges(t, s); len(all) != 1 || all[0].State != StatePending {
		t.Errorf("outbox %+v", all)
	}
}
