package emulator

import (
	"strings"
	"testing"
)

const (
	acc1 = "00000000-0000-4000-8000-00000000a001"
	acc2 = "00000000-0000-4000-8000-00000000a002"
)

func TestConditionalWrites(t *testing.T) {
	e := newEnv(t, nil)
	e.create("accounts", `{"accountid":"`+acc1+`","name":"Contoso"}`)
	r := e.must(e.do("GET", "accounts("+acc1+")?$select=name", ""), 200)
	etag := r.header.Get("ETag")
	if etag == "" || etag != r.json(t)["@odata.etag"] {
		t.Fatalf("ETag %q vs body %v", etag, r.json(t)["@odata.etag"])
	}
	// Conditional GET.
	e.must(e.do("GET", "accounts("+acc1+")?$select=name", "", "If-None-Match", etag), 304)

	const mismatch = `{"error":{"code":"","message":"The version of the existing record doesn't match the RowVersion property provided."}}`
	r = e.must(e.do("PATCH", "accounts("+acc1+")", `{"name":"x"}`, "If-Match", `W/"1"`), 412)
	if string(r.body) != mismatch {
		t.Errorf("412 body %s", r.body)
	}
	r = e.must(e.do("PATCH", "accounts("+acc1+")", `{"name":"Contoso 2"}`, "If-Match", etag), 204)
	if r.header.Get("OData-EntityId") != e.url+"accounts("+acc1+")" {
		t.Errorf("OData-EntityId %q", r.header.Get("OData-EntityId"))
	}
	if r.header.Get("ETag") == etag {
		t.Error("version did not move")
	}
	r = e.must(e.do("DELETE", "accounts("+acc1+")", "", "If-Match", etag), 412)
	if string(r.body) != mismatch {
		t.Errorf("delete 412 body %s", r.body)
	}

	// Upsert: If-Match: * prevents create; If-None-Match: * prevents update.
	r = e.must(e.do("PATCH", "accounts("+acc2+")", `{"name":"nope"}`, "If-Match", "*"), 404)
	if string(r.body) != `{"error":{"code":"","message":"account With Id = `+acc2+` Does Not Exist"}}` {
		t.Errorf("404 body %s", r.body)
	}
	r = e.must(e.do("PATCH", "accounts("+acc1+")", `{"name":"nope"}`, "If-None-Match", "*"), 412)
	if !strings.Contains(string(r.body), "A record with matching key values already exists.") {
		t.Errorf("If-None-Match body %s", r.body)
	}
	e.must(e.do("PATCH", "accounts("+acc2+")", `{"name":"Upserted"}`, "If-None-Match", "*"), 204)
	e.must(e.do("GET", "accounts("+acc2+")", ""), 200)

	// Create: a client-chosen key; a duplicate is 412.
	r = e.must(e.do("POST", "accounts", `{"accountid":"`+acc1+`","name":"dup"}`), 412)
	if !strings.Contains(string(r.body), `"code":"0x80040237"`) {
		t.Errorf("duplicate create %s", r.body)
	}
	// return=representation.
	r = e.must(e.do("POST", "accounts?$select=name,creditlimit", `{"name":"Repr","creditlimit":12.3456}`, "Prefer", "return=representation"), 201)
	m := r.json(t)
	if m["name"] != "Repr" || m["creditlimit"].(float64) != 12.3456 || !strings.HasSuffix(m["@odata.context"].(string), "$metadata#accounts(name,creditlimit)/$entity") {
		t.Errorf("representation %s", r.body)
	}
	if r.header.Get("Preference-Applied") != "return=representation" {
		t.Errorf("Preference-Applied %q", r.header.Get("Preference-Applied"))
	}
	r = e.must(e.do("PATCH", "accounts("+acc2+")?$select=name", `{"name":"Patched"}`, "Prefer", "return=representation"), 200)
	if r.json(t)["name"] != "Patched" {
		t.Errorf("patch representation %s", r.body)
	}
	// Delete, then it is gone.
	e.must(e.do("DELETE", "accounts("+acc2+")", ""), 204)
	e.must(e.do("DELETE", "accounts("+acc2+")", ""), 404)
}

func TestWriteValidation(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name, body string
		status     int
		want       string
	}{
		{"unknown property", `{"nope":1}`, 400, "The property 'nope' does not exist on type 'Microsoft.Dynamics.CRM.account'"},
		{"lookup value", `{"_primarycontactid_value":"` + acc1 + `"}`, 400, "CRM do not support direct update of Entity Reference properties"},
		{"too long", `{"name":"` + strings.Repeat("x", 161) + `"}`, 400, "exceeded the maximum allowed length of '160'"},
		{"choice range", `{"industrycode":999}`, 400, "outside the valid range"},
		{"wrong type", `{"numberofemployees":"many"}`, 400, "Edm.Int32"},
		{"bind missing row", `{"primarycontactid@odata.bind":"/contacts(` + acc1 + `)"}`, 404, "contact With Id = " + acc1 + " Does Not Exist"},
		{"bind wrong set", `{"primarycontactid@odata.bind":"/accounts(` + acc1 + `)"}`, 400, "is not a contact"},
		{"not json", `{"name":`, 400, "not valid JSON"},
		{"deep insert", `{"primarycontactid":{"lastname":"x"}}`, 400, "deep insert"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "accounts", tc.body)
			if r.status != tc.status || !strings.Contains(string(r.body), tc.want) {
				t.Errorf("%d %s", r.status, r.body)
			}
		})
	}
}

func TestBindsAndCascade(t *testing.T) {
	e := newEnv(t, nil)
	e.create("accounts", `{"accountid":"`+acc1+`","name":"Parent"}`)
	con := e.create("contacts", `{"lastname":"Child","parentcustomerid_account@odata.bind":"/accounts(`+acc1+`)"}`)
	e.must(e.do("PATCH", "accounts("+acc1+")", `{"primarycontactid@odata.bind":"contacts(`+con+`)"}`), 204)
	opp := e.create("opportunities", `{"name":"Deal","parentaccountid@odata.bind":"`+e.url+`accounts(`+acc1+`)"}`)
	note := e.create("annotations", `{"subject":"n","objectid_account@odata.bind":"/accounts(`+acc1+`)"}`)
	m := e.must(e.do("GET", "contacts("+con+")?$select=_parentcustomerid_value,fullname", "", "Prefer", `odata.include-annotations="*"`), 200).json(t)
	if m["_parentcustomerid_value"] != acc1 || m["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] != "account" ||
		m["_parentcustomerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty"] != "parentcustomerid_account" || m["fullname"] != "Child" {
		t.Errorf("lookup annotations %v", m)
	}
	n := e.must(e.do("GET", "annotations("+note+")?$select=objecttypecode,_objectid_value", ""), 200).json(t)
	if n["objecttypecode"] != "account" {
		t.Errorf("objecttypecode %v", n)
	}
	// $ref clears and sets a single-valued navigation property.
	e.must(e.do("DELETE", "accounts("+acc1+")/primarycontactid/$ref", ""), 204)
	if v := e.must(e.do("GET", "accounts("+acc1+")?$select=_primarycontactid_value", ""), 200).json(t)["_primarycontactid_value"]; v != nil {
		t.Errorf("after $ref delete: %v", v)
	}
	e.must(e.do("PUT", "accounts("+acc1+")/primarycontactid/$ref", `{"@odata.id":"`+e.url+`contacts(`+con+`)"}`), 204)
	// Single property PUT, GET, $value.
	e.must(e.do("PUT", "accounts("+acc1+")/name", `{"value":"Renamed"}`), 204)
	if v := e.must(e.do("GET", "accounts("+acc1+")/name", ""), 200).json(t)["value"]; v != "Renamed" {
		t.Errorf("property %v", v)
	}
	if r := e.must(e.do("GET", "accounts("+acc1+")/name/$value", ""), 200); string(r.body) != "Renamed" {
		t.Errorf("$value %s", r.body)
	}
	// Deleting the account deletes its contact and note (parental) and
	// clears the opportunity's lookup.
	e.must(e.do("DELETE", "accounts("+acc1+")", ""), 204)
	e.must(e.do("GET", "contacts("+con+")", ""), 404)
	e.must(e.do("GET", "annotations("+note+")", ""), 404)
	o := e.must(e.do("GET", "opportunities("+opp+")?$select=_parentaccountid_value", ""), 200).json(t)
	if o["_parentaccountid_value"] != nil {
		t.Errorf("opportunity still linked: %v", o)
	}
	tomb, _ := e.srv.Store().QueryInt(t.Context(), `SELECT count(*) FROM _tombstone`)
	if tomb != 3 {
		t.Errorf("%d tombstones, want 3", tomb)
	}
}
