package emulator

import (
	"encoding/json"
	"testing"
)

func FuzzFetchXML(f *testing.F) {
	for _, seed := range []string{
		`<fetch version="1.0" mapping="logical" count="2" page="1"><entity name="account"><all-attributes/><order attribute="accountid" descending="false"/></entity></fetch>`,
		`<fetch><entity name="contact"><filter type="or"><condition attribute="ownerid" operator="eq-userid"/><filter type="and"><condition entityname="l1" attribute="accountid" operator="not-null"/></filter></filter><link-entity name="account" from="accountid" to="parentcustomerid" link-type="outer" alias="l1"></link-entity></entity></fetch>`,
		`<fetch page="2" paging-cookie="&lt;cookie page=&#34;1&#34;&gt;&lt;accountid last=&#34;{9F8E7D6C-5B4A-4938-8271-6A5B4C3D2E1F}&#34; /&gt;&lt;/cookie&gt;"><entity name="account"/></fetch>`,
		`<fetch><entity name="account"><filter><condition attribute="name" operator="in"><value>a</value></condition></filter></entity></fetch>`,
		`<fetch><entity name="fs_entity01"><filter><condition attribute="fs_date" operator="last-x-days" value="3"/></filter></entity></fetch>`,
		`<fetch`, `<<<`, "",
	} {
		f.Add(seed)
	}
	s, _ := newTestServer(f, Options{RequestLimit: -1})
	f.Fuzz(func(t *testing.T, x string) {
		b, _ := json.Marshal(fetchRequest{FetchXml: x})
		r := do(t, s, adminAuth, "POST", api("Fetch"), string(b))
		switch r.status {
		case 200:
			var res fetchResponse
			if err := json.Unmarshal([]byte(r.body), &res); err != nil {
				t.Fatalf("bad JSON: %v", err)
			}
		case 400:
			var e errorBody
			if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error.Code != codeInvalidFetchXml {
				t.Fatalf("400 without InvalidFetchXml: %s", r.body)
			}
		default:
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})
}

func FuzzRequestBodies(f *testing.F) {
	methods := []string{"CreateMultiple", "UpdateMultiple", "DeleteMultiple", "GetMaxRowVersion", "RetrieveChanges", "Execute", "Fetch"}
	for i, b := range []string{
		`{"Entity":"account","Records":[{"Id":"a0000000-0000-4000-8000-000000000001","RequestId":"r","Attributes":{"name":"x","revenue":1.5}}]}`,
		`{"Entity":"account","Records":[{"Id":"a0000000-0000-4000-8000-000000000001","RowVersion":3,"Attributes":{"name":null}}]}`,
		`{"Entity":"account","Records":[{"Id":"a0000000-0000-4000-8000-000000000001"}]}`,
		`{"Entities":["account","nope"]}`,
		`{"Entity":"account","SinceRowVersion":-1,"Count":9999,"PagingCookie":"rc1:x"}`,
		`{"RequestName":"RetrieveDocument","Parameters":{"Id":"a0000000-0000-4000-8000-000000000001"}}`,
		`{"FetchXml":1}`,
		`{"Entity":"annotation","Records":[{"Attributes":{"documentbody":"!!","objectid":{"Id":"x","LogicalName":"account"}}}]}`,
	} {
		f.Add(uint8(i), b)
	}
	s, _ := newTestServer(f, Options{RequestLimit: -1})
	f.Fuzz(func(t *testing.T, m uint8, body string) {
		r := do(t, s, adminAuth, "POST", api(methods[int(m)%len(methods)]), body)
		if r.status >= 500 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(r.body), &v); err != nil {
			t.Fatalf("bad JSON %q: %v", r.body, err)
		}
	})
}
