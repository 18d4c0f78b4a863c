package tsql

import (
	"flag"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/filtertest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// testSchema is a small Dataverse-like model.
var testSchema = &sdk.Schema{Entities: []sdk.Entity{
	{Name: "account", PrimaryKey: "accountid", Fields: []sdk.Field{
		{Name: "name", Type: sdk.TypeString},
		{Name: "city", Type: sdk.TypeString},
		{Name: "revenue", Type: sdk.TypeDecimal},
		{Name: "employees", Type: sdk.TypeInt},
		{Name: "rating", Type: sdk.TypeFloat},
		{Name: "active", Type: sdk.TypeBool},
		{Name: "createdon", Type: sdk.TypeDateTime},
		{Name: "ownerid", Type: sdk.TypeLookup, Target: "systemuser"},
		{Name: "owningbusinessunit", Type: sdk.TypeLookup, Target: "businessunit"},
		{Name: "parentaccountid", Type: sdk.TypeLookup, Target: "account"},
		{Name: "statecode", Type: sdk.TypeChoice},
		{Name: "logo", Type: sdk.TypeBinary},
		{Name: "primarycontactid", Type: sdk.TypeLookup, Target: "contact"},
		{Name: "order", Type: sdk.TypeString}, // a reserved word
	}},
	{Name: "contact", PrimaryKey: "contactid", Fields: []sdk.Field{
		{Name: "parentcustomerid", Type: sdk.TypeLookup, Target: "account"},
		{Name: "lastname", Type: sdk.TypeString},
		{Name: "createdon", Type: sdk.TypeDateTime},
		{Name: "ownerid", Type: sdk.TypeLookup, Target: "systemuser"},
	}},
	{Name: "systemuser", PrimaryKey: "systemuserid", Fields: []sdk.Field{
		{Name: "fullname", Type: sdk.TypeString},
		{Name: "businessunitid", Type: sdk.TypeLookup, Target: "businessunit"},
	}},
	{Name: "businessunit", PrimaryKey: "businessunitid", Fields: []sdk.Field{
		{Name: "name", Type: sdk.TypeString},
	}},
}}

func date(y int, m time.Month, d, h, min, s, us int) sdk.Value {
	return sdk.Time(time.Date(y, m, d, h, min, s, us*1000, time.UTC))
}

const (
	guid1  = "2b1c5e0a-7d3f-4c1e-9a8b-0123456789ab"
	guid2  = "9F8E7D6C-5B4A-4938-8271-6A5B4C3D2E1F"
	userID = "11111111-1111-1111-1111-111111111111"
	buID   = "22222222-2222-2222-2222-222222222222"
	team1  = "33333333-3333-3333-3333-333333333333"
	team2  = "44444444-4444-4444-4444-444444444444"
)

var testNow = time.Date(2026, 5, 6, 7, 8, 9, 123456000, time.UTC)

var testUC = UserContext{UserID: userID, BusinessUnitID: buID, TeamIDs: []string{team1, team2}, Now: testNow}

type goldenCase struct {
	name   string
	entity string
	f      *sdk.Filter
	uc     *UserContext // nil: testUC
}

var cases = []goldenCase{
	// One per operator.
	{name: "eq_string", entity: "account", f: sdk.Cmp("name", sdk.OpEq, sdk.String("Contoso"))},
	{name: "ne_int", entity: "account", f: sdk.Cmp("employees", sdk.OpNe, sdk.Int(10))},
	{name: "lt_decimal", entity: "account", f: sdk.Cmp("revenue", sdk.OpLt, sdk.String("1000.50"))},
	{name: "le_float", entity: "account", f: sdk.Cmp("rating", sdk.OpLe, sdk.Float(4.5))},
	{name: "gt_datetime", entity: "account", f: sdk.Cmp("createdon", sdk.OpGt, date(2026, 1, 2, 3, 4, 5, 0))},
	{name: "ge_datetime_fraction", entity: "account", f: sdk.Cmp("createdon", sdk.OpGe, date(2026, 1, 2, 3, 4, 5, 123456))},
	{name: "eq_bool", entity: "account", f: sdk.Cmp("active", sdk.OpEq, sdk.Bool(true))},
	{name: "lt_bool", entity: "account", f: sdk.Cmp("active", sdk.OpLt, sdk.Bool(true))},
	{name: "eq_choice", entity: "account", f: sdk.Cmp("statecode", sdk.OpEq, sdk.Int(1))},
	{name: "eq_lookup_upper_case", entity: "account", f: sdk.Cmp("ownerid", sdk.OpEq, sdk.String(guid2))},
	{name: "eq_primary_key", entity: "account", f: sdk.Cmp("accountid", sdk.OpEq, sdk.String(guid1))},
	{name: "ge_decimal_signs", entity: "account", f: sdk.And(sdk.Cmp("revenue", sdk.OpGe, sdk.String("+7.25")), sdk.Cmp("revenue", sdk.OpLe, sdk.String("-0.5")))},
	{name: "eq_float_large", entity: "account", f: sdk.Cmp("rating", sdk.OpEq, sdk.Float(1e21))},
	{name: "in_strings", entity: "account", f: sdk.Cmp("city", sdk.OpIn, sdk.String("Praha"), sdk.String("Brno"), sdk.String(`O'Hare "x" \y`))},
	{name: "in_lookups", entity: "account", f: sdk.Cmp("ownerid", sdk.OpIn, sdk.String(guid1), sdk.String(guid2))},
	{name: "not_in_choice", entity: "account", f: sdk.Cmp("statecode", sdk.OpNotIn, sdk.Int(0), sdk.Int(2))},
	{name: "in_datetimes", entity: "account", f: sdk.Cmp("createdon", sdk.OpIn, date(2026, 1, 1, 0, 0, 0, 0), date(2026, 1, 2, 0, 0, 0, 1))},
	{name: "like", entity: "account", f: sdk.Cmp("name", sdk.OpLike, sdk.String("%con_oso%"))},
	{name: "like_brackets_quotes", entity: "account", f: sdk.Cmp("name", sdk.OpLike, sdk.String("%[O'Brien]%"))},
	{name: "begins_with", entity: "account", f: sdk.Cmp("name", sdk.OpBeginsWith, sdk.String("Cont"))},
	{name: "begins_with_wildcards", entity: "account", f: sdk.Cmp("name", sdk.OpBeginsWith, sdk.String("50%_off[1]'"))},
	{name: "null", entity: "account", f: sdk.Cmp("city", sdk.OpIsNull)},
	{name: "not_null_lookup", entity: "account", f: sdk.Cmp("parentaccountid", sdk.OpNotNull)},
	{name: "last_x_days", entity: "account", f: sdk.Cmp("createdon", sdk.OpLastXDays, sdk.Int(30))},
	{name: "last_x_days_zero", entity: "account", f: sdk.Cmp("createdon", sdk.OpLastXDays, sdk.Int(0))},
	{name: "next_x_days", entity: "account", f: sdk.Cmp("createdon", sdk.OpNextXDays, sdk.Int(7))},
	{name: "on_or_after", entity: "account", f: sdk.Cmp("createdon", sdk.OpOnOrAfter, date(2026, 1, 1, 15, 30, 0, 0))},
	{name: "eq_userid", entity: "account", f: sdk.Cmp("ownerid", sdk.OpEqUserID)},
	{name: "ne_userid", entity: "account", f: sdk.Cmp("ownerid", sdk.OpNeUserID)},
	{name: "eq_businessid", entity: "account", f: sdk.Cmp("owningbusinessunit", sdk.OpEqBusinessID)},
	{name: "eq_useroruserteams", entity: "account", f: sdk.Cmp("ownerid", sdk.OpEqUserOrUserTeams)},
	{name: "eq_useroruserteams_no_teams", entity: "account", f: sdk.Cmp("ownerid", sdk.OpEqUserOrUserTeams),
		uc: &UserContext{UserID: userID, TeamIDs: []string{}}},

	// Groups.
	{name: "and_or", entity: "account", f: sdk.And(
		sdk.Cmp("statecode", sdk.OpEq, sdk.Int(0)),
		sdk.Or(sdk.Cmp("city", sdk.OpEq, sdk.String("Praha")), sdk.Cmp("employees", sdk.OpGt, sdk.Int(100))),
	)},
	{name: "or_and", entity: "account", f: sdk.Or(
		sdk.And(sdk.Cmp("city", sdk.OpEq, sdk.String("Praha")), sdk.Cmp("active", sdk.OpEq, sdk.Bool(true))),
		sdk.Cmp("createdon", sdk.OpLastXDays, sdk.Int(1)),
	)},
	{name: "and_single", entity: "account", f: sdk.And(sdk.Or(sdk.Cmp("city", sdk.OpIsNull)))},
	{name: "not", entity: "account", f: sdk.Not(sdk.Cmp("name", sdk.OpEq, sdk.String("x")))},
	{name: "not_group", entity: "account", f: sdk.Not(sdk.And(sdk.Cmp("employees", sdk.OpLt, sdk.Int(5)), sdk.Not(sdk.Cmp("ownerid", sdk.OpEqUserID))))},
	{name: "reserved_word_column", entity: "account", f: sdk.Cmp("order", sdk.OpEq, sdk.String("first"))},

	// Escaping.
	{name: "escape_sql_syntax", entity: "account", f: sdk.Cmp("name", sdk.OpEq, sdk.String("x'); DROP TABLE account; --"))},
	{name: "escape_unicode_controls", entity: "account", f: sdk.Cmp("name", sdk.OpEq, sdk.String("Žluťoučký\n\t kůň 𝄞 & % #"))},
	{name: "refuse_invalid_utf8", entity: "account", f: sdk.Cmp("name", sdk.OpEq, sdk.String("a\xffb"))},

	// Links.
	{name: "link", entity: "contact", f: sdk.Link("parentcustomerid", sdk.Cmp("name", sdk.OpEq, sdk.String("Contoso")))},
	{name: "link_lookup_on_parent", entity: "contact", f: sdk.Link("parentcustomerid", sdk.Cmp("ownerid", sdk.OpEq, sdk.String(guid1)))},
	{name: "link_nested", entity: "contact", f: sdk.And(
		sdk.Cmp("lastname", sdk.OpBeginsWith, sdk.String("No")),
		sdk.Link("parentcustomerid", sdk.And(
			sdk.Cmp("city", sdk.OpEq, sdk.String("Praha")),
			sdk.Link("ownerid", sdk.Link("businessunitid", sdk.Cmp("name", sdk.OpLike, sdk.String("Sales%")))),
		)),
	)},
	{name: "link_under_or_and_not", entity: "contact", f: sdk.Or(
		sdk.Cmp("ownerid", sdk.OpEqUserID),
		sdk.Not(sdk.Link("parentcustomerid", sdk.Cmp("statecode", sdk.OpEq, sdk.Int(1)))),
	)},
	{name: "link_relative_and_user", entity: "contact", f: sdk.Link("parentcustomerid", sdk.And(
		sdk.Cmp("createdon", sdk.OpLastXDays, sdk.Int(3)), sdk.Cmp("ownerid", sdk.OpEqUserOrUserTeams)))},
	{name: "link_self", entity: "account", f: sdk.Link("parentaccountid", sdk.Cmp("accountid", sdk.OpNotIn, sdk.String(guid1), sdk.String(guid2)))},
	{name: "refuse_link_non_lookup", entity: "contact", f: sdk.Link("lastname", sdk.Cmp("name", sdk.OpEq, sdk.String("x")))},

	// Refused values, shapes and missing context.
	{name: "refuse_unknown_field", entity: "account", f: sdk.Cmp("nosuch", sdk.OpEq, sdk.String("x"))},
	{name: "refuse_unknown_operator", entity: "account", f: sdk.Cmp("name", sdk.FilterOp("regex"), sdk.String("x"))},
	{name: "refuse_wrong_kind", entity: "account", f: sdk.Cmp("employees", sdk.OpEq, sdk.String("10"))},
	{name: "refuse_bad_decimal", entity: "account", f: sdk.Cmp("revenue", sdk.OpEq, sdk.String("1 or 1=1"))},
	{name: "refuse_long_decimal", entity: "account", f: sdk.Cmp("revenue", sdk.OpEq, sdk.String("1234567890123456789012345678901234567.89"))},
	{name: "refuse_bad_guid", entity: "account", f: sdk.Cmp("ownerid", sdk.OpEq, sdk.String("00000000-0000-0000-0000-00000000000g"))},
	{name: "refuse_infinity", entity: "account", f: sdk.Cmp("rating", sdk.OpGt, sdk.Float(math.Inf(1)))},
	{name: "refuse_binary_field", entity: "account", f: sdk.Cmp("logo", sdk.OpNotNull)},
	{name: "refuse_begins_with_on_lookup", entity: "account", f: sdk.Cmp("ownerid", sdk.OpBeginsWith, sdk.String("2b"))},
	{name: "refuse_datetime_out_of_range", entity: "account", f: sdk.Cmp("createdon", sdk.OpGt, sdk.Int(math.MinInt64))},
	{name: "refuse_depth", entity: "account", f: deep(sdk.MaxFilterDepth + 1)},
	{name: "refuse_userid_unknown", entity: "account", f: sdk.Cmp("ownerid", sdk.OpEqUserID), uc: &UserContext{Now: testNow}},
	{name: "refuse_businessid_unknown", entity: "account", f: sdk.Cmp("owningbusinessunit", sdk.OpEqBusinessID), uc: &UserContext{UserID: userID}},
	{name: "refuse_teams_unknown", entity: "account", f: sdk.Cmp("ownerid", sdk.OpEqUserOrUserTeams), uc: &UserContext{UserID: userID}},
	{name: "refuse_bad_user_id", entity: "account", f: sdk.Cmp("ownerid", sdk.OpNeUserID), uc: &UserContext{UserID: "me"}},
	{name: "refuse_relative_without_now", entity: "account", f: sdk.Cmp("createdon", sdk.OpNextXDays, sdk.Int(1)), uc: &UserContext{}},
	{name: "refuse_next_x_days_past_9999", entity: "account", f: sdk.Cmp("createdon", sdk.OpNextXDays, sdk.Int(sdk.MaxRelativeDays)),
		uc: &UserContext{Now: time.Date(9990, 1, 1, 0, 0, 0, 0, time.UTC)}},
}

// deep nests n nots.
func deep(n int) *sdk.Filter {
	f := sdk.Cmp("name", sdk.OpIsNull)
	for range n {
		f = sdk.Not(f)
	}
	return f
}

func (tc goldenCase) userContext() UserContext {
	if tc.uc != nil {
		return *tc.uc
	}
	return testUC
}

func TestWhereGolden(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("case %s listed twice", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			e := testSchema.Entity(tc.entity)
			var b strings.Builder
			fmt.Fprintf(&b, "entity: %s\nfilter: %s\n---\n", tc.entity, filtertest.Describe(testSchema, e, tc.f))
			out, args, err := Where(tc.f, testSchema, e, tc.userContext())
			switch {
			case err != nil:
				if sdk.KindOf(err) != sdk.Permanent {
					t.Errorf("error kind %s, want permanent", sdk.KindOf(err))
				}
				fmt.Fprintf(&b, "error: %v\n", err)
			case out == "":
				t.Fatal("no error and no output")
			default:
				checkRoundTrip(t, e, out, args)
				fmt.Fprintf(&b, "%s\n", out)
				for i, a := range args {
					fmt.Fprintf(&b, "@p%d = %s\n", i+1, describeArg(a))
				}
			}
			filtertest.Golden(t, filtertest.Dir, tc.name, b.String(), *update)
		})
	}
}

// checkRoundTrip parses a WHERE condition back with this package's parser
// and checks its parameters.
func checkRoundTrip(t testing.TB, e *sdk.Entity, where string, args []any) {
	t.Helper()
	if strings.ContainsAny(where, "'\"") {
		t.Fatalf("the condition holds a literal: %s", where)
	}
	q := "SELECT " + QuoteName(e.PrimaryKey) + " FROM " + QuoteName(e.Name) + " WHERE " + where
	s, err := Parse(q)
	if err != nil {
		t.Fatalf("the output does not parse (%v):\n%s", err, q)
	}
	names := make([]string, len(args))
	for i := range args {
		names[i] = fmt.Sprintf("@p%d", i+1)
	}
	if err := s.Bind(names); err != nil {
		t.Fatalf("%v in\n%s", err, q)
	}
	used := map[int]int{}
	for _, p := range s.Params() {
		used[p.Index]++
	}
	for i := range args {
		if used[i] != 1 {
			t.Fatalf("@p%d is used %d times in\n%s", i+1, used[i], q)
		}
	}
	again, err := Parse(s.String())
	if err != nil || again.String() != s.String() {
		t.Fatalf("printing is not stable: %v\n%s\n%s", err, s, again)
	}
	if _, err := s.SQLite(schemaCatalog{testSchema}, args); err != nil {
		t.Fatalf("SQLite rendering: %v\n%s", err, q)
	}
}

func describeArg(a any) string {
	switch a := a.(type) {
	case time.Time:
		return a.Format(time.RFC3339Nano) + " (time)"
	case string:
		return fmt.Sprintf("%q (string)", a)
	}
	return fmt.Sprintf("%v (%T)", a, a)
}

// TestWhereGoldenNoStrays catches golden files whose case was removed.
func TestWhereGoldenNoStrays(t *testing.T) {
	names := make([]string, len(cases))
	for i, tc := range cases {
		names[i] = tc.name
	}
	filtertest.NoStrays(t, filtertest.Dir, names)
}

// TestOps checks that Ops lists sdk operators only and that a golden case
// translates each.
func TestOps(t *testing.T) {
	covered := map[sdk.FilterOp]bool{}
	for _, tc := range cases {
		if _, _, err := Where(tc.f, testSchema, testSchema.Entity(tc.entity), tc.userContext()); err == nil {
			for _, op := range tc.f.Ops() {
				covered[op] = true
			}
		}
	}
	for _, op := range Ops {
		if !slices.Contains(sdk.FilterOps, op) {
			t.Errorf("Ops lists %q, which the sdk lacks", op)
		}
		if !covered[op] {
			t.Errorf("no golden case translates %s", op)
		}
	}
	if len(Ops) != len(sdk.FilterOps) {
		t.Errorf("Ops has %d operators, the sdk %d", len(Ops), len(sdk.FilterOps))
	}
}

func TestWhereNilAndMissing(t *testing.T) {
	account := testSchema.Entity("account")
	if out, args, err := Where(nil, testSchema, account, testUC); out != "" || args != nil || err != nil {
		t.Fatalf("Where(nil) = %q, %v, %v", out, args, err)
	}
	if _, _, err := Where(sdk.Cmp("name", sdk.OpIsNull), testSchema, nil, testUC); err == nil {
		t.Fatal("no entity: no error")
	}
	if out, _, err := Where(sdk.Cmp("name", sdk.OpIsNull), nil, account, UserContext{}); err != nil || out != "name IS NULL" {
		t.Fatalf("no schema, no link: %q, %v", out, err)
	}
	link := sdk.Link("parentaccountid", sdk.Cmp("name", sdk.OpIsNull))
	if _, _, err := Where(link, nil, account, testUC); err == nil || sdk.KindOf(err) != sdk.Permanent {
		t.Errorf("link without schema: %v, want a permanent error", err)
	}
}
