package contracttest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/fieldsync/fieldsync/sdk"
)

// memItem is one upsert or delete of a fetch, with its sort key: the id in a
// full fetch, the sequence number in an incremental one.
type memItem struct {
	key     string
	id      string
	del     bool
	version string
	values  map[string]sdk.Value
}

// Fetch reads a consistent snapshot: rows written up to the sequence number
// the fetch started at (carried in its cursors, so a resumed fetch reads the
// same snapshot); later writes belong to the next incremental fetch.
func (c *memConn) Fetch(ctx context.Context, req sdk.FetchRequest, fn sdk.FetchFunc) error {
	s := c.srv
	if err := c.cancelled(ctx); err != nil {
		return err
	}
	ent := s.schema().Entity(req.Entity)
	if ent == nil {
		if s.bug("panic-unknown-entity") {
			panic("memory: no entity " + req.Entity)
		}
		return c.badInput("unknown entity %q", req.Entity)
	}
	fields := req.Fields
	switch {
	case req.IDsOnly && !s.bug("ignore-fields"):
		fields = []string{}
	case fields == nil || s.bug("ignore-fields"):
		fields = ent.FieldNames()
	}
	types := make([]sdk.FieldType, len(fields))
	for i, name := range fields {
		fd := ent.Field(name)
		if fd == nil {
			return c.badInput("%s has no field %q", ent.Name, name)
		}
		types[i] = fd.Type
	}
	if req.Filter != nil {
		if !ent.Capabilities.Filter {
			return sdk.Errorf(sdk.Unsupported, "memory: %s cannot be filtered", ent.Name)
		}
		if err := req.Filter.Validate(ent); err != nil {
			return c.badInput("%v", err)
		}
	}
	size := req.PageSize
	switch {
	case size < 0:
		return c.badInput("page size %d", size)
	case size == 0:
		size = sdk.DefaultPageSize
	case size > sdk.MaxPageSize:
		size = sdk.MaxPageSize
	}
	since := int64(-1)
	if req.Token != nil {
		n, err := parseMark("tok1", req.Token)
		if err != nil {
			return c.badInput("change token: %v", err)
		}
		since = n
	}

	s.mu.Lock()
	snap, after := s.seq, ""
	if req.Cursor != nil {
		var err error
		if snap, after, err = parseCursor(req.Cursor); err != nil {
			s.mu.Unlock()
			return c.badInput("cursor: %v", err)
		}
		if s.bug("ignore-cursor") {
			after = ""
		}
	}
	items := s.collect(ent, req.Filter, fields, since, snap)
	s.mu.Unlock()
	start, _ := slices.BinarySearchFunc(items, after, func(it memItem, key string) int {
		if it.key <= key {
			return -1
		}
		return 1
	})
	items = items[start:]

	b := sdk.NewPageBuilder(fields, types)
	for start := 0; ; start += size {
		if start > 0 && s.bug("block-on-cancel") && ctx.Err() != nil {
			select {} // waits for a server that never answers, deaf to ctx
		}
		if err := c.cancelled(ctx); err != nil {
			return err
		}
		end := min(start+size, len(items))
		if start > 0 && s.bug("dup-across-pages") {
			b.Add(items[start-1].id, items[start-1].version, row(items[start-1], fields)...)
		}
		for _, it := range items[start:end] {
			if it.del {
				b.Delete(it.id)
			} else {
				b.Add(it.id, it.version, row(it, fields)...)
			}
		}
		p := b.Page()
		if end > start {
			after = items[end-1].key
		}
		p.Cursor = []byte(fmt.Sprintf("cur1:%d:%s", snap, after))
		if end == len(items) {
			p.Last, p.Token = true, []byte(fmt.Sprintf("tok1:%d", snap))
		}
		if err := fn(p); err != nil {
			return err
		}
		if p.Last {
			return nil
		}
	}
}

// cancelled is ctx's error, unless a bug says to ignore or disguise it.
func (c *memConn) cancelled(ctx context.Context) error {
	err := ctx.Err()
	switch {
	case err == nil || c.srv.bug("ignore-cancel"):
		return nil
	case c.srv.bug("cancel-wrong-error"):
		return errors.New("memory: fetch stopped")
	}
	return err
}

// collect lists the items of a fetch at snapshot snap, sorted by key: for a
// full fetch (since < 0) the live rows matching filter; for an incremental
// one every row written after since, as an upsert if it is live and matches,
// else as a delete (it was deleted, or left the filter).
func (s *memServer) collect(ent *sdk.Entity, filter *sdk.Filter, fields []string, since, snap int64) []memItem {
	var items []memItem
	for _, r := range s.tables[ent.Name] {
		if r.seq > snap {
			continue
		}
		live := !r.deleted && (s.bug("widen-filter") || matches(filter, ent.PrimaryKey, r))
		it := memItem{key: r.id, id: r.id, version: r.version(), values: maps.Clone(r.values)}
		if since >= 0 {
			resend := s.bug("resend-unchanged") && r.seq == since
			if r.seq <= since && !resend {
				continue
			}
			it.key = fmt.Sprintf("%020d", r.seq)
			if !live {
				if !ent.Capabilities.TracksDeletes || s.bug("lost-deletes") {
					continue
				}
				it.del = true
			}
		} else if !live {
			continue
		}
		items = append(items, it)
	}
	slices.SortFunc(items, func(a, b memItem) int { return strings.Compare(a.key, b.key) })
	return items
}

func row(it memItem, fields []string) []sdk.Value {
	vals := make([]sdk.Value, len(fields))
	for i, f := range fields {
		vals[i] = it.values[f]
	}
	return vals
}

// parseMark reads a token "tok1:<seq>".
func parseMark(prefix string, b []byte) (int64, error) {
	rest, ok := bytes.CutPrefix(b, []byte(prefix+":"))
	if !ok {
		return 0, fmt.Errorf("not a %s", prefix)
	}
	n, err := strconv.ParseInt(string(rest), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad sequence number %q", rest)
	}
	return n, nil
}

// parseCursor reads a cursor "cur1:<snapshot seq>:<key of the last item>".
func parseCursor(b []byte) (int64, string, error) {
	rest, ok := bytes.CutPrefix(b, []byte("cur1:"))
	if !ok {
		return 0, "", errors.New("not a cursor")
	}
	seq, key, ok := strings.Cut(string(rest), ":")
	if !ok {
		return 0, "", errors.New("not a cursor")
	}
	n, err := strconv.ParseInt(seq, 10, 64)
	if err != nil || n < 0 {
		return 0, "", fmt.Errorf("bad sequence number %q", seq)
	}
	return n, key, nil
}

// matches evaluates a validated filter, reading null as OData does: it
// equals nothing, so ne and not-in hold for it.
func matches(f *sdk.Filter, pk string, r *memRow) bool {
	if f == nil {
		return true
	}
	switch f.Op {
	case sdk.OpAnd:
		for _, c := range f.Children {
			if !matches(c, pk, r) {
				return false
			}
		}
		return true
	case sdk.OpOr:
		for _, c := range f.Children {
			if matches(c, pk, r) {
				return true
			}
		}
		return false
	case sdk.OpNot:
		return !matches(f.Children[0], pk, r)
	}
	v := r.values[f.Field]
	if f.Field == pk {
		v = sdk.String(r.id)
	}
	switch f.Op {
	case sdk.OpIsNull:
		return v.IsNull()
	case sdk.OpNotNull:
		return !v.IsNull()
	}
	if v.IsNull() {
		return f.Op == sdk.OpNe || f.Op == sdk.OpNotIn
	}
	cmp := func(w sdk.Value) int {
		switch v.Kind() {
		case sdk.KindString:
			return strings.Compare(v.Str(), w.Str())
		case sdk.KindFloat:
			return cmpOrdered(v.Float(), w.Float())
		case sdk.KindBytes:
			return bytes.Compare(v.Bytes(), w.Bytes())
		}
		return cmpOrdered(v.Int(), w.Int())
	}
	switch f.Op {
	case sdk.OpEq:
		return cmp(f.Values[0]) == 0
	case sdk.OpNe:
		return cmp(f.Values[0]) != 0
	case sdk.OpLt:
		return cmp(f.Values[0]) < 0
	case sdk.OpLe:
		return cmp(f.Values[0]) <= 0
	case sdk.OpGt:
		return cmp(f.Values[0]) > 0
	case sdk.OpGe:
		return cmp(f.Values[0]) >= 0
	case sdk.OpIn, sdk.OpNotIn:
		in := slices.ContainsFunc(f.Values, func(w sdk.Value) bool { return cmp(w) == 0 })
		return in == (f.Op == sdk.OpIn)
	case sdk.OpBeginsWith:
		return strings.HasPrefix(v.Str(), f.Values[0].Str())
	case sdk.OpLike:
		var re strings.Builder
		for _, ch := range f.Values[0].Str() {
			switch ch {
			case '%':
				re.WriteString(".*")
			case '_':
				re.WriteString(".")
			default:
				re.WriteString(regexp.QuoteMeta(string(ch)))
			}
		}
		ok, _ := regexp.MatchString("(?s)^"+re.String()+"$", v.Str())
		return ok
	}
	return false
}

func cmpOrdered[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
