package emulator

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ncruces/go-sqlite3"
)

// This file turns a parsed $filter into parameterised SQLite SQL over the
// entity tables. Semantics (see CHOICES.md):
//   - comparisons follow SQL: a comparison with a null column is not true,
//     so neither eq, ne nor not(eq) matches a null; "eq null" and "ne null"
//     are IS NULL and IS NOT NULL;
//   - text compares case-insensitively (NOCASE columns);
//   - contains/startswith/endswith run their argument as a T-SQL LIKE
//     pattern (%, _, [set]), as Dataverse does, case-insensitively;
//   - each navigation path is a LEFT JOIN on the lookup (and, for a
//     polymorphic lookup, on its target type).

// scope is what a filter may refer to beyond the row: the calling user.
type scope struct {
	userID, businessUnitID string
	now                    time.Time
}

type sqlFilter struct {
	where string
	joins []string
	args  []any
}

type compiler struct {
	root  *Entity
	sc    scope
	args  []any
	joins []string
	alias map[string]joinAlias // path prefix → alias
}

type joinAlias struct {
	name   string
	entity *Entity
}

// compileFilter builds the WHERE clause (over alias t) for src on e.
func compileFilter(src string, e *Entity, sc scope) (*sqlFilter, error) {
	n, err := parseFilter(src)
	if err != nil {
		return nil, err
	}
	c := &compiler{root: e, sc: sc, alias: map[string]joinAlias{"": {"t", e}}}
	where, err := c.node(n)
	if err != nil {
		return nil, err
	}
	return &sqlFilter{where: where, joins: c.joins, args: c.args}, nil
}

func (c *compiler) bind(v any) string {
	c.args = append(c.args, v)
	return "?" + strconv.Itoa(len(c.args))
}

func (c *compiler) node(n node) (string, error) {
	switch n := n.(type) {
	case nLogic:
		l, err := c.node(n.l)
		if err != nil {
			return "", err
		}
		r, err := c.node(n.r)
		if err != nil {
			return "", err
		}
		return "(" + l + " " + strings.ToUpper(n.op) + " " + r + ")", nil
	case nNot:
		x, err := c.node(n.x)
		if err != nil {
			return "", err
		}
		return "(NOT " + x + ")", nil
	case nCmp:
		return c.cmp(n)
	case nText:
		return c.text(n)
	case nQuery:
		return c.query(n)
	}
	return "", badRequest(codeQuery, "unsupported $filter node")
}

func propertyError(e *Entity, name string) *apiError {
	return badRequest(codeQuery, fmt.Sprintf("Could not find a property named '%s' on type 'Microsoft.Dynamics.CRM.%s'.", name, e.Name))
}

// resolve walks a path: every segment but the last is a single-valued
// navigation property (joined), the last a property of the entity reached.
func (c *compiler) resolve(path []string) (string, *Attribute, *Entity, error) {
	cur := c.alias[""]
	prefix := ""
	for _, seg := range path[:len(path)-1] {
		a := cur.entity.byNav[seg]
		if a == nil {
			if cur.entity.prop(seg) != nil || cur.entity.attr(seg) != nil {
				return "", nil, nil, badRequest(codeQuery, fmt.Sprintf("'%s' is not a navigation property of 'Microsoft.Dynamics.CRM.%s'.", seg, cur.entity.Name))
			}
			return "", nil, nil, propertyError(cur.entity, seg)
		}
		target, _ := a.navTarget(seg)
		prefix += seg + "/"
		next, ok := c.alias[prefix]
		if !ok {
			te := model[target]
			next = joinAlias{name: "j" + strconv.Itoa(len(c.joins)+1), entity: te}
			on := fmt.Sprintf("%s.%s = %s.%s", next.name, quoteIdent(te.PrimaryKey), cur.name, quoteIdent(a.Column))
			if a.TypeColumn != "" {
				on += fmt.Sprintf(" AND %s.%s = '%s'", cur.name, quoteIdent(a.TypeColumn), te.Name)
			}
			c.joins = append(c.joins, fmt.Sprintf("LEFT JOIN %s AS %s ON %s", quoteIdent(te.Name), next.name, on))
			c.alias[prefix] = next
		}
		cur = next
	}
	last := path[len(path)-1]
	a := cur.entity.prop(last)
	if a == nil {
		if la := cur.entity.attr(last); la != nil && la.Kind == KindLookup {
			return "", nil, nil, badRequest(codeQuery, fmt.Sprintf("Could not find a property named '%s' on type 'Microsoft.Dynamics.CRM.%s'; a lookup is filtered as _%s_value.", last, cur.entity.Name, last))
		}
		if cur.entity.byNav[last] != nil {
			return "", nil, nil, badRequest(codeQuery, fmt.Sprintf("The navigation property '%s' must be followed by a property (%s/<property>).", last, last))
		}
		return "", nil, nil, propertyError(cur.entity, last)
	}
	if a.Kind == KindFile {
		return "", nil, nil, badRequest(codeQuery, fmt.Sprintf("The property '%s' cannot be used in a $filter.", last))
	}
	return cur.name + "." + quoteIdent(a.Column), a, cur.entity, nil
}

var sqlOps = map[string]string{"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
var odataOpNames = map[string]string{"eq": "Equal", "ne": "NotEqual", "lt": "LessThan", "le": "LessThanOrEqual", "gt": "GreaterThan", "ge": "GreaterThanOrEqual"}

func (c *compiler) cmp(n nCmp) (string, error) {
	col, a, _, err := c.resolve(n.path)
	if err != nil {
		return "", err
	}
	if n.lit.kind == tkName && n.lit.text == "null" {
		switch n.op {
		case "eq":
			return "(" + col + " IS NULL)", nil
		case "ne":
			return "(" + col + " IS NOT NULL)", nil
		}
		return "(0)", nil // ordering against null is never true
	}
	if a.Kind == KindBool && n.op != "eq" && n.op != "ne" {
		return "", badRequest(codeQuery, fmt.Sprintf("A binary operator with incompatible types was detected. Found operand types 'Edm.Boolean' and 'Edm.Boolean' for operator kind '%s'.", odataOpNames[n.op]))
	}
	v, err := literalValue(a, n.lit, n.op)
	if err != nil {
		return "", err
	}
	return "(" + col + " " + sqlOps[n.op] + " " + c.bind(v) + ")", nil
}

func litEdmType(t token) string {
	switch t.kind {
	case tkString, tkJSON:
		return "Edm.String"
	case tkGUID:
		return "Edm.Guid"
	case tkDate:
		return "Edm.Date"
	case tkDateTime:
		return "Edm.DateTimeOffset"
	case tkNumber:
		if strings.ContainsAny(t.text, "eE") {
			return "Edm.Double"
		}
		if strings.Contains(t.text, ".") {
			return "Edm.Decimal"
		}
		return "Edm.Int32"
	case tkName:
		return "Edm.Boolean"
	}
	return "Edm.Untyped"
}

func incompatible(a *Attribute, t token, op string) *apiError {
	return badRequest(codeQuery, fmt.Sprintf("A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind '%s'.",
		a.Kind.edmType(), litEdmType(t), odataOpNames[op]))
}

// literalValue converts a literal for comparison with attribute a into the
// value bound in SQL (the column's storage form).
func literalValue(a *Attribute, t token, op string) (any, error) {
	switch a.Kind {
	case KindString, KindMemo, KindEntityName:
		if t.kind == tkString || t.kind == tkJSON {
			return t.text, nil
		}
	case KindGUID, KindLookup:
		if t.kind == tkGUID || t.kind == tkString || t.kind == tkJSON {
			if g, ok := parseGUID(t.text); ok {
				return g, nil
			}
			return nil, badRequest(codeQuery, fmt.Sprintf("'%s' is not a valid Guid value for %s.", t.text, a.jsonName()))
		}
	case KindInt, KindChoice, KindBigInt, KindDouble:
		if t.kind == tkNumber {
			if i, err := strconv.ParseInt(t.text, 10, 64); err == nil {
				return i, nil
			}
			if f, err := strconv.ParseFloat(t.text, 64); err == nil {
				return f, nil
			}
			return nil, badRequest(codeQuery, fmt.Sprintf("'%s' is not a valid number.", t.text))
		}
	case KindMoney:
		if t.kind == tkNumber {
			return moneyBound(t.text)
		}
	case KindBool:
		if t.kind == tkName && (t.text == "true" || t.kind == tkName && t.text == "false") {
			if t.text == "true" {
				return int64(1), nil
			}
			return int64(0), nil
		}
	case KindDateTime:
		switch t.kind {
		case tkDateTime:
			tm, err := parseDateTime(t.text)
			if err != nil {
				return nil, badRequest(codeQuery, fmt.Sprintf("'%s' is not a valid date-time value.", t.text))
			}
			return tm.UnixMicro(), nil
		case tkDate:
			tm, err := time.Parse("2006-01-02", t.text)
			if err != nil {
				return nil, badRequest(codeQuery, fmt.Sprintf("'%s' is not a valid date value.", t.text))
			}
			return tm.UnixMicro(), nil
		}
	case KindDate:
		switch t.kind {
		case tkDate:
			if _, err := time.Parse("2006-01-02", t.text); err != nil {
				return nil, badRequest(codeQuery, fmt.Sprintf("'%s' is not a valid date value.", t.text))
			}
			return t.text, nil
		case tkDateTime:
			tm, err := parseDateTime(t.text)
			if err != nil {
				return nil, badRequest(codeQuery, fmt.Sprintf("'%s' is not a valid date-time value.", t.text))
			}
			return tm.UTC().Format("2006-01-02"), nil
		}
	}
	return nil, incompatible(a, t, op)
}

// parseDateTime reads an ISO 8601 date-time with an offset, fractions of a
// second kept.
func parseDateTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			if y := t.Year(); y < 1 || y > 9999 {
				return time.Time{}, fmt.Errorf("year %d out of range", y)
			}
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a date-time: %q", s)
}

// moneyBound converts a decimal literal to the stored unit (1/10000): an
// exact integer when it has at most four decimals, else a float between
// two stored values (so ordering comparisons stay right and eq is false).
func moneyBound(s string) (any, error) {
	r, ok := new(big.Rat).SetString(strings.TrimPrefix(s, "+"))
	if !ok {
		return nil, badRequest(codeQuery, fmt.Sprintf("'%s' is not a valid decimal value.", s))
	}
	r.Mul(r, big.NewRat(10000, 1))
	if r.IsInt() && r.Num().IsInt64() {
		return r.Num().Int64(), nil
	}
	f, _ := r.Float64()
	return f, nil
}

func (c *compiler) text(n nText) (string, error) {
	col, a, _, err := c.resolve(n.path)
	if err != nil {
		return "", err
	}
	if a.Kind != KindString && a.Kind != KindMemo {
		return "", badRequest(codeQuery, fmt.Sprintf("The function '%s' needs a string property; '%s' is %s.", n.fn, strings.Join(n.path, "/"), a.Kind.edmType()))
	}
	pattern := n.arg
	switch n.fn {
	case "contains":
		pattern = "%" + pattern + "%"
	case "startswith":
		pattern += "%"
	case "endswith":
		pattern = "%" + pattern
	}
	return "(dv_like(" + col + ", " + c.bind(pattern) + ") = 1)", nil
}

// queryArgName reads a PropertyName argument: an attribute of the root
// entity by logical name (the _x_value form of a lookup also works).
func (c *compiler) queryProperty(n nQuery) (string, *Attribute, error) {
	a, ok := n.args["PropertyName"]
	if !ok || a.isSet || a.tok.kind != tkString {
		return "", nil, badRequest(codeQuery, fmt.Sprintf("The function 'Microsoft.Dynamics.CRM.%s' needs PropertyName='<logical name>'.", n.fn))
	}
	at := c.root.attr(a.tok.text)
	if at == nil {
		at = c.root.prop(a.tok.text)
	}
	if at == nil {
		return "", nil, propertyError(c.root, a.tok.text)
	}
	if at.Kind == KindFile {
		return "", nil, badRequest(codeQuery, fmt.Sprintf("The property '%s' cannot be used in a $filter.", a.tok.text))
	}
	return "t." + quoteIdent(at.Column), at, nil
}

func (c *compiler) checkArgs(n nQuery, allowed ...string) error {
	for k := range n.args {
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if !ok {
			return badRequest(codeQuery, fmt.Sprintf("The function 'Microsoft.Dynamics.CRM.%s' has no parameter '%s'.", n.fn, k))
		}
	}
	return nil
}

func (c *compiler) days(n nQuery) (int, error) {
	a, ok := n.args["PropertyValue"]
	if !ok || a.isSet || a.tok.kind != tkNumber && a.tok.kind != tkString {
		return 0, badRequest(codeQuery, fmt.Sprintf("The function 'Microsoft.Dynamics.CRM.%s' needs PropertyValue=<days>.", n.fn))
	}
	d, err := strconv.Atoi(a.tok.text)
	if err != nil || d < 1 || d > 100000 {
		return 0, badRequest(codeQuery, fmt.Sprintf("PropertyValue of Microsoft.Dynamics.CRM.%s must be a whole number of days from 1 to 100000, not '%s'.", n.fn, a.tok.text))
	}
	return d, nil
}

// timeBound converts an instant to the storage form of attribute a.
func timeBound(a *Attribute, t time.Time) any {
	if a.Kind == KindDate {
		return t.UTC().Format("2006-01-02")
	}
	return t.UnixMicro()
}

func (c *compiler) query(n nQuery) (string, error) {
	switch n.fn {
	case "In", "NotIn":
		if err := c.checkArgs(n, "PropertyName", "PropertyValues"); err != nil {
			return "", err
		}
		col, a, err := c.queryProperty(n)
		if err != nil {
			return "", err
		}
		vals, ok := n.args["PropertyValues"]
		if !ok || !vals.isSet {
			return "", badRequest(codeQuery, fmt.Sprintf("The function 'Microsoft.Dynamics.CRM.%s' needs PropertyValues=[…].", n.fn))
		}
		if len(vals.list) == 0 {
			if n.fn == "In" {
				return "(0)", nil
			}
			return "(" + col + " IS NOT NULL)", nil
		}
		var ps []string
		for _, t := range vals.list {
			v, err := listValue(a, t)
			if err != nil {
				return "", err
			}
			ps = append(ps, c.bind(v))
		}
		op := " IN "
		if n.fn == "NotIn" {
			op = " NOT IN "
		}
		return "(" + col + op + "(" + strings.Join(ps, ", ") + "))", nil
	case "LastXDays", "NextXDays", "LastXHours", "NextXHours":
		if err := c.checkArgs(n, "PropertyName", "PropertyValue"); err != nil {
			return "", err
		}
		col, a, err := c.queryProperty(n)
		if err != nil {
			return "", err
		}
		if a.Kind != KindDateTime && a.Kind != KindDate {
			return "", badRequest(codeQuery, fmt.Sprintf("The function 'Microsoft.Dynamics.CRM.%s' needs a date-time property; '%s' is %s.", n.fn, a.Name, a.Kind.edmType()))
		}
		x, err := c.days(n)
		if err != nil {
			return "", err
		}
		now := c.sc.now.UTC()
		day := now.Truncate(24 * time.Hour)
		var from, to time.Time
		switch n.fn {
		case "LastXDays": // from midnight x days ago through now
			from, to = day.AddDate(0, 0, -x), now
		case "NextXDays": // from now through the end of the x-th day ahead
			from, to = now, day.AddDate(0, 0, x+1).Add(-time.Second)
		case "LastXHours":
			from, to = now.Add(-time.Duration(x)*time.Hour), now
		case "NextXHours":
			from, to = now, now.Add(time.Duration(x)*time.Hour)
		}
		if a.Kind == KindDate {
			return "(" + col + " >= " + c.bind(from.Format("2006-01-02")) + " AND " + col + " <= " + c.bind(to.Format("2006-01-02")) + ")", nil
		}
		return "(" + col + " >= " + c.bind(from.UnixMicro()) + " AND " + col + " <= " + c.bind(to.UnixMicro()) + ")", nil
	case "OnOrAfter", "OnOrBefore", "On":
		if err := c.checkArgs(n, "PropertyName", "PropertyValue"); err != nil {
			return "", err
		}
		col, a, err := c.queryProperty(n)
		if err != nil {
			return "", err
		}
		pv, ok := n.args["PropertyValue"]
		if !ok || pv.isSet {
			return "", badRequest(codeQuery, fmt.Sprintf("The function 'Microsoft.Dynamics.CRM.%s' needs PropertyValue=<date>.", n.fn))
		}
		var day time.Time
		switch pv.tok.kind {
		case tkDate, tkDateTime, tkString:
			d, err := parseDateTime(pv.tok.text)
			if err != nil {
				d, err = time.Parse("2006-01-02", pv.tok.text)
			}
			if err != nil {
				return "", badRequest(codeQuery, fmt.Sprintf("'%s' is not a valid date.", pv.tok.text))
			}
			day = d.UTC().Truncate(24 * time.Hour)
		default:
			return "", badRequest(codeQuery, fmt.Sprintf("'%s' is not a valid date.", pv.tok.text))
		}
		if a.Kind != KindDateTime && a.Kind != KindDate {
			return "", badRequest(codeQuery, fmt.Sprintf("The function 'Microsoft.Dynamics.CRM.%s' needs a date-time property.", n.fn))
		}
		next := day.AddDate(0, 0, 1)
		switch n.fn {
		case "OnOrAfter":
			return "(" + col + " >= " + c.bind(timeBound(a, day)) + ")", nil
		case "OnOrBefore":
			if a.Kind == KindDate {
				return "(" + col + " <= " + c.bind(timeBound(a, day)) + ")", nil
			}
			return "(" + col + " < " + c.bind(timeBound(a, next)) + ")", nil
		default:
			if a.Kind == KindDate {
				return "(" + col + " = " + c.bind(timeBound(a, day)) + ")", nil
			}
			return "(" + col + " >= " + c.bind(timeBound(a, day)) + " AND " + col + " < " + c.bind(timeBound(a, next)) + ")", nil
		}
	case "EqualUserId", "NotEqualUserId", "EqualBusinessId", "NotEqualBusinessId", "EqualUserOrUserTeams", "EqualUserTeams", "EqualUserOrUserHierarchy":
		if err := c.checkArgs(n, "PropertyName"); err != nil {
			return "", err
		}
		col, a, err := c.queryProperty(n)
		if err != nil {
			return "", err
		}
		if a.Kind != KindLookup && a.Kind != KindGUID {
			return "", badRequest(codeQuery, fmt.Sprintf("The function 'Microsoft.Dynamics.CRM.%s' needs a lookup property; '%s' is %s.", n.fn, a.Name, a.Kind.edmType()))
		}
		switch n.fn {
		case "EqualUserId", "EqualUserOrUserTeams", "EqualUserOrUserHierarchy":
			// The emulator has no teams and no hierarchy: the user alone.
			return "(" + col + " = " + c.bind(c.sc.userID) + ")", nil
		case "NotEqualUserId":
			return "(" + col + " <> " + c.bind(c.sc.userID) + ")", nil
		case "EqualBusinessId":
			return "(" + col + " = " + c.bind(c.sc.businessUnitID) + ")", nil
		case "NotEqualBusinessId":
			return "(" + col + " <> " + c.bind(c.sc.businessUnitID) + ")", nil
		case "EqualUserTeams":
			return "(0)", nil
		}
	}
	return "", badRequest(codeNotSupported, fmt.Sprintf("The query function 'Microsoft.Dynamics.CRM.%s' is not supported by the emulator.", n.fn))
}

// listValue converts one PropertyValues item (text, as JSON carries it)
// for comparison with attribute a.
func listValue(a *Attribute, t token) (any, error) {
	s := t.text
	bad := func() error {
		return badRequest(codeQuery, fmt.Sprintf("The value '%s' in PropertyValues is not valid for %s (%s).", s, a.Name, a.Kind.edmType()))
	}
	switch a.Kind {
	case KindString, KindMemo, KindEntityName:
		return s, nil
	case KindGUID, KindLookup:
		if g, ok := parseGUID(s); ok {
			return g, nil
		}
	case KindInt, KindChoice, KindBigInt:
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
	case KindDouble:
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f, nil
		}
	case KindMoney:
		v, err := moneyBound(s)
		if err == nil {
			return v, nil
		}
	case KindBool:
		switch s {
		case "true", "1":
			return int64(1), nil
		case "false", "0":
			return int64(0), nil
		}
	case KindDateTime:
		if tm, err := parseDateTime(s); err == nil {
			return tm.UnixMicro(), nil
		}
	case KindDate:
		if _, err := time.Parse("2006-01-02", s); err == nil {
			return s, nil
		}
	}
	return nil, bad()
}

// registerFuncs adds the emulator's SQL functions to a connection.
func registerFuncs(db *sqlite3.Conn) error {
	return db.CreateFunction("dv_like", 2, sqlite3.DETERMINISTIC|sqlite3.INNOCUOUS, func(ctx sqlite3.Context, arg ...sqlite3.Value) {
		if arg[0].Type() == sqlite3.NULL || arg[1].Type() == sqlite3.NULL {
			ctx.ResultNull()
			return
		}
		ctx.ResultBool(tsqlLike(arg[0].Text(), arg[1].Text()))
	})
}

// tsqlLike matches s against a T-SQL LIKE pattern: % any run, _ any one
// character, [abc] [a-z] [^abc] a set; case-insensitive. A malformed set
// ("[" with no "]") matches a literal "[".
func tsqlLike(s, p string) bool {
	// Iterative matcher with backtracking to the last %.
	si, pi := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			pc, pw := utf8.DecodeRuneInString(p[pi:])
			sc, sw := utf8.DecodeRuneInString(s[si:])
			switch pc {
			case '%':
				starP, starS = pi, si
				pi += pw
				continue
			case '_':
				pi += pw
				si += sw
				continue
			case '[':
				if ok, n, valid := matchSet(p[pi:], sc); valid {
					if ok {
						pi += n
						si += sw
						continue
					}
				} else if foldEq(sc, '[') {
					pi += pw
					si += sw
					continue
				}
			default:
				if foldEq(pc, sc) {
					pi += pw
					si += sw
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		_, sw := utf8.DecodeRuneInString(s[starS:])
		starS += sw
		si = starS
		pi = starP + 1
	}
	for pi < len(p) && p[pi] == '%' {
		pi++
	}
	return pi == len(p)
}

// matchSet matches rune c against the set at the start of p ("[...]"),
// returning whether it matched, the set's length, and whether p starts with
// a well-formed set.
func matchSet(p string, c rune) (bool, int, bool) {
	end := strings.IndexByte(p[1:], ']')
	if end < 0 {
		return false, 0, false
	}
	body := p[1 : 1+end]
	// "[]...]" is not a set here; T-SQL has no empty set.
	if body == "" {
		return false, 0, false
	}
	neg := false
	if body[0] == '^' && len(body) > 1 {
		neg, body = true, body[1:]
	}
	rs := []rune(body)
	in := false
	for i := 0; i < len(rs); i++ {
		if i+2 < len(rs) && rs[i+1] == '-' {
			lo, hi := unicode.ToLower(rs[i]), unicode.ToLower(rs[i+2])
			lc := unicode.ToLower(c)
			if lo <= lc && lc <= hi {
				in = true
			}
			i += 2
			continue
		}
		if foldEq(rs[i], c) {
			in = true
		}
	}
	return in != neg, end + 2, true
}

func foldEq(a, b rune) bool {
	return a == b || unicode.ToLower(a) == unicode.ToLower(b)
}
