package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/plugins/salesforce/soql"
	"github.com/fieldsync/fieldsync/sdk"
)

// selection is what one Fetch reads: its fields, their types and the
// translated filter.
type selection struct {
	o         *object
	fields    []*field // selected fields, in page order (none with IDsOnly)
	names     []string
	types     []sdk.FieldType
	where     string // SOQL condition of the filter, "" for none
	filtered  bool
	idsOnly   bool
	pageSize  int
	tokenSig  string // binds tokens to entity, fields, filter
	cursorSig string // binds cursors to all that and the token
}

func (c *Connector) selection(ctx context.Context, req sdk.FetchRequest) (*selection, error) {
	m, err := c.loadModel(ctx)
	if err != nil {
		return nil, err
	}
	o, err := m.object(req.Entity)
	if err != nil {
		return nil, err
	}
	s := &selection{o: o, idsOnly: req.IDsOnly}
	switch {
	case req.PageSize < 0:
		return nil, sdk.Errorf(sdk.Permanent, "salesforce: fetch %s: page size %d is negative", o.name, req.PageSize)
	case req.PageSize == 0:
		s.pageSize = sdk.DefaultPageSize
	default:
		s.pageSize = min(req.PageSize, sdk.MaxPageSize)
	}
	if !req.IDsOnly {
		names := req.Fields
		if names == nil {
			names = o.entity.FieldNames()
		}
		seen := map[string]bool{}
		for _, n := range names {
			f := o.fields[n]
			if f == nil {
				return nil, sdk.Errorf(sdk.Permanent, "salesforce: fetch %s: unknown field %q", o.name, n)
			}
			if seen[n] {
				return nil, sdk.Errorf(sdk.Permanent, "salesforce: fetch %s: field %q selected twice", o.name, n)
			}
			seen[n] = true
			s.fields = append(s.fields, f)
			s.names = append(s.names, n)
			s.types = append(s.types, f.typ)
		}
	}
	if s.names == nil {
		s.names = []string{}
	}
	if req.Filter != nil {
		userID := ""
		if sess, err := c.auth.session(ctx); err == nil {
			userID = sess.userID
		} else {
			return nil, err
		}
		s.where, err = soql.Where(req.Filter, m.schema, o.entity, soql.UserContext{UserID: userID, RelName: m.relName})
		if err != nil {
			return nil, fmt.Errorf("salesforce: fetch %s: %w", o.name, err)
		}
		s.filtered = s.where != ""
	}
	sorted := slices.Sorted(slices.Values(s.names))
	s.tokenSig = signature(o.name, sorted, s.where, s.idsOnly, nil)
	s.cursorSig = signature(o.name, sorted, s.where, s.idsOnly, req.Token)
	return s, nil
}

// Fetch implements sdk.Connector: a full read without a token, an
// incremental one from it (see token.go for the window and fetch.go's
// fetchIncremental for deletes and filters).
func (c *Connector) Fetch(ctx context.Context, req sdk.FetchRequest, fn sdk.FetchFunc) error {
	if err := c.usable(ctx, "fetch "+req.Entity); err != nil {
		return err
	}
	s, err := c.selection(ctx, req)
	if err != nil {
		return err
	}
	f := &fetcher{c: c, s: s, fn: fn, b: sdk.NewPageBuilder(s.names, s.types), overlap: c.cfg.overlap.Milliseconds()}
	if req.Token == nil {
		return f.full(ctx, req.Cursor)
	}
	return f.incremental(ctx, req.Token, req.Cursor)
}

// fetcher is one Fetch in progress.
type fetcher struct {
	c       *Connector
	s       *selection
	fn      sdk.FetchFunc
	b       *sdk.PageBuilder
	overlap int64 // ms
	pages   int
}

// emit hands the page built so far to the callback, with cursor (or, for
// the last page, token).
func (f *fetcher) emit(ctx context.Context, cursor, token []byte) error {
	p := f.b.Page()
	p.Fields = slices.Clone(f.s.names)
	if token != nil {
		p.Last, p.Token = true, token
	} else {
		p.Cursor = cursor
	}
	f.pages++
	if err := f.fn(p); err != nil {
		return err
	}
	// A callback may cancel the context; stop before the next page even
	// when it would come from rows already received.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("salesforce: fetch %s: %w", f.s.o.name, err)
	}
	return nil
}

// values decodes the selected fields of a record.
func (f *fetcher) values(r map[string]json.RawMessage, id string) ([]sdk.Value, error) {
	vals := make([]sdk.Value, len(f.s.fields))
	for j, fd := range f.s.fields {
		v, err := decodeValue(fd.sfType, fd.typ, r[fd.name])
		if err != nil {
			return nil, fmt.Errorf("salesforce: fetch %s: row %s field %s: %w", f.s.o.name, id, fd.name, err)
		}
		vals[j] = v
	}
	return vals, nil
}

// selectList is the SOQL field list: Id, SystemModstamp (for versions), the
// extra fields asked for, then the selected fields, each once.
func (f *fetcher) selectList(extra []string, withFields bool) string {
	list := []string{"Id"}
	if f.s.o.hasStamp {
		list = append(list, "SystemModstamp")
	}
	list = append(list, extra...)
	if withFields {
		for _, fd := range f.s.fields {
			if !slices.Contains(list, fd.name) {
				list = append(list, fd.name)
			}
		}
	}
	return strings.Join(list, ", ")
}

// full reads every row matching the filter, ORDER BY Id. Query locators
// expire (15 minutes idle), so a cursor resumes by keyset: Id > 'last'.
func (f *fetcher) full(ctx context.Context, rawCursor []byte) error {
	o := f.s.o
	var hwm int64
	seen := seenSet{}
	lastID := ""
	if rawCursor != nil {
		cur, s, err := decodeCursor(rawCursor, o.name, f.s.cursorSig)
		if err != nil {
			return err
		}
		if cur.Mode != modeFull {
			return sdk.Errorf(sdk.Permanent, "salesforce: fetch %s: the cursor belongs to an incremental fetch", o.name)
		}
		hwm, seen, lastID = cur.HWM, s, cur.LastID
	}
	var cond []string
	if f.s.where != "" {
		cond = append(cond, "("+f.s.where+")")
	}
	if lastID != "" {
		cond = append(cond, "Id > '"+lastID+"'")
	}
	q := "SELECT " + f.selectList(nil, !f.s.idsOnly) + " FROM " + o.name + whereClause(cond) + " ORDER BY Id"
	err := f.c.queryPages(ctx, q, false, "fetch "+o.name, func(hdr http.Header, p *queryPage) error {
		if hwm == 0 {
			hwm = serverTime(hdr)
		}
		for _, r := range p.Records {
			id, err := recordID(r)
			if err != nil {
				return fmt.Errorf("salesforce: fetch %s: %w", o.name, err)
			}
			ver := ""
			if o.hasStamp {
				stamp, err := recordStamp(r)
				if err != nil {
					return fmt.Errorf("salesforce: fetch %s: row %s: %w", o.name, id, err)
				}
				ver = version(stamp)
				seen.add(seenEntry{id: id, stamp: stamp}, hwm-f.overlap)
			}
			vals, err := f.values(r, id)
			if err != nil {
				return err
			}
			if lastID != "" && id <= lastID {
				return sdk.Errorf(sdk.Retryable, "salesforce: fetch %s: the server's rows are not in Id order (%s after %s)", o.name, id, lastID)
			}
			f.b.Add(id, ver, vals...)
			lastID = id
			if f.b.Len() >= f.s.pageSize {
				cur := encode(kindCursor, fetchCursor{Sig: f.s.cursorSig, Mode: modeFull, HWM: hwm, LastID: lastID, Seen: seen.list()})
				if err := f.emit(ctx, cur, nil); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if hwm == 0 {
		hwm = time.Now().UnixMilli()
	}
	tok := encode(kindToken, changeToken{Entity: o.name, Sig: f.s.tokenSig, HWM: hwm, Seen: seen.list()})
	return f.emit(ctx, nil, tok)
}

// whereClause joins conditions with AND.
func whereClause(cond []string) string {
	if len(cond) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(cond, " AND ")
}

// serverTime is the server's clock from a Date header, in Unix ms (our own
// clock when the header is missing or unreadable).
func serverTime(h http.Header) int64 {
	if t, err := http.ParseTime(h.Get("Date")); err == nil {
		return t.UnixMilli()
	}
	return time.Now().UnixMilli()
}

// soqlTime writes Unix ms as a SOQL date-time literal.
func soqlTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}

// queryPages runs a SOQL query (queryAll with all set) and follows
// nextRecordsUrl, handing each decoded page to fn with its headers. One
// page is in memory at a time.
func (c *Connector) queryPages(ctx context.Context, q string, all bool, what string, fn func(http.Header, *queryPage) error) error {
	resource := "query"
	if all {
		resource = "queryAll"
	}
	path := c.force.dataPath(resource + "?q=" + url.QueryEscape(q))
	header := http.Header{"Sforce-Query-Options": {"batchSize=" + strconv.Itoa(c.cfg.batchSize)}}
	for n := 1; ; n++ {
		w := what + " page " + strconv.Itoa(n)
		resp, err := c.force.rest(ctx, call{Method: http.MethodGet, Path: path, Header: header, What: w})
		if err != nil {
			return err
		}
		p, err := parseQueryPage(resp.Body)
		if err != nil {
			return sdk.Errorf(sdk.Retryable, "salesforce: %s: %v", w, err)
		}
		if err := fn(resp.Header, p); err != nil {
			return err
		}
		if p.Done || p.NextRecordsURL == "" {
			return nil
		}
		path = strings.TrimPrefix(p.NextRecordsURL, "/")
	}
}
