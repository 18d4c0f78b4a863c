package emulator

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// outCol is one selected field of a query.
type outCol struct {
	rel  *field  // the relationship followed, nil for the object's own field
	robj *object // the related object
	f    *field
	idx  int // column in the SQL result
	ridx int // column of the related row's Id (rel only)
}

type ordCol struct {
	expr      string
	desc      bool
	nullsLast bool
	keyable   bool // a non-null column of the object itself
}

// compiled is a query translated to SQLite.
type compiled struct {
	obj        *object
	count      bool
	countField string
	cols       []outCol
	sel        []string // select list; 0 is the row's Id
	from       string   // FROM ... JOIN ...
	where      string
	args       []any
	order      []ordCol
	limit      int
	offset     int
}

// translator turns one (sub)query into SQL, checking every name against
// the schema. Values become parameters, never SQL text.
type translator struct {
	schema *schema
	obj    *object
	alias  string
	joins  []string
	joined map[string]string // relationship field → alias
	args   *[]any
	now    time.Time
	nsub   *int
}

func invalidField(name string, o *object) error {
	return &soqlError{code: "INVALID_FIELD", msg: fmt.Sprintf("No such column '%s' on entity '%s'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.", truncate(name, 80), o.Name)}
}

func invalidType(name string) error {
	return &soqlError{code: "INVALID_TYPE", msg: fmt.Sprintf("sObject type '%s' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.", truncate(name, 80))}
}

// resolve finds a field path: Name or Relationship.Name.
func (t *translator) resolve(path string) (expr string, f *field, rel *field, robj *object, ralias string, err error) {
	parts := strings.Split(path, ".")
	if len(parts) == 2 && strings.EqualFold(parts[0], t.obj.Name) {
		// SELECT Account.Name FROM Account names the object itself.
		parts = parts[1:]
	}
	switch len(parts) {
	case 1:
		f = t.obj.field(parts[0])
		if f == nil || parts[0] == "" {
			return "", nil, nil, nil, "", invalidField(path, t.obj)
		}
		return t.alias + "." + quote(f.Name), f, nil, nil, "", nil
	case 2:
		rel = t.obj.byRel[strings.ToLower(parts[0])]
		if rel == nil || len(rel.RefTo) != 1 {
			return "", nil, nil, nil, "", &soqlError{code: "INVALID_FIELD", msg: fmt.Sprintf("Didn't understand relationship '%s' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.", truncate(parts[0], 80))}
		}
		robj = t.schema.object(rel.RefTo[0])
		f = robj.field(parts[1])
		if f == nil {
			return "", nil, nil, nil, "", invalidField(path, robj)
		}
		a, ok := t.joined[rel.Name]
		if !ok {
			a = t.alias + "_" + rel.Name
			t.joined[rel.Name] = a
			t.joins = append(t.joins, fmt.Sprintf(" LEFT JOIN %s %s ON %s.\"Id\" = %s.%s", quote(robj.Name), a, a, t.alias, quote(rel.Name)))
		}
		return a + "." + quote(f.Name), f, rel, robj, a, nil
	}
	return "", nil, nil, nil, "", invalidField(path, t.obj)
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func (t *translator) arg(v any) string {
	*t.args = append(*t.args, v)
	return "?" + strconv.Itoa(len(*t.args))
}

// compile translates a parsed query. all keeps deleted rows (queryAll).
func compile(sc *schema, q *soqlQuery, all bool, now time.Time) (*compiled, error) {
	o := sc.object(q.from)
	if o == nil {
		return nil, invalidType(q.from)
	}
	var args []any
	nsub := 0
	t := &translator{schema: sc, obj: o, alias: "t", joined: map[string]string{}, args: &args, now: now, nsub: &nsub}
	c := &compiled{obj: o, count: q.count, limit: q.limit, offset: q.offset, sel: []string{`t."Id"`}}
	if q.countField != "" {
		if _, _, _, _, _, err := t.resolve(q.countField); err != nil {
			return nil, err
		}
		c.countField = q.countField
	}
	seen := map[string]bool{}
	relIdx := map[string]int{}
	for _, name := range q.fields {
		expr, f, rel, robj, ralias, err := t.resolve(name)
		if err != nil {
			return nil, err
		}
		key := strings.ToLower(expr)
		if seen[key] {
			return nil, malformed("duplicate field selected: %s", truncate(name, 80))
		}
		seen[key] = true
		col := outCol{rel: rel, robj: robj, f: f, idx: len(c.sel)}
		if f.Type == "base64" {
			// Blobs are answered as their URL: select the row id only.
			a := "t"
			if rel != nil {
				a = ralias
			}
			c.sel = append(c.sel, "CASE WHEN "+expr+" IS NULL THEN NULL ELSE "+a+`."Id" END`)
		} else {
			c.sel = append(c.sel, expr)
		}
		if rel != nil {
			i, ok := relIdx[rel.Name]
			if !ok {
				i = len(c.sel)
				c.sel = append(c.sel, ralias+`."Id"`)
				relIdx[rel.Name] = i
			}
			col.ridx = i
		}
		c.cols = append(c.cols, col)
	}
	var conds []string
	if !all {
		conds = append(conds, `t."IsDeleted" = 0`)
	}
	if q.where != nil {
		w, err := t.cond(q.where)
		if err != nil {
			return nil, err
		}
		conds = append(conds, "("+w+")")
	}
	hasID := false
	for _, it := range q.order {
		expr, f, rel, _, _, err := t.resolve(it.field)
		if err != nil {
			return nil, err
		}
		if f.Type == "base64" || f.Type == "textarea" {
			return nil, &soqlError{code: "INVALID_FIELD", msg: fmt.Sprintf("field '%s' can not be sorted in a query call", f.Name)}
		}
		keyable := rel == nil && (f.Name == "Id" || f.Name == "SystemModstamp" || f.Name == "CreatedDate" || f.Name == "LastModifiedDate" || f.Name == "IsDeleted")
		c.order = append(c.order, ordCol{expr: expr, desc: it.desc, nullsLast: it.nullsLast, keyable: keyable})
		if rel == nil && f.Name == "Id" {
			hasID = true
		}
	}
	if !hasID {
		// Id breaks ties, so pages resume in a stable order.
		c.order = append(c.order, ordCol{expr: `t."Id"`, keyable: true})
	}
	c.from = " FROM " + quote(o.Name) + " t" + strings.Join(t.joins, "")
	if len(conds) > 0 {
		c.where = " WHERE " + strings.Join(conds, " AND ")
	}
	c.args = args
	return c, nil
}

func (c *compiled) orderSQL() string {
	parts := make([]string, len(c.order))
	for i, o := range c.order {
		d := " ASC"
		if o.desc {
			d = " DESC"
		}
		n := " NULLS FIRST"
		if o.nullsLast {
			n = " NULLS LAST"
		}
		parts[i] = o.expr + d + n
	}
	return " ORDER BY " + strings.Join(parts, ", ")
}

// keyset reports whether pages can resume after the last row's sort keys.
func (c *compiled) keyset() bool {
	for _, o := range c.order {
		if !o.keyable {
			return false
		}
	}
	return true
}

func (t *translator) cond(n node) (string, error) {
	switch n := n.(type) {
	case *logicNode:
		l, err := t.cond(n.l)
		if err != nil {
			return "", err
		}
		r, err := t.cond(n.r)
		if err != nil {
			return "", err
		}
		return "(" + l + " " + n.op + " " + r + ")", nil
	case *notNode:
		x, err := t.cond(n.x)
		if err != nil {
			return "", err
		}
		// An unknown (null) comparison is false before NOT, as in SOQL.
		return "NOT coalesce(" + x + ", 0)", nil
	case *cmpNode:
		return t.cmp(n)
	}
	return "", malformed("unsupported condition")
}

func filterError(f *field, want string) error {
	return &soqlError{code: "INVALID_FIELD", msg: fmt.Sprintf("value of filter criterion for field '%s' must be of type %s and should not be enclosed in quotes", f.Name, want)}
}

// value converts a literal to the column's stored form.
func (t *translator) value(f *field, l literal) (any, error) {
	if l.kind == litNull {
		return nil, nil
	}
	switch f.Type {
	case "id", "reference":
		if l.kind != litString {
			return nil, filterError(f, "id")
		}
		if l.text == "" {
			return "", nil
		}
		id, ok := normID(l.text)
		if !ok {
			return nil, &soqlError{code: "INVALID_QUERY_FILTER_OPERATOR", msg: fmt.Sprintf("invalid ID field: %s", truncate(l.text, 40))}
		}
		return id, nil
	case "boolean":
		if l.kind != litBool {
			return nil, filterError(f, "boolean")
		}
		if l.b {
			return int64(1), nil
		}
		return int64(0), nil
	case "int", "double", "currency", "percent":
		if l.kind != litNumber {
			return nil, filterError(f, "number")
		}
		if f.Type == "int" {
			if n, err := strconv.ParseInt(l.text, 10, 64); err == nil {
				return n, nil
			}
		}
		v, err := strconv.ParseFloat(l.text, 64)
		if err != nil {
			return nil, filterError(f, "number")
		}
		return v, nil
	case "date":
		if l.kind != litDate {
			return nil, filterError(f, "date")
		}
		return l.text, nil
	case "datetime":
		if l.kind != litDateTime {
			return nil, filterError(f, "dateTime")
		}
		return l.t.UnixMilli(), nil
	case "base64":
		return nil, &soqlError{code: "INVALID_FIELD", msg: fmt.Sprintf("field '%s' can not be filtered in a query call", f.Name)}
	}
	if l.kind != litString {
		return nil, filterError(f, "string")
	}
	return l.text, nil
}

// rangeBounds is a date literal's [from, to) in the field's stored form.
func (t *translator) rangeBounds(f *field, l literal) (any, any, error) {
	now := t.now.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	var from, to time.Time
	switch l.text {
	case "TODAY":
		from, to = today, today.AddDate(0, 0, 1)
	case "YESTERDAY":
		from, to = today.AddDate(0, 0, -1), today
	case "TOMORROW":
		from, to = today.AddDate(0, 0, 1), today.AddDate(0, 0, 2)
	case "LAST_N_DAYS":
		from, to = today.AddDate(0, 0, -l.n), today.AddDate(0, 0, 1)
	case "NEXT_N_DAYS":
		from, to = today.AddDate(0, 0, 1), today.AddDate(0, 0, 1+l.n)
	}
	switch f.Type {
	case "date":
		return from.Format("2006-01-02"), to.Format("2006-01-02"), nil
	case "datetime":
		return from.UnixMilli(), to.UnixMilli(), nil
	}
	return nil, nil, filterError(f, "date or dateTime")
}

func (t *translator) cmp(n *cmpNode) (string, error) {
	expr, f, _, _, _, err := t.resolve(n.field)
	if err != nil {
		return "", err
	}
	if f.Type == "base64" || f.Type == "textarea" {
		return "", &soqlError{code: "INVALID_FIELD", msg: fmt.Sprintf("field '%s' can not be filtered in a query call", f.Name)}
	}
	switch n.op {
	case "IN", "NOTIN":
		var list string
		if n.sub != nil {
			if f.Type != "id" && f.Type != "reference" {
				return "", malformed("semi-join sub-selects are only allowed on id and reference fields: %s", f.Name)
			}
			s, err := t.subquery(n.sub)
			if err != nil {
				return "", err
			}
			list = s
		} else {
			ph := make([]string, 0, len(n.vals))
			for _, l := range n.vals {
				if l.kind == litRange {
					return "", malformed("date literals are not allowed in IN lists")
				}
				v, err := t.value(f, l)
				if err != nil {
					return "", err
				}
				ph = append(ph, t.arg(v))
			}
			list = strings.Join(ph, ", ")
		}
		if n.op == "IN" {
			return expr + " IN (" + list + ")", nil
		}
		return "(" + expr + " IS NULL OR " + expr + " NOT IN (" + list + "))", nil
	case "LIKE":
		if l := n.vals[0]; l.kind != litString || !isText(f) {
			if l.kind == litNull {
				return "", malformed("LIKE needs a string value")
			}
			return "", &soqlError{code: "INVALID_FIELD", msg: fmt.Sprintf("invalid operator on %s field: LIKE", f.Type)}
		}
		return expr + " LIKE " + t.arg(n.vals[0].like) + ` ESCAPE '\'`, nil
	}
	l := n.vals[0]
	if l.kind == litRange {
		a, b, err := t.rangeBounds(f, l)
		if err != nil {
			return "", err
		}
		switch n.op {
		case "=":
			return "(" + expr + " >= " + t.arg(a) + " AND " + expr + " < " + t.arg(b) + ")", nil
		case "!=":
			return "(" + expr + " IS NULL OR " + expr + " < " + t.arg(a) + " OR " + expr + " >= " + t.arg(b) + ")", nil
		case "<":
			return expr + " < " + t.arg(a), nil
		case "<=":
			return expr + " < " + t.arg(b), nil
		case ">":
			return expr + " >= " + t.arg(b), nil
		case ">=":
			return expr + " >= " + t.arg(a), nil
		}
		return "", malformed("unexpected operator %s", n.op)
	}
	v, err := t.value(f, l)
	if err != nil {
		return "", err
	}
	if v == nil {
		switch n.op {
		case "=":
			return expr + " IS NULL", nil
		case "!=":
			return expr + " IS NOT NULL", nil
		}
		return "", malformed("null can only be compared with = or !=")
	}
	if f.Type == "boolean" && n.op != "=" && n.op != "!=" {
		return "", &soqlError{code: "INVALID_FIELD", msg: fmt.Sprintf("invalid operator on boolean field: %s", n.op)}
	}
	switch n.op {
	case "=":
		return expr + " = " + t.arg(v), nil
	case "!=":
		return expr + " IS NOT " + t.arg(v), nil
	case "<", "<=", ">", ">=":
		return expr + " " + n.op + " " + t.arg(v), nil
	}
	return "", malformed("unexpected operator %s", n.op)
}

func isText(f *field) bool {
	switch f.Type {
	case "string", "textarea", "email", "phone", "url", "picklist", "id", "reference":
		return true
	}
	return false
}

func (t *translator) subquery(q *soqlQuery) (string, error) {
	o := t.schema.object(q.from)
	if o == nil {
		return "", invalidType(q.from)
	}
	if q.count || q.countField != "" || len(q.fields) != 1 {
		return "", malformed("a semi-join sub-select must select exactly one id or reference field")
	}
	*t.nsub++
	st := &translator{schema: t.schema, obj: o, alias: "s" + strconv.Itoa(*t.nsub), joined: map[string]string{}, args: t.args, now: t.now, nsub: t.nsub}
	expr, f, _, _, _, err := st.resolve(q.fields[0])
	if err != nil {
		return "", err
	}
	if f.Type != "id" && f.Type != "reference" {
		return "", malformed("a semi-join sub-select must select an id or reference field, not %s", f.Name)
	}
	conds := []string{st.alias + `."IsDeleted" = 0`}
	if q.where != nil {
		w, err := st.cond(q.where)
		if err != nil {
			return "", err
		}
		conds = append(conds, "("+w+")")
	}
	return "SELECT " + expr + " FROM " + quote(o.Name) + " " + st.alias + strings.Join(st.joins, "") + " WHERE " + strings.Join(conds, " AND "), nil
}
