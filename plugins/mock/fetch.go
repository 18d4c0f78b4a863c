package mock

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

// fetchPlan is a FetchRequest checked against the schema and turned into
// SQL. Statements are cached per connection by their text, so a fetch
// prepares each once and later fetches of the same shape not at all.
type fetchPlan struct {
	e        *entity
	sel      []int // selected fields, as positions in e.Fields
	where    whereSQL
	pageSize int
	fullSQL  string // ?1 last rowid, ?2 limit, filter from ?3
	incSQL   string // ?1 after version, ?2 high-water, ?3 limit, filter from ?4
}

func planFetch(snap *schemaSnap, req *sdk.FetchRequest, who *principal, now time.Time) (*fetchPlan, error) {
	e := snap.entities[req.Entity]
	if e == nil {
		return nil, sdk.Errorf(sdk.Permanent, "mock: unknown entity %q", req.Entity)
	}
	p := &fetchPlan{e: e, pageSize: req.PageSize}
	switch {
	case p.pageSize < 0:
		return nil, sdk.Errorf(sdk.Permanent, "mock: page size %d is negative", req.PageSize)
	case p.pageSize == 0:
		p.pageSize = sdk.DefaultPageSize
	case p.pageSize > sdk.MaxPageSize:
		p.pageSize = sdk.MaxPageSize
	}
	switch {
	case req.IDsOnly:
		p.sel = []int{}
	case req.Fields == nil:
		p.sel = make([]int, len(e.Fields))
		for i := range p.sel {
			p.sel[i] = i
		}
	default:
		seen := make(map[string]bool, len(req.Fields))
		for _, name := range req.Fields {
			_, i := e.field(name)
			switch {
			case name == e.PrimaryKey:
				return nil, sdk.Errorf(sdk.Permanent, "mock: %s: field %q is the primary key; it travels in Page.IDs", e.Name, name)
			case i < 0:
				return nil, sdk.Errorf(sdk.Permanent, "mock: entity %q has no field %q", e.Name, name)
			case seen[name]:
				return nil, sdk.Errorf(sdk.Permanent, "mock: %s: field %q selected twice", e.Name, name)
			}
			seen[name] = true
			p.sel = append(p.sel, i)
		}
	}

	var cols strings.Builder
	for _, i := range p.sel {
		cols.WriteString(", ")
		cols.WriteString(quote(e.Fields[i].Name))
	}
	full, err := compileFilter(snap, e, req.Filter, 3, who, now)
	if err != nil {
		return nil, err
	}
	p.where = full
	p.fullSQL = fmt.Sprintf("SELECT rowid, %s, _version%s FROM %s WHERE rowid > ?1 AND (%s) ORDER BY rowid LIMIT ?2",
		e.pk, cols.String(), e.table, full.sql)
	// The incremental query returns changed rows whether or not they match
	// the filter, with the match as a column: a row that stopped matching
	// is sent as a delete.
	inc, err := compileFilter(snap, e, req.Filter, 4, who, now)
	if err != nil {
		return nil, err
	}
	match := "1"
	if req.Filter != nil {
		match = "CASE WHEN " + inc.sql + " THEN 1 ELSE 0 END"
	}
	p.incSQL = fmt.Sprintf("SELECT rowid, %s, _version, %s%s FROM %s WHERE _version > ?1 AND _version <= ?2 ORDER BY _version LIMIT ?3",
		e.pk, match, cols.String(), e.table)
	return p, nil
}

// fetchStats counts what left the server, for the request log.
type fetchStats struct {
	rows, deletes, pages int64
	// With the log_rows switch: every id sent, for the request log.
	sent, sentDeletes []string
}

// Fetch streams an entity's rows; see the package documentation for the
// full and incremental reads, tokens and filters.
func (c *Connector) Fetch(ctx context.Context, req sdk.FetchRequest, fn sdk.FetchFunc) (err error) {
	started := time.Now()
	var stats fetchStats
	if fn == nil {
		return sdk.Errorf(sdk.Permanent, "mock: fetch without a page callback")
	}
	cn, st, snap, err := c.srv.begin(ctx)
	if err != nil {
		return err
	}
	defer c.srv.db.put(cn)
	defer func() {
		c.srv.logRequest(cn, requestRecord{
			at: started, user: c.user, op: "fetch", entity: req.Entity,
			rows: stats.rows, deletes: stats.deletes, pages: stats.pages,
			filter: filterText(req.Filter), err: err,
			sent: stats.sent, sentDeletes: stats.sentDeletes,
		})
	}()
	if err := st.inject(); err != nil {
		return err
	}
	var who *principal
	if needsUser(req.Filter) {
		if who, err = resolveUser(cn, c.user); err != nil {
			return err
		}
	}
	plan, err := planFetch(snap, &req, who, time.Now())
	if err != nil {
		return err
	}
	deliver := func(p *sdk.Page) error {
		if st.pageDelay > 0 {
			t := time.NewTimer(st.pageDelay)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		stats.pages++
		stats.rows += int64(len(p.IDs))
		stats.deletes += int64(len(p.Deletes))
		if st.logRows {
			stats.sent = append(stats.sent, p.IDs...)
			stats.sentDeletes = append(stats.sentDeletes, p.Deletes...)
		}
		return fn(p)
	}
	if req.Token == nil {
		err = c.srv.fetchFull(ctx, cn, st, plan, req.Cursor, deliver)
	} else {
		err = c.srv.fetchIncremental(ctx, cn, st, plan, req.Token, req.Cursor, deliver)
	}
	if err != nil {
		c.log.Debug("fetch failed", "entity", req.Entity, "error", err)
		return err
	}
	c.log.Debug("fetched", "entity", req.Entity, "incremental", req.Token != nil,
		"rows", stats.rows, "deletes", stats.deletes, "pages", stats.pages, "elapsed", time.Since(started))
	return nil
}

// fetchFull pages through the table in rowid order. The final token is the
// clock at the start of the read (carried in every cursor), so whatever
// changes during the read comes again in the next incremental fetch.
func (s *Server) fetchFull(ctx context.Context, c *conn, st callState, p *fetchPlan, rawCursor []byte, deliver func(*sdk.Page) error) error {
	cur := cursor{kind: fullCursorKind, entityHash: p.e.hash, high: st.clock}
	if rawCursor != nil {
		var err error
		if cur, err = s.decode(rawCursor, fullCursorKind); err != nil {
			return err
		}
		if cur.entityHash != p.e.hash {
			return sdk.Errorf(sdk.Permanent, "mock: cursor belongs to another entity than %s", p.e.Name)
		}
		if cur.high < st.horizon || cur.high > st.clock {
			return sdk.Errorf(sdk.TokenExpired, "mock: %s: the full read this cursor resumes predates the purge horizon or a restore of the server file; restart it", p.e.Name)
		}
	}
	r := newPageReader(p.e, p.sel, 3)
	return s.pages(ctx, "fetch "+p.e.Name, &cur, func() (*sdk.Page, bool, error) {
		return s.readFullPage(c, p, r, &cur)
	}, deliver)
}

// readFullPage reads up to pageSize rows after cur.last, one more to learn
// whether another page follows, and moves cur.last to the last row sent.
func (s *Server) readFullPage(c *conn, p *fetchPlan, r *pageReader, cur *cursor) (*sdk.Page, bool, error) {
	st, err := c.prep(p.fullSQL)
	if err != nil {
		return nil, false, err
	}
	defer st.Reset()
	if err := st.BindInt64(1, cur.last); err != nil {
		return nil, false, err
	}
	if err := st.BindInt64(2, int64(p.pageSize)+1); err != nil {
		return nil, false, err
	}
	if err := bindAll(st, 3, p.where.args...); err != nil {
		return nil, false, err
	}
	r.start(p.pageSize)
	more := false
	for st.Step() {
		if r.n == p.pageSize {
			more = true
			break
		}
		cur.last = st.ColumnInt64(0)
		r.add(st)
	}
	if err := st.Err(); err != nil {
		return nil, false, err
	}
	return r.finish(), more, nil
}

type tombstone struct {
	version int64
	id      string
}

// fetchIncremental sends rows and tombstones with versions in (token, H],
// in version order, H being the clock at the start of the fetch.
func (s *Server) fetchIncremental(ctx context.Context, c *conn, st callState, p *fetchPlan, rawToken, rawCursor []byte, deliver func(*sdk.Page) error) error {
	tok, err := s.decode(rawToken, tokenKind)
	if err != nil {
		return err
	}
	if tok.high > st.clock {
		return sdk.Errorf(sdk.TokenExpired, "mock: change token %d is newer than the server (version %d): the server file was restored; resync", tok.high, st.clock)
	}
	cur := cursor{kind: incCursorKind, entityHash: p.e.hash, high: st.clock, last: tok.high}
	if rawCursor != nil {
		if cur, err = s.decode(rawCursor, incCursorKind); err != nil {
			return err
		}
		if cur.entityHash != p.e.hash {
			return sdk.Errorf(sdk.Permanent, "mock: cursor belongs to another entity than %s", p.e.Name)
		}
		if cur.last < tok.high || cur.last > cur.high {
			return sdk.Errorf(sdk.Permanent, "mock: cursor does not belong to this change token")
		}
		if cur.high > st.clock {
			return sdk.Errorf(sdk.TokenExpired, "mock: cursor is newer than the server (version %d): the server file was restored; resync", st.clock)
		}
	}
	r := newPageReader(p.e, p.sel, 4)
	return s.pages(ctx, "fetch "+p.e.Name+" changes", &cur, func() (*sdk.Page, bool, error) {
		return s.readIncPage(c, p, r, &cur)
	}, deliver)
}

// pages reads and delivers pages until the last one, which carries the
// token of the read's high-water mark. Each page carries the cursor that
// resumes after it.
func (s *Server) pages(ctx context.Context, what string, cur *cursor, read func() (*sdk.Page, bool, error), deliver sdk.FetchFunc) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		page, more, err := read()
		if err != nil {
			return sqlErr(ctx, what, err)
		}
		page.Cursor = s.encode(*cur)
		if !more {
			page.Last = true
			page.Token = s.encode(cursor{kind: tokenKind, high: cur.high})
		}
		if err := deliver(page); err != nil {
			return err
		}
		if !more {
			return nil
		}
	}
}

// readIncPage reads one incremental page in a read transaction, so its rows
// and tombstones come from one snapshot (a delete and a re-insert of the
// same id can never both land in one page), and checks the purge horizon
// in that snapshot.
func (s *Server) readIncPage(c *conn, p *fetchPlan, r *pageReader, cur *cursor) (_ *sdk.Page, _ bool, err error) {
	if err := c.beginRead(); err != nil {
		return nil, false, err
	}
	defer c.rollback() // read-only: ending it is all there is to do

	horizon, _, err := c.queryInt(`SELECT value FROM _meta WHERE key = 'purge_horizon'`)
	if err != nil {
		return nil, false, err
	}
	if cur.last < horizon {
		return nil, false, sdk.Errorf(sdk.TokenExpired, "mock: %s: change token is older than the purge horizon (%d < %d); resync", p.e.Name, cur.last, horizon)
	}

	limit := int64(p.pageSize) + 1
	ts, err := c.prep(`SELECT version, id FROM _tombstone WHERE entity = ?1 AND version > ?2 AND version <= ?3 ORDER BY version LIMIT ?4`)
	if err != nil {
		return nil, false, err
	}
	if err := bindAll(ts, 1, p.e.Name, cur.last, cur.high, limit); err != nil {
		return nil, false, err
	}
	var tombs []tombstone
	for ts.Step() {
		tombs = append(tombs, tombstone{ts.ColumnInt64(0), ts.ColumnText(1)})
	}
	if err := ts.Reset(); err != nil {
		return nil, false, err
	}

	st, err := c.prep(p.incSQL)
	if err != nil {
		return nil, false, err
	}
	defer st.Reset()
	if err := bindAll(st, 1, cur.last, cur.high, limit); err != nil {
		return nil, false, err
	}
	if err := bindAll(st, 4, p.where.args...); err != nil {
		return nil, false, err
	}
	r.start(min(p.pageSize, 256))
	var deletes []string
	items, ti, more := 0, 0, false
	for st.Step() {
		v := st.ColumnInt64(2)
		for ti < len(tombs) && tombs[ti].version < v && items < p.pageSize {
			deletes = append(deletes, tombs[ti].id)
			cur.last = tombs[ti].version
			ti++
			items++
		}
		if items == p.pageSize {
			more = true
			break
		}
		if st.ColumnInt64(3) != 0 {
			r.add(st)
		} else {
			deletes = append(deletes, st.ColumnText(1))
		}
		cur.last = v
		items++
	}
	if err := st.Err(); err != nil {
		return nil, false, err
	}
	if !more {
		for ti < len(tombs) && items < p.pageSize {
			deletes = append(deletes, tombs[ti].id)
			cur.last = tombs[ti].version
			ti++
			items++
		}
		more = ti < len(tombs)
	}
	page := r.finish()
	page.Deletes = deletes
	return page, more, nil
}
