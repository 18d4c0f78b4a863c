package store

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

func TestOutboxOrderAndLoadValues(t *testing.T) {
	s, path := openStore(t)
	seedAccounts(t, s, acct("a1", "v1", "A", "Oslo", 1), acct("a2", "v1", "B", "Oslo", 2))
	h := openHost(t, path)
	h.exec("INSERT INTO account (accountid, name, employees) VALUES ('n1', 'one', 5)")
	h.exec("UPDATE account SET city = 'Bergen' WHERE accountid = 'a1'")
	h.exec("DELETE FROM account WHERE accountid = 'a2'")
	h.exec("INSERT INTO account (accountid, name) VALUES ('n2', 'two')")
	h.exec("UPDATE account SET name = 'one!' WHERE accountid = 'n1'") // coalesces into n1's create
	out := outbox(t, s)
	var got []string
	for _, c := range out {
		got = append(got, c.Op.String()+" "+c.ID)
	}
	if strings.Join(got, ", ") != "create n1, update a1, delete a2, create n2" {
		t.Errorf("outbox order: %v", got)
	}
	for i := 1; i < len(out); i++ {
		if out[i].Seq <= out[i-1].Seq {
			t.Errorf("seq not rising: %d after %d", out[i].Seq, out[i-1].Seq)
		}
	}
	if err := s.LoadValues(bg, out); err != nil {
		t.Fatal(err)
	}
	wantValues(t, "n1", out[0].Values, vals("name", "one!", "city", nil, "employees", 5))
	wantValues(t, "a1", out[1].Values, vals("name", "A", "city", "Bergen", "employees", 1))
	if out[2].Values != nil {
		t.Errorf("a deleted row has values %v", out[2].Values)
	}
	counts, err := s.PendingCount(bg)
	if err != nil || counts[StatePending] != 4 || len(counts) != 1 {
		t.Errorf("PendingCount %v %v", counts, err)
	}
	// Refresh re-reads the changes with their current values.
	h.exec("UPDATE account SET city = 'Molde' WHERE accountid = 'a1'")
	fresh, err := s.Refresh(bg, out[:2])
	if err != nil || len(fresh) != 2 {
		t.Fatalf("Refresh: %v %+v", err, fresh)
	}
	if fresh[1].Values["city"].Str() != "Molde" {
		t.Errorf("Refresh values %v", fresh[1].Values)
	}
	if err := s.LoadValues(bg, []*Change{{Entity: "nope", ID: "x"}}); err == nil {
		t.Error("LoadValues of an unknown entity")
	}
}

// TestUploadSurvivesRestart checks that an inflight change is sent again
// with the same change id after a crash.
func TestUploadSurvivesRestart(t *testing.T) {
	s, path := openStore(t)
	seedAccounts(t, s)
	h := openHost(t, path)
	h.exec("INSERT INTO account (accountid, name) VALUES ('n1', 'one')")
	out := outbox(t, s)
	if err := s.MarkInflight(bg, out); err != nil {
		t.Fatal(err)
	}
	if out[0].State != StateInflight {
		t.Error("MarkInflight did not update the change")
	}
	s2 := reopen(t, path) // the first store is abandoned, not closed
	again := outbox(t, s2)
	if len(again) != 1 || again[0].ChangeID != out[0].ChangeID || again[0].State != StateInflight {
		t.Errorf("after restart %+v", again)
	}
}

func TestApplyResultsApplied(t *testing.T) {
	s, path := openStore(t)
	seedAccounts(t, s, acct("a1", "v1", "A", "Oslo", 1), acct("a2", "v1", "B", "Oslo", 2))
	h := openHost(t, path)
	h.exec("INSERT INTO account (accountid, name) VALUES ('n1', 'one')")
	h.exec("UPDATE account SET name = 'A!' WHERE accountid = 'a1'")
	h.exec("DELETE FROM account WHERE accountid = 'a2'")
	batch := outbox(t, s)
	if err := s.MarkInflight(bg, batch); err != nil {
		t.Fatal(err)
	}
	// Edits made while the batch is out.
	h.exec("UPDATE account SET city = 'Bergen' WHERE accountid = 'a1'")
	res := []sdk.ChangeResult{
		{ChangeID: batch[0].ChangeID, Status: sdk.StatusApplied, ID: "n1", Version: "s1"},
		{ChangeID: batch[1].ChangeID, Status: sdk.StatusApplied, ID: "a1", Version: "v2"},
		{ChangeID: batch[2].ChangeID, Status: sdk.StatusApplied, ID: "a2"},
	}
	stats, err := s.ApplyResults(bg, batch, res, noConflict(t))
	if err != nil {
		t.Fatal(err)
	}
	if stats != (UploadStats{Created: 1, Updated: 1, Deleted: 1}) {
		t.Errorf("stats %+v", stats)
	}
	if r := getRow(t, s, "account", "n1"); r.Version != "s1" || r.Values["name"].Str() != "one" {
		t.Errorf("n1 %+v", r)
	}
	if r := getRow(t, s, "account", "a1"); r.Version != "v2" || r.Values["city"].Str() != "Bergen" {
		t.Errorf("a1 %+v", r)
	}
	out := allChanges(t, s)
	if len(out) != 1 {
		t.Fatalf("outbox %+v, want the edit made meanwhile", out)
	}
	if c := out[0]; c.ID != "a1" || c.Op != sdk.OpUpdate || c.State != StatePending || c.BaseVersion != "v2" || !sameStrings(c.Fields, []string{"city"}) {
		t.Errorf("the edit made meanwhile: %+v (it must now be based on v2)", c)
	}
	// The created row is on the server now: deleting it is captured.
	h.exec("DELETE FROM account WHERE accountid = 'n1'")
	if n := len(outbox(t, s)); n != 2 {
		t.Errorf("outbox has %d changes, want 2", n)
	}
	if _, err := s.ApplyResults(bg, batch, res[:1], noConflict(t)); err == nil {
		t.Error("ApplyResults with fewer results than changes")
	}
}

// A backend that keeps no row versions answers an applied change with an
// empty version; the row is still known to be on the server.
func TestApplyResultsEmptyVersion(t *testing.T) {
	s, path := openStore(t)
	seedAccounts(t, s)
	h := openHost(t, path)
	h.exec("INSERT INTO account (accountid, name) VALUES ('n1', 'one')")
	batch := outbox(t, s)
	if _, err := s.ApplyResults(bg, batch, []sdk.ChangeResult{{Status: sdk.StatusApplied, ID: "n1"}}, noConflict(t)); err != nil {
		t.Fatal(err)
	}
	h.exec("DELETE FROM account WHERE accountid = 'n1'")
	if out := outbox(t, s); len(out) != 1 || out[0].Op != sdk.OpDelete {
		t.Errorf("outbox %+v, want the delete of an uploaded row", out)
	}
}

func TestApplyResultsServerAssignedID(t *testing.T) {
	s, path := openStore(t)
	seedAccounts(t, s)
	ensure(t, s, contactEnt, nil)
	h := openHost(t, path)
	h.exec("INSERT INTO account (accountid, name) VALUES ('tmp-1', 'offline parent')")
	h.exec("INSERT INTO contact (contactid, fullname, parentid) VALUES ('c1', 'child', 'tmp-1')")
	h.exec("INSERT INTO contact (contactid, fullname, parentid) VALUES ('c2', 'other', 'x')")
	all := outbox(t, s)
	parent := []*Change{all[0]}
	if err := s.MarkInflight(bg, parent); err != nil {
		t.Fatal(err)
	}
	h.exec("UPDATE account SET city = 'Oslo' WHERE accountid = 'tmp-1'") // a change behind the inflight create
	stats, err := s.ApplyResults(bg, parent, []sdk.ChangeResult{{ChangeID: parent[0].ChangeID, Status: sdk.StatusApplied, ID: "srv-1", Version: "v1"}}, noConflict(t))
	if err != nil {
		t.Fatal(err)
	}
	if stats.Created != 1 {
		t.Errorf("stats %+v", stats)
	}
	if getRow(t, s, "account", "tmp-1") != nil {
		t.Error("the temp id is still there")
	}
	if r := getRow(t, s, "account", "srv-1"); r == nil || r.Version != "v1" || r.Values["city"].Str() != "Oslo" {
		t.Errorf("renamed row %+v", r)
	}
	if got := h.text("SELECT parentid FROM contact WHERE contactid = 'c1'"); got != "srv-1" {
		t.Errorf("child's lookup %q, want srv-1", got)
	}
	if got := h.text("SELECT parentid FROM contact WHERE contactid = 'c2'"); got != "x" {
		t.Errorf("an unrelated lookup changed to %q", got)
	}
	out := outbox(t, s)
	if len(out) != 3 {
		t.Fatalf("outbox %+v", out)
	}
	// Outbox order: c1 create, c2 create, then the account update.
	var upd, child *Change
	for _, c := range out {
		switch {
		case c.Entity == "account":
			upd = c
		case c.ID == "c1":
			child = c
		}
	}
	if upd == nil || upd.ID != "srv-1" || upd.Op != sdk.OpUpdate || upd.BaseVersion != "v1" {
		t.Errorf("the later change of the row: %+v", upd)
	}
	if err := s.LoadValues(bg, []*Change{child}); err != nil {
		t.Fatal(err)
	}
	if child.Op != sdk.OpCreate || child.Values["parentid"].Str() != "srv-1" {
		t.Errorf("the child's create %+v", child)
	}
	if counts, _ := s.PendingCount(bg); counts[StatePending] != 3 {
		t.Errorf("renaming was captured: %v", counts)
	}
}

// The answer to a create arrives after a download already brought the row
// under the server's id (the first answer was lost and the change sent
// again): the rename must not fail on the duplicate key.
func TestApplyResultsServerIDAlreadyDownloaded(t *testing.T) {
	s, path := openStore(t)
	seedAccounts(t, s)
	h := openHost(t, path)
	h.exec("INSERT INTO account (accountid, name) VALUES ('tmp-1', 'offline')")
	batch := outbox(t, s)
	if err := s.MarkInflight(bg, batch); err != nil {
		t.Fatal(err)
	}
	apply(t, s, "account", pageOf(accountEnt, nil, []row{acct("srv-1", "v1", "offline", "", 0)}, last("t2")), nil)
	res := []sdk.ChangeResult{{ChangeID: batch[0].ChangeID, Status: sdk.StatusApplied, ID: "srv-1", Version: "v1"}}
	if _, err := s.ApplyResults(bg, batch, res, noConflict(t)); err != nil {
		t.Fatalf("ApplyResults: %v", err)
	}
	if n := h.count("account"); n != 1 {
		t.Errorf("%d rows, want 1", n)
	}
	if r := getRow(t, s, "account", "srv-1"); r == nil || r.Version != "v1" {
		t.Errorf("row %+v", r)
	}
	if n := len(allChanges(t, s)); n != 0 {
		t.Errorf("outbox has %d changes", n)
	}
}

func TestApplyResultsConflict(t *testing.T) {
	tests := []struct {
		name   string
		result sdk.ChangeResult
		out    Outcome
		check  func(t *testing.T, s *Store, c Conflict)
	}{
		{
			name:   "server row changed, keep remote",
			result: sdk.ChangeResult{Status: sdk.StatusConflict, Current: &sdk.Record{ID: "a1", Version: "v5", Values: vals("name", "R", "city", "Rome", "employees", 9)}},
			out:    Outcome{Kind: KeepRemote},
			check: func(t *testing.T, s *Store, c Conflict) {
				if c.Remote == nil || c.Remote.Version != "v5" || c.RemoteDeleted {
					t.Errorf("conflict %+v", c)
				}
				r := getRow(t, s, "account", "a1")
				wantValues(t, "row", r.Values, vals("name", "R", "city", "Rome", "employees", 9))
				if r.Version != "v5" {
					t.Errorf("version %q", r.Version)
				}
				if n := len(allChanges(t, s)); n != 0 {
					t.Errorf("outbox has %d changes", n)
				}
			},
		},
		{
			name:   "server row changed, keep local",
			result: sdk.ChangeResult{Status: sdk.StatusConflict, Current: &sdk.Record{ID: "a1", Version: "v5", Values: vals("name", "R", "city", "Rome", "employees", 9)}},
			out:    Outcome{Kind: KeepLocal, Push: []string{"name"}},
			check: func(t *testing.T, s *Store, _ Conflict) {
				out := outbox(t, s)
				if len(out) != 1 || out[0].State != StatePending || out[0].BaseVersion != "v5" || out[0].Op != sdk.OpUpdate {
					t.Fatalf("outbox %+v", out)
				}
				if r := getRow(t, s, "account", "a1"); r.Values["name"].Str() != "A!" || r.Version != "v5" {
					t.Errorf("row %+v", r)
				}
			},
		},
		{
			name:   "server deleted the row",
			result: sdk.ChangeResult{Status: sdk.StatusConflict, ServerDeleted: true},
			out:    Outcome{Kind: Park, Policy: "manual"},
			check: func(t *testing.T, s *Store, c Conflict) {
				if c.Remote != nil || !c.RemoteDeleted {
					t.Errorf("conflict %+v", c)
				}
				cs, err := s.Conflicts(bg, false)
				if err != nil || len(cs) != 1 || !cs[0].RemoteDeleted {
					t.Errorf("parked %v %+v", err, cs)
				}
				if p, _ := s.Parked(bg); len(p) != 1 || p[0].State != StateConflict {
					t.Errorf("Parked %+v", p)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := openStore(t)
			seedAccounts(t, s, acct("a1", "v1", "A", "Oslo", 1))
			h := openHost(t, path)
			h.exec("UPDATE account SET name = 'A!' WHERE accountid = 'a1'")
			batch := outbox(t, s)
			if err := s.MarkInflight(bg, batch); err != nil {
				t.Fatal(err)
			}
			r := &recorder{out: tt.out}
			res := tt.result
			res.ChangeID = batch[0].ChangeID
			stats, err := s.ApplyResults(bg, batch, []sdk.ChangeResult{res}, r.resolve)
			if err != nil {
				t.Fatal(err)
			}
			if stats.Conflicts != 1 || (tt.out.Kind == Park) != (stats.Parked == 1) {
				t.Errorf("stats %+v", stats)
			}
			if len(r.got) != 1 {
				t.Fatalf("resolver called %d times", len(r.got))
			}
			c := r.got[0]
			if c.Change.ID != "a1" || c.Change.Op != sdk.OpUpdate || c.Change.Values["name"].Str() != "A!" || c.Change.Base["name"].Str() != "A" {
				t.Errorf("conflict change %+v", c.Change)
			}
			tt.check(t, s, c)
		})
	}
}

func TestApplyResultsFailures(t *testing.T) {
	tests := []struct {
		name      string
		err       *sdk.Error
		wantState string
		wantMsg   string
		wantStats UploadStats
	}{
		{"retryable", &sdk.Error{Kind: sdk.Retryable, Message: "throttled"}, StateInflight, "throttled", UploadStats{Retryable: 1}},
		{"permanent", &sdk.Error{Kind: sdk.Permanent, Message: "name is required"}, StateFailed, "name is required", UploadStats{Failed: 1}},
		{"no reason", nil, StateFailed, "failed without a reason", UploadStats{Failed: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := openStore(t)
			seedAccounts(t, s)
			h := openHost(t, path)
			h.exec("INSERT INTO account (accountid, name) VALUES ('n1', 'one')")
			batch := outbox(t, s)
			if err := s.MarkInflight(bg, batch); err != nil {
				t.Fatal(err)
			}
			for attempt := 1; attempt <= 2; attempt++ {
				res := []sdk.ChangeResult{{ChangeID: batch[0].ChangeID, Status: sdk.StatusFailed, Err: tt.err}}
				stats, err := s.ApplyResults(bg, batch, res, noConflict(t))
				if err != nil {
					t.Fatal(err)
				}
				if stats != tt.wantStats {
					t.Errorf("stats %+v", stats)
				}
				c := allChanges(t, s)[0]
				if c.State != tt.wantState || c.Attempts != attempt || c.LastError != tt.wantMsg || c.ChangeID != batch[0].ChangeID {
					t.Errorf("attempt %d: change %+v", attempt, c)
				}
			}
			if tt.wantState == StateFailed {
				if n := len(outbox(t, s)); n != 0 {
					t.Errorf("a failed change is still to upload")
				}
				if p, _ := s.Parked(bg); len(p) != 1 {
					t.Errorf("Parked %+v", p)
				}
			}
		})
	}
}

func TestNoteAttempt(t *testing.T) {
	s, path := openStore(t)
	seedAccounts(t, s)
	openHost(t, path).exec("INSERT INTO account (accountid, name) VALUES ('n1', 'one')")
	batch := outbox(t, s)
	if err := s.MarkInflight(bg, batch); err != nil {
		t.Fatal(err)
	}
	if err := s.NoteAttempt(bg, batch, errors.New("connection reset")); err != nil {
		t.Fatal(err)
	}
	c := outbox(t, s)[0]
	if c.State != StateInflight || c.Attempts != 1 || c.LastError != "connection reset" {
		t.Errorf("change %+v", c)
	}
}

// TestConcurrentUse runs downloads, uploads' bookkeeping, log writes and a
// host app's writes at once; every host write must end up in the outbox
// exactly once and every downloaded row in the table.
func TestConcurrentUse(t *testing.T) {
	s, path := openStore(t)
	seedAccounts(t, s)
	ensure(t, s, contactEnt, nil)
	if _, err := s.BeginFull(bg, "contact"); err != nil {
		t.Fatal(err)
	}
	const n = 30
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	wg.Add(4)
	go func() { // downloads
		defer wg.Done()
		for i := 0; i < n; i++ {
			p := pageOf(contactEnt, nil, []row{{fmt.Sprintf("c%02d", i), "v1", []sdk.Value{sdk.String("x"), sdk.Null()}}}, cursor("c"))
			if i == n-1 {
				p.Last, p.Token = true, []byte("t")
			}
			if _, err := s.ApplyPage(bg, "contact", p, noConflict(t)); err != nil {
				errs <- err
				return
			}
		}
	}()
	host := openHost(t, path)
	go func() { // the host app
		defer wg.Done()
		for i := 0; i < n; i++ {
			if err := host.try(fmt.Sprintf("INSERT INTO account (accountid, name) VALUES ('h%02d', 'x')", i)); err != nil {
				errs <- err
				return
			}
		}
	}()
	go func() { // the uploader's reads
		defer wg.Done()
		for i := 0; i < n; i++ {
			out, err := s.Outbox(bg)
			if err == nil {
				err = s.LoadValues(bg, out)
			}
			if err != nil {
				errs <- err
				return
			}
		}
	}()
	go func() { // logs and status
		defer wg.Done()
		for i := 0; i < n; i++ {
			if _, err := s.AddSyncLog(bg, time.Now(), time.Now(), "ok", "{}"); err != nil {
				errs <- err
				return
			}
			if _, err := s.States(bg); err != nil {
				errs <- err
				return
			}
			_ = s.Entities()
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := len(outbox(t, s)); got != n {
		t.Errorf("outbox has %d changes, want %d", got, n)
	}
	h := openHost(t, path)
	if got := h.count("contact"); got != n {
		t.Errorf("%d contacts, want %d", got, n)
	}
	if st := state(t, s, "contact"); st.Mode != ModeReady {
		t.Errorf("state %+v", st)
	}
}
