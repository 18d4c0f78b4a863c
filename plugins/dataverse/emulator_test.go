package dataverse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/plugins/dataverse/emulator"
	"github.com/fieldsync/fieldsync/sdk"
)

// Integration tests against the emulator (package emulator): what the
// contract suite does not single out.

// guid makes the i-th test id.
func guid(i int) string { return fmt.Sprintf("0000abcd-0000-4000-8000-%012d", i) }

// createAccounts pushes accounts named names, ids guid(base+i).
func createAccounts(t *testing.T, c sdk.Connector, base int, names ...string) []sdk.ChangeResult {
	t.Helper()
	var changes []sdk.Change
	for i, n := range names {
		changes = append(changes, sdk.Change{ChangeID: fmt.Sprintf("c%d", base+i), Op: sdk.OpCreate, Entity: "account", ID: guid(base + i),
			Values: map[string]sdk.Value{"name": sdk.String(n), "numberofemployees": sdk.Int(int64(i))}})
	}
	return mustPush(t, c, changes...)
}

func mustPush(t *testing.T, c sdk.Connector, changes ...sdk.Change) []sdk.ChangeResult {
	t.Helper()
	resp, err := c.Push(context.Background(), sdk.PushRequest{Changes: changes})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range resp.Results {
		if r.Status != sdk.StatusApplied {
			t.Fatalf("change %d (%s %s): %s %v", i, changes[i].Op, changes[i].ID, r.Status, r.Err)
		}
	}
	return resp.Results
}

func TestThrottlingAndRetries(t *testing.T) {
	o := newOrg(t, nil)
	c := o.connect(t, map[string]string{"retries": "8"})
	createAccounts(t, c, 0, "a", "b", "c", "d", "e")

	o.srv.SetFaults(emulator.Faults{Force429: 1, RetryAfter: 1})
	start := time.Now()
	rows, _, _ := mustFetch(t, c, sdk.FetchRequest{Entity: "account", PageSize: 2})
	if len(rows) < 5 {
		t.Fatalf("fetched %d rows through a 429", len(rows))
	}
	if time.Since(start) < time.Second {
		t.Errorf("the fetch did not wait out Retry-After: 1")
	}
	u, _ := c.Usage(context.Background())
	if u.ThrottledMs < 900 || u.Retries < 1 {
		t.Errorf("usage after a 429: %+v", u)
	}

	o.srv.SetFaults(emulator.Faults{FailRate: 30, DropRate: 10})
	before := u.Retries
	for i := 0; i < 8; i++ { // ~25 requests: some fail for sure
		if rows, _, _ := mustFetch(t, c, sdk.FetchRequest{Entity: "account", PageSize: 2}); len(rows) < 5 {
			t.Fatalf("fetched %d rows through 503s and dropped connections", len(rows))
		}
	}
	createAccounts(t, c, 10, "f", "g")
	o.srv.SetFaults(emulator.Faults{})
	u, _ = c.Usage(context.Background())
	if u.Retries <= before {
		t.Errorf("no retries counted through 30%% 503s and 10%% drops: %+v", u)
	}
	if u.Paths["account"] != "webapi" {
		t.Errorf("path of account: %q", u.Paths["account"])
	}
}

func TestThrottleWaitBounded(t *testing.T) {
	o := newOrg(t, nil)
	c := o.connect(t, map[string]string{"max_throttle_wait": "500ms"})
	o.srv.SetFaults(emulator.Faults{Force429: 5, RetryAfter: 30})
	_, err := c.Schema(context.Background())
	var se *sdk.Error
	if !errors.As(err, &se) || se.Kind != sdk.Retryable || se.RetryAfter != 30*time.Second {
		t.Fatalf("a 429 asking for more than max_throttle_wait: %v, want Retryable carrying Retry-After 30s", err)
	}
}

func TestConflictCarriesServerRow(t *testing.T) {
	o := newOrg(t, nil)
	a, b := o.connect(t, nil), o.connect(t, nil)
	first := createAccounts(t, a, 0, "original")[0]
	moved := mustPush(t, b, sdk.Change{ChangeID: "b1", Op: sdk.OpUpdate, Entity: "account", ID: guid(0), BaseVersion: first.Version,
		Values: map[string]sdk.Value{"name": sdk.String("by b")}})[0]
	resp, err := a.Push(context.Background(), sdk.PushRequest{Changes: []sdk.Change{{ChangeID: "a2", Op: sdk.OpUpdate, Entity: "account",
		ID: guid(0), BaseVersion: first.Version, Values: map[string]sdk.Value{"name": sdk.String("by a")}}}})
	if err != nil {
		t.Fatal(err)
	}
	r := resp.Results[0]
	if r.Status != sdk.StatusConflict || r.Current == nil || r.Current.Version != moved.Version || r.Current.Values["name"].Str() != "by b" {
		t.Fatalf("stale update: %+v", r)
	}
	// A resend of b's applied update (same values, stale base) is applied,
	// not a conflict, and does not move the version.
	again := mustPush(t, b, sdk.Change{ChangeID: "b1", Op: sdk.OpUpdate, Entity: "account", ID: guid(0), BaseVersion: first.Version,
		Values: map[string]sdk.Value{"name": sdk.String("by b")}})[0]
	if again.Version != moved.Version {
		t.Errorf("resent update answered version %q, first %q", again.Version, moved.Version)
	}
}

func TestExpiredDeltaToken(t *testing.T) {
	o := newOrg(t, nil)
	c := o.connect(t, nil)
	createAccounts(t, c, 0, "a")
	_, _, tok := mustFetch(t, c, sdk.FetchRequest{Entity: "account"})
	_, _, ftok := mustFetch(t, c, sdk.FetchRequest{Entity: "account", Filter: sdk.Cmp("name", sdk.OpEq, sdk.String("a"))})
	if err := o.srv.ExpireDeltaTokens(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, req := range []sdk.FetchRequest{
		{Entity: "account", Token: tok},
		{Entity: "account", Filter: sdk.Cmp("name", sdk.OpEq, sdk.String("a")), Token: ftok},
	} {
		_, err := fetchAll(t, c, req)
		if sdk.KindOf(err) != sdk.TokenExpired {
			t.Errorf("fetch from an expired token: %v (kind %s), want TokenExpired", err, sdk.KindOf(err))
		}
	}
	changed, err := c.CheckChanges(context.Background(), []sdk.ChangeProbe{{Entity: "account", Token: tok}})
	if err != nil || !changed[0] {
		t.Errorf("change check of an expired token: %v %v, want true", changed, err)
	}
	// A token of another field selection cannot serve: TokenExpired too.
	_, err = fetchAll(t, c, sdk.FetchRequest{Entity: "account", Fields: []string{"name"}, Token: tok})
	if sdk.KindOf(err) != sdk.TokenExpired {
		t.Errorf("token of another selection: %v", err)
	}
}

// TestFilteredDeltaLeaveFilter: a filtered entity's incremental fetch
// sends rows that left the filter as deletes, rows that entered it as
// upserts, and nothing of the rows outside it.
func TestFilteredDeltaLeaveFilter(t *testing.T) {
	o := newOrg(t, nil)
	a, b := o.connect(t, nil), o.connect(t, nil)
	res := createAccounts(t, a, 0, "in-1", "in-2", "in-3", "out-1", "out-2", "out-3")
	filter := sdk.Cmp("name", sdk.OpBeginsWith, sdk.String("in-"))
	req := sdk.FetchRequest{Entity: "account", Fields: []string{"name"}, Filter: filter, PageSize: 2}
	rows, _, tok := mustFetch(t, a, req)
	if len(rows) != 3 {
		t.Fatalf("filtered full read: %d rows, want 3", len(rows))
	}
	upd := func(i int, name string) sdk.Change {
		return sdk.Change{ChangeID: fmt.Sprintf("u%d", i), Op: sdk.OpUpdate, Entity: "account", ID: guid(i), BaseVersion: res[i].Version,
			Values: map[string]sdk.Value{"name": sdk.String(name)}}
	}
	mustPush(t, b,
		upd(0, "out-now"),   // leaves the filter
		upd(1, "in-2 bis"),  // changes within it
		upd(3, "in-now"),    // enters it
		upd(4, "out-2 bis"), // changes outside it
		sdk.Change{ChangeID: "d2", Op: sdk.OpDelete, Entity: "account", ID: guid(2), BaseVersion: res[2].Version},
	)
	req.Token = tok
	rows, deletes, next := mustFetch(t, a, req)
	gotRows := map[string]bool{}
	for id := range rows {
		gotRows[id] = true
	}
	if len(rows) != 2 || !gotRows[guid(1)] || !gotRows[guid(3)] {
		t.Errorf("upserts %v, want the changed row in the filter and the one that entered", gotRows)
	}
	if !deletes[guid(0)] || !deletes[guid(2)] {
		t.Errorf("deletes %v, want the row that left the filter and the deleted one", deletes)
	}
	for _, outside := range []string{guid(4), guid(5)} {
		if gotRows[outside] {
			t.Errorf("row %s outside the filter was sent as an upsert", outside)
		}
	}
	// Nothing changed since: nothing comes.
	req.Token = next
	rows, deletes, _ = mustFetch(t, a, req)
	if len(rows)+len(deletes) != 0 {
		t.Errorf("quiet incremental: %d rows, %d deletes", len(rows), len(deletes))
	}
}

// TestChangeCheckOneRequest: the change check of several entities is one
// request to the service.
func TestChangeCheckOneRequest(t *testing.T) {
	o := newOrg(t, nil)
	c := o.connect(t, nil)
	createAccounts(t, c, 0, "a")
	var probes []sdk.ChangeProbe
	for _, e := range []string{"account", "contact", "opportunity"} {
		_, _, tok := mustFetch(t, c, sdk.FetchRequest{Entity: e})
		probes = append(probes, sdk.ChangeProbe{Entity: e, Token: tok})
	}
	createAccounts(t, c, 1, "b")
	before := o.srv.LastRequestID()
	changed, err := c.CheckChanges(context.Background(), probes)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(changed) != "[true false false]" {
		t.Errorf("changed = %v, want [true false false]", changed)
	}
	reqs := apiRequests(o.srv.Requests(before))
	if len(reqs) != 1 || reqs[0].Method != http.MethodPost || !strings.HasSuffix(reqs[0].Path, "$batch") || reqs[0].Parts != 3 {
		t.Errorf("the change check made requests %+v, want one $batch of 3 parts", reqs)
	}
}

func TestDocumentsWriteAndRead(t *testing.T) {
	o := newOrg(t, func(opts *emulator.Options) { opts.MaxUploadFileSize = 64 << 20 })
	c := o.connect(t, nil)
	createAccounts(t, c, 0, "owner")
	small := bytes.Repeat([]byte("small document "), 100)
	big := make([]byte, 9<<20+123) // three blocks
	for i := range big {
		big[i] = byte(i*31 + i/4096)
	}
	docID := guid(900)
	for _, tc := range []struct {
		name    string
		id      string
		content []byte
		size    int64
	}{
		{"small.txt", docID, small, int64(len(small))},
		{"small.txt", docID, small, int64(len(small))}, // a retry: same note
		{"big.bin", "", big, -1},
	} {
		d, err := c.WriteDocument(context.Background(), sdk.Document{ID: tc.id, Entity: "account", RecordID: guid(0), Name: tc.name, MimeType: "application/octet-stream", Size: tc.size}, bytes.NewReader(tc.content))
		if err != nil {
			t.Fatalf("write %s: %v", tc.name, err)
		}
		if d.Size != int64(len(tc.content)) || d.ID == "" || (tc.id != "" && d.ID != tc.id) {
			t.Errorf("write %s answered %+v", tc.name, d)
		}
	}
	var docs []sdk.Document
	err := c.ListDocuments(context.Background(), sdk.DocumentQuery{Entity: "account", RecordIDs: []string{guid(0)}}, func(p *sdk.DocumentPage) error {
		docs = append(docs, p.Documents...)
		return nil
	})
	if err != nil || len(docs) != 2 {
		t.Fatalf("listed %d documents (%v), want 2: a retried upload makes no second note", len(docs), err)
	}
	for _, d := range docs {
		want := small
		if d.Name == "big.bin" {
			want = big
		}
		for _, off := range []int64{0, 5, int64(len(want)) - 3, 4<<20 + 7} {
			if off > int64(len(want)) {
				continue
			}
			var buf bytes.Buffer
			if err := c.ReadDocument(context.Background(), d.ID, off, &buf); err != nil {
				t.Fatalf("read %s from %d: %v", d.Name, off, err)
			}
			if !bytes.Equal(buf.Bytes(), want[off:]) {
				t.Errorf("read %s from %d: %d bytes differ from the %d written after it", d.Name, off, buf.Len(), len(want)-int(off))
			}
		}
	}
	if err := c.ReadDocument(context.Background(), guid(999), 0, &bytes.Buffer{}); sdk.KindOf(err) != sdk.Permanent {
		t.Errorf("read of an unknown document: %v", err)
	}
}

func TestParentChildCreatesInOneChangeSet(t *testing.T) {
	o := newOrg(t, nil)
	c := o.connect(t, nil)
	before := o.srv.LastRequestID()
	res := mustPush(t, c,
		sdk.Change{ChangeID: "p", Op: sdk.OpCreate, Entity: "account", ID: guid(1), Values: map[string]sdk.Value{"name": sdk.String("parent")}},
		sdk.Change{ChangeID: "k", Op: sdk.OpCreate, Entity: "contact", ID: guid(2), Values: map[string]sdk.Value{"lastname": sdk.String("child"), "parentcustomerid": sdk.String(guid(1))}},
		sdk.Change{ChangeID: "o", Op: sdk.OpCreate, Entity: "opportunity", ID: guid(3), Values: map[string]sdk.Value{"name": sdk.String("deal"), "parentaccountid": sdk.String(guid(1))}},
	)
	if len(res) != 3 {
		t.Fatal(res)
	}
	if reqs := apiRequests(o.srv.Requests(before)); len(reqs) != 1 || reqs[0].Parts != 3 {
		t.Errorf("push made %+v, want one $batch", reqs)
	}
	rows, _, _ := mustFetch(t, c, sdk.FetchRequest{Entity: "contact", Fields: []string{"parentcustomerid"}})
	if p := rows[guid(2)]; p == nil || p.Columns[0].Strings[0] != guid(1) {
		t.Errorf("the child's lookup does not name the parent")
	}
	// A child whose parent fails takes nothing with it but itself: the
	// parent's failure is its own, the child fails on the missing parent.
	resp, err := c.Push(context.Background(), sdk.PushRequest{Changes: []sdk.Change{
		{ChangeID: "p2", Op: sdk.OpCreate, Entity: "account", ID: guid(4), Values: map[string]sdk.Value{"name": sdk.String(strings.Repeat("x", 500))}},
		{ChangeID: "k2", Op: sdk.OpCreate, Entity: "contact", ID: guid(5), Values: map[string]sdk.Value{"lastname": sdk.String("orphan"), "parentcustomerid": sdk.String(guid(4))}},
		{ChangeID: "ok", Op: sdk.OpCreate, Entity: "account", ID: guid(6), Values: map[string]sdk.Value{"name": sdk.String("fine")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.Results; r[0].Status != sdk.StatusFailed || r[1].Status != sdk.StatusFailed || r[2].Status != sdk.StatusApplied {
		t.Errorf("results %v %v %v: want failed, failed, applied", r[0].Status, r[1].Status, r[2].Status)
	}
}

// apiRequests leaves out token and $metadata requests.
func apiRequests(reqs []emulator.Request) []emulator.Request {
	var out []emulator.Request
	for _, r := range reqs {
		if strings.HasPrefix(r.Path, emulator.APIPath) && !strings.Contains(r.Path, "$metadata") {
			out = append(out, r)
		}
	}
	return out
}

// TestRevokedTokenRefreshed: a token the service stops accepting (401) is
// fetched anew, once, and the call goes on.
func TestRevokedTokenRefreshed(t *testing.T) {
	o := newOrg(t, nil)
	c := o.connect(t, nil)
	createAccounts(t, c, 0, "a")
	o.srv.ExpireAccessTokens()
	time.Sleep(1100 * time.Millisecond) // tokens are stamped in whole seconds
	if rows, _, _ := mustFetch(t, c, sdk.FetchRequest{Entity: "account"}); len(rows) != 1 {
		t.Fatalf("fetch after the token was revoked: %d rows", len(rows))
	}
}
