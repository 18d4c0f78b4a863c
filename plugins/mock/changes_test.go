package mock

import (
	"context"
	"slices"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/sdk"
)

// TestCheckChanges: one call says which entities changed since their
// tokens, in-process and across the subprocess transport.
func TestCheckChanges(t *testing.T) {
	ctx := context.Background()
	s, path := newServer(t)
	must(t, s.Seed(ctx, SeedOptions{Accounts: 5, ContactsPerAccount: 1, OpportunitiesPerAccount: 1}))
	for i, tc := range []struct {
		name string
		c    sdk.Connector
	}{
		{"in-process", newConnector(t, path, "dev")},
		{"subprocess", openSubprocess(t, path, hclog.NewNullLogger())},
	} {
		c, row := tc.c, sprintf("%d", i+1)
		t.Run(tc.name, func(t *testing.T) {
			cc, ok := sdk.AsChangeChecker(ctx, c)
			if !ok {
				t.Fatal("the mock offers no batch change check")
			}
			var probes []sdk.ChangeProbe
			for _, e := range []string{"account", "contact", "opportunity"} {
				probes = append(probes, sdk.ChangeProbe{Entity: e, Token: fetchAll(t, c, sdk.FetchRequest{Entity: e}).token})
			}
			got, err := cc.CheckChanges(ctx, probes)
			must(t, err)
			if !slices.Equal(got, []bool{false, false, false}) {
				t.Errorf("nothing changed, the check says %v", got)
			}
			must(t, s.Exec(ctx, `UPDATE contact SET jobtitle = 'x' WHERE rowid = `+row))
			must(t, s.Exec(ctx, `DELETE FROM opportunity WHERE rowid = `+row))
			got, err = cc.CheckChanges(ctx, probes)
			must(t, err)
			if !slices.Equal(got, []bool{false, true, true}) {
				t.Errorf("after an update of a contact and a delete of an opportunity: %v", got)
			}
			probes[0].Token = []byte("garbage")
			got, err = cc.CheckChanges(ctx, probes[:1])
			if err != nil || !got[0] {
				t.Errorf("a bad token must answer changed (the fetch reports it): %v, %v", got, err)
			}
		})
	}
}
