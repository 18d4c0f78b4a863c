package emulator

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTokenBlobAndFaults(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	req := httptest.NewRequest("POST", TokenPath, strings.NewReader(url.Values{"grant_type": {"client_credentials"},
		"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	if w.Code != 200 {
		t.Fatal(w.Body.String())
	}
	tok := jsonField(t, w.Body.String(), "access_token")
	bearer := "Bearer " + tok
	mustOK(t, do(t, s, bearer, "GET", api("WhoAmI"), ""))
	if r := do(t, s, "Bearer nope", "GET", api("WhoAmI"), ""); r.status != 401 {
		t.Fatal(r.status)
	}

	doc := base64.StdEncoding.EncodeToString([]byte("hello, document"))
	mustOK(t, do(t, s, bearer, "POST", api("CreateMultiple"), `{"Entity":"account","Records":[{"Id":"a0000000-0000-4000-8000-000000000001","Attributes":{"name":"A"}}]}`))
	r := mustOK(t, do(t, s, bearer, "POST", api("CreateMultiple"), `{"Entity":"annotation","Records":[{"Id":"d0000000-0000-4000-8000-000000000001","Attributes":{"subject":"S","filename":"a.txt","mimetype":"text/plain","documentbody":"`+doc+`","objectid":{"Id":"a0000000-0000-4000-8000-000000000001","LogicalName":"account"}}}]}`))
	if strings.Contains(r.body, `"code"`) {
		t.Fatal(r.body)
	}
	r = mustOK(t, do(t, s, bearer, "POST", api("Execute"), `{"RequestName":"RetrieveDocument","Parameters":{"Id":"d0000000-0000-4000-8000-000000000001"}}`))
	if !strings.Contains(r.body, `"Size":15`) || !strings.Contains(r.body, `"Entity":"account"`) {
		t.Fatal(r.body)
	}
	req = httptest.NewRequest("GET", api("Blob")+"?id=d0000000-0000-4000-8000-000000000001", nil)
	req.Header.Set("Authorization", bearer)
	req.Header.Set("Range", "bytes=7-")
	w = httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	if w.Code != http.StatusPartialContent || w.Body.String() != "document" {
		t.Fatalf("%d %q", w.Code, w.Body.String())
	}
	// Fetch never returns documentbody.
	r = mustOK(t, do(t, s, bearer, "POST", api("Fetch"), `{"FetchXml":"<fetch><entity name=\"annotation\"><all-attributes/></entity></fetch>"}`))
	if strings.Contains(r.body, "documentbody") || !strings.Contains(r.body, `"filesize":15`) {
		t.Fatal(r.body)
	}
	// Select.
	r = mustOK(t, do(t, s, bearer, "GET", api("Select")+"?entity=account&select=name&rowversion-gt=0&top=10", ""))
	if !strings.Contains(r.body, `"name":"A"`) {
		t.Fatal(r.body)
	}
	// Deleting the account takes its note along.
	mustOK(t, do(t, s, bearer, "POST", api("DeleteMultiple"), `{"Entity":"account","Records":[{"Id":"a0000000-0000-4000-8000-000000000001"}]}`))
	r = mustOK(t, do(t, s, bearer, "POST", api("RetrieveChanges"), `{"Entity":"annotation","SinceRowVersion":0}`))
	if !strings.Contains(r.body, `"Reason":"Deleted"`) {
		t.Fatal(r.body)
	}

	s.Faults().FailNext(1, 503)
	if r := do(t, s, bearer, "GET", api("WhoAmI"), ""); r.status != 503 {
		t.Fatal(r.status)
	}
	s.Faults().Throttle(1, 2*time.Second)
	if r := do(t, s, bearer, "GET", api("WhoAmI"), ""); r.status != 429 || r.header.Get("Retry-After") != "2" {
		t.Fatal(r.status, r.header)
	}
	if s.RequestCount() != int64(len(s.Requests())) {
		t.Fatal("request log out of step")
	}
}

func TestExecMovesVersionsAndSeed(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	ctx := t.Context()
	start := time.Now()
	if err := s.Seed(ctx, SeedOptions{Accounts: 20000, ContactsPerAccount: 1, OpportunitiesPerAccount: 1, NotesPerAccount: 1, RowsPerExtraEntity: 100, Users: 3, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded in %v", time.Since(start))
	n, err := s.QueryInt(ctx, `SELECT count(*) FROM account`)
	if err != nil || n != 20000 {
		t.Fatal(n, err)
	}
	before, _ := s.QueryInt(ctx, `SELECT version FROM _clock`)
	id, _ := s.QueryText(ctx, `SELECT accountid FROM account LIMIT 1`)
	if err := s.Exec(ctx, `UPDATE account SET name = 'changed' WHERE accountid = ?`, id); err != nil {
		t.Fatal(err)
	}
	v, _ := s.QueryInt(ctx, `SELECT versionnumber FROM account WHERE accountid = ?`, id)
	if v != before+1 {
		t.Fatalf("version %d after %d", v, before)
	}
	if err := s.Exec(ctx, `DELETE FROM contact WHERE contactid = (SELECT contactid FROM contact LIMIT 1)`); err != nil {
		t.Fatal(err)
	}
	if k, _ := s.QueryInt(ctx, `SELECT count(*) FROM _removed WHERE reason = 'Deleted' AND entity = 'contact'`); k != 1 {
		t.Fatal(k)
	}
	// Keyset paging walks every account once.
	seen, cookie, page := 0, "", 1
	for {
		x := `<fetch count="5000" page="` + itoa(page) + `"`
		if cookie != "" {
			x += ` paging-cookie="` + strings.NewReplacer(`<`, "&lt;", `>`, "&gt;", `"`, "&quot;").Replace(cookie) + `"`
		}
		x += `><entity name="account"><attribute name="name"/><order attribute="accountid"/></entity></fetch>`
		ids, status := fetchIDs(t, s, adminAuth, x)
		if status != 200 {
			t.Fatal(status)
		}
		seen += len(ids)
		r := do(t, s, adminAuth, "POST", api("Fetch"), jsonFetch(x))
		cookie = jsonField(t, r.body, "PagingCookie")
		if cookie == "" {
			break
		}
		page++
	}
	if seen != 20000 {
		t.Fatal(seen)
	}
}

// TestSeedMillion measures seeding 1,000,000 accounts; set
// FIELDSYNC_SEED_MILLION=1 to run it.
func TestSeedMillion(t *testing.T) {
	if os.Getenv("FIELDSYNC_SEED_MILLION") == "" {
		t.Skip("set FIELDSYNC_SEED_MILLION=1")
	}
	s, _ := newTestServer(t, Options{Path: filepath.Join(t.TempDir(), "org.db")})
	start := time.Now()
	if err := s.Seed(t.Context(), SeedOptions{Accounts: 1000000, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	t.Logf("1,000,000 accounts in %v", time.Since(start))
}
