package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// fakeOrg is an httptest server answering the documented shapes of the
// REST API, scripted per test: token endpoint, describe, and hooks for
// queries, composite and other paths. It logs every request.
type fakeOrg struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	requests []fakeRequest
	tokens   int // token endpoint calls

	// query answers a SOQL text (all: queryAll) with a status and body.
	query func(q string, all bool) (int, string)
	// composite answers a composite request's body.
	composite func(req compositeRequest) (int, string)
	// other answers any other path.
	other func(w http.ResponseWriter, r *http.Request) bool
	// next answers nextRecordsUrl paths ("/services/data/v60.0/query/01g-2").
	next map[string]string
	// describe is Account's describe (default: accountDescribe).
	describe string
	// expireOnce makes the first data call answer 401 INVALID_SESSION_ID.
	expireOnce bool
	limitInfo  string
}

type fakeRequest struct {
	Method, Path, Query string
	Header              http.Header
	Body                string
}

func newFakeOrg(t *testing.T) *fakeOrg {
	f := &fakeOrg{t: t, next: map[string]string{}, describe: accountDescribe, limitInfo: "api-usage=18/5000"}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOrg) settings(extra ...string) map[string]string {
	s := map[string]string{
		"login_url": f.srv.URL, "grant": "password", "client_id": "cid", "client_secret": "s3cret-client",
		"username": "u@example.com", "password": "s3cret-pass", "retry_backoff": "1ms", "objects": "Account",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			delete(s, extra[i])
		} else {
			s[extra[i]] = extra[i+1]
		}
	}
	return s
}

func (f *fakeOrg) connect(extra ...string) *Connector {
	f.t.Helper()
	c, err := Factory(context.Background(), f.settings(extra...), hclog.NewNullLogger())
	if err != nil {
		f.t.Fatal(err)
	}
	return c.(*Connector)
}

func (f *fakeOrg) log() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.requests...)
}

// dataCalls counts requests under /services/data (API calls).
func (f *fakeOrg) dataCalls() int {
	n := 0
	for _, r := range f.log() {
		if strings.HasPrefix(r.Path, "/services/data/") {
			n++
		}
	}
	return n
}

func (f *fakeOrg) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, fakeRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body)})
	f.mu.Unlock()
	if r.URL.Path == "/services/oauth2/token" {
		f.mu.Lock()
		f.tokens++
		n := f.tokens
		f.mu.Unlock()
		form, _ := url.ParseQuery(string(body))
		ok := false
		switch form.Get("grant_type") {
		case "password":
			ok = form.Get("password") == "s3cret-pass" && form.Get("client_secret") == "s3cret-client"
		case "client_credentials":
			ok = form.Get("client_secret") == "s3cret-client"
		case "refresh_token":
			ok = form.Get("refresh_token") == "s3cret-refresh"
		case "urn:ietf:params:oauth:grant-type:jwt-bearer":
			ok = form.Get("assertion") != ""
		}
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant","error_description":"authentication failure"}`)
			return
		}
		fmt.Fprintf(w, `{"access_token":"tok-%d","instance_url":%q,"id":"%s/id/00D000000000001AAA/005000000000001AAA","token_type":"Bearer","issued_at":"1700000000000","signature":"x"}`, n, f.srv.URL, f.srv.URL)
		return
	}
	if f.expireOnce {
		f.expireOnce = false
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer tok-") {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `[{"message":"no session","errorCode":"INVALID_SESSION_ID"}]`)
		return
	}
	w.Header().Set("Sforce-Limit-Info", f.limitInfo)
	w.Header().Set("Content-Type", "application/json")
	p := strings.TrimPrefix(r.URL.Path, "/services/data/v60.0/")
	switch {
	case f.other != nil && f.other(w, r):
	case p == "sobjects":
		fmt.Fprint(w, `{"encoding":"UTF-8","maxBatchSize":200,"sobjects":[{"name":"Account","queryable":true,"replicateable":true},{"name":"User","queryable":true,"replicateable":true}]}`)
	case p == "sobjects/Account/describe":
		fmt.Fprint(w, f.describe)
	case p == "query" || p == "queryAll":
		if f.query == nil {
			f.t.Errorf("unexpected query %s", r.URL.Query().Get("q"))
			w.WriteHeader(500)
			return
		}
		status, out := f.query(r.URL.Query().Get("q"), p == "queryAll")
		w.WriteHeader(status)
		fmt.Fprint(w, out)
	case strings.HasPrefix(p, "query/"):
		out, ok := f.next[r.URL.Path]
		if !ok {
			w.WriteHeader(404)
			fmt.Fprint(w, `[{"message":"locator expired","errorCode":"INVALID_QUERY_LOCATOR"}]`)
			return
		}
		fmt.Fprint(w, out)
	case p == "composite":
		var req compositeRequest
		if err := json.Unmarshal(body, &req); err != nil || f.composite == nil {
			f.t.Errorf("unexpected composite %s (%v)", body, err)
			w.WriteHeader(400)
			return
		}
		status, out := f.composite(req)
		w.WriteHeader(status)
		fmt.Fprint(w, out)
	default:
		w.WriteHeader(404)
		fmt.Fprintf(w, `[{"message":"The requested resource does not exist","errorCode":"NOT_FOUND"}]`)
	}
}

// accountDescribe is a trimmed describe of Account with the fields the
// tests use, including both connector-owned fields.
const accountDescribe = `{"name":"Account","label":"Account","createable":true,"updateable":true,"deletable":true,"queryable":true,"replicateable":true,
"fields":[
 {"name":"Id","type":"id","length":18,"nillable":false,"createable":false,"updateable":false},
 {"name":"IsDeleted","type":"boolean","nillable":false,"createable":false,"updateable":false},
 {"name":"Name","type":"string","length":255,"nillable":false,"createable":true,"updateable":true},
 {"name":"NumberOfEmployees","type":"int","nillable":true,"createable":true,"updateable":true},
 {"name":"AnnualRevenue","type":"currency","nillable":true,"createable":true,"updateable":true},
 {"name":"Rating__c","type":"double","nillable":true,"createable":true,"updateable":true},
 {"name":"Active__c","type":"boolean","nillable":false,"defaultedOnCreate":true,"createable":true,"updateable":true},
 {"name":"SLAExpirationDate__c","type":"date","nillable":true,"createable":true,"updateable":true},
 {"name":"ParentId","type":"reference","referenceTo":["Account"],"relationshipName":"Parent","nillable":true,"createable":true,"updateable":true},
 {"name":"OwnerId","type":"reference","referenceTo":["User"],"relationshipName":"Owner","nillable":false,"defaultedOnCreate":true,"createable":true,"updateable":true},
 {"name":"BillingAddress","type":"address","nillable":true,"createable":false,"updateable":false},
 {"name":"SystemModstamp","type":"datetime","nillable":false,"createable":false,"updateable":false},
 {"name":"FieldsyncId__c","type":"string","length":255,"externalId":true,"nillable":true,"createable":true,"updateable":true},
 {"name":"FieldsyncChangeId__c","type":"string","length":255,"nillable":true,"createable":true,"updateable":true}
]}`

// stampText writes Unix ms the way Salesforce answers date-times.
func stampText(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000+0000")
}

// accountJSON is one Account record of a query answer.
func accountJSON(id string, stamp int64, name string, deleted bool) string {
	return fmt.Sprintf(`{"attributes":{"type":"Account","url":"/services/data/v60.0/sobjects/Account/%s"},"Id":%q,"SystemModstamp":%q,"IsDeleted":%v,"Name":%q,"NumberOfEmployees":7,"AnnualRevenue":1234567890123.45,"Rating__c":2.5,"Active__c":true,"SLAExpirationDate__c":"2025-03-04","ParentId":null,"OwnerId":"005000000000001AAA","FieldsyncId__c":null,"FieldsyncChangeId__c":null}`, id, id, stampText(stamp), deleted, name)
}

func queryJSON(done bool, next string, records ...string) string {
	n := ""
	if next != "" {
		n = fmt.Sprintf(`,"nextRecordsUrl":%q`, next)
	}
	return fmt.Sprintf(`{"totalSize":%d,"done":%v%s,"records":[%s]}`, len(records), done, n, strings.Join(records, ","))
}

// acct returns the i-th test Account id (18 characters).
func acct(i int) string { return fmt.Sprintf("001%012dAAA", i) }
