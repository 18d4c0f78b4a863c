package mock

import (
	"context"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

func push(t *testing.T, c *Connector, chs ...sdk.Change) []sdk.ChangeResult {
	t.Helper()
	resp, err := c.Push(context.Background(), sdk.PushRequest{Changes: chs})
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	if len(resp.Results) != len(chs) {
		t.Fatalf("%d results for %d changes", len(resp.Results), len(chs))
	}
	for i, r := range resp.Results {
		if r.ChangeID != chs[i].ChangeID {
			t.Fatalf("result %d answers %q, want %q", i, r.ChangeID, chs[i].ChangeID)
		}
	}
	return resp.Results
}

func vals(kv ...any) map[string]sdk.Value {
	m := map[string]sdk.Value{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1].(sdk.Value)
	}
	return m
}

func TestPushCreate(t *testing.T) {
	s, path := newServer(t)
	c := newConnector(t, path, "dev")
	const clientID = "6F1C2B9E-1D2A-4C3B-9E8F-0A1B2C3D4E5F"
	res := push(t, c,
		sdk.Change{ChangeID: "c1", Op: sdk.OpCreate, Entity: "account", ID: clientID, Values: vals("name", sdk.String("Client Id"), "revenue", sdk.String("12.50"))},
		sdk.Change{ChangeID: "c2", Op: sdk.OpCreate, Entity: "account", ID: "tmp-1", Values: vals("name", sdk.String("Server Id"))},
		sdk.Change{ChangeID: "c3", Op: sdk.OpCreate, Entity: "account", ID: strings.ToLower(clientID), Values: vals("name", sdk.String("Again"))},
		sdk.Change{ChangeID: "c4", Op: sdk.OpCreate, Entity: "contact", ID: "tmp-2", Values: vals("lastname", sdk.String("Kid"), "parentaccountid", sdk.String(clientID))},
	)
	if res[0].Status != sdk.StatusApplied || res[0].ID != strings.ToLower(clientID) || res[0].Version == "" {
		t.Errorf("client id create: %+v", res[0])
	}
	if res[1].Status != sdk.StatusApplied || !isGUID(res[1].ID) || res[1].ID == "tmp-1" {
		t.Errorf("temp id create: %+v", res[1])
	}
	if res[2].Status != sdk.StatusConflict || res[2].Current == nil || res[2].Current.Values["name"].Str() != "Client Id" {
		t.Errorf("create of an existing id: %+v", res[2])
	}
	if res[3].Status != sdk.StatusApplied {
		t.Errorf("child create: %+v", res[3])
	}
	if n, _ := s.Count(context.Background(), "account"); n != 2 {
		t.Errorf("%d accounts", n)
	}
	r := fetchAll(t, c, sdk.FetchRequest{Entity: "account"})
	if got := r.rows[res[0].ID]; got.Version != res[0].Version || got.Values["revenue"].Str() != "12.50" {
		t.Errorf("fetched %+v, pushed version %s", got, res[0].Version)
	}
}

func TestPushUpdateAndDelete(t *testing.T) {
	s, path := newServer(t)
	ctx := context.Background()
	c := newConnector(t, path, "dev")
	created := push(t, c,
		sdk.Change{ChangeID: "a", Op: sdk.OpCreate, Entity: "account", ID: a1, Values: vals("name", sdk.String("One"), "city", sdk.String("Brno"))},
		sdk.Change{ChangeID: "b", Op: sdk.OpCreate, Entity: "account", ID: a2, Values: vals("name", sdk.String("Two"))},
	)
	v1, v2 := created[0].Version, created[1].Version

	res := push(t, c,
		sdk.Change{ChangeID: "u1", Op: sdk.OpUpdate, Entity: "account", ID: a1, BaseVersion: v1, Values: vals("city", sdk.String("Wien"))},
		sdk.Change{ChangeID: "u2", Op: sdk.OpUpdate, Entity: "account", ID: a1, BaseVersion: v1, Values: vals("city", sdk.String("Praha"))},
		sdk.Change{ChangeID: "u3", Op: sdk.OpUpdate, Entity: "account", ID: a3, BaseVersion: "1", Values: vals("city", sdk.String("X"))},
		sdk.Change{ChangeID: "d1", Op: sdk.OpDelete, Entity: "account", ID: a2, BaseVersion: "0"},
		sdk.Change{ChangeID: "d2", Op: sdk.OpDelete, Entity: "account", ID: a2, BaseVersion: v2},
		sdk.Change{ChangeID: "d3", Op: sdk.OpDelete, Entity: "account", ID: a2, BaseVersion: v2},
		sdk.Change{ChangeID: "u4", Op: sdk.OpUpdate, Entity: "account", ID: a2, BaseVersion: v2, Values: vals("city", sdk.String("Y"))},
	)
	tests := []struct {
		i       int
		status  sdk.Status
		deleted bool
	}{
		{0, sdk.StatusApplied, false},  // base matches
		{1, sdk.StatusConflict, false}, // base is now stale
		{2, sdk.StatusConflict, true},  // no such row
		{3, sdk.StatusConflict, false}, // stale delete
		{4, sdk.StatusApplied, false},  // delete
		{5, sdk.StatusApplied, false},  // already gone
		{6, sdk.StatusConflict, true},  // update of a deleted row
	}
	for _, tt := range tests {
		r := res[tt.i]
		if r.Status != tt.status || r.ServerDeleted != tt.deleted {
			t.Errorf("%s: %s deleted=%v, want %s deleted=%v (%v)", r.ChangeID, r.Status, r.ServerDeleted, tt.status, tt.deleted, r.Err)
		}
	}
	if res[0].Version == v1 || res[0].Version == "" {
		t.Errorf("update kept version %s", res[0].Version)
	}
	if cur := res[1].Current; cur == nil || cur.Version != res[0].Version || cur.Values["city"].Str() != "Wien" || cur.Values["name"].Str() != "One" {
		t.Errorf("conflict current %+v", cur)
	}
	n, _ := s.QueryInt(ctx, `SELECT count(*) FROM _tombstone WHERE entity = 'account' AND id = ?`, a2)
	if n != 1 {
		t.Errorf("%d tombstones for the deleted row", n)
	}
}

func TestPushIdempotent(t *testing.T) {
	s, path := newServer(t)
	ctx := context.Background()
	c := newConnector(t, path, "dev")
	batch := []sdk.Change{
		{ChangeID: "k1", Op: sdk.OpCreate, Entity: "account", ID: "tmp", Values: vals("name", sdk.String("Once"))},
		{ChangeID: "k2", Op: sdk.OpCreate, Entity: "account", ID: "tmp", Values: vals("nope", sdk.String("x"))},
	}
	first := push(t, c, batch...)
	clock, _ := s.Version(ctx)
	// The same batch again, from another device connection even: same
	// answers, nothing applied twice.
	again := push(t, newConnector(t, path, "dev"), batch...)
	for i := range first {
		f, a := first[i], again[i]
		if f.Status != a.Status || f.ID != a.ID || f.Version != a.Version || (f.Err == nil) != (a.Err == nil) {
			t.Errorf("change %s: first %+v, again %+v", f.ChangeID, f, a)
		}
	}
	if a := again[1]; a.Err == nil || a.Err.Kind != sdk.Permanent || !strings.Contains(a.Err.Message, "nope") {
		t.Errorf("replayed failure %+v", a.Err)
	}
	if n, _ := s.Count(ctx, "account"); n != 1 {
		t.Errorf("%d accounts after a repeated create", n)
	}
	if v, _ := s.Version(ctx); v != clock {
		t.Errorf("clock moved from %d to %d on a replay", clock, v)
	}
	// A repeated change id within one batch answers the first outcome.
	res := push(t, c,
		sdk.Change{ChangeID: "k3", Op: sdk.OpCreate, Entity: "account", Values: vals("name", sdk.String("Dup"))},
		sdk.Change{ChangeID: "k3", Op: sdk.OpCreate, Entity: "account", Values: vals("name", sdk.String("Dup"))},
	)
	if res[0].ID != res[1].ID {
		t.Errorf("duplicate change id in a batch: %s vs %s", res[0].ID, res[1].ID)
	}
	// A replayed conflict carries the row as it is now.
	id := first[0].ID
	conflict := sdk.Change{ChangeID: "k4", Op: sdk.OpUpdate, Entity: "account", ID: id, BaseVersion: "0", Values: vals("city", sdk.String("x"))}
	push(t, c, conflict)
	must(t, s.Exec(ctx, `UPDATE account SET city = 'Moved' WHERE accountid = '`+id+`'`))
	r := push(t, c, conflict)[0]
	if r.Status != sdk.StatusConflict || r.Current == nil || r.Current.Values["city"].Str() != "Moved" {
		t.Errorf("replayed conflict %+v", r)
	}
}

func TestPushFailures(t *testing.T) {
	_, path := newServer(t)
	c := newConnector(t, path, "dev")
	base := push(t, c, sdk.Change{ChangeID: "base", Op: sdk.OpCreate, Entity: "account", ID: a1, Values: vals("name", sdk.String("Base"))})[0]
	tests := []struct {
		name string
		ch   sdk.Change
		msg  string
	}{
		{"unknown entity", sdk.Change{Op: sdk.OpCreate, Entity: "nope", Values: vals("name", sdk.String("x"))}, "unknown entity"},
		{"unknown field", sdk.Change{Op: sdk.OpCreate, Entity: "account", Values: vals("name", sdk.String("x"), "nope", sdk.Int(1))}, "no field"},
		{"wrong type", sdk.Change{Op: sdk.OpCreate, Entity: "account", Values: vals("name", sdk.Int(5))}, "cannot be stored"},
		{"required missing", sdk.Change{Op: sdk.OpCreate, Entity: "account", Values: vals("city", sdk.String("x"))}, "required"},
		{"required null", sdk.Change{Op: sdk.OpUpdate, Entity: "account", ID: a1, BaseVersion: base.Version, Values: vals("name", sdk.Null())}, "required"},
		{"too long", sdk.Change{Op: sdk.OpCreate, Entity: "account", Values: vals("name", sdk.String(strings.Repeat("é", 161)))}, "at most 160"},
		{"bad decimal", sdk.Change{Op: sdk.OpCreate, Entity: "account", Values: vals("name", sdk.String("x"), "revenue", sdk.String("12,5"))}, "decimal"},
		{"bad choice", sdk.Change{Op: sdk.OpCreate, Entity: "account", Values: vals("name", sdk.String("x"), "industrycode", sdk.Int(999))}, "choices"},
		{"bad lookup", sdk.Change{Op: sdk.OpCreate, Entity: "contact", Values: vals("lastname", sdk.String("x"), "parentaccountid", sdk.String("not-a-guid"))}, "GUID"},
		{"missing parent", sdk.Change{Op: sdk.OpCreate, Entity: "contact", Values: vals("lastname", sdk.String("x"), "parentaccountid", sdk.String(a4))}, "does not exist"},
		{"key in values", sdk.Change{Op: sdk.OpCreate, Entity: "account", Values: vals("name", sdk.String("x"), "accountid", sdk.String(a2))}, "key"},
		{"unknown op", sdk.Change{Op: 9, Entity: "account"}, "operation"},
		{"update without id", sdk.Change{Op: sdk.OpUpdate, Entity: "account", BaseVersion: "1"}, "no row id"},
		{"invalid text", sdk.Change{Op: sdk.OpCreate, Entity: "account", Values: vals("name", sdk.String("\xff"))}, "UTF-8"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.ch.ChangeID = "f" + string(rune('a'+i))
			// A failing change does not stop the batch.
			ok := sdk.Change{ChangeID: tt.ch.ChangeID + "-ok", Op: sdk.OpCreate, Entity: "account", Values: vals("name", sdk.String("fine"))}
			res := push(t, c, tt.ch, ok)
			r := res[0]
			if r.Status != sdk.StatusFailed || r.Err == nil || r.Err.Kind != sdk.Permanent || !strings.Contains(r.Err.Message, tt.msg) {
				t.Errorf("got %s %v, want a permanent failure about %q", r.Status, r.Err, tt.msg)
			}
			if res[1].Status != sdk.StatusApplied {
				t.Errorf("the next change: %s %v", res[1].Status, res[1].Err)
			}
		})
	}
	if r := push(t, c, sdk.Change{Op: sdk.OpCreate, Entity: "account"})[0]; r.Status != sdk.StatusFailed {
		t.Errorf("a change without an id: %+v", r)
	}
}

// A constraint an admin added fails the change it refuses, not the batch.
func TestPushConstraintFailsOneChange(t *testing.T) {
	s, path := newServer(t)
	ctx := context.Background()
	must(t, s.Exec(ctx, `CREATE TRIGGER no_evil BEFORE INSERT ON account WHEN NEW.name = 'evil'
		BEGIN SELECT RAISE(ABORT, 'no evil accounts'); END`))
	c := newConnector(t, path, "dev")
	res := push(t, c,
		sdk.Change{ChangeID: "1", Op: sdk.OpCreate, Entity: "account", Values: vals("name", sdk.String("good"))},
		sdk.Change{ChangeID: "2", Op: sdk.OpCreate, Entity: "account", Values: vals("name", sdk.String("evil"))},
		sdk.Change{ChangeID: "3", Op: sdk.OpCreate, Entity: "account", Values: vals("name", sdk.String("fine"))},
	)
	if res[0].Status != sdk.StatusApplied || res[1].Status != sdk.StatusFailed || res[2].Status != sdk.StatusApplied {
		t.Fatalf("statuses %s %s %s (%v)", res[0].Status, res[1].Status, res[2].Status, res[1].Err)
	}
	if n, _ := s.Count(ctx, "account"); n != 2 {
		t.Errorf("%d accounts", n)
	}
}
