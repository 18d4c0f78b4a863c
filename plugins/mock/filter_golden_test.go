package mock

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files")

// TestFilterSQLGolden pins the SQL the mock writes for each operator: the
// conditions and their parameters, against testdata/golden/sql/*.txt (go
// test -run FilterSQLGolden -update rewrites them after a deliberate change).
func TestFilterSQLGolden(t *testing.T) {
	s, _ := newServer(t)
	cn, _, snap, err := s.begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.db.put(cn)
	now := time.Date(2026, 11, 26, 15, 30, 0, 0, time.UTC)
	who := &principal{id: "00000000-0000-4000-8000-0000000000a1", businessUnit: "00000000-0000-4000-8000-0000000000b1"}
	cases := []struct{ name, entity, text string }{
		{"eq", "account", "name eq 'Alpha'"},
		{"ne", "account", "city ne 'Brno'"},
		{"lt-le-gt-ge", "account", "employees lt 10 or employees le 20 or rating gt 1.5 or createdon ge 2026-01-01T00:00:00Z"},
		{"decimal", "account", "revenue gt 100.5"},
		{"bool", "account", "active eq true"},
		{"guid", "contact", "parentaccountid eq '0000000A-0000-4000-8000-000000000001'"},
		{"in", "account", "industrycode in (1, 2, 3)"},
		{"not-in", "account", "industrycode not-in (4)"},
		{"like", "account", "name like '%o''Neil_'"},
		{"begins-with", "account", "name begins-with 'Ab'"},
		{"null", "account", "city null and email not-null"},
		{"last-x-days", "opportunity", "closedate last-x-days 7"},
		{"next-x-days", "opportunity", "closedate next-x-days 5"},
		{"on-or-after", "opportunity", "closedate on-or-after 2026-12-01"},
		{"eq-userid", "opportunity", "ownerid eq-userid"},
		{"ne-userid", "opportunity", "ownerid ne-userid"},
		{"eq-businessid", "opportunity", "owningbusinessunit eq-businessid"},
		{"eq-useroruserteams", "opportunity", "ownerid eq-useroruserteams"},
		{"not", "account", "not (city eq 'Oslo' and active eq false)"},
		{"link", "contact", "parentaccountid link (city eq 'Oslo' and employees gt 5)"},
		{"link-nested-with-user", "opportunity", "accountid link (not active eq false) and (ownerid eq-userid or statecode eq 0)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ent := snap.entities[tc.entity]
			parsed, err := sdk.ParseFilter(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			f, err := parsed.Coerce(&snap.schema, &ent.Entity)
			if err != nil {
				t.Fatal(err)
			}
			w, err := compileFilter(snap, ent, f, 1, who, now)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			fmt.Fprintf(&b, "-- %s: %s\n%s\n", tc.entity, tc.text, w.sql)
			for i, a := range w.args {
				if v, ok := a.(sdk.Value); ok {
					fmt.Fprintf(&b, "?%d = %s %s\n", i+1, v.Kind(), v)
					continue
				}
				fmt.Fprintf(&b, "?%d = %T %#v\n", i+1, a, a)
			}
			path := filepath.Join("testdata", "golden", "sql", tc.name+".txt")
			if *updateGolden {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if b.String() != string(want) {
				t.Errorf("SQL changed:\n got %s\nwant %s", b.String(), want)
			}
		})
	}
}
