package fetchxml

import (
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
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

func date(y int, m time.Month, d, h, min, s, us int) sdk.Value {
	return sdk.Time(time.Date(y, m, d, h, min, s, us*1000, time.UTC))
}

const (
	guid1 = "2b1c5e0a-7d3f-4c1e-9a8b-0123456789ab"
	guid2 = "9F8E7D6C-5B4A-4938-8271-6A5B4C3D2E1F"
)

// nestedLinks builds n links through account.parentaccountid.
func nestedLinks(n int) *sdk.Filter {
	f := sdk.Cmp("name", sdk.OpEq, sdk.String("root"))
	for range n {
		f = sdk.Link("parentaccountid", f)
	}
	return f
}

type goldenCase struct {
	name   string
	entity string
	f      *sdk.Filter
	query  *QueryOptions // set: run Query instead of Filter
	attrs  []string
}

var cases = []goldenCase{
	// One per operator.
	{name: "eq_string", entity: "account", f: sdk.Cmp("name", sdk.OpEq, sdk.String("Contoso"))},
	{name: "ne_int", entity: "account", f: sdk.Cmp("employees", sdk.OpNe, sdk.Int(10))},
	{name: "lt_decimal", entity: "account", f: sdk.Cmp("revenue", sdk.OpLt, sdk.String("1000.50"))},
	{name: "le_float", entity: "account", f: sdk.Cmp("rating", sdk.OpLe, sdk.Float(4.5))},
	{name: "gt_datetime", entity: "account", f: sdk.Cmp("createdon", sdk.OpGt, date(2026, 1, 2, 3, 4, 5, 0))},
	{name: "ge_datetime_fraction", entity: "account", f: sdk.Cmp("createdon", sdk.OpGe, date(2026, 1, 2, 3, 4, 5, 123456))},
	{name: "eq_bool_true", entity: "account", f: sdk.Cmp("active", sdk.OpEq, sdk.Bool(true))},
	{name: "eq_bool_false", entity: "account", f: sdk.Cmp("active", sdk.OpEq, sdk.Bool(false))},
	{name: "eq_choice", entity: "account", f: sdk.Cmp("statecode", sdk.OpEq, sdk.Int(1))},
	{name: "eq_lookup_upper_case", entity: "account", f: sdk.Cmp("ownerid", sdk.OpEq, sdk.String(guid2))},
	{name: "eq_primary_key", entity: "account", f: sdk.Cmp("accountid", sdk.OpEq, sdk.String(guid1))},
	{name: "in_strings", entity: "account", f: sdk.Cmp("city", sdk.OpIn, sdk.String("Praha"), sdk.String("Brno"), sdk.String("O'Hare"))},
	{name: "not_in_choice", entity: "account", f: sdk.Cmp("statecode", sdk.OpNotIn, sdk.Int(0), sdk.Int(2))},
	{name: "like", entity: "account", f: sdk.Cmp("name", sdk.OpLike, sdk.String("%con_oso%"))},
	{name: "like_bracket_literal", entity: "account", f: sdk.Cmp("name", sdk.OpLike, sdk.String("[draft]%"))},
	{name: "begins_with_wildcards", entity: "account", f: sdk.Cmp("name", sdk.OpBeginsWith, sdk.String("50%_off[1]"))},
	{name: "null", entity: "account", f: sdk.Cmp("parentaccountid", sdk.OpIsNull)},
	{name: "not_null", entity: "account", f: sdk.Cmp("city", sdk.OpNotNull)},
	{name: "last_x_days", entity: "account", f: sdk.Cmp("createdon", sdk.OpLastXDays, sdk.Int(30))},
	{name: "next_x_days", entity: "account", f: sdk.Cmp("createdon", sdk.OpNextXDays, sdk.Int(7))},
	{name: "on_or_after", entity: "account", f: sdk.Cmp("createdon", sdk.OpOnOrAfter, date(2026, 1, 1, 15, 30, 0, 0))},
	{name: "eq_userid", entity: "account", f: sdk.Cmp("ownerid", sdk.OpEqUserID)},
	{name: "ne_userid", entity: "account", f: sdk.Cmp("ownerid", sdk.OpNeUserID)},
	{name: "eq_businessid", entity: "account", f: sdk.Cmp("owningbusinessunit", sdk.OpEqBusinessID)},
	{name: "eq_useroruserteams", entity: "account", f: sdk.Cmp("ownerid", sdk.OpEqUserOrUserTeams)},

	// Groups.
	{name: "and_or", entity: "account", f: sdk.And(
		sdk.Cmp("statecode", sdk.OpEq, sdk.Int(0)),
		sdk.Or(sdk.Cmp("city", sdk.OpEq, sdk.String("Praha")), sdk.Cmp("employees", sdk.OpGt, sdk.Int(100))),
	)},
	{name: "or_top", entity: "account", f: sdk.Or(sdk.Cmp("city", sdk.OpIsNull), sdk.Cmp("city", sdk.OpEq, sdk.String("Brno")))},
	{name: "and_single", entity: "account", f: sdk.And(sdk.Cmp("active", sdk.OpEq, sdk.Bool(true)))},

	// Negation pushed down.
	{name: "not_eq", entity: "account", f: sdk.Not(sdk.Cmp("name", sdk.OpEq, sdk.String("x")))},
	{name: "not_and_de_morgan", entity: "account", f: sdk.Not(sdk.And(
		sdk.Cmp("employees", sdk.OpLt, sdk.Int(5)),
		sdk.Cmp("city", sdk.OpIn, sdk.String("a"), sdk.String("b")),
		sdk.Cmp("name", sdk.OpLike, sdk.String("%x%")),
		sdk.Cmp("name", sdk.OpBeginsWith, sdk.String("y")),
		sdk.Cmp("ownerid", sdk.OpEqUserID),
	))},
	{name: "not_or_de_morgan", entity: "account", f: sdk.Not(sdk.Or(
		sdk.Cmp("employees", sdk.OpLe, sdk.Int(5)),
		sdk.Cmp("employees", sdk.OpGe, sdk.Int(50)),
		sdk.Cmp("city", sdk.OpNotIn, sdk.String("a")),
		sdk.Cmp("city", sdk.OpIsNull),
		sdk.Cmp("ownerid", sdk.OpNeUserID),
	))},
	{name: "not_not", entity: "account", f: sdk.Not(sdk.Not(sdk.Cmp("employees", sdk.OpGt, sdk.Int(1))))},
	{name: "not_on_or_after", entity: "account", f: sdk.Not(sdk.Cmp("createdon", sdk.OpOnOrAfter, date(2026, 3, 1, 0, 0, 0, 0)))},
	{name: "not_eq_businessid", entity: "account", f: sdk.Not(sdk.Cmp("owningbusinessunit", sdk.OpEqBusinessID))},
	{name: "not_not_null", entity: "account", f: sdk.Not(sdk.Cmp("city", sdk.OpNotNull))},
	{name: "refuse_not_last_x_days", entity: "account", f: sdk.Not(sdk.Cmp("createdon", sdk.OpLastXDays, sdk.Int(3)))},
	{name: "refuse_not_next_x_days", entity: "account", f: sdk.Or(sdk.Cmp("city", sdk.OpIsNull), sdk.Not(sdk.Cmp("createdon", sdk.OpNextXDays, sdk.Int(3))))},
	{name: "refuse_not_eq_useroruserteams", entity: "account", f: sdk.Not(sdk.Cmp("ownerid", sdk.OpEqUserOrUserTeams))},

	// Escaping.
	{name: "escape_markup", entity: "account", f: sdk.Cmp("name", sdk.OpEq, sdk.String(`<a href="x">&'</a>`))},
	{name: "escape_whitespace", entity: "account", f: sdk.Cmp("city", sdk.OpIn, sdk.String("a\tb"), sdk.String("line1\r\nline2"), sdk.String(" lead"))},
	{name: "escape_unicode", entity: "account", f: sdk.Cmp("name", sdk.OpEq, sdk.String("Žluťoučký kůň 𝄞"))},
	{name: "refuse_control_character", entity: "account", f: sdk.Cmp("name", sdk.OpEq, sdk.String("a\x01b"))},
	{name: "refuse_invalid_utf8", entity: "account", f: sdk.Cmp("name", sdk.OpLike, sdk.String("a\xffb%"))},

	// Links.
	{name: "link_inner", entity: "contact", f: sdk.Link("parentaccountid", sdk.Cmp("name", sdk.OpEq, sdk.String("Contoso")))},
	{name: "link_inner_with_conditions", entity: "contact", f: sdk.And(
		sdk.Cmp("lastname", sdk.OpBeginsWith, sdk.String("No")),
		sdk.Link("parentaccountid", sdk.And(
			sdk.Cmp("city", sdk.OpEq, sdk.String("Praha")),
			sdk.Or(sdk.Cmp("employees", sdk.OpGt, sdk.Int(10)), sdk.Cmp("employees", sdk.OpIsNull)),
		)),
	)},
	{name: "link_nested_inner", entity: "contact", f: sdk.Link("parentaccountid", sdk.And(
		sdk.Cmp("city", sdk.OpEq, sdk.String("Praha")),
		sdk.Link("ownerid", sdk.Link("businessunitid", sdk.Cmp("name", sdk.OpEq, sdk.String("Sales")))),
	))},
	{name: "link_only_links", entity: "account", f: sdk.And(
		sdk.Link("ownerid", sdk.Cmp("fullname", sdk.OpNotNull)),
		sdk.Link("parentaccountid", sdk.Cmp("statecode", sdk.OpEq, sdk.Int(0))),
	)},
	{name: "link_with_negated_child", entity: "contact", f: sdk.Link("parentaccountid", sdk.Not(sdk.Cmp("city", sdk.OpIn, sdk.String("Praha"))))},
	{name: "link_under_or_outer", entity: "contact", f: sdk.Or(
		sdk.Cmp("ownerid", sdk.OpEqUserID),
		sdk.Link("parentaccountid", sdk.Cmp("ownerid", sdk.OpEqUserID)),
	)},
	{name: "link_under_or_nested_outer", entity: "contact", f: sdk.And(
		sdk.Cmp("createdon", sdk.OpLastXDays, sdk.Int(90)),
		sdk.Link("parentaccountid", sdk.Or(
			sdk.Cmp("name", sdk.OpLike, sdk.String("%a%")),
			sdk.Link("parentaccountid", sdk.Cmp("name", sdk.OpLike, sdk.String("%b%"))),
		)),
	)},
	{name: "link_on_primary_key", entity: "contact", f: sdk.Link("parentaccountid", sdk.Cmp("accountid", sdk.OpIn, sdk.String(guid1), sdk.String(guid2)))},
	{name: "refuse_not_link", entity: "contact", f: sdk.Not(sdk.Link("parentaccountid", sdk.Cmp("name", sdk.OpEq, sdk.String("x"))))},
	{name: "refuse_link_non_lookup", entity: "contact", f: sdk.Link("lastname", sdk.Cmp("name", sdk.OpEq, sdk.String("x")))},
	{name: "refuse_link_parent_field", entity: "contact", f: sdk.Link("parentaccountid", sdk.Cmp("lastname", sdk.OpEq, sdk.String("x")))},
	{name: "links_at_limit", entity: "account", f: nestedLinks(MaxLinks)},
	{name: "refuse_too_many_links", entity: "account", f: nestedLinks(MaxLinks + 1)},

	// Refused values and shapes.
	{name: "refuse_unknown_field", entity: "account", f: sdk.Cmp("nosuch", sdk.OpEq, sdk.String("x"))},
	{name: "refuse_unknown_operator", entity: "account", f: sdk.Cmp("name", sdk.FilterOp("regex"), sdk.String("x"))},
	{name: "refuse_wrong_kind", entity: "account", f: sdk.Cmp("employees", sdk.OpEq, sdk.String("10"))},
	{name: "refuse_bad_decimal", entity: "account", f: sdk.Cmp("revenue", sdk.OpEq, sdk.String("1e5"))},
	{name: "refuse_bad_guid", entity: "account", f: sdk.Cmp("ownerid", sdk.OpEq, sdk.String("me' or '1'='1"))},
	{name: "refuse_nan", entity: "account", f: sdk.Cmp("rating", sdk.OpGt, sdk.Float(math.NaN()))},
	{name: "refuse_binary_field", entity: "account", f: sdk.Cmp("logo", sdk.OpIsNull)},
	{name: "refuse_like_on_lookup", entity: "account", f: sdk.Cmp("ownerid", sdk.OpLike, sdk.String("%a%"))},
	{name: "refuse_order_on_bool", entity: "account", f: sdk.Cmp("active", sdk.OpGt, sdk.Bool(false))},
	{name: "refuse_last_x_days_zero", entity: "account", f: sdk.Cmp("createdon", sdk.OpLastXDays, sdk.Int(0))},
	{name: "refuse_datetime_out_of_range", entity: "account", f: sdk.Cmp("createdon", sdk.OpLt, sdk.Int(math.MaxInt64))},
	{name: "refuse_in_without_values", entity: "account", f: sdk.Cmp("city", sdk.OpIn)},

	// Whole documents.
	{name: "query_page", entity: "contact", attrs: []string{"contactid", "lastname"},
		f:     sdk.Link("parentaccountid", sdk.Cmp("name", sdk.OpEq, sdk.String("Contoso"))),
		query: &QueryOptions{Count: 1000, Page: 1, OrderByPrimaryKey: true}},
	{name: "query_paging_cookie", entity: "account", attrs: []string{"name"},
		f:     sdk.Cmp("statecode", sdk.OpEq, sdk.Int(0)),
		query: &QueryOptions{Count: 500, Page: 2, OrderByPrimaryKey: true, PagingCookie: `<cookie page="1"><accountid last="{` + guid2 + `}" first="{` + guid1 + `}" /></cookie>`}},
	{name: "query_all_attributes_no_filter", entity: "account", query: &QueryOptions{}},
	{name: "query_refuse_unknown_attribute", entity: "account", attrs: []string{"name", "nosuch"}, query: &QueryOptions{}},
	{name: "query_refuse_cookie_without_page", entity: "account", query: &QueryOptions{PagingCookie: "<cookie/>"}},
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
			fmt.Fprintf(&b, "entity: %s\nfilter: %s\n", tc.entity, filtertest.Describe(testSchema, e, tc.f))
			var out string
			var err error
			if tc.query != nil {
				fmt.Fprintf(&b, "query: attrs=%v %+v\n", tc.attrs, *tc.query)
				out, err = Query(tc.entity, tc.attrs, tc.f, testSchema, e, *tc.query)
			} else {
				var fr Fragment
				fr, err = Filter(tc.f, testSchema, e)
				out = fr.String()
				if err == nil && out == "" {
					t.Fatal("no error and no output")
				}
			}
			b.WriteString("---\n")
			if err != nil {
				if sdk.KindOf(err) != sdk.Permanent {
					t.Errorf("error kind %s, want permanent", sdk.KindOf(err))
				}
				fmt.Fprintf(&b, "error: %v\n", err)
			} else {
				doc := out
				if tc.query == nil {
					doc = `<entity name="` + tc.entity + `">` + out + `</entity>`
				}
				pretty, perr := indent(doc)
				if perr != nil {
					t.Fatalf("output does not parse: %v\n%s", perr, out)
				}
				fmt.Fprintf(&b, "%s\n--- indented\n%s\n", out, pretty)
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

// TestOps checks that every operator of the sdk is listed and that a golden
// case translates each.
func TestOps(t *testing.T) {
	for _, op := range sdk.FilterOps {
		if !slices.Contains(Ops, op) {
			t.Errorf("Ops lacks %s", op)
		}
	}
	if len(Ops) != len(sdk.FilterOps) {
		t.Errorf("Ops has %d operators, the sdk %d", len(Ops), len(sdk.FilterOps))
	}
	covered := map[sdk.FilterOp]bool{}
	for _, tc := range cases {
		if tc.f == nil {
			continue
		}
		if _, err := Filter(tc.f, testSchema, testSchema.Entity(tc.entity)); err == nil {
			for _, op := range tc.f.Ops() {
				covered[op] = true
			}
		}
	}
	for _, op := range Ops {
		if !covered[op] {
			t.Errorf("no golden case translates %s", op)
		}
	}
}

func TestNilFilter(t *testing.T) {
	fr, err := Filter(nil, testSchema, testSchema.Entity("account"))
	if err != nil || fr != (Fragment{}) {
		t.Fatalf("Filter(nil) = %+v, %v; want empty, nil", fr, err)
	}
	if _, err := Filter(sdk.Cmp("name", sdk.OpIsNull), testSchema, nil); err == nil {
		t.Fatal("Filter without an entity: no error")
	}
	// Without the schema a filter without links still translates.
	if _, err := Filter(sdk.Cmp("name", sdk.OpIsNull), nil, testSchema.Entity("account")); err != nil {
		t.Fatal(err)
	}
	_, err = Filter(sdk.Link("parentaccountid", sdk.Cmp("name", sdk.OpIsNull)), nil, testSchema.Entity("account"))
	if err == nil || !errors.Is(err, sdk.ErrPermanent) {
		t.Fatalf("link without a schema: %v, want a permanent error", err)
	}
}

// indent re-reads doc and writes it indented, for reading golden files.
func indent(doc string) (string, error) {
	dec := xml.NewDecoder(strings.NewReader(doc))
	var b strings.Builder
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
		if err := enc.EncodeToken(tok); err != nil {
			return "", err
		}
	}
	if err := enc.Flush(); err != nil {
		return "", err
	}
	return b.String(), nil
}
