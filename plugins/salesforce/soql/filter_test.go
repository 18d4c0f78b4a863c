package soql

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

// testSchema is a small Salesforce-like model: the same shape as the
// Dataverse tests' schema, with Salesforce's API names.
var testSchema = &sdk.Schema{Entities: []sdk.Entity{
	{Name: "Account", PrimaryKey: "Id", Fields: []sdk.Field{
		{Name: "Name", Type: sdk.TypeString},
		{Name: "BillingCity", Type: sdk.TypeString},
		{Name: "AnnualRevenue", Type: sdk.TypeDecimal},
		{Name: "NumberOfEmployees", Type: sdk.TypeInt},
		{Name: "Rating__c", Type: sdk.TypeFloat},
		{Name: "IsActive__c", Type: sdk.TypeBool},
		{Name: "CreatedDate", Type: sdk.TypeDateTime},
		{Name: "OwnerId", Type: sdk.TypeLookup, Target: "User"},
		{Name: "ParentId", Type: sdk.TypeLookup, Target: "Account"},
		{Name: "Region__c", Type: sdk.TypeLookup, Target: "Region__c"},
		{Name: "Status__c", Type: sdk.TypeChoice},
		{Name: "Logo__c", Type: sdk.TypeBinary},
		{Name: "MasterRecord", Type: sdk.TypeLookup, Target: "Account"}, // no relationship name by convention
	}},
	{Name: "Contact", PrimaryKey: "Id", Fields: []sdk.Field{
		{Name: "AccountId", Type: sdk.TypeLookup, Target: "Account"},
		{Name: "LastName", Type: sdk.TypeString},
		{Name: "CreatedDate", Type: sdk.TypeDateTime},
		{Name: "OwnerId", Type: sdk.TypeLookup, Target: "User"},
	}},
	{Name: "User", PrimaryKey: "Id", Fields: []sdk.Field{
		{Name: "Name", Type: sdk.TypeString},
		{Name: "ManagerId", Type: sdk.TypeLookup, Target: "User"},
	}},
	{Name: "Region__c", PrimaryKey: "Id", Fields: []sdk.Field{
		{Name: "Name", Type: sdk.TypeString},
	}},
}}

const (
	testUser = "005000000000001AAA"
	id1      = "001000000000001AAA"
	id2      = "001000000000002"
)

var testUC = UserContext{UserID: testUser}

func date(y int, m time.Month, d, h, min, s, us int) sdk.Value {
	return sdk.Time(time.Date(y, m, d, h, min, s, us*1000, time.UTC))
}

// nestedLinks builds n links through Account.ParentId.
func nestedLinks(n int) *sdk.Filter {
	f := sdk.Cmp("Name", sdk.OpEq, sdk.String("root"))
	for range n {
		f = sdk.Link("ParentId", f)
	}
	return f
}

type goldenCase struct {
	name   string
	entity string
	f      *sdk.Filter
	uc     *UserContext // nil: testUC
}

var noUser = UserContext{}

var cases = []goldenCase{
	// One per operator.
	{name: "eq_string", entity: "Account", f: sdk.Cmp("Name", sdk.OpEq, sdk.String("Acme"))},
	{name: "ne_int", entity: "Account", f: sdk.Cmp("NumberOfEmployees", sdk.OpNe, sdk.Int(10))},
	{name: "lt_decimal", entity: "Account", f: sdk.Cmp("AnnualRevenue", sdk.OpLt, sdk.String("1000.50"))},
	{name: "le_float", entity: "Account", f: sdk.Cmp("Rating__c", sdk.OpLe, sdk.Float(4.5))},
	{name: "gt_datetime", entity: "Account", f: sdk.Cmp("CreatedDate", sdk.OpGt, date(2026, 1, 2, 3, 4, 5, 0))},
	{name: "ge_datetime_milliseconds", entity: "Account", f: sdk.Cmp("CreatedDate", sdk.OpGe, date(2026, 1, 2, 3, 4, 5, 120000))},
	{name: "eq_bool", entity: "Account", f: sdk.Cmp("IsActive__c", sdk.OpEq, sdk.Bool(true))},
	{name: "ne_bool", entity: "Account", f: sdk.Cmp("IsActive__c", sdk.OpNe, sdk.Bool(false))},
	{name: "eq_choice", entity: "Account", f: sdk.Cmp("Status__c", sdk.OpEq, sdk.Int(2))},
	{name: "eq_lookup", entity: "Account", f: sdk.Cmp("ParentId", sdk.OpEq, sdk.String(id1))},
	{name: "eq_primary_key_15", entity: "Account", f: sdk.Cmp("Id", sdk.OpEq, sdk.String(id2))},
	{name: "in_strings", entity: "Account", f: sdk.Cmp("BillingCity", sdk.OpIn, sdk.String("Praha"), sdk.String("Brno"), sdk.String("O'Hare"))},
	{name: "not_in_choice", entity: "Account", f: sdk.Cmp("Status__c", sdk.OpNotIn, sdk.Int(0), sdk.Int(2))},
	{name: "in_ids", entity: "Account", f: sdk.Cmp("Id", sdk.OpIn, sdk.String(id1), sdk.String(id2))},
	{name: "like", entity: "Account", f: sdk.Cmp("Name", sdk.OpLike, sdk.String("%Ac_e%"))},
	{name: "like_escapes", entity: "Account", f: sdk.Cmp("Name", sdk.OpLike, sdk.String(`%O'Brien\%`))},
	{name: "begins_with", entity: "Account", f: sdk.Cmp("Name", sdk.OpBeginsWith, sdk.String("Acme"))},
	{name: "begins_with_wildcards", entity: "Account", f: sdk.Cmp("Name", sdk.OpBeginsWith, sdk.String(`50%_off\'`))},
	{name: "null", entity: "Account", f: sdk.Cmp("BillingCity", sdk.OpIsNull)},
	{name: "not_null", entity: "Account", f: sdk.Cmp("ParentId", sdk.OpNotNull)},
	{name: "last_x_days", entity: "Account", f: sdk.Cmp("CreatedDate", sdk.OpLastXDays, sdk.Int(30))},
	{name: "next_x_days", entity: "Account", f: sdk.Cmp("CreatedDate", sdk.OpNextXDays, sdk.Int(7))},
	{name: "on_or_after", entity: "Account", f: sdk.Cmp("CreatedDate", sdk.OpOnOrAfter, date(2026, 1, 1, 15, 30, 0, 0))},
	{name: "eq_userid", entity: "Account", f: sdk.Cmp("OwnerId", sdk.OpEqUserID)},
	{name: "ne_userid", entity: "Account", f: sdk.Cmp("OwnerId", sdk.OpNeUserID)},
	{name: "refuse_eq_userid_unknown_user", entity: "Account", f: sdk.Cmp("OwnerId", sdk.OpEqUserID), uc: &noUser},
	{name: "refuse_eq_userid_bad_user", entity: "Account", f: sdk.Cmp("OwnerId", sdk.OpEqUserID), uc: &UserContext{UserID: "005' OR Id != '"}},
	{name: "refuse_eq_businessid", entity: "Account", f: sdk.Cmp("OwnerId", sdk.OpEqBusinessID)},
	{name: "refuse_eq_useroruserteams", entity: "Account", f: sdk.Cmp("OwnerId", sdk.OpEqUserOrUserTeams)},

	// Groups.
	{name: "and_or", entity: "Account", f: sdk.And(
		sdk.Cmp("Status__c", sdk.OpEq, sdk.Int(0)),
		sdk.Or(sdk.Cmp("BillingCity", sdk.OpEq, sdk.String("Praha")), sdk.Cmp("NumberOfEmployees", sdk.OpGt, sdk.Int(100))),
	)},
	{name: "or_and", entity: "Account", f: sdk.Or(
		sdk.And(sdk.Cmp("BillingCity", sdk.OpEq, sdk.String("Praha")), sdk.Cmp("IsActive__c", sdk.OpEq, sdk.Bool(true))),
		sdk.Cmp("CreatedDate", sdk.OpLastXDays, sdk.Int(1)),
	)},
	{name: "and_single", entity: "Account", f: sdk.And(sdk.Or(sdk.Cmp("BillingCity", sdk.OpIsNull)))},
	{name: "not", entity: "Account", f: sdk.Not(sdk.Cmp("Name", sdk.OpEq, sdk.String("x")))},
	{name: "not_group", entity: "Account", f: sdk.Not(sdk.Or(sdk.Cmp("NumberOfEmployees", sdk.OpLt, sdk.Int(5)), sdk.Not(sdk.Cmp("OwnerId", sdk.OpEqUserID))))},

	// Escaping.
	{name: "escape_quotes_backslashes", entity: "Account", f: sdk.Cmp("Name", sdk.OpEq, sdk.String(`O'Neil's "pub" \ \' 'x'`))},
	{name: "escape_soql_syntax", entity: "Account", f: sdk.Cmp("Name", sdk.OpEq, sdk.String(`x' OR Name != 'y`))},
	{name: "escape_line_ends", entity: "Account", f: sdk.Cmp("Name", sdk.OpIn, sdk.String("a\nb"), sdk.String("c\r\td\f"), sdk.String("Žluťoučký kůň 𝄞 %_"))},
	{name: "refuse_control_character", entity: "Account", f: sdk.Cmp("Name", sdk.OpEq, sdk.String("bell\a"))},
	{name: "refuse_invalid_utf8", entity: "Account", f: sdk.Cmp("Name", sdk.OpBeginsWith, sdk.String("a\xff"))},

	// Links.
	{name: "link", entity: "Contact", f: sdk.Link("AccountId", sdk.Cmp("Name", sdk.OpEq, sdk.String("Acme")))},
	{name: "link_custom_relationship", entity: "Account", f: sdk.Link("Region__c", sdk.Cmp("Name", sdk.OpLike, sdk.String("EU%")))},
	{name: "link_nested", entity: "Contact", f: sdk.And(
		sdk.Cmp("LastName", sdk.OpBeginsWith, sdk.String("No")),
		sdk.Link("AccountId", sdk.And(
			sdk.Cmp("BillingCity", sdk.OpEq, sdk.String("Praha")),
			sdk.Link("OwnerId", sdk.Link("ManagerId", sdk.Cmp("Id", sdk.OpNeUserID))),
		)),
	)},
	{name: "link_under_or_and_not", entity: "Contact", f: sdk.Or(
		sdk.Cmp("OwnerId", sdk.OpEqUserID),
		sdk.Not(sdk.Link("AccountId", sdk.Cmp("CreatedDate", sdk.OpLastXDays, sdk.Int(3)))),
	)},
	{name: "link_relative_and_in", entity: "Contact", f: sdk.Link("AccountId", sdk.And(
		sdk.Cmp("CreatedDate", sdk.OpOnOrAfter, date(2025, 12, 31, 23, 59, 59, 999000)),
		sdk.Cmp("Status__c", sdk.OpNotIn, sdk.Int(1), sdk.Int(3)),
	))},
	{name: "links_at_limit", entity: "Account", f: nestedLinks(MaxLinkDepth)},
	{name: "refuse_links_too_deep", entity: "Account", f: nestedLinks(MaxLinkDepth + 1)},
	{name: "refuse_link_no_relationship", entity: "Account", f: sdk.Link("MasterRecord", sdk.Cmp("Name", sdk.OpIsNull))},
	{name: "refuse_link_non_lookup", entity: "Contact", f: sdk.Link("LastName", sdk.Cmp("Name", sdk.OpEq, sdk.String("x")))},

	// Refused values and shapes.
	{name: "refuse_unknown_field", entity: "Account", f: sdk.Cmp("Nosuch", sdk.OpEq, sdk.String("x"))},
	{name: "refuse_unknown_operator", entity: "Account", f: sdk.Cmp("Name", sdk.FilterOp("regex"), sdk.String("x"))},
	{name: "refuse_wrong_kind", entity: "Account", f: sdk.Cmp("NumberOfEmployees", sdk.OpEq, sdk.String("10"))},
	{name: "refuse_bad_decimal", entity: "Account", f: sdk.Cmp("AnnualRevenue", sdk.OpEq, sdk.String("1 OR Id != null"))},
	{name: "refuse_bad_id", entity: "Account", f: sdk.Cmp("OwnerId", sdk.OpEq, sdk.String("2b1c5e0a-7d3f-4c1e-9a8b-0123456789ab"))},
	{name: "refuse_nan", entity: "Account", f: sdk.Cmp("Rating__c", sdk.OpGt, sdk.Float(math.NaN()))},
	{name: "refuse_binary_field", entity: "Account", f: sdk.Cmp("Logo__c", sdk.OpIsNull)},
	{name: "refuse_like_on_lookup", entity: "Account", f: sdk.Cmp("OwnerId", sdk.OpLike, sdk.String("005%"))},
	{name: "refuse_order_on_bool", entity: "Account", f: sdk.Cmp("IsActive__c", sdk.OpGe, sdk.Bool(true))},
	{name: "refuse_last_x_days_zero", entity: "Account", f: sdk.Cmp("CreatedDate", sdk.OpLastXDays, sdk.Int(0))},
	{name: "refuse_datetime_microseconds", entity: "Account", f: sdk.Cmp("CreatedDate", sdk.OpLt, date(2026, 1, 2, 3, 4, 5, 1))},
	{name: "refuse_datetime_before_1700", entity: "Account", f: sdk.Cmp("CreatedDate", sdk.OpGt, date(1699, 12, 31, 0, 0, 0, 0))},
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
			uc := testUC
			if tc.uc != nil {
				uc = *tc.uc
			}
			var b strings.Builder
			fmt.Fprintf(&b, "entity: %s\nuser: %q\nfilter: %s\n---\n", tc.entity, uc.UserID, filtertest.Describe(testSchema, e, tc.f))
			out, err := Where(tc.f, testSchema, e, uc)
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
// translates each, and that every operator left out is refused.
func TestOps(t *testing.T) {
	covered := map[sdk.FilterOp]bool{}
	for _, tc := range cases {
		if _, err := Where(tc.f, testSchema, testSchema.Entity(tc.entity), testUC); err == nil {
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
	account := testSchema.Entity("Account")
	for _, op := range sdk.FilterOps {
		if slices.Contains(Ops, op) {
			continue
		}
		f := sdk.Cmp("OwnerId", op)
		if err := f.Check(testSchema, account); err != nil {
			t.Fatalf("test filter for %s: %v", op, err)
		}
		if _, err := Where(f, testSchema, account, testUC); err == nil {
			t.Errorf("translated %s, which Ops leaves out", op)
		}
	}
}

func TestNilAndMissing(t *testing.T) {
	account := testSchema.Entity("Account")
	if out, err := Where(nil, testSchema, account, testUC); out != "" || err != nil {
		t.Fatalf("Where(nil) = %q, %v; want \"\", nil", out, err)
	}
	if _, err := Where(sdk.Cmp("Name", sdk.OpIsNull), testSchema, nil, testUC); err == nil {
		t.Fatal("no entity: no error")
	}
	if out, err := Where(sdk.Cmp("Name", sdk.OpIsNull), nil, account, UserContext{}); err != nil || out != "Name = null" {
		t.Fatalf("no schema, no link: %q, %v", out, err)
	}
	link := sdk.Link("ParentId", sdk.Cmp("Name", sdk.OpIsNull))
	if _, err := Where(link, nil, account, testUC); err == nil || sdk.KindOf(err) != sdk.Permanent {
		t.Errorf("link without schema: %v, want a permanent error", err)
	}
	custom := UserContext{RelName: func(entity, field string) string { return "Mother" + entity }}
	if out, err := Where(link, testSchema, account, custom); err != nil || out != "ParentId != null AND MotherAccount.Name = null" {
		t.Errorf("custom RelName: %q, %v", out, err)
	}
	bad := UserContext{RelName: func(string, string) string { return "x) OR (Id" }}
	if _, err := Where(link, testSchema, account, bad); err == nil {
		t.Error("a relationship name that is no name: no error")
	}
}

func TestDefaultRelName(t *testing.T) {
	for field, want := range map[string]string{
		"AccountId": "Account", "OwnerId": "Owner", "Region__c": "Region__r", "ns__Thing__c": "ns__Thing__r",
		"Id": "", "__c": "", "Name": "",
	} {
		if got := DefaultRelName("X", field); got != want {
			t.Errorf("DefaultRelName(%q) = %q, want %q", field, got, want)
		}
	}
}
