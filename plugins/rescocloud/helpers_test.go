package rescocloud

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/sdk"
)

// fakeService is a scripted data service: each path has a handler; every
// request is recorded with its body.
type fakeService struct {
	t        *testing.T
	mu       sync.Mutex
	handlers map[string]http.HandlerFunc
	calls    []fakeCall
	srv      *httptest.Server
}

type fakeCall struct {
	Method, Path, Query, Auth, Range string
	Body                             string
}

const (
	guidA = "00000000-0000-0000-0000-00000000000a"
	guidB = "00000000-0000-0000-0000-00000000000b"
	guidC = "00000000-0000-0000-0000-00000000000c"
	guidU = "11111111-1111-1111-1111-111111111111"
)

const testMetadata = `{"Entities":[
 {"Name":"account","PrimaryKey":"accountid","PrimaryName":"name","ChangeTracking":true,"Attributes":[
  {"Name":"accountid","Type":"Guid","Required":true,"ReadOnly":true},
  {"Name":"name","Type":"String","MaxLength":100,"Required":true},
  {"Name":"revenue","Type":"Money"},
  {"Name":"parentaccountid","Type":"Lookup","Targets":["account"]},
  {"Name":"createdon","Type":"DateTime","ReadOnly":true},
  {"Name":"employees","Type":"Integer"},
  {"Name":"ratio","Type":"Double"},
  {"Name":"active","Type":"Boolean"},
  {"Name":"category","Type":"Picklist","Options":[{"Value":1,"Label":"A"},{"Value":2,"Label":"B"}]},
  {"Name":"logo","Type":"Binary"},
  {"Name":"versionnumber","Type":"BigInt","ReadOnly":true},
  {"Name":"odd","Type":"PartyList"}]},
 {"Name":"annotation","PrimaryKey":"annotationid","PrimaryName":"subject","ChangeTracking":true,"Attributes":[
  {"Name":"annotationid","Type":"Guid"},
  {"Name":"objectid","Type":"Lookup","Targets":["account","contact"]},
  {"Name":"filename","Type":"String"},
  {"Name":"mimetype","Type":"String"},
  {"Name":"filesize","Type":"Integer","ReadOnly":true},
  {"Name":"documentbody","Type":"Binary"}]}
]}`

func newFake(t *testing.T) *fakeService {
	f := &fakeService{t: t, handlers: map[string]http.HandlerFunc{}}
	f.handle("WhoAmI", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"UserId":"`+guidU+`","BusinessUnitId":"`+guidU+`","OrganizationId":"`+guidU+`","TeamIds":[]}`)
	})
	f.handle("Metadata", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, testMetadata) })
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeService) handle(path string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handlers[path] = h
}

func (f *fakeService) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	path := strings.TrimPrefix(r.URL.Path, "/rest/v1/data/")
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{Method: r.Method, Path: path, Query: r.URL.RawQuery, Auth: r.Header.Get("Authorization"), Range: r.Header.Get("Range"), Body: string(body)})
	h := f.handlers[path]
	f.mu.Unlock()
	if h == nil {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"code":"NotFound","message":"no such method"}}`)
		return
	}
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	h(w, r)
}

// callsTo returns the recorded calls of a path.
func (f *fakeService) callsTo(path string) []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeCall
	for _, c := range f.calls {
		if c.Path == path {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeService) reset() {
	f.mu.Lock()
	f.calls = nil
	f.mu.Unlock()
}

// connect opens a connector on the fake with basic auth and instant
// retries.
func (f *fakeService) connect(t *testing.T, extra map[string]string) *Connector {
	t.Helper()
	s := map[string]string{"url": f.srv.URL, "username": "u", "password": "p", "retry_backoff": "1ms"}
	for k, v := range extra {
		s[k] = v
	}
	cfg, err := ParseSettings(s)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = hclog.NewNullLogger()
	c, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.http.sleep = func(ctx context.Context, d time.Duration) error { return ctx.Err() }
	return c
}

func jsonBody(t *testing.T, call fakeCall, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(call.Body), v); err != nil {
		t.Fatalf("body of %s: %v: %s", call.Path, err, call.Body)
	}
}

func fetchAll(t *testing.T, c sdk.Connector, req sdk.FetchRequest) []*sdk.Page {
	t.Helper()
	var pages []*sdk.Page
	err := c.Fetch(context.Background(), req, func(p *sdk.Page) error {
		pages = append(pages, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pages
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}
