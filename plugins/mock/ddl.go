package mock

import (
	"fmt"
	"strings"

	"github.com/fieldsync/fieldsync/sdk"
)

// formatVersion is the layout of the server file; a file of another format
// is refused rather than misread.
const formatVersion = 1

// metaDDL creates the bookkeeping tables of a new server file. Tables whose
// names start with an underscore are the mock's own; entity names may not.
const metaDDL = `
-- value has no declared type, so no affinity: the instance id (hex text)
-- must stay text even when it happens to look like a number.
CREATE TABLE _meta (
	key   TEXT PRIMARY KEY,
	value
) WITHOUT ROWID;

-- The global version counter. One row; every insert, update and delete of
-- any entity row moves it up by one (see the entity triggers).
CREATE TABLE _clock (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	version INTEGER NOT NULL
);
INSERT INTO _clock VALUES (1, 0);

CREATE TABLE _entity (
	name         TEXT PRIMARY KEY,
	display_name TEXT NOT NULL DEFAULT '',
	primary_key  TEXT NOT NULL,
	position     INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE _field (
	entity     TEXT NOT NULL,
	name       TEXT NOT NULL,
	type       TEXT NOT NULL,
	target     TEXT NOT NULL DEFAULT '',
	required   INTEGER NOT NULL DEFAULT 0,
	read_only  INTEGER NOT NULL DEFAULT 0,
	max_length INTEGER NOT NULL DEFAULT 0,
	choices    TEXT NOT NULL DEFAULT '[]', -- JSON [{"value":1,"label":"…"}]
	position   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (entity, name)
);
CREATE TABLE _relationship (
	entity TEXT NOT NULL,
	name   TEXT NOT NULL,
	field  TEXT NOT NULL,
	parent TEXT NOT NULL,
	PRIMARY KEY (entity, name)
);

CREATE TABLE _tombstone (
	entity  TEXT NOT NULL,
	id      TEXT NOT NULL,
	version INTEGER NOT NULL
);
CREATE INDEX _tombstone_version ON _tombstone (entity, version);
CREATE INDEX _tombstone_id ON _tombstone (entity, id);

-- Push idempotency: one row per change id with its outcome.
CREATE TABLE _change (
	change_id      TEXT PRIMARY KEY,
	entity         TEXT NOT NULL,
	op             TEXT NOT NULL,
	record_id      TEXT NOT NULL,
	status         INTEGER NOT NULL,
	id             TEXT NOT NULL DEFAULT '',
	version        TEXT NOT NULL DEFAULT '',
	server_deleted INTEGER NOT NULL DEFAULT 0,
	err_kind       TEXT NOT NULL DEFAULT '',
	err_message    TEXT NOT NULL DEFAULT '',
	at             INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE _document (
	id        TEXT NOT NULL UNIQUE DEFAULT (` + guidExpr + `),
	entity    TEXT NOT NULL,
	record_id TEXT NOT NULL,
	name      TEXT NOT NULL,
	mime_type TEXT NOT NULL DEFAULT 'application/octet-stream',
	size      INTEGER NOT NULL,
	modified  INTEGER NOT NULL, -- Unix microseconds
	version   INTEGER NOT NULL,
	content   BLOB NOT NULL
);
CREATE INDEX _document_owner ON _document (entity, record_id);

-- Fault switches, read once per call: fail_rate (percent of calls that fail
-- with a retryable error), page_delay_ms (sleep before each fetched page).
CREATE TABLE _fault (
	name  TEXT PRIMARY KEY,
	value INTEGER
) WITHOUT ROWID;

-- One row per connector call, so tests can prove what left the server.
CREATE TABLE _request (
	id      INTEGER PRIMARY KEY,
	at      INTEGER NOT NULL, -- Unix microseconds
	user    TEXT NOT NULL DEFAULT '',
	op      TEXT NOT NULL,
	entity  TEXT NOT NULL DEFAULT '',
	rows    INTEGER NOT NULL DEFAULT 0, -- rows sent (fetch) or changes received (push)
	deletes INTEGER NOT NULL DEFAULT 0,
	pages   INTEGER NOT NULL DEFAULT 0,
	filter  TEXT NOT NULL DEFAULT '',
	error   TEXT NOT NULL DEFAULT '',
	ms      INTEGER NOT NULL DEFAULT 0
);
`

// guidExpr is a random version-4 GUID in lower-case canonical text, usable
// as a column default so plain-SQL inserts get an id like real backends give.
const guidExpr = `lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' ||
	substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) ||
	substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))`

// schemaGenTriggers bump _meta.schema_gen on any change to the metadata
// tables, by any SQL client, so connectors reload the schema on their next
// call.
func schemaGenTriggers() string {
	var b strings.Builder
	for _, t := range []string{"_entity", "_field", "_relationship"} {
		for _, ev := range []string{"INSERT", "UPDATE", "DELETE"} {
			fmt.Fprintf(&b, "CREATE TRIGGER IF NOT EXISTS %s__%s AFTER %s ON %s BEGIN\n"+
				"\tUPDATE _meta SET value = value + 1 WHERE key = 'schema_gen';\nEND;\n",
				t, strings.ToLower(ev), ev, t)
		}
	}
	return b.String()
}

// sqlType is the declared column type of a field type; it gives the column
// the affinity that turns an admin's '42' into 42 where that is meant.
func sqlType(t sdk.FieldType) string {
	switch t {
	case sdk.TypeInt, sdk.TypeDateTime, sdk.TypeChoice, sdk.TypeBool:
		return "INTEGER"
	case sdk.TypeFloat:
		return "REAL"
	case sdk.TypeBinary:
		return "BLOB"
	}
	return "TEXT" // string, decimal (exact text), guid, lookup
}

// tableDDL creates an entity's table. The table keeps SQLite's rowid (full
// fetches page in rowid order, the cheapest scan) and a unique index on the
// GUID key, created separately so a bulk load can build it afterwards.
func tableDDL(e *sdk.Entity) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s (\n\t%s TEXT NOT NULL DEFAULT (%s),\n\t_version INTEGER",
		quote(e.Name), quote(e.PrimaryKey), guidExpr)
	for _, f := range e.Fields {
		fmt.Fprintf(&b, ",\n\t%s %s", quote(f.Name), sqlType(f.Type))
	}
	b.WriteString("\n);\n")
	return b.String()
}

// indexDDL lists the CREATE INDEX statements of an entity: its key, its
// version (incremental fetches range over it) and each lookup (children by
// parent).
func indexDDL(e *sdk.Entity) []string {
	t := e.Name
	out := []string{
		fmt.Sprintf("CREATE UNIQUE INDEX IF NOT EXISTS %s ON %s (%s)", quote(t+"__id"), quote(t), quote(e.PrimaryKey)),
		fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (_version)", quote(t+"__version"), quote(t)),
	}
	for _, f := range e.Fields {
		if f.Type == sdk.TypeLookup {
			out = append(out, fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s)",
				quote(t+"__"+f.Name), quote(t), quote(f.Name)))
		}
	}
	return out
}

// indexNames lists the names indexDDL creates, for a bulk load to drop them.
func indexNames(e *sdk.Entity) []string {
	out := []string{e.Name + "__id", e.Name + "__version"}
	for _, f := range e.Fields {
		if f.Type == sdk.TypeLookup {
			out = append(out, e.Name+"__"+f.Name)
		}
	}
	return out
}

// triggerNames lists the change-tracking triggers of an entity.
func triggerNames(e *sdk.Entity) []string {
	t := e.Name
	return []string{t + "__insert", t + "__update", t + "__update_clock", t + "__rekey", t + "__delete"}
}

// triggerDDL creates the change-tracking triggers of an entity. They name
// only the key and _version, never the data columns, so adding a field
// leaves them valid.
//
// SQLite cannot assign NEW in a trigger, so the insert and update triggers
// stamp the row with a nested UPDATE. With recursive_triggers off (the
// default) a trigger does not fire itself, but the insert trigger's UPDATE
// does fire the update trigger; its WHEN clause (the statement left _version
// as it was) is false for the stamping UPDATE, which always changes
// _version, so every write moves the clock exactly once, whatever the
// recursive_triggers setting.
func triggerDDL(e *sdk.Entity) string {
	t, pk, lit := quote(e.Name), quote(e.PrimaryKey), quoteText(e.Name)
	name := func(s string) string { return quote(e.Name + "__" + s) }
	return fmt.Sprintf(`
-- Insert: honour a _version above the clock (bulk loads number their rows);
-- otherwise take the next version. A tombstone of a re-created id goes: the
-- upsert replaces the device's copy.
CREATE TRIGGER IF NOT EXISTS %[4]s AFTER INSERT ON %[1]s BEGIN
	UPDATE _clock SET version = CASE
		WHEN typeof(NEW._version) = 'integer' AND NEW._version > version THEN NEW._version
		ELSE version + 1 END;
	UPDATE %[1]s SET _version = (SELECT version FROM _clock)
		WHERE rowid = NEW.rowid AND _version IS NOT (SELECT version FROM _clock);
	DELETE FROM _tombstone WHERE entity = %[3]s AND id = NEW.%[2]s;
END;
-- Update: a statement that left _version alone (any plain-SQL edit, every
-- push) takes the next version.
CREATE TRIGGER IF NOT EXISTS %[5]s AFTER UPDATE ON %[1]s
WHEN NEW._version IS OLD._version OR typeof(NEW._version) <> 'integer' BEGIN
	UPDATE _clock SET version = version + 1;
	UPDATE %[1]s SET _version = (SELECT version FROM _clock) WHERE rowid = NEW.rowid;
END;
-- A hand-set _version above the clock moves the clock up, so it stays the
-- high-water mark of every version in the file.
CREATE TRIGGER IF NOT EXISTS %[6]s AFTER UPDATE OF _version ON %[1]s
WHEN typeof(NEW._version) = 'integer' AND NEW._version > (SELECT version FROM _clock) BEGIN
	UPDATE _clock SET version = NEW._version;
END;
-- A changed key deletes the old id as far as devices can tell.
CREATE TRIGGER IF NOT EXISTS %[7]s AFTER UPDATE OF %[2]s ON %[1]s
WHEN NEW.%[2]s IS NOT OLD.%[2]s BEGIN
	UPDATE _clock SET version = version + 1;
	INSERT INTO _tombstone (entity, id, version) VALUES (%[3]s, OLD.%[2]s, (SELECT version FROM _clock));
	DELETE FROM _tombstone WHERE entity = %[3]s AND id = NEW.%[2]s;
END;
-- Delete: a tombstone, and the row's documents go with it.
CREATE TRIGGER IF NOT EXISTS %[8]s AFTER DELETE ON %[1]s BEGIN
	UPDATE _clock SET version = version + 1;
	INSERT INTO _tombstone (entity, id, version) VALUES (%[3]s, OLD.%[2]s, (SELECT version FROM _clock));
	DELETE FROM _document WHERE entity = %[3]s AND record_id = OLD.%[2]s;
END;
`, t, pk, lit, name("insert"), name("update"), name("update_clock"), name("rekey"), name("delete"))
}
