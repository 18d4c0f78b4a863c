package salesforce

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/sdk"
)

func testKeyPEM(t *testing.T) (string, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})), key
}

func TestAuthGrants(t *testing.T) {
	pemKey, key := testKeyPEM(t)
	tests := []struct {
		name  string
		extra []string
		check func(t *testing.T, form url.Values)
	}{
		{"password", nil, func(t *testing.T, form url.Values) {
			if form.Get("username") != "u@example.com" || form.Get("client_id") != "cid" {
				t.Errorf("password grant form %v", form)
			}
		}},
		{"client_credentials", []string{"grant", "client_credentials", "username", "", "password", ""}, nil},
		{"refresh_token", []string{"grant", "refresh_token", "refresh_token", "s3cret-refresh", "username", "", "password", ""}, nil},
		{"jwt", []string{"grant", "jwt", "private_key", pemKey, "client_secret", "", "password", ""}, func(t *testing.T, form url.Values) {
			tok, err := jwt.Parse(form.Get("assertion"), func(*jwt.Token) (any, error) { return &key.PublicKey, nil }, jwt.WithValidMethods([]string{"RS256"}))
			if err != nil {
				t.Fatalf("assertion does not verify: %v", err)
			}
			claims := tok.Claims.(jwt.MapClaims)
			if claims["iss"] != "cid" || claims["sub"] != "u@example.com" {
				t.Errorf("assertion claims %v", claims)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeOrg(t)
			c := f.connect(tc.extra...)
			if _, err := c.Schema(context.Background()); err != nil {
				t.Fatal(err)
			}
			log := f.log()
			if log[0].Path != "/services/oauth2/token" {
				t.Fatalf("first request %s, want the token endpoint", log[0].Path)
			}
			form, _ := url.ParseQuery(log[0].Body)
			if tc.check != nil {
				tc.check(t, form)
			}
			if got := log[1].Header.Get("Authorization"); got != "Bearer tok-1" {
				t.Errorf("describeGlobal sent Authorization %q", got)
			}
			for _, r := range log {
				if strings.Contains(r.Path, "Soap") {
					t.Errorf("SOAP login used: %s", r.Path)
				}
			}
			if c.auth.cur.userID != "005000000000001AAA" {
				t.Errorf("user id %q", c.auth.cur.userID)
			}
		})
	}
}

func TestAuthErrorsKeepSecrets(t *testing.T) {
	f := newFakeOrg(t)
	c := f.connect("password", "wrong-s3cret")
	_, err := c.Schema(context.Background())
	if err == nil || sdk.KindOf(err) != sdk.Permanent {
		t.Fatalf("bad password: %v (kind %s), want permanent", err, sdk.KindOf(err))
	}
	if !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("error %q does not name the endpoint's code", err)
	}
	for _, secret := range []string{"wrong-s3cret", "s3cret-client"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q holds a secret", err)
		}
	}
}

func TestSessionRenewedOnce(t *testing.T) {
	f := newFakeOrg(t)
	f.expireOnce = true
	c := f.connect()
	if _, err := c.Schema(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.tokens != 2 {
		t.Errorf("signed in %d times, want 2 (once more after INVALID_SESSION_ID)", f.tokens)
	}
}

func TestSettings(t *testing.T) {
	f := newFakeOrg(t)
	bad := [][]string{
		{"nonsense", "1"},
		{"grant", "saml"},
		{"batch_size", "100"},
		{"batch_size", "2001"},
		{"overlap", "-1m"},
		{"login_url", "ftp://x"},
		{"objects", "Account;Drop"},
		{"api_version", "v60"},
		{"password", ""},
		{"grant", "jwt", "private_key", "not a key"},
	}
	for _, b := range bad {
		_, err := Factory(context.Background(), f.settings(b...), hclog.NewNullLogger())
		if err == nil || sdk.KindOf(err) != sdk.Permanent {
			t.Errorf("settings %v: %v, want a permanent error", b, err)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("settings %v: error %q holds a secret", b, err)
		}
	}
}

func TestDescribeMapping(t *testing.T) {
	f := newFakeOrg(t)
	s, err := f.connect().Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e := s.Entity("Account")
	if e == nil || e.PrimaryKey != "Id" {
		t.Fatalf("schema %+v", s)
	}
	want := map[string]sdk.FieldType{
		"Name": sdk.TypeString, "NumberOfEmployees": sdk.TypeInt, "AnnualRevenue": sdk.TypeDecimal,
		"Rating__c": sdk.TypeFloat, "Active__c": sdk.TypeBool, "SLAExpirationDate__c": sdk.TypeDateTime,
		"ParentId": sdk.TypeLookup, "OwnerId": sdk.TypeLookup, "SystemModstamp": sdk.TypeDateTime, "IsDeleted": sdk.TypeBool,
	}
	for name, typ := range want {
		fd := e.Field(name)
		if fd == nil || fd.Type != typ {
			t.Errorf("field %s: %+v, want type %s", name, fd, typ)
		}
	}
	if e.Field("BillingAddress") != nil || e.Field("Id") != nil {
		t.Error("compound address or the key listed as a field")
	}
	if fd := e.Field("ParentId"); fd.Target != "Account" {
		t.Errorf("ParentId target %q", fd.Target)
	}
	if fd := e.Field("OwnerId"); fd.Target != "" {
		t.Errorf("OwnerId targets %q, an object outside the schema", fd.Target)
	}
	for _, n := range []string{"FieldsyncId__c", "FieldsyncChangeId__c", "SystemModstamp"} {
		if !e.Field(n).ReadOnly {
			t.Errorf("%s is writable; the connector owns it", n)
		}
	}
	if !e.Field("Name").Required || e.Field("Active__c").Required {
		t.Error("Required misread")
	}
	c := e.Capabilities
	if !c.Incremental || !c.TracksDeletes || !c.Push || !c.Filter || !c.Documents || c.ClientIDs {
		t.Errorf("capabilities %+v", c)
	}
	if err := s.Validate(); err != nil {
		t.Error(err)
	}
}

// collect fetches and returns the pages.
func collect(t *testing.T, c *Connector, req sdk.FetchRequest) ([]*sdk.Page, error) {
	t.Helper()
	var pages []*sdk.Page
	err := c.Fetch(context.Background(), req, func(p *sdk.Page) error { pages = append(pages, p); return nil })
	return pages, err
}

func TestFullFetchPagingAndResume(t *testing.T) {
	f := newFakeOrg(t)
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC).UnixMilli()
	var queries []string
	f.query = func(q string, all bool) (int, string) {
		queries = append(queries, q)
		if all {
			t.Errorf("full read used queryAll")
		}
		if strings.Contains(q, "Id > '"+acct(4)+"'") {
			return 200, queryJSON(true, "", accountJSON(acct(5), base, "e", false))
		}
		return 200, queryJSON(false, "/services/data/v60.0/query/01gX-3", accountJSON(acct(1), base, "a", false), accountJSON(acct(2), base, "b", false), accountJSON(acct(3), base, "c", false))
	}
	f.next["/services/data/v60.0/query/01gX-3"] = queryJSON(true, "", accountJSON(acct(4), base, "d", false), accountJSON(acct(5), base, "e", false))
	c := f.connect("batch_size", "200")
	req := sdk.FetchRequest{Entity: "Account", Fields: []string{"Name", "AnnualRevenue", "SLAExpirationDate__c"}, PageSize: 2}
	pages, err := collect(t, c, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 3 || !pages[2].Last || len(pages[2].Token) == 0 {
		t.Fatalf("%d pages, want 3 ending with a token", len(pages))
	}
	if !strings.Contains(queries[0], "ORDER BY Id") || !strings.HasPrefix(queries[0], "SELECT Id, SystemModstamp, Name, AnnualRevenue") {
		t.Errorf("query %q", queries[0])
	}
	for _, r := range f.log() {
		if r.Path == "/services/data/v60.0/query" && r.Header.Get("Sforce-Query-Options") != "batchSize=200" {
			t.Errorf("query without the batch size header: %v", r.Header)
		}
	}
	kinds := []sdk.Kind{sdk.KindString, sdk.KindString, sdk.KindInt}
	row := pages[0].Row(kinds, 0)
	if row.Values["AnnualRevenue"].Str() != "1234567890123.45" {
		t.Errorf("currency lost digits: %v", row.Values["AnnualRevenue"])
	}
	if got := row.Values["SLAExpirationDate__c"].Time(); !got.Equal(time.Date(2025, 3, 4, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("date read as %v", got)
	}
	if row.Version != version(base) {
		t.Errorf("version %q, want SystemModstamp ms %q", row.Version, version(base))
	}
	// Resume after page 2 (rows 3): keyset, not the expired locator.
	req.Cursor = pages[1].Cursor
	queries = nil
	resumed, err := collect(t, c, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(queries) != 1 || !strings.Contains(queries[0], "Id > '"+acct(4)+"'") {
		t.Errorf("resume queried %q", queries)
	}
	if len(resumed) != 1 || fmt.Sprint(resumed[0].IDs) != fmt.Sprint([]string{acct(5)}) {
		t.Errorf("resumed fetch delivered %v", resumed)
	}
	var tok changeToken
	if !decode(kindToken, pages[2].Token, &tok) || tok.Entity != "Account" || tok.HWM == 0 {
		t.Errorf("token %q", pages[2].Token)
	}
}

func TestIncrementalOverlapDedup(t *testing.T) {
	f := newFakeOrg(t)
	now := time.Now().UnixMilli()
	sent := seenSet{}
	sent[acct(1)] = seenEntry{id: acct(1), stamp: now - 1000}
	sent[acct(2)] = seenEntry{id: acct(2), stamp: now - 2000}
	c := f.connect()
	s, err := c.selection(context.Background(), sdk.FetchRequest{Entity: "Account", Fields: []string{"Name"}})
	if err != nil {
		t.Fatal(err)
	}
	token := encode(kindToken, changeToken{Entity: "Account", Sig: s.tokenSig, HWM: now, Seen: sent.list()})
	var q0 string
	f.query = func(q string, all bool) (int, string) {
		if strings.Contains(q, "SystemModstamp >=") {
			q0 = q
			if !all {
				t.Error("incremental read without queryAll")
			}
			return 200, queryJSON(true, "",
				accountJSON(acct(1), now-1000, "unchanged", false), // sent before: skipped
				accountJSON(acct(2), now-500, "changed", false),    // moved on: sent
				accountJSON(acct(3), now-400, "gone", true),        // deleted
			)
		}
		return 200, queryJSON(true, "") // recycle bin check
	}
	f.other = func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/deleted/") {
			fmt.Fprintf(w, `{"deletedRecords":[{"id":%q,"deletedDate":%q}],"earliestDateAvailable":%q,"latestDateCovered":%q}`, acct(9), stampText(now-100), stampText(now-86400000), stampText(now))
			return true
		}
		return false
	}
	pages, err := collect(t, c, sdk.FetchRequest{Entity: "Account", Fields: []string{"Name"}, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(q0, "SystemModstamp >= "+soqlTime(now-5*60*1000)) || !strings.Contains(q0, "ORDER BY SystemModstamp, Id") {
		t.Errorf("incremental query %q", q0)
	}
	var ids, dels []string
	for _, p := range pages {
		ids = append(ids, p.IDs...)
		dels = append(dels, p.Deletes...)
	}
	if fmt.Sprint(ids) != fmt.Sprint([]string{acct(2)}) {
		t.Errorf("upserts %v, want only the changed row", ids)
	}
	// acct(9) left the recycle bin (the check found nothing): a delete.
	if fmt.Sprint(dels) != fmt.Sprint([]string{acct(3), acct(9)}) {
		t.Errorf("deletes %v", dels)
	}
	// The new token remembers all four, so a fetch right after sends nothing.
	var tok changeToken
	decode(kindToken, pages[len(pages)-1].Token, &tok)
	if len(tok.Seen) != 4 {
		t.Errorf("new token remembers %v", tok.Seen)
	}
	again, err := collect(t, c, sdk.FetchRequest{Entity: "Account", Fields: []string{"Name"}, Token: pages[len(pages)-1].Token})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range again {
		if len(p.IDs)+len(p.Deletes) != 0 {
			t.Errorf("quiet fetch sent %v %v", p.IDs, p.Deletes)
		}
	}
}

func TestExpiredDeleteLog(t *testing.T) {
	f := newFakeOrg(t)
	now := time.Now().UnixMilli()
	c := f.connect()
	s, _ := c.selection(context.Background(), sdk.FetchRequest{Entity: "Account"})
	token := encode(kindToken, changeToken{Entity: "Account", Sig: s.tokenSig, HWM: now - 20*86400000})
	f.query = func(q string, all bool) (int, string) { return 200, queryJSON(true, "") }
	f.other = func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/deleted/") {
			fmt.Fprintf(w, `{"deletedRecords":[],"earliestDateAvailable":%q,"latestDateCovered":%q}`, stampText(now-3*86400000), stampText(now))
			return true
		}
		return false
	}
	_, err := collect(t, c, sdk.FetchRequest{Entity: "Account", Token: token})
	if sdk.KindOf(err) != sdk.TokenExpired {
		t.Fatalf("fetch past the delete log: %v (kind %s), want token-expired", err, sdk.KindOf(err))
	}
	// Windows of at most 15 days.
	for _, r := range f.log() {
		if strings.HasSuffix(r.Path, "/deleted/") {
			q, _ := url.ParseQuery(r.Query)
			st, _ := time.Parse(time.RFC3339, q.Get("start"))
			en, _ := time.Parse(time.RFC3339, q.Get("end"))
			if en.Sub(st) > deletedWindow || st.Second() != 0 {
				t.Errorf("deleted window %s .. %s", q.Get("start"), q.Get("end"))
			}
		}
	}
}

func TestFilteredIncrementalSendsLeaversAsDeletes(t *testing.T) {
	f := newFakeOrg(t)
	now := time.Now().UnixMilli()
	c := f.connect()
	filter := sdk.Cmp("Name", sdk.OpBeginsWith, sdk.String("a"))
	s, err := c.selection(context.Background(), sdk.FetchRequest{Entity: "Account", Filter: filter})
	if err != nil {
		t.Fatal(err)
	}
	token := encode(kindToken, changeToken{Entity: "Account", Sig: s.tokenSig, HWM: now})
	var reread string
	f.query = func(q string, all bool) (int, string) {
		switch {
		case strings.Contains(q, "SystemModstamp >="):
			if strings.Contains(q, "LIKE") {
				t.Errorf("change query carries the filter: %q", q)
			}
			return 200, queryJSON(true, "", accountJSON(acct(1), now, "apple", false), accountJSON(acct(2), now, "banana", false))
		case strings.Contains(q, "Id IN") && !all:
			reread = q
			return 200, queryJSON(true, "", accountJSON(acct(1), now, "apple", false))
		}
		return 200, queryJSON(true, "")
	}
	f.other = func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/deleted/") {
			fmt.Fprint(w, `{"deletedRecords":[]}`)
			return true
		}
		return false
	}
	pages, err := collect(t, c, sdk.FetchRequest{Entity: "Account", Filter: filter, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(reread, "Name LIKE 'a%'") {
		t.Errorf("re-read %q", reread)
	}
	p := pages[len(pages)-1]
	if fmt.Sprint(p.IDs) != fmt.Sprint([]string{acct(1)}) || fmt.Sprint(p.Deletes) != fmt.Sprint([]string{acct(2)}) {
		t.Errorf("upserts %v deletes %v; the row that left the filter must be a delete", p.IDs, p.Deletes)
	}
}

func TestIDsOnly(t *testing.T) {
	f := newFakeOrg(t)
	f.query = func(q string, all bool) (int, string) {
		if q != "SELECT Id, SystemModstamp FROM Account ORDER BY Id" {
			t.Errorf("ids-only query %q", q)
		}
		return 200, queryJSON(true, "", `{"Id":"`+acct(1)+`","SystemModstamp":"2025-01-01T00:00:00.000+0000"}`)
	}
	pages, err := collect(t, f.connect(), sdk.FetchRequest{Entity: "Account", IDsOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 1 || len(pages[0].Fields) != 0 || len(pages[0].IDs) != 1 {
		t.Errorf("pages %+v", pages[0])
	}
}

func TestLimitExceeded(t *testing.T) {
	f := newFakeOrg(t)
	calls := 0
	f.query = func(q string, all bool) (int, string) {
		calls++
		return 403, `[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`
	}
	_, err := collect(t, f.connect(), sdk.FetchRequest{Entity: "Account"})
	if sdk.KindOf(err) != sdk.Retryable || !strings.Contains(err.Error(), "daily API request limit") {
		t.Fatalf("limit exceeded: %v (kind %s)", err, sdk.KindOf(err))
	}
	if calls != 1 {
		t.Errorf("sent %d queries; a reached daily limit must not be retried", calls)
	}
}

func TestRetriesServerErrors(t *testing.T) {
	f := newFakeOrg(t)
	calls := 0
	f.query = func(q string, all bool) (int, string) {
		if calls++; calls < 3 {
			return 503, `[{"message":"busy","errorCode":"SERVER_UNAVAILABLE"}]`
		}
		return 200, queryJSON(true, "")
	}
	c := f.connect()
	if _, err := collect(t, c, sdk.FetchRequest{Entity: "Account"}); err != nil {
		t.Fatal(err)
	}
	u, _ := c.Usage(context.Background())
	if u.Retries != 2 {
		t.Errorf("usage %+v, want 2 retries", u)
	}
	if used, limit := c.force.apiUsage(); used != 18 || limit != 5000 {
		t.Errorf("Sforce-Limit-Info read as %d/%d", used, limit)
	}
}

func TestBadInput(t *testing.T) {
	f := newFakeOrg(t)
	c := f.connect()
	for name, req := range map[string]sdk.FetchRequest{
		"entity": {Entity: "Nope"},
		"field":  {Entity: "Account", Fields: []string{"Nope"}},
		"cursor": {Entity: "Account", Cursor: []byte("\x00junk")},
		"token":  {Entity: "Account", Token: []byte("\x00junk")},
		"filter": {Entity: "Account", Filter: sdk.Cmp("Id", sdk.OpEq, sdk.Int(1))},
	} {
		_, err := collect(t, c, req)
		if sdk.KindOf(err) != sdk.Permanent {
			t.Errorf("%s: %v (kind %s), want permanent", name, err, sdk.KindOf(err))
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Fetch(ctx, sdk.FetchRequest{Entity: "Account"}, func(*sdk.Page) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled fetch: %v", err)
	}
}
