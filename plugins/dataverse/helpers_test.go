package dataverse

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/plugins/dataverse/emulator"
	"github.com/fieldsync/fieldsync/sdk"
)

// testOrg is an emulated organization behind httptest.
type testOrg struct {
	srv  *emulator.Server
	http *httptest.Server
}

func newOrg(t testing.TB, mod func(*emulator.Options)) *testOrg {
	t.Helper()
	o := emulator.Options{Path: filepath.Join(t.TempDir(), "org.db"), Tenant: "tenant1"}
	if mod != nil {
		mod(&o)
	}
	srv, err := emulator.New(o)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return &testOrg{srv: srv, http: hs}
}

// settings are a connector's settings for the organization.
func (o *testOrg) settings() map[string]string {
	return map[string]string{
		"url":           o.http.URL,
		"tenant":        "tenant1",
		"client_id":     emulator.DefaultClientID,
		"client_secret": emulator.DefaultClientSecret,
		"token_url":     o.http.URL + "/tenant1/oauth2/v2.0/token",
		"retries":       "3",
		"retry_backoff": "20ms",
	}
}

// connect opens a connector in-process; extra settings override.
func (o *testOrg) connect(t testing.TB, extra map[string]string) *Connector {
	t.Helper()
	s := o.settings()
	for k, v := range extra {
		s[k] = v
	}
	c, err := Factory(context.Background(), s, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c.(*Connector)
}

// token fetches an access token the way a script would.
func (o *testOrg) token(t testing.TB) string {
	t.Helper()
	res, err := http.PostForm(o.http.URL+"/tenant1/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {emulator.DefaultClientID},
		"client_secret": {emulator.DefaultClientSecret}, "scope": {o.http.URL + "/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %v (status %d)", err, res.StatusCode)
	}
	return tok.AccessToken
}

// api sends one raw Web API request behind the connector's back.
func (o *testOrg) api(t testing.TB, method, path string, body any, header map[string]string) (int, []byte) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, o.http.URL+emulator.APIPath+path, rd)
	req.Header.Set("Authorization", "Bearer "+o.token(t))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(res.Body)
	return res.StatusCode, out.Bytes()
}

// AddDocument attaches a note with a document to a row, through the Web
// API (contracttest.DocumentBackend).
func (o *testOrg) AddDocument(t *testing.T, entity, recordID, name string, content []byte) {
	t.Helper()
	nav := map[string]string{"account": "objectid_account", "contact": "objectid_contact"}[entity]
	set := map[string]string{"account": "accounts", "contact": "contacts"}[entity]
	status, body := o.api(t, http.MethodPost, "annotations", map[string]any{
		"subject": name, "filename": name, "mimetype": "application/octet-stream",
		"documentbody":      base64.StdEncoding.EncodeToString(content),
		nav + "@odata.bind": "/" + set + "(" + recordID + ")",
	}, nil)
	if status >= 300 {
		t.Fatalf("add document: %d %s", status, body)
	}
}

// fetchAll runs one fetch and returns its pages.
func fetchAll(t testing.TB, c sdk.Connector, req sdk.FetchRequest) ([]*sdk.Page, error) {
	t.Helper()
	var pages []*sdk.Page
	err := c.Fetch(context.Background(), req, func(p *sdk.Page) error {
		pages = append(pages, p)
		return nil
	})
	return pages, err
}

// mustFetch fetches and gathers upserts by id and deletes.
func mustFetch(t testing.TB, c sdk.Connector, req sdk.FetchRequest) (rows map[string]*sdk.Page, deletes map[string]bool, token []byte) {
	t.Helper()
	pages, err := fetchAll(t, c, req)
	if err != nil {
		t.Fatalf("fetch %s: %v", req.Entity, err)
	}
	rows, deletes = map[string]*sdk.Page{}, map[string]bool{}
	for _, p := range pages {
		for _, id := range p.IDs {
			rows[id] = p
		}
		for _, id := range p.Deletes {
			deletes[id] = true
		}
		if p.Last {
			token = p.Token
		}
	}
	return rows, deletes, token
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
