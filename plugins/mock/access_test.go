package mock

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

// accessServer seeds accounts with contacts and opportunities, two users in
// two business units, a team, owners spread over them, and one share.
type accessFixture struct {
	s                *Server
	path             string
	alice, bob, team string
	shared           string // an opportunity of bob's shared with alice
}

func newAccessFixture(t *testing.T) *accessFixture {
	t.Helper()
	ctx := context.Background()
	s, path := newServer(t)
	must(t, s.Seed(ctx, SeedOptions{Accounts: 40, ContactsPerAccount: 2, OpportunitiesPerAccount: 3, Seed: 7}))
	f := &accessFixture{s: s, path: path, team: "7eed0000-0000-4000-8000-000000000001"}
	var err error
	f.alice, err = s.AddUser(ctx, "alice", "b0000000-0000-4000-8000-00000000000a")
	must(t, err)
	f.bob, err = s.AddUser(ctx, "bob", "b0000000-0000-4000-8000-00000000000b")
	must(t, err)
	must(t, s.AddTeamMember(ctx, f.team, f.alice))
	must(t, s.AssignOwners(ctx, "opportunity", "ownerid", []string{f.alice, f.bob, f.team}))
	must(t, s.AssignOwners(ctx, "opportunity", "owningbusinessunit", []string{"b0000000-0000-4000-8000-00000000000a", "b0000000-0000-4000-8000-00000000000b"}))
	f.shared, err = s.QueryText(ctx, `SELECT opportunityid FROM opportunity WHERE ownerid = ?1 ORDER BY rowid LIMIT 1`, f.bob)
	must(t, err)
	must(t, s.Share(ctx, "opportunity", f.shared, f.alice))
	must(t, s.SetLogRows(ctx, true))
	return f
}

// sentBy fetches entity through a connector of user with filter and returns
// the ids the request log says the fetch sent, sorted.
func (f *accessFixture) sentBy(t *testing.T, user, entity string, filter *sdk.Filter) []string {
	t.Helper()
	ctx := context.Background()
	_, last, err := f.s.Requests(ctx, 0)
	must(t, err)
	c := newConnector(t, f.path, user)
	got := fetchAll(t, c, sdk.FetchRequest{Entity: entity, Filter: filter, PageSize: 17})
	reqs, _, err := f.s.Requests(ctx, last)
	must(t, err)
	var fetch *Request
	for i := range reqs {
		if reqs[i].Op == "fetch" {
			fetch = &reqs[i]
		}
	}
	if fetch == nil {
		t.Fatal("the request log has no fetch")
	}
	rows, deletes, err := f.s.SentRows(ctx, fetch.ID)
	must(t, err)
	if len(deletes) != 0 {
		t.Errorf("a full read sent deletes: %v", deletes)
	}
	if len(rows) != len(got.rows) || int64(len(rows)) != fetch.Rows {
		t.Errorf("request log has %d rows (count %d), the connector delivered %d", len(rows), fetch.Rows, len(got.rows))
	}
	slices.Sort(rows)
	return rows
}

// want runs a hand-written SQL query for the expected ids (independent of
// the filter compiler) and returns them sorted.
func (f *accessFixture) want(t *testing.T, query string, args ...any) []string {
	t.Helper()
	text, err := f.s.QueryText(context.Background(), `SELECT coalesce(group_concat(id, ','), '') FROM (`+query+` ORDER BY 1)`, args...)
	must(t, err)
	if text == "" {
		return nil
	}
	return strings.Split(text, ",")
}

// TestRequestLogProvesFilters: for each operator family, the ids the
// request log recorded as sent are exactly the rows the filter selects (by
// an independent query), and the filter left rows out: rows outside a
// user's filter never left the server.
func TestRequestLogProvesFilters(t *testing.T) {
	f := newAccessFixture(t)
	total := func(entity string) int {
		n, err := f.s.QueryInt(context.Background(), `SELECT count(*) FROM `+entity)
		must(t, err)
		return int(n)
	}
	now := time.Now().UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	// Dates near now, so the relative operators select some rows.
	must(t, f.s.Exec(context.Background(), `UPDATE opportunity SET closedate = `+
		itoa(now.UnixMicro())+` + (rowid % 40 - 20) * 86400000000 + 43200000000`)) // half a day off now: the server reads its clock a moment later
	cases := []struct {
		family, user, entity string
		filter               *sdk.Filter
		query                string
		args                 []any
	}{
		{"comparison", "alice", "account", sdk.And(sdk.Cmp("employees", sdk.OpGe, sdk.Int(300)), sdk.Cmp("active", sdk.OpEq, sdk.Bool(true))),
			`SELECT accountid AS id FROM account WHERE employees >= 300 AND active = 1`, nil},
		{"sets", "alice", "account", sdk.Cmp("industrycode", sdk.OpIn, sdk.Int(1), sdk.Int(4), sdk.Int(9)),
			`SELECT accountid AS id FROM account WHERE industrycode IN (1, 4, 9)`, nil},
		{"sets negated", "alice", "account", sdk.Cmp("industrycode", sdk.OpNotIn, sdk.Int(1), sdk.Int(4)),
			`SELECT accountid AS id FROM account WHERE industrycode NOT IN (1, 4)`, nil},
		{"text", "alice", "account", sdk.Or(sdk.Cmp("name", sdk.OpBeginsWith, sdk.String("A")), sdk.Cmp("city", sdk.OpLike, sdk.String("%on%"))),
			`SELECT accountid AS id FROM account WHERE substr(name, 1, 1) = 'A' OR city LIKE '%on%'`, nil},
		{"null", "alice", "contact", sdk.Cmp("phone", sdk.OpNotNull),
			`SELECT contactid AS id FROM contact WHERE phone IS NOT NULL`, nil},
		{"dates last-x-days", "alice", "opportunity", sdk.Cmp("closedate", sdk.OpLastXDays, sdk.Int(7)),
			`SELECT opportunityid AS id FROM opportunity WHERE closedate >= ?1 AND closedate <= ?2`, []any{day.AddDate(0, 0, -7).UnixMicro(), now.UnixMicro()}},
		{"dates next-x-days", "alice", "opportunity", sdk.Cmp("closedate", sdk.OpNextXDays, sdk.Int(5)),
			`SELECT opportunityid AS id FROM opportunity WHERE closedate >= ?1 AND closedate < ?2`, []any{now.UnixMicro(), day.AddDate(0, 0, 6).UnixMicro()}},
		{"dates on-or-after", "alice", "opportunity", sdk.Cmp("closedate", sdk.OpOnOrAfter, sdk.Time(now.AddDate(0, 0, 3))),
			`SELECT opportunityid AS id FROM opportunity WHERE closedate >= ?1`, []any{day.AddDate(0, 0, 3).UnixMicro()}},
		{"user eq-userid (with shares)", "alice", "opportunity", sdk.Cmp("ownerid", sdk.OpEqUserID),
			`SELECT opportunityid AS id FROM opportunity WHERE ownerid = ?1 OR opportunityid IN (SELECT record_id FROM _share WHERE principal = ?1)`, []any{f.alice}},
		{"user ne-userid", "bob", "opportunity", sdk.Cmp("ownerid", sdk.OpNeUserID),
			`SELECT opportunityid AS id FROM opportunity WHERE ownerid <> ?1`, []any{f.bob}},
		{"user eq-useroruserteams", "alice", "opportunity", sdk.Cmp("ownerid", sdk.OpEqUserOrUserTeams),
			`SELECT opportunityid AS id FROM opportunity WHERE ownerid IN (?1, ?2) OR opportunityid IN (SELECT record_id FROM _share WHERE principal IN (?1, ?2))`, []any{f.alice, f.team}},
		{"user eq-businessid", "bob", "opportunity", sdk.Cmp("owningbusinessunit", sdk.OpEqBusinessID),
			`SELECT opportunityid AS id FROM opportunity WHERE owningbusinessunit = 'b0000000-0000-4000-8000-00000000000b'`, nil},
		{"linked parent", "alice", "contact", sdk.And(
			sdk.Link("parentaccountid", sdk.And(sdk.Cmp("active", sdk.OpEq, sdk.Bool(true)), sdk.Cmp("employees", sdk.OpLt, sdk.Int(500)))),
			sdk.Cmp("lastname", sdk.OpNotNull)),
			`SELECT contactid AS id FROM contact c JOIN account a ON a.accountid = c.parentaccountid WHERE a.active = 1 AND a.employees < 500 AND c.lastname IS NOT NULL`, nil},
		{"linked, negated and nested", "alice", "opportunity", sdk.Not(sdk.Link("accountid", sdk.Cmp("industrycode", sdk.OpIn, sdk.Int(2), sdk.Int(3)))),
			`SELECT opportunityid AS id FROM opportunity WHERE NOT (accountid IN (SELECT accountid FROM account WHERE industrycode IN (2, 3)))`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.family, func(t *testing.T) {
			got := f.sentBy(t, tc.user, tc.entity, tc.filter)
			want := f.want(t, tc.query, tc.args...)
			if len(want) == 0 || len(want) == total(tc.entity) {
				t.Fatalf("the case selects %d of %d rows: it proves nothing", len(want), total(tc.entity))
			}
			if !slices.Equal(got, want) {
				t.Errorf("sent %d rows, the filter selects %d\nsent: %v\nwant: %v", len(got), len(want), got, want)
			}
		})
	}
	t.Run("shared row reaches alice", func(t *testing.T) {
		got := f.sentBy(t, "alice", "opportunity", sdk.Cmp("ownerid", sdk.OpEqUserID))
		if !slices.Contains(got, f.shared) {
			t.Error("the opportunity shared with alice was not sent")
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		_, err := fetchErr(newConnector(t, f.path, "mallory"), sdk.FetchRequest{Entity: "opportunity", Filter: sdk.Cmp("ownerid", sdk.OpEqUserID)})
		if err == nil || !strings.Contains(err.Error(), `"mallory" is not a user`) || sdk.KindOf(err) != sdk.Permanent {
			t.Errorf("fetch as an unknown user: %v", err)
		}
	})
}

// TestShareChangesReachIncrementalFetch: sharing a row that was not
// modified brings it in the next incremental fetch; unsharing it sends a
// delete.
func TestShareChangesReachIncrementalFetch(t *testing.T) {
	f := newAccessFixture(t)
	ctx := context.Background()
	c := newConnector(t, f.path, "alice")
	mine := sdk.Cmp("ownerid", sdk.OpEqUserID)
	first := fetchAll(t, c, sdk.FetchRequest{Entity: "opportunity", Filter: mine})
	other, err := f.s.QueryText(ctx, `SELECT opportunityid FROM opportunity WHERE ownerid = ?1 AND opportunityid <> ?2 ORDER BY rowid LIMIT 1`, f.bob, f.shared)
	must(t, err)
	if _, ok := first.rows[other]; ok {
		t.Fatal("bob's unshared opportunity reached alice")
	}
	must(t, f.s.Share(ctx, "opportunity", other, f.team)) // shared with alice's team: eq-userid does not see it
	must(t, f.s.Share(ctx, "opportunity", other, f.alice))
	inc := fetchAll(t, c, sdk.FetchRequest{Entity: "opportunity", Filter: mine, Token: first.token})
	if _, ok := inc.rows[other]; !ok || len(inc.rows) != 1 {
		t.Errorf("after a share the incremental fetch sent %v, want just %s", inc.order, other)
	}
	must(t, f.s.Unshare(ctx, "opportunity", other, f.alice))
	again := fetchAll(t, c, sdk.FetchRequest{Entity: "opportunity", Filter: mine, Token: inc.token})
	if len(again.rows) != 0 || !slices.Equal(again.deletes, []string{other}) {
		t.Errorf("after an unshare: rows %v, deletes %v; want the delete of %s", again.order, again.deletes, other)
	}
	// Through the team it is still alice's under eq-useroruserteams.
	team := fetchAll(t, c, sdk.FetchRequest{Entity: "opportunity", Filter: sdk.Cmp("ownerid", sdk.OpEqUserOrUserTeams)})
	if _, ok := team.rows[other]; !ok {
		t.Error("a row shared with alice's team is not hers under eq-useroruserteams")
	}
}

// TestIDsOnlyFetch: a membership read sends ids and versions, no values.
func TestIDsOnlyFetch(t *testing.T) {
	f := newAccessFixture(t)
	c := newConnector(t, f.path, "alice")
	r := fetchAll(t, c, sdk.FetchRequest{Entity: "account", IDsOnly: true, Filter: sdk.Cmp("active", sdk.OpEq, sdk.Bool(true))})
	want := f.want(t, `SELECT accountid AS id FROM account WHERE active = 1`)
	if len(r.rows) != len(want) {
		t.Errorf("ids-only read: %d ids, want %d", len(r.rows), len(want))
	}
	for _, p := range r.pages {
		if len(p.Fields) != 0 || len(p.Columns) != 0 {
			t.Fatalf("an ids-only page carries fields %v", p.Fields)
		}
	}
}

func itoa(n int64) string { return strings.TrimSpace(sprintf("%d", n)) }
