package emulator

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/golden")

// Fixed ids of the golden scenario.
const (
	acc1 = "a0000000-0000-4000-8000-000000000001"
	acc2 = "a0000000-0000-4000-8000-000000000002"
	acc3 = "a0000000-0000-4000-8000-000000000003"
	con1 = "c0000000-0000-4000-8000-000000000001"
	con2 = "c0000000-0000-4000-8000-000000000002"
)

type goldenCase struct {
	name, auth, method, path, body string
}

func checkGolden(t *testing.T, n *normalizer, name string, c goldenCase, r response) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", c.method, c.path)
	if c.body != "" {
		b.WriteString(c.body + "\n")
	}
	b.WriteString("---\n")
	fmt.Fprintf(&b, "%d\n", r.status)
	for _, h := range []string{"Content-Type", "Retry-After", "Www-Authenticate"} {
		if v := r.header.Get(h); v != "" {
			fmt.Fprintf(&b, "%s: %s\n", h, v)
		}
	}
	b.WriteString(strings.TrimSpace(r.body) + "\n")
	got := n.apply(b.String())
	path := filepath.Join("testdata", "golden", name+".txt")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestGolden(t *testing.T) {
	s, clk := newTestServer(t, Options{RequestLimit: 40})
	n := newNormalizer()
	n.keep(acc1, acc2, acc3, con1, con2)
	run := func(c goldenCase) response {
		t.Helper()
		if c.auth == "" {
			c.auth = adminAuth
		}
		if c.auth == "-" {
			c.auth = ""
		}
		r := do(t, s, c.auth, c.method, c.path, c.body)
		checkGolden(t, n, c.name, c, r)
		return r
	}
	// Name the org's own ids first so the files read well.
	me := mustOK(t, do(t, s, adminAuth, "GET", api("WhoAmI"), ""))
	n.name(jsonField(t, me.body, "UserId"), "<admin>")
	n.name(jsonField(t, me.body, "BusinessUnitId"), "<root-bu>")
	n.name(jsonField(t, me.body, "OrganizationId"), "<org>")
	run(goldenCase{name: "whoami", method: "GET", path: api("WhoAmI")})

	mustOK(t, run(goldenCase{name: "create_multiple", method: "POST", path: api("CreateMultiple"), body: `{"Entity":"account","Records":[` +
		`{"Id":"` + acc1 + `","RequestId":"req-1","Attributes":{"name":"Acme","revenue":12.50,"creditlimit":1000000000000.0001,"donotemail":false,"industrycode":3,"address1_city":"Praha"}},` +
		`{"Id":"` + acc2 + `","RequestId":"req-2","Attributes":{"name":"Beta","parentaccountid":{"Id":"` + acc1 + `","LogicalName":"account"},"address1_city":"Brno"}},` +
		`{"Id":"` + acc1 + `","RequestId":"req-3","Attributes":{"name":"Duplicate"}},` +
		`{"Id":"` + acc1 + `","RequestId":"req-1","Attributes":{"name":"Acme"}}]}`}))
	mustOK(t, do(t, s, adminAuth, "POST", api("CreateMultiple"), `{"Entity":"contact","Records":[`+
		`{"Id":"`+con1+`","Attributes":{"firstname":"Jana","lastname":"Novak","parentcustomerid":{"Id":"`+acc2+`","LogicalName":"account"},"birthdate":"1990-05-01T00:00:00Z"}},`+
		`{"Id":"`+con2+`","Attributes":{"lastname":"Orphan"}}]}`))
	mustOK(t, do(t, s, adminAuth, "POST", api("CreateMultiple"), `{"Entity":"account","Records":[{"Id":"`+acc3+`","Attributes":{"name":"Gamma"}}]}`))

	run(goldenCase{name: "metadata_status", method: "GET", path: api("Metadata")})
	run(goldenCase{name: "get_max_row_version", method: "POST", path: api("GetMaxRowVersion"), body: `{"Entities":["account","contact","fs_entity01"]}`})
	first := run(goldenCase{name: "fetch_page1", method: "POST", path: api("Fetch"), body: `{"FetchXml":"<fetch version=\"1.0\" mapping=\"logical\" count=\"2\" page=\"1\"><entity name=\"account\"><all-attributes/><order attribute=\"accountid\" descending=\"false\"/></entity></fetch>"}`})
	cookie := jsonField(t, first.body, "PagingCookie")
	if cookie == "" {
		t.Fatal("no paging cookie")
	}
	esc := strings.NewReplacer(`&`, "&amp;", `<`, "&lt;", `>`, "&gt;", `"`, "&quot;").Replace(cookie)
	esc = strings.ReplaceAll(esc, `"`, `\"`)
	run(goldenCase{name: "fetch_page2_cookie", method: "POST", path: api("Fetch"), body: `{"FetchXml":"<fetch version=\"1.0\" mapping=\"logical\" count=\"2\" page=\"2\" paging-cookie=\"` + esc + `\"><entity name=\"account\"><attribute name=\"name\"/><order attribute=\"accountid\" descending=\"false\"/></entity></fetch>"}`})
	run(goldenCase{name: "fetch_link_user_ops", method: "POST", path: api("Fetch"), body: `{"FetchXml":"<fetch version=\"1.0\" mapping=\"logical\"><entity name=\"contact\"><attribute name=\"fullname\"/><attribute name=\"parentcustomerid\"/><order attribute=\"contactid\" descending=\"false\"/><filter type=\"or\"><condition attribute=\"ownerid\" operator=\"eq-userid\"/><filter type=\"and\"><condition entityname=\"l1\" attribute=\"accountid\" operator=\"not-null\"/><condition entityname=\"l1\" attribute=\"ownerid\" operator=\"eq-useroruserteams\"/></filter></filter><link-entity name=\"account\" from=\"accountid\" to=\"parentcustomerid\" link-type=\"outer\" alias=\"l1\"><attribute name=\"name\"/></link-entity></entity></fetch>"}`})
	run(goldenCase{name: "fetch_inner_link_businessid", method: "POST", path: api("Fetch"), body: `{"FetchXml":"<fetch version=\"1.0\" mapping=\"logical\"><entity name=\"contact\"><attribute name=\"lastname\"/><filter type=\"and\"><condition attribute=\"owningbusinessunit\" operator=\"eq-businessid\"/></filter><link-entity name=\"account\" from=\"accountid\" to=\"parentcustomerid\" link-type=\"inner\" alias=\"l1\"><filter type=\"and\"><condition attribute=\"address1_city\" operator=\"in\"><value>brno</value><value>Praha</value></condition></filter></link-entity></entity></fetch>"}`})

	// An update with a stale version, then a good one.
	run(goldenCase{name: "update_multiple", method: "POST", path: api("UpdateMultiple"), body: `{"Entity":"account","Records":[` +
		`{"Id":"` + acc1 + `","RowVersion":1,"RequestId":"u-1","Attributes":{"name":"Acme Stale"}},` +
		`{"Id":"` + acc2 + `","RowVersion":4,"RequestId":"u-2","Attributes":{"name":"Beta 2","revenue":99.990}},` +
		`{"Id":"b0000000-0000-4000-8000-000000000009","RequestId":"u-3","Attributes":{"name":"Ghost"}}]}`})
	// Ownership change and a delete, then RetrieveChanges.
	other, err := s.AddUser("other@fieldsync.test", "other-pass", "Field Team")
	if err != nil {
		t.Fatal(err)
	}
	n.name(other, "<other-user>")
	if err := s.SetOwner("account", acc3, other); err != nil {
		t.Fatal(err)
	}
	run(goldenCase{name: "delete_multiple", method: "POST", path: api("DeleteMultiple"), body: `{"Entity":"contact","Records":[{"Id":"` + con2 + `","RequestId":"d-1"},{"Id":"` + con2 + `","RequestId":"d-2"},{"Id":"` + con2 + `","RequestId":"d-1"}]}`})
	mustOK(t, do(t, s, adminAuth, "POST", api("DeleteMultiple"), `{"Entity":"account","Records":[{"Id":"`+acc1+`"}]}`))
	run(goldenCase{name: "retrieve_changes", method: "POST", path: api("RetrieveChanges"), body: `{"Entity":"account","SinceRowVersion":3,"Count":5000,"PagingCookie":""}`})
	run(goldenCase{name: "invalid_fetchxml", method: "POST", path: api("Fetch"), body: `{"FetchXml":"<fetch><entity name=\"account\"><filter><condition attribute=\"name\" operator=\"around\" value=\"x\"/></filter></entity></fetch>"}`})
	run(goldenCase{name: "unauthorized", auth: basic(DefaultUsername, "wrong"), method: "GET", path: api("WhoAmI")})
	run(goldenCase{name: "unauthorized_missing", auth: "-", method: "GET", path: api("WhoAmI")})

	// ChangesExpired: purge tracking before a later instant.
	clk.t = testNow.Add(time.Hour)
	if err := s.PurgeChanges(testNow.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	run(goldenCase{name: "changes_expired", method: "POST", path: api("RetrieveChanges"), body: `{"Entity":"account","SinceRowVersion":3}`})

	// The limit is 40 requests in 5 minutes per user.
	for i := 0; ; i++ {
		r := do(t, s, adminAuth, "GET", api("WhoAmI"), "")
		if r.status == http.StatusTooManyRequests {
			break
		}
		if i > 100 {
			t.Fatal("never throttled")
		}
	}
	run(goldenCase{name: "too_many_requests", method: "GET", path: api("WhoAmI")})
}
