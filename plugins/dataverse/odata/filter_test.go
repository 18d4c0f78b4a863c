package odata

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
	}},
	{Name: "contact", PrimaryKey: "contactid", Fields: []sdk.Field{
		{Name: "parentaccountid", Type: sdk.TypeLookup, Target: "account"},
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

// testNav names navigation properties as $metadata would; some differ from
// the lookup's name on purpose. account.primarycontactid has none.
func testNav(entity, lookup string) string {
	return map[string]string{
		"account.parentaccountid":    "parentaccountid",
		"account.ownerid":            "owninguser",
		"account.owningbusinessunit": "owningbusinessunit",
		"contact.parentaccountid":    "parentcustomerid_account",
		"contact.ownerid":            "owninguser",
		"systemuser.businessunitid":  "businessunitid",
	}[entity+"."+lookup]
}

func date(y int, m time.Month, d, h, min, s, us int) sdk.Value {
	return sdk.Time(time.Date(y, m, d, h, min, s, us*1000, time.UTC))
}

const (
	guid1 = "2b1c5e0a-7d3f-4c1e-9a8b-0123456789ab"
	guid2 = "9F8E7D6C-5B4A-4938-8271-6A5B4C3D2E1F"
)

type goldenCase struct {
	name   string
	entity string
	f      *sdk.Filter
}

var cases = []goldenCase{
	// One per operator.
	{"eq_string", "account", sdk.Cmp("name", sdk.OpEq, sdk.String("Contoso"))},
	{"ne_int", "account", sdk.Cmp("employees", sdk.OpNe, sdk.Int(10))},
	{"lt_decimal", "account", sdk.Cmp("revenue", sdk.OpLt, sdk.String("1000.50"))},
	{"le_float", "account", sdk.Cmp("rating", sdk.OpLe, sdk.Float(4.5))},
	{"gt_datetime", "account", sdk.Cmp("createdon", sdk.OpGt, date(2026, 1, 2, 3, 4, 5, 0))},
	{"ge_datetime_fraction", "account", sdk.Cmp("createdon", sdk.OpGe, date(2026, 1, 2, 3, 4, 5, 123456))},
	{"eq_bool", "account", sdk.Cmp("active", sdk.OpEq, sdk.Bool(true))},
	{"ne_bool", "account", sdk.Cmp("active", sdk.OpNe, sdk.Bool(false))},
	{"eq_choice", "account", sdk.Cmp("statecode", sdk.OpEq, sdk.Int(1))},
	{"eq_lookup_upper_case", "account", sdk.Cmp("ownerid", sdk.OpEq, sdk.String(guid2))},
	{"eq_primary_key", "account", sdk.Cmp("accountid", sdk.OpEq, sdk.String(guid1))},
	{"ge_decimal_signs", "account", sdk.And(sdk.Cmp("revenue", sdk.OpGe, sdk.String("+7.25")), sdk.Cmp("revenue", sdk.OpLe, sdk.String("-0.5")))},
	{"eq_float_large", "account", sdk.Cmp("rating", sdk.OpEq, sdk.Float(1e21))},
	{"in_strings", "account", sdk.Cmp("city", sdk.OpIn, sdk.String("Praha"), sdk.String("Brno"), sdk.String(`O'Hare "x" \y`))},
	{"in_lookups", "account", sdk.Cmp("ownerid", sdk.OpIn, sdk.String(guid1), sdk.String(guid2))},
	{"not_in_choice", "account", sdk.Cmp("statecode", sdk.OpNotIn, sdk.Int(0), sdk.Int(2))},
	{"in_datetimes", "account", sdk.Cmp("createdon", sdk.OpIn, date(2026, 1, 1, 0, 0, 0, 0), date(2026, 1, 2, 0, 0, 0, 1))},
	{"like_contains", "account", sdk.Cmp("name", sdk.OpLike, sdk.String("%contoso%"))},
	{"like_startswith", "account", sdk.Cmp("name", sdk.OpLike, sdk.String("Cont%"))},
	{"like_endswith", "account", sdk.Cmp("name", sdk.OpLike, sdk.String("%s.r.o."))},
	{"like_brackets_quotes", "account", sdk.Cmp("name", sdk.OpLike, sdk.String("%[O'Brien]%%"))},
	{"like_all", "account", sdk.Cmp("name", sdk.OpLike, sdk.String("%"))},
	{"refuse_like_inner_wildcard", "account", sdk.Cmp("name", sdk.OpLike, sdk.String("%con_oso%"))},
	{"refuse_like_inner_percent", "account", sdk.Cmp("name", sdk.OpLike, sdk.String("a%b"))},
	{"refuse_like_no_wildcard", "account", sdk.Cmp("name", sdk.OpLike, sdk.String("Contoso"))},
	{"begins_with", "account", sdk.Cmp("name", sdk.OpBeginsWith, sdk.String("Cont"))},
	{"begins_with_wildcards", "account", sdk.Cmp("name", sdk.OpBeginsWith, sdk.String("50%_off[1]'"))},
	{"null", "account", sdk.Cmp("city", sdk.OpIsNull)},
	{"not_null_lookup", "account", sdk.Cmp("parentaccountid", sdk.OpNotNull)},
	{"last_x_days", "account", sdk.Cmp("createdon", sdk.OpLastXDays, sdk.Int(30))},
	{"next_x_days", "account", sdk.Cmp("createdon", sdk.OpNextXDays, sdk.Int(7))},
	{"on_or_after", "account", sdk.Cmp("createdon", sdk.OpOnOrAfter, date(2026, 1, 1, 15, 30, 0, 0))},
	{"eq_userid", "account", sdk.Cmp("ownerid", sdk.OpEqUserID)},
	{"ne_userid", "account", sdk.Cmp("ownerid", sdk.OpNeUserID)},
	{"eq_businessid", "account", sdk.Cmp("owningbusinessunit", sdk.OpEqBusinessID)},
	{"eq_useroruserteams", "account", sdk.Cmp("ownerid", sdk.OpEqUserOrUserTeams)},

	// Groups.
	{"and_or", "account", sdk.And(
		sdk.Cmp("statecode", sdk.OpEq, sdk.Int(0)),
		sdk.Or(sdk.Cmp("city", sdk.OpEq, sdk.String("Praha")), sdk.Cmp("employees", sdk.OpGt, sdk.Int(100))),
	)},
	{"or_and", "account", sdk.Or(
		sdk.And(sdk.Cmp("city", sdk.OpEq, sdk.String("Praha")), sdk.Cmp("active", sdk.OpEq, sdk.Bool(true))),
		sdk.Cmp("createdon", sdk.OpLastXDays, sdk.Int(1)),
	)},
	{"and_single", "account", sdk.And(sdk.Or(sdk.Cmp("city", sdk.OpIsNull)))},
	{"not", "account", sdk.Not(sdk.Cmp("name", sdk.OpEq, sdk.String("x")))},
	{"not_group", "account", sdk.Not(sdk.And(sdk.Cmp("employees", sdk.OpLt, sdk.Int(5)), sdk.Not(sdk.Cmp("ownerid", sdk.OpEqUserID))))},

	// Escaping.
	{"escape_quotes", "account", sdk.Cmp("name", sdk.OpEq, sdk.String(`O'Neil's "pub" \ 'x'`))},
	{"escape_odata_syntax", "account", sdk.Cmp("name", sdk.OpEq, sdk.String("x') or (name ne 'y"))},
	{"escape_unicode_controls", "account", sdk.Cmp("name", sdk.OpEq, sdk.String("Žluťoučký\n\t kůň 𝄞 & % #"))},
	{"refuse_invalid_utf8", "account", sdk.Cmp("name", sdk.OpEq, sdk.String("a\xffb"))},

	// Links.
	{"link", "contact", sdk.Link("parentaccountid", sdk.Cmp("name", sdk.OpEq, sdk.String("Contoso")))},
	{"link_lookup_on_parent", "contact", sdk.Link("parentaccountid", sdk.Cmp("ownerid", sdk.OpEq, sdk.String(guid1)))},
	{"link_nested", "contact", sdk.And(
		sdk.Cmp("lastname", sdk.OpBeginsWith, sdk.String("No")),
		sdk.Link("parentaccountid", sdk.And(
			sdk.Cmp("city", sdk.OpEq, sdk.String("Praha")),
			sdk.Link("ownerid", sdk.Link("businessunitid", sdk.Cmp("name", sdk.OpLike, sdk.String("Sales%")))),
		)),
	)},
	{"link_under_or_and_not", "contact", sdk.Or(
		sdk.Cmp("ownerid", sdk.OpEqUserID),
		sdk.Not(sdk.Link("parentaccountid", sdk.Cmp("statecode", sdk.OpEq, sdk.Int(1)))),
	)},
	{"link_in", "contact", sdk.Link("parentaccountid", sdk.Cmp("city", sdk.OpIn, sdk.String("Praha"), sdk.String("Brno")))},
	{"link_in_single", "contact", sdk.Link("parentaccountid", sdk.Cmp("statecode", sdk.OpIn, sdk.Int(0)))},
	{"link_not_in", "contact", sdk.Link("parentaccountid", sdk.Cmp("accountid", sdk.OpNotIn, sdk.String(guid1), sdk.String(guid2)))},
	{"link_on_or_after", "contact", sdk.Link("parentaccountid", sdk.Cmp("createdon", sdk.OpOnOrAfter, date(2025, 12, 31, 23, 59, 59, 999999)))},
	{"refuse_link_last_x_days", "contact", sdk.Link("parentaccountid", sdk.Cmp("createdon", sdk.OpLastXDays, sdk.Int(3)))},
	{"refuse_link_eq_userid", "contact", sdk.Link("parentaccountid", sdk.Cmp("ownerid", sdk.OpEqUserID))},
	{"refuse_link_no_navigation", "account", sdk.Link("primarycontactid", sdk.Cmp("lastname", sdk.OpIsNull))},
	{"refuse_link_non_lookup", "contact", sdk.Link("lastname", sdk.Cmp("name", sdk.OpEq, sdk.String("x")))},

	// Refused values and shapes.
	{"refuse_unknown_field", "account", sdk.Cmp("nosuch", sdk.OpEq, sdk.String("x"))},
	{"refuse_unknown_operator", "account", sdk.Cmp("name", sdk.FilterOp("regex"), sdk.String("x"))},
	{"refuse_wrong_kind", "account", sdk.Cmp("employees", sdk.OpEq, sdk.String("10"))},
	{"refuse_bad_decimal", "account", sdk.Cmp("revenue", sdk.OpEq, sdk.String("1 or true"))},
	{"refuse_bad_guid", "account", sdk.Cmp("ownerid", sdk.OpEq, sdk.String("00000000-0000-0000-0000-00000000000g"))},
	{"refuse_infinity", "account", sdk.Cmp("rating", sdk.OpGt, sdk.Float(math.Inf(1)))},
	{"refuse_binary_field", "account", sdk.Cmp("logo", sdk.OpNotNull)},
	{"refuse_begins_with_on_lookup", "account", sdk.Cmp("ownerid", sdk.OpBeginsWith, sdk.String("2b"))},
	{"refuse_order_on_bool", "account", sdk.Cmp("active", sdk.OpLt, sdk.Bool(true))},
	{"refuse_next_x_days_zero", "account", sdk.Cmp("createdon", sdk.OpNextXDays, sdk.Int(0))},
	{"refuse_datetime_out_of_range", "account", sdk.Cmp("createdon", sdk.OpGt, sdk.Int(math.MinInt64))},
	{"refuse_depth", "account", deep(sdk.MaxFilterDepth + 1)},
}

// deep nests n nots.
func deep(n int) *sdk.Filter {
	f := sdk.Cmp("name", sdk.OpIsNull)
	for range n {
		f = sdk.Not(f)
	}
	return f
}

func TestGolden(t *testing.T) {
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
			out, err := Filter(tc.f, testSchema, e, testNav)
			switch {
			case err != nil:
				if sdk.KindOf(err) != sdk.Permanent {
					t.Errorf("error kind %s, want permanent", sdk.KindOf(err))
				}
				fmt.Fprintf(&b, "error: %v\n", err)
			case out == "":
				t.Fatal("no error and no output")
			default:
				if _, _, lerr := lex(out); lerr != nil {
					t.Errorf("output does not lex: %v", lerr)
				}
				fmt.Fprintf(&b, "%s\n", out)
			}
			filtertest.Golden(t, filtertest.Dir, tc.name, b.String(), *update)
		})
	}
}

// TestGoldenNoStrays catches golden files whose case was removed.
func TestGoldenNoStrays(t *testing.T) {
	names := make([]string, len(cases))
	for i, tc := range cases {
		names[i] = tc.name
	}
	filtertest.NoStrays(t, filtertest.Dir, names)
}

// TestOps checks that Ops lists sdk operators only, that a golden case
// translates each, and that the operators left out are refused.
func TestOps(t *testing.T) {
	covered := map[sdk.FilterOp]bool{}
	for _, tc := range cases {
		if _, err := Filter(tc.f, testSchema, testSchema.Entity(tc.entity), testNav); err == nil {
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
	for _, tc := range cases {
		if op, ok := sdk.SupportsFilter(Ops, tc.f); !ok {
			if _, err := Filter(tc.f, testSchema, testSchema.Entity(tc.entity), testNav); err == nil {
				t.Errorf("%s: translated %s, which Ops leaves out", tc.name, op)
			}
		}
	}
}

func TestNilAndMissing(t *testing.T) {
	account := testSchema.Entity("account")
	if out, err := Filter(nil, testSchema, account, testNav); out != "" || err != nil {
		t.Fatalf("Filter(nil) = %q, %v; want \"\", nil", out, err)
	}
	if _, err := Filter(sdk.Cmp("name", sdk.OpIsNull), testSchema, nil, testNav); err == nil {
		t.Fatal("no entity: no error")
	}
	if out, err := Filter(sdk.Cmp("name", sdk.OpIsNull), nil, account, nil); err != nil || out != "name eq null" {
		t.Fatalf("no schema, no link: %q, %v", out, err)
	}
	link := sdk.Link("parentaccountid", sdk.Cmp("name", sdk.OpIsNull))
	for _, c := range []struct {
		s   *sdk.Schema
		nav NavFunc
	}{{nil, testNav}, {testSchema, nil}} {
		if _, err := Filter(link, c.s, account, c.nav); err == nil || sdk.KindOf(err) != sdk.Permanent {
			t.Errorf("link without schema or navigation: %v, want a permanent error", err)
		}
	}
	bad := func(string, string) string { return "x)/y" }
	if _, err := Filter(link, testSchema, account, bad); err == nil {
		t.Error("a navigation property that is no name: no error")
	}
}
