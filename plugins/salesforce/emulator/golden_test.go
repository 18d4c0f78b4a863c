package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var (
	randomIDRe = regexp.MustCompile(`\b(001|003|006|068|069|06A|00P|01g)([0-9A-Za-z]{12})([0-9A-Za-z]{3})?\b`)
	tokenRe    = regexp.MustCompile(`"(access_token|signature|issued_at)":"[^"]*"`)
)

// normalize replaces random ids (seeded ids, "…0S…", stay) and token
// values with stable placeholders, and indents the JSON.
func normalize(body string) string {
	seen := map[string]string{}
	body = randomIDRe.ReplaceAllStringFunc(body, func(id string) string {
		if len(id) >= 5 && id[3:5] == "0S" {
			return id
		}
		if p, ok := seen[id]; ok {
			return p
		}
		p := fmt.Sprintf("%s-ID%d", id[:3], len(seen)+1)
		seen[id] = p
		return p
	})
	body = tokenRe.ReplaceAllString(body, `"$1":"<$1>"`)
	var b bytes.Buffer
	if json.Indent(&b, []byte(body), "", "  ") == nil {
		return b.String() + "\n"
	}
	return body + "\n"
}

func golden(t *testing.T, name string, status int, body string) {
	t.Helper()
	got := fmt.Sprintf("HTTP %d\n%s", status, normalize(body))
	path := filepath.Join("testdata", "golden", name+".txt")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestGoldenToken(t *testing.T) {
	o := newOrg(t)
	st, b := o.post("/services/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {DefaultClientID},
		"client_secret": {DefaultClientSecret}, "username": {DefaultUsername}, "password": {DefaultPassword}})
	golden(t, "token_ok", st, b)
	st, b = o.post("/services/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {DefaultClientID},
		"client_secret": {DefaultClientSecret}, "username": {DefaultUsername}, "password": {"wrong"}})
	golden(t, "token_bad_password", st, b)
	st, b = o.post("/services/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {DefaultClientID}, "client_secret": {"nope"}})
	golden(t, "token_bad_client", st, b)
}

func TestGoldenQueryPages(t *testing.T) {
	o := newOrg(t)
	if err := o.s.Seed(context.Background(), SeedOptions{Accounts: 450, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	st, b := o.query("SELECT Id, Name, Industry FROM Account ORDER BY Id LIMIT 203", "Sforce-Query-Options", "batchSize=200")
	var page struct {
		TotalSize      int
		Done           bool
		NextRecordsURL string
		Records        []map[string]any
	}
	json.Unmarshal([]byte(b), &page)
	if page.TotalSize != 203 || page.Done || len(page.Records) != 200 || page.NextRecordsURL == "" {
		t.Fatalf("page 1: %d %v %d %q", page.TotalSize, page.Done, len(page.Records), page.NextRecordsURL)
	}
	next := strings.TrimPrefix(page.NextRecordsURL, "/services/data/v61.0/")
	st2, _, b2 := o.do("GET", next, "")
	golden(t, "query_last_page", st2, b2)
	// Trim page 1 to its head for the golden file.
	var doc map[string]any
	json.Unmarshal([]byte(b), &doc)
	doc["records"] = doc["records"].([]any)[:2]
	doc["nextRecordsUrl"] = "/services/data/v61.0/query/<locator>-200"
	golden(t, "query_first_page", st, string(marshal(doc)))
	// A retried locator answers the same page.
	st3, _, b3 := o.do("GET", next, "")
	if st3 != 200 || b3 != b2 {
		t.Fatalf("retried locator: %d", st3)
	}
	// Offset paging (ORDER BY a nullable field).
	st, b = o.query("SELECT Id FROM Account ORDER BY Industry DESC, Name", "Sforce-Query-Options", "batchSize=200")
	all := 0
	ids := map[string]bool{}
	for {
		var p struct {
			TotalSize      int
			NextRecordsURL string
			Records        []struct{ ID string }
		}
		if st != 200 {
			t.Fatalf("%d %s", st, b)
		}
		json.Unmarshal([]byte(b), &p)
		for _, r := range p.Records {
			ids[r.ID] = true
		}
		all += len(p.Records)
		if p.NextRecordsURL == "" {
			break
		}
		st, _, b = o.do("GET", strings.TrimPrefix(p.NextRecordsURL, "/services/data/v61.0/"), "")
	}
	if all != 450 || len(ids) != 450 {
		t.Fatalf("offset paging read %d rows, %d distinct", all, len(ids))
	}
}

func TestGoldenQueryAllDeleted(t *testing.T) {
	o := newOrg(t)
	a := o.create("Account", `{"Name":"Keep"}`)
	b := o.create("Account", `{"Name":"Gone"}`)
	_ = a
	o.clock.t = o.clock.t.Add(time.Minute)
	if st, _, body := o.do("DELETE", "sobjects/Account/"+b, ""); st != 204 {
		t.Fatalf("delete: %d %s", st, body)
	}
	st, body := o.query("SELECT Name FROM Account ORDER BY Name")
	golden(t, "query_without_deleted", st, body)
	st2, _, body2 := o.do("GET", "queryAll?q="+url.QueryEscape("SELECT Name, IsDeleted, SystemModstamp FROM Account ORDER BY Name"), "")
	golden(t, "queryall_with_deleted", st2, body2)
	o.clock.t = o.clock.t.Add(2 * time.Minute)
	st3, _, body3 := o.do("GET", "sobjects/Account/deleted/?start=2026-11-26T09:00:00Z&end=2026-11-26T11:00:00Z", "")
	golden(t, "deleted_window", st3, body3)
	if err := o.s.PurgeDeleted(o.clock.t); err != nil {
		t.Fatal(err)
	}
	st4, _, body4 := o.do("GET", "sobjects/Account/deleted/?start=2026-11-26T09:00:00Z&end=2026-11-26T11:00:00Z", "")
	golden(t, "deleted_after_purge", st4, body4)
}

func TestGoldenCollections(t *testing.T) {
	o := newOrg(t)
	st, _, b := o.do("POST", "composite/sobjects", `{"allOrNone":false,"records":[
		{"attributes":{"type":"Account"},"Name":"One","FieldsyncId__c":"f-1"},
		{"attributes":{"type":"Account"},"NumberOfEmployees":3},
		{"attributes":{"type":"Account"},"Name":"Dup","FieldsyncId__c":"f-1"},
		{"attributes":{"type":"Contact"},"LastName":"Doe","Account":{"FieldsyncId__c":"f-1"}}]}`)
	golden(t, "collections_create", st, b)
	st, _, b = o.do("PATCH", "composite/sobjects/Account/FieldsyncId__c", `{"allOrNone":false,"records":[
		{"attributes":{"type":"Account"},"Name":"One renamed","FieldsyncId__c":"f-1"},
		{"attributes":{"type":"Account"},"Name":"New","FieldsyncId__c":"f-2"},
		{"attributes":{"type":"Account"},"Name":"`+strings.Repeat("x", 256)+`","FieldsyncId__c":"f-3"}]}`)
	golden(t, "collections_upsert", st, b)
	st, _, b = o.do("POST", "composite/sobjects", `{"allOrNone":true,"records":[
		{"attributes":{"type":"Account"},"Name":"A"},
		{"attributes":{"type":"Account"},"Name":"B","ParentId":"001000000000000AAA"}]}`)
	golden(t, "collections_all_or_none", st, b)
	n, _ := o.s.QueryInt(context.Background(), `SELECT count(*) FROM "Account" WHERE "Name" IN ('A', 'B')`)
	if n != 0 {
		t.Fatalf("allOrNone left %d rows", n)
	}
}

func TestGoldenComposite(t *testing.T) {
	o := newOrg(t)
	st, _, b := o.do("POST", "composite", `{"allOrNone":false,"compositeRequest":[
		{"method":"POST","url":"/services/data/v61.0/sobjects/Account","referenceId":"acc","body":{"Name":"Parent"}},
		{"method":"POST","url":"/services/data/v61.0/sobjects/Contact","referenceId":"con","body":{"LastName":"Kid","AccountId":"@{acc.id}"}},
		{"method":"GET","url":"/services/data/v61.0/query?q=SELECT+Id,Account.Name+FROM+Contact","referenceId":"q"},
		{"method":"PATCH","url":"/services/data/v61.0/sobjects/Contact/@{q.records[0].Id}","referenceId":"upd","body":{"Title":"Boss"}},
		{"method":"GET","url":"/services/data/v61.0/sobjects/Contact/@{con.id}?fields=Title,LastName","referenceId":"get"}]}`)
	golden(t, "composite", st, b)
	if o.s.APICalls() != 1 {
		t.Fatalf("a composite counts as one call, got %d", o.s.APICalls())
	}
	// Rows written by one request share a stamp.
	n, _ := o.s.QueryInt(context.Background(), `SELECT count(DISTINCT "SystemModstamp") FROM (SELECT "SystemModstamp" FROM "Account" UNION ALL SELECT "SystemModstamp" FROM "Contact")`)
	if n != 1 {
		t.Fatalf("composite rows carry %d stamps", n)
	}
	st, _, b = o.do("POST", "composite", `{"allOrNone":true,"compositeRequest":[
		{"method":"POST","url":"/services/data/v61.0/sobjects/Account","referenceId":"a1","body":{"Name":"Rolled back"}},
		{"method":"POST","url":"/services/data/v61.0/sobjects/Contact","referenceId":"c1","body":{"FirstName":"NoLastName"}}]}`)
	golden(t, "composite_all_or_none", st, b)
}

func TestGoldenLimitAnd412(t *testing.T) {
	o := newOrg(t)
	id := o.create("Account", `{"Name":"Acme"}`)
	o.clock.t = o.clock.t.Add(time.Hour)
	st, _, b := o.do("PATCH", "sobjects/Account/"+id, `{"Name":"x"}`, "If-Unmodified-Since", "Thu, 26 Nov 2026 09:00:00 GMT")
	golden(t, "precondition_failed", st, b)
	if st, _, _ := o.do("PATCH", "sobjects/Account/"+id, `{"Name":"y"}`, "If-Unmodified-Since", "Thu, 26 Nov 2026 10:00:00 GMT"); st != 204 {
		t.Fatalf("conditional update: %d", st)
	}
	o.s.SetDailyLimit(int(o.s.APICalls()))
	st, h, b := o.do("GET", "limits", "")
	golden(t, "request_limit_exceeded", st, b)
	if h.Get("Sforce-Limit-Info") == "" {
		t.Fatal("no Sforce-Limit-Info")
	}
}
