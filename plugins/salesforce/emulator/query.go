package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"
)

const (
	defaultBatch = 2000
	minBatch     = 200
	locatorTTL   = 24 * time.Hour
)

// rec is a JSON object that keeps its keys in order.
type rec struct {
	keys []string
	vals []any
}

func (r *rec) set(k string, v any) {
	for i, kk := range r.keys {
		if kk == k {
			r.vals[i] = v
			return
		}
	}
	r.keys = append(r.keys, k)
	r.vals = append(r.vals, v)
}

func (r *rec) get(k string) (any, bool) {
	for i, kk := range r.keys {
		if kk == k {
			return r.vals[i], true
		}
	}
	return nil, false
}

func (r *rec) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range r.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		var vb bytes.Buffer
		enc := json.NewEncoder(&vb)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(r.vals[i]); err != nil {
			return nil, err
		}
		b.Write(bytes.TrimRight(vb.Bytes(), "\n"))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// sfTime writes Unix ms the way Salesforce answers date-times.
func sfTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000+0000")
}

func attributes(typ, version, id string) *rec {
	a := &rec{keys: []string{"type", "url"}, vals: []any{typ, "/services/data/v" + version + "/sobjects/" + typ + "/" + id}}
	return &rec{keys: []string{"attributes"}, vals: []any{a}}
}

// colValue reads column i as field f's JSON value.
func colValue(st *sqlite3.Stmt, i int, f *field, o *object, version string) any {
	if st.ColumnType(i) == sqlite3.NULL {
		return nil
	}
	switch f.Type {
	case "boolean":
		return st.ColumnInt64(i) != 0
	case "int":
		return st.ColumnInt64(i)
	case "double", "currency", "percent":
		return st.ColumnFloat(i)
	case "datetime":
		return sfTime(st.ColumnInt64(i))
	case "base64":
		return "/services/data/v" + version + "/sobjects/" + o.Name + "/" + st.ColumnText(i) + "/" + f.Name
	}
	return st.ColumnText(i)
}

// render builds one query record from the current row.
func (c *compiled) render(st *sqlite3.Stmt, version string) *rec {
	r := attributes(c.obj.Name, version, st.ColumnText(0))
	for _, col := range c.cols {
		if col.rel == nil {
			r.set(col.f.Name, colValue(st, col.idx, col.f, c.obj, version))
			continue
		}
		v, ok := r.get(col.rel.RelName)
		if !ok {
			if st.ColumnType(col.ridx) == sqlite3.NULL {
				r.set(col.rel.RelName, nil)
				continue
			}
			v = attributes(col.robj.Name, version, st.ColumnText(col.ridx))
			r.set(col.rel.RelName, v)
		}
		if nested, ok := v.(*rec); ok {
			nested.set(col.f.Name, colValue(st, col.idx, col.f, col.robj, version))
		}
	}
	return r
}

func batchSize(h map[string][]string) int {
	for _, v := range h["Sforce-Query-Options"] {
		for _, part := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "batchSize") {
				n, err := strconv.Atoi(strings.TrimSpace(val))
				if err != nil {
					return defaultBatch
				}
				return min(max(n, minBatch), defaultBatch)
			}
		}
	}
	return defaultBatch
}

func soqlErrResp(err error) *apiResp {
	if se, ok := err.(*soqlError); ok {
		return errResp(&apiError{Status: 400, Code: se.code, Message: se.msg})
	}
	return errResp(err)
}

// locator is a query's resume point.
type locator struct {
	soql    string
	all     bool
	version string
	batch   int
	pos     int // rows answered so far
	total   int
	keys    []any // last row's sort keys (keyset paging); nil: offset paging
}

func (s *Server) queryFirst(ctx context.Context, r *apiReq, all bool) *apiResp {
	q := r.query.Get("q")
	if strings.TrimSpace(q) == "" {
		return errResp(errf(400, "MALFORMED_QUERY", "A query string has to be specified"))
	}
	return s.runQuery(ctx, &locator{soql: q, all: all, version: r.version, batch: batchSize(r.header)}, true)
}

func (s *Server) queryMore(ctx context.Context, r *apiReq, id string) *apiResp {
	loc, err := s.loadLocator(ctx, id)
	if err != nil {
		return errResp(err)
	}
	if loc == nil {
		return errResp(errf(400, "INVALID_QUERY_LOCATOR", "invalid query locator"))
	}
	loc.version = r.version
	return s.runQuery(ctx, loc, false)
}

// runQuery answers one page of a query. The page is computed from the
// locator alone: nothing is held in memory between pages.
func (s *Server) runQuery(ctx context.Context, loc *locator, first bool) *apiResp {
	pq, err := parseSOQL(loc.soql)
	if err != nil {
		return soqlErrResp(err)
	}
	c, err := compile(s.schema, pq, loc.all, s.now())
	if err != nil {
		return soqlErrResp(err)
	}
	qctx, cancel := context.WithTimeout(ctx, s.queryTimeout)
	defer cancel()
	conn, err := s.connFor(qctx)
	if err != nil {
		return errResp(err)
	}
	defer conn.done()
	if _, inTx := ctx.Value(txKey{}).(*txState); inTx {
		old := conn.c.db.SetInterrupt(qctx)
		defer conn.c.db.SetInterrupt(old)
	}
	db := conn.c
	limitSQL := func(limit, offset int) string {
		out := ""
		if limit >= 0 {
			out += " LIMIT " + strconv.Itoa(limit)
		} else if offset >= 0 {
			out += " LIMIT -1"
		}
		if offset > 0 {
			out += " OFFSET " + strconv.Itoa(offset)
		}
		return out
	}
	if c.count || c.countField != "" {
		expr := "1"
		if c.countField != "" {
			expr = "1"
		}
		n, _, err := db.queryInt("SELECT count(*) FROM (SELECT "+expr+c.from+c.where+limitSQL(c.limit, c.offset)+")", c.args...)
		if err != nil {
			return s.internal(err)
		}
		if c.count {
			return jsonResp(200, &rec{keys: []string{"totalSize", "done", "records"}, vals: []any{n, true, []any{}}})
		}
		row := &rec{keys: []string{"attributes", "expr0"}, vals: []any{map[string]string{"type": "AggregateResult"}, n}}
		return jsonResp(200, &rec{keys: []string{"totalSize", "done", "records"}, vals: []any{1, true, []any{row}}})
	}
	if first {
		n, _, err := db.queryInt("SELECT count(*) FROM (SELECT 1"+c.from+c.where+limitSQL(c.limit, c.offset)+")", c.args...)
		if err != nil {
			return s.internal(err)
		}
		loc.total = int(n)
	}
	remaining := loc.total - loc.pos
	size := min(loc.batch, remaining)
	keyset := c.keyset()
	where, args := c.where, c.args
	offset := -1
	switch {
	case first:
		offset = c.offset
	case keyset && loc.keys != nil:
		pred, kargs := keysetPredicate(c.order, loc.keys, len(args))
		if where == "" {
			where = " WHERE " + pred
		} else {
			where += " AND " + pred
		}
		args = append(append([]any(nil), args...), kargs...)
	default:
		offset = max(c.offset, 0) + loc.pos
	}
	sel := append([]string(nil), c.sel...)
	keyBase := len(sel)
	for _, o := range c.order {
		sel = append(sel, o.expr)
	}
	sql := "SELECT " + strings.Join(sel, ", ") + c.from + where + c.orderSQL() + limitSQL(max(size, 0), offset)
	st, err := db.prep(sql)
	if err != nil {
		return s.internal(err)
	}
	defer st.Reset()
	if err := bindAll(st, args); err != nil {
		return s.internal(err)
	}
	records := make([]any, 0, max(size, 0))
	var last []any
	for st.Step() {
		records = append(records, c.render(st, loc.version))
		if keyset {
			last = last[:0]
			for i := range c.order {
				k := keyBase + i
				if st.ColumnType(k) == sqlite3.INTEGER {
					last = append(last, st.ColumnInt64(k))
				} else {
					last = append(last, st.ColumnText(k))
				}
			}
		}
	}
	if err := st.Err(); err != nil {
		return s.internal(err)
	}
	st.Reset()
	conn.done()
	pos := loc.pos + len(records)
	out := &rec{}
	out.set("totalSize", loc.total)
	done := pos >= loc.total || len(records) == 0
	out.set("done", done)
	if !done {
		next := &locator{soql: loc.soql, all: loc.all, batch: loc.batch, pos: pos, total: loc.total}
		if keyset {
			next.keys = last
		}
		id, err := s.saveLocator(ctx, next)
		if err != nil {
			return s.internal(err)
		}
		out.set("nextRecordsUrl", "/services/data/v"+loc.version+"/query/"+id)
	}
	out.set("records", records)
	return jsonResp(200, out)
}

// keysetPredicate selects rows after keys in the order's sort.
func keysetPredicate(order []ordCol, keys []any, nargs int) (string, []any) {
	var ors []string
	var args []any
	ph := func(v any) string {
		args = append(args, v)
		return "?" + strconv.Itoa(nargs+len(args))
	}
	for i := range order {
		if i >= len(keys) {
			break
		}
		var ands []string
		for j := 0; j < i; j++ {
			ands = append(ands, order[j].expr+" = "+ph(keys[j]))
		}
		op := " > "
		if order[i].desc {
			op = " < "
		}
		ands = append(ands, order[i].expr+op+ph(keys[i]))
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")", args
}

type locatorKeys struct {
	Keys []json.RawMessage `json:"k"`
}

func (s *Server) saveLocator(ctx context.Context, l *locator) (string, error) {
	id := newID("01g")[:15] + "-" + strconv.Itoa(l.pos)
	var keys any
	if l.keys != nil {
		b, err := json.Marshal(l.keys)
		if err != nil {
			return "", err
		}
		keys = string(b)
	}
	now := s.now().UnixMilli()
	err := s.writeRaw(ctx, func(c *conn) error {
		if err := c.exec(`DELETE FROM _locator WHERE created < ?1`, now-locatorTTL.Milliseconds()); err != nil {
			return err
		}
		return c.exec(`INSERT INTO _locator (id, soql, qall, version, batch, pos, total, keyset, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)`,
			id, l.soql, l.all, l.version, l.batch, l.pos, l.total, keys, now)
	})
	return id, err
}

func (s *Server) loadLocator(ctx context.Context, id string) (*locator, error) {
	c, err := s.connFor(ctx)
	if err != nil {
		return nil, err
	}
	defer c.done()
	st, err := c.c.prep(`SELECT soql, qall, version, batch, pos, total, keyset FROM _locator WHERE id = ?1`)
	if err != nil {
		return nil, err
	}
	defer st.Reset()
	if err := bindAll(st, []any{id}); err != nil {
		return nil, err
	}
	if !st.Step() {
		return nil, st.Err()
	}
	l := &locator{soql: st.ColumnText(0), all: st.ColumnInt64(1) != 0, version: st.ColumnText(2), batch: int(st.ColumnInt64(3)), pos: int(st.ColumnInt64(4)), total: int(st.ColumnInt64(5))}
	if st.ColumnType(6) != sqlite3.NULL {
		var raw []any
		d := json.NewDecoder(strings.NewReader(st.ColumnText(6)))
		d.UseNumber()
		if err := d.Decode(&raw); err != nil {
			return nil, err
		}
		for i, v := range raw {
			if n, ok := v.(json.Number); ok {
				iv, err := n.Int64()
				if err != nil {
					return nil, err
				}
				raw[i] = iv
			}
		}
		l.keys = raw
	}
	return l, nil
}

func (s *Server) internal(err error) *apiResp {
	if errors.Is(err, sqlite3.INTERRUPT) {
		return errResp(errf(400, "QUERY_TIMEOUT", "Your query request was running for too long."))
	}
	s.log.Error("internal error", "error", err)
	return errResp(err)
}
