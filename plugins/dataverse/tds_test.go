package dataverse

import (
	"context"
	"net"
	"testing"

	"github.com/fieldsync/fieldsync/plugins/dataverse/emulator"
	"github.com/fieldsync/fieldsync/sdk"
)

// The TDS path against the emulator's TDS listener (Server.ServeTDS).

// startTDS serves the organization's store over TDS on loopback.
func startTDS(t *testing.T, o *testOrg) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go o.srv.ServeTDS(l)
	return l.Addr().String()
}

// TestTDSMatchesWebAPI: a full read over TDS gives the rows, values and
// versions a Web API read gives, and its token serves incremental reads.
func TestTDSMatchesWebAPI(t *testing.T) {
	o := newOrg(t, nil)
	if err := o.srv.Seed(context.Background(), emulator.SeedOptions{Accounts: 40, Users: 2, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	web := o.connect(t, nil)
	viaTDS := o.connect(t, map[string]string{"tds": startTDS(t, o), "tds_encrypt": "disable"})
	mustPush(t, web, sdk.Change{ChangeID: "x", Op: sdk.OpCreate, Entity: "account", ID: guid(1), Values: map[string]sdk.Value{
		"name": sdk.String("Ünïcode 'quoted'"), "revenue": sdk.String("1234.5678"), "numberofemployees": sdk.Int(-3),
		"donotemail": sdk.Bool(true), "industrycode": sdk.Int(7)}})

	// (The filter keeps about half of the seeded rows: uniform in 1..5000.)
	for _, filter := range []*sdk.Filter{nil, sdk.Cmp("numberofemployees", sdk.OpLt, sdk.Int(2500))} {
		req := sdk.FetchRequest{Entity: "account", Filter: filter, PageSize: 7}
		want := fetchRecords(t, web, req)
		got := fetchRecords(t, viaTDS, req)
		if len(want) < 10 || len(got) != len(want) {
			t.Fatalf("filter %v: tds read %d rows, web api %d", filter, len(got), len(want))
		}
		sch, _ := web.Schema(context.Background())
		ent := sch.Entity("account")
		for id, w := range want {
			g, ok := got[id]
			if !ok {
				t.Errorf("row %s missing over tds", id)
				continue
			}
			if g.Version != w.Version {
				t.Errorf("row %s: version %q over tds, %q over the web api", id, g.Version, w.Version)
			}
			for _, f := range ent.Fields {
				if !sameValue(f.Type, w.Values[f.Name], g.Values[f.Name]) {
					t.Errorf("row %s field %s: %v over tds, %v over the web api", id, f.Name, g.Values[f.Name], w.Values[f.Name])
				}
			}
		}
	}
	u, _ := viaTDS.Usage(context.Background())
	if u.Paths["account"] != "tds" {
		t.Errorf("path of account: %q, want tds", u.Paths["account"])
	}
	if n := viaTDS.tds.queries.Load(); n < 8 {
		t.Errorf("%d tds queries for two reads in pages of 7 (41 rows, then the filtered ones)", n)
	}

	// The token of a TDS read serves incremental reads.
	req := sdk.FetchRequest{Entity: "account", Fields: []string{"name"}}
	_, _, tok := mustFetch(t, viaTDS, req)
	mustPush(t, web, sdk.Change{ChangeID: "y", Op: sdk.OpUpdate, Entity: "account", ID: guid(1), Values: map[string]sdk.Value{"name": sdk.String("renamed")}})
	req.Token = tok
	rows, _, _ := mustFetch(t, viaTDS, req)
	if p := rows[guid(1)]; len(rows) != 1 || p == nil || p.Columns[0].Strings[0] != "renamed" {
		t.Errorf("incremental after a tds read: %d rows", len(rows))
	}

	// eq-userid reads over TDS (the connector asks WhoAmI for the user's
	// id) and selects the same rows as over the Web API, where the server
	// knows the user itself.
	req = sdk.FetchRequest{Entity: "account", Filter: &sdk.Filter{Op: sdk.OpEqUserID, Field: "ownerid"}}
	mine := fetchRecords(t, viaTDS, req)
	if u, _ := viaTDS.Usage(context.Background()); u.Paths["account"] != "tds" {
		t.Errorf("path of an eq-userid read: %q, want tds", u.Paths["account"])
	}
	if want := fetchRecords(t, web, req); len(mine) != len(want) || len(mine) == 0 {
		t.Errorf("eq-userid over TDS: %d rows, over the Web API %d", len(mine), len(want))
	}

	// A filter with no T-SQL form here (the user's teams are not known
	// to the connector) reads over the Web API.
	req = sdk.FetchRequest{Entity: "account", Filter: &sdk.Filter{Op: sdk.OpEqUserOrUserTeams, Field: "ownerid"}}
	if _, err := fetchAll(t, viaTDS, req); err != nil {
		t.Fatal(err)
	}
	if u, _ := viaTDS.Usage(context.Background()); u.Paths["account"] != "webapi" {
		t.Errorf("path of an eq-useroruserteams read: %q, want webapi", u.Paths["account"])
	}
}

// fetchRecords reads a fetch into records by id.
func fetchRecords(t *testing.T, c *Connector, req sdk.FetchRequest) map[string]sdk.Record {
	t.Helper()
	pages, err := fetchAll(t, c, req)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := c.loadModel(context.Background())
	ent := m.byName[req.Entity]
	out := map[string]sdk.Record{}
	for _, p := range pages {
		kinds := make([]sdk.Kind, len(p.Fields))
		for i, f := range p.Fields {
			kinds[i] = ent.byName[f].typ.Kind()
		}
		if err := p.Validate(kinds); err != nil {
			t.Fatal(err)
		}
		if req.PageSize > 0 && p.Len() > req.PageSize {
			t.Errorf("page of %d rows, page size %d", p.Len(), req.PageSize)
		}
		for i := range p.IDs {
			out[p.IDs[i]] = p.Row(kinds, i)
		}
	}
	return out
}
