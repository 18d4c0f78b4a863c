package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/fieldsync/fieldsync/sdk"
)

// table is an entity table as set up by EnsureEntity.
type table struct {
	name    string // entity name = table name
	pk      string
	ent     sdk.Entity
	fields  []sdk.Field // selected fields, in column order after the key
	kinds   []sdk.Kind
	indexed bool // the unique key index exists

	insertSQL, upsertSQL, deleteSQL, selectSQL string
}

// guidDefault generates a random (version 4) GUID in lower-case text, so a
// host app can insert rows without choosing ids.
const guidDefault = `(lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' ||
	substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) ||
	substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))))`

// nowSQL is the current time in Unix microseconds, inside triggers. The
// triggers run in the host app's SQLite, which may be older than ours (a
// phone's system library): julianday exists in every version, while
// unixepoch() needs 3.38 and its 'subsec' modifier 3.42 (older versions
// yield NULL and the host's write fails on created_at NOT NULL).
// 2440587.5 is the Julian day of the Unix epoch. 'now' has millisecond
// resolution in every version; the double keeps it (its step is ~40µs).
const nowSQL = `CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)`

// quoteIdent quotes a name from a backend's schema as an SQL identifier. The
// names are outside input: they are quoted, never spliced raw.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func quoteString(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

// checkName refuses names the store cannot hold as tables or columns.
func checkName(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%s has no name", what)
	case strings.HasPrefix(strings.ToLower(s), "_fs_"), strings.HasPrefix(strings.ToLower(s), "sqlite_"):
		return fmt.Errorf("%s %q uses a reserved prefix", what, s)
	case strings.ContainsRune(s, 0):
		return fmt.Errorf("%s %q contains a NUL byte", what, s)
	}
	return nil
}

func columnType(t sdk.FieldType) string {
	switch t.Kind() {
	case sdk.KindInt, sdk.KindBool:
		if t == sdk.TypeDateTime {
			return "TEXT" // ISO 8601 UTC text, readable and sortable by plain SQL
		}
		return "INTEGER"
	case sdk.KindFloat:
		return "REAL"
	case sdk.KindBytes:
		return "BLOB"
	}
	return "TEXT"
}

// EnsureEntity creates or updates the table of ent with the selected fields
// (nil: all), its capture triggers and its sync state. It reports whether the
// entity must be downloaded from scratch: new, or its field selection
// changed (a new column has no values yet).
func (s *Store) EnsureEntity(ctx context.Context, ent sdk.Entity, fields []string) (resync bool, err error) {
	t, err := newTable(ent, fields)
	if err != nil {
		return false, err
	}
	sig := strings.Join(fieldNames(t.fields), ",")
	schemaJSON, err := json.Marshal(ent)
	if err != nil {
		return false, err
	}
	err = s.write(ctx, local, func() error {
		if err := s.db.Exec(t.createSQL()); err != nil {
			return fmt.Errorf("create table %s: %w", t.name, err)
		}
		have, err := s.columns(t.name)
		if err != nil {
			return err
		}
		for _, f := range t.fields {
			if !have[strings.ToLower(f.Name)] {
				if err := s.db.Exec(fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", quoteIdent(t.name), quoteIdent(f.Name), columnType(f.Type))); err != nil {
					return fmt.Errorf("add column %s.%s: %w", t.name, f.Name, err)
				}
			}
		}
		if err := s.db.Exec(t.triggersSQL()); err != nil {
			return fmt.Errorf("create triggers of %s: %w", t.name, err)
		}
		s.forgetStatements()
		t.indexed, err = s.hasIndex(t.indexName())
		if err != nil {
			return err
		}
		st, err := s.prep("SELECT fields FROM _fs_entity WHERE entity = ?")
		if err != nil {
			return err
		}
		st.BindText(1, t.name)
		switch {
		case !st.Step():
			if err := st.Err(); err != nil {
				return err
			}
			resync = true
			return s.exec("INSERT INTO _fs_entity (entity, fields, mode, schema) VALUES (?, ?, 'new', ?)", t.name, sig, string(schemaJSON))
		case st.ColumnText(0) != sig:
			st.Reset()
			resync = true
			return s.exec("UPDATE _fs_entity SET fields = ?, schema = ?, mode = 'new', token = NULL, cursor = NULL WHERE entity = ?", sig, string(schemaJSON), t.name)
		}
		st.Reset()
		return s.exec("UPDATE _fs_entity SET schema = ? WHERE entity = ?", string(schemaJSON), t.name)
	})
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	s.ents[t.name] = t
	s.mu.Unlock()
	return resync, nil
}

func newTable(ent sdk.Entity, fields []string) (*table, error) {
	if err := checkName("entity", ent.Name); err != nil {
		return nil, err
	}
	if err := checkName("primary key of "+ent.Name, ent.PrimaryKey); err != nil {
		return nil, err
	}
	t := &table{name: ent.Name, pk: ent.PrimaryKey, ent: ent}
	if fields == nil {
		fields = ent.FieldNames()
	}
	seen := map[string]bool{strings.ToLower(ent.PrimaryKey): true}
	for _, name := range fields {
		f := ent.Field(name)
		if f == nil {
			return nil, fmt.Errorf("entity %s has no field %q", ent.Name, name)
		}
		if err := checkName("field of "+ent.Name, name); err != nil {
			return nil, err
		}
		if strings.ContainsRune(name, ',') {
			// The outbox and _fs_entity keep field lists comma-separated.
			return nil, fmt.Errorf("field of %s %q contains a comma", ent.Name, name)
		}
		if seen[strings.ToLower(name)] {
			return nil, fmt.Errorf("entity %s: field %q selected twice (or clashes with the key)", ent.Name, name)
		}
		seen[strings.ToLower(name)] = true
		t.fields = append(t.fields, *f)
		t.kinds = append(t.kinds, f.Type.Kind())
	}
	t.buildSQL()
	return t, nil
}

func fieldNames(fs []sdk.Field) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return out
}

func (t *table) indexName() string { return t.name + "__fs_key" }

func (t *table) createSQL() string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s (\n\t%s TEXT NOT NULL DEFAULT %s", quoteIdent(t.name), quoteIdent(t.pk), guidDefault)
	for _, f := range t.fields {
		fmt.Fprintf(&b, ",\n\t%s %s", quoteIdent(f.Name), columnType(f.Type))
	}
	b.WriteString(",\n\t_fs_version TEXT\n)")
	return b.String()
}

func (t *table) buildSQL() {
	q := quoteIdent(t.name)
	cols := []string{quoteIdent(t.pk)}
	for _, f := range t.fields {
		cols = append(cols, quoteIdent(f.Name))
	}
	cols = append(cols, "_fs_version")
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")
	t.insertSQL = fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", q, strings.Join(cols, ", "), marks)
	var set []string
	for _, c := range cols[1:] {
		set = append(set, fmt.Sprintf("%s = excluded.%s", c, c))
	}
	// A row is skipped when its version is known and unchanged; an empty
	// version (a backend that keeps none) says nothing, so the row is written.
	// A row the device pushed is written at any version (see _fs_refresh).
	// The refresh check is a correlated EXISTS on _fs_refresh's key: an
	// "IN (SELECT id ...)" there is materialised again at every execution,
	// which made each downloaded row cost a pass over every row pushed
	// (2.6 ms a row after a 10,000-change upload).
	t.upsertSQL = fmt.Sprintf("%s ON CONFLICT (%s) DO UPDATE SET %s WHERE excluded._fs_version = '' OR _fs_version IS NOT excluded._fs_version"+
		" OR EXISTS (SELECT 1 FROM _fs_refresh WHERE entity = %s AND id = excluded.%s)",
		t.insertSQL, quoteIdent(t.pk), strings.Join(set, ", "), quoteString(t.name), quoteIdent(t.pk))
	t.deleteSQL = fmt.Sprintf("DELETE FROM %s WHERE %s = ?", q, quoteIdent(t.pk))
	t.selectSQL = fmt.Sprintf("SELECT %s FROM %s WHERE %s = ?", strings.Join(cols, ", "), q, quoteIdent(t.pk))
}

// triggersSQL (re)creates the three capture triggers, and a fourth that
// refuses a change of a row's key: the outbox follows rows by key, so the
// update trigger would queue an empty update of the old key (uploaded as a
// delete, the row being gone) and the row under the new key never. See the
// package doc.
func (t *table) triggersSQL() string {
	q, pk, ent := quoteIdent(t.name), quoteIdent(t.pk), quoteString(t.name)
	trig := func(suffix string) string { return quoteIdent(t.name + "__fs_" + suffix) }
	when := "WHEN NOT EXISTS (SELECT 1 FROM _fs_applying)"
	var base, changed strings.Builder
	base.WriteString("json_object(")
	for i, f := range t.fields {
		if i > 0 {
			base.WriteString(", ")
		}
		col := "OLD." + quoteIdent(f.Name)
		if f.Type == sdk.TypeBinary {
			// hex(NULL) is '', which would read back as empty bytes.
			col = "CASE WHEN " + col + " IS NULL THEN NULL ELSE hex(" + col + ") END"
		}
		fmt.Fprintf(&base, "%s, %s", quoteString(f.Name), col)
		fmt.Fprintf(&changed, " || CASE WHEN NEW.%s IS NOT OLD.%s AND instr(fields, %s) = 0 THEN %s ELSE '' END",
			quoteIdent(f.Name), quoteIdent(f.Name), quoteString(","+f.Name+","), quoteString(f.Name+","))
	}
	base.WriteString(")")
	if len(t.fields) == 0 {
		base.Reset()
		base.WriteString("'{}'")
	}
	// For a new entry, "fields" starts as ',' and the same CASE chain appends.
	newFields := "','" + strings.ReplaceAll(changed.String(), "instr(fields,", "instr(',',")
	pending := func(row string) string {
		return fmt.Sprintf("entity = %s AND id = %s.%s AND state = 'pending'", ent, row, pk)
	}
	return fmt.Sprintf(`
DROP TRIGGER IF EXISTS %[1]s;
DROP TRIGGER IF EXISTS %[2]s;
DROP TRIGGER IF EXISTS %[3]s;
DROP TRIGGER IF EXISTS %[14]s;
CREATE TRIGGER %[14]s BEFORE UPDATE OF %[9]s ON %[4]s %[5]s AND NEW.%[9]s IS NOT OLD.%[9]s BEGIN
	SELECT RAISE(ABORT, 'fieldsync: the key of a synced row cannot change (delete the row and insert it under the new key)');
END;
CREATE TRIGGER %[1]s AFTER INSERT ON %[4]s %[5]s BEGIN
	UPDATE _fs_outbox SET op = 'update', fields = '*', updated_at = %[6]s WHERE %[7]s;
	INSERT INTO _fs_outbox (entity, id, op, change_id, fields, state, created_at, updated_at)
	SELECT %[8]s, NEW.%[9]s, 'create', lower(hex(randomblob(16))), '*', 'pending', %[6]s, %[6]s
	WHERE NOT EXISTS (SELECT 1 FROM _fs_outbox WHERE %[7]s);
END;
CREATE TRIGGER %[2]s AFTER UPDATE ON %[4]s %[5]s BEGIN
	UPDATE _fs_outbox SET fields = CASE WHEN fields = '*' THEN '*' ELSE fields %[10]s END, updated_at = %[6]s
	WHERE %[11]s;
	INSERT INTO _fs_outbox (entity, id, op, change_id, base_version, base, fields, state, created_at, updated_at)
	SELECT %[8]s, OLD.%[9]s, 'update', lower(hex(randomblob(16))), OLD._fs_version, %[12]s, %[13]s, 'pending', %[6]s, %[6]s
	WHERE NOT EXISTS (SELECT 1 FROM _fs_outbox WHERE %[11]s);
END;
CREATE TRIGGER %[3]s AFTER DELETE ON %[4]s %[5]s BEGIN
	DELETE FROM _fs_outbox WHERE %[11]s AND op = 'create';
	UPDATE _fs_outbox SET op = 'delete', fields = '', updated_at = %[6]s WHERE %[11]s;
	INSERT INTO _fs_outbox (entity, id, op, change_id, base_version, base, fields, state, created_at, updated_at)
	SELECT %[8]s, OLD.%[9]s, 'delete', lower(hex(randomblob(16))), OLD._fs_version, %[12]s, '', 'pending', %[6]s, %[6]s
	WHERE (OLD._fs_version IS NOT NULL OR EXISTS (SELECT 1 FROM _fs_outbox WHERE entity = %[8]s AND id = OLD.%[9]s))
	  AND NOT EXISTS (SELECT 1 FROM _fs_outbox WHERE %[11]s);
END;`,
		trig("ins"), trig("upd"), trig("del"), q, when, nowSQL,
		pending("NEW"), ent, pk, changed.String(), pending("OLD"), base.String(), newFields, trig("pk"))
}

func (s *Store) columns(name string) (map[string]bool, error) {
	st, _, err := s.db.Prepare("SELECT name FROM pragma_table_info(?)")
	if err != nil {
		return nil, err
	}
	defer st.Close()
	st.BindText(1, name)
	out := map[string]bool{}
	for st.Step() {
		out[strings.ToLower(st.ColumnText(0))] = true
	}
	return out, st.Err()
}

func (s *Store) hasIndex(name string) (bool, error) {
	st, err := s.prep("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?")
	if err != nil {
		return false, err
	}
	defer st.Reset()
	st.BindText(1, name)
	ok := st.Step()
	return ok, st.Err()
}

// table returns the table EnsureEntity set up for entity.
func (s *Store) table(entity string) (*table, error) {
	t, ok := s.ents[entity]
	if !ok {
		return nil, fmt.Errorf("store: entity %q not set up (EnsureEntity first)", entity)
	}
	return t, nil
}
