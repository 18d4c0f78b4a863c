package wire

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// strictRequest decodes a request example into its type, refusing unknown
// fields, and checks it encodes back to the same JSON value.
func strictRequest(t *testing.T, name string, v any) {
	t.Helper()
	b := read(t, name)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var a, c any
	json.Unmarshal(b, &a)
	json.Unmarshal(out, &c)
	aj, _ := json.Marshal(a)
	cj, _ := json.Marshal(c)
	if !bytes.Equal(aj, cj) {
		t.Errorf("%s does not round-trip:\n%s\n%s", name, aj, cj)
	}
}

func TestRequestExamples(t *testing.T) {
	strictRequest(t, "getmaxrowversion_request.json", &MaxRowVersionRequest{})
	strictRequest(t, "fetch_request.json", &FetchRequest{})
	strictRequest(t, "retrievechanges_request.json", &RetrieveChangesRequest{})
	strictRequest(t, "createmultiple_request.json", &WriteRequest{})
	strictRequest(t, "updatemultiple_request.json", &WriteRequest{})
	strictRequest(t, "deletemultiple_request.json", &WriteRequest{})
}

func TestResponseExamples(t *testing.T) {
	if w, err := DecodeWhoAmI(bytes.NewReader(read(t, "whoami_response.json"))); err != nil || len(w.TeamIds) != 1 {
		t.Errorf("WhoAmI: %v", err)
	}
	m, err := DecodeMetadata(bytes.NewReader(read(t, "metadata_response.json")))
	if err != nil || len(m.Entities) != 2 || m.Entities[0].Attributes[4].Options[1].Label != "Agriculture" {
		t.Errorf("Metadata: %v", err)
	}
	if mv, err := DecodeMaxRowVersion(bytes.NewReader(read(t, "getmaxrowversion_response.json"))); err != nil || mv.RowVersions["account"] != 1234 {
		t.Errorf("GetMaxRowVersion: %v", err)
	}
	f, err := DecodeFetch(bytes.NewReader(read(t, "fetch_response.json")))
	if err != nil || !f.MoreRecords || len(f.Entities) != 1 {
		t.Fatalf("Fetch: %v", err)
	}
	a := f.Entities[0].Attributes
	if d, err := DecodeDecimal(a["revenue"]); err != nil || d != "1234567890123.4567" {
		t.Errorf("revenue %q %v", d, err)
	}
	if l, err := DecodeLookup(a["primarycontactid"]); err != nil || l.LogicalName != "contact" {
		t.Errorf("lookup %+v %v", l, err)
	}
	if tm, err := DecodeDateTime(a["createdon"]); err != nil || !tm.Equal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("createdon %v %v", tm, err)
	}
	if b, err := DecodeBinary(a["documentbody"]); err != nil || len(b) != 3 {
		t.Errorf("binary %v %v", b, err)
	}
	if rc, err := DecodeRetrieveChanges(bytes.NewReader(read(t, "retrievechanges_response.json"))); err != nil || len(rc.Removed) != 3 {
		t.Errorf("RetrieveChanges: %v", err)
	}
	w, err := DecodeWrite(bytes.NewReader(read(t, "write_response.json")), 2)
	if err != nil || w.Results[1].Error.Code != CodeConcurrencyVersionMismatch {
		t.Errorf("write: %v", err)
	}
	if _, err := DecodeWrite(bytes.NewReader(read(t, "write_response.json")), 3); err == nil {
		t.Error("result count not checked")
	}
	if e, err := DecodeError(bytes.NewReader(read(t, "error_response.json"))); err != nil || e.Code != CodeInvalidFetchXML {
		t.Errorf("error: %v", err)
	}
	if tr, err := DecodeToken(bytes.NewReader(read(t, "token_response.json"))); err != nil || tr.ExpiresIn != 3600 {
		t.Errorf("token: %v", err)
	}
	if te, err := DecodeTokenError(bytes.NewReader(read(t, "token_error.json"))); err != nil || te.Error != "invalid_client" {
		t.Errorf("token error: %v", err)
	}
}

func TestStrictness(t *testing.T) {
	bad := map[string]func([]byte) error{
		`{"RowVersions":{"account":1},"Extra":true}`:                                                func(b []byte) error { _, err := DecodeMaxRowVersion(bytes.NewReader(b)); return err },
		`{"RowVersions":{"account":-1}}`:                                                            func(b []byte) error { _, err := DecodeMaxRowVersion(bytes.NewReader(b)); return err },
		`{"RowVersions":{"account":1.5}}`:                                                           func(b []byte) error { _, err := DecodeMaxRowVersion(bytes.NewReader(b)); return err },
		`{"Entities":[{"Id":"x","RowVerson":1,"Attributes":{}}]}`:                                   func(b []byte) error { _, err := DecodeFetch(bytes.NewReader(b)); return err },
		`{"Removed":[{"Id":"x","RowVersion":1,"Reason":"Moved"}],"MaxRowVersion":1}`:                func(b []byte) error { _, err := DecodeRetrieveChanges(bytes.NewReader(b)); return err },
		`{"Entities":[{"Name":"a b","PrimaryKey":"id"}]}`:                                           func(b []byte) error { _, err := DecodeMetadata(bytes.NewReader(b)); return err },
		`{"Entities":[{"Name":"a","PrimaryKey":"id","Attributes":[{"Name":"x","Type":"String"}]}]}`: func(b []byte) error { _, err := DecodeMetadata(bytes.NewReader(b)); return err },
		`{"UserId":""}`:                           func(b []byte) error { _, err := DecodeWhoAmI(bytes.NewReader(b)); return err },
		`{"error":{"code":"","message":"x"}}`:     func(b []byte) error { _, err := DecodeError(bytes.NewReader(b)); return err },
		`{"access_token":"a","token_type":"MAC"}`: func(b []byte) error { _, err := DecodeToken(bytes.NewReader(b)); return err },
		`{"Results":[{"Id":"","RowVersion":1}]}`:  func(b []byte) error { _, err := DecodeWrite(bytes.NewReader(b), 1); return err },
		`{"Results":[]} {"Results":[]}`:           func(b []byte) error { _, err := DecodeWrite(bytes.NewReader(b), 0); return err },
	}
	for body, dec := range bad {
		if err := dec([]byte(body)); err == nil {
			t.Errorf("accepted %s", body)
		}
	}
	// Size limits: a huge body is refused, not buffered.
	huge := strings.NewReader(`{"error":{"code":"X","message":"` + strings.Repeat("x", MaxErrorBytes) + `"}}`)
	if _, err := DecodeError(huge); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Errorf("huge error body: %v", err)
	}
}

func TestValues(t *testing.T) {
	for in, want := range map[string]string{"1E+2": "100", "1.5e-3": "0.0015", "12.50": "12.50", "-2.5E1": "-25", "0": "0"} {
		got, err := DecodeDecimal(json.RawMessage(in))
		if err != nil || got != want {
			t.Errorf("%s: %q %v", in, got, err)
		}
	}
	for _, in := range []string{`"1"`, `true`, `null`, `1e999999`} {
		if _, err := DecodeDecimal(json.RawMessage(in)); err == nil {
			t.Errorf("decimal %s accepted", in)
		}
	}
	if _, err := DecodeInt(json.RawMessage(`9223372036854775808`)); err == nil {
		t.Error("int overflow accepted")
	}
	for in, want := range map[string]string{"007.50": "7.50", "-0.1": "-0.1", "+3": "3"} {
		got, err := EncodeDecimal(in)
		if err != nil || string(got) != want {
			t.Errorf("encode %s: %s %v", in, got, err)
		}
	}
	for _, in := range []string{"1e5", ".5", "5.", "", "1,5"} {
		if _, err := EncodeDecimal(in); err == nil {
			t.Errorf("encode %q accepted", in)
		}
	}
	if _, err := DecodeLookup(json.RawMessage(`{"Id":"` + strings.Repeat("a", 36) + `"}`)); err == nil {
		t.Error("bad lookup id accepted")
	}
	if _, err := DecodeLookup(json.RawMessage(`{"Id":"aaaaaaaa-0000-0000-0000-000000000001","LogicalName":"contact","Name":"x"}`)); err == nil {
		t.Error("unknown lookup field accepted")
	}
}

// TestDecodeFetchRowsReadsTheExample: the scanner reads the example page
// as DecodeFetch does (FuzzFetchRows checks every page it accepts).
func TestDecodeFetchRowsReadsTheExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "fetch_response.json"))
	if err != nil {
		t.Fatal(err)
	}
	slow, err := DecodeFetch(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for name := range slow.Entities[0].Attributes {
		want = append(want, name)
	}
	fast, err := DecodeFetchRows(bytes.NewReader(b), want)
	if err != nil {
		t.Fatalf("the scanner refuses the example page: %v", err)
	}
	if len(fast.Rows) != len(slow.Entities) || fast.MoreRecords != slow.MoreRecords || fast.PagingCookie != slow.PagingCookie {
		t.Fatalf("scanned %+v, decoded %+v", fast, slow)
	}
	for j, name := range want {
		if !bytes.Equal(fast.Rows[0].Values[j], bytes.TrimSpace(slow.Entities[0].Attributes[name])) {
			t.Errorf("%s: %q vs %q", name, fast.Rows[0].Values[j], slow.Entities[0].Attributes[name])
		}
	}
	for _, bad := range []string{``, `{}`, `{"Entities":null}`, `{"Entities":[],"Entities":[]}`, `{"Entities":[{"Id":"","RowVersion":1}]}`,
		`{"Entities":[],"Extra":1}`, `{"Entities":[]} x`, `{"Entities":[{"Id":"6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b","RowVersion":0}]}`,
		`{"Entities":[],"MoreRecords":true}`, `{"Entities":[{"Id":"6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b","RowVersion":1,"Attributes":{"a":01}}]}`} {
		if _, err := DecodeFetchRows(bytes.NewReader([]byte(bad)), []string{"a"}); err == nil {
			t.Errorf("the scanner accepts %q", bad)
		}
	}
}
