package mock

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
	"github.com/hashicorp/go-hclog"
)

// Server is the admin side of a mock server file: it defines entities,
// seeds data, flips fault switches, reads the request log and runs plain
// SQL. Connectors (New, Factory, Server.Connector) speak for it to the
// engine. A Server is safe for concurrent use; several Servers and
// connectors, in one process or many, may share the file.
type Server struct {
	path     string
	log      hclog.Logger
	db       *pool
	instance [8]byte // random per file; tokens of another file are refused
	snap     atomic.Pointer[schemaSnap]
}

// ServerOptions tunes OpenServer and Create. The zero value is fine.
type ServerOptions struct {
	Logger   hclog.Logger // nil: no logging
	PoolSize int          // SQLite connections at most (default 4)
}

// OpenServer opens an existing mock server file.
func OpenServer(ctx context.Context, path string, opts ...ServerOptions) (*Server, error) {
	return openServer(ctx, path, false, opts)
}

// Create opens the mock server file at path, creating the file with the
// default model (account, contact, opportunity) when it does not hold a mock
// server yet. An existing server file is opened as it is.
func Create(ctx context.Context, path string, opts ...ServerOptions) (*Server, error) {
	return openServer(ctx, path, true, opts)
}

func openServer(ctx context.Context, path string, create bool, opts []ServerOptions) (*Server, error) {
	if path == "" {
		return nil, sdk.Errorf(sdk.Permanent, "mock: no server file path")
	}
	var o ServerOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if !create {
		if _, err := os.Stat(path); err != nil {
			return nil, sdk.Errorf(sdk.Permanent, "mock: server file %s: %w (create it with mock.Create or the setting create=true)", path, err)
		}
	}
	s := &Server{path: path, log: o.Logger, db: newPool(path, o.PoolSize, create)}
	if err := s.init(ctx, create); err != nil {
		s.db.close()
		return nil, err
	}
	return s, nil
}

// init lays out a new file (when create is set) and reads the instance id.
// Two processes creating the same file race safely: the layout is written in
// one write transaction that first checks whether another wrote it.
func (s *Server) init(ctx context.Context, create bool) error {
	c, err := s.db.get(ctx)
	if err != nil {
		return err
	}
	defer s.db.put(c)
	has, _, err := c.queryInt(`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '_meta'`)
	if err != nil {
		return sqlErr(ctx, "open "+s.path, err)
	}
	if has == 0 {
		if !create {
			return sdk.Errorf(sdk.Permanent, "mock: %s is not a mock server file (create it with mock.Create or the setting create=true)", s.path)
		}
		err := c.withTx(func() error {
			has, _, err := c.queryInt(`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '_meta'`)
			if err != nil || has != 0 {
				return err
			}
			var id [8]byte
			if _, err := rand.Read(id[:]); err != nil {
				return err
			}
			if err := c.db.Exec(metaDDL + schemaGenTriggers()); err != nil {
				return fmt.Errorf("lay out: %w", err)
			}
			err = c.db.Exec(fmt.Sprintf(`INSERT INTO _meta (key, value) VALUES
				('format', %d), ('instance', '%s'), ('purge_horizon', 0), ('schema_gen', 0)`,
				formatVersion, hex.EncodeToString(id[:])))
			if err != nil {
				return err
			}
			model := DefaultModel()
			known := snapOf(model)
			for _, e := range model.Entities {
				if err := writeEntity(c, known, &e); err != nil {
					return err
				}
				if err := buildPhysical(c, &e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return sqlErr(ctx, "create "+s.path, err)
		}
		s.log.Info("created mock server file", "path", s.path)
	}
	format, _, err := c.queryInt(`SELECT value FROM _meta WHERE key = 'format'`)
	if err != nil {
		return sqlErr(ctx, "open "+s.path, err)
	}
	if format != formatVersion {
		return sdk.Errorf(sdk.Permanent, "mock: %s has format %d, this build reads %d", s.path, format, formatVersion)
	}
	// Tables added since format 1 was laid out: created where missing.
	if err := c.db.Exec(accessDDL); err != nil {
		return sqlErr(ctx, "open "+s.path, err)
	}
	st, err := c.prep(`SELECT value FROM _meta WHERE key = 'instance'`)
	if err != nil {
		return sqlErr(ctx, "open "+s.path, err)
	}
	var inst []byte
	if st.Step() {
		inst, err = hex.DecodeString(st.ColumnText(0))
	} else {
		err = st.Err()
	}
	st.Reset()
	if err != nil {
		return sqlErr(ctx, "open "+s.path, err)
	}
	if len(inst) != len(s.instance) {
		return sdk.Errorf(sdk.Permanent, "mock: %s has no valid instance id", s.path)
	}
	copy(s.instance[:], inst)
	return nil
}

// Path is the server file.
func (s *Server) Path() string { return s.path }

// Close closes the server's connections.
func (s *Server) Close() error { return s.db.close() }

// callState is what a call reads once at its start: the schema generation,
// the version clock, the purge horizon and the fault switches.
type callState struct {
	gen, clock, horizon int64
	failRate            int64 // percent
	pageDelay           time.Duration
	logRows             bool // log every id a fetch sends (_request_row)
}

const stateSQL = `SELECT
	(SELECT value FROM _meta WHERE key = 'schema_gen'),
	(SELECT version FROM _clock),
	(SELECT value FROM _meta WHERE key = 'purge_horizon'),
	(SELECT value FROM _fault WHERE name = 'fail_rate'),
	(SELECT value FROM _fault WHERE name = 'page_delay_ms'),
	(SELECT value FROM _fault WHERE name = 'log_rows')`

func readState(c *conn) (callState, error) {
	var st callState
	s, err := c.prep(stateSQL)
	if err != nil {
		return st, err
	}
	defer s.Reset()
	if !s.Step() {
		if err := s.Err(); err != nil {
			return st, err
		}
		return st, errors.New("no state row")
	}
	st.gen = s.ColumnInt64(0)
	st.clock = s.ColumnInt64(1)
	st.horizon = s.ColumnInt64(2)
	st.failRate = s.ColumnInt64(3)
	st.pageDelay = time.Duration(s.ColumnInt64(4)) * time.Millisecond
	st.logRows = s.ColumnInt64(5) != 0
	return st, nil
}

// begin opens a call: a connection, the call state and the schema.
func (s *Server) begin(ctx context.Context) (*conn, callState, *schemaSnap, error) {
	c, err := s.db.get(ctx)
	if err != nil {
		return nil, callState{}, nil, err
	}
	st, err := readState(c)
	if err != nil {
		s.db.put(c)
		return nil, st, nil, sqlErr(ctx, "read server state", err)
	}
	snap, err := s.schemaFor(ctx, c, st.gen)
	if err != nil {
		s.db.put(c)
		return nil, st, nil, err
	}
	return c, st, snap, nil
}

// Schema returns the server's current schema.
func (s *Server) Schema(ctx context.Context) (*sdk.Schema, error) {
	c, _, snap, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	s.db.put(c)
	return cloneSchema(&snap.schema), nil
}

// DefineEntity creates an entity or extends one: new fields are added to its
// table, existing fields keep their type (a type change is refused), fields
// not listed stay. Lookup targets must exist or be the entity itself.
// Connectors see the change on their next call.
func (s *Server) DefineEntity(ctx context.Context, e sdk.Entity) error {
	c, _, snap, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.db.put(c)
	err = c.withTx(func() error {
		if err := writeEntity(c, snap, &e); err != nil {
			return err
		}
		// Build from the merged definition, as stored.
		merged, err := loadSchema(c)
		if err != nil {
			return err
		}
		me := merged.entities[e.Name]
		if me == nil {
			return fmt.Errorf("entity %s vanished", e.Name)
		}
		return buildPhysical(c, &me.Entity)
	})
	return sqlErr(ctx, "define entity "+e.Name, err)
}

// Exec runs plain SQL (one or more statements) on the server file, as an
// admin or a test would with the sqlite3 shell. The change-tracking
// triggers see it like any other write.
func (s *Server) Exec(ctx context.Context, sql string) error {
	c, err := s.db.get(ctx)
	if err != nil {
		return err
	}
	defer s.db.put(c)
	return sqlErr(ctx, "exec", c.db.Exec(sql))
}

// QueryInt runs a query returning one integer (0 for no row or null); a
// test helper.
func (s *Server) QueryInt(ctx context.Context, sql string, args ...any) (int64, error) {
	c, err := s.db.get(ctx)
	if err != nil {
		return 0, err
	}
	defer s.db.put(c)
	n, _, err := c.queryInt(sql, args...)
	return n, sqlErr(ctx, "query", err)
}

// QueryText runs a query returning one text value ("" for no row or null);
// a test and demo helper.
func (s *Server) QueryText(ctx context.Context, sql string, args ...any) (string, error) {
	c, err := s.db.get(ctx)
	if err != nil {
		return "", err
	}
	defer s.db.put(c)
	st, _, err := c.db.Prepare(sql)
	if err != nil {
		return "", sqlErr(ctx, "query", err)
	}
	defer st.Close()
	if err := bindAll(st, 1, args...); err != nil {
		return "", err
	}
	out := ""
	if st.Step() {
		out = st.ColumnText(0)
	}
	return out, sqlErr(ctx, "query", st.Err())
}

// Version returns the version clock: the highest version handed out.
func (s *Server) Version(ctx context.Context) (int64, error) {
	return s.QueryInt(ctx, `SELECT version FROM _clock`)
}

// Count returns the number of rows of an entity.
func (s *Server) Count(ctx context.Context, entityName string) (int64, error) {
	c, _, snap, err := s.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer s.db.put(c)
	e := snap.entities[entityName]
	if e == nil {
		return 0, sdk.Errorf(sdk.Permanent, "mock: unknown entity %q", entityName)
	}
	n, _, err := c.queryInt(`SELECT count(*) FROM ` + e.table)
	return n, sqlErr(ctx, "count "+entityName, err)
}

// PurgeTombstones deletes every tombstone and moves the purge horizon to the
// current version: an incremental fetch from an older token then fails with
// sdk.TokenExpired (its deletes are gone), and the core resyncs. It returns
// the number of tombstones purged.
func (s *Server) PurgeTombstones(ctx context.Context) (int64, error) {
	c, err := s.db.get(ctx)
	if err != nil {
		return 0, err
	}
	defer s.db.put(c)
	var n int64
	err = c.withTx(func() error {
		if err := c.exec(`DELETE FROM _tombstone`); err != nil {
			return err
		}
		n = c.db.Changes()
		return c.exec(`UPDATE _meta SET value = (SELECT version FROM _clock) WHERE key = 'purge_horizon'`)
	})
	return n, sqlErr(ctx, "purge tombstones", err)
}

// ExpireTokens makes every change token and cursor handed out so far
// expired (the fault switch for token expiry): the clock moves up by one and
// the purge horizon to it. Tombstones stay.
func (s *Server) ExpireTokens(ctx context.Context) error {
	c, err := s.db.get(ctx)
	if err != nil {
		return err
	}
	defer s.db.put(c)
	err = c.withTx(func() error {
		if err := c.exec(`UPDATE _clock SET version = version + 1`); err != nil {
			return err
		}
		return c.exec(`UPDATE _meta SET value = (SELECT version FROM _clock) WHERE key = 'purge_horizon'`)
	})
	return sqlErr(ctx, "expire tokens", err)
}

// Faults are the fault switches, stored in the _fault table so a test or
// another process can flip them while devices run (also by plain SQL:
// INSERT OR REPLACE INTO _fault VALUES ('fail_rate', 50)).
type Faults struct {
	// FailRate is the percentage (0–100) of connector calls (Schema, Fetch,
	// Push, ListDocuments, ReadDocument) that fail with a Retryable error.
	FailRate int
	// PageDelay is slept before each fetched page is delivered.
	PageDelay time.Duration
}

// SetFaults sets the fault switches.
func (s *Server) SetFaults(ctx context.Context, f Faults) error {
	if f.FailRate < 0 || f.FailRate > 100 {
		return sdk.Errorf(sdk.Permanent, "mock: fail rate %d is not a percentage", f.FailRate)
	}
	c, err := s.db.get(ctx)
	if err != nil {
		return err
	}
	defer s.db.put(c)
	err = c.withTx(func() error {
		if err := c.exec(`INSERT OR REPLACE INTO _fault (name, value) VALUES ('fail_rate', ?)`, f.FailRate); err != nil {
			return err
		}
		return c.exec(`INSERT OR REPLACE INTO _fault (name, value) VALUES ('page_delay_ms', ?)`, f.PageDelay.Milliseconds())
	})
	return sqlErr(ctx, "set faults", err)
}

// Faults reads the fault switches.
func (s *Server) Faults(ctx context.Context) (Faults, error) {
	c, err := s.db.get(ctx)
	if err != nil {
		return Faults{}, err
	}
	defer s.db.put(c)
	st, err := readState(c)
	if err != nil {
		return Faults{}, sqlErr(ctx, "read faults", err)
	}
	return Faults{FailRate: int(st.failRate), PageDelay: st.pageDelay}, nil
}
