package emulator

import (
	"strings"
	"testing"
	"time"
)

// readAll follows nextLinks from path and returns the rows and the final
// deltaLink.
func (e *env) readAll(path string, prefer ...string) ([]map[string]any, string) {
	e.t.Helper()
	var rows []map[string]any
	for {
		r := e.must(e.do("GET", path, "", prefer...), 200)
		m := r.json(e.t)
		rows = append(rows, values(e.t, m)...)
		if next, ok := m["@odata.nextLink"].(string); ok {
			if m["@odata.deltaLink"] != nil {
				e.t.Fatal("a page with both links")
			}
			path = next
			continue
		}
		d, _ := m["@odata.deltaLink"].(string)
		return rows, d
	}
}

func TestChangeTracking(t *testing.T) {
	e := seeded(t, 7, nil)
	rows, delta := e.readAll("accounts?$select=name,numberofemployees", "Prefer", "odata.track-changes,odata.maxpagesize=3")
	if len(rows) != 7 || delta == "" {
		t.Fatalf("initial: %d rows, deltaLink %q", len(rows), delta)
	}
	if !strings.Contains(delta, "accounts?$select=name,numberofemployees&$deltatoken=") || !strings.Contains(delta, "%2103%2f01%2f2026%2012%3a00%3a00") {
		t.Errorf("deltaLink %s", delta)
	}
	r := e.must(e.do("GET", "accounts?$select=name", "", "Prefer", "odata.track-changes"), 200)
	if r.header.Get("Preference-Applied") != "odata.track-changes" {
		t.Errorf("Preference-Applied %q", r.header.Get("Preference-Applied"))
	}

	// Nothing changed: an empty delta and a new link.
	got, delta2 := e.readAll(delta)
	if len(got) != 0 || delta2 == "" {
		t.Fatalf("empty delta: %v %q", got, delta2)
	}

	// Two updates (one by plain SQL), one create, one delete.
	a, b, c := rows[0]["accountid"].(string), rows[1]["accountid"].(string), rows[2]["accountid"].(string)
	e.must(e.do("PATCH", "accounts("+a+")", `{"name":"Renamed"}`), 204)
	if err := e.srv.Store().Exec(t.Context(), `UPDATE account SET numberofemployees = 1 WHERE accountid = '`+b+`'`); err != nil {
		t.Fatal(err)
	}
	n := e.create("accounts", `{"name":"New one"}`)
	e.must(e.do("DELETE", "accounts("+c+")", ""), 204)

	cnt := e.must(e.do("GET", strings.Replace(delta, "accounts?$select=name,numberofemployees&", "accounts/$count?", 1), ""), 200)
	if string(cnt.body) != "4" {
		t.Errorf("delta $count %s", cnt.body)
	}
	m := e.must(e.do("GET", delta, ""), 200).json(t)
	if ctx, _ := m["@odata.context"].(string); !strings.HasSuffix(ctx, "$metadata#accounts(name,numberofemployees)/$delta") {
		t.Errorf("context %s", ctx)
	}
	vals := values(t, m)
	var ids []string
	for _, v := range vals {
		if v["reason"] == "deleted" {
			ids = append(ids, "-"+v["id"].(string))
			if !strings.HasSuffix(v["@odata.context"].(string), "$metadata#accounts/$deletedEntity") {
				t.Errorf("deleted entity %v", v)
			}
			continue
		}
		ids = append(ids, v["accountid"].(string))
	}
	want := []string{a, b, n, "-" + c} // changes in version order, then deletes
	if strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Errorf("delta\n got %v\nwant %v", ids, want)
	}
	// The same changes paged 2 at a time.
	paged, delta3 := e.readAll(delta, "Prefer", "odata.maxpagesize=2")
	if len(paged) != 4 || delta3 == "" {
		t.Errorf("paged delta: %d rows", len(paged))
	}
	got, _ = e.readAll(delta3)
	if len(got) != 0 {
		t.Errorf("delta after delta: %v", got)
	}

	// Refused options.
	for _, o := range []string{"$filter=name%20eq%20'x'", "$orderby=accountid", "$top=1", "$expand=primarycontactid"} {
		r := e.do("GET", "accounts?$select=name&"+o, "", "Prefer", "odata.track-changes")
		name := o[:strings.IndexByte(o, '=')]
		if r.status != 400 || !strings.Contains(string(r.body), `The \"`+name+`\" query parameter isn't supported when Change Tracking is enabled.`) {
			t.Errorf("%s: %d %s", o, r.status, r.body)
		}
	}
	if r := e.do("GET", "businessunits?$select=name", "", "Prefer", "odata.track-changes"); r.status != 400 {
		t.Errorf("untracked entity: %d", r.status)
	}

	// Expiry: by age, and by the switch.
	e.clock.Add(DefaultDeltaTokenLifetime + time.Hour)
	e.token = e.fetchToken(DefaultClientID, DefaultClientSecret)
	r = e.do("GET", delta3, "")
	if r.status != 400 || !strings.Contains(string(r.body), `"code":"0x80044352"`) {
		t.Errorf("old token: %d %s", r.status, r.body)
	}
	_, fresh := e.readAll("accounts?$select=name", "Prefer", "odata.track-changes")
	e.must(e.do("GET", fresh, ""), 200)
	if err := e.srv.ExpireDeltaTokens(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", fresh, ""); r.status != 400 || !strings.Contains(string(r.body), "0x80044352") {
		t.Errorf("expired by switch: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "accounts?$select=name&$deltatoken=garbage", ""); r.status != 400 {
		t.Errorf("garbage token: %d", r.status)
	}
}
