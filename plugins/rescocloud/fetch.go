package rescocloud

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/fieldsync/fieldsync/plugins/rescocloud/wire"
	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/fetchxml"
)

// Tokens and cursors are small JSON documents behind a prefix, so a value
// of another connector or version is told apart from a corrupted one.
const (
	tokenPrefix  = "rct1:"
	cursorPrefix = "rcc1:"
	maxOpaque    = 128 << 10
)

// changeToken starts an incremental fetch: rows and removals above RV.
type changeToken struct {
	Entity string `json:"e"`
	RV     int64  `json:"rv"`
}

// Phases of a fetch.
const (
	phaseRemovals = "removals" // RetrieveChanges pages in (Lo, Hi]
	phaseRows     = "rows"     // Fetch pages
	phaseDone     = "done"     // after the last page: resuming gives an empty last page
)

// fetchCursor resumes a fetch after a page. Lo is the token's version (-1
// for a full read), Hi the bound taken when the fetch started; both stay
// the same for the whole fetch. Req binds the cursor to the request
// (entity, fields, filter, token, ids-only) it came from.
type fetchCursor struct {
	Entity  string `json:"e"`
	Req     string `json:"q"`
	Lo      int64  `json:"lo"`
	Hi      int64  `json:"hi"`
	Phase   string `json:"ph"`
	Page    int    `json:"pg,omitempty"`
	Cookie  string `json:"ck,omitempty"`
	RCookie string `json:"rck,omitempty"`
}

func encodeOpaque(prefix string, v any) []byte {
	b, _ := json.Marshal(v) // plain structs of strings and ints
	return append([]byte(prefix), b...)
}

func decodeOpaque(prefix string, b []byte, v any) bool {
	if len(b) > maxOpaque || !bytes.HasPrefix(b, []byte(prefix)) {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(b[len(prefix):]))
	dec.DisallowUnknownFields()
	if dec.Decode(v) != nil || dec.More() {
		return false
	}
	return true
}

// requestKey digests what a cursor must be resumed with.
func requestKey(req *sdk.FetchRequest, fields []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%t\x00", req.Entity, strings.Join(fields, ","), sdk.FormatFilter(req.Filter), req.IDsOnly)
	h.Write(req.Token)
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// fetchPlan is a checked FetchRequest.
type fetchPlan struct {
	m        *model
	em       *entityModel
	fields   []string // page columns (none when IDsOnly)
	types    []sdk.FieldType
	attrs    []string // attributes asked of the service (at least the key)
	pageSize int
	filter   *sdk.Filter
}

// Fetch streams req.Entity's rows; see the package comment for how a full
// and an incremental read are made.
func (c *Connector) Fetch(ctx context.Context, req sdk.FetchRequest, fn sdk.FetchFunc) error {
	if err := c.check(ctx, "fetch "+req.Entity); err != nil {
		return err
	}
	m, err := c.loadModel(ctx)
	if err != nil {
		return err
	}
	p, err := c.plan(m, &req)
	if err != nil {
		return err
	}
	key := requestKey(&req, p.fields)
	var st fetchCursor
	switch {
	case req.Cursor != nil:
		if !decodeOpaque(cursorPrefix, req.Cursor, &st) {
			return sdk.Errorf(sdk.Permanent, "rescocloud: fetch %s: the cursor is malformed", req.Entity)
		}
		if st.Entity != req.Entity || st.Req != key {
			return sdk.Errorf(sdk.Permanent, "rescocloud: fetch %s: the cursor belongs to another request (entity, fields, filter or token differ)", req.Entity)
		}
		if st.Hi < 0 || st.Lo < -1 || st.Page < 0 || len(st.Cookie) > maxOpaque/2 ||
			(st.Phase != phaseRemovals && st.Phase != phaseRows && st.Phase != phaseDone) {
			return sdk.Errorf(sdk.Permanent, "rescocloud: fetch %s: the cursor is malformed", req.Entity)
		}
	default:
		st = fetchCursor{Entity: req.Entity, Req: key, Lo: -1, Phase: phaseRows, Page: 1}
		if req.Token != nil {
			var tok changeToken
			if !decodeOpaque(tokenPrefix, req.Token, &tok) || tok.RV < 0 {
				return sdk.Errorf(sdk.Permanent, "rescocloud: fetch %s: the change token is malformed", req.Entity)
			}
			if tok.Entity != req.Entity {
				return sdk.Errorf(sdk.Permanent, "rescocloud: fetch %s: the change token is of entity %q", req.Entity, tok.Entity)
			}
			st.Lo = tok.RV
			if p.em.tracking {
				st.Phase = phaseRemovals
			}
		}
		hi, err := c.maxRowVersions(ctx, []string{req.Entity})
		if err != nil {
			return err
		}
		v, ok := hi[req.Entity]
		if !ok {
			return sdk.Errorf(sdk.Permanent, "rescocloud: fetch %s: GetMaxRowVersion did not answer for the entity", req.Entity)
		}
		st.Hi = v
		if st.Lo > st.Hi {
			// The service is behind the token: restored from a backup, or
			// the token is from another organization. Read it all again.
			return sdk.Errorf(sdk.TokenExpired, "rescocloud: fetch %s: the change token (version %d) is ahead of the service (version %d); the entity must be read again", req.Entity, st.Lo, st.Hi)
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("rescocloud: fetch %s: %w", req.Entity, err)
		}
		var page *sdk.Page
		switch st.Phase {
		case phaseRemovals:
			page, err = c.removalsPage(ctx, p, &st)
		case phaseRows:
			if st.Lo >= 0 && p.filter != nil {
				page, err = c.filteredChangesPage(ctx, p, &st)
			} else {
				page, err = c.rowsPage(ctx, p, &st)
			}
		default:
			page = sdk.NewPageBuilder(p.fields, p.types).Page()
		}
		if err != nil {
			return err
		}
		page.Cursor = encodeOpaque(cursorPrefix, st)
		if st.Phase == phaseDone {
			page.Last = true
			page.Token = encodeOpaque(tokenPrefix, changeToken{Entity: req.Entity, RV: st.Hi})
		}
		if err := fn(page); err != nil {
			return err
		}
		if page.Last {
			return nil
		}
	}
}

// plan checks a request against the schema before any request is made.
func (c *Connector) plan(m *model, req *sdk.FetchRequest) (*fetchPlan, error) {
	em, err := m.entity(req.Entity)
	if err != nil {
		return nil, err
	}
	p := &fetchPlan{m: m, em: em, filter: req.Filter}
	if req.PageSize < 0 {
		return nil, sdk.Errorf(sdk.Permanent, "rescocloud: fetch %s: page size %d is negative", req.Entity, req.PageSize)
	}
	p.pageSize = min(c.cfg.PageSize, sdk.MaxPageSize)
	if req.PageSize > 0 {
		p.pageSize = min(req.PageSize, sdk.MaxPageSize)
	}
	fields := req.Fields
	if fields == nil {
		fields = em.sdk.FieldNames()
	}
	seen := map[string]bool{}
	for _, f := range fields {
		fd := em.sdk.Field(f)
		if fd == nil {
			return nil, sdk.Errorf(sdk.Permanent, "rescocloud: fetch %s: unknown field %q", req.Entity, f)
		}
		if seen[f] {
			return nil, sdk.Errorf(sdk.Permanent, "rescocloud: fetch %s: field %q selected twice", req.Entity, f)
		}
		seen[f] = true
		if !req.IDsOnly && fd.Type == sdk.TypeBinary {
			p.pageSize = min(p.pageSize, binaryPageSize)
		}
	}
	if !req.IDsOnly {
		p.fields = append([]string(nil), fields...)
		for _, f := range p.fields {
			p.types = append(p.types, em.sdk.Field(f).Type)
		}
	}
	p.attrs = append([]string{em.sdk.PrimaryKey}, p.fields...)
	if req.Filter != nil {
		// Translate once now, so a filter FetchXML cannot say fails before
		// any request, as Permanent.
		if _, err := fetchxml.Filter(req.Filter, m.schema, em.sdk); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// versionWindow is the sdk filter "versionnumber in (lo, hi]"; lo < 0 means
// no lower bound (a full read, which has no upper bound either).
func versionWindow(lo, hi int64) *sdk.Filter {
	if lo < 0 {
		return nil
	}
	return sdk.And(
		sdk.Cmp(wire.VersionAttribute, sdk.OpGt, sdk.Int(lo)),
		sdk.Cmp(wire.VersionAttribute, sdk.OpLe, sdk.Int(hi)),
	)
}

func and(fs ...*sdk.Filter) *sdk.Filter {
	var kids []*sdk.Filter
	for _, f := range fs {
		if f != nil {
			kids = append(kids, f)
		}
	}
	switch len(kids) {
	case 0:
		return nil
	case 1:
		return kids[0]
	}
	return sdk.And(kids...)
}

// fetchPage runs one FetchXML page.
func (c *Connector) fetchPage(ctx context.Context, p *fetchPlan, attrs []string, f *sdk.Filter, count, page int, cookie string) (*wire.FetchResponse, error) {
	q, err := fetchxml.Query(p.em.sdk.Name, attrs, f, p.m.schema, p.em.query, fetchxml.QueryOptions{
		Count: count, Page: page, PagingCookie: cookie, OrderByPrimaryKey: true,
	})
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(wire.FetchRequest{FetchXml: q})
	what := "Fetch " + p.em.sdk.Name
	resp, err := c.http.postJSON(ctx, wire.PathFetch, what, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	fr, err := wire.DecodeFetch(resp.Body)
	if err != nil {
		return nil, badAnswer(what, err)
	}
	if len(fr.Entities) > count {
		return nil, badAnswer(what, fmt.Errorf("%d rows for a page of %d", len(fr.Entities), count))
	}
	return fr, nil
}

// rowsPage reads the next page of a full read, or of an incremental read
// without a filter: the rows in the version window.
func (c *Connector) rowsPage(ctx context.Context, p *fetchPlan, st *fetchCursor) (*sdk.Page, error) {
	q, err := fetchxml.Query(p.em.sdk.Name, p.attrs, and(p.filter, versionWindow(st.Lo, st.Hi)), p.m.schema, p.em.query, fetchxml.QueryOptions{
		Count: p.pageSize, Page: st.Page, PagingCookie: st.Cookie, OrderByPrimaryKey: true,
	})
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(wire.FetchRequest{FetchXml: q})
	what := "Fetch " + p.em.sdk.Name
	resp, err := c.http.postJSON(ctx, wire.PathFetch, what, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	// The page is scanned, not decoded through encoding/json: this is the
	// download's hot path (see wire.DecodeFetchRows).
	fr, err := wire.DecodeFetchRows(resp.Body, p.fields)
	if err != nil {
		return nil, badAnswer(what, err)
	}
	if len(fr.Rows) > p.pageSize {
		return nil, badAnswer(what, fmt.Errorf("%d rows for a page of %d", len(fr.Rows), p.pageSize))
	}
	b := sdk.NewPageBuilder(p.fields, p.types)
	vals := make([]sdk.Value, len(p.fields))
	for i := range fr.Rows {
		row := &fr.Rows[i]
		for j, name := range p.fields {
			vals[j] = sdk.Null()
			raw := row.Values[j]
			if raw == nil || wire.IsNull(raw) {
				continue
			}
			v, err := decodeValue(p.em.attrs[name], raw)
			if err != nil {
				return nil, badAnswer(what, fmt.Errorf("row %s: %s: %w", row.Id, name, err))
			}
			vals[j] = v
		}
		b.Add(row.Id, strconv.FormatInt(row.RowVersion, 10), vals...)
	}
	if fr.MoreRecords {
		st.Page++
		st.Cookie = fr.PagingCookie
	} else {
		st.Phase, st.Page, st.Cookie = phaseDone, 0, ""
	}
	return b.Page(), nil
}

func (c *Connector) advance(st *fetchCursor, fr *wire.FetchResponse) {
	if fr.MoreRecords {
		st.Page++
		st.Cookie = fr.PagingCookie
		return
	}
	st.Phase, st.Page, st.Cookie = phaseDone, 0, ""
}

// filteredChangesPage reads the next page of a filtered incremental read:
// the ids of every row changed in the window (unfiltered), then the
// values of those that match the filter now. The others left the filter
// (or were never in it): they go as deletes, which the engine ignores for
// rows it does not hold.
func (c *Connector) filteredChangesPage(ctx context.Context, p *fetchPlan, st *fetchCursor) (*sdk.Page, error) {
	pk := p.em.sdk.PrimaryKey
	changed, err := c.fetchPage(ctx, p, []string{pk}, versionWindow(st.Lo, st.Hi), p.pageSize, st.Page, st.Cookie)
	if err != nil {
		return nil, err
	}
	b := sdk.NewPageBuilder(p.fields, p.types)
	if len(changed.Entities) > 0 {
		ids := make([]sdk.Value, len(changed.Entities))
		for i, r := range changed.Entities {
			ids[i] = sdk.String(r.Id)
		}
		n := len(ids)
		matched, err := c.fetchPage(ctx, p, p.attrs, sdk.And(p.filter, &sdk.Filter{Op: sdk.OpIn, Field: pk, Values: ids}), n, 1, "")
		if err != nil {
			return nil, err
		}
		if matched.MoreRecords {
			return nil, badAnswer("Fetch "+p.em.sdk.Name, fmt.Errorf("more than %d rows match %d ids", n, n))
		}
		byID := make(map[string]*wire.Record, len(matched.Entities))
		for i := range matched.Entities {
			byID[strings.ToLower(matched.Entities[i].Id)] = &matched.Entities[i]
		}
		for _, r := range changed.Entities {
			rec := byID[strings.ToLower(r.Id)]
			if rec == nil {
				b.Delete(r.Id)
				continue
			}
			vals, err := recordValues(p.em, p.fields, rec)
			if err != nil {
				return nil, badAnswer("Fetch "+p.em.sdk.Name, err)
			}
			b.Add(rec.Id, fmt.Sprint(rec.RowVersion), vals...)
		}
	}
	c.advance(st, changed)
	return b.Page(), nil
}

// removalsPage reads the next page of removals in (Lo, Hi] as deletes.
// Removals above Hi are left for the next fetch, whose window holds them.
func (c *Connector) removalsPage(ctx context.Context, p *fetchPlan, st *fetchCursor) (*sdk.Page, error) {
	what := "RetrieveChanges " + p.em.sdk.Name
	body, _ := json.Marshal(wire.RetrieveChangesRequest{Entity: p.em.sdk.Name, SinceRowVersion: st.Lo, Count: p.pageSize, PagingCookie: st.RCookie})
	resp, err := c.http.postJSON(ctx, wire.PathRetrieveChanges, what, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	rc, err := wire.DecodeRetrieveChanges(resp.Body)
	if err != nil {
		return nil, badAnswer(what, err)
	}
	if len(rc.Removed) > p.pageSize {
		return nil, badAnswer(what, fmt.Errorf("%d removals for a page of %d", len(rc.Removed), p.pageSize))
	}
	b := sdk.NewPageBuilder(p.fields, p.types)
	for _, r := range rc.Removed {
		if r.RowVersion > st.Lo && r.RowVersion <= st.Hi {
			b.Delete(r.Id)
		}
	}
	if rc.MoreRecords {
		st.RCookie = rc.PagingCookie
	} else {
		st.Phase, st.RCookie, st.Page, st.Cookie = phaseRows, "", 1, ""
	}
	return b.Page(), nil
}

// maxRowVersions asks GetMaxRowVersion for entities, 100 a request.
func (c *Connector) maxRowVersions(ctx context.Context, entities []string) (map[string]int64, error) {
	out := make(map[string]int64, len(entities))
	for start := 0; start < len(entities); start += wire.MaxEntitiesPerMaxRowVersion {
		chunk := entities[start:min(start+wire.MaxEntitiesPerMaxRowVersion, len(entities))]
		body, _ := json.Marshal(wire.MaxRowVersionRequest{Entities: chunk})
		resp, err := c.http.postJSON(ctx, wire.PathGetMaxRowVersion, "GetMaxRowVersion", body)
		if err != nil {
			return nil, err
		}
		mv, err := wire.DecodeMaxRowVersion(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, badAnswer("GetMaxRowVersion", err)
		}
		for _, e := range chunk {
			if v, ok := mv.RowVersions[e]; ok {
				out[e] = v
			}
		}
	}
	return out, nil
}
