package rescocloud

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/plugins/rescocloud/wire"
	"github.com/fieldsync/fieldsync/sdk"
)

const rowA = `{"Id":"` + guidA + `","RowVersion":3,"Attributes":{"name":"Alpha","revenue":12345678901234567890.123456789,
 "parentaccountid":{"Id":"` + guidB + `","LogicalName":"account"},"createdon":"2024-05-06T07:08:09.5Z","employees":42,
 "ratio":0.25,"active":true,"category":2,"logo":"AQID"}}`
const rowB = `{"Id":"` + guidB + `","RowVersion":4,"Attributes":{"name":"Beta"}}`
const rowC = `{"Id":"` + guidC + `","RowVersion":9,"Attributes":{"name":"Gamma","revenue":1E+2}}`

func TestSchemaMapping(t *testing.T) {
	f := newFake(t)
	c := f.connect(t, nil)
	s, err := c.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	a := s.Entity("account")
	if a == nil || a.PrimaryKey != "accountid" {
		t.Fatalf("account: %+v", a)
	}
	want := map[string]sdk.FieldType{"name": sdk.TypeString, "revenue": sdk.TypeDecimal, "parentaccountid": sdk.TypeLookup,
		"createdon": sdk.TypeDateTime, "employees": sdk.TypeInt, "ratio": sdk.TypeFloat, "active": sdk.TypeBool,
		"category": sdk.TypeChoice, "logo": sdk.TypeBinary}
	if len(a.Fields) != len(want) {
		t.Fatalf("fields %v, want %d (no key, no versionnumber, no unknown type)", a.FieldNames(), len(want))
	}
	for n, ty := range want {
		if fd := a.Field(n); fd == nil || fd.Type != ty {
			t.Errorf("%s: %+v, want %s", n, fd, ty)
		}
	}
	if a.Field("parentaccountid").Target != "account" || len(a.Relations) != 1 {
		t.Errorf("lookup target/relations: %+v %+v", a.Field("parentaccountid"), a.Relations)
	}
	if n := s.Entity("annotation").Field("objectid"); n.Target != "" {
		t.Errorf("polymorphic lookup got target %q", n.Target)
	}
	caps := a.Capabilities
	if !caps.Incremental || !caps.TracksDeletes || !caps.Push || !caps.ClientIDs || !caps.Filter || !caps.Documents {
		t.Errorf("capabilities %+v", caps)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	// Metadata and WhoAmI are read once.
	if _, err := c.Schema(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, m := len(f.callsTo("Metadata")), len(f.callsTo("WhoAmI")); n != 1 || m != 1 {
		t.Errorf("Metadata read %d times, WhoAmI %d", n, m)
	}
	if got := f.callsTo("Metadata")[0].Auth; got != "Basic dTpw" {
		t.Errorf("Authorization %q", got)
	}
}

func TestFullFetchPagesAndValues(t *testing.T) {
	f := newFake(t)
	f.handle("GetMaxRowVersion", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"RowVersions":{"account":10}}`)
	})
	f.handle("Fetch", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), `page=\"2\"`) {
			writeJSON(w, 200, `{"Entities":[`+rowC+`],"MoreRecords":false,"PagingCookie":""}`)
			return
		}
		writeJSON(w, 200, `{"Entities":[`+rowA+`,`+rowB+`],"MoreRecords":true,"PagingCookie":"<cookie page=\"1\"/>"}`)
	})
	c := f.connect(t, nil)
	pages := fetchAll(t, c, sdk.FetchRequest{Entity: "account", PageSize: 2})
	if len(pages) != 2 || pages[0].Last || !pages[1].Last || pages[1].Token == nil {
		t.Fatalf("pages: %d", len(pages))
	}
	s, _ := c.Schema(context.Background())
	e := s.Entity("account")
	kinds := make([]sdk.Kind, len(pages[0].Fields))
	for i, n := range pages[0].Fields {
		kinds[i] = e.Field(n).Type.Kind()
	}
	for _, p := range pages {
		if err := p.Validate(kinds); err != nil {
			t.Fatal(err)
		}
	}
	r := pages[0].Row(kinds, 0)
	checks := map[string]sdk.Value{
		"name": sdk.String("Alpha"), "revenue": sdk.String("12345678901234567890.123456789"),
		"parentaccountid": sdk.String(guidB), "employees": sdk.Int(42), "ratio": sdk.Float(0.25),
		"active": sdk.Bool(true), "category": sdk.Int(2), "logo": sdk.Bytes([]byte{1, 2, 3}),
	}
	for n, v := range checks {
		if !r.Values[n].Equal(v) {
			t.Errorf("%s = %v, want %v", n, r.Values[n], v)
		}
	}
	if got := r.Values["createdon"].Time().Format("2006-01-02T15:04:05.000Z"); got != "2024-05-06T07:08:09.500Z" {
		t.Errorf("createdon %s", got)
	}
	if r.Version != "3" || r.ID != guidA {
		t.Errorf("id/version %s %s", r.ID, r.Version)
	}
	if v := pages[0].Row(kinds, 1).Values["revenue"]; !v.IsNull() {
		t.Errorf("absent attribute should be null, got %v", v)
	}
	if v := pages[1].Row(kinds, 0).Values["revenue"]; v.Str() != "100" {
		t.Errorf("1E+2 read as %v", v)
	}
	fetches := f.callsTo("Fetch")
	var q wire.FetchRequest
	jsonBody(t, fetches[1], &q)
	for _, want := range []string{`count="2"`, `page="2"`, `paging-cookie="&lt;cookie page=&#34;1&#34;/&gt;"`, `<order attribute="accountid"`} {
		if !strings.Contains(q.FetchXml, want) {
			t.Errorf("second FetchXML lacks %s: %s", want, q.FetchXml)
		}
	}
	if strings.Contains(q.FetchXml, "versionnumber") {
		t.Errorf("a full read has no version window: %s", q.FetchXml)
	}
	var tok changeToken
	if !decodeOpaque(tokenPrefix, pages[1].Token, &tok) || tok.RV != 10 {
		t.Errorf("token %s", pages[1].Token)
	}
	// Resume from the first page's cursor: only page 2 is read.
	f.reset()
	var resumed []*sdk.Page
	err := c.Fetch(context.Background(), sdk.FetchRequest{Entity: "account", PageSize: 2, Cursor: pages[0].Cursor}, func(p *sdk.Page) error {
		resumed = append(resumed, p)
		return nil
	})
	if err != nil || len(resumed) != 1 || resumed[0].IDs[0] != guidC || len(f.callsTo("GetMaxRowVersion")) != 0 {
		t.Fatalf("resume: %v, %d pages", err, len(resumed))
	}
	// A cursor of another request is refused.
	err = c.Fetch(context.Background(), sdk.FetchRequest{Entity: "account", Fields: []string{"name"}, PageSize: 2, Cursor: pages[0].Cursor}, func(*sdk.Page) error { return nil })
	if sdk.KindOf(err) != sdk.Permanent {
		t.Errorf("foreign cursor: %v", err)
	}
}

func TestIncrementalWindowAndRemovals(t *testing.T) {
	f := newFake(t)
	f.handle("GetMaxRowVersion", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"RowVersions":{"account":10}}`)
	})
	f.handle("RetrieveChanges", func(w http.ResponseWriter, r *http.Request) {
		var req wire.RetrieveChangesRequest
		json.NewDecoder(r.Body).Decode(&req)
		if req.PagingCookie == "" {
			writeJSON(w, 200, `{"Removed":[{"Id":"`+guidB+`","RowVersion":6,"Reason":"Deleted"}],"MaxRowVersion":10,"MoreRecords":true,"PagingCookie":"r1"}`)
			return
		}
		writeJSON(w, 200, `{"Removed":[{"Id":"`+guidC+`","RowVersion":11,"Reason":"OwnerChanged"}],"MaxRowVersion":11,"MoreRecords":false,"PagingCookie":""}`)
	})
	f.handle("Fetch", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"Entities":[`+rowA+`],"MoreRecords":false,"PagingCookie":""}`)
	})
	c := f.connect(t, nil)
	tok := encodeOpaque(tokenPrefix, changeToken{Entity: "account", RV: 5})
	pages := fetchAll(t, c, sdk.FetchRequest{Entity: "account", Token: tok})
	var deletes, ids []string
	for _, p := range pages {
		deletes = append(deletes, p.Deletes...)
		ids = append(ids, p.IDs...)
	}
	if fmt.Sprint(deletes) != "["+guidB+"]" || fmt.Sprint(ids) != "["+guidA+"]" {
		t.Fatalf("deletes %v ids %v (a removal above the window waits for the next fetch)", deletes, ids)
	}
	var rc wire.RetrieveChangesRequest
	jsonBody(t, f.callsTo("RetrieveChanges")[0], &rc)
	if rc.SinceRowVersion != 5 || rc.Entity != "account" {
		t.Errorf("RetrieveChanges %+v", rc)
	}
	var q wire.FetchRequest
	jsonBody(t, f.callsTo("Fetch")[0], &q)
	if !strings.Contains(q.FetchXml, `<condition attribute="versionnumber" operator="gt" value="5"/>`) ||
		!strings.Contains(q.FetchXml, `<condition attribute="versionnumber" operator="le" value="10"/>`) {
		t.Errorf("window missing: %s", q.FetchXml)
	}
	last := pages[len(pages)-1]
	var next changeToken
	if !last.Last || !decodeOpaque(tokenPrefix, last.Token, &next) || next.RV != 10 {
		t.Errorf("next token %s", last.Token)
	}
	// A cursor from the middle of the removals resumes there.
	f.reset()
	var rest []string
	err := c.Fetch(context.Background(), sdk.FetchRequest{Entity: "account", Token: tok, Cursor: pages[0].Cursor}, func(p *sdk.Page) error {
		rest = append(rest, p.IDs...)
		return nil
	})
	if err != nil || len(rest) != 1 {
		t.Fatalf("resume: %v %v", err, rest)
	}
	jsonBody(t, f.callsTo("RetrieveChanges")[0], &rc)
	if rc.PagingCookie != "r1" {
		t.Errorf("resumed removals without the cookie: %+v", rc)
	}
}

func TestFilteredIncrementalDropsRowsLeavingTheFilter(t *testing.T) {
	f := newFake(t)
	f.handle("GetMaxRowVersion", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"RowVersions":{"account":10}}`)
	})
	f.handle("RetrieveChanges", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"Removed":[],"MaxRowVersion":10,"MoreRecords":false,"PagingCookie":""}`)
	})
	f.handle("Fetch", func(w http.ResponseWriter, r *http.Request) {
		var q wire.FetchRequest
		json.NewDecoder(r.Body).Decode(&q)
		if strings.Contains(q.FetchXml, `operator="in"`) {
			// Of the changed rows, only A still matches.
			writeJSON(w, 200, `{"Entities":[`+rowA+`],"MoreRecords":false,"PagingCookie":""}`)
			return
		}
		writeJSON(w, 200, `{"Entities":[{"Id":"`+guidA+`","RowVersion":6,"Attributes":{}},{"Id":"`+guidB+`","RowVersion":7,"Attributes":{}}],"MoreRecords":false,"PagingCookie":""}`)
	})
	c := f.connect(t, nil)
	tok := encodeOpaque(tokenPrefix, changeToken{Entity: "account", RV: 5})
	filter := sdk.Cmp("ownerid", sdk.OpEqUserID)
	filter = sdk.Cmp("name", sdk.OpEq, sdk.String("Alpha"))
	pages := fetchAll(t, c, sdk.FetchRequest{Entity: "account", Token: tok, Filter: filter})
	var deletes, ids []string
	for _, p := range pages {
		deletes = append(deletes, p.Deletes...)
		ids = append(ids, p.IDs...)
	}
	if fmt.Sprint(ids) != "["+guidA+"]" || fmt.Sprint(deletes) != "["+guidB+"]" {
		t.Fatalf("ids %v deletes %v", ids, deletes)
	}
	fetches := f.callsTo("Fetch")
	if len(fetches) != 2 {
		t.Fatalf("%d fetches", len(fetches))
	}
	var changed, matched wire.FetchRequest
	jsonBody(t, fetches[0], &changed)
	jsonBody(t, fetches[1], &matched)
	if strings.Contains(changed.FetchXml, "Alpha") || !strings.Contains(changed.FetchXml, `versionnumber`) {
		t.Errorf("changed-ids query: %s", changed.FetchXml)
	}
	if !strings.Contains(matched.FetchXml, "Alpha") || !strings.Contains(matched.FetchXml, guidB) {
		t.Errorf("matching query: %s", matched.FetchXml)
	}
}

func TestUserOperatorAndLinkGoToFetchXML(t *testing.T) {
	f := newFake(t)
	f.handle("GetMaxRowVersion", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"RowVersions":{"account":10}}`)
	})
	f.handle("Fetch", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"Entities":[],"MoreRecords":false,"PagingCookie":""}`)
	})
	c := f.connect(t, nil)
	filter := sdk.And(sdk.Cmp("parentaccountid", sdk.OpEqUserOrUserTeams),
		sdk.Link("parentaccountid", sdk.Cmp("name", sdk.OpBeginsWith, sdk.String("A"))))
	fetchAll(t, c, sdk.FetchRequest{Entity: "account", Filter: filter})
	var q wire.FetchRequest
	jsonBody(t, f.callsTo("Fetch")[0], &q)
	if !strings.Contains(q.FetchXml, `operator="eq-useroruserteams"`) || !strings.Contains(q.FetchXml, `<link-entity`) {
		t.Errorf("FetchXML: %s", q.FetchXml)
	}
	// A filter FetchXML cannot say fails before any request.
	f.reset()
	bad := sdk.Not(sdk.Cmp("createdon", sdk.OpLastXDays, sdk.Int(3)))
	err := c.Fetch(context.Background(), sdk.FetchRequest{Entity: "account", Filter: bad}, func(*sdk.Page) error { return nil })
	if sdk.KindOf(err) != sdk.Permanent || len(f.callsTo("Fetch")) != 0 {
		t.Errorf("untranslatable filter: %v", err)
	}
}

func TestCheckChangesOneRequest(t *testing.T) {
	var meta strings.Builder
	meta.WriteString(`{"Entities":[`)
	for i := range 20 {
		if i > 0 {
			meta.WriteString(",")
		}
		fmt.Fprintf(&meta, `{"Name":"e%d","PrimaryKey":"id","PrimaryName":"id","ChangeTracking":true,"Attributes":[{"Name":"id","Type":"Guid"}]}`, i)
	}
	meta.WriteString(`]}`)
	f := newFake(t)
	f.handle("Metadata", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, meta.String()) })
	f.handle("GetMaxRowVersion", func(w http.ResponseWriter, r *http.Request) {
		var req wire.MaxRowVersionRequest
		json.NewDecoder(r.Body).Decode(&req)
		out := map[string]int64{}
		for _, e := range req.Entities {
			out[e] = 100
		}
		out["e7"] = 101
		b, _ := json.Marshal(wire.MaxRowVersionResponse{RowVersions: out})
		w.Write(b)
	})
	c := f.connect(t, nil)
	if _, err := c.Schema(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.reset()
	var probes []sdk.ChangeProbe
	for i := range 20 {
		probes = append(probes, sdk.ChangeProbe{Entity: fmt.Sprintf("e%d", i), Token: encodeOpaque(tokenPrefix, changeToken{Entity: fmt.Sprintf("e%d", i), RV: 100})})
	}
	probes[3].Token = []byte("garbage")
	got, err := c.CheckChanges(context.Background(), probes)
	if err != nil {
		t.Fatal(err)
	}
	for i, changed := range got {
		if want := i == 3 || i == 7; changed != want {
			t.Errorf("e%d: changed=%v", i, changed)
		}
	}
	if n := len(f.calls); n != 1 {
		t.Errorf("%d requests for 20 entities, want 1", n)
	}
	u, _ := c.Usage(context.Background())
	if u.Requests != 3 { // WhoAmI, Metadata, GetMaxRowVersion
		t.Errorf("usage %+v", u)
	}
}

func TestPushBatchesAndConflicts(t *testing.T) {
	f := newFake(t)
	f.handle("CreateMultiple", func(w http.ResponseWriter, r *http.Request) {
		var req wire.WriteRequest
		json.NewDecoder(r.Body).Decode(&req)
		var res []string
		for i, rec := range req.Records {
			res = append(res, fmt.Sprintf(`{"Id":%q,"RowVersion":%d,"Error":null}`, rec.Id, 20+i))
		}
		writeJSON(w, 200, `{"Results":[`+strings.Join(res, ",")+`]}`)
	})
	f.handle("UpdateMultiple", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"Results":[{"Id":"`+guidA+`","RowVersion":0,"Error":{"code":"ConcurrencyVersionMismatch","message":"moved on"}},
			{"Id":"`+guidB+`","RowVersion":0,"Error":{"code":"RecordNotFound","message":"gone"}}]}`)
	})
	f.handle("DeleteMultiple", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"Results":[{"Id":"`+guidC+`","RowVersion":0,"Error":null}]}`)
	})
	f.handle("Fetch", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"Entities":[`+rowA+`],"MoreRecords":false,"PagingCookie":""}`)
	})
	c := f.connect(t, map[string]string{"batch_size": "2"})
	changes := []sdk.Change{
		{ChangeID: "c1", Op: sdk.OpCreate, Entity: "account", ID: "10000000-0000-0000-0000-000000000001", Values: map[string]sdk.Value{"name": sdk.String("n1"), "revenue": sdk.String("1.50")}},
		{ChangeID: "c2", Op: sdk.OpCreate, Entity: "account", ID: "10000000-0000-0000-0000-000000000002", Values: map[string]sdk.Value{"nosuch": sdk.String("x")}},
		{ChangeID: "c3", Op: sdk.OpCreate, Entity: "account", ID: "10000000-0000-0000-0000-000000000003", Values: map[string]sdk.Value{"name": sdk.String("n3")}},
		{ChangeID: "c4", Op: sdk.OpCreate, Entity: "account", ID: "10000000-0000-0000-0000-000000000004", Values: map[string]sdk.Value{"name": sdk.Int(3)}},
		{ChangeID: "c5", Op: sdk.OpCreate, Entity: "account", ID: "10000000-0000-0000-0000-000000000005", Values: map[string]sdk.Value{"name": sdk.String("n5")}},
		{ChangeID: "u1", Op: sdk.OpUpdate, Entity: "account", ID: guidA, BaseVersion: "2", Values: map[string]sdk.Value{"name": sdk.String("x")}},
		{ChangeID: "u2", Op: sdk.OpUpdate, Entity: "account", ID: guidB, BaseVersion: "2", Values: map[string]sdk.Value{"name": sdk.String("y")}},
		{ChangeID: "d1", Op: sdk.OpDelete, Entity: "account", ID: guidC, BaseVersion: "8"},
		{ChangeID: "x1", Op: sdk.OpDelete, Entity: "nosuch", ID: guidC},
	}
	resp, err := c.Push(context.Background(), sdk.PushRequest{Changes: changes})
	if err != nil {
		t.Fatal(err)
	}
	st := func(i int) sdk.Status { return resp.Results[i].Status }
	if st(0) != sdk.StatusApplied || resp.Results[0].Version != "20" || st(2) != sdk.StatusApplied || st(4) != sdk.StatusApplied {
		t.Errorf("creates: %+v", resp.Results[:5])
	}
	for _, i := range []int{1, 3, 8} {
		if st(i) != sdk.StatusFailed || sdk.KindOf(resp.Results[i].Err) != sdk.Permanent {
			t.Errorf("change %d: %+v", i, resp.Results[i])
		}
	}
	if r := resp.Results[5]; r.Status != sdk.StatusConflict || r.Current == nil || r.Current.Version != "3" || r.Current.Values["name"].Str() != "Alpha" {
		t.Errorf("conflict: %+v", r)
	}
	if r := resp.Results[6]; r.Status != sdk.StatusConflict || !r.ServerDeleted {
		t.Errorf("server deleted: %+v", r)
	}
	if r := resp.Results[7]; r.Status != sdk.StatusApplied || r.Version != "" {
		t.Errorf("delete: %+v", r)
	}
	creates := f.callsTo("CreateMultiple")
	if len(creates) != 2 { // c1,c3 then c5 (batch_size 2)
		t.Fatalf("%d CreateMultiple calls", len(creates))
	}
	var req wire.WriteRequest
	jsonBody(t, creates[0], &req)
	if len(req.Records) != 2 || req.Records[0].RequestId != "c1" || string(req.Records[0].Attributes["revenue"]) != "1.50" {
		t.Errorf("create body %s", creates[0].Body)
	}
	jsonBody(t, f.callsTo("UpdateMultiple")[0], &req)
	if req.Records[0].RowVersion == nil || *req.Records[0].RowVersion != 2 {
		t.Errorf("update body %s", f.callsTo("UpdateMultiple")[0].Body)
	}
}

func TestThrottlingAndRetries(t *testing.T) {
	f := newFake(t)
	n := 0
	f.handle("GetMaxRowVersion", func(w http.ResponseWriter, r *http.Request) {
		n++
		switch n {
		case 1:
			w.Header().Set("Retry-After", "2")
			writeJSON(w, 429, `{"error":{"code":"TooManyRequests","message":"slow down"}}`)
		case 2:
			writeJSON(w, 503, `<html>busy</html>`)
		case 3:
			// a dropped connection
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
		default:
			writeJSON(w, 200, `{"RowVersions":{"account":1}}`)
		}
	})
	c := f.connect(t, nil)
	tok := encodeOpaque(tokenPrefix, changeToken{Entity: "account", RV: 1})
	got, err := c.CheckChanges(context.Background(), []sdk.ChangeProbe{{Entity: "account", Token: tok}})
	if err != nil || got[0] {
		t.Fatalf("%v %v", got, err)
	}
	u, _ := c.Usage(context.Background())
	if u.Retries != 3 || u.ThrottledMs != 2000 {
		t.Errorf("usage %+v", u)
	}
	// Out of retries: a retryable error with the server's wait.
	f.handle("GetMaxRowVersion", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		writeJSON(w, 429, `{"error":{"code":"TooManyRequests","message":"slow down"}}`)
	})
	c2 := f.connect(t, map[string]string{"retries": "1"})
	_, err = c2.CheckChanges(context.Background(), []sdk.ChangeProbe{{Entity: "account", Token: tok}})
	var se *sdk.Error
	if !errors.As(err, &se) || se.Kind != sdk.Retryable || se.RetryAfter.Seconds() != 7 {
		t.Errorf("exhausted: %#v", err)
	}
}

func TestChangesExpiredIsTokenExpired(t *testing.T) {
	f := newFake(t)
	f.handle("GetMaxRowVersion", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"RowVersions":{"account":10}}`)
	})
	f.handle("RetrieveChanges", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 410, `{"error":{"code":"ChangesExpired","message":"too old"}}`)
	})
	c := f.connect(t, nil)
	tok := encodeOpaque(tokenPrefix, changeToken{Entity: "account", RV: 2})
	err := c.Fetch(context.Background(), sdk.FetchRequest{Entity: "account", Token: tok}, func(*sdk.Page) error { return nil })
	if !errors.Is(err, sdk.ErrTokenExpired) {
		t.Fatalf("got %v", err)
	}
	// A token ahead of the service (restored org) also asks for a full read.
	tok = encodeOpaque(tokenPrefix, changeToken{Entity: "account", RV: 99})
	err = c.Fetch(context.Background(), sdk.FetchRequest{Entity: "account", Token: tok}, func(*sdk.Page) error { return nil })
	if !errors.Is(err, sdk.ErrTokenExpired) {
		t.Fatalf("got %v", err)
	}
	for _, bad := range [][]byte{[]byte("x"), []byte(tokenPrefix + `{"e":"account","rv":-1}`), []byte(tokenPrefix + `{"e":"annotation","rv":1}`)} {
		err = c.Fetch(context.Background(), sdk.FetchRequest{Entity: "account", Token: bad}, func(*sdk.Page) error { return nil })
		if sdk.KindOf(err) != sdk.Permanent {
			t.Errorf("token %q: %v", bad, err)
		}
	}
}

func TestBadServerAnswersAreErrors(t *testing.T) {
	bodies := []string{
		``, `{`, `[]`, `null`, `{"Entities":null}`,
		`{"Entities":[{"Id":"","RowVersion":1,"Attributes":{}}],"MoreRecords":false,"PagingCookie":""}`,
		`{"Entities":[{"Id":"x","RowVersion":0,"Attributes":{}}],"MoreRecords":false,"PagingCookie":""}`,
		`{"Entities":[],"MoreRecords":true,"PagingCookie":""}`,
		`{"Entities":[],"MoreRecords":false,"PagingCookie":"","Extra":1}`,
		`{"Entities":[{"Id":"x","RowVersion":1,"Attributes":{"employees":"many"}}],"MoreRecords":false,"PagingCookie":""}`,
		`{"Entities":[{"Id":"x","RowVersion":1,"Attributes":{"employees":1.5}}],"MoreRecords":false,"PagingCookie":""}`,
		`{"Entities":[{"Id":"x","RowVersion":1,"Attributes":{"parentaccountid":"abc"}}],"MoreRecords":false,"PagingCookie":""}`,
		`{"Entities":[{"Id":"x","RowVersion":1,"Attributes":{"createdon":"yesterday"}}],"MoreRecords":false,"PagingCookie":""}`,
		`{"Entities":[{"Id":"x","RowVersion":1,"Attributes":{"logo":"***"}}],"MoreRecords":false,"PagingCookie":""}`,
		`{"Entities":[{"Id":"x","RowVersion":1,"Attributes":{"revenue":"12"}}],"MoreRecords":false,"PagingCookie":""}`,
		`{"Entities":[],"MoreRecords":false,"PagingCookie":""} trailing`,
	}
	for _, b := range bodies {
		f := newFake(t)
		f.handle("GetMaxRowVersion", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, `{"RowVersions":{"account":10}}`)
		})
		f.handle("Fetch", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, b) })
		c := f.connect(t, nil)
		err := c.Fetch(context.Background(), sdk.FetchRequest{Entity: "account"}, func(*sdk.Page) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "Fetch account") {
			t.Errorf("body %q: %v", b, err)
		}
	}
}

func TestBearerTokenAndSecrets(t *testing.T) {
	f := newFake(t)
	tokens := 0
	f.mu.Lock()
	f.handlers["/oauth/token"] = nil
	f.mu.Unlock()
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth/token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		tokens++
		if r.Form.Get("client_secret") != "s3cret" || r.Form.Get("grant_type") != "client_credentials" {
			writeJSON(w, 400, `{"error":"invalid_client","error_description":"bad client"}`)
			return
		}
		writeJSON(w, 200, fmt.Sprintf(`{"access_token":"tok%d","token_type":"Bearer","expires_in":3600}`, tokens))
	})
	mux.HandleFunc("/", f.serve)
	f.srv.Config.Handler = mux
	first := true
	f.handle("WhoAmI", func(w http.ResponseWriter, r *http.Request) {
		if first { // the first token is refused: the connector signs in again
			first = false
			writeJSON(w, 401, `{"error":{"code":"Unauthorized","message":"expired"}}`)
			return
		}
		io.WriteString(w, `{"UserId":"`+guidU+`","BusinessUnitId":"","OrganizationId":"","TeamIds":[]}`)
	})
	c := f.connect(t, map[string]string{"username": "", "password": "", "client_id": "app", "client_secret": "s3cret"})
	if _, err := c.Schema(context.Background()); err != nil {
		t.Fatal(err)
	}
	calls := f.callsTo("Metadata")
	if len(calls) != 1 || calls[0].Auth != "Bearer tok2" || tokens != 2 {
		t.Errorf("auth %+v, %d tokens", calls, tokens)
	}
	bad := f.connect(t, map[string]string{"username": "", "password": "", "client_id": "app", "client_secret": "wrong-secret-value"})
	_, err := bad.Schema(context.Background())
	if err == nil || strings.Contains(err.Error(), "wrong-secret-value") || !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("bad secret: %v", err)
	}
}

func TestSettings(t *testing.T) {
	bad := []map[string]string{
		{},
		{"url": "ftp://x"},
		{"url": "https://u:p@x"},
		{"url": "https://x", "page_size": "6000"},
		{"url": "https://x", "batch_size": "0"},
		{"url": "https://x", "auth": "basic"},
		{"url": "https://x", "auth": "magic"},
		{"url": "https://x", "bogus": "1"},
		{"url": "https://x", "retry_backoff": "forever"},
	}
	for _, s := range bad {
		if _, err := Factory(context.Background(), s, nil); err == nil || strings.Contains(err.Error(), "u:p") {
			t.Errorf("%v: %v", s, err)
		}
	}
	c, err := Factory(context.Background(), map[string]string{"url": "https://org.app.resco.net/rest/v1/data/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.(*Connector).http.base; got != "https://org.app.resco.net/rest/v1/data/" || c.(*Connector).cfg.Auth != AuthHost {
		t.Errorf("base %q auth %q", got, c.(*Connector).cfg.Auth)
	}
}

func TestDocuments(t *testing.T) {
	f := newFake(t)
	content := bytes.Repeat([]byte("0123456789"), 1000)
	f.handle("Fetch", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"Entities":[
		 {"Id":"`+guidC+`","RowVersion":5,"Attributes":{"objectid":{"Id":"`+guidA+`","LogicalName":"account"},"filename":"a.txt","mimetype":"text/plain","filesize":10000}},
		 {"Id":"`+guidB+`","RowVersion":6,"Attributes":{"objectid":{"Id":"`+guidA+`","LogicalName":"account"}}}],"MoreRecords":false,"PagingCookie":""}`)
	})
	drops := 1
	f.handle("Blob", func(w http.ResponseWriter, r *http.Request) {
		off := 0
		if rg := r.Header.Get("Range"); rg != "" {
			fmt.Sscanf(rg, "bytes=%d-", &off)
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(content)-off))
		w.WriteHeader(http.StatusPartialContent)
		if drops > 0 { // send half, then drop the connection
			drops--
			w.Write(content[off : off+(len(content)-off)/2])
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		w.Write(content[off:])
	})
	c := f.connect(t, nil)
	var docs []sdk.Document
	err := c.ListDocuments(context.Background(), sdk.DocumentQuery{Entity: "account", RecordIDs: []string{guidA}}, func(p *sdk.DocumentPage) error {
		docs = append(docs, p.Documents...)
		if !p.Last {
			t.Error("one page expected")
		}
		return nil
	})
	if err != nil || len(docs) != 1 || docs[0].Name != "a.txt" || docs[0].Size != 10000 || docs[0].RecordID != guidA || docs[0].Entity != "account" {
		t.Fatalf("%v %+v", err, docs)
	}
	var q wire.FetchRequest
	jsonBody(t, f.callsTo("Fetch")[0], &q)
	if strings.Contains(q.FetchXml, "documentbody") || !strings.Contains(q.FetchXml, guidA) {
		t.Errorf("listing query %s", q.FetchXml)
	}
	var buf bytes.Buffer
	if err := c.ReadDocument(context.Background(), guidC, 100, &buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), content[100:]) {
		t.Errorf("read %d bytes", buf.Len())
	}
	blobs := f.callsTo("Blob")
	if len(blobs) != 2 || blobs[0].Range != "bytes=100-" || blobs[1].Range == "bytes=100-" {
		t.Errorf("blob calls %+v", blobs)
	}
	f.handle("Blob", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 404, `{"error":{"code":"RecordNotFound","message":"no such annotation"}}`)
	})
	if err := c.ReadDocument(context.Background(), guidB, 0, io.Discard); sdk.KindOf(err) != sdk.Permanent {
		t.Errorf("missing document: %v", err)
	}
}

func TestWriteDocumentStreamsBase64(t *testing.T) {
	f := newFake(t)
	f.handle("Fetch", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"Entities":[],"MoreRecords":false,"PagingCookie":""}`)
	})
	f.handle("CreateMultiple", func(w http.ResponseWriter, r *http.Request) {
		var req wire.WriteRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeJSON(w, 400, `{"error":{"code":"BadRequest","message":"bad json"}}`)
			return
		}
		writeJSON(w, 200, fmt.Sprintf(`{"Results":[{"Id":%q,"RowVersion":31,"Error":null}]}`, req.Records[0].Id))
	})
	c := f.connect(t, nil)
	content := bytes.Repeat([]byte{0, 1, 2, 250}, 5000)
	doc, err := c.WriteDocument(context.Background(), sdk.Document{ID: guidC, Entity: "account", RecordID: guidA, Name: "x.bin", MimeType: "application/octet-stream", Size: int64(len(content))}, bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	if doc.ID != guidC || doc.Version != "31" || doc.Size != int64(len(content)) {
		t.Errorf("%+v", doc)
	}
	var req wire.WriteRequest
	jsonBody(t, f.callsTo("CreateMultiple")[0], &req)
	body, err := wire.DecodeBinary(req.Records[0].Attributes["documentbody"])
	if err != nil || !bytes.Equal(body, content) || req.Entity != "annotation" {
		t.Errorf("uploaded %d bytes: %v", len(body), err)
	}
	// A reader yielding another count than Size fails.
	_, err = c.WriteDocument(context.Background(), sdk.Document{Entity: "account", RecordID: guidA, Name: "y", Size: 5}, bytes.NewReader(content))
	if err == nil {
		t.Error("short size accepted")
	}
}

// TestWASMBuild checks that the default build, the WASM guest, compiles.
func TestWASMBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a WASM module")
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	out := filepath.Join(t.TempDir(), "rescocloud.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "./plugins/rescocloud/cmd/fieldsync-rescocloud-wasm")
	cmd.Dir = root
	cmd.Env = append(cmd.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
}

func TestHostAuthOnly(t *testing.T) {
	RequireHostAuth()
	defer hostAuthOnlyVal.Store(false)
	if _, err := Factory(context.Background(), map[string]string{"url": "https://x", "username": "u", "password": "p"}, nil); err == nil {
		t.Error("credentials accepted in a host-auth build")
	}
	if _, err := Factory(context.Background(), map[string]string{"url": "https://x"}, nil); err != nil {
		t.Error(err)
	}
}
