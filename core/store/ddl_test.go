package store

import (
	"regexp"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

func TestEnsureEntityCreatesTypedTable(t *testing.T) {
	s, path := openStore(t)
	if !ensure(t, s, assetEnt, nil) {
		t.Error("a new entity must report resync")
	}
	h := openHost(t, path)
	got := map[string]string{}
	for _, r := range h.rows("SELECT name, type FROM pragma_table_info('asset')") {
		got[r[0]] = r[1]
	}
	want := map[string]string{
		"assetid": "TEXT", "label": "TEXT", "count": "INTEGER", "price": "TEXT", "weight": "REAL",
		"active": "INTEGER", "seen": "TEXT", "tag": "TEXT", "owner": "TEXT", "kind": "INTEGER",
		"photo": "BLOB", "_fs_version": "TEXT",
	}
	if len(got) != len(want) {
		t.Errorf("columns %v, want %v", got, want)
	}
	for c, typ := range want {
		if got[c] != typ {
			t.Errorf("column %s has type %q, want %q", c, got[c], typ)
		}
	}
	st := state(t, s, "asset")
	if st.Mode != ModeNew || st.Token != nil || st.Cursor != nil {
		t.Errorf("state of a new entity = %+v", st)
	}
}

func TestEnsureEntityGeneratesGUIDs(t *testing.T) {
	s, path := openStore(t)
	ensure(t, s, accountEnt, nil)
	h := openHost(t, path)
	h.exec("INSERT INTO account (name) VALUES ('a'); INSERT INTO account (name) VALUES ('b')")
	ids := h.rows("SELECT accountid FROM account ORDER BY name")
	guid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for _, r := range ids {
		if !guid.MatchString(r[0]) {
			t.Errorf("generated id %q is not a lower-case v4 GUID", r[0])
		}
	}
	if len(ids) != 2 || ids[0][0] == ids[1][0] {
		t.Errorf("ids %v: want two different ones", ids)
	}
	out := outbox(t, s)
	if len(out) != 2 || out[0].ID != ids[0][0] {
		t.Errorf("outbox %v does not capture the generated ids", out)
	}
}

func TestEnsureEntityRefusesBadNames(t *testing.T) {
	tests := []struct {
		name   string
		ent    sdk.Entity
		fields []string
		want   string
	}{
		{"reserved entity", sdk.Entity{Name: "_fs_outbox", PrimaryKey: "id"}, nil, "reserved"},
		{"reserved entity any case", sdk.Entity{Name: "_FS_x", PrimaryKey: "id"}, nil, "reserved"},
		{"sqlite entity", sdk.Entity{Name: "sqlite_master", PrimaryKey: "id"}, nil, "reserved"},
		{"empty entity", sdk.Entity{Name: "", PrimaryKey: "id"}, nil, "no name"},
		{"no key", sdk.Entity{Name: "a"}, nil, "no name"},
		{"reserved key", sdk.Entity{Name: "a", PrimaryKey: "_fs_version"}, nil, "reserved"},
		{"reserved field", sdk.Entity{Name: "a", PrimaryKey: "id", Fields: []sdk.Field{{Name: "_fs_version", Type: sdk.TypeString}}}, nil, "reserved"},
		{"NUL in field", sdk.Entity{Name: "a", PrimaryKey: "id", Fields: []sdk.Field{{Name: "x\x00y", Type: sdk.TypeString}}}, nil, "NUL"},
		{"comma in field", sdk.Entity{Name: "a", PrimaryKey: "id", Fields: []sdk.Field{{Name: "x,y", Type: sdk.TypeString}}}, nil, "comma"},
		{"field is the key", sdk.Entity{Name: "a", PrimaryKey: "id", Fields: []sdk.Field{{Name: "ID", Type: sdk.TypeString}}}, nil, "twice"},
		{"selected twice", accountEnt, []string{"name", "name"}, "twice"},
		{"unknown field", accountEnt, []string{"nope"}, "no field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openStore(t)
			_, err := s.EnsureEntity(bg, tt.ent, tt.fields)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("EnsureEntity: %v, want an error with %q", err, tt.want)
			}
			if len(s.Entities()) != 0 {
				t.Errorf("a refused entity was set up: %v", s.Entities())
			}
		})
	}
}

func TestEnsureEntityQuotesNames(t *testing.T) {
	s, path := openStore(t)
	ent := sdk.Entity{Name: `order "items"`, PrimaryKey: "key", Fields: []sdk.Field{
		{Name: "it's", Type: sdk.TypeString}, {Name: "select", Type: sdk.TypeInt},
	}}
	ensure(t, s, ent, nil)
	h := openHost(t, path)
	h.exec(`INSERT INTO "order ""items""" ("key", "it's", "select") VALUES ('k1', 'x', 1)`)
	h.exec(`UPDATE "order ""items""" SET "it's" = 'y' WHERE "key" = 'k1'`)
	out := outbox(t, s)
	if len(out) != 1 || out[0].Op != sdk.OpCreate || out[0].Entity != ent.Name {
		t.Fatalf("outbox %+v", out)
	}
	if r := getRow(t, s, ent.Name, "k1"); r == nil || r.Values["it's"].Str() != "y" {
		t.Errorf("row %+v", r)
	}
}

func TestEnsureEntityFieldSelection(t *testing.T) {
	s, path := openStore(t)
	if !ensure(t, s, accountEnt, []string{"name"}) {
		t.Fatal("new entity: want resync")
	}
	if _, err := s.BeginFull(bg, "account"); err != nil {
		t.Fatal(err)
	}
	apply(t, s, "account", pageOf(accountEnt, []string{"name"}, []row{{"a1", "v1", []sdk.Value{sdk.String("A")}}}, last("tok")), nil)
	if st := state(t, s, "account"); st.Mode != ModeReady || string(st.Token) != "tok" {
		t.Fatalf("state after download %+v", st)
	}
	h := openHost(t, path)
	cols := func() []string {
		var out []string
		for _, r := range h.rows("SELECT name FROM pragma_table_info('account')") {
			out = append(out, r[0])
		}
		return out
	}
	if got := cols(); !sameStrings(got, []string{"accountid", "name", "_fs_version"}) {
		t.Errorf("columns %v", got)
	}

	// The same selection again: nothing to do.
	if ensure(t, s, accountEnt, []string{"name"}) {
		t.Error("same selection again: want no resync")
	}
	if st := state(t, s, "account"); st.Mode != ModeReady || string(st.Token) != "tok" {
		t.Errorf("state after the same selection %+v", st)
	}

	// A wider selection: new columns, and the entity starts over.
	if !ensure(t, s, accountEnt, []string{"name", "city", "employees"}) {
		t.Error("changed selection: want resync")
	}
	if got := cols(); !sameStrings(got, []string{"accountid", "name", "city", "employees", "_fs_version"}) {
		t.Errorf("columns after widening %v", got)
	}
	if st := state(t, s, "account"); st.Mode != ModeNew || st.Token != nil || st.Cursor != nil {
		t.Errorf("state after widening %+v", st)
	}
	if h.count("account") != 1 {
		t.Error("widening the selection must keep the rows")
	}
	// The triggers know the new columns.
	h.exec("UPDATE account SET city = 'Oslo' WHERE accountid = 'a1'")
	out := outbox(t, s)
	if len(out) != 1 || !sameStrings(out[0].Fields, []string{"city"}) {
		t.Errorf("outbox after an edit of a new column %+v", out)
	}

	// Idempotent, also across a restart.
	if ensure(t, s, accountEnt, []string{"name", "city", "employees"}) {
		t.Error("second call: want no resync")
	}
	s.Close()
	s2 := reopen(t, path)
	if len(s2.Entities()) != 1 {
		t.Errorf("reopened store knows %v", s2.Entities())
	}
	if ensure(t, s2, accountEnt, []string{"name", "city", "employees"}) {
		t.Error("after reopen: want no resync")
	}
	if got := len(outbox(t, s2)); got != 1 {
		t.Errorf("outbox after reopen has %d changes, want 1", got)
	}
}

func TestEnsureEntityNoFields(t *testing.T) {
	s, path := openStore(t)
	ent := sdk.Entity{Name: "tag", PrimaryKey: "tagid"}
	ensure(t, s, ent, nil)
	h := openHost(t, path)
	h.exec("INSERT INTO tag (tagid) VALUES ('t1'); DELETE FROM tag")
	h.exec("INSERT INTO tag (tagid) VALUES ('t2')")
	out := outbox(t, s)
	if len(out) != 1 || out[0].ID != "t2" {
		t.Fatalf("outbox %+v", out)
	}
	s.Close()
	s2 := reopen(t, path)
	if got := len(outbox(t, s2)); got != 1 {
		t.Errorf("after reopen the outbox has %d changes", got)
	}
}
