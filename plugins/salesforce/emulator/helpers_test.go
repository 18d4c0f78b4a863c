package emulator

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// testClock is a settable clock.
type testClock struct{ t time.Time }

func (c *testClock) now() time.Time { return c.t }

type org struct {
	t     *testing.T
	s     *Server
	srv   *httptest.Server
	clock *testClock
	token string
}

func newOrg(t *testing.T, mod ...func(*Options)) *org {
	t.Helper()
	clk := &testClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	opts := Options{Path: filepath.Join(t.TempDir(), "org.db"), InstanceURL: "https://emulator.example", Now: clk.now, Logger: hclog.NewNullLogger()}
	for _, m := range mod {
		m(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.Close(); s.Close() })
	o := &org{t: t, s: s, srv: srv, clock: clk}
	status, body := o.post("/services/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {DefaultClientID},
		"client_secret": {DefaultClientSecret}, "username": {DefaultUsername}, "password": {DefaultPassword}})
	if status != 200 {
		t.Fatalf("token: %d %s", status, body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.Unmarshal([]byte(body), &tok)
	o.token = tok.AccessToken
	return o
}

func (o *org) post(path string, form url.Values) (int, string) {
	resp, err := http.PostForm(o.srv.URL+path, form)
	if err != nil {
		o.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// do sends a data API request (path after /services/data/v61.0/).
func (o *org) do(method, path, body string, hdr ...string) (int, http.Header, string) {
	o.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, o.srv.URL+"/services/data/v61.0/"+path, r)
	req.Header.Set("Authorization", "Bearer "+o.token)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		o.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func (o *org) query(q string, hdr ...string) (int, string) {
	st, _, b := o.do("GET", "query?q="+url.QueryEscape(q), "", hdr...)
	return st, b
}

func (o *org) create(typ, body string) string {
	o.t.Helper()
	st, _, b := o.do("POST", "sobjects/"+typ, body)
	if st != 201 {
		o.t.Fatalf("create %s: %d %s", typ, st, b)
	}
	var r struct{ ID string }
	json.Unmarshal([]byte(b), &r)
	return r.ID
}

var _ = context.Background

func stringsIndex(s, sub string) int { return strings.Index(s, sub) }
