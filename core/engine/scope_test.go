package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/core/conflict"
	"github.com/fieldsync/fieldsync/sdk"
)

// reconfigure gives the device a new configuration, as a host app does
// after the admin changed it: a new engine on the same store.
func (d *device) reconfigure(entities []EntityConfig) {
	d.t.Helper()
	opts := d.eng.opts
	opts.Entities = entities
	eng, err := New(opts)
	if err != nil {
		d.t.Fatal(err)
	}
	d.eng = eng
}

func entityLog(lg *Log, name string) EntityLog {
	for _, el := range lg.Entities {
		if el.Name == name {
			return el
		}
	}
	return EntityLog{}
}

func removed(lg *Log, entity, reason string) (n, kept int) {
	for _, r := range lg.Cleanup.Removed {
		if r.Entity == entity && r.Reason == reason {
			n += r.Removed
			kept += r.Kept
		}
	}
	return n, kept
}

// TestFilterChangeResyncsThatEntityOnly: a changed filter reads that entity
// again, keeps what still matches, removes what no longer does; the other
// entities go on incrementally.
func TestFilterChangeResyncsThatEntityOnly(t *testing.T) {
	w := newWorld(t, 60)
	low := sdk.Cmp("employees", sdk.OpLt, sdk.Int(500))
	d := w.device("dev", []EntityConfig{{Name: "account", Filter: low}, {Name: "contact"}})
	d.sync()
	if got, want := d.count(`SELECT count(*) FROM account`), w.count(`SELECT count(*) FROM account WHERE employees < 500`); got != want || want == 0 {
		t.Fatalf("first sync: %d accounts on the device, %d match", got, want)
	}
	d.reconfigure([]EntityConfig{{Name: "account", Filter: sdk.Cmp("employees", sdk.OpLt, sdk.Int(200))}, {Name: "contact"}})
	lg := d.sync()
	if m := entityLog(lg, "account").Mode; m != "full" {
		t.Errorf("account after its filter changed: mode %q, want full", m)
	}
	if m := entityLog(lg, "contact").Mode; m != "unchanged" {
		t.Errorf("contact, whose configuration did not change: mode %q, want unchanged", m)
	}
	if got, want := d.count(`SELECT count(*) FROM account`), w.count(`SELECT count(*) FROM account WHERE employees < 200`); got != want {
		t.Errorf("after the change: %d accounts on the device, %d match the new filter", got, want)
	}
	if n := d.count(`SELECT count(*) FROM account WHERE employees >= 200`); n != 0 {
		t.Errorf("%d accounts outside the new filter stayed", n)
	}
	// The same filter again is no change.
	lg = d.sync()
	if m := entityLog(lg, "account").Mode; m != "unchanged" {
		t.Errorf("an unchanged filter: mode %q, want unchanged", m)
	}
}

// TestCleanupRelatedAndOrphans: contacts come down only for accounts on the
// device; an account that leaves its filter takes its contacts with it, and
// a contact with a local change not yet settled stays.
func TestCleanupRelatedAndOrphans(t *testing.T) {
	w := newWorld(t, 30)
	active := sdk.Cmp("active", sdk.OpEq, sdk.Bool(true))
	cfg := []EntityConfig{
		{Name: "account", Filter: active},
		{Name: "contact", RelatedOnly: true, Conflict: conflict.ManualReview},
	}
	d := w.device("dev", cfg)
	d.sync()
	if got, want := d.count(`SELECT count(*) FROM contact`), w.count(`SELECT count(*) FROM contact WHERE parentaccountid IN (SELECT accountid FROM account WHERE active = 1)`); got != want || want == 0 {
		t.Fatalf("related contacts: %d on the device, want %d", got, want)
	}
	if n := d.count(`SELECT count(*) FROM contact WHERE parentaccountid NOT IN (SELECT accountid FROM account)`); n != 0 {
		t.Fatalf("%d contacts whose account is not on the device came down", n)
	}
	// Two active accounts close. The device edits a contact of the first
	// while the server edits it too: a conflict parked for review, so the
	// local change stays pending through cleanup.
	acc := strings.Split(w.text(`SELECT group_concat(accountid) FROM (SELECT accountid FROM account WHERE active = 1 AND accountid IN (SELECT parentaccountid FROM contact) ORDER BY rowid LIMIT 2)`), ",")
	kept := w.text(`SELECT contactid FROM contact WHERE parentaccountid = '` + acc[0] + `' ORDER BY rowid LIMIT 1`)
	d.exec(`UPDATE contact SET jobtitle = 'device edit' WHERE contactid = '` + kept + `'`)
	w.exec(`UPDATE contact SET jobtitle = 'server edit' WHERE contactid = '` + kept + `'`)
	w.exec(`UPDATE account SET active = 0 WHERE accountid IN ('` + acc[0] + `', '` + acc[1] + `')`)
	lg := d.sync()
	if n := d.count(`SELECT count(*) FROM account WHERE accountid IN ('` + acc[0] + `', '` + acc[1] + `')`); n != 0 {
		t.Errorf("%d closed accounts stayed on the device", n)
	}
	orphans := w.count(`SELECT count(*) FROM contact WHERE parentaccountid IN ('` + acc[0] + `', '` + acc[1] + `')`)
	if n := d.count(`SELECT count(*) FROM contact WHERE parentaccountid IN ('` + acc[0] + `', '` + acc[1] + `')`); n != 1 {
		t.Errorf("%d contacts of the closed accounts stayed; want only the one with a pending change", n)
	}
	if d.count(`SELECT count(*) FROM contact WHERE contactid = '`+kept+`' AND jobtitle = 'device edit'`) != 1 {
		t.Error("the contact with a pending local change was removed or overwritten")
	}
	n, k := removed(lg, "contact", "filter")
	n2, k2 := removed(lg, "contact", "orphan")
	if int64(n+n2) != orphans-1 || k+k2 == 0 {
		t.Errorf("cleanup log: removed %d by filter and %d as orphans (kept %d, %d); want %d removed and the pending one kept: %+v", n, n2, k, k2, orphans-1, lg.Cleanup)
	}
	if len(lg.Cleanup.Removed) == 0 {
		t.Error("the sync log does not say what cleanup removed")
	}
}

// TestMembershipCheckRemovesRowsThatLeftWithoutChanging: the user leaves a
// team; the team's opportunities did not change, so no incremental fetch
// reports them, and the membership check removes them.
func TestMembershipCheckRemovesRowsThatLeftWithoutChanging(t *testing.T) {
	w := newWorld(t, 20)
	ctx := context.Background()
	alice, err := w.srv.AddUser(ctx, "alice", "b0000000-0000-4000-8000-000000000001")
	if err != nil {
		t.Fatal(err)
	}
	team := "7eed0000-0000-4000-8000-000000000001"
	if err := w.srv.AddTeamMember(ctx, team, alice); err != nil {
		t.Fatal(err)
	}
	if err := w.srv.AssignOwners(ctx, "opportunity", "ownerid", []string{alice, team, "0be00000-0000-4000-8000-000000000009"}); err != nil {
		t.Fatal(err)
	}
	d := w.device("alice", []EntityConfig{{Name: "opportunity", Filter: sdk.Cmp("ownerid", sdk.OpEqUserOrUserTeams)}})
	d.sync()
	teamRows := w.count(`SELECT count(*) FROM opportunity WHERE ownerid = '` + team + `'`)
	if got, want := d.count(`SELECT count(*) FROM opportunity`), w.count(`SELECT count(*) FROM opportunity WHERE ownerid IN ('`+alice+`', '`+team+`')`); got != want || teamRows == 0 {
		t.Fatalf("alice has %d opportunities, want %d (team rows %d)", got, want, teamRows)
	}
	if err := w.srv.RemoveTeamMember(ctx, team, alice); err != nil {
		t.Fatal(err)
	}
	lg := d.sync()
	if n := d.count(`SELECT count(*) FROM opportunity WHERE ownerid = '` + team + `'`); n != 0 {
		t.Errorf("%d of the team's opportunities stayed after alice left the team", n)
	}
	if n, _ := removed(lg, "opportunity", "filter"); int64(n) != teamRows {
		t.Errorf("cleanup removed %d by filter, want %d: %+v", n, teamRows, lg.Cleanup)
	}
}

// TestSharedRecords: a record shared with the user arrives at the next
// incremental sync though it was not modified, and leaves when unshared.
func TestSharedRecords(t *testing.T) {
	w := newWorld(t, 20)
	ctx := context.Background()
	alice, _ := w.srv.AddUser(ctx, "alice", "b0000000-0000-4000-8000-000000000001")
	bob, _ := w.srv.AddUser(ctx, "bob", "b0000000-0000-4000-8000-000000000001")
	if err := w.srv.AssignOwners(ctx, "opportunity", "ownerid", []string{alice, bob}); err != nil {
		t.Fatal(err)
	}
	d := w.device("alice", []EntityConfig{{Name: "opportunity", Filter: sdk.Cmp("ownerid", sdk.OpEqUserID)}})
	d.sync()
	bobs := w.text(`SELECT opportunityid FROM opportunity WHERE ownerid = '` + bob + `' ORDER BY rowid LIMIT 1`)
	if d.count(`SELECT count(*) FROM opportunity WHERE opportunityid = '`+bobs+`'`) != 0 {
		t.Fatal("bob's opportunity reached alice")
	}
	if err := w.srv.Share(ctx, "opportunity", bobs, alice); err != nil {
		t.Fatal(err)
	}
	lg := d.sync()
	if d.count(`SELECT count(*) FROM opportunity WHERE opportunityid = '`+bobs+`'`) != 1 {
		t.Fatalf("the opportunity shared with alice did not arrive: %+v", entityLog(lg, "opportunity"))
	}
	if err := w.srv.Unshare(ctx, "opportunity", bobs, alice); err != nil {
		t.Fatal(err)
	}
	d.sync()
	if d.count(`SELECT count(*) FROM opportunity WHERE opportunityid = '`+bobs+`'`) != 0 {
		t.Error("the unshared opportunity stayed on alice's device")
	}
}

// TestDroppedAndOnlineOnlyEntities: an entity removed from the
// configuration loses its table, one made online-only too, and nothing else
// is downloaded again.
func TestDroppedAndOnlineOnlyEntities(t *testing.T) {
	w := newWorld(t, 10)
	d := w.device("dev", allThree)
	d.sync()
	d.reconfigure([]EntityConfig{{Name: "account"}, {Name: "contact", OnlineOnly: true}})
	lg := d.sync()
	if strings.Join(lg.Cleanup.Dropped, ",") != "contact,opportunity" {
		t.Errorf("dropped %v, want contact and opportunity", lg.Cleanup.Dropped)
	}
	if n := d.count(`SELECT count(*) FROM sqlite_schema WHERE name IN ('contact', 'opportunity')`); n != 0 {
		t.Errorf("%d dropped tables remain", n)
	}
	if m := entityLog(lg, "account").Mode; m != "unchanged" || len(lg.Entities) != 1 {
		t.Errorf("downloads after the change: %+v", lg.Entities)
	}
}

// TestUnsupportedFilterRefused: a filter the connector cannot express stops
// the sync before anything is fetched.
func TestUnsupportedFilterRefused(t *testing.T) {
	w := newWorld(t, 5)
	d := w.device("dev", []EntityConfig{{Name: "account", Filter: sdk.Cmp("createdon", sdk.OpLastXDays, sdk.Int(3))}})
	d.conn = limitedOps{d.conn, []sdk.FilterOp{sdk.OpEq, sdk.OpAnd}}
	opts := d.eng.opts
	opts.Connector = d.conn
	d.eng, _ = New(opts)
	_, before, _ := w.srv.Requests(context.Background(), 0)
	lg, err := d.eng.Sync(context.Background(), SyncOptions{})
	if err == nil || !strings.Contains(err.Error(), `cannot express the filter operator "last-x-days"`) {
		t.Fatalf("sync with an inexpressible filter: %v", err)
	}
	reqs, _, _ := w.srv.Requests(context.Background(), before)
	for _, r := range reqs {
		if r.Op == "fetch" {
			t.Errorf("a fetch ran although the filter was refused: %+v", r)
		}
	}
	if lg.Result != "failed" {
		t.Errorf("result %q", lg.Result)
	}
}

// limitedOps is a connector that says it can express only some operators.
type limitedOps struct {
	sdk.Connector
	ops []sdk.FilterOp
}

func (l limitedOps) Info(ctx context.Context) (sdk.Info, error) {
	info, err := l.Connector.Info(ctx)
	info.FilterOps = l.ops
	return info, err
}

// TestDependencyRankCycles: entities referencing each other rank in
// configuration order, after their own parents and before their children.
func TestDependencyRankCycles(t *testing.T) {
	lk := func(target string) sdk.Field {
		return sdk.Field{Name: target + "id", Type: sdk.TypeLookup, Target: target}
	}
	ep := func(name string, fields ...sdk.Field) *entityPlan {
		return &entityPlan{ent: &sdk.Entity{Name: name, Fields: fields}}
	}
	// user ← account ⇄ contact ← note; account is configured first.
	eps := []*entityPlan{
		ep("note", lk("contact")),
		ep("account", lk("contact"), lk("user")),
		ep("contact", lk("account")),
		ep("user"),
	}
	rank := dependencyRank(eps)
	order := make([]string, len(rank))
	for n, r := range rank {
		order[r] = n
	}
	if got := strings.Join(order, ","); got != "user,account,contact,note" {
		t.Errorf("rank order %s, want user,account,contact,note", got)
	}
}
