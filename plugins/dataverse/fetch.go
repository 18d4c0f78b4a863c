package dataverse

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/plugins/dataverse/odata"
	"github.com/fieldsync/fieldsync/plugins/dataverse/tsql"
	"github.com/fieldsync/fieldsync/sdk"
)

// bootstrapPageSize is the page size of key-only reads (the service's
// maximum): they carry a few dozen bytes a row.
const bootstrapPageSize = 5000

// fetchPlan is one Fetch request, checked against the model.
type fetchPlan struct {
	req      sdk.FetchRequest
	m        *model
	e        *entity
	fields   []*field // the selected fields, then those only a local check reads
	names    []string // the selected fields: the pages' columns
	types    []sdk.FieldType
	slots    map[string]int // JSON property → index in fields
	sel      string         // $select: the key and the fields' JSON names
	filter   string         // $filter expression, "" for none
	local    *localPlan     // set when filter is wider and rows are checked here
	pageSize int

	tokenSig  string // what a token of this fetch may serve
	cursorSig string // … and a cursor: the same plus the token it started from

	// uc is who reads and when, for a filter written as T-SQL: the time
	// is fixed for the whole read, the user filled in (WhoAmI) only when
	// the filter needs it.
	uc tsql.UserContext
}

// Fetch streams an entity's rows (see the package files token.go, keyed.go
// and tds.go for how each kind of read keeps its promises):
//
//   - full read, no filter: GET {set}?$select=… with Prefer:
//     odata.track-changes, following @odata.nextLink; the last page's
//     @odata.deltaLink becomes the change token;
//   - full read with a filter ($filter cannot be combined with change
//     tracking), or over TDS: first a key-only delta-link bootstrap, then
//     the filtered (or TDS) read; the token keeps the bootstrap's link;
//   - incremental: follow the token's delta link; $deletedEntity rows
//     become deletes; for a keyed token, the changed ids are read again
//     through the filter and those that no longer match are sent as
//     deletes.
//
// Pages never exceed the request's page size (a larger server page is
// split, its cursor naming the page and how many of its rows were sent).
func (c *Connector) Fetch(ctx context.Context, req sdk.FetchRequest, fn sdk.FetchFunc) error {
	if fn == nil {
		return sdk.Errorf(sdk.Permanent, "dataverse: fetch %s without a page callback", req.Entity)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dataverse: fetch %s: %w", req.Entity, err)
	}
	if c.closed.Load() {
		return sdk.Errorf(sdk.Permanent, "dataverse: fetch %s: the connector is closed", req.Entity)
	}
	p, err := c.plan(ctx, req)
	if err != nil {
		return err
	}
	err = c.fetch(ctx, p, fn)
	var cb *callbackError
	if errors.As(err, &cb) {
		return cb.err
	}
	return err
}

// callbackError carries the page callback's own error through the
// connector unchanged.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }
func (e *callbackError) Unwrap() error { return e.err }

func (c *Connector) plan(ctx context.Context, req sdk.FetchRequest) (*fetchPlan, error) {
	m, err := c.loadModel(ctx)
	if err != nil {
		return nil, err
	}
	e := m.byName[req.Entity]
	if e == nil {
		return nil, sdk.Errorf(sdk.Permanent, "dataverse: fetch: unknown entity %q", req.Entity)
	}
	p := &fetchPlan{req: req, m: m, e: e, slots: map[string]int{}, uc: tsql.UserContext{Now: time.Now()}}
	names := req.Fields
	switch {
	case req.IDsOnly:
		names = []string{}
	case names == nil:
		names = e.sdk.FieldNames()
	}
	sel := []string{e.pk}
	for i, n := range names {
		f := e.byName[n]
		if f == nil {
			return nil, sdk.Errorf(sdk.Permanent, "dataverse: fetch %s: unknown field %q", e.name, n)
		}
		if _, dup := p.slots[f.json]; dup {
			return nil, sdk.Errorf(sdk.Permanent, "dataverse: fetch %s: field %q selected twice", e.name, n)
		}
		p.slots[f.json] = i
		p.fields = append(p.fields, f)
		p.types = append(p.types, f.typ)
		sel = append(sel, f.json)
	}
	p.names = names
	p.sel = strings.Join(sel, ",")
	if req.Filter != nil {
		if p.filter, err = odata.Filter(req.Filter, m.schema, e.sdk, m.nav); err != nil {
			if p.local, err = widen(req.Filter, m, e, err); err != nil {
				return nil, err
			}
			p.filter = p.local.server
			for _, n := range p.local.fields {
				f := e.byName[n]
				if _, ok := p.slots[f.json]; !ok {
					p.slots[f.json] = len(p.fields)
					p.fields = append(p.fields, f)
					sel = append(sel, f.json)
				}
			}
			p.sel = strings.Join(sel, ",")
		}
	}
	p.pageSize = req.PageSize
	if p.pageSize <= 0 {
		p.pageSize = sdk.DefaultPageSize
	}
	p.pageSize = min(p.pageSize, sdk.MaxPageSize)
	key := p.filter + "\x00" + filterKey(req.Filter)
	p.tokenSig = signature(e.name, names, key, req.IDsOnly, nil)
	p.cursorSig = signature(e.name, names, key, req.IDsOnly, req.Token)
	return p, nil
}

func (c *Connector) fetch(ctx context.Context, p *fetchPlan, fn sdk.FetchFunc) error {
	var cur cursor
	var err error
	if c.tds != nil && needsUser(p.req.Filter) {
		if err := c.fillUser(ctx, &p.uc); err != nil {
			return err
		}
	}
	switch {
	case p.req.Cursor != nil:
		if cur, err = decodeCursor(p.req.Cursor, p.e.name, p.cursorSig); err != nil {
			return err
		}
	case p.req.Token != nil:
		tok, err := decodeToken(p.req.Token, p.e.name, p.tokenSig)
		if err != nil {
			return err
		}
		cur = cursor{Phase: phaseDelta, URL: tok.Link, Mode: tok.Mode}
	default:
		if cur, err = c.startFull(ctx, p); err != nil {
			return err
		}
	}
	cur.Entity, cur.Sig = p.e.name, p.cursorSig
	for {
		var done bool
		if cur.Phase == phaseTDS {
			cur, done, err = c.tds.page(ctx, p, cur, fn)
		} else {
			cur, done, err = c.webPage(ctx, p, cur, fn)
		}
		if err != nil || done {
			return err
		}
	}
}

// startFull decides how a full read goes and takes the delta link it needs
// first.
func (c *Connector) startFull(ctx context.Context, p *fetchPlan) (cursor, error) {
	e := p.e
	if p.req.IDsOnly || !e.tracked {
		// A membership read (the engine ignores its token) or a table
		// without change tracking: no delta link to keep.
		c.setPath(e.name, "webapi")
		return cursor{Phase: phaseFiltered, URL: p.listURL(), Mode: modeNone}, nil
	}
	if c.tds != nil {
		ok, why := c.tds.serves(p)
		if ok {
			delta, err := c.bootstrap(ctx, e)
			if err != nil {
				return cursor{}, err
			}
			c.setPath(e.name, "tds")
			return cursor{Phase: phaseTDS, Delta: delta, Mode: modeKeyed}, nil
		}
		c.log.Debug("full read over the Web API instead of TDS", "entity", e.name, "reason", why)
	}
	c.setPath(e.name, "webapi")
	if p.filter != "" {
		delta, err := c.bootstrap(ctx, e)
		if err != nil {
			return cursor{}, err
		}
		return cursor{Phase: phaseFiltered, URL: p.listURL(), Delta: delta, Mode: modeKeyed}, nil
	}
	return cursor{Phase: phaseFull, URL: p.listURL(), Mode: modePlain}, nil
}

// keep reports whether a row the server returned matches the filter: always,
// unless the filter is checked here (see localfilter.go).
func (p *fetchPlan) keep(id string, vals []sdk.Value) bool {
	if p.local == nil {
		return true
	}
	row := make(map[string]sdk.Value, len(p.fields)+1)
	row[p.e.pk] = sdk.String(id)
	for i, f := range p.fields {
		row[f.name] = vals[i]
	}
	return matches(p.local.filter, p.e, row)
}

// listURL is the first page of a full read: the fields, and the filter
// when there is one.
func (p *fetchPlan) listURL() string {
	u := p.e.set + "?$select=" + queryEscape(p.sel)
	if p.filter != "" {
		u += "&$filter=" + queryEscape(p.filter)
	}
	return u
}

// prefer is the Prefer header of a page request; the same one goes with
// every page of a read (PROTOCOLS.md: "send the same Prefer with every
// page").
func prefer(track bool, pageSize int) string {
	s := "odata.maxpagesize=" + strconv.Itoa(pageSize)
	if track {
		s = "odata.track-changes, " + s
	}
	return s
}

// cutError marks a response that broke off while being read: the server
// page can be asked for again.
type cutError struct{ err error }

func (e *cutError) Error() string { return e.err.Error() }
func (e *cutError) Unwrap() error { return e.err }

// webPage reads one server page at cur (several sdk pages when the server
// sent more rows than the page size) and returns where the fetch goes on.
// A response cut mid-way is asked for again, up to the retries setting,
// skipping the rows already delivered.
func (c *Connector) webPage(ctx context.Context, p *fetchPlan, cur cursor, fn sdk.FetchFunc) (cursor, bool, error) {
	for attempt := 0; ; attempt++ {
		emitted := 0
		next, done, err := c.readWebPage(ctx, p, cur, fn, &emitted)
		var cut *cutError
		if err == nil || !errors.As(err, &cut) {
			return next, done, err
		}
		if attempt >= c.http.retries {
			return next, done, cut.err
		}
		c.log.Debug("response cut; asking for the page again", "entity", p.e.name, "error", cut.err)
		cur.Skip += emitted
		if err := c.http.pause(ctx, request{What: "fetch " + p.e.name}, c.http.delay(attempt)); err != nil {
			return next, done, err
		}
	}
}

func (c *Connector) readWebPage(ctx context.Context, p *fetchPlan, cur cursor, fn sdk.FetchFunc, emitted *int) (cursor, bool, error) {
	track := cur.Phase == phaseFull || cur.Phase == phaseDelta
	what := "fetch " + p.e.name
	if cur.Phase == phaseDelta {
		what = "incremental fetch " + p.e.name
	}
	resp, err := c.http.do(ctx, request{Method: http.MethodGet, URL: cur.URL, What: what,
		Header: http.Header{"Prefer": {prefer(track, p.pageSize)}}})
	if err != nil {
		return cur, false, err
	}
	defer resp.Body.Close()
	readErr := func(err error) error {
		err = bodyError(ctx, what, err)
		if sdk.KindOf(err) == sdk.Retryable {
			return &cutError{err}
		}
		return err
	}
	col, err := openCollection(resp.Body)
	if err != nil {
		return cur, false, readErr(err)
	}

	keyed := cur.Phase == phaseDelta && cur.Mode == modeKeyed
	b := sdk.NewPageBuilder(p.names, p.types)
	vals := make([]sdk.Value, len(p.fields))
	var changed, deleted []string // keyed: ids to read again, ids deleted
	pending, consumed := 0, 0
	emit := func(pageCursor []byte, last bool, token []byte) error {
		var pg *sdk.Page
		if keyed {
			var err error
			if pg, err = c.resolveKeyed(ctx, p, changed, deleted); err != nil {
				return err
			}
			changed, deleted = changed[:0], deleted[:0]
		} else {
			pg = b.Page()
		}
		pg.Cursor, pg.Last, pg.Token = pageCursor, last, token
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("dataverse: %s: %w", what, err)
		}
		if err := fn(pg); err != nil {
			return &callbackError{err}
		}
		*emitted += pending
		pending = 0
		return nil
	}
	for {
		more, err := col.more()
		if err != nil {
			return cur, false, readErr(err)
		}
		if !more {
			break
		}
		if consumed < cur.Skip {
			if _, err := col.skipItem(p.e); err != nil {
				return cur, false, readErr(err)
			}
			consumed++
			continue
		}
		if pending == p.pageSize {
			split := cur
			split.Skip = consumed
			if err := emit(split.encode(), false, nil); err != nil {
				return cur, false, err
			}
		}
		var it item
		if keyed {
			it, err = col.skipItem(p.e)
		} else {
			it, err = col.readItem(p.e, p.slots, p.fields, vals)
		}
		if err != nil {
			return cur, false, readErr(err)
		}
		switch {
		case it.deleted && cur.Phase != phaseDelta:
			return cur, false, sdk.Errorf(sdk.Permanent, "dataverse: %s: a deleted row in a read that tracks no changes", what)
		case keyed && it.deleted:
			deleted = append(deleted, it.id)
		case keyed:
			changed = append(changed, it.id)
		case it.deleted:
			b.Delete(it.id)
		case !p.keep(it.id, vals):
			consumed++ // read, checked here, and left out: outside the filter
			continue
		default:
			b.Add(it.id, it.etag, vals[:len(p.names)]...)
		}
		consumed++
		pending++
	}

	switch {
	case col.nextLink != "":
		rel, err := c.http.relative(col.nextLink)
		if err != nil {
			return cur, false, err
		}
		next := cur
		next.URL, next.Skip = rel, 0
		if pending > 0 {
			if err := emit(next.encode(), false, nil); err != nil {
				return cur, false, err
			}
		}
		return next, false, nil
	case col.deltaLink != "" && track:
		rel, err := c.http.relative(col.deltaLink)
		if err != nil {
			return cur, false, err
		}
		tok := changeToken{Entity: p.e.name, Sig: p.tokenSig, Mode: cur.Mode, Link: rel}
		return cur, true, emit(nil, true, tok.encode())
	}
	tok := changeToken{Entity: p.e.name, Sig: p.tokenSig, Mode: modeNone}
	switch {
	case cur.Phase == phaseFiltered && cur.Delta != "":
		tok.Mode, tok.Link = modeKeyed, cur.Delta
	case track:
		// Asked for change tracking, got no delta link: the table does not
		// track changes after all. The token makes the next sync a full
		// read instead of missing changes.
		c.log.Warn("the service answered a change-tracked read without a delta link; the next read of the entity is a full one", "entity", p.e.name)
	}
	return cur, true, emit(nil, true, tok.encode())
}

// queryEscape escapes a query parameter value, leaving the characters
// OData expressions are made of readable (and spaces as %20, not +).
func queryEscape(s string) string {
	const safe = "-._~,()'*$:@!/"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || strings.IndexByte(safe, ch) >= 0 {
			b.WriteByte(ch)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", ch)
	}
	return b.String()
}
