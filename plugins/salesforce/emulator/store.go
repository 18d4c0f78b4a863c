package emulator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// Connection settings: the page cache stays far below the driver's
// per-connection memory cap and mmap stays off.
const (
	cacheSizeKiB   = 16 * 1024
	busyTimeout    = 30 * time.Second
	maxCachedStmts = 256
	maxCachedSQL   = 8 << 10
	readPool       = 4
)

var errClosed = errors.New("emulator: closed")

// conn is one SQLite connection with its prepared statement cache. A conn
// is used by one goroutine at a time.
type conn struct {
	db    *sqlite3.Conn
	stmts map[string]*sqlite3.Stmt
	big   *sqlite3.Stmt // the last uncached statement
}

// store is the org's SQLite file: one writer connection behind a mutex
// (SQLite has one writer anyway) and a small pool of readers (WAL lets them
// overlap the writer).
type store struct {
	path string
	now  func() time.Time

	wmu    sync.Mutex
	writer *conn

	idle  chan *conn
	slots chan struct{}
	mu    sync.Mutex
	shut  bool
}

func openStore(path string, now func() time.Time) (*store, error) {
	s := &store{path: path, now: now, idle: make(chan *conn, readPool), slots: make(chan struct{}, readPool)}
	for range readPool {
		s.slots <- struct{}{}
	}
	w, err := s.open()
	if err != nil {
		return nil, err
	}
	s.writer = w
	return s, nil
}

func (s *store) open() (*conn, error) {
	db, err := sqlite3.OpenFlags(s.path, sqlite3.OPEN_READWRITE|sqlite3.OPEN_CREATE|sqlite3.OPEN_NOMUTEX)
	if err != nil {
		return nil, fmt.Errorf("emulator: open %s: %w", s.path, err)
	}
	if err := db.BusyTimeout(busyTimeout); err != nil {
		db.Close()
		return nil, err
	}
	err = db.Exec(fmt.Sprintf(`PRAGMA journal_mode=WAL;
		PRAGMA synchronous=NORMAL;
		PRAGMA cache_size=-%d;
		PRAGMA mmap_size=0;
		PRAGMA recursive_triggers=OFF;`, cacheSizeKiB))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("emulator: configure %s: %w", s.path, err)
	}
	now := s.now
	// sf_now() is the emulator's clock (Options.Now) in Unix ms, for the
	// change-tracking triggers.
	err = db.CreateFunction("sf_now", 0, sqlite3.INNOCUOUS, func(ctx sqlite3.Context, _ ...sqlite3.Value) {
		ctx.ResultInt64(now().UnixMilli())
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &conn{db: db, stmts: map[string]*sqlite3.Stmt{}}, nil
}

// read takes a reader connection.
func (s *store) read(ctx context.Context) (*conn, error) {
	s.mu.Lock()
	shut := s.shut
	s.mu.Unlock()
	if shut {
		return nil, errClosed
	}
	select {
	case c := <-s.idle:
		c.db.SetInterrupt(ctx)
		return c, nil
	default:
	}
	select {
	case c := <-s.idle:
		c.db.SetInterrupt(ctx)
		return c, nil
	case <-s.slots:
		c, err := s.open()
		if err != nil {
			s.slots <- struct{}{}
			return nil, err
		}
		c.db.SetInterrupt(ctx)
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *store) release(c *conn) {
	c.db.SetInterrupt(context.Background())
	if !c.db.GetAutocommit() {
		_ = c.db.Exec(`ROLLBACK`)
	}
	s.mu.Lock()
	shut := s.shut
	s.mu.Unlock()
	if shut {
		c.close()
		s.slots <- struct{}{}
		return
	}
	s.idle <- c
}

func (s *store) close() error {
	s.mu.Lock()
	if s.shut {
		s.mu.Unlock()
		return nil
	}
	s.shut = true
	s.mu.Unlock()
	var errs []error
	s.wmu.Lock()
	errs = append(errs, s.writer.close())
	s.wmu.Unlock()
	for {
		select {
		case c := <-s.idle:
			errs = append(errs, c.close())
			s.slots <- struct{}{}
		default:
			return errors.Join(errs...)
		}
	}
}

func (c *conn) close() error {
	for _, st := range c.stmts {
		st.Close()
	}
	c.stmts = nil
	if c.big != nil {
		c.big.Close()
	}
	return c.db.Close()
}

// prep returns the cached statement for sql, reset and unbound.
func (c *conn) prep(sql string) (*sqlite3.Stmt, error) {
	if st, ok := c.stmts[sql]; ok {
		st.Reset()
		st.ClearBindings()
		return st, nil
	}
	if len(c.stmts) >= maxCachedStmts {
		for k, st := range c.stmts {
			st.Close()
			delete(c.stmts, k)
		}
	}
	st, tail, err := c.db.Prepare(sql)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, errors.New("emulator: empty statement")
	}
	if strings.TrimSpace(tail) != "" {
		st.Close()
		return nil, errors.New("emulator: more than one statement")
	}
	if len(sql) > maxCachedSQL {
		// A one-off statement (a long IN list): kept only until the next
		// long one, so the cache's memory stays small.
		if c.big != nil {
			c.big.Close()
		}
		c.big = st
		return st, nil
	}
	c.stmts[sql] = st
	return st, nil
}

func (c *conn) exec(sql string, args ...any) error {
	st, err := c.prep(sql)
	if err != nil {
		return err
	}
	if err := bindAll(st, args); err != nil {
		return err
	}
	err = st.Exec()
	st.ClearBindings()
	return err
}

// queryInt returns the first column of the first row (ok false: no row or null).
func (c *conn) queryInt(sql string, args ...any) (int64, bool, error) {
	st, err := c.prep(sql)
	if err != nil {
		return 0, false, err
	}
	defer st.Reset()
	if err := bindAll(st, args); err != nil {
		return 0, false, err
	}
	if !st.Step() {
		return 0, false, st.Err()
	}
	if st.ColumnType(0) == sqlite3.NULL {
		return 0, false, nil
	}
	return st.ColumnInt64(0), true, nil
}

func (c *conn) queryText(sql string, args ...any) (string, bool, error) {
	st, err := c.prep(sql)
	if err != nil {
		return "", false, err
	}
	defer st.Reset()
	if err := bindAll(st, args); err != nil {
		return "", false, err
	}
	if !st.Step() {
		return "", false, st.Err()
	}
	if st.ColumnType(0) == sqlite3.NULL {
		return "", false, nil
	}
	return st.ColumnText(0), true, nil
}

func bindAll(st *sqlite3.Stmt, args []any) error {
	for i, a := range args {
		n := i + 1
		var err error
		switch v := a.(type) {
		case nil:
			err = st.BindNull(n)
		case string:
			err = st.BindText(n, v)
		case []byte:
			err = st.BindBlob(n, v)
		case int:
			err = st.BindInt64(n, int64(v))
		case int64:
			err = st.BindInt64(n, v)
		case float64:
			err = st.BindFloat(n, v)
		case bool:
			err = st.BindBool(n, v)
		case time.Time:
			err = st.BindInt64(n, v.UnixMilli())
		default:
			err = fmt.Errorf("emulator: cannot bind %T", a)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *conn) rollback() {
	if c.db.GetAutocommit() {
		return
	}
	old := c.db.SetInterrupt(context.Background())
	_ = c.db.Exec(`ROLLBACK`)
	c.db.SetInterrupt(old)
}
