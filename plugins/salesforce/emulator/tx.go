package emulator

import (
	"context"
	"sync"
)

type txKey struct{}
type stampKey struct{}

// txState is a composite request's all-or-none transaction: every
// subrequest runs on its connection, each write in a savepoint.
type txState struct {
	c *conn
}

// stampHolder keeps the stamp of a request's writes, so every row one
// request writes shares it.
type stampHolder struct {
	mu    sync.Mutex
	stamp int64
}

func withStamp(ctx context.Context) context.Context {
	if ctx.Value(stampKey{}) != nil {
		return ctx
	}
	return context.WithValue(ctx, stampKey{}, &stampHolder{})
}

// readConn is a connection for reading, handed back with done.
type readConn struct {
	c    *conn
	once sync.Once
	rel  func()
}

func (r *readConn) done() { r.once.Do(r.rel) }

// connFor is the connection a request reads with: the composite
// transaction's, or a pooled reader.
func (s *Server) connFor(ctx context.Context) (*readConn, error) {
	if tx, ok := ctx.Value(txKey{}).(*txState); ok {
		return &readConn{c: tx.c, rel: func() {}}, nil
	}
	c, err := s.st.read(ctx)
	if err != nil {
		return nil, err
	}
	return &readConn{c: c, rel: func() { s.st.release(c) }}, nil
}

// writeRaw runs fn in a write transaction (a savepoint inside a composite
// transaction).
func (s *Server) writeRaw(ctx context.Context, fn func(c *conn) error) error {
	if tx, ok := ctx.Value(txKey{}).(*txState); ok {
		c := tx.c
		if err := c.db.Exec(`SAVEPOINT w`); err != nil {
			return err
		}
		if err := fn(c); err != nil {
			_ = c.db.Exec(`ROLLBACK TO w`)
			_ = c.db.Exec(`RELEASE w`)
			return err
		}
		return c.db.Exec(`RELEASE w`)
	}
	s.st.wmu.Lock()
	defer s.st.wmu.Unlock()
	c := s.st.writer
	c.db.SetInterrupt(ctx)
	defer c.db.SetInterrupt(context.Background())
	if err := c.db.Exec(`BEGIN IMMEDIATE`); err != nil {
		return err
	}
	if err := fn(c); err != nil {
		c.rollback()
		return err
	}
	if err := c.db.Exec(`COMMIT`); err != nil {
		c.rollback()
		return err
	}
	return nil
}

// wtx is one write: its connection, stamp and acting user.
type wtx struct {
	s     *Server
	c     *conn
	stamp int64
	user  string
	ver   string
}

// write runs fn in a write transaction with the request's stamp: the
// later of now and the last stamp + 1 ms, shared by the request's writes.
func (s *Server) write(ctx context.Context, r *apiReq, fn func(w *wtx) error) error {
	return s.writeRaw(ctx, func(c *conn) error {
		last, _, err := c.queryInt(`SELECT last FROM _clock`)
		if err != nil {
			return err
		}
		stamp := max(s.now().UnixMilli(), last+1)
		if h, ok := ctx.Value(stampKey{}).(*stampHolder); ok {
			h.mu.Lock()
			if h.stamp != 0 && h.stamp >= last {
				stamp = h.stamp
			}
			h.stamp = stamp
			h.mu.Unlock()
		}
		if err := c.exec(`UPDATE _clock SET last = ?1, api = ?1`, stamp); err != nil {
			return err
		}
		user := r.user
		if user == "" {
			user = defaultUserID
		}
		if err := fn(&wtx{s: s, c: c, stamp: stamp, user: user, ver: r.version}); err != nil {
			return err
		}
		return c.exec(`UPDATE _clock SET api = NULL`)
	})
}
