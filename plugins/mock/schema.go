package mock

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"regexp"
	"strings"

	"github.com/fieldsync/fieldsync/sdk"
)

// entity is an sdk.Entity with what the connector derives from it once per
// schema load: storage kinds, a field index and quoted identifiers.
type entity struct {
	sdk.Entity
	kinds []sdk.Kind     // per field, in schema order
	index map[string]int // field name → position in Fields
	table string         // quoted table name
	pk    string         // quoted key column
	hash  uint32         // binds cursors to the entity they came from
}

// schemaSnap is one loaded version of the schema. It is immutable; a change
// to the metadata tables makes the next call load a new one.
type schemaSnap struct {
	gen      int64
	schema   sdk.Schema
	entities map[string]*entity
}

func newEntity(e sdk.Entity) *entity {
	x := &entity{
		Entity: e,
		kinds:  make([]sdk.Kind, len(e.Fields)),
		index:  make(map[string]int, len(e.Fields)),
		table:  quote(e.Name),
		pk:     quote(e.PrimaryKey),
	}
	for i, f := range e.Fields {
		x.kinds[i] = f.Type.Kind()
		x.index[f.Name] = i
	}
	h := fnv.New32a()
	h.Write([]byte(e.Name))
	x.hash = h.Sum32()
	return x
}

// field returns the named field and its position, or nil.
func (e *entity) field(name string) (*sdk.Field, int) {
	i, ok := e.index[name]
	if !ok {
		return nil, -1
	}
	return &e.Fields[i], i
}

// identRE admits the names of entities and fields: plain SQL identifiers, so
// admins can write queries without quoting. A leading underscore is reserved
// for the mock's own tables and columns.
var identRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,62}$`)

func checkIdent(what, name string) error {
	if !identRE.MatchString(name) {
		return fmt.Errorf("%s name %q must be a letter followed by letters, digits or underscores (at most 63)", what, name)
	}
	switch strings.ToLower(name) {
	case "rowid", "oid", "sqlite", "_rowid_":
		return fmt.Errorf("%s name %q is reserved", what, name)
	}
	if strings.HasPrefix(strings.ToLower(name), "sqlite_") {
		return fmt.Errorf("%s name %q is reserved", what, name)
	}
	return nil
}

// checkEntity validates an entity definition on its own; lookup targets and
// relationship parents are checked against the whole schema by the caller.
func checkEntity(e *sdk.Entity) error {
	if err := checkIdent("entity", e.Name); err != nil {
		return err
	}
	if err := checkIdent("primary key", e.PrimaryKey); err != nil {
		return fmt.Errorf("entity %s: %w", e.Name, err)
	}
	seen := map[string]bool{strings.ToLower(e.PrimaryKey): true}
	for _, f := range e.Fields {
		if err := checkIdent("field", f.Name); err != nil {
			return fmt.Errorf("entity %s: %w", e.Name, err)
		}
		if seen[strings.ToLower(f.Name)] {
			return fmt.Errorf("entity %s: field %q listed twice (names are case-insensitive) or repeats the key", e.Name, f.Name)
		}
		seen[strings.ToLower(f.Name)] = true
		if f.Type == sdk.TypeUnknown || f.Type > sdk.TypeBinary {
			return fmt.Errorf("entity %s: field %s has unknown type %d", e.Name, f.Name, f.Type)
		}
		if f.Type == sdk.TypeLookup && f.Target == "" {
			return fmt.Errorf("entity %s: lookup %s names no target entity", e.Name, f.Name)
		}
	}
	for _, r := range e.Relations {
		f := e.Field(r.Field)
		if f == nil {
			return fmt.Errorf("entity %s: relationship %q names unknown field %q", e.Name, r.Name, r.Field)
		}
		if f.Type != sdk.TypeLookup || f.Target != r.Parent {
			return fmt.Errorf("entity %s: relationship %q: field %s is not a lookup to %s", e.Name, r.Name, r.Field, r.Parent)
		}
	}
	return nil
}

type choiceJSON struct {
	Value int64  `json:"value"`
	Label string `json:"label"`
}

// loadSchema reads the metadata tables.
func loadSchema(c *conn) (*schemaSnap, error) {
	gen, _, err := c.queryInt(`SELECT value FROM _meta WHERE key = 'schema_gen'`)
	if err != nil {
		return nil, fmt.Errorf("read schema generation: %w", err)
	}
	snap := &schemaSnap{gen: gen, entities: map[string]*entity{}}
	byName := map[string]int{}

	s, err := c.prep(`SELECT name, display_name, primary_key FROM _entity ORDER BY position, name`)
	if err != nil {
		return nil, err
	}
	for s.Step() {
		e := sdk.Entity{
			Name:        s.ColumnText(0),
			DisplayName: s.ColumnText(1),
			PrimaryKey:  s.ColumnText(2),
			Capabilities: sdk.EntityCapabilities{
				Incremental: true, TracksDeletes: true, Push: true,
				ClientIDs: true, Filter: true, Documents: true,
			},
		}
		byName[e.Name] = len(snap.schema.Entities)
		snap.schema.Entities = append(snap.schema.Entities, e)
	}
	if err := s.Reset(); err != nil {
		return nil, fmt.Errorf("read _entity: %w", err)
	}

	s, err = c.prep(`SELECT entity, name, type, target, required, read_only, max_length, choices
		FROM _field ORDER BY entity, position, rowid`)
	if err != nil {
		return nil, err
	}
	for s.Step() {
		ei, ok := byName[s.ColumnText(0)]
		if !ok {
			continue // a field of no entity: ignored, as an admin's half-done edit
		}
		t, err := sdk.ParseFieldType(s.ColumnText(2))
		if err != nil {
			s.Reset()
			return nil, fmt.Errorf("field %s.%s: %w", s.ColumnText(0), s.ColumnText(1), err)
		}
		f := sdk.Field{
			Name:      s.ColumnText(1),
			Type:      t,
			Target:    s.ColumnText(3),
			Required:  s.ColumnBool(4),
			ReadOnly:  s.ColumnBool(5),
			MaxLength: s.ColumnInt(6),
		}
		var choices []choiceJSON
		if raw := s.ColumnRawText(7); len(raw) > 0 {
			if err := json.Unmarshal(raw, &choices); err != nil {
				name := s.ColumnText(0) + "." + s.ColumnText(1)
				s.Reset()
				return nil, fmt.Errorf("field %s: choices: %w", name, err)
			}
		}
		for _, ch := range choices {
			f.Choices = append(f.Choices, sdk.Choice{Value: ch.Value, Label: ch.Label})
		}
		e := &snap.schema.Entities[ei]
		e.Fields = append(e.Fields, f)
	}
	if err := s.Reset(); err != nil {
		return nil, fmt.Errorf("read _field: %w", err)
	}

	s, err = c.prep(`SELECT entity, name, field, parent FROM _relationship ORDER BY entity, name`)
	if err != nil {
		return nil, err
	}
	for s.Step() {
		if ei, ok := byName[s.ColumnText(0)]; ok {
			e := &snap.schema.Entities[ei]
			e.Relations = append(e.Relations, sdk.Relationship{
				Name: s.ColumnText(1), Field: s.ColumnText(2), Parent: s.ColumnText(3),
			})
		}
	}
	if err := s.Reset(); err != nil {
		return nil, fmt.Errorf("read _relationship: %w", err)
	}

	if err := snap.schema.Validate(); err != nil {
		return nil, err
	}
	for i := range snap.schema.Entities {
		e := &snap.schema.Entities[i]
		if err := checkEntity(e); err != nil {
			return nil, err
		}
		snap.entities[e.Name] = newEntity(*e)
	}
	return snap, nil
}

// physicalOK reports whether every entity has its table, columns, indexes
// and triggers. An admin may define an entity by inserting metadata rows
// with plain SQL; the next schema load then builds what is missing.
func physicalOK(c *conn, snap *schemaSnap) (bool, error) {
	have := map[string]bool{}
	s, err := c.prep(`SELECT type, name FROM sqlite_schema WHERE type IN ('table', 'index', 'trigger')`)
	if err != nil {
		return false, err
	}
	for s.Step() {
		have[s.ColumnText(0)+":"+s.ColumnText(1)] = true
	}
	if err := s.Reset(); err != nil {
		return false, err
	}
	for _, e := range snap.entities {
		if !have["table:"+e.Name] {
			return false, nil
		}
		for _, n := range indexNames(&e.Entity) {
			if !have["index:"+n] {
				return false, nil
			}
		}
		for _, n := range triggerNames(&e.Entity) {
			if !have["trigger:"+n] {
				return false, nil
			}
		}
		cols, err := tableColumns(c, e.Name)
		if err != nil {
			return false, err
		}
		for _, f := range e.Fields {
			if !cols[strings.ToLower(f.Name)] {
				return false, nil
			}
		}
	}
	return true, nil
}

// tableColumns lists a table's columns, lower-cased.
func tableColumns(c *conn, table string) (map[string]bool, error) {
	s, err := c.prep(`SELECT name FROM pragma_table_info(?)`)
	if err != nil {
		return nil, err
	}
	defer s.Reset()
	if err := s.BindText(1, table); err != nil {
		return nil, err
	}
	cols := map[string]bool{}
	for s.Step() {
		cols[strings.ToLower(s.ColumnText(0))] = true
	}
	return cols, s.Err()
}

// buildPhysical creates whatever an entity is missing: table, columns,
// indexes, triggers. It runs inside a write transaction and is idempotent.
func buildPhysical(c *conn, e *sdk.Entity) error {
	if err := c.db.Exec(tableDDL(e)); err != nil {
		return fmt.Errorf("create table %s: %w", e.Name, err)
	}
	cols, err := tableColumns(c, e.Name)
	if err != nil {
		return err
	}
	for _, f := range e.Fields {
		if cols[strings.ToLower(f.Name)] {
			continue
		}
		ddl := fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", quote(e.Name), quote(f.Name), sqlType(f.Type))
		if err := c.db.Exec(ddl); err != nil {
			return fmt.Errorf("add column %s.%s: %w", e.Name, f.Name, err)
		}
	}
	for _, ddl := range indexDDL(e) {
		if err := c.db.Exec(ddl); err != nil {
			return fmt.Errorf("index %s: %w", e.Name, err)
		}
	}
	if err := c.db.Exec(triggerDDL(e)); err != nil {
		return fmt.Errorf("triggers of %s: %w", e.Name, err)
	}
	return nil
}

// writeEntity stores an entity's definition in the metadata tables (inside
// the caller's write transaction). Fields already defined keep their type;
// fields the definition does not list stay as they are.
func writeEntity(c *conn, snap *schemaSnap, e *sdk.Entity) error {
	if err := checkEntity(e); err != nil {
		return sdk.Errorf(sdk.Permanent, "mock: define entity: %w", err)
	}
	var old *entity
	if snap != nil {
		old = snap.entities[e.Name]
	}
	known := func(name string) bool {
		return name == e.Name || (snap != nil && snap.entities[name] != nil)
	}
	for _, f := range e.Fields {
		if f.Type == sdk.TypeLookup && !known(f.Target) {
			return sdk.Errorf(sdk.Permanent, "mock: define entity %s: lookup %s targets unknown entity %q", e.Name, f.Name, f.Target)
		}
	}
	if old != nil {
		if !strings.EqualFold(old.PrimaryKey, e.PrimaryKey) {
			return sdk.Errorf(sdk.Permanent, "mock: define entity %s: primary key is %s, cannot become %s", e.Name, old.PrimaryKey, e.PrimaryKey)
		}
		for _, f := range e.Fields {
			if of, _ := old.field(f.Name); of != nil && of.Type != f.Type {
				return sdk.Errorf(sdk.Permanent, "mock: define entity %s: field %s is %s, cannot become %s", e.Name, f.Name, of.Type, f.Type)
			}
		}
	}
	position, _, err := c.queryInt(`SELECT coalesce((SELECT position FROM _entity WHERE name = ?1),
		(SELECT coalesce(max(position), -1) + 1 FROM _entity))`, e.Name)
	if err != nil {
		return err
	}
	err = c.exec(`INSERT INTO _entity (name, display_name, primary_key, position) VALUES (?1, ?2, ?3, ?4)
		ON CONFLICT (name) DO UPDATE SET display_name = excluded.display_name`,
		e.Name, e.DisplayName, e.PrimaryKey, position)
	if err != nil {
		return fmt.Errorf("write _entity %s: %w", e.Name, err)
	}
	base, _, err := c.queryInt(`SELECT coalesce(max(position), -1) + 1 FROM _field WHERE entity = ?`, e.Name)
	if err != nil {
		return err
	}
	for i, f := range e.Fields {
		choices := make([]choiceJSON, len(f.Choices))
		for j, ch := range f.Choices {
			choices[j] = choiceJSON(ch)
		}
		cj, err := json.Marshal(choices)
		if err != nil {
			return err
		}
		err = c.exec(`INSERT INTO _field (entity, name, type, target, required, read_only, max_length, choices, position)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
			ON CONFLICT (entity, name) DO UPDATE SET target = excluded.target, required = excluded.required,
				read_only = excluded.read_only, max_length = excluded.max_length, choices = excluded.choices`,
			e.Name, f.Name, f.Type.String(), f.Target, f.Required, f.ReadOnly, f.MaxLength, string(cj), base+int64(i))
		if err != nil {
			return fmt.Errorf("write _field %s.%s: %w", e.Name, f.Name, err)
		}
	}
	for _, r := range e.Relations {
		err := c.exec(`INSERT INTO _relationship (entity, name, field, parent) VALUES (?1, ?2, ?3, ?4)
			ON CONFLICT (entity, name) DO UPDATE SET field = excluded.field, parent = excluded.parent`,
			e.Name, r.Name, r.Field, r.Parent)
		if err != nil {
			return fmt.Errorf("write _relationship %s.%s: %w", e.Name, r.Name, err)
		}
	}
	return nil
}

// cloneSchema deep-copies a schema so callers may change what they get.
func cloneSchema(s *sdk.Schema) *sdk.Schema {
	out := &sdk.Schema{Entities: make([]sdk.Entity, len(s.Entities))}
	for i, e := range s.Entities {
		e.Fields = append([]sdk.Field(nil), e.Fields...)
		for j := range e.Fields {
			e.Fields[j].Choices = append([]sdk.Choice(nil), e.Fields[j].Choices...)
		}
		e.Relations = append([]sdk.Relationship(nil), e.Relations...)
		out.Entities[i] = e
	}
	return out
}

// schemaFor returns the schema current at generation gen, loading it when
// the cached one is older (and building missing tables an admin's metadata
// edit implies).
func (s *Server) schemaFor(ctx context.Context, c *conn, gen int64) (*schemaSnap, error) {
	if snap := s.snap.Load(); snap != nil && snap.gen == gen {
		return snap, nil
	}
	if err := c.beginRead(); err != nil {
		return nil, sqlErr(ctx, "load schema", err)
	}
	snap, err := loadSchema(c)
	c.rollback() // ends the read snapshot
	if err != nil {
		return nil, sqlErr(ctx, "load schema", err)
	}
	ok, err := physicalOK(c, snap)
	if err != nil {
		return nil, sqlErr(ctx, "check schema", err)
	}
	if !ok {
		err := c.withTx(func() error {
			for i := range snap.schema.Entities {
				if err := buildPhysical(c, &snap.schema.Entities[i]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, sqlErr(ctx, "build tables", err)
		}
	}
	s.snap.Store(snap)
	return snap, nil
}
