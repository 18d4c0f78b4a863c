package mock

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
	"github.com/ncruces/go-sqlite3"
)

// Connection settings. The driver caps each connection's memory at 256 MB
// (mmap included) and panics past it, so the page cache stays well below and
// mmap stays off.
const (
	cacheSizeKiB   = 32 * 1024
	busyTimeout    = 30 * time.Second
	maxCachedStmts = 64
	defaultPool    = 4
)

// pool hands out SQLite connections, one per call: a sqlite3.Conn is not safe
// for concurrent use, and a connection per concurrent call lets several
// entities be fetched in parallel (WAL readers never block each other).
type pool struct {
	path   string
	create bool
	idle   chan *conn
	slots  chan struct{} // one token per connection that may exist

	mu     sync.Mutex
	closed bool
}

// conn is one connection with its statement cache. Statements are prepared
// once per connection and reused across calls.
type conn struct {
	db    *sqlite3.Conn
	stmts map[string]*sqlite3.Stmt
}

func newPool(path string, size int, create bool) *pool {
	if size <= 0 {
		size = defaultPool
	}
	p := &pool{path: path, create: create, idle: make(chan *conn, size), slots: make(chan struct{}, size)}
	for range size {
		p.slots <- struct{}{}
	}
	return p
}

// get returns an idle connection or opens a new one, waiting while all are
// in use. The connection is interrupted when ctx is done.
func (p *pool) get(ctx context.Context) (*conn, error) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, sdk.Errorf(sdk.Permanent, "mock: connector is closed")
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
		c, err := openConn(ctx, p.path, p.create)
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

// put returns a connection to the pool, first ending any transaction a
// cancelled call left open.
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
	closed := p.closed
	p.mu.Unlock()
	if closed {
		c.close()
		p.slots <- struct{}{}
		return
	}
	p.idle <- c
}

// close closes the idle connections; connections still in use close when
// they are put back.
func (p *pool) close() error {
	p.mu.Lock()
	p.closed = true
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

func openConn(ctx context.Context, path string, create bool) (*conn, error) {
	flags := sqlite3.OPEN_READWRITE | sqlite3.OPEN_NOMUTEX
	if create {
		flags |= sqlite3.OPEN_CREATE
	}
	db, err := sqlite3.OpenFlags(path, flags)
	if err != nil {
		return nil, sdk.Errorf(sdk.Permanent, "mock: open %s: %w", path, err)
	}
	db.SetInterrupt(ctx)
	if err := db.BusyTimeout(busyTimeout); err != nil {
		db.Close()
		return nil, fmt.Errorf("mock: busy timeout: %w", err)
	}
	// journal_mode=WAL lets readers and the one writer overlap across
	// processes; it is persistent, so this is a no-op after the first time
	// (and needs a lock only then, which busy_timeout waits for).
	err = db.Exec(fmt.Sprintf(`PRAGMA journal_mode=WAL;
		PRAGMA synchronous=NORMAL;
		PRAGMA cache_size=-%d;
		PRAGMA mmap_size=0;
		PRAGMA foreign_keys=OFF;
		PRAGMA recursive_triggers=OFF;`, cacheSizeKiB))
	if err != nil {
		db.Close()
		return nil, sdk.Errorf(kindOfSQL(err), "mock: configure %s: %w", path, err)
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

// prep returns the cached statement for sql, reset and with no bindings.
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
	s, _, err := c.db.Prepare(sql)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fmt.Errorf("mock: empty statement")
	}
	c.stmts[sql] = s
	return s, nil
}

// exec runs one cached statement with args and discards its rows.
func (c *conn) exec(sql string, args ...any) error {
	s, err := c.prep(sql)
	if err != nil {
		return err
	}
	if err := bindAll(s, 1, args...); err != nil {
		return err
	}
	err = s.Exec()
	s.ClearBindings()
	return err
}

// queryInt runs a statement returning one integer (0 when there is no row or
// it is null).
func (c *conn) queryInt(sql string, args ...any) (int64, bool, error) {
	s, err := c.prep(sql)
	if err != nil {
		return 0, false, err
	}
	defer s.Reset()
	if err := bindAll(s, 1, args...); err != nil {
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

// bindAll binds Go values to consecutive parameters starting at first.
func bindAll(s *sqlite3.Stmt, first int, args ...any) error {
	for i, a := range args {
		n := first + i
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
		case sdk.Value:
			err = bindValue(s, n, v)
		default:
			err = fmt.Errorf("mock: cannot bind %T", a)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// bindValue binds an sdk.Value by its storage kind.
func bindValue(s *sqlite3.Stmt, n int, v sdk.Value) error {
	switch v.Kind() {
	case sdk.KindString:
		return s.BindText(n, v.Str())
	case sdk.KindInt:
		return s.BindInt64(n, v.Int())
	case sdk.KindFloat:
		return s.BindFloat(n, v.Float())
	case sdk.KindBool:
		return s.BindBool(n, v.Bool())
	case sdk.KindBytes:
		return s.BindBlob(n, v.Bytes())
	}
	return s.BindNull(n)
}

// begin starts a write transaction. BEGIN IMMEDIATE takes the write lock up
// front, so the busy handler waits for it instead of a deferred transaction
// failing with SQLITE_BUSY at its first write.
func (c *conn) begin() error { return c.db.Exec(`BEGIN IMMEDIATE`) }

// beginRead starts a read transaction: one snapshot for the statements up to
// commit.
func (c *conn) beginRead() error { return c.db.Exec(`BEGIN`) }

func (c *conn) commit() error { return c.db.Exec(`COMMIT`) }

// rollback ends a transaction if one is open. It runs even after the
// connection was interrupted.
func (c *conn) rollback() {
	if c.db.GetAutocommit() {
		return
	}
	old := c.db.SetInterrupt(context.Background())
	c.db.Exec(`ROLLBACK`)
	c.db.SetInterrupt(old)
}

// withTx runs fn in a write transaction, committing if it returns nil.
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

// kindOfSQL classifies a driver error: a lock still held after the busy
// timeout is worth retrying; everything else is not.
func kindOfSQL(err error) sdk.ErrorKind {
	if errors.Is(err, sqlite3.BUSY) || errors.Is(err, sqlite3.LOCKED) {
		return sdk.Retryable
	}
	return sdk.Permanent
}

// sqlErr turns a driver error from a call into the error the caller gets:
// the context's error when the call was cancelled, a Retryable sdk.Error for
// a busy database, and a wrapped Permanent one otherwise.
func sqlErr(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil && (errors.Is(err, sqlite3.INTERRUPT) || errors.Is(err, ctx.Err())) {
		return ctx.Err()
	}
	var se *sdk.Error
	if errors.As(err, &se) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return sdk.Errorf(kindOfSQL(err), "mock: %s: %w", what, err)
}

// quote quotes an identifier. Identifiers come from the schema, which only
// admits [A-Za-z_][A-Za-z0-9_]*, so this is belt and braces.
func quote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// quoteText quotes a string literal for DDL (trigger bodies cannot take
// parameters).
func quoteText(s string) string {
	return `'` + strings.ReplaceAll(s, `'`, `''`) + `'`
}
