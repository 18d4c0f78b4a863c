package mock

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

const (
	a1 = "00000000-0000-4000-8000-000000000001"
	a2 = "00000000-0000-4000-8000-000000000002"
	a3 = "00000000-0000-4000-8000-000000000003"
	a4 = "00000000-0000-4000-8000-000000000004"
)

// filterServer holds four accounts with known values, nulls included.
func filterServer(t *testing.T) (*Server, *Connector) {
	s, path := newServer(t)
	must(t, s.Exec(context.Background(), `
		INSERT INTO account (accountid, name, city, employees, revenue, rating, active, createdon, industrycode) VALUES
		('`+a1+`', 'Alpha',     'Brno',  10,   '100.50', 4.5,  1,    1000, 1),
		('`+a2+`', 'alpha two', NULL,    20,   '99.9',   3.0,  0,    2000, 2),
		('`+a3+`', 'Beta',      'Praha', NULL, '1000',   NULL, 1,    3000, 3),
		('`+a4+`', 'Gamma_%',   'Brno',  30,   NULL,     1.5,  NULL, NULL, 1);
		INSERT INTO contact (parentaccountid, lastname) VALUES ('`+a1+`', 'One'), ('`+a1+`', 'Two'), ('`+a2+`', 'Three');`))
	return s, newConnector(t, path, "dev")
}

func TestFilterOperators(t *testing.T) {
	_, c := filterServer(t)
	str, i, f, b := sdk.String, sdk.Int, sdk.Float, sdk.Bool
	tests := []struct {
		name   string
		filter *sdk.Filter
		want   []string
	}{
		{"eq", sdk.Cmp("name", sdk.OpEq, str("Alpha")), []string{a1}},
		{"eq is case-sensitive", sdk.Cmp("name", sdk.OpEq, str("alpha")), nil},
		{"eq two rows", sdk.Cmp("city", sdk.OpEq, str("Brno")), []string{a1, a4}},
		{"ne skips nulls", sdk.Cmp("city", sdk.OpNe, str("Brno")), []string{a3}},
		{"lt", sdk.Cmp("employees", sdk.OpLt, i(20)), []string{a1}},
		{"le", sdk.Cmp("employees", sdk.OpLe, i(20)), []string{a1, a2}},
		{"gt", sdk.Cmp("employees", sdk.OpGt, i(10)), []string{a2, a4}},
		{"ge", sdk.Cmp("employees", sdk.OpGe, i(30)), []string{a4}},
		{"decimal compares as a number", sdk.Cmp("revenue", sdk.OpGt, str("100")), []string{a1, a3}},
		{"decimal eq ignores trailing zeros", sdk.Cmp("revenue", sdk.OpEq, str("100.5")), []string{a1}},
		{"decimal in", sdk.Cmp("revenue", sdk.OpIn, str("99.90"), str("1000.0")), []string{a2, a3}},
		{"float", sdk.Cmp("rating", sdk.OpLt, f(3.5)), []string{a2, a4}},
		{"bool", sdk.Cmp("active", sdk.OpEq, b(true)), []string{a1, a3}},
		{"bool false", sdk.Cmp("active", sdk.OpEq, b(false)), []string{a2}},
		{"datetime", sdk.Cmp("createdon", sdk.OpGe, i(2000)), []string{a2, a3}},
		{"in", sdk.Cmp("industrycode", sdk.OpIn, i(1), i(3)), []string{a1, a3, a4}},
		{"not-in", sdk.Cmp("industrycode", sdk.OpNotIn, i(1)), []string{a2, a3}},
		{"like is case-insensitive", sdk.Cmp("name", sdk.OpLike, str("alpha%")), []string{a1, a2}},
		{"like suffix", sdk.Cmp("name", sdk.OpLike, str("%a")), []string{a1, a3}},
		{"like one char", sdk.Cmp("name", sdk.OpLike, str("Bet_")), []string{a3}},
		{"begins-with is exact", sdk.Cmp("name", sdk.OpBeginsWith, str("alpha")), []string{a2}},
		{"begins-with takes wildcards literally", sdk.Cmp("name", sdk.OpBeginsWith, str("Gamma_%")), []string{a4}},
		{"begins-with no wildcard match", sdk.Cmp("name", sdk.OpBeginsWith, str("Gam%")), nil},
		{"null", sdk.Cmp("city", sdk.OpIsNull), []string{a2}},
		{"not-null", sdk.Cmp("employees", sdk.OpNotNull), []string{a1, a2, a4}},
		{"and", sdk.And(sdk.Cmp("city", sdk.OpEq, str("Brno")), sdk.Cmp("employees", sdk.OpGt, i(10))), []string{a4}},
		{"or", sdk.Or(sdk.Cmp("name", sdk.OpEq, str("Beta")), sdk.Cmp("rating", sdk.OpGt, f(4))), []string{a1, a3}},
		{"not skips nulls", sdk.Not(sdk.Cmp("city", sdk.OpEq, str("Brno"))), []string{a3}},
		{"nested", sdk.Or(sdk.And(sdk.Cmp("active", sdk.OpEq, b(true)), sdk.Not(sdk.Cmp("name", sdk.OpLike, str("a%")))), sdk.Cmp("city", sdk.OpIsNull)), []string{a2, a3}},
		{"key eq, any case", sdk.Cmp("accountid", sdk.OpEq, str(strings.ToUpper(a3))), []string{a3}},
		{"key in", sdk.Cmp("accountid", sdk.OpIn, str(a1), str(a2)), []string{a1, a2}},
		{"injection is a value", sdk.Cmp("name", sdk.OpEq, str("'; DROP TABLE account; --")), nil},
		{"injection in like", sdk.Cmp("name", sdk.OpLike, str("x' OR 1=1 --")), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fetchAll(t, c, sdk.FetchRequest{Entity: "account", Filter: tt.filter})
			got := slices.Clone(r.order)
			sort.Strings(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFilterOnLookup(t *testing.T) {
	_, c := filterServer(t)
	r := fetchAll(t, c, sdk.FetchRequest{Entity: "contact", Filter: sdk.Cmp("parentaccountid", sdk.OpEq, sdk.String(a1))})
	if len(r.rows) != 2 {
		t.Fatalf("%d contacts of a1, want 2", len(r.rows))
	}
}

// A row that stops matching the filter is sent as a delete in the next
// incremental fetch; one that starts matching as an upsert.
func TestFilterIncrementalLeaveAndEnter(t *testing.T) {
	s, c := filterServer(t)
	ctx := context.Background()
	req := sdk.FetchRequest{Entity: "account", Filter: sdk.Cmp("city", sdk.OpEq, sdk.String("Brno"))}
	full := fetchAll(t, c, req)
	if len(full.rows) != 2 {
		t.Fatalf("full: %d rows", len(full.rows))
	}
	must(t, s.Exec(ctx, `
		UPDATE account SET city = 'Wien' WHERE accountid = '`+a1+`';
		UPDATE account SET city = 'Brno' WHERE accountid = '`+a3+`';
		UPDATE account SET name = 'still out' WHERE accountid = '`+a2+`';
		DELETE FROM account WHERE accountid = '`+a4+`';`))
	req.Token = full.token
	r := fetchAll(t, c, req)
	if !slices.Equal(r.order, []string{a3}) {
		t.Errorf("upserts %v, want [a3]", r.order)
	}
	if !slices.Equal(r.deletes, []string{a1, a2, a4}) {
		t.Errorf("deletes %v, want [a1 a2 a4]", r.deletes)
	}
}

func TestFilterLimits(t *testing.T) {
	_, c := filterServer(t)
	many := make([]sdk.Value, maxFilterValues+1)
	for i := range many {
		many[i] = sdk.Int(int64(i))
	}
	deep := sdk.Cmp("name", sdk.OpIsNull)
	for range sdk.MaxFilterDepth + 2 {
		deep = sdk.Not(deep)
	}
	for name, f := range map[string]*sdk.Filter{"too many values": sdk.Cmp("employees", sdk.OpIn, many...), "too deep": deep} {
		_, err := fetchErr(c, sdk.FetchRequest{Entity: "account", Filter: f})
		if sdk.KindOf(err) != sdk.Permanent || err == nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestFilterText(t *testing.T) {
	f := sdk.And(sdk.Cmp("name", sdk.OpEq, sdk.String("x")), sdk.Not(sdk.Cmp("city", sdk.OpIsNull)))
	if got, want := filterText(f), `and(name eq "x", not(city null))`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
