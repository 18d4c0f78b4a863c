package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/simpleforce/simpleforce"

	"github.com/fieldsync/fieldsync/sdk"
)

// Each TestSimpleforceDefect… shows one defect in simpleforce itself, then
// how the connector handles it (force.go explains the choices).

func rawServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *[]string) {
	paths := new([]string)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*paths = append(*paths, r.Method+" "+r.URL.Path)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, paths
}

func simple(url string) *simpleforce.Client {
	sf := simpleforce.NewClient(url, simpleforce.DefaultClientID, "60.0")
	sf.SetSidLoc("sid", url)
	return sf
}

// quietLog silences the standard logger for a test and returns what
// simpleforce wrote to it.
func quietLog(t *testing.T) *bytes.Buffer {
	var buf bytes.Buffer
	prev, flags := log.Writer(), log.Flags()
	log.SetOutput(&buf)
	t.Cleanup(func() { log.SetOutput(prev); log.SetFlags(flags) })
	return &buf
}

func TestSimpleforceDefectSwallowedErrors(t *testing.T) {
	quietLog(t)
	srv, _ := rawServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `[{"message":"Required fields are missing: [Name]","errorCode":"REQUIRED_FIELD_MISSING"}]`)
	})
	sf := simple(srv.URL)
	// The defect: Create, Update, Upsert and Get answer nil, and the reason
	// goes to the standard logger only.
	if obj := sf.SObject("Account").Set("Phone", "1").Create(); obj != nil {
		t.Errorf("simpleforce Create returned %v on a 400; the defect is gone?", obj)
	}
	if obj := sf.SObject("Account").Get(acct(1)); obj != nil {
		t.Errorf("simpleforce Get returned %v on a 400", obj)
	}
	// Ours: writes go through composite, whose errors map per record.
	err := recordError("create of Account", []sfError{{StatusCode: "REQUIRED_FIELD_MISSING", Message: "Required fields are missing: [Name]", Fields: []string{"Name"}}})
	if err.Kind != sdk.Permanent || !strings.Contains(err.Message, "REQUIRED_FIELD_MISSING") {
		t.Errorf("record error %+v", err)
	}
}

func TestSimpleforceDefectDeleteIgnoresID(t *testing.T) {
	quietLog(t)
	srv, paths := rawServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	sf := simple(srv.URL)
	if err := sf.SObject("Account").Delete(acct(7)); err != nil {
		t.Fatal(err)
	}
	// The defect: the id argument is not in the URL.
	if len(*paths) != 1 || strings.Contains((*paths)[0], acct(7)) {
		t.Fatalf("simpleforce Delete sent %v", *paths)
	}
	// Ours: DELETE composite/sobjects?ids=… (see the push golden files).
	_, m, c := pushFake(t, "")
	m.rows[acct(7)] = &memRow{id: acct(7), stamp: 5}
	if r := push(t, c, sdk.Change{ChangeID: "d", Op: sdk.OpDelete, Entity: "Account", ID: acct(7), BaseVersion: "5"})[0]; r.Status != sdk.StatusApplied || m.rows[acct(7)] != nil {
		t.Errorf("delete: %+v", r)
	}
}

func TestSimpleforceDefectPanicsOnEmptyErrorArray(t *testing.T) {
	// The defect: its error parser indexes [0] of any JSON array.
	func() {
		defer func() {
			if recover() == nil {
				t.Error("ParseSalesforceError(400, []) did not panic; the defect is gone?")
			}
		}()
		_ = simpleforce.ParseSalesforceError(400, []byte("[]"))
	}()
	// Ours: the transport takes failed answers before simpleforce sees them.
	f := newFakeOrg(t)
	f.query = func(string, bool) (int, string) { return 400, "[]" }
	_, err := collect(t, f.connect(), sdk.FetchRequest{Entity: "Account"})
	if sdk.KindOf(err) != sdk.Permanent || !strings.Contains(err.Error(), "HTTP 400") {
		t.Errorf("400 with an empty error array: %v", err)
	}
}

func TestSimpleforceDefectNoContext(t *testing.T) {
	release := make(chan struct{})
	f := newFakeOrg(t)
	f.query = func(string, bool) (int, string) { <-release; return 200, queryJSON(true, "") }
	defer close(release)
	c := f.connect()
	if _, err := c.Schema(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The defect: Query(q string) takes no context. Ours carries it in the
	// per-call transport, so a hung server does not hold a fetch.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Fetch(ctx, sdk.FetchRequest{Entity: "Account"}, func(*sdk.Page) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("fetch from a hung server: %v after %v", err, time.Since(start))
	}
}

func TestSimpleforceDefectStandardLog(t *testing.T) {
	buf := quietLog(t)
	srv, _ := rawServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		fmt.Fprint(w, `[{"message":"boom","errorCode":"UNKNOWN_EXCEPTION"}]`)
	})
	// The defect: failures go to the standard logger, bodies included.
	_, _ = simple(srv.URL).Query("SELECT Id FROM Account")
	if !strings.Contains(buf.String(), "[simpleforce]") || !strings.Contains(buf.String(), "boom") {
		t.Fatalf("simpleforce logged %q", buf.String())
	}
	// Ours: nothing of a secret reaches that logger, even on failures.
	buf.Reset()
	f := newFakeOrg(t)
	f.query = func(string, bool) (int, string) { return 500, `[{"message":"boom","errorCode":"UNKNOWN_EXCEPTION"}]` }
	_, _ = collect(t, f.connect("retries", "0"), sdk.FetchRequest{Entity: "Account"})
	for _, secret := range []string{"s3cret", "tok-1", "Bearer"} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("the standard log holds %q: %s", secret, buf.String())
		}
	}
	if log.Writer() == os.Stderr {
		t.Log("standard log not routed (a test set it); routing happens only from the default")
	}
}

// bigNumberPage is a query answer whose number needs more than a float64.
const bigNumberPage = `{"totalSize":1,"done":true,"records":[{"attributes":{"type":"Account"},"Id":"001000000000001AAA","SystemModstamp":"2025-01-01T00:00:00.000+0000","AnnualRevenue":12345678901234567.89}]}`

func TestSimpleforceDefectWholeResponseFloats(t *testing.T) {
	srv, _ := rawServer(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, bigNumberPage) })
	res, err := simple(srv.URL).Query("SELECT AnnualRevenue FROM Account")
	if err != nil {
		t.Fatal(err)
	}
	// The defect: every number becomes a float64.
	if got := fmt.Sprint(res.Records[0]["AnnualRevenue"]); got == "12345678901234567.89" {
		t.Errorf("simpleforce kept %s exactly; the defect is gone?", got)
	}
	// Ours: record pages decode numbers from their text.
	p, err := parseQueryPage([]byte(bigNumberPage))
	if err != nil {
		t.Fatal(err)
	}
	v, err := decodeValue("currency", sdk.TypeDecimal, p.Records[0]["AnnualRevenue"])
	if err != nil || v.Str() != "12345678901234567.89" {
		t.Errorf("decoded %v, %v", v, err)
	}
}

// benchPage is a 2000-row query answer of ten fields.
func benchPage() []byte {
	var recs []string
	for i := 0; i < 2000; i++ {
		recs = append(recs, accountJSON(acct(i), 1_750_000_000_000+int64(i), fmt.Sprintf("name %d", i), false))
	}
	return []byte(queryJSON(true, "", recs...))
}

// BenchmarkQueryDecode compares simpleforce's Query decoding (a map per row,
// float64 numbers) with ours (raw fields, typed columns) on a 2000-row page.
func BenchmarkQueryDecode(b *testing.B) {
	body := benchPage()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()
	b.Run("simpleforce.Query", func(b *testing.B) {
		sf := simple(srv.URL)
		for i := 0; i < b.N; i++ {
			if _, err := sf.Query("SELECT Id FROM Account"); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(2000*b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("ours", func(b *testing.B) {
		sf := simple(srv.URL)
		fields := []*field{{name: "Name", sfType: "string", typ: sdk.TypeString}, {name: "NumberOfEmployees", sfType: "int", typ: sdk.TypeInt},
			{name: "AnnualRevenue", sfType: "currency", typ: sdk.TypeDecimal}, {name: "Rating__c", sfType: "double", typ: sdk.TypeFloat},
			{name: "Active__c", sfType: "boolean", typ: sdk.TypeBool}, {name: "SLAExpirationDate__c", sfType: "date", typ: sdk.TypeDateTime}}
		names, types := []string{}, []sdk.FieldType{}
		for _, f := range fields {
			names, types = append(names, f.name), append(types, f.typ)
		}
		for i := 0; i < b.N; i++ {
			data, err := sf.ApexREST("GET", "services/data/v60.0/query?q=x", nil)
			if err != nil {
				b.Fatal(err)
			}
			p, err := parseQueryPage(data)
			if err != nil {
				b.Fatal(err)
			}
			pb := sdk.NewPageBuilder(names, types)
			for _, r := range p.Records {
				id, _ := recordID(r)
				st, _ := recordStamp(r)
				vals := make([]sdk.Value, len(fields))
				for j, f := range fields {
					vals[j], _ = decodeValue(f.sfType, f.typ, r[f.name])
				}
				pb.Add(id, version(st), vals...)
			}
		}
		b.ReportMetric(float64(2000*b.N)/b.Elapsed().Seconds(), "records/s")
	})
	_ = json.Valid
}
