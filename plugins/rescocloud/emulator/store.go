package emulator

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// The store is one SQLite connection guarded by Server.mu: the emulator
// serves tests, where one writer at a time is plenty, and a single
// connection keeps ":memory:" databases and transactions simple.

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// sqlType is the column type storing attributes of type t.
func sqlType(t string) string {
	switch t {
	case TypeInteger, TypeBigInt, TypePicklist, TypeBoolean, TypeDateTime:
		return "INTEGER"
	case TypeDouble:
		return "REAL"
	case TypeBinary:
		return "BLOB"
	}
	return "TEXT" // Guid, String, Memo, Lookup, Money and Decimal (exact digits)
}

// typeCol is the column holding the logical name a lookup points at.
func typeCol(a string) string { return a + "__type" }

func tableDDL(e *Entity) string {
	var cols []string
	for _, a := range e.Attributes {
		c := quote(a.Name) + " " + sqlType(a.Type)
		if a.Name == e.PrimaryKey {
			c += " NOT NULL PRIMARY KEY"
		}
		cols = append(cols, c)
		if a.Type == TypeLookup {
			cols = append(cols, quote(typeCol(a.Name))+" TEXT")
		}
	}
	cols = append(cols, "versionnumber INTEGER")
	if e.Name == "systemuser" {
		cols = append(cols, "_passhash TEXT")
	}
	ddl := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n\t%s\n)", quote(e.Name), strings.Join(cols, ",\n\t"))
	if e.Name != "annotation" {
		ddl += " WITHOUT ROWID"
	}
	ddl += ";\n"
	ddl += fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (versionnumber);\n", quote(e.Name+"__version"), quote(e.Name))
	for _, a := range e.Attributes {
		if a.Type == TypeLookup {
			ddl += fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s);\n", quote(e.Name+"__"+a.Name), quote(e.Name), quote(a.Name))
		}
	}
	return ddl + triggerDDL(e)
}

// derived are the SET clauses the triggers recompute on every write.
func derived(e *Entity) []string {
	var out []string
	for _, a := range e.Attributes {
		if a.Type == TypeLookup && len(a.Targets) == 1 && a.Name != "owningbusinessunit" {
			out = append(out, fmt.Sprintf("%s = CASE WHEN NEW.%s IS NULL THEN NULL ELSE '%s' END", quote(typeCol(a.Name)), quote(a.Name), a.Targets[0]))
		}
	}
	if e.owned() {
		out = append(out,
			`ownerid__type = CASE WHEN NEW.ownerid IS NULL THEN NULL WHEN EXISTS (SELECT 1 FROM team WHERE teamid = NEW.ownerid) THEN 'team' ELSE 'systemuser' END`,
			`owningbusinessunit = coalesce((SELECT businessunitid FROM systemuser WHERE systemuserid = NEW.ownerid), (SELECT businessunitid FROM team WHERE teamid = NEW.ownerid), NEW.owningbusinessunit)`,
			`owningbusinessunit__type = 'businessunit'`)
	}
	switch e.Name {
	case "contact":
		out = append(out, `fullname = trim(coalesce(NEW.firstname, '') || ' ' || coalesce(NEW.lastname, ''))`)
	case "annotation":
		out = append(out, `filesize = length(NEW.documentbody)`, `objecttypecode = coalesce(NEW.objectid__type, NEW.objecttypecode)`)
	}
	return out
}

// triggerDDL keeps versions and tracking: every insert, update and delete
// takes the next value of the org-wide clock; a delete or an owner change
// leaves a row in _removed. The insert trigger's stamping UPDATE changes
// versionnumber, so the update trigger's WHEN is false for it. Seed inserts
// rows with their versions set and so skips the insert trigger.
func triggerDDL(e *Entity) string {
	t, pk := quote(e.Name), quote(e.PrimaryKey)
	sets := strings.Join(append([]string{""}, derived(e)...), ",\n\t\t")
	owner := ""
	if e.owned() {
		owner = fmt.Sprintf(`
	INSERT INTO _removed (entity, id, version, reason, at)
		SELECT '%s', NEW.%s, (SELECT version FROM _clock), 'OwnerChanged', fs_now()
		WHERE OLD.ownerid IS NOT NEW.ownerid;`, e.Name, pk)
	}
	return fmt.Sprintf(`
CREATE TRIGGER IF NOT EXISTS %[3]s AFTER INSERT ON %[1]s WHEN NEW.versionnumber IS NULL BEGIN
	UPDATE _clock SET version = version + 1;
	UPDATE %[1]s SET versionnumber = (SELECT version FROM _clock),
		createdon = coalesce(NEW.createdon, fs_now()),
		modifiedon = coalesce(NEW.modifiedon, NEW.createdon, fs_now())%[6]s
		WHERE %[2]s = NEW.%[2]s;
END;
CREATE TRIGGER IF NOT EXISTS %[4]s AFTER UPDATE ON %[1]s WHEN NEW.versionnumber IS OLD.versionnumber BEGIN
	UPDATE _clock SET version = version + 1;
	UPDATE %[1]s SET versionnumber = (SELECT version FROM _clock),
		modifiedon = CASE WHEN NEW.modifiedon IS OLD.modifiedon THEN fs_now() ELSE NEW.modifiedon END%[6]s
		WHERE %[2]s = NEW.%[2]s;%[7]s
END;
CREATE TRIGGER IF NOT EXISTS %[5]s AFTER DELETE ON %[1]s BEGIN
	UPDATE _clock SET version = version + 1;
	INSERT INTO _removed (entity, id, version, reason, at)
		VALUES ('%[8]s', OLD.%[2]s, (SELECT version FROM _clock), 'Deleted', fs_now());
END;
`, t, pk, quote(e.Name+"__insert"), quote(e.Name+"__update"), quote(e.Name+"__delete"), sets, owner, e.Name)
}

const baseDDL = `
CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _clock (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
INSERT OR IGNORE INTO _clock VALUES (1, 0);
CREATE TABLE IF NOT EXISTS _removed (
	seq INTEGER PRIMARY KEY,
	entity TEXT NOT NULL,
	id TEXT NOT NULL,
	version INTEGER NOT NULL,
	reason TEXT NOT NULL,
	at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS _removed_version ON _removed (entity, version);
CREATE INDEX IF NOT EXISTS _removed_at ON _removed (at);
CREATE TABLE IF NOT EXISTS _request (
	requestid TEXT PRIMARY KEY,
	result TEXT NOT NULL,
	at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS _request_at ON _request (at);
`

// open opens the database at path (":memory:" when empty) and lays it out.
func (s *Server) open(path string) error {
	if path == "" {
		path = ":memory:"
	}
	db, err := sqlite3.OpenFlags(path, sqlite3.OPEN_READWRITE|sqlite3.OPEN_CREATE|sqlite3.OPEN_NOMUTEX)
	if err != nil {
		return fmt.Errorf("emulator: open %s: %w", path, err)
	}
	s.db = db
	if err := db.BusyTimeout(30 * time.Second); err != nil {
		return err
	}
	if err := db.Exec(`PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536; PRAGMA recursive_triggers=OFF; PRAGMA foreign_keys=OFF;`); err != nil {
		return fmt.Errorf("emulator: configure %s: %w", path, err)
	}
	if err := s.registerFuncs(); err != nil {
		return err
	}
	ddl := baseDDL
	for _, n := range entityNames {
		ddl += tableDDL(entities[n])
	}
	if err := db.Exec(ddl); err != nil {
		return fmt.Errorf("emulator: create tables: %w", err)
	}
	return nil
}

func (s *Server) registerFuncs() error {
	now := func(ctx sqlite3.Context, _ ...sqlite3.Value) { ctx.ResultInt64(s.now().UnixMicro()) }
	if err := s.db.CreateFunction("fs_now", 0, sqlite3.INNOCUOUS, now); err != nil {
		return err
	}
	like := func(ctx sqlite3.Context, arg ...sqlite3.Value) {
		if arg[0].Type() == sqlite3.NULL || arg[1].Type() == sqlite3.NULL {
			ctx.ResultNull()
			return
		}
		ctx.ResultBool(likeMatch(arg[0].Text(), arg[1].Text()))
	}
	if err := s.db.CreateFunction("fs_like", 2, sqlite3.DETERMINISTIC|sqlite3.INNOCUOUS, like); err != nil {
		return err
	}
	cmp := func(ctx sqlite3.Context, arg ...sqlite3.Value) {
		if arg[0].Type() == sqlite3.NULL || arg[1].Type() == sqlite3.NULL {
			ctx.ResultNull()
			return
		}
		c, ok := decCompare(arg[0].Text(), arg[1].Text())
		if !ok {
			ctx.ResultNull()
			return
		}
		ctx.ResultInt(c)
	}
	return s.db.CreateFunction("fs_deccmp", 2, sqlite3.DETERMINISTIC|sqlite3.INNOCUOUS, cmp)
}

// bind binds args to st from parameter 1.
func bind(st *sqlite3.Stmt, args []any) error {
	for i, a := range args {
		n := i + 1
		var err error
		switch v := a.(type) {
		case nil:
			err = st.BindNull(n)
		case string:
			err = st.BindText(n, v)
		case []byte:
			if v == nil {
				err = st.BindNull(n)
			} else {
				err = st.BindBlob(n, v)
			}
		case int:
			err = st.BindInt64(n, int64(v))
		case int64:
			err = st.BindInt64(n, v)
		case float64:
			err = st.BindFloat(n, v)
		case bool:
			err = st.BindBool(n, v)
		case time.Time:
			err = st.BindInt64(n, v.UnixMicro())
		default:
			err = fmt.Errorf("emulator: cannot bind %T", a)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// query runs sql and calls fn for each row. Callers hold s.mu.
func (s *Server) query(sql string, args []any, fn func(st *sqlite3.Stmt) error) error {
	st, tail, err := s.db.Prepare(sql)
	if err != nil {
		return err
	}
	if st == nil {
		return errors.New("emulator: empty statement")
	}
	defer st.Close()
	if strings.TrimSpace(tail) != "" {
		return errors.New("emulator: more than one statement")
	}
	if err := bind(st, args); err != nil {
		return err
	}
	for st.Step() {
		if fn != nil {
			if err := fn(st); err != nil {
				return err
			}
		}
	}
	return st.Err()
}

// exec runs one statement. Callers hold s.mu.
func (s *Server) exec(sql string, args ...any) error { return s.query(sql, args, nil) }

// queryInt returns the first column of the first row (ok false: no row).
func (s *Server) queryInt(sql string, args ...any) (n int64, ok bool, err error) {
	err = s.query(sql, args, func(st *sqlite3.Stmt) error {
		if !ok {
			n, ok = st.ColumnInt64(0), st.ColumnType(0) != sqlite3.NULL
		}
		return nil
	})
	return
}

func (s *Server) queryText(sql string, args ...any) (t string, ok bool, err error) {
	err = s.query(sql, args, func(st *sqlite3.Stmt) error {
		if !ok {
			t, ok = st.ColumnText(0), st.ColumnType(0) != sqlite3.NULL
		}
		return nil
	})
	return
}

// withTx runs fn in a transaction. Callers hold s.mu.
func (s *Server) withTx(fn func() error) error {
	if err := s.db.Exec(`BEGIN IMMEDIATE`); err != nil {
		return err
	}
	if err := fn(); err != nil {
		s.db.Exec(`ROLLBACK`)
		return err
	}
	return s.db.Exec(`COMMIT`)
}

func (s *Server) meta(key string) (string, error) {
	v, _, err := s.queryText(`SELECT value FROM _meta WHERE key = ?`, key)
	return v, err
}

func (s *Server) setMeta(key string, v any) error {
	return s.exec(`INSERT INTO _meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, v)
}

// Exec runs sql (one statement) with args: tests change data behind the
// connector with it; the triggers move versions and tracking as API
// writes do.
func (s *Server) Exec(ctx context.Context, sql string, args ...any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.db.SetInterrupt(ctx)
	defer s.db.SetInterrupt(context.Background())
	return s.exec(sql, args...)
}

// QueryInt returns the first column of the first row of sql as an integer
// (0 when there is no row or it is null).
func (s *Server) QueryInt(ctx context.Context, sql string, args ...any) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.db.SetInterrupt(ctx)
	defer s.db.SetInterrupt(context.Background())
	n, _, err := s.queryInt(sql, args...)
	return n, err
}

// QueryText returns the first column of the first row of sql as text.
func (s *Server) QueryText(ctx context.Context, sql string, args ...any) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.db.SetInterrupt(ctx)
	defer s.db.SetInterrupt(context.Background())
	t, _, err := s.queryText(sql, args...)
	return t, err
}

// newGUID returns a random version-4 GUID in lower-case canonical form.
func newGUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// parseGUID accepts 8-4-4-4-12 hex, optionally in braces, and returns it in
// lower case.
func parseGUID(s string) (string, bool) {
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	if len(s) != 36 {
		return "", false
	}
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return "", false
			}
		}
	}
	return string(b), true
}

var errClosed = errors.New("emulator: server is closed")
