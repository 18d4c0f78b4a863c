package emulator

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// maxRelativeDays bounds last-x-days and next-x-days.
const maxRelativeDays = 36500

// sqlBuilder compiles a fetchQuery to one SELECT.
type sqlBuilder struct {
	c    *caller
	now  time.Time
	args []any
}

func (b *sqlBuilder) arg(v any) string { b.args = append(b.args, v); return "?" }

// outCol is one selected value and where it goes in the answer.
type outCol struct {
	key  string // attribute key in the answer
	attr *Attribute
}

func colRef(fe *fetchEntity, attr string) string { return fe.sqlAlias + "." + quote(attr) }

// literal parses a condition value for an attribute of type t.
func literal(t, v string) (any, error) {
	switch t {
	case TypeString, TypeMemo:
		return v, nil
	case TypeGuid, TypeLookup:
		g, ok := parseGUID(v)
		if !ok {
			return nil, fmt.Errorf("%q is not a GUID", v)
		}
		return g, nil
	case TypeInteger, TypeBigInt, TypePicklist:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", v)
		}
		return n, nil
	case TypeBoolean:
		b, err := parseBool(strings.TrimSpace(v))
		if err != nil {
			return nil, err
		}
		if b {
			return int64(1), nil
		}
		return int64(0), nil
	case TypeDouble:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%q is not a number", v)
		}
		return f, nil
	case TypeMoney, TypeDecimal:
		d, ok := plainDecimal(strings.TrimSpace(v))
		if !ok {
			return nil, fmt.Errorf("%q is not a decimal number", v)
		}
		return d, nil
	case TypeDateTime:
		t, ok := parseDateTime(strings.TrimSpace(v))
		if !ok {
			return nil, fmt.Errorf("%q is not a date-time", v)
		}
		return t.UnixMicro(), nil
	}
	return nil, fmt.Errorf("%s attributes cannot be compared", t)
}

var sqlOps = map[string]string{"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}

func startOfDay(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

// cond compiles one condition on entity fe.
func (b *sqlBuilder) cond(c *fetchCondition, fe *fetchEntity) (string, error) {
	t, err := attrType(fe.ent, c.attr)
	if err != nil {
		return "", err
	}
	col := colRef(fe, c.attr)
	fail := func(format string, args ...any) (string, error) {
		return "", fmt.Errorf("<condition attribute=%q operator=%q>: %s", c.attr, c.op, fmt.Sprintf(format, args...))
	}
	isText := t == TypeString || t == TypeMemo
	isDec := t == TypeMoney || t == TypeDecimal
	isID := t == TypeGuid || t == TypeLookup
	switch c.op {
	case "eq", "ne", "lt", "le", "gt", "ge":
		if t == TypeBoolean && c.op != "eq" && c.op != "ne" {
			return fail("Boolean attributes have no order")
		}
		v, err := literal(t, c.value)
		if err != nil {
			return fail("%v", err)
		}
		switch {
		case isDec:
			return "fs_deccmp(" + col + ", " + b.arg(v) + ") " + sqlOps[c.op] + " 0", nil
		case isText:
			return col + " " + sqlOps[c.op] + " " + b.arg(v) + " COLLATE NOCASE", nil
		}
		return col + " " + sqlOps[c.op] + " " + b.arg(v), nil
	case "in", "not-in":
		if len(c.values) > 10000 {
			return fail("more than 10000 values")
		}
		var parts []string
		for _, s := range c.values {
			v, err := literal(t, s)
			if err != nil {
				return fail("%v", err)
			}
			if isDec {
				parts = append(parts, "fs_deccmp("+col+", "+b.arg(v)+") = 0")
			} else {
				parts = append(parts, b.arg(v))
			}
		}
		if isDec {
			expr := "(" + strings.Join(parts, " OR ") + ")"
			if c.op == "not-in" {
				return "NOT " + expr, nil
			}
			return expr, nil
		}
		lhs := col
		if isText {
			lhs += " COLLATE NOCASE"
		}
		op := " IN ("
		if c.op == "not-in" {
			op = " NOT IN ("
		}
		return lhs + op + strings.Join(parts, ", ") + ")", nil
	case "like", "not-like", "begins-with", "not-begin-with", "ends-with", "not-end-with":
		if !isText {
			return fail("needs a String or Memo attribute; %s is %s", c.attr, t)
		}
		p := c.value
		switch c.op {
		case "begins-with", "not-begin-with":
			p += "%"
		case "ends-with", "not-end-with":
			p = "%" + p
		}
		expr := "fs_like(" + col + ", " + b.arg(p) + ")"
		if strings.HasPrefix(c.op, "not-") {
			expr = "NOT " + expr
		}
		return expr, nil
	case "null":
		return col + " IS NULL", nil
	case "not-null":
		return col + " IS NOT NULL", nil
	case "last-x-days", "next-x-days":
		if t != TypeDateTime {
			return fail("needs a DateTime attribute; %s is %s", c.attr, t)
		}
		n, err := strconv.Atoi(strings.TrimSpace(c.value))
		if err != nil || n < 1 || n > maxRelativeDays {
			return fail("needs a number of days from 1 to %d", maxRelativeDays)
		}
		day := 24 * time.Hour
		if c.op == "last-x-days" {
			from := startOfDay(b.now).Add(-time.Duration(n) * day)
			return col + " >= " + b.arg(from.UnixMicro()) + " AND " + col + " <= " + b.arg(b.now.UnixMicro()), nil
		}
		to := startOfDay(b.now).Add(time.Duration(n+1) * day)
		return col + " >= " + b.arg(b.now.UnixMicro()) + " AND " + col + " < " + b.arg(to.UnixMicro()), nil
	case "on-or-after", "on-or-before":
		if t != TypeDateTime {
			return fail("needs a DateTime attribute; %s is %s", c.attr, t)
		}
		d, ok := parseDateTime(strings.TrimSpace(c.value))
		if !ok {
			return fail("%q is not a date", c.value)
		}
		if c.op == "on-or-after" {
			return col + " >= " + b.arg(startOfDay(d).UnixMicro()), nil
		}
		return col + " < " + b.arg(startOfDay(d).Add(24*time.Hour).UnixMicro()), nil
	case "eq-userid", "ne-userid", "eq-businessid", "ne-businessid", "eq-useroruserteams", "eq-userteams":
		if !isID {
			return fail("needs a Lookup or key attribute; %s is %s", c.attr, t)
		}
		switch c.op {
		case "eq-userid":
			return col + " = " + b.arg(b.c.userID), nil
		case "ne-userid":
			return col + " <> " + b.arg(b.c.userID), nil
		case "eq-businessid":
			return col + " = " + b.arg(b.c.businessUnitID), nil
		case "ne-businessid":
			return col + " <> " + b.arg(b.c.businessUnitID), nil
		}
		ids := b.c.teams
		if c.op == "eq-useroruserteams" {
			ids = append([]string{b.c.userID}, ids...)
		}
		if len(ids) == 0 {
			return "0", nil
		}
		var ps []string
		for _, id := range ids {
			ps = append(ps, b.arg(id))
		}
		return col + " IN (" + strings.Join(ps, ", ") + ")", nil
	}
	return fail("unsupported operator")
}

func (b *sqlBuilder) filter(f *fetchFilter, fe *fetchEntity, aliases map[string]*fetchEntity) (string, error) {
	var parts []string
	for _, it := range f.items {
		var s string
		var err error
		switch x := it.(type) {
		case *fetchFilter:
			s, err = b.filter(x, fe, aliases)
		case *fetchCondition:
			target := fe
			if x.entityName != "" {
				target = aliases[x.entityName]
			}
			s, err = b.cond(x, target)
		}
		if err != nil {
			return "", err
		}
		parts = append(parts, "("+s+")")
	}
	if len(parts) == 0 {
		return "1", nil
	}
	if f.or {
		return strings.Join(parts, " OR "), nil
	}
	return strings.Join(parts, " AND "), nil
}

func (b *sqlBuilder) filters(fs []*fetchFilter, fe *fetchEntity, aliases map[string]*fetchEntity) (string, error) {
	var parts []string
	for _, f := range fs {
		s, err := b.filter(f, fe, aliases)
		if err != nil {
			return "", err
		}
		parts = append(parts, "("+s+")")
	}
	if len(parts) == 0 {
		return "1", nil
	}
	return strings.Join(parts, " AND "), nil
}

// selectable lists the attributes a query returns for fe.
func selectable(fe *fetchEntity) []*Attribute {
	var out []*Attribute
	if fe.allAttrs {
		for i := range fe.ent.Attributes {
			if a := &fe.ent.Attributes[i]; a.Type != TypeBinary {
				out = append(out, a)
			}
		}
		return out
	}
	for _, n := range fe.attrs {
		out = append(out, fe.ent.Attr(n))
	}
	return out
}

// compiled is a query ready to run.
type compiled struct {
	sql    string
	args   []any
	cols   []outCol
	pk     string
	count  int
	page   int
	keyset bool
}

// compile builds the SELECT of q for caller c.
func compile(q *fetchQuery, c *caller, now time.Time) (*compiled, error) {
	b := &sqlBuilder{c: c, now: now}
	root := q.root
	aliases := map[string]*fetchEntity{}
	var all []*fetchEntity
	var walk func(fe *fetchEntity)
	walk = func(fe *fetchEntity) {
		all = append(all, fe)
		if fe.alias != "" {
			aliases[fe.alias] = fe
		}
		for _, l := range fe.links {
			walk(l)
		}
	}
	walk(root)
	out := &compiled{pk: root.ent.PrimaryKey, count: q.count, page: q.page}
	sel := []string{colRef(root, root.ent.PrimaryKey), colRef(root, versionAttr)}
	for _, fe := range all {
		for _, a := range selectable(fe) {
			key := a.Name
			if fe != root {
				key = fe.alias + "." + a.Name
			}
			out.cols = append(out.cols, outCol{key: key, attr: a})
			sel = append(sel, colRef(fe, a.Name))
			if a.Type == TypeLookup {
				sel = append(sel, colRef(fe, typeCol(a.Name)))
			}
		}
	}
	var from strings.Builder
	from.WriteString(quote(root.ent.Name) + " AS " + root.sqlAlias)
	var join func(parent *fetchEntity) error
	join = func(parent *fetchEntity) error {
		for _, l := range parent.links {
			kind := " JOIN "
			if l.outer {
				kind = " LEFT JOIN "
			}
			on := colRef(l, l.from) + " = " + colRef(parent, l.to)
			if len(l.filters) > 0 {
				f, err := b.filters(l.filters, l, aliases)
				if err != nil {
					return err
				}
				on += " AND (" + f + ")"
			}
			from.WriteString(kind + quote(l.ent.Name) + " AS " + l.sqlAlias + " ON " + on)
			if err := join(l); err != nil {
				return err
			}
		}
		return nil
	}
	if err := join(root); err != nil {
		return nil, err
	}
	where, err := b.filters(root.filters, root, aliases)
	if err != nil {
		return nil, err
	}
	// Keyset paging when the order is the key alone.
	pkOnly := len(root.orders) == 0 || len(root.orders) == 1 && root.orders[0].attr == root.ent.PrimaryKey
	desc := len(root.orders) == 1 && root.orders[0].desc && pkOnly
	offset := 0
	if q.cookie != "" && pkOnly {
		last, err := parseCookie(q.cookie, root.ent.PrimaryKey)
		if err != nil {
			return nil, err
		}
		cmp := " > "
		if desc {
			cmp = " < "
		}
		where = "(" + where + ") AND " + colRef(root, root.ent.PrimaryKey) + cmp + b.arg(last)
		out.keyset = true
	} else if q.page > 1 {
		if int64(q.page-1)*int64(q.count) > math.MaxInt32 {
			return nil, fmt.Errorf("page %d is beyond the last row", q.page)
		}
		offset = (q.page - 1) * q.count
	}
	var order []string
	hasPK := false
	for _, o := range root.orders {
		s := colRef(root, o.attr)
		if a := root.ent.Attr(o.attr); a != nil && (a.Type == TypeString || a.Type == TypeMemo) {
			s += " COLLATE NOCASE"
		}
		if a := root.ent.Attr(o.attr); a != nil && (a.Type == TypeMoney || a.Type == TypeDecimal) {
			s = "CAST(" + s + " AS REAL)"
		}
		if o.desc {
			s += " DESC"
		}
		order = append(order, s)
		hasPK = hasPK || o.attr == root.ent.PrimaryKey
	}
	if !hasPK {
		order = append(order, colRef(root, root.ent.PrimaryKey))
	}
	distinct := ""
	if q.distinct {
		distinct = "DISTINCT "
	}
	out.sql = "SELECT " + distinct + strings.Join(sel, ", ") + " FROM " + from.String() + " WHERE " + where +
		" ORDER BY " + strings.Join(order, ", ") + " LIMIT " + strconv.Itoa(q.count+1)
	if offset > 0 {
		out.sql += " OFFSET " + strconv.Itoa(offset)
	}
	out.args = b.args
	return out, nil
}

// issueCookie is the paging cookie of a page: Dynamics' shape, holding the
// first and last key of the page.
func issueCookie(page int, pk, first, last string) string {
	return fmt.Sprintf(`<cookie page="%d"><%s last="{%s}" first="{%s}" /></cookie>`, page, pk, strings.ToUpper(last), strings.ToUpper(first))
}

// parseCookie returns the last key of the page a cookie describes.
func parseCookie(c, pk string) (string, error) {
	bad := fmt.Errorf("the paging-cookie is not one this service issued for %s", pk)
	if len(c) > 4096 {
		return "", bad
	}
	n, err := parseXML(c)
	if err != nil || n.name != "cookie" || len(n.kids) != 1 || n.kids[0].name != pk {
		return "", bad
	}
	if p, err := strconv.Atoi(n.attrs["page"]); err != nil || p < 1 {
		return "", bad
	}
	g, ok := parseGUID(n.kids[0].attrs["last"])
	if !ok {
		return "", bad
	}
	return g, nil
}

type entityRecord struct {
	Id         string         `json:"Id"`
	RowVersion int64          `json:"RowVersion"`
	Attributes map[string]any `json:"Attributes"`
}

type fetchResponse struct {
	Entities     []entityRecord `json:"Entities"`
	MoreRecords  bool           `json:"MoreRecords"`
	PagingCookie string         `json:"PagingCookie"`
}

// columnValue reads column i (and i+1 for a lookup's type) as JSON.
func columnValue(st *sqlite3.Stmt, i int, a *Attribute) (any, bool) {
	if st.ColumnType(i) == sqlite3.NULL {
		return nil, false
	}
	switch a.Type {
	case TypeInteger, TypeBigInt, TypePicklist:
		return st.ColumnInt64(i), true
	case TypeBoolean:
		return st.ColumnInt64(i) != 0, true
	case TypeDouble:
		return st.ColumnFloat(i), true
	case TypeMoney, TypeDecimal:
		t := st.ColumnText(i)
		if d, ok := plainDecimal(t); ok {
			return json.RawMessage(d), true
		}
		return nil, false
	case TypeDateTime:
		return formatDateTime(st.ColumnInt64(i)), true
	case TypeLookup:
		return lookupValue{Id: st.ColumnText(i), LogicalName: st.ColumnText(i + 1)}, true
	}
	return st.ColumnText(i), true
}

// run executes a compiled query.
func (s *Server) run(r *http.Request, cq *compiled) (*fetchResponse, error) {
	unlock, err := s.lock(r)
	if err != nil {
		return nil, err
	}
	defer unlock()
	out := &fetchResponse{Entities: []entityRecord{}}
	err = s.query(cq.sql, cq.args, func(st *sqlite3.Stmt) error {
		if len(out.Entities) == cq.count {
			out.MoreRecords = true
			return nil
		}
		rec := entityRecord{Id: st.ColumnText(0), RowVersion: st.ColumnInt64(1), Attributes: map[string]any{}}
		i := 2
		for _, c := range cq.cols {
			if v, ok := columnValue(st, i, c.attr); ok {
				rec.Attributes[c.key] = v
			}
			i++
			if c.attr.Type == TypeLookup {
				i++
			}
		}
		out.Entities = append(out.Entities, rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out.MoreRecords && len(out.Entities) > 0 {
		out.PagingCookie = issueCookie(cq.page, cq.pk, out.Entities[0].Id, out.Entities[len(out.Entities)-1].Id)
	}
	return out, nil
}

type fetchRequest struct {
	FetchXml string `json:"FetchXml"`
}

func (s *Server) serveFetch(w http.ResponseWriter, r *http.Request, c *caller) error {
	var req fetchRequest
	if err := readBody(w, r, 8<<20, &req); err != nil {
		return err
	}
	q, err := parseFetch(req.FetchXml)
	if err != nil {
		return invalidFetch("%v", err)
	}
	cq, err := compile(q, c, s.now())
	if err != nil {
		return invalidFetch("%v", err)
	}
	res, err := s.run(r, cq)
	if err != nil {
		return err
	}
	return writeJSON(w, res)
}

// serveSelect answers GET Select?entity=&select=&rowversion-gt=&top=: the
// rows above a version, in version order.
func (s *Server) serveSelect(w http.ResponseWriter, r *http.Request, c *caller) error {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return badRequest("The query string is malformed.")
	}
	for k := range v {
		switch k {
		case "entity", "select", "rowversion-gt", "top":
		default:
			return badRequest("Select does not take the parameter %q.", k)
		}
	}
	e := entity(v.Get("entity"))
	if e == nil {
		return errf(http.StatusBadRequest, codeUnknownEntity, "The entity %q does not exist.", v.Get("entity"))
	}
	root := &fetchEntity{ent: e, sqlAlias: "t0", orders: []fetchOrder{{attr: versionAttr}}}
	if sel := v.Get("select"); sel == "" {
		root.allAttrs = true
	} else {
		for _, n := range strings.Split(sel, ",") {
			a := e.Attr(strings.TrimSpace(n))
			if a == nil {
				return errf(http.StatusBadRequest, codeUnknownAttr, "The entity %s has no attribute %q.", e.Name, n)
			}
			if a.Type == TypeBinary {
				return badRequest("The attribute %s.%s is binary; read it through Blob.", e.Name, a.Name)
			}
			root.attrs = append(root.attrs, a.Name)
		}
	}
	if g := v.Get("rowversion-gt"); g != "" {
		if _, err := strconv.ParseInt(g, 10, 64); err != nil {
			return badRequest("rowversion-gt must be a whole number.")
		}
		root.filters = []*fetchFilter{{items: []any{&fetchCondition{attr: versionAttr, op: "gt", value: g, hasValue: true}}}}
	}
	q := &fetchQuery{count: maxFetchCount, page: 1, root: root}
	if t := v.Get("top"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 || n > maxFetchCount {
			return badRequest("top must be a whole number from 1 to %d.", maxFetchCount)
		}
		q.count = n
	}
	cq, err := compile(q, c, s.now())
	if err != nil {
		return badRequest("%v", err)
	}
	res, err := s.run(r, cq)
	if err != nil {
		return err
	}
	res.PagingCookie = ""
	return writeJSON(w, res)
}
