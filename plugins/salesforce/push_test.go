package salesforce

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
	"sync"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// memRow is a row of memStore.
type memRow struct {
	id, name, ext, change, parent string
	stamp                         int64
}

// memStore answers composite requests of the shapes push sends (queries by
// Id, external id or change id; collections upsert, create, update,
// delete) over an in-memory Account table, and counts composite calls.
type memStore struct {
	mu        sync.Mutex
	rows      map[string]*memRow
	next      int
	clock     int64
	calls     int
	bodies    [][]byte
	failNames map[string]string // Name → error code a write of it answers
}

func newMemStore() *memStore {
	return &memStore{rows: map[string]*memRow{}, clock: 1_750_000_000_000, failNames: map[string]string{}}
}

var (
	reFrom   = regexp.MustCompile(`FROM (\w+) WHERE (\w+) IN \(([^)]*)\)`)
	reQuoted = regexp.MustCompile(`'((?:[^'\\]|\\.)*)'`)
)

func (m *memStore) tick() int64 { m.clock += 1000; return m.clock }

func (m *memStore) rowJSON(r *memRow) map[string]any {
	return map[string]any{"attributes": map[string]string{"type": "Account"}, "Id": r.id, "SystemModstamp": stampText(r.stamp), "Name": r.name,
		"FieldsyncId__c": nullable(r.ext), "FieldsyncChangeId__c": nullable(r.change), "ParentId": nullable(r.parent), "IsDeleted": false}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (m *memStore) handle(req compositeRequest) (int, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	b, _ := json.Marshal(req)
	m.bodies = append(m.bodies, b)
	var out []map[string]any
	for _, sub := range req.CompositeRequest {
		status, body := m.sub(sub)
		out = append(out, map[string]any{"body": body, "httpHeaders": map[string]string{}, "httpStatusCode": status, "referenceId": sub.ReferenceID})
	}
	j, _ := json.Marshal(map[string]any{"compositeResponse": out})
	return 200, string(j)
}

func (m *memStore) sub(sub subrequest) (int, any) {
	u, _ := url.Parse(sub.URL)
	switch {
	case sub.Method == "GET":
		q := u.Query().Get("q")
		mm := reFrom.FindStringSubmatch(q)
		if mm == nil {
			return 400, []sfError{{ErrorCode: "MALFORMED_QUERY", Message: q}}
		}
		keys := map[string]bool{}
		for _, k := range reQuoted.FindAllStringSubmatch(mm[3], -1) {
			keys[k[1]] = true
		}
		var recs []map[string]any
		for _, r := range m.rows {
			v := map[string]string{"Id": r.id, "FieldsyncId__c": r.ext, "FieldsyncChangeId__c": r.change}[mm[2]]
			if keys[v] {
				recs = append(recs, m.rowJSON(r))
			}
		}
		return 200, map[string]any{"totalSize": len(recs), "done": true, "records": recs}
	case sub.Method == "DELETE":
		var res []collectionResult
		for _, id := range strings.Split(u.Query().Get("ids"), ",") {
			if m.rows[id] == nil {
				res = append(res, collectionResult{ID: id, Errors: []sfError{{StatusCode: "ENTITY_IS_DELETED", Message: "entity is deleted"}}})
				continue
			}
			delete(m.rows, id)
			res = append(res, collectionResult{ID: id, Success: true})
		}
		return 200, res
	}
	raw, _ := json.Marshal(sub.Body)
	var body struct {
		Records []map[string]any `json:"records"`
	}
	_ = json.Unmarshal(raw, &body)
	var res []collectionResult
	for _, rec := range body.Records {
		name, _ := rec["Name"].(string)
		if code := m.failNames[name]; code != "" {
			res = append(res, collectionResult{Errors: []sfError{{StatusCode: code, Message: "refused", Fields: []string{"Name"}}}})
			continue
		}
		var r *memRow
		switch {
		case sub.Method == "PATCH" && strings.HasSuffix(u.Path, "/FieldsyncId__c"):
			for _, x := range m.rows {
				if x.ext == rec["FieldsyncId__c"] {
					r = x
				}
			}
			if r == nil {
				m.next++
				r = &memRow{id: fmt.Sprintf("001%012dXYZ", m.next), ext: rec["FieldsyncId__c"].(string)}
				m.rows[r.id] = r
			}
		case sub.Method == "POST":
			m.next++
			r = &memRow{id: fmt.Sprintf("001%012dXYZ", m.next)}
			m.rows[r.id] = r
		default:
			id, _ := rec["Id"].(string)
			if r = m.rows[id]; r == nil {
				res = append(res, collectionResult{Errors: []sfError{{StatusCode: "ENTITY_IS_DELETED"}}})
				continue
			}
		}
		if name != "" {
			r.name = name
		}
		if c, ok := rec["FieldsyncChangeId__c"].(string); ok {
			r.change = c
		}
		if p, ok := rec["ParentId"].(string); ok {
			r.parent = p
		}
		if ref, ok := rec["Parent"].(map[string]any); ok {
			for _, x := range m.rows {
				if x.ext == ref["FieldsyncId__c"] {
					r.parent = x.id
				}
			}
		}
		r.stamp = m.tick()
		res = append(res, collectionResult{ID: r.id, Success: true})
	}
	return 200, res
}

func pushFake(t *testing.T, describe string) (*fakeOrg, *memStore, *Connector) {
	f := newFakeOrg(t)
	if describe != "" {
		f.describe = describe
	}
	m := newMemStore()
	f.composite = m.handle
	return f, m, f.connect()
}

func push(t *testing.T, c *Connector, changes ...sdk.Change) []sdk.ChangeResult {
	t.Helper()
	resp, err := c.Push(context.Background(), sdk.PushRequest{Changes: changes})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Results
}

func create(cid, tmp, name string) sdk.Change {
	return sdk.Change{ChangeID: cid, Op: sdk.OpCreate, Entity: "Account", ID: tmp, Values: map[string]sdk.Value{"Name": sdk.String(name)}}
}

func TestPushGoldenBodies(t *testing.T) {
	f, m, c := pushFake(t, "")
	m.rows[acct(1)] = &memRow{id: acct(1), name: "old", stamp: 100}
	m.rows[acct(2)] = &memRow{id: acct(2), name: "gone soon", stamp: 200}
	child := create("c2", "tmp-child", "Child")
	child.Values["ParentId"] = sdk.String("tmp-parent")
	child.Values["AnnualRevenue"] = sdk.String("12.50")
	res := push(t, c,
		create("c1", "tmp-parent", "Parent"),
		child,
		sdk.Change{ChangeID: "c3", Op: sdk.OpUpdate, Entity: "Account", ID: acct(1), BaseVersion: "100", Values: map[string]sdk.Value{"Name": sdk.String("new")}},
		sdk.Change{ChangeID: "c4", Op: sdk.OpDelete, Entity: "Account", ID: acct(2), BaseVersion: "200"},
	)
	for i, r := range res {
		if r.Status != sdk.StatusApplied {
			t.Errorf("change %d: %+v", i, r)
		}
	}
	if p := m.rows[res[1].ID]; p == nil || p.parent != res[0].ID {
		t.Errorf("child's parent not resolved by external id: %+v", p)
	}
	if res[2].Version != version(m.rows[acct(1)].stamp) || m.rows[acct(1)].change != "c3" {
		t.Errorf("update answered %+v; row %+v", res[2], m.rows[acct(1)])
	}
	if m.calls != 3 {
		t.Errorf("%d composite calls, want 3 (look-up, write, read-back)", m.calls)
	}
	// The exact bytes sent, indented for reading.
	n := 0
	for _, r := range f.log() {
		if r.Path != "/services/data/v60.0/composite" {
			continue
		}
		n++
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, []byte(r.Body), "", "  "); err != nil {
			t.Fatal(err)
		}
		golden(t, fmt.Sprintf("push_mixed_%d.json", n), pretty.Bytes())
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs from the golden file:\n%s", name, got)
	}
}

func TestPushConflictsAndIdempotency(t *testing.T) {
	_, m, c := pushFake(t, "")
	// Create twice: one row, same id and version, no second write.
	first := push(t, c, create("c1", "tmp-1", "A"))[0]
	calls := m.calls
	again := push(t, c, create("c1", "tmp-1", "A"))[0]
	if again.Status != sdk.StatusApplied || again.ID != first.ID || again.Version != first.Version || len(m.rows) != 1 {
		t.Errorf("repeated create: first %+v then %+v (%d rows)", first, again, len(m.rows))
	}
	if m.calls-calls != 1 {
		t.Errorf("repeated create took %d calls, want the look-up alone", m.calls-calls)
	}
	// Update twice: the repeat finds its own change id and answers the first version.
	upd := sdk.Change{ChangeID: "c2", Op: sdk.OpUpdate, Entity: "Account", ID: first.ID, BaseVersion: first.Version, Values: map[string]sdk.Value{"Name": sdk.String("B")}}
	u1 := push(t, c, upd)[0]
	u2 := push(t, c, upd)[0]
	if u1.Status != sdk.StatusApplied || u2.Status != sdk.StatusApplied || u1.Version != u2.Version || u1.Version == first.Version {
		t.Errorf("repeated update: %+v then %+v", u1, u2)
	}
	// Another writer moves the row: a stale update is a conflict with the server's row.
	m.rows[first.ID].name, m.rows[first.ID].change, m.rows[first.ID].stamp = "server", "other", m.tick()
	stale := sdk.Change{ChangeID: "c3", Op: sdk.OpUpdate, Entity: "Account", ID: first.ID, BaseVersion: u1.Version, Values: map[string]sdk.Value{"Name": sdk.String("C")}}
	r := push(t, c, stale)[0]
	if r.Status != sdk.StatusConflict || r.Current == nil || r.Current.Values["Name"].Str() != "server" || r.Current.Version != version(m.rows[first.ID].stamp) {
		t.Errorf("stale update: %+v", r)
	}
	staleDel := sdk.Change{ChangeID: "c4", Op: sdk.OpDelete, Entity: "Account", ID: first.ID, BaseVersion: u1.Version}
	if r := push(t, c, staleDel)[0]; r.Status != sdk.StatusConflict || r.Current == nil {
		t.Errorf("stale delete: %+v", r)
	}
	// Gone: update conflicts with ServerDeleted, delete applies.
	delete(m.rows, first.ID)
	gone := stale
	gone.ChangeID = "c5"
	if r := push(t, c, gone)[0]; r.Status != sdk.StatusConflict || !r.ServerDeleted || r.Current != nil {
		t.Errorf("update of a deleted row: %+v", r)
	}
	if r := push(t, c, sdk.Change{ChangeID: "c6", Op: sdk.OpDelete, Entity: "Account", ID: first.ID}); r[0].Status != sdk.StatusApplied {
		t.Errorf("delete of a deleted row: %+v", r[0])
	}
}

func TestPushErrorsPerChange(t *testing.T) {
	_, m, c := pushFake(t, "")
	m.failNames["locked"] = "UNABLE_TO_LOCK_ROW"
	m.failNames["toolong"] = "STRING_TOO_LONG"
	res := push(t, c,
		create("c1", "t1", "fine"),
		create("c2", "t2", "locked"),
		create("c3", "t3", "toolong"),
		sdk.Change{ChangeID: "c4", Op: sdk.OpCreate, Entity: "Account", ID: "t4", Values: map[string]sdk.Value{"Nope": sdk.Int(1)}},
		sdk.Change{ChangeID: "c5", Op: sdk.OpCreate, Entity: "Account", ID: "t5", Values: map[string]sdk.Value{"Name": sdk.Int(1)}},
		sdk.Change{ChangeID: "c6", Op: sdk.OpCreate, Entity: "Account", ID: "t6", Values: map[string]sdk.Value{"SystemModstamp": sdk.Int(1)}},
		sdk.Change{ChangeID: "c7", Op: sdk.Op(99), Entity: "Account", ID: "t7"},
		sdk.Change{ChangeID: "c8", Op: sdk.OpCreate, Entity: "Nope", ID: "t8"},
	)
	want := []struct {
		status sdk.Status
		kind   sdk.ErrorKind
	}{{sdk.StatusApplied, ""}, {sdk.StatusFailed, sdk.Retryable}, {sdk.StatusFailed, sdk.Permanent},
		{sdk.StatusFailed, sdk.Permanent}, {sdk.StatusFailed, sdk.Permanent}, {sdk.StatusFailed, sdk.Permanent},
		{sdk.StatusFailed, sdk.Permanent}, {sdk.StatusFailed, sdk.Permanent}}
	for i, w := range want {
		r := res[i]
		if r.Status != w.status || (r.Err != nil && r.Err.Kind != w.kind) || r.ChangeID != fmt.Sprintf("c%d", i+1) {
			t.Errorf("change %d: %+v (err %v), want %s %s", i+1, r, r.Err, w.status, w.kind)
		}
	}
}

func TestPushRefusesCreatesWithoutTrace(t *testing.T) {
	d := strings.Replace(accountDescribe, `"externalId":true`, `"externalId":false`, 1)
	d = strings.Replace(d, `{"name":"FieldsyncChangeId__c","type":"string","length":255,"nillable":true,"createable":true,"updateable":true}`, `{"name":"Other__c","type":"string","length":255,"nillable":true,"createable":true,"updateable":true}`, 1)
	_, m, c := pushFake(t, d)
	r := push(t, c, create("c1", "t1", "x"))[0]
	if r.Status != sdk.StatusFailed || r.Err.Kind != sdk.Permanent || !strings.Contains(r.Err.Message, "duplicate") {
		t.Errorf("create without external id or change id field: %+v", r)
	}
	if m.calls != 0 {
		t.Errorf("%d calls for a refused create", m.calls)
	}
}

func TestPushChangeIDCreates(t *testing.T) {
	d := strings.Replace(accountDescribe, `"externalId":true`, `"externalId":false`, 1)
	_, m, c := pushFake(t, d)
	first := push(t, c, create("c1", "t1", "x"))[0]
	again := push(t, c, create("c1", "t1", "x"))[0]
	if first.Status != sdk.StatusApplied || again.ID != first.ID || again.Version != first.Version || len(m.rows) != 1 {
		t.Errorf("change-id create twice: %+v, %+v, %d rows", first, again, len(m.rows))
	}
	if lookup, _ := url.QueryUnescape(string(m.bodies[0])); !strings.Contains(lookup, "FieldsyncChangeId__c IN ('c1')") {
		t.Errorf("look-up body %s", m.bodies[0])
	}
}

// TestPushAPICalls measures API calls per 10,000 changes: creates, then
// updates of them (look-up, write and read-back composites, 1000 records
// each).
func TestPushAPICalls(t *testing.T) {
	f, m, c := pushFake(t, "")
	const n = 10000
	changes := make([]sdk.Change, n)
	for i := range changes {
		changes[i] = create(fmt.Sprintf("c%d", i), fmt.Sprintf("t%d", i), fmt.Sprintf("n%d", i))
	}
	before := f.dataCalls()
	res := push(t, c, changes...)
	creates := f.dataCalls() - before
	for i := range changes {
		changes[i] = sdk.Change{ChangeID: fmt.Sprintf("u%d", i), Op: sdk.OpUpdate, Entity: "Account", ID: res[i].ID, BaseVersion: res[i].Version, Values: map[string]sdk.Value{"Name": sdk.String("x")}}
	}
	before = f.dataCalls()
	res = push(t, c, changes...)
	updates := f.dataCalls() - before
	for i, r := range res {
		if r.Status != sdk.StatusApplied {
			t.Fatalf("update %d: %+v", i, r)
		}
	}
	t.Logf("API calls per %d changes: creates %d, updates %d (composites %d)", n, creates, updates, m.calls)
	if creates > 50 || updates > 50 {
		t.Errorf("creates took %d calls and updates %d; the aim is at most 50 per 10,000", creates, updates)
	}
}
