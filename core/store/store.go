package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/fieldsync/fieldsync/sdk"
)

// cacheSizeKiB is the page cache of the store's connection. 64 MiB held the
// working set of a million-row upsert in measurements (128 MiB wrote the same
// pages), and stays far below the driver's 256 MiB per-connection cap, past
// which it panics.
const cacheSizeKiB = 64 << 10

// sortCacheKiB is the cache while a key index is built (see ensureIndex).
const sortCacheKiB = 8 << 10

// busyTimeout is how long a write waits for another writer (the host app)
// before failing with a retryable error.
const busyTimeout = 10 * time.Second

// Store is an open device database. Its methods are safe for concurrent use;
// writes are serialised on one connection (SQLite has one writer anyway).
type Store struct {
	path string

	mu    sync.Mutex
	db    *sqlite3.Conn
	stmts map[string]*sqlite3.Stmt
	ents  map[string]*table // tables set up by EnsureEntity
}

// Open opens (creating if needed) the device database at path and lays out
// the engine's bookkeeping tables.
func Open(ctx context.Context, path string) (*Store, error) {
	db, err := sqlite3.OpenFlags(path, sqlite3.OPEN_READWRITE|sqlite3.OPEN_CREATE|sqlite3.OPEN_NOMUTEX)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{path: path, db: db, stmts: map[string]*sqlite3.Stmt{}, ents: map[string]*table{}}
	if err := db.BusyTimeout(busyTimeout); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	err = db.Exec(fmt.Sprintf(`PRAGMA journal_mode=WAL;
		PRAGMA synchronous=NORMAL;
		PRAGMA cache_size=-%d;
		PRAGMA mmap_size=0;
		PRAGMA wal_autocheckpoint=10000;
		PRAGMA recursive_triggers=OFF;`, cacheSizeKiB))
	if err == nil {
		err = db.Exec(metaSchema + documentSchema)
	}
	if err == nil {
		err = s.migrateScope()
	}
	if err == nil {
		err = s.loadTables()
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

// loadTables sets up the tables of entities synced before, from the schema
// stored with them, so conflicts, status and logs read offline.
func (s *Store) loadTables() error {
	st, _, err := s.db.Prepare("SELECT entity, fields, schema FROM _fs_entity WHERE schema IS NOT NULL")
	if err != nil {
		return err
	}
	defer st.Close()
	for st.Step() {
		var ent sdk.Entity
		if err := json.Unmarshal([]byte(st.ColumnText(2)), &ent); err != nil {
			return fmt.Errorf("entity %s: stored schema: %w", st.ColumnText(0), err)
		}
		var fields []string
		if f := st.ColumnText(1); f != "" {
			fields = strings.Split(f, ",")
		} else {
			fields = []string{}
		}
		t, err := newTable(ent, fields)
		if err != nil {
			return fmt.Errorf("entity %s: %w", st.ColumnText(0), err)
		}
		t.indexed, err = s.hasIndex(t.indexName())
		if err != nil {
			return err
		}
		s.ents[t.name] = t
	}
	return st.Err()
}

// Entities lists the entities set up in the store, sorted by name.
func (s *Store) Entities() []sdk.Entity {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sdk.Entity
	for _, t := range s.ents {
		out = append(out, t.ent)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// metaSchema is the engine's bookkeeping. Every statement is idempotent.
const metaSchema = `
CREATE TABLE IF NOT EXISTS _fs_applying (x INTEGER);
CREATE TABLE IF NOT EXISTS _fs_outbox (
	seq          INTEGER PRIMARY KEY,
	entity       TEXT NOT NULL,
	id           TEXT NOT NULL,
	op           TEXT NOT NULL,       -- create | update | delete
	change_id    TEXT NOT NULL,
	base_version TEXT,                -- row version the change was made against
	base         TEXT,                -- JSON of the row's values when the change began
	fields       TEXT NOT NULL,       -- ',a,b,' changed fields; '*' all
	state        TEXT NOT NULL,       -- pending | inflight | conflict | failed
	attempts     INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT,
	created_at   INTEGER NOT NULL,    -- Unix microseconds
	updated_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS _fs_outbox_row ON _fs_outbox(entity, id);
CREATE TABLE IF NOT EXISTS _fs_entity (
	entity       TEXT PRIMARY KEY,
	fields       TEXT NOT NULL,       -- selected fields, comma-separated: a change means a resync
	schema       TEXT,                -- the entity as the backend described it (JSON), so the store works offline
	mode         TEXT NOT NULL,       -- new | bulk | resync | ready
	token        BLOB,
	cursor       BLOB,
	last_sync_at INTEGER
);
CREATE TABLE IF NOT EXISTS _fs_seen (entity TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (entity, id)) WITHOUT ROWID;
-- Rows the device created or updated and the server accepted: the server
-- may have filled fields of its own (owner, created on, computed names), so
-- the next download takes its copy whole even at the version the push
-- answered, then forgets the row here.
CREATE TABLE IF NOT EXISTS _fs_refresh (entity TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (entity, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _fs_conflict (
	id           INTEGER PRIMARY KEY,
	entity       TEXT NOT NULL,
	record_id    TEXT NOT NULL,
	local_op     TEXT NOT NULL,
	base         TEXT,
	local        TEXT,
	remote       TEXT,
	remote_version TEXT,
	remote_deleted INTEGER NOT NULL DEFAULT 0,
	policy       TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	resolved_at  INTEGER,
	resolution   TEXT
);
CREATE TABLE IF NOT EXISTS _fs_sync_log (
	id         INTEGER PRIMARY KEY,
	started_at INTEGER NOT NULL,
	ended_at   INTEGER,
	result     TEXT NOT NULL,
	log        TEXT NOT NULL          -- the whole log as JSON
);
DELETE FROM _fs_applying;
`

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.stmts {
		st.Close()
	}
	s.stmts = nil
	return s.db.Close()
}

// prep returns a cached prepared statement, reset and unbound. Callers hold s.mu.
func (s *Store) prep(sql string) (*sqlite3.Stmt, error) {
	if st, ok := s.stmts[sql]; ok {
		st.Reset()
		st.ClearBindings()
		return st, nil
	}
	st, _, err := s.db.Prepare(sql)
	if err != nil {
		return nil, fmt.Errorf("prepare %q: %w", sql, err)
	}
	s.stmts[sql] = st
	return st, nil
}

// forgetStatements drops cached statements of a table after DDL on it.
func (s *Store) forgetStatements() {
	for k, st := range s.stmts {
		st.Close()
		delete(s.stmts, k)
	}
}

// exec runs one prepared statement to completion with args bound.
func (s *Store) exec(sql string, args ...any) error {
	st, err := s.prep(sql)
	if err != nil {
		return err
	}
	if err := bindArgs(st, args...); err != nil {
		return err
	}
	return st.Exec()
}

// txKind says whether a transaction writes on the server's behalf.
type txKind int

const (
	local   txKind = iota // a write the triggers capture (none today: host apps write on their own)
	applied               // a write on the server's behalf: not captured
)

// write runs fn in one write transaction. For applied writes the
// _fs_applying marker exists for exactly the transaction's duration.
func (s *Store) write(ctx context.Context, kind txKind, fn func() error) (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.db.SetInterrupt(ctx)
	defer s.db.SetInterrupt(old)
	tx, err := s.db.BeginImmediate()
	if err != nil {
		return wrapSQL("begin", err)
	}
	defer tx.End(&err)
	if kind == applied {
		if err := s.exec("INSERT INTO _fs_applying VALUES (1)"); err != nil {
			return err
		}
		defer func() {
			if err == nil {
				err = s.exec("DELETE FROM _fs_applying")
			}
		}()
	}
	return fn()
}

// read runs fn holding the connection, in a read transaction so it sees one
// snapshot.
func (s *Store) read(ctx context.Context, fn func() error) (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.db.SetInterrupt(ctx)
	defer s.db.SetInterrupt(old)
	tx := s.db.Begin()
	defer tx.End(&err)
	return fn()
}

// wrapSQL marks lock contention as retryable.
func wrapSQL(what string, err error) error {
	if errors.Is(err, sqlite3.BUSY) || errors.Is(err, sqlite3.LOCKED) {
		return &sdk.Error{Kind: sdk.Retryable, Message: fmt.Sprintf("store %s: database is busy", what), Err: err}
	}
	return fmt.Errorf("store %s: %w", what, err)
}

func bindArgs(st *sqlite3.Stmt, args ...any) error {
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
		case bool:
			err = st.BindBool(n, v)
		case float64:
			err = st.BindFloat(n, v)
		default:
			return fmt.Errorf("store: cannot bind %T", a)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func nowMicro() int64 { return time.Now().UnixMicro() }
