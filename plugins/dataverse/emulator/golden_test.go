package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// Golden files hold exact request/response exchanges (testdata/golden,
// rewritten with -update). Volatile values are normalised: GUIDs become
// <guid-N> in order of appearance, access tokens <token>; JSON bodies are
// re-indented for reading (member order and values untouched). The org URL
// is fixed and the clock is the test clock, so versions, links and delta
// tokens are exact.

const goldenOrg = "https://org.crm.dynamics.com"

var (
	guidRe  = regexp.MustCompile(`(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	tokenRe = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)
)

// fixed GUIDs the tests choose keep their names, so a golden reads well.
var knownGUIDs = map[string]string{}

func normalize(s string) string {
	seen := map[string]string{}
	s = tokenRe.ReplaceAllString(s, "<token>")
	return guidRe.ReplaceAllStringFunc(s, func(g string) string {
		l := strings.ToLower(g)
		if n, ok := knownGUIDs[l]; ok {
			return n
		}
		if n, ok := seen[l]; ok {
			return n
		}
		n := fmt.Sprintf("<guid-%d>", len(seen)+1)
		seen[l] = n
		return n
	})
}

var goldenHeaders = []string{"Content-Type", "OData-Version", "Preference-Applied", "Location", "OData-EntityId", "ETag", "Retry-After", "WWW-Authenticate"}

func newGoldenEnv(t *testing.T, mod func(*Options)) *env {
	return newEnv(t, func(o *Options) {
		o.OrgURL = goldenOrg
		if mod != nil {
			mod(o)
		}
	})
}

// exchange sends a request and returns its golden text.
func (e *env) exchange(method, path, body string, hdr ...string) (string, resp) {
	e.t.Helper()
	u := path
	if strings.HasPrefix(u, goldenOrg) {
		u = strings.TrimPrefix(u, goldenOrg)
	} else if !strings.HasPrefix(u, "/") {
		u = APIPath + u
	}
	req, err := http.NewRequest(method, e.http.URL+u, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if !strings.Contains(u, "/oauth2/") {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out strings.Builder
	fmt.Fprintf(&out, "%s %s HTTP/1.1\n", method, u)
	var names []string
	for k := range req.Header {
		if k != "Authorization" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range req.Header[k] {
			fmt.Fprintf(&out, "%s: %s\n", k, v)
		}
	}
	if body != "" {
		out.WriteString("\n" + strings.ReplaceAll(body, "\r\n", "\n") + "\n")
	}
	fmt.Fprintf(&out, "\n---\n\nHTTP/1.1 %d %s\n", res.StatusCode, http.StatusText(res.StatusCode))
	for _, k := range goldenHeaders {
		for _, v := range res.Header.Values(k) {
			fmt.Fprintf(&out, "%s: %s\n", k, v)
		}
	}
	if len(b) > 0 {
		out.WriteString("\n")
		var ind bytes.Buffer
		if json.Valid(b) && json.Indent(&ind, b, "", "  ") == nil {
			out.Write(ind.Bytes())
			out.WriteString("\n")
		} else {
			out.WriteString(strings.ReplaceAll(string(b), "\r\n", "\n"))
		}
	}
	return out.String(), resp{status: res.StatusCode, header: res.Header, body: b}
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	got = normalize(got)
	path := filepath.Join("testdata", "golden", name+".txt")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
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
		t.Errorf("%s differs from the golden file; run with -update and review.\n--- got\n%s", path, got)
	}
}

func TestGoldenAuth(t *testing.T) {
	e := newGoldenEnv(t, nil)
	form := "grant_type=client_credentials&client_id=" + DefaultClientID + "&client_secret=" + DefaultClientSecret + "&scope=https%3A%2F%2Forg.crm.dynamics.com%2F.default"
	g, _ := e.exchange("POST", "/tenant1/oauth2/v2.0/token", form, "Content-Type", "application/x-www-form-urlencoded")
	checkGolden(t, "token_response", g)
	bad := strings.Replace(form, DefaultClientSecret, "wrong", 1)
	g, _ = e.exchange("POST", "/tenant1/oauth2/v2.0/token", bad, "Content-Type", "application/x-www-form-urlencoded")
	checkGolden(t, "token_invalid_client", g)
	e.token = "not-a-token"
	g, _ = e.exchange("GET", "WhoAmI", "")
	checkGolden(t, "error_401", g)
}

func TestGoldenMetadata(t *testing.T) {
	e := newGoldenEnv(t, nil)
	_, r := e.exchange("GET", "$metadata?annotations=true", "")
	doc := string(r.body)
	// The excerpt: account's entity type and entity set, and contact's
	// polymorphic parentcustomerid navigation.
	start := strings.Index(doc, `<EntityType Name="account"`)
	end := strings.Index(doc[start:], "</EntityType>") + start + len("</EntityType>")
	set := strings.Index(doc, `<EntitySet Name="accounts"`)
	setEnd := strings.Index(doc[set:], "</EntitySet>") + set + len("</EntitySet>")
	nav := strings.Index(doc, `<NavigationProperty Name="parentcustomerid_account"`)
	navEnd := strings.Index(doc[nav:], "</NavigationProperty>") + nav + len("</NavigationProperty>")
	g := "GET " + APIPath + "$metadata?annotations=true HTTP/1.1\n\n---\n\nHTTP/1.1 200 OK\nContent-Type: " + r.header.Get("Content-Type") +
		"\n\n(excerpt)\n" + doc[start:end] + "\n...\n" + doc[nav:navEnd] + "\n...\n" + doc[set:setEnd] + "\n"
	checkGolden(t, "metadata_excerpt", g)
	if !strings.Contains(doc, "Org.OData.Capabilities.V1.ChangeTracking") {
		t.Error("no change tracking annotation")
	}
	_, r = e.exchange("GET", "$metadata", "")
	if strings.Contains(string(r.body), "Org.OData.Capabilities.V1.ChangeTracking\">") {
		t.Error("annotations without annotations=true")
	}
}

// goldenAccounts creates three accounts with fixed keys.
func goldenAccounts(e *env) {
	for i, n := range []string{"Contoso", "Fabrikam", "Litware"} {
		id := fmt.Sprintf("00000000-0000-4000-8000-00000000000%d", i+1)
		knownGUIDs[id] = fmt.Sprintf("<account-%d>", i+1)
		e.create("accounts", fmt.Sprintf(`{"accountid":"%s","name":"%s","revenue":%d.25,"industrycode":%d}`, id, n, (i+1)*1000, i+1))
	}
}

func TestGoldenPagingAndDelta(t *testing.T) {
	e := newGoldenEnv(t, nil)
	goldenAccounts(e)
	g, r := e.exchange("GET", "accounts?$select=name,revenue", "", "Prefer", "odata.maxpagesize=2")
	checkGolden(t, "page_first_nextlink", g)
	next := r.json(t)["@odata.nextLink"].(string)
	g, _ = e.exchange("GET", next, "", "Prefer", "odata.maxpagesize=2")
	checkGolden(t, "page_last", g)

	g, r = e.exchange("GET", "accounts?$select=name,industrycode", "", "Prefer", "odata.track-changes")
	checkGolden(t, "track_changes_last_page", g)
	delta := r.json(t)["@odata.deltaLink"].(string)

	e.clock.Add(60e9)
	e.must(e.do("PATCH", "accounts(00000000-0000-4000-8000-000000000001)", `{"name":"Contoso Ltd"}`), 204)
	e.must(e.do("DELETE", "accounts(00000000-0000-4000-8000-000000000002)", ""), 204)
	knownGUIDs["00000000-0000-4000-8000-000000000004"] = "<account-4>"
	e.create("accounts", `{"accountid":"00000000-0000-4000-8000-000000000004","name":"Northwind","industrycode":4}`)
	e.clock.Add(60e9)
	g, _ = e.exchange("GET", strings.Replace(delta, "accounts?$select=name,industrycode&", "accounts/$count?", 1), "")
	checkGolden(t, "delta_count", g)
	g, _ = e.exchange("GET", delta, "")
	checkGolden(t, "delta_page_deleted", g)
	g, _ = e.exchange("GET", "accounts?$select=name&$filter=name%20eq%20'x'", "", "Prefer", "odata.track-changes")
	checkGolden(t, "error_400_track_changes_filter", g)
	e.clock.Add(DefaultDeltaTokenLifetime)
	e.token = e.fetchToken(DefaultClientID, DefaultClientSecret)
	g, _ = e.exchange("GET", delta, "")
	checkGolden(t, "error_400_expired_delta_token", g)
}

func TestGoldenErrors(t *testing.T) {
	e := newGoldenEnv(t, func(o *Options) { o.Limits = Limits{Requests: 5, Window: DefaultWindow} })
	goldenAccounts(e)
	g, _ := e.exchange("PATCH", "accounts(00000000-0000-4000-8000-000000000001)", `{"name":"x"}`, "Content-Type", "application/json", "If-Match", `W/"1"`)
	checkGolden(t, "error_412_version_mismatch", g)
	g, _ = e.exchange("GET", "accounts(00000000-0000-4000-8000-000000000009)?$select=name", "")
	checkGolden(t, "error_404_not_found", g)
	g, _ = e.exchange("GET", "accounts?$select=name&$skip=10", "")
	checkGolden(t, "error_400_skip", g)
	g, _ = e.exchange("GET", "accounts?$filter=name%20eq", "")
	checkGolden(t, "error_400_filter_syntax", g)
	for e.do("GET", "WhoAmI", "").status != 429 {
	}
	g, _ = e.exchange("GET", "WhoAmI", "")
	checkGolden(t, "error_429_requests", g)
}

func TestGoldenBatch(t *testing.T) {
	e := newGoldenEnv(t, nil)
	goldenAccounts(e)
	_, r := e.exchange("GET", "accounts?$select=name", "", "Prefer", "odata.track-changes")
	delta := r.json(t)["@odata.deltaLink"].(string)
	deltaPath := strings.TrimPrefix(delta, goldenOrg)
	countPath := strings.Replace(deltaPath, "accounts?$select=name&", "accounts/$count?", 1)
	knownGUIDs["00000000-0000-4000-8000-0000000000c1"] = "<contact-1>"
	success := strings.ReplaceAll(`--batch_AAA
Content-Type: multipart/mixed; boundary=changeset_BBB

--changeset_BBB
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

POST /api/data/v9.2/contacts HTTP/1.1
Content-Type: application/json; type=entry

{"contactid":"00000000-0000-4000-8000-0000000000c1","firstname":"Anna","lastname":"Novak"}
--changeset_BBB
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 2

PATCH /api/data/v9.2/accounts(00000000-0000-4000-8000-000000000001) HTTP/1.1
Content-Type: application/json; type=entry

{"primarycontactid@odata.bind":"$1"}
--changeset_BBB
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 3

PATCH $1 HTTP/1.1
Content-Type: application/json; type=entry

{"parentcustomerid_account@odata.bind":"/accounts(00000000-0000-4000-8000-000000000001)"}
--changeset_BBB--

--batch_AAA
Content-Type: application/http
Content-Transfer-Encoding: binary

GET `+countPath+` HTTP/1.1


--batch_AAA
Content-Type: application/http
Content-Transfer-Encoding: binary

GET /api/data/v9.2/contacts?$select=fullname,_parentcustomerid_value HTTP/1.1


--batch_AAA--
`, "\n", "\r\n")
	g, _ := e.exchange("POST", "$batch", success, "Content-Type", "multipart/mixed; boundary=batch_AAA")
	checkGolden(t, "batch_changeset_success", g)

	failure := strings.ReplaceAll(`--batch_AAA
Content-Type: multipart/mixed; boundary=changeset_BBB

--changeset_BBB
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

POST /api/data/v9.2/accounts HTTP/1.1
Content-Type: application/json

{"name":"Rolled back"}
--changeset_BBB
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 2

PATCH /api/data/v9.2/accounts(00000000-0000-4000-8000-000000000002) HTTP/1.1
Content-Type: application/json
If-Match: W/"1"

{"name":"Stale"}
--changeset_BBB--

--batch_AAA
Content-Type: application/http
Content-Transfer-Encoding: binary

GET /api/data/v9.2/accounts/$count HTTP/1.1


--batch_AAA--
`, "\n", "\r\n")
	g, _ = e.exchange("POST", "$batch", failure, "Content-Type", "multipart/mixed; boundary=batch_AAA")
	checkGolden(t, "batch_changeset_failure", g)
	if n, _ := e.srv.Store().Count(t.Context(), "account"); n != 3 {
		t.Errorf("change set not rolled back: %d accounts", n)
	}
	g, _ = e.exchange("POST", "$batch", failure, "Content-Type", "multipart/mixed; boundary=batch_AAA", "Prefer", "odata.continue-on-error")
	checkGolden(t, "batch_continue_on_error", g)
}
