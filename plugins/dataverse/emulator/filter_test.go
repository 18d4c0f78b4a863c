package emulator

import (
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// filterFixture makes a few accounts and contacts with known values and
// returns the env.
func filterFixture(t *testing.T) *env {
	e := newEnv(t, nil)
	other := "11111111-2222-4333-8444-555555555555"
	if err := e.srv.Store().Exec(t.Context(), `INSERT INTO systemuser (systemuserid, fullname) VALUES ('`+other+`', 'Other User')`); err != nil {
		t.Fatal(err)
	}
	e.create("accounts", `{"accountid":"00000000-0000-4000-8000-000000000001","name":"Contoso","address1_city":"Praha","numberofemployees":50,"revenue":1000.50,"donotemail":true,"industrycode":7,"statecode":0}`)
	e.create("accounts", `{"accountid":"00000000-0000-4000-8000-000000000002","name":"Fabrikam","address1_city":"Brno","numberofemployees":500,"revenue":20000,"donotemail":false,"industrycode":16,"statecode":1}`)
	e.create("accounts", `{"accountid":"00000000-0000-4000-8000-000000000003","name":"50% off [sale]_x","numberofemployees":5,"statecode":0,"ownerid@odata.bind":"/systemusers(`+other+`)"}`)
	e.create("accounts", `{"accountid":"00000000-0000-4000-8000-000000000004","name":"O'Neil's pub","address1_city":"Praha","statecode":0}`)
	e.create("contacts", `{"contactid":"00000000-0000-4000-8000-0000000000c1","firstname":"Anna","lastname":"Novak","birthdate":"1990-05-01","parentcustomerid_account@odata.bind":"/accounts(00000000-0000-4000-8000-000000000001)"}`)
	e.create("contacts", `{"contactid":"00000000-0000-4000-8000-0000000000c2","firstname":"Jan","lastname":"Svoboda","parentcustomerid_account@odata.bind":"accounts(00000000-0000-4000-8000-000000000002)"}`)
	e.create("contacts", `{"contactid":"00000000-0000-4000-8000-0000000000c3","firstname":"Eva","lastname":"Nováková","parentcustomerid_contact@odata.bind":"/contacts(00000000-0000-4000-8000-0000000000c1)"}`)
	e.create("contacts", `{"contactid":"00000000-0000-4000-8000-0000000000c4","firstname":"Solo","lastname":"Orphan"}`)
	return e
}

func names(t *testing.T, e *env, set, filter string) []string {
	t.Helper()
	r := e.do("GET", set+"?$filter="+url.QueryEscape(filter), "")
	if r.status != 200 {
		t.Fatalf("%s: %d %s", filter, r.status, r.body)
	}
	var out []string
	for _, row := range values(t, r.json(t)) {
		n, _ := row["name"].(string)
		if n == "" {
			n, _ = row["fullname"].(string)
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func TestFilterEvaluator(t *testing.T) {
	e := filterFixture(t)
	tests := []struct {
		name, set, filter string
		want              []string
	}{
		{"eq string", "accounts", "name eq 'Contoso'", []string{"Contoso"}},
		{"eq is case-insensitive", "accounts", "name eq 'CONTOSO'", []string{"Contoso"}},
		{"ne excludes nulls", "accounts", "address1_city ne 'Praha'", []string{"Fabrikam"}},
		{"eq null", "accounts", "address1_city eq null", []string{"50% off [sale]_x"}},
		{"ne null", "accounts", "address1_city ne null", []string{"Contoso", "Fabrikam", "O'Neil's pub"}},
		{"not eq excludes nulls", "accounts", "not (address1_city eq 'Praha')", []string{"Fabrikam"}},
		{"int gt", "accounts", "numberofemployees gt 40", []string{"Contoso", "Fabrikam"}},
		{"int le", "accounts", "numberofemployees le 50", []string{"50% off [sale]_x", "Contoso"}},
		{"money lt decimal", "accounts", "revenue lt 1000.51", []string{"Contoso"}},
		{"money eq exact", "accounts", "revenue eq 1000.5", []string{"Contoso"}},
		{"money ge signs", "accounts", "revenue ge +1000.50 and revenue le 20000", []string{"Contoso", "Fabrikam"}},
		{"bool", "accounts", "donotemail eq true", []string{"Contoso"}},
		{"bool ne", "accounts", "donotemail ne true", []string{"Fabrikam"}},
		{"choice", "accounts", "statecode eq 1", []string{"Fabrikam"}},
		{"and or precedence", "accounts", "statecode eq 0 and (address1_city eq 'Praha' or numberofemployees lt 10)", []string{"50% off [sale]_x", "Contoso", "O'Neil's pub"}},
		{"or and precedence", "accounts", "address1_city eq 'Brno' or address1_city eq 'Praha' and numberofemployees gt 10", []string{"Contoso", "Fabrikam"}},
		{"quote escape", "accounts", "name eq 'O''Neil''s pub'", []string{"O'Neil's pub"}},
		{"literal first", "accounts", "40 lt numberofemployees", []string{"Contoso", "Fabrikam"}},
		{"contains", "accounts", "contains(name,'ont')", []string{"Contoso"}},
		{"contains case", "accounts", "contains(name,'ONT')", []string{"Contoso"}},
		{"startswith", "accounts", "startswith(name,'Fab')", []string{"Fabrikam"}},
		{"endswith", "accounts", "endswith(name,'pub')", []string{"O'Neil's pub"}},
		{"like wildcards bracketed", "accounts", "startswith(name,'50[%] off [[]sale]')", []string{"50% off [sale]_x"}},
		{"like underscore literal", "accounts", "endswith(name,'[_]x')", []string{"50% off [sale]_x"}},
		{"like underscore wildcard", "accounts", "startswith(name,'C_ntoso')", []string{"Contoso"}},
		{"like percent wildcard", "accounts", "contains(name,'o%o')", []string{"Contoso"}},
		{"guid key", "accounts", "accountid eq 00000000-0000-4000-8000-000000000002", []string{"Fabrikam"}},
		{"guid key upper", "accounts", "accountid eq 00000000-0000-4000-8000-00000000000A or accountid eq 00000000-0000-4000-8000-000000000001", []string{"Contoso"}},
		{"In strings", "accounts", `Microsoft.Dynamics.CRM.In(PropertyName='address1_city',PropertyValues=["Brno","Ostrava"])`, []string{"Fabrikam"}},
		{"In single quotes", "accounts", `Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=['Contoso','Fabrikam'])`, []string{"Contoso", "Fabrikam"}},
		{"NotIn choice", "accounts", `Microsoft.Dynamics.CRM.NotIn(PropertyName='industrycode',PropertyValues=["7"])`, []string{"Fabrikam"}},
		{"In empty", "accounts", `Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=[])`, nil},
		{"EqualUserId", "accounts", "Microsoft.Dynamics.CRM.EqualUserId(PropertyName='ownerid')", []string{"Contoso", "Fabrikam", "O'Neil's pub"}},
		{"NotEqualUserId", "accounts", "Microsoft.Dynamics.CRM.NotEqualUserId(PropertyName='ownerid')", []string{"50% off [sale]_x"}},
		{"EqualUserOrUserTeams", "accounts", "Microsoft.Dynamics.CRM.EqualUserOrUserTeams(PropertyName='ownerid')", []string{"Contoso", "Fabrikam", "O'Neil's pub"}},
		{"EqualBusinessId", "accounts", "Microsoft.Dynamics.CRM.EqualBusinessId(PropertyName='owningbusinessunit')", []string{"Contoso", "Fabrikam", "O'Neil's pub"}},
		{"LastXDays", "accounts", "Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=1)", []string{"50% off [sale]_x", "Contoso", "Fabrikam", "O'Neil's pub"}},
		{"NextXDays", "accounts", "Microsoft.Dynamics.CRM.NextXDays(PropertyName='createdon',PropertyValue=1)", []string{"50% off [sale]_x", "Contoso", "Fabrikam", "O'Neil's pub"}},
		{"datetime ge", "accounts", "createdon ge 2026-03-01T12:00:00Z", []string{"50% off [sale]_x", "Contoso", "Fabrikam", "O'Neil's pub"}},
		{"datetime gt fraction", "accounts", "createdon gt 2026-03-01T12:00:00.5Z", nil},
		{"lookup value", "contacts", "_parentcustomerid_value eq 00000000-0000-4000-8000-000000000001", []string{"Anna Novak"}},
		{"lookup null", "contacts", "_parentcustomerid_value eq null", []string{"Solo Orphan"}},
		{"date", "contacts", "birthdate lt 2000-01-01", []string{"Anna Novak"}},
		{"nav path", "contacts", "parentcustomerid_account/name eq 'Contoso'", []string{"Anna Novak"}},
		{"nav path typed", "contacts", "parentcustomerid_contact/contactid ne null", []string{"Eva Nováková"}},
		{"nav translator form", "contacts", "parentcustomerid_account/accountid ne null and parentcustomerid_account/address1_city eq 'Brno'", []string{"Jan Svoboda"}},
		{"nav null guard", "contacts", "parentcustomerid_account/accountid ne null and parentcustomerid_account/name eq null", nil},
		{"nav polymorphic contact", "contacts", "parentcustomerid_contact/contactid ne null and parentcustomerid_contact/lastname eq 'Novak'", []string{"Eva Nováková"}},
		{"nav nested", "contacts", "parentcustomerid_account/owninguser/businessunitid/name eq 'emulator'", []string{"Anna Novak", "Jan Svoboda"}},
		{"nav lookup on parent", "contacts", "parentcustomerid_account/_ownerid_value ne null", []string{"Anna Novak", "Jan Svoboda"}},
		{"not group", "accounts", "not (numberofemployees lt 100 and statecode eq 0)", []string{"Fabrikam"}},
		{"unicode", "contacts", "lastname eq 'Nováková'", []string{"Eva Nováková"}},
		{"versionnumber", "accounts", "versionnumber gt 0", []string{"50% off [sale]_x", "Contoso", "Fabrikam", "O'Neil's pub"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := names(t, e, tc.set, tc.filter)
			want := slices.Clone(tc.want)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s\n got %q\nwant %q", tc.filter, got, want)
			}
		})
	}
}

func TestFilterErrors(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct{ name, filter, want string }{
		{"unknown property", "nope eq 1", "Could not find a property named 'nope'"},
		{"lookup by logical name", "ownerid eq 00000000-0000-4000-8000-000000000001", "_ownerid_value"},
		{"type mismatch", "name eq 1", "incompatible types"},
		{"bool order", "donotemail gt true", "incompatible types"},
		{"syntax", "name eq", "Syntax error"},
		{"unterminated", "name eq 'abc", "unterminated string"},
		{"dangling and", "name eq 'a' and", "Syntax error"},
		{"bad function", "Microsoft.Dynamics.CRM.Above(PropertyName='x')", "not supported"},
		{"two columns", "name eq accountnumber", "two columns"},
		{"nav without property", "parentaccountid eq null", "_parentaccountid_value"},
		{"file column", "name eq 'a' or documentbody eq 'x'", "Could not find a property named 'documentbody'"},
		{"depth", strings.Repeat("not ", 100) + "name eq 'a'", "deeper"},
		{"bad guid", "accountid eq 'zz'", "not a valid Guid"},
		{"days", "Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=0)", "whole number of days"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("GET", "accounts?$filter="+url.QueryEscape(tc.filter), "")
			if r.status != 400 || !strings.Contains(string(r.body), tc.want) || !strings.Contains(string(r.body), `"code":"0x8006088`) {
				t.Errorf("%s: %d %s (want 400 with %q)", tc.filter, r.status, r.body, tc.want)
			}
		})
	}
}

// TestTranslatorGoldens runs every $filter our translator's golden files
// hold through the parser: the emulator must read all of them (it is only
// a syntax check: their schema is not the emulator's).
func TestTranslatorGoldens(t *testing.T) {
	files, _ := filepath.Glob("../odata/testdata/golden/*.txt")
	if len(files) == 0 {
		t.Skip("no translator goldens")
	}
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "refuse_") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, out, ok := strings.Cut(string(b), "---\n")
		if !ok {
			continue
		}
		out = strings.TrimSuffix(out, "\n")
		if _, err := parseFilter(out); err != nil {
			t.Errorf("%s: %q: %v", filepath.Base(f), out, err)
		}
	}
}

func TestTSQLLike(t *testing.T) {
	tests := []struct {
		s, p string
		want bool
	}{
		{"Contoso", "%ont%", true},
		{"Contoso", "c_ntoso", true},
		{"Contoso", "C[a-o]ntoso", true},
		{"Contoso", "C[^o]ntoso", false},
		{"50%", "50[%]", true},
		{"500", "50[%]", false},
		{"a[b", "a[[]b", true},
		{"a[b", "a[b", true}, // malformed set: literal
		{"", "%", true},
		{"x", "", false},
		{"ŽLUŤ", "žluť", true},
		{"abcabc", "%abc", true},
		{"aaa", "%a%a%a%a", false},
	}
	for _, tc := range tests {
		if got := tsqlLike(tc.s, tc.p); got != tc.want {
			t.Errorf("tsqlLike(%q, %q) = %v", tc.s, tc.p, got)
		}
	}
}
