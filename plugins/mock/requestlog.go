package mock

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

// inject fails the call when the fail_rate fault switch says so.
func (st callState) inject() error {
	if st.failRate > 0 && rand.Int64N(100) < st.failRate {
		return &sdk.Error{Kind: sdk.Retryable, Message: fmt.Sprintf("mock: injected failure (fail_rate %d%%)", st.failRate)}
	}
	return nil
}

// requestRecord is one row of the request log.
type requestRecord struct {
	at                   time.Time
	user, op, entity     string
	rows, deletes, pages int64
	filter               string
	err                  error
	// sent and sentDeletes are the ids a fetch sent, kept with log_rows on.
	sent, sentDeletes []string
}

// logRequest writes one request-log row, once per call (never per row). It
// runs on the call's connection after the call, even a cancelled one, and a
// failure to log is logged, not returned: the call's outcome stands.
func (s *Server) logRequest(c *conn, r requestRecord) {
	if r.at.IsZero() {
		r.at = time.Now()
	}
	c.db.SetInterrupt(context.Background())
	c.rollback()
	var msg string
	if r.err != nil {
		msg = r.err.Error()
	}
	err := c.exec(`INSERT INTO _request (at, user, op, entity, rows, deletes, pages, filter, error, ms)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)`,
		r.at.UnixMicro(), r.user, r.op, r.entity, r.rows, r.deletes, r.pages, r.filter, msg,
		time.Since(r.at).Milliseconds())
	if err != nil {
		s.log.Warn("cannot write the request log", "op", r.op, "entity", r.entity, "error", err)
		return
	}
	if len(r.sent)+len(r.sentDeletes) == 0 {
		return
	}
	reqID := c.db.LastInsertRowID()
	err = c.withTx(func() error {
		for i, ids := range [][]string{r.sent, r.sentDeletes} {
			for _, id := range ids {
				if err := c.exec(`INSERT INTO _request_row (request_id, id, deleted) VALUES (?1, ?2, ?3)`, reqID, id, i); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		s.log.Warn("cannot write the request log's rows", "op", r.op, "entity", r.entity, "error", err)
	}
}

// SentRows returns the ids of the rows (and, separately, the deletes) the
// request with the given log id sent; the log_rows switch must have been on
// (see SetLogRows).
func (s *Server) SentRows(ctx context.Context, requestID int64) (rows, deletes []string, err error) {
	c, err := s.db.get(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer s.db.put(c)
	st, err := c.prep(`SELECT id, deleted FROM _request_row WHERE request_id = ?1 ORDER BY rowid`)
	if err != nil {
		return nil, nil, err
	}
	defer st.Reset()
	st.BindInt64(1, requestID)
	for st.Step() {
		if st.ColumnInt64(1) != 0 {
			deletes = append(deletes, st.ColumnText(0))
		} else {
			rows = append(rows, st.ColumnText(0))
		}
	}
	return rows, deletes, st.Err()
}

// SetLogRows turns on or off logging every id a fetch sends (the log_rows
// switch, in _fault with the fault switches): costly, for tests and audits.
func (s *Server) SetLogRows(ctx context.Context, on bool) error {
	v := 0
	if on {
		v = 1
	}
	return s.write(ctx, func(c *conn) error {
		return c.exec(`INSERT OR REPLACE INTO _fault (name, value) VALUES ('log_rows', ?1)`, v)
	})
}

// Request is one row of the request log: one connector call.
type Request struct {
	ID      int64 // the log row's id (SentRows takes it)
	At      time.Time
	User    string
	Op      string // schema, fetch, push, list-documents, read-document
	Entity  string
	Rows    int64 // rows sent (fetch), changes received (push), documents listed, bytes read
	Deletes int64 // deletes sent (fetch)
	Pages   int64
	Filter  string
	Error   string
	Elapsed time.Duration
}

// Requests returns the request log, oldest first, from the row after
// afterID on (0: all); the second result is the last row's id, to pass as
// afterID next time.
func (s *Server) Requests(ctx context.Context, afterID int64) ([]Request, int64, error) {
	c, err := s.db.get(ctx)
	if err != nil {
		return nil, afterID, err
	}
	defer s.db.put(c)
	st, err := c.prep(`SELECT id, at, user, op, entity, rows, deletes, pages, filter, error, ms
		FROM _request WHERE id > ? ORDER BY id`)
	if err != nil {
		return nil, afterID, sqlErr(ctx, "read request log", err)
	}
	defer st.Reset()
	if err := st.BindInt64(1, afterID); err != nil {
		return nil, afterID, sqlErr(ctx, "read request log", err)
	}
	var out []Request
	last := afterID
	for st.Step() {
		last = st.ColumnInt64(0)
		out = append(out, Request{
			ID:      last,
			At:      time.UnixMicro(st.ColumnInt64(1)).UTC(),
			User:    st.ColumnText(2),
			Op:      st.ColumnText(3),
			Entity:  st.ColumnText(4),
			Rows:    st.ColumnInt64(5),
			Deletes: st.ColumnInt64(6),
			Pages:   st.ColumnInt64(7),
			Filter:  st.ColumnText(8),
			Error:   st.ColumnText(9),
			Elapsed: time.Duration(st.ColumnInt64(10)) * time.Millisecond,
		})
	}
	return out, last, sqlErr(ctx, "read request log", st.Err())
}
