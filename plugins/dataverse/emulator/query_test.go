package emulator

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

func seeded(t *testing.T, accounts int, mod func(*Options)) *env {
	t.Helper()
	e := newEnv(t, mod)
	if err := e.srv.Seed(t.Context(), SeedOptions{Accounts: accounts, ContactsPerAccount: 1, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestPaging(t *testing.T) {
	e := seeded(t, 23, nil)
	var ids []string
	next := "accounts?$select=name,revenue&$filter=statecode%20ge%200"
	pages := 0
	for next != "" {
		r := e.must(e.do("GET", next, "", "Prefer", "odata.maxpagesize=5"), 200)
		if got := r.header.Get("Preference-Applied"); got != "odata.maxpagesize=5" {
			t.Errorf("Preference-Applied %q", got)
		}
		m := r.json(t)
		rows := values(t, m)
		if len(rows) > 5 {
			t.Fatalf("page of %d", len(rows))
		}
		for _, row := range rows {
			ids = append(ids, row["accountid"].(string))
			if _, ok := row["name"]; !ok {
				t.Fatalf("no name in %v", row)
			}
			if tag, _ := row["@odata.etag"].(string); !strings.HasPrefix(tag, `W/"`) {
				t.Fatalf("etag %q", tag)
			}
		}
		next, _ = m["@odata.nextLink"].(string)
		if next != "" && !strings.Contains(next, "$skiptoken=%3ccookie%20pagenumber%3d%22") {
			t.Fatalf("nextLink %s", next)
		}
		if next != "" && !strings.Contains(next, "$select=name,revenue&$filter=statecode%20ge%200") {
			t.Fatalf("nextLink lost the options: %s", next)
		}
		pages++
	}
	if pages != 5 || len(ids) != 23 {
		t.Fatalf("%d pages, %d rows", pages, len(ids))
	}
	if !slices.IsSorted(ids) {
		t.Error("rows not in key order")
	}
	if len(slices.Compact(slices.Clone(ids))) != 23 {
		t.Error("a row came twice")
	}
	// Without Prefer: one page of up to 5000.
	r := e.must(e.do("GET", "accounts?$select=name", ""), 200)
	if n := len(values(t, r.json(t))); n != 23 {
		t.Errorf("default page: %d rows", n)
	}
	// $top without paging: no nextLink.
	m := e.must(e.do("GET", "accounts?$select=name&$top=4", ""), 200).json(t)
	if len(values(t, m)) != 4 || m["@odata.nextLink"] != nil {
		t.Errorf("$top: %v", m)
	}
	// Descending key order pages too.
	m = e.must(e.do("GET", "accounts?$select=name&$orderby=accountid%20desc", "", "Prefer", "odata.maxpagesize=20"), 200).json(t)
	rows := values(t, m)
	if rows[0]["accountid"].(string) != ids[22] {
		t.Error("desc order")
	}
	m = e.must(e.do("GET", m["@odata.nextLink"].(string), "", "Prefer", "odata.maxpagesize=20"), 200).json(t)
	if len(values(t, m)) != 3 {
		t.Error("desc second page")
	}
}

func TestCounts(t *testing.T) {
	e := seeded(t, 12, func(o *Options) { o.CountLimit = 10 })
	r := e.must(e.do("GET", "accounts/$count", ""), 200)
	if string(r.body) != "10" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Errorf("/$count capped: %s %s", r.body, r.header.Get("Content-Type"))
	}
	m := e.must(e.do("GET", "accounts?$select=name&$count=true", "", "Prefer",
		`odata.include-annotations="Microsoft.Dynamics.CRM.totalrecordcount,Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"`), 200).json(t)
	if m["@odata.count"].(float64) != 10 || m["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] != true {
		t.Errorf("$count=true: %v", m)
	}
	r = e.must(e.do("GET", "accounts/$count?$filter=statecode%20eq%2099", ""), 200)
	if string(r.body) != "0" {
		t.Errorf("filtered count %s", r.body)
	}
	m = e.must(e.do("GET", "RetrieveTotalRecordCount(EntityNames=['account','contact'])", ""), 200).json(t)
	vals := m["EntityRecordCountCollection"].(map[string]any)["Values"].([]any)
	if vals[0].(float64) != 12 || vals[1].(float64) != 12 {
		t.Errorf("RetrieveTotalRecordCount %v", m)
	}
}

func TestQueryOptionErrors(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name, path string
		status     int
		want       string
	}{
		{"skip", "accounts?$skip=10", 400, "$skip is not supported"},
		{"expand", "accounts?$expand=primarycontactid", 400, "not supported by the emulator"},
		{"unknown option", "accounts?$foo=1", 400, "$foo"},
		{"twice", "accounts?$select=name&$select=name", 400, "more than once"},
		{"bad select", "accounts?$select=nope", 400, "Could not find a property named 'nope'"},
		{"select lookup name", "accounts?$select=ownerid", 400, "_ownerid_value"},
		{"orderby", "accounts?$orderby=name", 400, "orders only by the primary key"},
		{"unknown set", "widgets", 404, "Resource not found for the segment 'widgets'."},
		{"bad key", "accounts(xyz)", 400, "not a valid key"},
		{"bad skiptoken", "accounts?$skiptoken=zzz", 400, "$skiptoken"},
		{"missing row", "accounts(00000000-0000-4000-8000-000000000009)", 404, "account With Id = 00000000-0000-4000-8000-000000000009 Does Not Exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("GET", tc.path, "")
			if r.status != tc.status || !strings.Contains(string(r.body), tc.want) {
				t.Errorf("%s: %d %s", tc.path, r.status, r.body)
			}
			if !strings.HasPrefix(string(r.body), `{"error":{"code":`) {
				t.Errorf("not the error JSON: %s", r.body)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Clients = []Client{{ID: "app-1", Secret: "s1"}, {ID: "app-2", Secret: "s2"}}
	})
	e.token = e.fetchToken("app-1", "s1")
	e.must(e.do("GET", "WhoAmI", ""), 200)
	// No token.
	req, _ := http.NewRequest("GET", e.url+"WhoAmI", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer authorization_uri=https://login.microsoftonline.com/") {
		t.Errorf("no token: %d %q", res.StatusCode, res.Header.Get("WWW-Authenticate"))
	}
	// Each client is its own user.
	u1 := e.must(e.do("GET", "WhoAmI", ""), 200).json(t)["UserId"]
	e.token = e.fetchToken("app-2", "s2")
	u2 := e.must(e.do("GET", "WhoAmI", ""), 200).json(t)["UserId"]
	if u1 == u2 {
		t.Error("two clients, one user")
	}
	if id, ok := e.srv.ValidToken(e.token); !ok || id != u2 {
		t.Errorf("ValidToken: %q %v", id, ok)
	}
	// A token expires with its lifetime.
	e.clock.Add(DefaultTokenLifetime + 1)
	e.must(e.do("GET", "WhoAmI", ""), 401)
	if _, ok := e.srv.ValidToken(e.token); ok {
		t.Error("expired token valid")
	}
	// ExpireAccessTokens refuses every token issued before.
	e.token = e.fetchToken("app-2", "s2")
	e.must(e.do("GET", "WhoAmI", ""), 200)
	e.srv.ExpireAccessTokens()
	e.must(e.do("GET", "WhoAmI", ""), 401)
	e.clock.Add(2e9)
	e.token = e.fetchToken("app-2", "s2")
	e.must(e.do("GET", "WhoAmI", ""), 200)
}
