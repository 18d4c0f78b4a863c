package emulator

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// Connection settings. The driver caps a connection's memory, so the page
// cache stays well below it and mmap stays off.
const (
	cacheSizeKiB   = 16 * 1024
	busyTimeout    = 30 * time.Second
	maxCachedStmts = 128
	defaultPool    = 8
	// layoutVersion 2: entity tables are clustered on their primary key
	// (WITHOUT ROWID), except those with streamed blobs (see clustered).
	// Layout 1 kept every entity in a rowid table with a unique key index.
	layoutVersion = 2
)

// nowMicrosSQL is the current time as stored for datetimes: Unix
// microseconds of a whole second.
const nowMicrosSQL = `(unixepoch() * 1000000)`

// Store is the emulator's SQLite file: one table per entity, the version
// clock, tombstones and upload staging. It is safe for concurrent use; each
// call takes a connection from a small pool.
type Store struct {
	path string
	pool *pool
}

// pool hands out connections, one per call (a sqlite3.Conn is not safe for
// concurrent use; WAL lets readers and the one writer overlap).
type pool struct {
	path  string
	idle  chan *conn
	slots chan struct{}
	mu    sync.Mutex
	shut  bool
}

// conn is one connection with its statement cache.
type conn struct {
	db    *sqlite3.Conn
	stmts map[string]*sqlite3.Stmt
}

func newPool(path string, size int) *pool {
	if size <= 0 {
		size = defaultPool
	}
	p := &pool{path: path, idle: make(chan *conn, size), slots: make(chan struct{}, size)}
	for range size {
		p.slots <- struct{}{}
	}
	return p
}

var errClosed = errors.New("emulator: store is closed")

func (p *pool) get(ctx context.Context) (*conn, error) {
	p.mu.Lock()
	shut := p.shut
	p.mu.Unlock()
	if shut {
		return nil, errClosed
	}
	select {
	case c := <-p.idle:
		c.db.SetInterrupt(ctx)
		return c, nil
	default:
	}
	select {
	case c := <-p.idle:
		c.db.SetInterrupt(ctx)
		return c, nil
	case <-p.slots:
		c, err := openConn(p.path)
		if err != nil {
			p.slots <- struct{}{}
			return nil, err
		}
		c.db.SetInterrupt(ctx)
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *pool) put(c *conn) {
	c.db.SetInterrupt(context.Background())
	if !c.db.GetAutocommit() {
		if err := c.db.Exec(`ROLLBACK`); err != nil {
			c.close()
			p.slots <- struct{}{}
			return
		}
	}
	p.mu.Lock()
	shut := p.shut
	p.mu.Unlock()
	if shut {
		c.close()
		p.slots <- struct{}{}
		return
	}
	p.idle <- c
}

func (p *pool) close() error {
	p.mu.Lock()
	p.shut = true
	p.mu.Unlock()
	var errs []error
	for {
		select {
		case c := <-p.idle:
			errs = append(errs, c.close())
			p.slots <- struct{}{}
		default:
			return errors.Join(errs...)
		}
	}
}

func openConn(path string) (*conn, error) {
	db, err := sqlite3.OpenFlags(path, sqlite3.OPEN_READWRITE|sqlite3.OPEN_CREATE|sqlite3.OPEN_NOMUTEX)
	if err != nil {
		return nil, fmt.Errorf("emulator: open %s: %w", path, err)
	}
	if err := db.BusyTimeout(busyTimeout); err != nil {
		db.Close()
		return nil, err
	}
	err = db.Exec(fmt.Sprintf(`PRAGMA journal_mode=WAL;
		PRAGMA synchronous=NORMAL;
		PRAGMA cache_size=-%d;
		PRAGMA mmap_size=0;
		PRAGMA foreign_keys=OFF;
		PRAGMA recursive_triggers=OFF;`, cacheSizeKiB))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("emulator: configure %s: %w", path, err)
	}
	if err := registerFuncs(db); err != nil {
		db.Close()
		return nil, err
	}
	return &conn{db: db, stmts: map[string]*sqlite3.Stmt{}}, nil
}

func (c *conn) close() error {
	for _, s := range c.stmts {
		s.Close()
	}
	c.stmts = nil
	return c.db.Close()
}

// prep returns the cached statement for sql, reset and unbound.
func (c *conn) prep(sql string) (*sqlite3.Stmt, error) {
	if s, ok := c.stmts[sql]; ok {
		s.Reset()
		s.ClearBindings()
		return s, nil
	}
	if len(c.stmts) >= maxCachedStmts {
		for k, s := range c.stmts {
			s.Close()
			delete(c.stmts, k)
		}
	}
	s, tail, err := c.db.Prepare(sql)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, errors.New("emulator: empty statement")
	}
	if strings.TrimSpace(tail) != "" {
		s.Close()
		return nil, errors.New("emulator: more than one statement")
	}
	c.stmts[sql] = s
	return s, nil
}

// exec runs one cached statement and discards its rows.
func (c *conn) exec(sql string, args ...any) error {
	s, err := c.prep(sql)
	if err != nil {
		return err
	}
	if err := bindAll(s, args); err != nil {
		return err
	}
	err = s.Exec()
	s.ClearBindings()
	return err
}

// queryInt runs a statement returning one integer; ok is false when there
// is no row or it is null.
func (c *conn) queryInt(sql string, args ...any) (n int64, ok bool, err error) {
	s, err := c.prep(sql)
	if err != nil {
		return 0, false, err
	}
	defer s.Reset()
	if err := bindAll(s, args); err != nil {
		return 0, false, err
	}
	if !s.Step() {
		return 0, false, s.Err()
	}
	if s.ColumnType(0) == sqlite3.NULL {
		return 0, false, nil
	}
	return s.ColumnInt64(0), true, nil
}

// queryText runs a statement returning one text value.
func (c *conn) queryText(sql string, args ...any) (string, bool, error) {
	s, err := c.prep(sql)
	if err != nil {
		return "", false, err
	}
	defer s.Reset()
	if err := bindAll(s, args); err != nil {
		return "", false, err
	}
	if !s.Step() {
		return "", false, s.Err()
	}
	if s.ColumnType(0) == sqlite3.NULL {
		return "", false, nil
	}
	return s.ColumnText(0), true, nil
}

func bindAll(s *sqlite3.Stmt, args []any) error {
	for i, a := range args {
		n := i + 1
		var err error
		switch v := a.(type) {
		case nil:
			err = s.BindNull(n)
		case string:
			err = s.BindText(n, v)
		case []byte:
			err = s.BindBlob(n, v)
		case int:
			err = s.BindInt64(n, int64(v))
		case int64:
			err = s.BindInt64(n, v)
		case float64:
			err = s.BindFloat(n, v)
		case bool:
			err = s.BindBool(n, v)
		case zeroBlob:
			err = s.BindZeroBlob(n, int64(v))
		default:
			err = fmt.Errorf("emulator: cannot bind %T", a)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// zeroBlob binds a blob of n zero bytes, to be filled by incremental I/O.
type zeroBlob int64

// begin starts a write transaction, taking the write lock up front.
func (c *conn) begin() error     { return c.db.Exec(`BEGIN IMMEDIATE`) }
func (c *conn) beginRead() error { return c.db.Exec(`BEGIN`) }
func (c *conn) commit() error    { return c.db.Exec(`COMMIT`) }

// rollback ends a transaction if one is open, even after an interrupt.
func (c *conn) rollback() {
	if c.db.GetAutocommit() {
		return
	}
	old := c.db.SetInterrupt(context.Background())
	c.db.Exec(`ROLLBACK`)
	c.db.SetInterrupt(old)
}

// withTx runs fn in a write transaction.
func (c *conn) withTx(fn func() error) (err error) {
	if err := c.begin(); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			c.rollback()
		}
	}()
	if err := fn(); err != nil {
		return err
	}
	return c.commit()
}

// OpenStore opens the store at path, laying out a new file (and the root
// business unit and organization) when it holds none yet.
func OpenStore(ctx context.Context, path string, poolSize int) (*Store, error) {
	if path == "" {
		return nil, errors.New("emulator: no database path")
	}
	s := &Store{path: path, pool: newPool(path, poolSize)}
	if err := s.layout(ctx); err != nil {
		s.pool.close()
		return nil, err
	}
	return s, nil
}

// Path is the SQLite file.
func (s *Store) Path() string { return s.path }

// Close closes the store's connections.
func (s *Store) Close() error { return s.pool.close() }

func (s *Store) layout(ctx context.Context) error {
	c, err := s.pool.get(ctx)
	if err != nil {
		return err
	}
	defer s.pool.put(c)
	return c.withTx(func() error {
		n, _, err := c.queryInt(`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '_meta'`)
		if err != nil {
			return fmt.Errorf("emulator: open %s: %w", s.path, err)
		}
		if n > 0 {
			v, _, err := c.queryInt(`SELECT value FROM _meta WHERE key = 'layout'`)
			if err != nil {
				return err
			}
			if v != layoutVersion {
				return layoutError(s.path, v)
			}
			return nil
		}
		if err := c.db.Exec(metaDDL); err != nil {
			return fmt.Errorf("emulator: lay out %s: %w", s.path, err)
		}
		for _, name := range entityOrder {
			e := model[name]
			if err := c.db.Exec(tableDDL(e)); err != nil {
				return fmt.Errorf("emulator: create %s: %w", name, err)
			}
			for _, ix := range indexDDL(e) {
				if err := c.db.Exec(ix); err != nil {
					return err
				}
			}
			if err := c.db.Exec(triggerDDL(e)); err != nil {
				return fmt.Errorf("emulator: triggers of %s: %w", name, err)
			}
		}
		org, bu := newGUID(), newGUID()
		if err := c.exec(`INSERT INTO _meta (key, value) VALUES ('layout', ?1), ('organizationid', ?2),
			('businessunitid', ?3), ('purge_horizon', 0)`, layoutVersion, org, bu); err != nil {
			return err
		}
		return c.exec(`INSERT INTO businessunit (businessunitid, name) VALUES (?1, 'emulator')`, bu)
	})
}

// metaDDL creates the emulator's own tables; their names start with an
// underscore, entity tables' never do.
const metaDDL = `
CREATE TABLE _meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
-- The org-wide row version clock: every insert, update and delete of an
-- entity row takes the next value (see the entity triggers).
CREATE TABLE _clock (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
INSERT INTO _clock VALUES (1, 0);
CREATE TABLE _tombstone (
	entity    TEXT NOT NULL,
	id        TEXT NOT NULL,
	version   INTEGER NOT NULL,
	deletedon INTEGER NOT NULL
);
CREATE INDEX _tombstone_version ON _tombstone (entity, version);
CREATE INDEX _tombstone_id ON _tombstone (entity, id);
-- Block uploads in progress (InitializeAnnotationBlocksUpload).
CREATE TABLE _upload (
	token     TEXT PRIMARY KEY,
	entity    TEXT NOT NULL,
	id        TEXT NOT NULL,
	userid    TEXT NOT NULL,
	createdon INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE _upload_block (
	token   TEXT NOT NULL,
	blockid TEXT NOT NULL,
	data    BLOB NOT NULL,
	PRIMARY KEY (token, blockid)
);
`

// layoutError explains why a file of another layout is not opened: the
// emulator never reads (or rewrites) a layout it does not know.
func layoutError(path string, v int64) error {
	if v < layoutVersion {
		return fmt.Errorf("emulator: %s was laid out by an older emulator (layout %d, entity tables keyed by rowid); "+
			"this build keeps each entity table clustered on its primary key (layout %d) and does not convert files: "+
			"delete the file and create it again, seeding it anew (fieldsync emulator dataverse --db <file> --seed-accounts <n>)",
			path, v, layoutVersion)
	}
	return fmt.Errorf("emulator: %s has layout %d, newer than this build reads (%d); use a newer emulator or a new file", path, v, layoutVersion)
}

// tableDDL creates an entity's table. As in Dataverse, whose tables are
// SQL Server tables clustered on their primary key, the rows are stored in
// key order (WITHOUT ROWID, the key the PRIMARY KEY): a key-ordered read
// (a TDS key range, a Web API keyset page) walks the table itself, leaf
// after leaf, instead of a key index with one table lookup per row; a
// secondary index holds the key, so a keys-only read by version is
// index-only.
//
// A table with file columns keeps a rowid (see clustered).
func tableDDL(e *Entity) string {
	if !e.clustered() {
		return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n\t%s\n);\n", quoteIdent(e.Name), strings.Join(columnsDDL(e), ",\n\t"))
	}
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n\t%s,\n\tPRIMARY KEY (%s)\n) WITHOUT ROWID;\n",
		quoteIdent(e.Name), strings.Join(columnsDDL(e), ",\n\t"), quoteIdent(e.PrimaryKey))
}

// clustered reports whether an entity's table is stored in primary key
// order (WITHOUT ROWID). Tables with a file column (annotation.documentbody)
// are not: the emulator streams those blobs with SQLite's incremental blob
// I/O, which addresses a row by its rowid, so a document of any size is
// written and read in pieces, never held whole in memory. Reading a blob in
// pieces without it (substr) would load the whole value for every piece.
// Such a table keeps a rowid and a unique index on its key instead.
func (e *Entity) clustered() bool {
	for _, a := range e.Attributes {
		if a.Kind == KindFile {
			return false
		}
	}
	return true
}

// indexDDL lists an entity's indexes: for a table with a rowid the primary
// key (unique; keyset paging walks it; a clustered table is its own key
// index), the row version (delta reads range over it) and each lookup
// column (children by parent, cascades).
func indexDDL(e *Entity) []string {
	t := e.Name
	var out []string
	if !e.clustered() {
		out = append(out, fmt.Sprintf("CREATE UNIQUE INDEX IF NOT EXISTS %s ON %s (%s)", quoteIdent(t+"__pk"), quoteIdent(t), quoteIdent(e.PrimaryKey)))
	}
	out = append(out, fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (versionnumber)", quoteIdent(t+"__version"), quoteIdent(t)))
	for _, a := range e.Attributes {
		if a.Kind == KindLookup {
			out = append(out, fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s)",
				quoteIdent(t+"__"+a.Name), quoteIdent(t), quoteIdent(a.Column)))
		}
	}
	return out
}

func indexNames(e *Entity) []string {
	var out []string
	if !e.clustered() {
		out = append(out, e.Name+"__pk")
	}
	out = append(out, e.Name+"__version")
	for _, a := range e.Attributes {
		if a.Kind == KindLookup {
			out = append(out, e.Name+"__"+a.Name)
		}
	}
	return out
}

func triggerNames(e *Entity) []string {
	return []string{e.Name + "__insert", e.Name + "__update", e.Name + "__delete"}
}

// triggerDDL creates the change-tracking triggers of an entity, so any
// writer (the Web API, the sqlite3 shell, a test's Exec) moves the clock:
//   - insert: next version; createdon/modifiedon default to now; a
//     tombstone of a re-created id goes;
//   - update: a statement that left versionnumber alone takes the next
//     version, and modifiedon becomes now unless the statement set it;
//   - delete: a tombstone at the next version.
//
// The insert trigger's stamping UPDATE changes versionnumber, so the update
// trigger's WHEN is false for it: every write moves the clock once. The
// stamping UPDATEs find the row by its key: clustered tables have no rowid.
func triggerDDL(e *Entity) string {
	t, pk, lit := quoteIdent(e.Name), quoteIdent(e.PrimaryKey), "'"+e.Name+"'"
	return fmt.Sprintf(`
CREATE TRIGGER IF NOT EXISTS %[4]s AFTER INSERT ON %[1]s BEGIN
	UPDATE _clock SET version = version + 1;
	UPDATE %[1]s SET versionnumber = (SELECT version FROM _clock),
		createdon = coalesce(NEW.createdon, %[7]s),
		modifiedon = coalesce(NEW.modifiedon, NEW.createdon, %[7]s)
		WHERE %[2]s = NEW.%[2]s;
	DELETE FROM _tombstone WHERE entity = %[3]s AND id = NEW.%[2]s;
END;
CREATE TRIGGER IF NOT EXISTS %[5]s AFTER UPDATE ON %[1]s
WHEN NEW.versionnumber IS OLD.versionnumber BEGIN
	UPDATE _clock SET version = version + 1;
	UPDATE %[1]s SET versionnumber = (SELECT version FROM _clock),
		modifiedon = CASE WHEN NEW.modifiedon IS OLD.modifiedon THEN %[7]s ELSE NEW.modifiedon END
		WHERE %[2]s = NEW.%[2]s;
END;
CREATE TRIGGER IF NOT EXISTS %[6]s AFTER DELETE ON %[1]s BEGIN
	UPDATE _clock SET version = version + 1;
	INSERT INTO _tombstone (entity, id, version, deletedon)
		VALUES (%[3]s, OLD.%[2]s, (SELECT version FROM _clock), %[7]s);
END;
`, t, pk, lit, quoteIdent(e.Name+"__insert"), quoteIdent(e.Name+"__update"), quoteIdent(e.Name+"__delete"), nowMicrosSQL)
}

// newGUID returns a random version-4 GUID in lower-case canonical form.
func newGUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return formatGUID(b)
}

func formatGUID(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	out := make([]byte, 36)
	j := 0
	for i, v := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = hex[v>>4], hex[v&0xf]
		j += 2
	}
	return string(out)
}

// parseGUID checks s is a GUID (braces allowed) and returns it in
// lower-case canonical form.
func parseGUID(s string) (string, bool) {
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	if len(s) != 36 {
		return "", false
	}
	out := make([]byte, 36)
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", false
			}
			out[i] = c
			continue
		}
		switch {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
			out[i] = c
		case 'A' <= c && c <= 'F':
			out[i] = c + 'a' - 'A'
		default:
			return "", false
		}
	}
	return string(out), true
}

// Exec runs plain SQL (one or more statements), as an admin would with the
// sqlite3 shell; the change-tracking triggers see it like any other write.
func (s *Store) Exec(ctx context.Context, sql string) error {
	c, err := s.pool.get(ctx)
	if err != nil {
		return err
	}
	defer s.pool.put(c)
	return c.db.Exec(sql)
}

// ExecArgs runs one statement with arguments (string, int, int64, float64,
// bool, []byte or nil) and returns the number of rows it changed.
func (s *Store) ExecArgs(ctx context.Context, sql string, args ...any) (int64, error) {
	c, err := s.pool.get(ctx)
	if err != nil {
		return 0, err
	}
	defer s.pool.put(c)
	if err := c.exec(sql, args...); err != nil {
		return 0, err
	}
	return c.db.Changes(), nil
}

// Version returns the row version clock: the highest version handed out.
func (s *Store) Version(ctx context.Context) (int64, error) {
	return s.QueryInt(ctx, `SELECT version FROM _clock`)
}

// QueryInt runs a query returning one integer (0 for no row or null).
func (s *Store) QueryInt(ctx context.Context, sql string, args ...any) (int64, error) {
	c, err := s.pool.get(ctx)
	if err != nil {
		return 0, err
	}
	defer s.pool.put(c)
	n, _, err := c.queryInt(sql, args...)
	return n, err
}

// QueryText runs a query returning one text value ("" for no row or null).
func (s *Store) QueryText(ctx context.Context, sql string, args ...any) (string, error) {
	c, err := s.pool.get(ctx)
	if err != nil {
		return "", err
	}
	defer s.pool.put(c)
	t, _, err := c.queryText(sql, args...)
	return t, err
}

// Rows streams the result of Store.Query. It holds one pooled connection
// (and, inside it, one read snapshot) until Close.
type Rows struct {
	s    *Store
	c    *conn
	st   *sqlite3.Stmt
	err  error
	done bool
}

// Query runs one SELECT and streams its rows; the caller must Close the
// Rows. Values come back as int64, float64, string, []byte (a copy) or nil.
func (s *Store) Query(ctx context.Context, sql string, args ...any) (*Rows, error) {
	c, err := s.pool.get(ctx)
	if err != nil {
		return nil, err
	}
	st, tail, err := c.db.Prepare(sql)
	if err == nil && st == nil {
		err = errors.New("emulator: empty statement")
	}
	if err == nil && strings.TrimSpace(tail) != "" {
		st.Close()
		err = errors.New("emulator: Query takes one statement")
	}
	if err != nil {
		s.pool.put(c)
		return nil, err
	}
	if err := bindAll(st, args); err != nil {
		st.Close()
		s.pool.put(c)
		return nil, err
	}
	return &Rows{s: s, c: c, st: st}, nil
}

// Columns returns the result's column names.
func (r *Rows) Columns() []string {
	n := r.st.ColumnCount()
	out := make([]string, n)
	for i := range out {
		out[i] = r.st.ColumnName(i)
	}
	return out
}

// DeclTypes returns the declared types of the result's columns ("" for
// expressions).
func (r *Rows) DeclTypes() []string {
	n := r.st.ColumnCount()
	out := make([]string, n)
	for i := range out {
		out[i] = r.st.ColumnDeclType(i)
	}
	return out
}

// Next steps to the next row.
func (r *Rows) Next() bool {
	if r.done {
		return false
	}
	if r.st.Step() {
		return true
	}
	r.err = r.st.Err()
	r.done = true
	return false
}

// Value returns column i of the current row.
func (r *Rows) Value(i int) any {
	switch r.st.ColumnType(i) {
	case sqlite3.INTEGER:
		return r.st.ColumnInt64(i)
	case sqlite3.FLOAT:
		return r.st.ColumnFloat(i)
	case sqlite3.TEXT:
		return r.st.ColumnText(i)
	case sqlite3.BLOB:
		return r.st.ColumnBlob(i, nil)
	}
	return nil
}

// Err returns the error that ended the iteration, if any.
func (r *Rows) Err() error { return r.err }

// Close releases the statement and the connection.
func (r *Rows) Close() error {
	if r.st == nil {
		return r.err
	}
	err := r.st.Close()
	r.st = nil
	r.s.pool.put(r.c)
	if r.err != nil {
		return r.err
	}
	return err
}

// WithConn runs fn with a pooled connection of the store, for callers that
// need the driver itself (prepared statements of their own, blob I/O). fn
// must not keep the connection or leave a transaction open.
func (s *Store) WithConn(ctx context.Context, fn func(*sqlite3.Conn) error) error {
	c, err := s.pool.get(ctx)
	if err != nil {
		return err
	}
	defer s.pool.put(c)
	return fn(c.db)
}

// PurgeTombstones deletes every tombstone and moves the purge horizon to
// the current version: delta tokens from before now are expired from then
// on (their deletes are gone). It returns the number purged.
func (s *Store) PurgeTombstones(ctx context.Context) (int64, error) {
	c, err := s.pool.get(ctx)
	if err != nil {
		return 0, err
	}
	defer s.pool.put(c)
	var n int64
	err = c.withTx(func() error {
		if err := c.exec(`DELETE FROM _tombstone`); err != nil {
			return err
		}
		n = c.db.Changes()
		return c.exec(`UPDATE _meta SET value = (SELECT version FROM _clock) WHERE key = 'purge_horizon'`)
	})
	return n, err
}

// ExpireDeltaTokens makes every delta token handed out so far expired: the
// clock moves up by one and the purge horizon to it. Tombstones stay.
func (s *Store) ExpireDeltaTokens(ctx context.Context) error {
	c, err := s.pool.get(ctx)
	if err != nil {
		return err
	}
	defer s.pool.put(c)
	return c.withTx(func() error {
		if err := c.exec(`UPDATE _clock SET version = version + 1`); err != nil {
			return err
		}
		return c.exec(`UPDATE _meta SET value = (SELECT version FROM _clock) WHERE key = 'purge_horizon'`)
	})
}

// Count returns the number of rows of an entity (by logical name).
func (s *Store) Count(ctx context.Context, entity string) (int64, error) {
	e := model[entity]
	if e == nil {
		return 0, fmt.Errorf("emulator: unknown entity %q", entity)
	}
	return s.QueryInt(ctx, `SELECT count(*) FROM `+quoteIdent(e.Name))
}

// meta reads one _meta value as text.
func (c *conn) meta(key string) (string, error) {
	v, _, err := c.queryText(`SELECT value FROM _meta WHERE key = ?1`, key)
	return v, err
}

// sqliteConn is the driver's connection type, as WithConn hands it out.
type sqliteConn = sqlite3.Conn
