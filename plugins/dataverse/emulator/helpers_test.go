package emulator

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// testClock is a settable clock for Options.Now.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	t     testing.TB
	srv   *Server
	http  *httptest.Server
	url   string // https://…/api/data/v9.2/
	token string
	clock *testClock
}

// newEnv starts an emulator on a fresh file behind httptest.
func newEnv(t testing.TB, mod func(*Options)) *env {
	t.Helper()
	clock := &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	o := Options{Path: filepath.Join(t.TempDir(), "org.db"), Now: clock.Now}
	if mod != nil {
		mod(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		hs.Close()
		s.Close()
	})
	e := &env{t: t, srv: s, http: hs, url: hs.URL + APIPath, clock: clock}
	e.token = e.fetchToken(DefaultClientID, DefaultClientSecret)
	return e
}

func (e *env) fetchToken(id, secret string) string {
	e.t.Helper()
	res, err := http.PostForm(e.http.URL+"/tenant1/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret},
		"scope": {"https://org.crm.dynamics.com/.default"}})
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(res.Body).Decode(&tok)
	return tok.AccessToken
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("not JSON (%d): %s", r.status, r.body)
	}
	return m
}

// do sends a request; path is relative to the API base unless absolute.
func (e *env) do(method, path string, body string, hdr ...string) resp {
	e.t.Helper()
	u := path
	if !strings.HasPrefix(path, "http") {
		u = e.url + path
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, u, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Content-Type" || hdr[i] == "Authorization" {
			req.Header.Set(hdr[i], hdr[i+1])
		} else {
			req.Header.Add(hdr[i], hdr[i+1])
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func (e *env) must(r resp, status int) resp {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	return r
}

// create posts a row and returns its id.
func (e *env) create(set, body string) string {
	e.t.Helper()
	r := e.must(e.do("POST", set, body), http.StatusNoContent)
	id := r.header.Get("OData-EntityId")
	i := strings.LastIndexByte(id, '(')
	return strings.TrimSuffix(id[i+1:], ")")
}

func values(t testing.TB, m map[string]any) []map[string]any {
	t.Helper()
	raw, ok := m["value"].([]any)
	if !ok {
		t.Fatalf("no value array in %v", m)
	}
	var out []map[string]any
	for _, v := range raw {
		out = append(out, v.(map[string]any))
	}
	return out
}

func nextLinkOf(body []byte) string {
	var m struct {
		Next string `json:"@odata.nextLink"`
	}
	json.Unmarshal(body, &m)
	return m.Next
}
