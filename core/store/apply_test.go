package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

const accountIndex = "account__fs_key"

func TestApplyPageBulk(t *testing.T) {
	s, path := openStore(t)
	ensure(t, s, accountEnt, nil)
	st, err := s.BeginFull(bg, "account")
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode != ModeBulk {
		t.Fatalf("BeginFull on an empty table: mode %s, want bulk", st.Mode)
	}
	h := openHost(t, path)
	pages := []*sdk.Page{
		pageOf(accountEnt, nil, []row{acct("a1", "v1", "A", "Oslo", 1), acct("a2", "v1", "B", "Oslo", 2)}, cursor("c1")),
		pageOf(accountEnt, nil, []row{acct("a3", "v1", "C", "Rome", 3), acct("a1", "v2", "A again", "Oslo", 4)}, cursor("c2")),
		pageOf(accountEnt, nil, []row{acct("a4", "v1", "D", "Rome", 5)}, deletes("a2"), last("tok1")),
	}
	for i, p := range pages[:2] {
		stats := apply(t, s, "account", p, nil)
		if stats.Upserted != 2 || stats.Unchanged != 0 {
			t.Errorf("page %d stats %+v", i+1, stats)
		}
		if h.hasIndex(accountIndex) {
			t.Errorf("page %d: the key index exists during a bulk load", i+1)
		}
		if got := state(t, s, "account"); got.Mode != ModeBulk || string(got.Cursor) != fmt.Sprintf("c%d", i+1) || got.Token != nil {
			t.Errorf("page %d: state %+v", i+1, got)
		}
	}
	if got := h.count("account"); got != 4 {
		t.Errorf("bulk load appends: %d rows, want 4 (a1 twice)", got)
	}
	stats := apply(t, s, "account", pages[2], nil)
	if stats.Upserted != 1 || stats.Deleted != 1 {
		t.Errorf("last page stats %+v", stats)
	}
	if !h.hasIndex(accountIndex) {
		t.Error("no key index after the last page")
	}
	got := state(t, s, "account")
	if got.Mode != ModeReady || string(got.Token) != "tok1" || got.Cursor != nil || got.LastSync.IsZero() {
		t.Errorf("state after the last page %+v", got)
	}
	if n := h.count("account"); n != 3 {
		t.Errorf("%d rows, want 3 (a1, a3, a4)", n)
	}
	// The row that arrived twice keeps its last copy.
	if r := getRow(t, s, "account", "a1"); r == nil || r.Version != "v2" || r.Values["name"].Str() != "A again" {
		t.Errorf("a1 = %+v", r)
	}
	if h.text("SELECT count(*) FROM account WHERE accountid = 'a1'") != "1" {
		t.Error("a1 not deduplicated")
	}
	// The index is unique: a duplicate now fails.
	if err := h.try("INSERT INTO account (accountid) VALUES ('a3')"); err == nil {
		t.Error("a duplicate key was accepted after the index was built")
	}
}

func TestApplyPageBulkDuplicateOnLastPage(t *testing.T) {
	s, _ := openStore(t)
	ensure(t, s, accountEnt, nil)
	if _, err := s.BeginFull(bg, "account"); err != nil {
		t.Fatal(err)
	}
	apply(t, s, "account", pageOf(accountEnt, nil, []row{acct("a1", "v1", "A", "Oslo", 1), acct("a1", "v2", "A2", "Oslo", 1), acct("a1", "v3", "A3", "Oslo", 1)}, last("t")), nil)
	if r := getRow(t, s, "account", "a1"); r == nil || r.Version != "v3" {
		t.Errorf("a1 = %+v, want its last copy", r)
	}
}

func TestApplyPageResync(t *testing.T) {
	s, path := openStore(t)
	seedAccounts(t, s,
		acct("a1", "v1", "A", "Oslo", 1), acct("a2", "v1", "B", "Oslo", 2),
		acct("a3", "v1", "C", "Oslo", 3), acct("a4", "v1", "D", "Oslo", 4))
	h := openHost(t, path)
	h.exec("UPDATE account SET name = 'local' WHERE accountid = 'a3'") // pending change, not on the server any more
	h.exec("INSERT INTO account (accountid, name) VALUES ('n1', 'new')")
	st, err := s.BeginFull(bg, "account")
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode != ModeResync {
		t.Fatalf("BeginFull on a table with rows: mode %s, want resync", st.Mode)
	}
	s1 := apply(t, s, "account", pageOf(accountEnt, nil, []row{acct("a1", "v1", "A", "Oslo", 1)}, cursor("c1")), nil)
	if s1.Unchanged != 1 || s1.Upserted != 0 {
		t.Errorf("page 1 stats %+v", s1)
	}
	if got := state(t, s, "account"); got.Mode != ModeResync || string(got.Cursor) != "c1" {
		t.Errorf("state after page 1 %+v", got)
	}
	s2 := apply(t, s, "account", pageOf(accountEnt, nil, []row{acct("a2", "v2", "B2", "Oslo", 2), acct("a5", "v1", "E", "Oslo", 5)}, last("tok2")), nil)
	if s2.Upserted != 2 || s2.Deleted != 1 {
		t.Errorf("page 2 stats %+v, want 2 upserted and a4 deleted", s2)
	}
	var ids []string
	for _, r := range h.rows("SELECT accountid FROM account ORDER BY accountid") {
		ids = append(ids, r[0])
	}
	if strings.Join(ids, ",") != "a1,a2,a3,a5,n1" {
		t.Errorf("rows after resync %v, want a1,a2,a3 (local change),a5,n1 (local create)", ids)
	}
	if r := getRow(t, s, "account", "a3"); r.Values["name"].Str() != "local" {
		t.Errorf("the row with a local change was touched: %+v", r)
	}
	if got := state(t, s, "account"); got.Mode != ModeReady || string(got.Token) != "tok2" {
		t.Errorf("state %+v", got)
	}
	if h.text("SELECT count(*) FROM _fs_seen") != "0" {
		t.Error("_fs_seen not emptied after the resync")
	}
	if n := len(outbox(t, s)); n != 2 {
		t.Errorf("outbox has %d changes, want the 2 local ones", n)
	}
}

// A full download that brings, unchanged, a row the device edited or
// deleted is no conflict: the server's row is still the one the change
// started from.
func TestApplyPageUnchangedRowWithLocalChange(t *testing.T) {
	for _, tc := range []struct {
		name, edit string
		resync     bool
	}{
		{"resync", "UPDATE account SET name = 'local' WHERE accountid = 'a1'", true},
		{"incremental", "UPDATE account SET name = 'local' WHERE accountid = 'a1'", false},
		{"resync of a local delete", "DELETE FROM account WHERE accountid = 'a1'", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, path := openStore(t)
			seedAccounts(t, s, acct("a1", "v1", "A", "Oslo", 1))
			h := openHost(t, path)
			h.exec(tc.edit)
			before := outbox(t, s)
			if tc.resync {
				if _, err := s.BeginFull(bg, "account"); err != nil {
					t.Fatal(err)
				}
			}
			stats := apply(t, s, "account", pageOf(accountEnt, nil, []row{acct("a1", "v1", "A", "Oslo", 1)}, last("t2")), noConflict(t))
			if stats.Conflicts != 0 || stats.Unchanged != 1 {
				t.Errorf("stats %+v", stats)
			}
			r := getRow(t, s, "account", "a1")
			if before[0].Op == sdk.OpDelete {
				if r != nil {
					t.Errorf("the row the device deleted is back: %+v", r)
				}
			} else if r.Values["name"].Str() != "local" || r.Version != "v1" {
				t.Errorf("row %+v", r)
			}
			out := outbox(t, s)
			if len(out) != 1 || out[0].ChangeID != before[0].ChangeID || out[0].BaseVersion != "v1" || out[0].Op != before[0].Op {
				t.Errorf("outbox %+v", out)
			}
		})
	}
}

func TestApplyPageIncremental(t *testing.T) {
	s, _ := openStore(t)
	seedAccounts(t, s, acct("a1", "v1", "A", "Oslo", 1), acct("a2", "v1", "B", "Oslo", 2), acct("a3", "v1", "C", "Oslo", 3))
	p := pageOf(accountEnt, nil, []row{
		acct("a1", "v1", "A", "Oslo", 1),     // same version: skipped
		acct("a2", "v2", "B2", "Bergen", 20), // new version
		acct("a9", "v1", "I", "Rome", 9),     // new row
	}, deletes("a3", "gone-already"), cursor("c1"))
	stats := apply(t, s, "account", p, nil)
	if stats != (PageStats{Upserted: 2, Unchanged: 1, Deleted: 1}) {
		t.Errorf("stats %+v", stats)
	}
	if got := state(t, s, "account"); got.Mode != ModeReady || string(got.Cursor) != "c1" || string(got.Token) != "tok-seed" {
		t.Errorf("state after a middle page %+v", got)
	}
	// A row whose version is unchanged is not rewritten even if its values
	// differ (the version says the server's row did not change).
	apply(t, s, "account", pageOf(accountEnt, nil, []row{acct("a1", "v1", "ignored", "Oslo", 1)}, last("tok2")), nil)
	if r := getRow(t, s, "account", "a1"); r.Values["name"].Str() != "A" {
		t.Errorf("a1 rewritten with an unchanged version: %+v", r)
	}
	r := getRow(t, s, "account", "a2")
	wantValues(t, "a2", r.Values, vals("name", "B2", "city", "Bergen", "employees", 20))
	if r.Version != "v2" {
		t.Errorf("a2 version %q", r.Version)
	}
	if getRow(t, s, "account", "a3") != nil {
		t.Error("a3 not deleted")
	}
	if got := state(t, s, "account"); got.Mode != ModeReady || string(got.Token) != "tok2" || got.Cursor != nil {
		t.Errorf("state after the last page %+v", got)
	}
}

// A backend without row versions sends empty ones (or none): every row it
// sends is written, and rows it sent are known to be on the server.
func TestApplyPageWithoutVersions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		strip func(*sdk.Page)
	}{
		{"empty versions", func(*sdk.Page) {}},
		{"no versions", func(p *sdk.Page) { p.Versions = nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, path := openStore(t)
			ensure(t, s, accountEnt, nil)
			if _, err := s.BeginFull(bg, "account"); err != nil {
				t.Fatal(err)
			}
			p := pageOf(accountEnt, nil, []row{acct("a1", "", "A", "Oslo", 1), acct("a2", "", "B", "Oslo", 2)}, last("t1"))
			tc.strip(p)
			apply(t, s, "account", p, nil)
			p = pageOf(accountEnt, nil, []row{acct("a1", "", "A2", "Oslo", 1)}, last("t2"))
			tc.strip(p)
			if stats := apply(t, s, "account", p, nil); stats.Upserted != 1 {
				t.Errorf("stats %+v: a row without a version must be written", stats)
			}
			if r := getRow(t, s, "account", "a1"); r.Values["name"].Str() != "A2" {
				t.Errorf("a1 = %+v", r)
			}
			// A local delete of a downloaded row is captured even without
			// a version.
			h := openHost(t, path)
			h.exec("DELETE FROM account WHERE accountid = 'a2'")
			if out := outbox(t, s); len(out) != 1 || out[0].Op != sdk.OpDelete || out[0].ID != "a2" {
				t.Errorf("outbox %+v", out)
			}
		})
	}
}

func TestApplyPageRefusesBadPages(t *testing.T) {
	s, _ := openStore(t)
	seedAccounts(t, s, acct("a1", "v1", "A", "Oslo", 1))
	good := func() *sdk.Page {
		return pageOf(accountEnt, nil, []row{acct("a2", "v1", "B", "Oslo", 2)}, cursor("c9"))
	}
	tests := []struct {
		name   string
		mangle func(*sdk.Page)
	}{
		{"fewer fields", func(p *sdk.Page) { p.Fields, p.Columns = p.Fields[:2], p.Columns[:2] }},
		{"other field", func(p *sdk.Page) { p.Fields[1] = "town" }},
		{"short column", func(p *sdk.Page) { p.Columns[0].Strings = nil }},
		{"wrong kind", func(p *sdk.Page) { p.Columns[2].Strings, p.Columns[2].Ints = []string{"x"}, nil }},
		{"versions", func(p *sdk.Page) { p.Versions = []string{"a", "b"} }},
		{"empty id", func(p *sdk.Page) { p.IDs[0] = "" }},
		{"token on a middle page", func(p *sdk.Page) { p.Token = []byte("t") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := good()
			tt.mangle(p)
			if _, err := s.ApplyPage(bg, "account", p, noConflict(t)); err == nil {
				t.Fatal("a bad page was applied")
			}
			if getRow(t, s, "account", "a2") != nil {
				t.Error("a row of a refused page was written")
			}
			if st := state(t, s, "account"); st.Cursor != nil {
				t.Errorf("the cursor of a refused page was stored: %q", st.Cursor)
			}
		})
	}
	if _, err := s.ApplyPage(bg, "nope", good(), noConflict(t)); err == nil {
		t.Error("a page of an unknown entity was applied")
	}
}

// TestApplyPageConflicts sends a row the device changed to each kind of
// outcome, once as an upsert and once as a server delete.
func TestApplyPageConflicts(t *testing.T) {
	remote := acct("a1", "v2", "remote", "Bergen", 1)
	tests := []struct {
		name      string
		serverDel bool
		out       Outcome
		check     func(t *testing.T, s *Store, h *hostApp, before *Change)
	}{
		{
			name: "keep remote",
			out:  Outcome{Kind: KeepRemote},
			check: func(t *testing.T, s *Store, _ *hostApp, _ *Change) {
				r := getRow(t, s, "account", "a1")
				wantValues(t, "row", r.Values, vals("name", "remote", "city", "Bergen", "employees", 1))
				if r.Version != "v2" {
					t.Errorf("version %q", r.Version)
				}
				if n := len(allChanges(t, s)); n != 0 {
					t.Errorf("outbox has %d changes", n)
				}
			},
		},
		{
			name:      "keep remote of a server delete",
			serverDel: true,
			out:       Outcome{Kind: KeepRemote},
			check: func(t *testing.T, s *Store, _ *hostApp, _ *Change) {
				if getRow(t, s, "account", "a1") != nil {
					t.Error("row not deleted")
				}
				if n := len(allChanges(t, s)); n != 0 {
					t.Errorf("outbox has %d changes", n)
				}
			},
		},
		{
			name: "keep local",
			out:  Outcome{Kind: KeepLocal, Push: []string{"name"}},
			check: func(t *testing.T, s *Store, _ *hostApp, before *Change) {
				r := getRow(t, s, "account", "a1")
				wantValues(t, "row", r.Values, vals("name", "local", "city", "Oslo", "employees", 1))
				if r.Version != "v2" {
					t.Errorf("version %q, want the server's", r.Version)
				}
				out := outbox(t, s)
				if len(out) != 1 {
					t.Fatalf("outbox %+v", out)
				}
				c := out[0]
				if c.Op != sdk.OpUpdate || c.BaseVersion != "v2" || c.State != StatePending || !sameStrings(c.Fields, []string{"name"}) {
					t.Errorf("requeued %+v", c)
				}
				if c.ChangeID == before.ChangeID {
					t.Error("the requeued change kept its change id")
				}
				wantValues(t, "base", c.Base, vals("name", "remote", "city", "Bergen", "employees", 1))
			},
		},
		{
			name:      "keep local of a server delete",
			serverDel: true,
			out:       Outcome{Kind: KeepLocal},
			check: func(t *testing.T, s *Store, h *hostApp, _ *Change) {
				r := getRow(t, s, "account", "a1")
				if r == nil || r.Values["name"].Str() != "local" {
					t.Fatalf("row %+v", r)
				}
				out := outbox(t, s)
				if len(out) != 1 || out[0].Op != sdk.OpCreate || out[0].Fields != nil || out[0].BaseVersion != "" {
					t.Fatalf("outbox %+v, want a create", out)
				}
				// The row is not on the server: deleting it locally
				// leaves nothing to send.
				h.exec("DELETE FROM account WHERE accountid = 'a1'")
				if n := len(allChanges(t, s)); n != 0 {
					t.Errorf("outbox has %d changes after deleting a row the server does not have", n)
				}
			},
		},
		{
			name: "merged",
			out:  Outcome{Kind: Merged, Values: vals("name", "local", "city", "Bergen", "employees", 1), Push: []string{"name"}},
			check: func(t *testing.T, s *Store, _ *hostApp, _ *Change) {
				r := getRow(t, s, "account", "a1")
				wantValues(t, "row", r.Values, vals("name", "local", "city", "Bergen", "employees", 1))
				if r.Version != "v2" {
					t.Errorf("version %q", r.Version)
				}
				out := outbox(t, s)
				if len(out) != 1 || out[0].Op != sdk.OpUpdate || out[0].BaseVersion != "v2" || !sameStrings(out[0].Fields, []string{"name"}) {
					t.Errorf("outbox %+v", out)
				}
			},
		},
		{
			name:      "merged of a server delete",
			serverDel: true,
			out:       Outcome{Kind: Merged, Values: vals("name", "local", "city", "Oslo", "employees", 1)},
			check: func(t *testing.T, s *Store, h *hostApp, _ *Change) {
				if r := getRow(t, s, "account", "a1"); r == nil || r.Values["name"].Str() != "local" || r.Version != "" {
					t.Fatalf("row %+v", r)
				}
				if out := outbox(t, s); len(out) != 1 || out[0].Op != sdk.OpCreate {
					t.Fatalf("outbox %+v, want a create", out)
				}
				// The server does not have the row: a local delete of it
				// leaves nothing to send.
				h.exec("DELETE FROM account WHERE accountid = 'a1'")
				if n := len(allChanges(t, s)); n != 0 {
					t.Errorf("outbox has %d changes after deleting a row the server does not have", n)
				}
			},
		},
		{
			name: "merged equal to the server",
			out:  Outcome{Kind: Merged, Values: vals("name", "remote", "city", "Bergen", "employees", 1), Push: []string{}},
			check: func(t *testing.T, s *Store, _ *hostApp, _ *Change) {
				if r := getRow(t, s, "account", "a1"); r.Values["name"].Str() != "remote" || r.Version != "v2" {
					t.Errorf("row %+v", r)
				}
				if n := len(allChanges(t, s)); n != 0 {
					t.Errorf("outbox has %d changes", n)
				}
			},
		},
		{
			name: "park",
			out:  Outcome{Kind: Park, Policy: "manual"},
			check: func(t *testing.T, s *Store, _ *hostApp, before *Change) {
				if r := getRow(t, s, "account", "a1"); r.Values["name"].Str() != "local" || r.Version != "v1" {
					t.Errorf("a parked row changed: %+v", r)
				}
				all := allChanges(t, s)
				if len(all) != 1 || all[0].State != StateConflict || all[0].ChangeID != before.ChangeID {
					t.Errorf("outbox %+v", all)
				}
				if n := len(outbox(t, s)); n != 0 {
					t.Errorf("a parked change is still to upload")
				}
				cs, err := s.Conflicts(bg, false)
				if err != nil || len(cs) != 1 {
					t.Fatalf("Conflicts: %v %+v", err, cs)
				}
				c := cs[0]
				if c.Entity != "account" || c.RecordID != "a1" || c.LocalOp != "update" || c.Policy != "manual" ||
					c.RemoteVersion != "v2" || c.RemoteDeleted || c.CreatedAt.IsZero() || !c.ResolvedAt.IsZero() {
					t.Errorf("conflict %+v", c)
				}
				wantValues(t, "base", c.Base, vals("name", "A", "city", "Oslo", "employees", 1))
				wantValues(t, "local", c.Local, vals("name", "local", "city", "Oslo", "employees", 1))
				wantValues(t, "remote", c.Remote, vals("name", "remote", "city", "Bergen", "employees", 1))
			},
		},
		{
			name:      "park a server delete",
			serverDel: true,
			out:       Outcome{Kind: Park, Policy: "manual"},
			check: func(t *testing.T, s *Store, _ *hostApp, _ *Change) {
				cs, err := s.Conflicts(bg, false)
				if err != nil || len(cs) != 1 || !cs[0].RemoteDeleted || cs[0].Remote != nil {
					t.Fatalf("Conflicts: %v %+v", err, cs)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := openStore(t)
			seedAccounts(t, s, acct("a1", "v1", "A", "Oslo", 1), acct("a2", "v1", "B", "Oslo", 2))
			h := openHost(t, path)
			h.exec("UPDATE account SET name = 'local' WHERE accountid = 'a1'")
			before := outbox(t, s)[0]
			p := pageOf(accountEnt, nil, []row{remote, acct("a2", "v2", "B2", "Oslo", 2)}, last("t2"))
			if tt.serverDel {
				p = pageOf(accountEnt, nil, []row{acct("a2", "v2", "B2", "Oslo", 2)}, deletes("a1"), last("t2"))
			}
			r := &recorder{out: tt.out}
			stats := apply(t, s, "account", p, r.resolve)
			wantParked := 0
			if tt.out.Kind == Park {
				wantParked = 1
			}
			if stats.Conflicts != 1 || stats.Parked != wantParked || stats.Upserted != 1 {
				t.Errorf("stats %+v", stats)
			}
			if len(r.got) != 1 {
				t.Fatalf("resolver called %d times", len(r.got))
			}
			c := r.got[0]
			if c.Change == nil || c.Change.ID != "a1" || c.Change.Op != sdk.OpUpdate || c.Change.BaseVersion != "v1" {
				t.Errorf("conflict change %+v", c.Change)
			}
			wantValues(t, "conflict local values", c.Change.Values, vals("name", "local", "city", "Oslo", "employees", 1))
			wantValues(t, "conflict base", c.Change.Base, vals("name", "A", "city", "Oslo", "employees", 1))
			if tt.serverDel {
				if c.Remote != nil || !c.RemoteDeleted {
					t.Errorf("server delete: Remote %+v, RemoteDeleted %v", c.Remote, c.RemoteDeleted)
				}
			} else if c.Remote == nil || c.Remote.ID != "a1" || c.Remote.Version != "v2" || c.Remote.Values["name"].Str() != "remote" {
				t.Errorf("remote %+v", c.Remote)
			}
			if r := getRow(t, s, "account", "a2"); r.Version != "v2" {
				t.Errorf("the other row of the page: %+v", r)
			}
			tt.check(t, s, h, before)
		})
	}
}

// A local delete that meets a server update goes to the resolver with no
// local values.
func TestApplyPageConflictLocalDelete(t *testing.T) {
	tests := []struct {
		name    string
		out     Outcome
		wantRow bool
		wantOp  sdk.Op // 0: nothing left to send
	}{
		{"keep remote", Outcome{Kind: KeepRemote}, true, 0},
		{"keep local", Outcome{Kind: KeepLocal}, false, sdk.OpDelete},
		{"merged", Outcome{Kind: Merged, Values: vals("name", "merged", "city", "Bergen", "employees", 1)}, true, sdk.OpUpdate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := openStore(t)
			seedAccounts(t, s, acct("a1", "v1", "A", "Oslo", 1))
			h := openHost(t, path)
			h.exec("DELETE FROM account WHERE accountid = 'a1'")
			r := &recorder{out: tt.out}
			apply(t, s, "account", pageOf(accountEnt, nil, []row{acct("a1", "v2", "remote", "Bergen", 1)}, last("t2")), r.resolve)
			if len(r.got) != 1 || r.got[0].Change.Values != nil || r.got[0].Change.Op != sdk.OpDelete {
				t.Fatalf("resolver saw %+v", r.got)
			}
			row := getRow(t, s, "account", "a1")
			if (row != nil) != tt.wantRow {
				t.Errorf("row %+v, want present %v", row, tt.wantRow)
			}
			out := outbox(t, s)
			if tt.wantOp == 0 {
				if len(out) != 0 {
					t.Errorf("outbox %+v", out)
				}
				return
			}
			if len(out) != 1 || out[0].Op != tt.wantOp || out[0].BaseVersion != "v2" {
				t.Errorf("outbox %+v, want one %s against v2", out, tt.wantOp)
			}
		})
	}
}

// Downloading again a row parked for a person does not judge it again: the
// parked conflict shows the server's newest row, and the local row stays.
func TestApplyPageParkedRowAgain(t *testing.T) {
	s, path := openStore(t)
	seedAccounts(t, s, acct("a1", "v1", "A", "Oslo", 1))
	h := openHost(t, path)
	h.exec("UPDATE account SET name = 'local' WHERE accountid = 'a1'")
	park := &recorder{out: Outcome{Kind: Park, Policy: "manual"}}
	apply(t, s, "account", pageOf(accountEnt, nil, []row{acct("a1", "v2", "R2", "Oslo", 1)}, last("t2")), park.resolve)
	for _, p := range []*sdk.Page{
		pageOf(accountEnt, nil, []row{acct("a1", "v3", "R3", "Oslo", 1)}, last("t3")),
		pageOf(accountEnt, nil, []row{acct("a1", "v4", "R4", "Oslo", 1)}, last("t4")),
	} {
		apply(t, s, "account", p, park.resolve)
	}
	if len(park.got) != 1 {
		t.Errorf("a parked row was judged %d times, want once", len(park.got))
	}
	cs, err := s.Conflicts(bg, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 {
		t.Fatalf("%d conflicts for one row, want 1: %+v", len(cs), cs)
	}
	if cs[0].RemoteVersion != "v4" || cs[0].Remote["name"].Str() != "R4" || cs[0].RemoteDeleted {
		t.Errorf("parked conflict not refreshed: %+v", cs[0])
	}
	if r := getRow(t, s, "account", "a1"); r.Values["name"].Str() != "local" {
		t.Errorf("row %+v", r)
	}
	// The server deletes it meanwhile: the parked conflict says so.
	apply(t, s, "account", pageOf(accountEnt, nil, nil, deletes("a1"), last("t5")), park.resolve)
	if pc, err := s.ConflictByID(bg, cs[0].ID); err != nil || !pc.RemoteDeleted || pc.Remote != nil {
		t.Errorf("after a server delete: %v %+v", err, pc)
	}
	// A person settles it against what the server holds now.
	if err := s.ResolveConflict(bg, cs[0].ID, Outcome{Kind: KeepLocal}); err != nil {
		t.Fatal(err)
	}
	if out := outbox(t, s); len(out) != 1 || out[0].Op != sdk.OpCreate {
		t.Errorf("outbox %+v, want the row re-created", out)
	}
}

func TestApplyPageResolverErrorRollsBack(t *testing.T) {
	s, path := openStore(t)
	seedAccounts(t, s, acct("a1", "v1", "A", "Oslo", 1))
	h := openHost(t, path)
	h.exec("UPDATE account SET name = 'local' WHERE accountid = 'a1'")
	apply(t, s, "account", pageOf(accountEnt, nil, []row{acct("a5", "v1", "E", "Oslo", 5)}, cursor("c1")), nil)
	boom := errors.New("policy broke")
	_, err := s.ApplyPage(bg, "account", pageOf(accountEnt, nil, []row{acct("a6", "v1", "F", "Oslo", 6), acct("a1", "v2", "R", "Oslo", 1)}, cursor("c2")),
		func(*sdk.Entity, Conflict) (Outcome, error) { return Outcome{}, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("ApplyPage: %v, want the resolver's error", err)
	}
	if getRow(t, s, "account", "a6") != nil {
		t.Error("a row of the failed page was committed")
	}
	if st := state(t, s, "account"); string(st.Cursor) != "c1" {
		t.Errorf("cursor %q, want the last committed page's", st.Cursor)
	}
	// An unknown outcome is refused the same way.
	_, err = s.ApplyPage(bg, "account", pageOf(accountEnt, nil, []row{acct("a1", "v2", "R", "Oslo", 1)}, cursor("c2")),
		func(*sdk.Entity, Conflict) (Outcome, error) { return Outcome{Kind: 99}, nil })
	if err == nil {
		t.Error("an unknown outcome was applied")
	}
	if out := outbox(t, s); len(out) != 1 || out[0].State != StatePending {
		t.Errorf("outbox %+v", out)
	}
}

func TestApplyPageCancelled(t *testing.T) {
	s, _ := openStore(t)
	seedAccounts(t, s)
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, err := s.ApplyPage(ctx, "account", pageOf(accountEnt, nil, []row{acct("a1", "v1", "A", "Oslo", 1)}, cursor("c1")), noConflict(t)); err == nil {
		t.Fatal("ApplyPage with a cancelled context succeeded")
	}
	if getRow(t, s, "account", "a1") != nil {
		t.Error("a cancelled page was written")
	}
	// The store still works afterwards.
	apply(t, s, "account", pageOf(accountEnt, nil, []row{acct("a1", "v1", "A", "Oslo", 1)}, cursor("c1")), nil)
}

// TestCrashResume applies pages 1..k of a bulk download, stops (closing
// the store, or abandoning it as a killed process would), reopens and
// finishes: the cursor is page k's, and the final table is right.
func TestCrashResume(t *testing.T) {
	const pages, perPage = 5, 7
	mk := func(n int) *sdk.Page {
		var rows []row
		for i := 0; i < perPage; i++ {
			id := fmt.Sprintf("r%02d-%02d", n, i)
			rows = append(rows, acct(id, "v1", id, "Oslo", int64(n)))
		}
		if n > 1 {
			// The backend repeats one row of the page before.
			prev := fmt.Sprintf("r%02d-%02d", n-1, 0)
			rows = append(rows, acct(prev, "v2", prev, "Oslo", int64(n)))
		}
		if n == pages {
			return pageOf(accountEnt, nil, rows, deletes("r01-01"), last("final"))
		}
		return pageOf(accountEnt, nil, rows, cursor(fmt.Sprintf("cursor-%d", n)))
	}
	for _, closeIt := range []bool{true, false} {
		for k := 1; k < pages; k++ {
			t.Run(fmt.Sprintf("close=%v/k=%d", closeIt, k), func(t *testing.T) {
				s, path := openStore(t)
				ensure(t, s, accountEnt, nil)
				if _, err := s.BeginFull(bg, "account"); err != nil {
					t.Fatal(err)
				}
				for n := 1; n <= k; n++ {
					apply(t, s, "account", mk(n), nil)
				}
				if closeIt {
					if err := s.Close(); err != nil {
						t.Fatal(err)
					}
				}
				s2 := reopen(t, path)
				// Before EnsureEntity (the engine may read state first).
				st := state(t, s2, "account")
				if st.Mode != ModeBulk || !bytes.Equal(st.Cursor, []byte(fmt.Sprintf("cursor-%d", k))) || st.Token != nil {
					t.Fatalf("state after reopen %+v (cursor %q)", st, st.Cursor)
				}
				if ensure(t, s2, accountEnt, nil) {
					t.Error("EnsureEntity after a restart asks for a resync")
				}
				if st2 := state(t, s2, "account"); st2.Mode != ModeBulk || !bytes.Equal(st2.Cursor, st.Cursor) {
					t.Fatalf("EnsureEntity moved the state: %+v", st2)
				}
				for n := k + 1; n <= pages; n++ {
					apply(t, s2, "account", mk(n), nil)
				}
				h := openHost(t, path)
				if got, want := h.count("account"), pages*perPage-1; got != want {
					t.Errorf("%d rows, want %d", got, want)
				}
				if h.text("SELECT count(*) FROM (SELECT accountid FROM account GROUP BY accountid HAVING count(*) > 1)") != "0" {
					t.Error("duplicate rows left")
				}
				if r := getRow(t, s2, "account", "r01-00"); r == nil || r.Version != "v2" {
					t.Errorf("a repeated row: %+v", r)
				}
				if !h.hasIndex(accountIndex) {
					t.Error("no key index")
				}
				end := state(t, s2, "account")
				if end.Mode != ModeReady || string(end.Token) != "final" || end.Cursor != nil {
					t.Errorf("final state %+v", end)
				}
				if n := len(allChanges(t, s2)); n != 0 {
					t.Errorf("the download left %d changes", n)
				}
			})
		}
	}
}

func TestResetAndStates(t *testing.T) {
	s, _ := openStore(t)
	seedAccounts(t, s, acct("a1", "v1", "A", "Oslo", 1))
	ensure(t, s, contactEnt, nil)
	if err := s.Reset(bg, "account"); err != nil {
		t.Fatal(err)
	}
	sts, err := s.States(bg)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 2 || sts[0].Entity != "account" || sts[0].Mode != ModeNew || sts[0].Token != nil || sts[1].Entity != "contact" {
		t.Errorf("states %+v", sts)
	}
	if _, err := s.State(bg, "nope"); err == nil {
		t.Error("State of an unknown entity")
	}
	if _, err := s.BeginFull(bg, "nope"); err == nil {
		t.Error("BeginFull of an unknown entity")
	}
}

// A bulk load interrupted with a row twice, then restarted as a resync
// (the field selection changed meanwhile), still ends with one row per key.
func TestResyncAfterInterruptedBulk(t *testing.T) {
	s, path := openStore(t)
	ensure(t, s, accountEnt, []string{"name", "city"})
	if _, err := s.BeginFull(bg, "account"); err != nil {
		t.Fatal(err)
	}
	two := []string{"name", "city"}
	apply(t, s, "account", pageOf(accountEnt, two, []row{
		{"a1", "v1", []sdk.Value{sdk.String("A"), sdk.String("Oslo")}},
		{"a1", "v1", []sdk.Value{sdk.String("A"), sdk.String("Oslo")}},
		{"a2", "v1", []sdk.Value{sdk.String("B"), sdk.String("Oslo")}},
	}, cursor("c1")), nil)
	if !ensure(t, s, accountEnt, nil) {
		t.Fatal("a changed selection must ask for a resync")
	}
	st, err := s.BeginFull(bg, "account")
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode != ModeResync || st.Cursor != nil {
		t.Fatalf("state %+v", st)
	}
	apply(t, s, "account", pageOf(accountEnt, nil, []row{acct("a1", "v2", "A", "Oslo", 10)}, last("t")), nil)
	h := openHost(t, path)
	if got := h.rows("SELECT accountid, employees FROM account"); len(got) != 1 || got[0][0] != "a1" || got[0][1] != "10" {
		t.Errorf("rows %v", got)
	}
	if !h.hasIndex(accountIndex) {
		t.Error("no key index")
	}
}

// A wider field selection resyncs a row the device edited: the row keeps the
// device's edit and gets the server's value of the new column.
func TestResyncNewColumnWithLocalChange(t *testing.T) {
	s, path := openStore(t)
	ensure(t, s, accountEnt, []string{"name"})
	if _, err := s.BeginFull(bg, "account"); err != nil {
		t.Fatal(err)
	}
	apply(t, s, "account", pageOf(accountEnt, []string{"name"}, []row{{"a1", "v1", []sdk.Value{sdk.String("A")}}}, last("t1")), nil)
	h := openHost(t, path)
	h.exec("UPDATE account SET name = 'local' WHERE accountid = 'a1'")
	if !ensure(t, s, accountEnt, nil) {
		t.Fatal("want resync")
	}
	if _, err := s.BeginFull(bg, "account"); err != nil {
		t.Fatal(err)
	}
	stats := apply(t, s, "account", pageOf(accountEnt, nil, []row{acct("a1", "v1", "A", "Oslo", 7)}, last("t2")), noConflict(t))
	if stats.Conflicts != 0 || stats.Unchanged != 1 {
		t.Errorf("stats %+v", stats)
	}
	r := getRow(t, s, "account", "a1")
	wantValues(t, "row", r.Values, vals("name", "local", "city", "Oslo", "employees", 7))
	if r.Version != "v1" {
		t.Errorf("version %q", r.Version)
	}
	out := outbox(t, s)
	if len(out) != 1 || out[0].BaseVersion != "v1" || !sameStrings(out[0].Fields, []string{"name"}) || out[0].State != StatePending {
		t.Errorf("outbox %+v", out)
	}
}
