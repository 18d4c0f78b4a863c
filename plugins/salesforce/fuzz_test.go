package salesforce

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

// Fuzz targets for every parser of server answers: each must answer an
// error, never panic, on any input.

func FuzzQueryPage(f *testing.F) {
	f.Add([]byte(bigNumberPage))
	f.Add([]byte(queryJSON(false, "/services/data/v60.0/query/01g-2", accountJSON(acct(1), 1, "a", true))))
	f.Add([]byte(`{"done":false}`))
	f.Add([]byte(`{"records":[null]}`))
	fields := []*field{{name: "Name", sfType: "string", typ: sdk.TypeString}, {name: "NumberOfEmployees", sfType: "int", typ: sdk.TypeInt},
		{name: "AnnualRevenue", sfType: "currency", typ: sdk.TypeDecimal}, {name: "Rating__c", sfType: "double", typ: sdk.TypeFloat},
		{name: "Active__c", sfType: "boolean", typ: sdk.TypeBool}, {name: "SLAExpirationDate__c", sfType: "date", typ: sdk.TypeDateTime},
		{name: "SystemModstamp", sfType: "datetime", typ: sdk.TypeDateTime}}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := parseQueryPage(body)
		if err != nil {
			return
		}
		for _, r := range p.Records {
			_, _ = recordID(r)
			_, _ = recordStamp(r)
			_, _ = recordDeleted(r)
			for _, fd := range fields {
				v, err := decodeValue(fd.sfType, fd.typ, r[fd.name])
				if err == nil && !v.IsNull() && v.Kind() != fd.typ.Kind() {
					t.Fatalf("%s decoded as %s", fd.name, v.Kind())
				}
			}
		}
	})
}

func FuzzDescribe(f *testing.F) {
	f.Add([]byte(accountDescribe))
	f.Add([]byte(`{"name":"X","fields":[{"name":"Id","type":"id"},{"name":"P","type":"reference","referenceTo":["X","Y"]}]}`))
	cfg := &config{externalID: defaultExternalID, changeIDField: defaultChangeIDField}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := parseDescribe(body)
		if err != nil {
			return
		}
		m, err := buildModel([]*describeDoc{d}, cfg)
		if err != nil {
			return
		}
		if err := m.schema.Validate(); err != nil {
			t.Fatalf("model does not validate: %v", err)
		}
	})
}

func FuzzCompositeResponse(f *testing.F) {
	sent := []subrequest{{ReferenceID: "w0"}, {ReferenceID: "w1"}}
	f.Add([]byte(`{"compositeResponse":[{"body":[{"id":"001000000000001AAA","success":true,"errors":[]}],"httpStatusCode":200,"referenceId":"w0"},{"body":[{"message":"x","errorCode":"INVALID_FIELD"}],"httpStatusCode":400,"referenceId":"w1"}]}`))
	f.Add([]byte(`{"compositeResponse":[]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		subs, err := parseCompositeResponse(body, sent)
		if err != nil {
			return
		}
		for _, s := range subs {
			_, _ = parseCollectionResults(s.Body, 1)
			_ = parseAPIError(s.Status, s.Body, "fuzz")
			_, _ = parseQueryPage(s.Body)
		}
	})
}

func FuzzTokenResponse(f *testing.F) {
	f.Add(200, []byte(`{"access_token":"a","instance_url":"https://x.my.salesforce.com","id":"https://login/id/00D/005000000000001AAA","token_type":"Bearer"}`))
	f.Add(400, []byte(`{"error":"invalid_grant","error_description":"authentication failure"}`))
	f.Add(200, []byte(`{"access_token":"a","instance_url":"javascript:alert(1)"}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		s, err := parseTokenResponse("password", status, body)
		if err == nil && (s.accessToken == "" || s.instanceURL == "") {
			t.Fatalf("accepted %q", body)
		}
		_ = parseAPIError(status, body, "fuzz")
	})
}

func FuzzDeletedWindow(f *testing.F) {
	f.Add([]byte(`{"deletedRecords":[{"id":"001000000000001AAA","deletedDate":"2025-01-01T00:00:00.000+0000"}],"earliestDateAvailable":"2024-12-01T00:00:00.000+0000","latestDateCovered":"2025-01-02T00:00:00.000+0000"}`))
	f.Add([]byte(`{"deletedRecords":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		recs, _, err := parseDeleted(body)
		if err != nil {
			return
		}
		for _, r := range recs {
			if !validID(r.id) {
				t.Fatalf("accepted id %q", r.id)
			}
		}
	})
}

func FuzzTokenAndCursor(f *testing.F) {
	f.Add(encode(kindToken, changeToken{Entity: "Account", Sig: "s", HWM: 5, Seen: []string{acct(1) + "/4/d"}}))
	f.Add(encode(kindCursor, fetchCursor{Sig: "s", Mode: modeIncremental, HWM: 5, LastID: acct(1)}))
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, _, _ = decodeToken(raw, "Account", "s")
		_, _, _ = decodeCursor(raw, "Account", "s")
		var d docCursor
		_ = decode(kindCursor, raw, &d)
		_ = json.Valid(raw)
	})
}

// FuzzScanQueryPage holds the page scanner to json.Unmarshal: whatever
// scanQueryPage accepts, json.Unmarshal reads the same way.
func FuzzScanQueryPage(f *testing.F) {
	f.Add([]byte(`{"totalSize":2,"done":false,"nextRecordsUrl":"/services/data/v60.0/query/01g-2000","records":[{"attributes":{"type":"Account","url":"/x"},"Id":"001000000000001AAA","Name":"A \"b\"","NumberOfEmployees":12,"AnnualRevenue":1.50,"Parent":null}]}`))
	f.Add([]byte(`{"totalSize":0,"done":true,"records":[]}`))
	f.Add([]byte(`{"DONE":true,"records":null,"extra":[1,{"a":2}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := scanQueryPage(body)
		if err != nil {
			return
		}
		var want queryPage
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatalf("the scanner accepts what json.Unmarshal refuses (%v): %q", err, body)
		}
		if got.Done != want.Done || got.NextRecordsURL != want.NextRecordsURL || got.TotalSize != want.TotalSize || len(got.Records) != len(want.Records) {
			t.Fatalf("read differently: %+v vs %+v (%q)", got, want, body)
		}
		for i := range got.Records {
			if (got.Records[i] == nil) != (want.Records[i] == nil) || len(got.Records[i]) != len(want.Records[i]) {
				t.Fatalf("record %d differs: %v vs %v", i, got.Records[i], want.Records[i])
			}
			for k, v := range got.Records[i] {
				if !bytes.Equal(v, want.Records[i][k]) {
					t.Fatalf("record %d %s: %q vs %q", i, k, v, want.Records[i][k])
				}
			}
		}
	})
}
