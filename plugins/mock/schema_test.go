package mock

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
	"github.com/hashicorp/go-hclog"
)

func TestDefaultModel(t *testing.T) {
	_, path := newServer(t)
	c := newConnector(t, path, "dev")
	ctx := context.Background()
	schema, err := c.Schema(ctx)
	must(t, err)
	must(t, schema.Validate())
	names := []string{}
	for _, e := range schema.Entities {
		names = append(names, e.Name)
	}
	if !slices.Equal(names, []string{"account", "contact", "opportunity"}) {
		t.Fatalf("entities %v", names)
	}
	acc := schema.Entity("account")
	if len(acc.Fields) != 10 || acc.PrimaryKey != "accountid" || !acc.Capabilities.Incremental || !acc.Capabilities.Documents {
		t.Errorf("account %+v", acc)
	}
	if ch := acc.Field("industrycode").Choices; len(ch) == 0 {
		t.Error("industrycode has no choices")
	}
	con := schema.Entity("contact")
	if f := con.Field("parentaccountid"); f == nil || f.Type != sdk.TypeLookup || f.Target != "account" || len(con.Relations) != 1 {
		t.Errorf("contact %+v", con)
	}
	// The schema is the caller's to change.
	schema.Entities[0].Fields[0].Name = "changed"
	again, _ := c.Schema(ctx)
	if again.Entities[0].Fields[0].Name != "name" {
		t.Error("Schema returned shared state")
	}
	info, err := c.Info(ctx)
	must(t, err)
	for _, cap := range []sdk.Capability{sdk.CapDocuments, sdk.CapNativeDeletes, sdk.CapClientIDs, sdk.CapServerSideFilters} {
		if !info.Has(cap) {
			t.Errorf("missing capability %s", cap)
		}
	}
	if info.Name != "mock" {
		t.Errorf("name %q", info.Name)
	}
}

func TestDefineEntity(t *testing.T) {
	s, path := newServer(t)
	ctx := context.Background()
	c := newConnector(t, path, "dev")
	fetchAll(t, c, sdk.FetchRequest{Entity: "account"}) // the connector caches the schema

	visit := sdk.Entity{Name: "visit", PrimaryKey: "visitid", Fields: []sdk.Field{
		{Name: "accountid", Type: sdk.TypeLookup, Target: "account"},
		{Name: "subject", Type: sdk.TypeString, Required: true},
		{Name: "photo", Type: sdk.TypeBinary},
		{Name: "guid", Type: sdk.TypeGUID},
	}, Relations: []sdk.Relationship{{Name: "visit_account", Field: "accountid", Parent: "account"}}}
	must(t, s.DefineEntity(ctx, visit))
	must(t, s.Seed(ctx, SeedOptions{Accounts: 3}))
	must(t, s.SeedEntity(ctx, "visit", 20, 1))
	r := fetchAll(t, c, sdk.FetchRequest{Entity: "visit"})
	if len(r.rows) != 20 {
		t.Fatalf("%d visits", len(r.rows))
	}
	for _, rec := range r.rows {
		if !isGUID(rec.Values["accountid"].Str()) || rec.Values["subject"].IsNull() {
			t.Fatalf("visit %+v", rec)
		}
	}
	// Extend it: a new field; existing fields stay.
	must(t, s.DefineEntity(ctx, sdk.Entity{Name: "visit", PrimaryKey: "visitid", Fields: []sdk.Field{{Name: "duration", Type: sdk.TypeInt}}}))
	schema, _ := c.Schema(ctx)
	if v := schema.Entity("visit"); v == nil || len(v.Fields) != 5 || v.Fields[4].Name != "duration" {
		t.Fatalf("extended visit %+v", v)
	}
	res := push(t, c, sdk.Change{ChangeID: "v", Op: sdk.OpCreate, Entity: "visit", Values: vals("subject", sdk.String("s"), "duration", sdk.Int(30), "photo", sdk.Bytes([]byte{1, 2}))})
	if res[0].Status != sdk.StatusApplied {
		t.Fatalf("push to the new entity: %+v", res[0])
	}
	r = fetchAll(t, c, sdk.FetchRequest{Entity: "visit", Filter: sdk.Cmp("duration", sdk.OpEq, sdk.Int(30))})
	if rec := r.rows[res[0].ID]; len(r.rows) != 1 || string(rec.Values["photo"].Bytes()) != "\x01\x02" {
		t.Errorf("fetched %+v", r.rows)
	}

	bad := []sdk.Entity{
		{Name: "_x", PrimaryKey: "id"},
		{Name: "sqlite_x", PrimaryKey: "id"},
		{Name: "x y", PrimaryKey: "id"},
		{Name: "x", PrimaryKey: ""},
		{Name: "x", PrimaryKey: "id", Fields: []sdk.Field{{Name: "a", Type: sdk.TypeString}, {Name: "A", Type: sdk.TypeInt}}},
		{Name: "x", PrimaryKey: "id", Fields: []sdk.Field{{Name: "a", Type: sdk.TypeUnknown}}},
		{Name: "x", PrimaryKey: "id", Fields: []sdk.Field{{Name: "a", Type: sdk.TypeLookup, Target: "nope"}}},
		{Name: "x", PrimaryKey: "id", Fields: []sdk.Field{{Name: "rowid", Type: sdk.TypeInt}}},
		{Name: "visit", PrimaryKey: "visitid", Fields: []sdk.Field{{Name: "duration", Type: sdk.TypeString}}},
		{Name: "visit", PrimaryKey: "otherid"},
	}
	for _, e := range bad {
		if err := s.DefineEntity(ctx, e); err == nil || sdk.KindOf(err) != sdk.Permanent {
			t.Errorf("DefineEntity(%s %+v): %v", e.Name, e.Fields, err)
		}
	}
}

// An admin defines an entity with plain SQL in the metadata tables; the
// next call builds its table and triggers.
func TestMetadataBySQL(t *testing.T) {
	s, path := newServer(t)
	ctx := context.Background()
	c := newConnector(t, path, "dev")
	fetchAll(t, c, sdk.FetchRequest{Entity: "account"})
	must(t, s.Exec(ctx, `
		INSERT INTO _entity (name, primary_key) VALUES ('task', 'taskid');
		INSERT INTO _field (entity, name, type, position) VALUES ('task', 'subject', 'string', 0), ('task', 'due', 'datetime', 1);`))
	full := fetchAll(t, c, sdk.FetchRequest{Entity: "task"})
	must(t, s.Exec(ctx, `INSERT INTO task (subject, due) VALUES ('call', '2026-01-02T03:04:05Z')`))
	r := fetchAll(t, c, sdk.FetchRequest{Entity: "task", Token: full.token})
	if len(r.rows) != 1 {
		t.Fatalf("%d tasks", len(r.rows))
	}
	for _, rec := range r.rows {
		if rec.Values["due"].Int() != 1767323045000000 {
			t.Errorf("due %v: a text datetime was not read", rec.Values["due"])
		}
	}
	// A broken definition is an error, not a panic.
	must(t, s.Exec(ctx, `INSERT INTO _field (entity, name, type) VALUES ('task', 'odd', 'nonsense')`))
	if _, err := c.Schema(ctx); err == nil {
		t.Error("a field of unknown type was accepted")
	}
}

func TestFactory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	log := hclog.NewNullLogger()
	tests := []struct {
		name     string
		settings map[string]string
		ok       bool
	}{
		{"no path", map[string]string{}, false},
		{"missing file", map[string]string{"path": filepath.Join(dir, "none.db")}, false},
		{"bad create", map[string]string{"path": filepath.Join(dir, "a.db"), "create": "maybe"}, false},
		{"bad pool", map[string]string{"path": filepath.Join(dir, "a.db"), "create": "true", "pool": "0"}, false},
		{"create", map[string]string{"path": filepath.Join(dir, "a.db"), "create": "true", "user": "u", "pool": "2"}, true},
		{"existing", map[string]string{"path": filepath.Join(dir, "a.db")}, true},
		{"existing with create", map[string]string{"path": filepath.Join(dir, "a.db"), "create": "true"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Factory(ctx, tt.settings, log)
			if (err == nil) != tt.ok {
				t.Fatalf("err %v", err)
			}
			if err != nil {
				if sdk.KindOf(err) != sdk.Permanent {
					t.Errorf("kind %s", sdk.KindOf(err))
				}
				return
			}
			defer c.Close(ctx)
			if _, err := c.Schema(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	// A file that is not a mock server is refused.
	other := filepath.Join(dir, "other.db")
	s, err := Create(ctx, other)
	must(t, err)
	must(t, s.Exec(ctx, "DROP TABLE _meta"))
	s.Close()
	if _, err := Factory(ctx, map[string]string{"path": other}, log); err == nil {
		t.Error("a foreign SQLite file was opened")
	}
}

func TestSeedDeterministic(t *testing.T) {
	ctx := context.Background()
	ids := func() []string {
		s, path := newServer(t)
		must(t, s.Seed(ctx, SeedOptions{Accounts: 20, ContactsPerAccount: 2, OpportunitiesPerAccount: 1, Seed: 42}))
		c := newConnector(t, path, "dev")
		r := fetchAll(t, c, sdk.FetchRequest{Entity: "contact"})
		accounts := fetchAll(t, c, sdk.FetchRequest{Entity: "account"})
		for _, rec := range r.rows {
			if _, ok := accounts.rows[rec.Values["parentaccountid"].Str()]; !ok {
				t.Fatalf("contact %s points at a missing account", rec.ID)
			}
		}
		if n, _ := s.Count(ctx, "opportunity"); n != 20 {
			t.Fatalf("%d opportunities", n)
		}
		return append(accounts.order, r.order...)
	}
	if a, b := ids(), ids(); !slices.Equal(a, b) {
		t.Error("the same seed gave different ids")
	}
}

// Bulk seeding an empty table and seeding one with rows (through the
// triggers) both leave indexes, triggers and versions as a fetch needs.
func TestSeedBulkAndIncremental(t *testing.T) {
	s, path := newServer(t)
	ctx := context.Background()
	c := newConnector(t, path, "dev")
	must(t, s.Seed(ctx, SeedOptions{Accounts: bulkThreshold, Seed: 1}))
	full := fetchAll(t, c, sdk.FetchRequest{Entity: "account", PageSize: sdk.MaxPageSize})
	if len(full.rows) != bulkThreshold {
		t.Fatalf("%d rows", len(full.rows))
	}
	n, _ := s.QueryInt(ctx, `SELECT count(*) FROM sqlite_schema WHERE tbl_name = 'account' AND type IN ('index', 'trigger')`)
	if n != 7 {
		t.Errorf("%d indexes and triggers on account after a bulk load, want 7", n)
	}
	if v, _ := s.Version(ctx); v != bulkThreshold {
		t.Errorf("clock %d after %d rows", v, bulkThreshold)
	}
	must(t, s.Seed(ctx, SeedOptions{Accounts: 25, Seed: 2, BatchSize: 10}))
	r := fetchAll(t, c, sdk.FetchRequest{Entity: "account", Token: full.token})
	if len(r.rows) != 25 {
		t.Errorf("%d new rows in the incremental fetch", len(r.rows))
	}
	if err := s.Exec(ctx, "INSERT INTO account (accountid, name) SELECT accountid, 'dup' FROM account LIMIT 1"); err == nil {
		t.Error("the key index is missing: a duplicate id was accepted")
	}
}

// The instance id is hex text; one that looks like a number must stay text
// (a column affinity once turned "…e1…" into a float).
func TestInstanceIDStaysText(t *testing.T) {
	s, path := newServer(t)
	ctx := context.Background()
	must(t, s.Exec(ctx, `UPDATE _meta SET value = '00000000000000e1' WHERE key = 'instance'`))
	s2, err := OpenServer(ctx, path)
	must(t, err)
	defer s2.Close()
	if got := string(s2.instance[:]); got != "\x00\x00\x00\x00\x00\x00\x00\xe1" {
		t.Errorf("instance %x", got)
	}
}
