package emulator

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// evalFixture creates three accounts and returns their ids by name.
func evalFixture(t *testing.T) (*Server, string) {
	s, _ := newTestServer(t, Options{RequestLimit: -1})
	team, err := s.AddUser("teamed@fieldsync.test", "pw", "Team A")
	if err != nil {
		t.Fatal(err)
	}
	teamID, err := s.QueryText(t.Context(), `SELECT teamid FROM team WHERE name = 'Team A'`)
	if err != nil {
		t.Fatal(err)
	}
	_ = team
	body := `{"Entity":"account","Records":[
{"Id":"a0000000-0000-4000-8000-000000000001","Attributes":{"name":"Alpha 50% off","numberofemployees":10,"revenue":100.50,"donotemail":true,"industrycode":1,"address1_city":"Praha"}},
{"Id":"a0000000-0000-4000-8000-000000000002","Attributes":{"name":"beta","numberofemployees":20,"revenue":1000.25,"donotemail":false,"industrycode":2,"parentaccountid":{"Id":"a0000000-0000-4000-8000-000000000001","LogicalName":"account"}}},
{"Id":"a0000000-0000-4000-8000-000000000003","Attributes":{"name":"Gamma [x]","ownerid":{"Id":"` + teamID + `","LogicalName":"team"}}}]}`
	r := mustOK(t, do(t, s, adminAuth, "POST", api("CreateMultiple"), body))
	if strings.Contains(r.body, `"code"`) {
		t.Fatal(r.body)
	}
	// fs_date values relative to the test clock.
	mustOK(t, do(t, s, adminAuth, "POST", api("CreateMultiple"), `{"Entity":"fs_entity01","Records":[
{"Id":"f0000000-0000-4000-8000-000000000001","Attributes":{"fs_name":"past","fs_date":"2026-11-20T08:00:00Z"}},
{"Id":"f0000000-0000-4000-8000-000000000002","Attributes":{"fs_name":"future","fs_date":"2026-11-28T08:00:00Z"}},
{"Id":"f0000000-0000-4000-8000-000000000003","Attributes":{"fs_name":"old","fs_date":"2025-01-01T00:00:00Z"}}]}`))
	return s, teamID
}

func fetchIDs(t *testing.T, s *Server, auth, xml string) ([]string, int) {
	t.Helper()
	b, _ := json.Marshal(fetchRequest{FetchXml: xml})
	r := do(t, s, auth, "POST", api("Fetch"), string(b))
	if r.status != 200 {
		return nil, r.status
	}
	var res fetchResponse
	if err := json.Unmarshal([]byte(r.body), &res); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range res.Entities {
		ids = append(ids, e.Id[len(e.Id)-1:])
	}
	return ids, 200
}

func TestEvaluatorOperators(t *testing.T) {
	s, _ := evalFixture(t)
	teamAuth := basic("teamed@fieldsync.test", "pw")
	acc := func(f string) string {
		return `<fetch version="1.0" mapping="logical"><entity name="account"><attribute name="name"/><filter type="and">` + f + `</filter></entity></fetch>`
	}
	ext := func(f string) string {
		return `<fetch version="1.0" mapping="logical"><entity name="fs_entity01"><attribute name="fs_name"/><filter type="and">` + f + `</filter></entity></fetch>`
	}
	cases := []struct {
		name, auth, xml string
		want            []string
	}{
		{"eq string ignores case", "", acc(`<condition attribute="name" operator="eq" value="BETA"/>`), []string{"2"}},
		{"ne", "", acc(`<condition attribute="numberofemployees" operator="ne" value="10"/>`), []string{"2"}},
		{"lt int", "", acc(`<condition attribute="numberofemployees" operator="lt" value="20"/>`), []string{"1"}},
		{"le int", "", acc(`<condition attribute="numberofemployees" operator="le" value="20"/>`), []string{"1", "2"}},
		{"gt money exact", "", acc(`<condition attribute="revenue" operator="gt" value="100.5"/>`), []string{"2"}},
		{"ge money", "", acc(`<condition attribute="revenue" operator="ge" value="100.50"/>`), []string{"1", "2"}},
		{"eq bool", "", acc(`<condition attribute="donotemail" operator="eq" value="1"/>`), []string{"1"}},
		{"in picklist", "", acc(`<condition attribute="industrycode" operator="in"><value>2</value><value>7</value></condition>`), []string{"2"}},
		{"not-in excludes null", "", acc(`<condition attribute="industrycode" operator="not-in"><value>2</value></condition>`), []string{"1"}},
		{"in strings", "", acc(`<condition attribute="address1_city" operator="in"><value>PRAHA</value></condition>`), []string{"1"}},
		{"like", "", acc(`<condition attribute="name" operator="like" value="%a%"/>`), []string{"1", "2", "3"}},
		{"like bracket literal", "", acc(`<condition attribute="name" operator="like" value="%[[]x]"/>`), []string{"3"}},
		{"not-like", "", acc(`<condition attribute="name" operator="not-like" value="a%"/>`), []string{"2", "3"}},
		{"begins-with escaped", "", acc(`<condition attribute="name" operator="begins-with" value="Alpha 50[%]"/>`), []string{"1"}},
		{"not-begin-with", "", acc(`<condition attribute="name" operator="not-begin-with" value="g"/>`), []string{"1", "2"}},
		{"null", "", acc(`<condition attribute="parentaccountid" operator="null"/>`), []string{"1", "3"}},
		{"not-null", "", acc(`<condition attribute="parentaccountid" operator="not-null"/>`), []string{"2"}},
		{"eq lookup upper braces", "", acc(`<condition attribute="parentaccountid" operator="eq" value="{A0000000-0000-4000-8000-000000000001}"/>`), []string{"2"}},
		{"versionnumber", "", acc(`<condition attribute="versionnumber" operator="gt" value="0"/>`), []string{"1", "2", "3"}},
		{"eq-userid", "", acc(`<condition attribute="ownerid" operator="eq-userid"/>`), []string{"1", "2"}},
		{"ne-userid", "", acc(`<condition attribute="ownerid" operator="ne-userid"/>`), []string{"3"}},
		{"eq-businessid", "", acc(`<condition attribute="owningbusinessunit" operator="eq-businessid"/>`), []string{"1", "2", "3"}},
		{"ne-businessid", "", acc(`<condition attribute="owningbusinessunit" operator="ne-businessid"/>`), nil},
		{"eq-useroruserteams", teamAuth, acc(`<condition attribute="ownerid" operator="eq-useroruserteams"/>`), []string{"3"}},
		{"or", "", `<fetch><entity name="account"><filter type="or"><condition attribute="name" operator="eq" value="beta"/><condition attribute="numberofemployees" operator="eq" value="10"/></filter></entity></fetch>`, []string{"1", "2"}},
		{"inner link", "", `<fetch><entity name="account"><link-entity name="account" from="accountid" to="parentaccountid" alias="p"><filter><condition attribute="donotemail" operator="eq" value="true"/></filter></link-entity></entity></fetch>`, []string{"2"}},
		{"last-x-days", "", ext(`<condition attribute="fs_date" operator="last-x-days" value="7"/>`), []string{"1"}},
		{"next-x-days", "", ext(`<condition attribute="fs_date" operator="next-x-days" value="3"/>`), []string{"2"}},
		{"on-or-after", "", ext(`<condition attribute="fs_date" operator="on-or-after" value="2026-11-20"/>`), []string{"1", "2"}},
		{"ge datetime fraction", "", ext(`<condition attribute="fs_date" operator="ge" value="2026-11-20T07:59:59.5Z"/>`), []string{"1", "2"}},
		{"lt datetime", "", ext(`<condition attribute="fs_date" operator="lt" value="2026-01-01T00:00:00Z"/>`), []string{"3"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			auth := c.auth
			if auth == "" {
				auth = adminAuth
			}
			got, status := fetchIDs(t, s, auth, c.xml)
			if status != 200 {
				t.Fatalf("status %d", status)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestEvaluatorRefuses(t *testing.T) {
	s, _ := evalFixture(t)
	for _, x := range []string{
		``, `<fetch/>`, `not xml`, `<fetch><entity name="nope"/></fetch>`,
		`<fetch count="5001"><entity name="account"/></fetch>`,
		`<fetch><entity name="account"><attribute name="documentbody"/></entity></fetch>`,
		`<fetch><entity name="annotation"><attribute name="documentbody"/></entity></fetch>`,
		`<fetch><entity name="account"><filter><condition attribute="nope" operator="eq" value="1"/></filter></entity></fetch>`,
		`<fetch><entity name="account"><filter><condition attribute="name" operator="in"/></filter></entity></fetch>`,
		`<fetch><entity name="account"><filter><condition attribute="revenue" operator="gt" value="1e3"/></filter></entity></fetch>`,
		`<fetch><entity name="account"><filter><condition attribute="donotemail" operator="lt" value="1"/></filter></entity></fetch>`,
		`<fetch><entity name="account"><filter><condition attribute="revenue" operator="like" value="1"/></filter></entity></fetch>`,
		`<fetch><entity name="account"><filter><condition attribute="name" operator="null" value="x"/></filter></entity></fetch>`,
		`<fetch><entity name="account"><filter><condition entityname="zz" attribute="name" operator="null"/></filter></entity></fetch>`,
		`<fetch page="2" paging-cookie="garbage"><entity name="account"/></fetch>`,
		`<!DOCTYPE x><fetch><entity name="account"/></fetch>`,
		`<fetch><entity name="account"><link-entity name="account" from="name" to="parentaccountid"/></entity></fetch>`,
		strings.Repeat("<filter>", 40),
	} {
		if _, status := fetchIDs(t, s, adminAuth, x); status != 400 {
			t.Errorf("%q: status %d, want 400", x, status)
		}
	}
}

func TestLikeMatch(t *testing.T) {
	for _, c := range []struct {
		v, p string
		want bool
	}{
		{"abc", "a%", true}, {"abc", "%c", true}, {"abc", "a_c", true}, {"abc", "a_", false},
		{"ABC", "abc", true}, {"a%c", "a[%]c", true}, {"abc", "a[%]c", false}, {"b", "[a-c]", true},
		{"d", "[^a-c]", true}, {"[", "[", true}, {"x[1]", "x[[]1]", true}, {"", "%", true},
	} {
		if got := likeMatch(c.v, c.p); got != c.want {
			t.Errorf("likeMatch(%q, %q) = %v", c.v, c.p, got)
		}
	}
}
