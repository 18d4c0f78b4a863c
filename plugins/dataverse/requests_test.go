package dataverse

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/sdk"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// fakeOrg is a scripted Web API: it answers from routes and writes every
// request it gets into a transcript, which the golden tests compare with
// testdata/golden: the exact request shapes the connector sends.
type fakeOrg struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	log    strings.Builder
	routes []*route
}

// route answers requests whose method matches and whose URI (relative to
// the API root, as sent) starts with prefix; once routes answer one
// request.
type route struct {
	method, prefix string
	status         int
	header         map[string]string
	body           string
	once, used     bool
}

func newFakeOrg(t *testing.T) *fakeOrg {
	f := &fakeOrg{t: t}
	meta, err := os.ReadFile("testdata/metadata.xml")
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") {
			_ = r.ParseForm()
			if r.PostForm.Get("client_secret") != "s3cret" || r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("scope") != f.srv.URL+"/.default" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}`)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"token_type":"Bearer","expires_in":3599,"access_token":"tok-1"}`)
			return
		}
		rel := strings.TrimPrefix(r.URL.RequestURI(), "/api/data/v9.2/")
		if rel == "$metadata?annotations=true" {
			w.Write(meta)
			return
		}
		body, _ := io.ReadAll(r.Body)
		f.record(r, rel, body)
		f.mu.Lock()
		var hit *route
		for _, rt := range f.routes {
			if rt.method == r.Method && strings.HasPrefix(rel, rt.prefix) && !(rt.once && rt.used) {
				hit = rt
				rt.used = true
				break
			}
		}
		f.mu.Unlock()
		if hit == nil {
			t.Errorf("fake org: no route for %s %s", r.Method, rel)
			w.WriteHeader(http.StatusNotImplemented)
			return
		}
		for k, v := range hit.header {
			w.Header().Set(k, v)
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
		}
		w.WriteHeader(hit.status)
		io.WriteString(w, strings.ReplaceAll(hit.body, "{base}", f.srv.URL+"/api/data/v9.2/"))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOrg) on(method, prefix string, status int, body string) *route {
	rt := &route{method: method, prefix: prefix, status: status, body: body, once: true}
	f.mu.Lock()
	f.routes = append(f.routes, rt)
	f.mu.Unlock()
	return rt
}

// record writes a request as the transcript shows it: method and URI,
// the headers that shape it, the body with CRLF line ends shown as LF.
func (f *fakeOrg) record(r *http.Request, rel string, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fmt.Fprintf(&f.log, "%s %s\n", r.Method, rel)
	for _, h := range []string{"Authorization", "Prefer", "If-Match", "Content-Type", "Accept", "OData-Version", "OData-MaxVersion"} {
		if v := r.Header.Get(h); v != "" {
			ct := v
			fmt.Fprintf(&f.log, "%s: %s\n", h, ct)
		}
	}
	if len(body) > 0 {
		f.log.WriteString("\n" + strings.ReplaceAll(string(body), "\r\n", "\n"))
		if !strings.HasSuffix(f.log.String(), "\n") {
			f.log.WriteString("\n")
		}
	}
	f.log.WriteString("----\n")
}

func (f *fakeOrg) connect(t *testing.T) *Connector {
	c, err := New(context.Background(), Options{URL: f.srv.URL, Tenant: "t1", ClientID: "app", ClientSecret: "s3cret",
		TokenURL: f.srv.URL + "/t1/oauth2/v2.0/token", Retries: 0, Logger: hclog.NewNullLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// golden compares the transcript with testdata/golden/name.txt.
func (f *fakeOrg) golden(name string) {
	f.t.Helper()
	f.mu.Lock()
	got := f.log.String()
	f.mu.Unlock()
	path := filepath.Join("testdata", "golden", name+".txt")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			f.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		f.t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		f.t.Errorf("requests differ from %s (go test -update rewrites it):\n--- got ---\n%s", path, got)
	}
}

// deterministicBoundaries numbers multipart boundaries for the test.
func deterministicBoundaries(t *testing.T) {
	old := newBoundary
	n := 0
	var mu sync.Mutex
	newBoundary = func(prefix string) string {
		mu.Lock()
		defer mu.Unlock()
		n++
		return fmt.Sprintf("%s%d", prefix, n)
	}
	t.Cleanup(func() { newBoundary = old })
}

// multipart renders a $batch response: each part is a response text or,
// for a change set, a []string of responses with their Content-IDs as
// "id|response".
func multipartBody(boundary string, parts ...any) string {
	var b strings.Builder
	for i, p := range parts {
		b.WriteString("--" + boundary + "\r\n")
		switch p := p.(type) {
		case string:
			b.WriteString("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n" + crlf(p) + "\r\n")
		case []string:
			cs := fmt.Sprintf("changesetresponse_%d", i)
			b.WriteString("Content-Type: multipart/mixed; boundary=" + cs + "\r\n\r\n")
			for _, r := range p {
				id, resp, _ := strings.Cut(r, "|")
				b.WriteString("--" + cs + "\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: " + id + "\r\n\r\n" + crlf(resp) + "\r\n")
			}
			b.WriteString("--" + cs + "--\r\n")
		}
	}
	b.WriteString("--" + boundary + "--\r\n")
	return b.String()
}

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

const (
	idA = "aaaaaaaa-0000-0000-0000-000000000001"
	idB = "aaaaaaaa-0000-0000-0000-000000000002"
	idC = "aaaaaaaa-0000-0000-0000-000000000003"
	idD = "aaaaaaaa-0000-0000-0000-000000000004"
)

func TestRequestsFullAndDelta(t *testing.T) {
	f := newFakeOrg(t)
	f.on("GET", "accounts?$select=accountid,name,_parentaccountid_value", 200, `{"@odata.context":"{base}$metadata#accounts(accountid,name,_parentaccountid_value)",
		"value":[{"@odata.etag":"W/\"11\"","accountid":"`+idA+`","name":"Alpha","_parentaccountid_value":null},
		{"@odata.etag":"W/\"12\"","accountid":"`+idB+`","name":"Beta","_parentaccountid_value":"`+strings.ToUpper(idA)+`"}],
		"@odata.nextLink":"{base}accounts?$select=accountid,name,_parentaccountid_value&$skiptoken=%3Ccookie%20page=%222%22%20/%3E"}`)
	f.on("GET", "accounts?$select=accountid,name,_parentaccountid_value&$skiptoken=", 200, `{"value":[
		{"@odata.etag":"W/\"13\"","accountid":"`+idC+`","name":"Gamma","_parentaccountid_value":null}],
		"@odata.deltaLink":"{base}accounts?$select=accountid,name,_parentaccountid_value&$deltatoken=13%2108%2F22%2F2025%2008%3A10%3A44"}`)
	f.on("GET", "accounts?$select=accountid,name,_parentaccountid_value&$deltatoken=", 200, `{"@odata.context":"{base}$metadata#accounts(accountid,name,_parentaccountid_value)/$delta",
		"value":[{"@odata.etag":"W/\"14\"","accountid":"`+idB+`","name":"Beta 2","_parentaccountid_value":null},
		{"@odata.context":"{base}$metadata#accounts/$deletedEntity","id":"`+idC+`","reason":"deleted"}],
		"@odata.deltaLink":"{base}accounts?$select=accountid,name,_parentaccountid_value&$deltatoken=15%2108%2F22%2F2025%2008%3A11%3A00"}`)
	c := f.connect(t)
	req := sdk.FetchRequest{Entity: "account", Fields: []string{"name", "parentaccountid"}, PageSize: 2}
	pages, err := fetchAll(t, c, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 2 || pages[0].Len() != 2 || pages[1].Len() != 1 || !pages[1].Last || len(pages[0].Cursor) == 0 {
		t.Fatalf("pages: %d", len(pages))
	}
	if got := pages[0].Columns[1].Strings[1]; got != idA {
		t.Errorf("lookup value %q, want the lower-case id %q", got, idA)
	}
	if pages[0].Versions[0] != `W/"11"` {
		t.Errorf("version %q", pages[0].Versions[0])
	}
	req.Token = pages[1].Token
	inc, err := fetchAll(t, c, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(inc) != 1 || inc[0].Len() != 1 || inc[0].IDs[0] != idB || len(inc[0].Deletes) != 1 || inc[0].Deletes[0] != idC {
		t.Fatalf("incremental page: %+v", inc[0])
	}
	f.golden("fetch_full_and_delta")
}

func TestRequestsFilteredKeyedDelta(t *testing.T) {
	f := newFakeOrg(t)
	// Bootstrap: key-only, change-tracked, walked to its delta link.
	f.on("GET", "accounts?$select=accountid", 200, `{"value":[{"accountid":"`+idA+`"}],"@odata.nextLink":"{base}accounts?$select=accountid&$skiptoken=k2"}`)
	f.on("GET", "accounts?$select=accountid&$skiptoken=k2", 200, `{"value":[{"accountid":"`+idB+`"}],"@odata.deltaLink":"{base}accounts?$select=accountid&$deltatoken=100%2101%2F01%2F2026%2000%3A00%3A00"}`)
	// The filtered read, without change tracking.
	f.on("GET", "accounts?$select=accountid,name&$filter=", 200, `{"value":[{"@odata.etag":"W/\"7\"","accountid":"`+idA+`","name":"Apple"}]}`)
	// Incremental: the key-only delta, then a re-read of the changed ids
	// through the filter.
	f.on("GET", "accounts?$select=accountid&$deltatoken=", 200, `{"value":[{"accountid":"`+idA+`"},{"accountid":"`+idB+`"},
		{"@odata.context":"{base}$metadata#accounts/$deletedEntity","id":"`+idD+`","reason":"deleted"}],
		"@odata.deltaLink":"{base}accounts?$select=accountid&$deltatoken=120%2101%2F01%2F2026%2000%3A01%3A00"}`)
	f.on("GET", "accounts?$select=accountid,name&$filter=(startswith", 200, `{"value":[{"@odata.etag":"W/\"9\"","accountid":"`+idB+`","name":"Apricot"}]}`)
	c := f.connect(t)
	req := sdk.FetchRequest{Entity: "account", Fields: []string{"name"}, Filter: sdk.Cmp("name", sdk.OpBeginsWith, sdk.String("Ap")), PageSize: 50}
	pages, err := fetchAll(t, c, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 1 || pages[0].Len() != 1 || !pages[0].Last {
		t.Fatalf("full read pages: %d", len(pages))
	}
	req.Token = pages[0].Token
	inc, err := fetchAll(t, c, req)
	if err != nil {
		t.Fatal(err)
	}
	// idA changed and left the filter, idB changed and matches, idD was
	// deleted: one upsert, two deletes.
	if len(inc) != 1 || inc[0].Len() != 1 || inc[0].IDs[0] != idB || strings.Join(inc[0].Deletes, ",") != idA+","+idD {
		t.Fatalf("incremental page: ids %v deletes %v", inc[0].IDs, inc[0].Deletes)
	}
	f.golden("fetch_filtered_keyed")
}

func TestRequestsPushBatch(t *testing.T) {
	deterministicBoundaries(t)
	f := newFakeOrg(t)
	f.on("POST", "$batch", 200, multipartBody("batchresponse_1",
		[]string{
			"1|HTTP/1.1 201 Created\nContent-Type: application/json\n\n{\"@odata.etag\":\"W/\\\"21\\\"\",\"accountid\":\"" + idA + "\"}",
			"2|HTTP/1.1 201 Created\nContent-Type: application/json\n\n{\"@odata.etag\":\"W/\\\"22\\\"\",\"accountid\":\"" + idB + "\"}",
		},
		[]string{"3|HTTP/1.1 204 No Content\nETag: W/\"23\"\n\n"},
		[]string{"4|HTTP/1.1 204 No Content\n\n"},
		[]string{"5|HTTP/1.1 412 Precondition Failed\nContent-Type: application/json\n\n{\"error\":{\"code\":\"\",\"message\":\"The version of the existing record doesn't match the RowVersion property provided.\"}}"},
	)).header = map[string]string{"Content-Type": "multipart/mixed; boundary=batchresponse_1"}
	// The refused update's row, read to answer it: it already holds the
	// change's values (a resend), so the change is applied.
	f.on("POST", "$batch", 200, multipartBody("batchresponse_2",
		"HTTP/1.1 200 OK\nContent-Type: application/json\n\n{\"@odata.etag\":\"W/\\\"30\\\"\",\"accountid\":\""+idD+"\",\"name\":\"Delta\",\"numberofemployees\":7}",
	)).header = map[string]string{"Content-Type": "multipart/mixed; boundary=batchresponse_2"}
	c := f.connect(t)
	resp, err := c.Push(context.Background(), sdk.PushRequest{Changes: []sdk.Change{
		{ChangeID: "c1", Op: sdk.OpCreate, Entity: "account", ID: idA, Values: map[string]sdk.Value{"name": sdk.String("Parent"), "revenue": sdk.String("12.50")}},
		{ChangeID: "c2", Op: sdk.OpCreate, Entity: "account", ID: idB, Values: map[string]sdk.Value{"name": sdk.String("Child"), "parentaccountid": sdk.String(idA)}},
		{ChangeID: "c3", Op: sdk.OpUpdate, Entity: "account", ID: idC, BaseVersion: `W/"5"`, Values: map[string]sdk.Value{"donotemail": sdk.Bool(true), "parentaccountid": sdk.Null()}},
		{ChangeID: "c4", Op: sdk.OpDelete, Entity: "account", ID: idC, BaseVersion: "6"},
		{ChangeID: "c5", Op: sdk.OpUpdate, Entity: "account", ID: idD, Values: map[string]sdk.Value{"name": sdk.String("Delta"), "numberofemployees": sdk.Int(7)}},
		{ChangeID: "c6", Op: sdk.OpUpdate, Entity: "account", ID: idD, Values: map[string]sdk.Value{"createdon": sdk.Int(0)}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`applied W/"21"`, `applied W/"22"`, `applied W/"23"`, `applied `, `applied W/"30"`, `failed `}
	for i, r := range resp.Results {
		if got := r.Status.String() + " " + r.Version; got != want[i] {
			t.Errorf("result %d: %s (%v), want %s", i, got, r.Err, want[i])
		}
	}
	if r := resp.Results[5]; r.Err == nil || r.Err.Kind != sdk.Permanent || !strings.Contains(r.Err.Message, "read-only") {
		t.Errorf("write of a read-only field: %+v", r.Err)
	}
	f.golden("push_batch")
}

func TestRequestsChangeCheck(t *testing.T) {
	deterministicBoundaries(t)
	f := newFakeOrg(t)
	f.on("POST", "$batch", 200, multipartBody("batchresponse_1",
		"HTTP/1.1 200 OK\nContent-Type: text/plain\n\n0",
		"HTTP/1.1 200 OK\nContent-Type: text/plain\n\n3",
	)).header = map[string]string{"Content-Type": "multipart/mixed; boundary=batchresponse_1"}
	c := f.connect(t)
	tok := func(entity, link string) []byte {
		return changeToken{Entity: entity, Sig: "x", Mode: modePlain, Link: link}.encode()
	}
	got, err := c.CheckChanges(context.Background(), []sdk.ChangeProbe{
		{Entity: "account", Token: tok("account", "accounts?$select=accountid,name&$deltatoken=13%2108%2F22%2F2025%2008%3A10%3A44")},
		{Entity: "contact", Token: tok("contact", "contacts?$select=contactid&$deltatoken=14%2108%2F22%2F2025%2008%3A10%3A45")},
		{Entity: "contact", Token: changeToken{Entity: "contact", Sig: "x", Mode: modeNone}.encode()},
		{Entity: "account", Token: []byte("garbage")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[false true true true]" {
		t.Errorf("changed = %v, want [false true true true]", got)
	}
	f.golden("change_check")
}

func TestBatchBodyUsesCRLF(t *testing.T) {
	deterministicBoundaries(t)
	c := &Connector{api: mustURL(t, "https://org.crm.dynamics.com/api/data/v9.2/")}
	body, ctype := c.writeBatch([]batchGroup{{ChangeSet: true, IDs: []int{1}, Ops: []batchOp{{Method: "POST", URL: "accounts", Body: []byte(`{}`)}}}})
	if ctype != "multipart/mixed; boundary=batch_1" {
		t.Errorf("content type %q", ctype)
	}
	if strings.Contains(strings.ReplaceAll(string(body), "\r\n", ""), "\n") {
		t.Errorf("a line of the $batch body ends without CR:\n%q", body)
	}
	if !strings.Contains(string(body), "POST /api/data/v9.2/accounts HTTP/1.1\r\n") {
		t.Errorf("request line: %q", body)
	}
}

func TestTokenErrorHidesSecret(t *testing.T) {
	f := newFakeOrg(t)
	c, err := New(context.Background(), Options{URL: f.srv.URL, ClientID: "app", ClientSecret: "wrong-s3cret-value",
		TokenURL: f.srv.URL + "/t1/oauth2/v2.0/token", Retries: 0})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Schema(context.Background())
	if err == nil {
		t.Fatal("schema with a bad secret succeeded")
	}
	if strings.Contains(err.Error(), "wrong-s3cret-value") {
		t.Errorf("the error shows the secret: %v", err)
	}
	if sdk.KindOf(err) != sdk.Permanent || !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("bad credentials: %v (kind %s), want a permanent error naming invalid_client", err, sdk.KindOf(err))
	}
}
