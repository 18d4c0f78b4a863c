package tsql

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Catalog tells SQLite rendering where entities and columns live. Names
// are passed as the query wrote them; a catalog matches them as it likes
// (SQL Server's catalog ignores case).
type Catalog interface {
	// Table returns the SQLite table that stores entity.
	Table(entity string) (table string, ok bool)
	// Column describes a column of entity.
	Column(entity, column string) (Col, bool)
	// Columns lists the entity's columns for SELECT *, in order.
	Columns(entity string) []string
}

// Col describes how a column is stored.
type Col struct {
	// Name is the SQLite column.
	Name string
	// Expr, when set, wraps the qualified column reference into the SQLite
	// expression to compare, select and sort (say CAST(ref AS REAL)).
	Expr func(ref string) string
	// Convert, when set, turns a value compared with the column (a
	// parameter's or a literal's: string, int64, float64, bool,
	// time.Time) into the stored form. It is not applied to LIKE patterns.
	Convert func(v any) (any, error)
	// NoCase compares and sorts text ignoring case, as Dataverse's
	// case-insensitive collation does.
	NoCase bool
}

// SQLiteQuery is a rendered statement.
type SQLiteQuery struct {
	SQL  string
	Args []any
	// Columns are the entity columns of the result in order (SELECT *
	// expanded); Names are the result column names (alias or column).
	Columns []string
	Names   []string
}

// SQLite renders s as one parameterised SQLite SELECT. args are the
// request's parameter values, indexed by Param.Index (see Bind): nil,
// string, int64, float64, bool or time.Time. Literals are bound as
// arguments too, so the SQL text holds no data.
//
// T-SQL LIKE patterns (literal or parameter) are translated to SQLite LIKE
// with ESCAPE '\': % and _ keep their meaning, a bracket holding one
// character ([%], [_], [[]) and the ESCAPE character quote one; other
// bracket expressions ([a-c], [^x]) are refused. SQLite's LIKE ignores
// case for ASCII letters only.
func (s *Select) SQLite(cat Catalog, args []any) (*SQLiteQuery, error) {
	if s.From == "" {
		return nil, notSupportedf("a query without FROM has no SQLite form")
	}
	r := &renderer{cat: cat, args: args}
	q := &SQLiteQuery{}
	if err := r.selectStmt(s, q, false); err != nil {
		return nil, err
	}
	q.SQL = r.b.String()
	q.Args = r.out
	return q, nil
}

type renderer struct {
	cat     Catalog
	args    []any
	b       strings.Builder
	out     []any
	aliases int
	scopes  []scope
}

type scope struct {
	entity, alias, sqlAlias string
}

// quoteIdent quotes a SQLite identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func (r *renderer) selectStmt(s *Select, q *SQLiteQuery, sub bool) error {
	table, ok := r.cat.Table(s.From)
	if !ok {
		return &Error{Number: ErrInvalidObject, Message: "Invalid object name '" + s.From + "'."}
	}
	sc := scope{entity: s.From, alias: s.Alias, sqlAlias: "t" + strconv.Itoa(r.aliases)}
	r.aliases++
	r.scopes = append(r.scopes, sc)
	defer func() { r.scopes = r.scopes[:len(r.scopes)-1] }()

	r.b.WriteString("SELECT ")
	if s.Distinct {
		r.b.WriteString("DISTINCT ")
	}
	items := s.Items
	if s.Star {
		cols := r.cat.Columns(s.From)
		if len(cols) == 0 {
			return notSupportedf("entity %s has no columns to select", s.From)
		}
		items = make([]Item, len(cols))
		for i, c := range cols {
			items[i] = Item{Expr: &Column{Name: c}}
		}
	}
	for i, it := range items {
		if i > 0 {
			r.b.WriteString(", ")
		}
		c, ok := it.Expr.(*Column)
		if !ok {
			return notSupportedf("the select list of a query with FROM takes column names only in the fieldsync emulator")
		}
		ref, _, err := r.column(c)
		if err != nil {
			return err
		}
		r.b.WriteString(ref)
		if q != nil {
			q.Columns = append(q.Columns, c.Name)
			q.Names = append(q.Names, it.Name())
		}
	}
	r.b.WriteString(" FROM " + quoteIdent(table) + " AS " + sc.sqlAlias)
	if s.Where != nil {
		r.b.WriteString(" WHERE ")
		if err := r.cond(s.Where); err != nil {
			return err
		}
	}
	for i, o := range s.OrderBy {
		if i == 0 {
			r.b.WriteString(" ORDER BY ")
		} else {
			r.b.WriteString(", ")
		}
		ref, col, err := r.column(o.Column)
		if err != nil {
			return err
		}
		r.b.WriteString(ref)
		if col.NoCase {
			r.b.WriteString(" COLLATE NOCASE")
		}
		if o.Desc {
			r.b.WriteString(" DESC")
		} else {
			r.b.WriteString(" ASC")
		}
	}
	if s.Top != nil {
		n, err := r.topValue(s.Top)
		if err != nil {
			return err
		}
		r.b.WriteString(" LIMIT ?")
		r.out = append(r.out, n)
	}
	return nil
}

func (r *renderer) topValue(e Expr) (int64, error) {
	bad := &Error{Number: 1060, Message: "The number of rows provided for a TOP or FETCH clauses row count parameter must be an integer."}
	v, err := r.value(e)
	if err != nil {
		return 0, err
	}
	var n int64
	switch v := v.(type) {
	case int64:
		n = v
	case float64:
		if v != math.Trunc(v) || v < 0 || v > math.MaxInt64/2 {
			return 0, bad
		}
		n = int64(v)
	default:
		return 0, bad
	}
	if n < 0 {
		return 0, &Error{Number: 1007, Message: "A TOP N or FETCH rows count value may not be negative."}
	}
	return n, nil
}

// column resolves a column reference in the innermost scope.
func (r *renderer) column(c *Column) (string, Col, error) {
	sc := r.scopes[len(r.scopes)-1]
	if c.Table != "" && !strings.EqualFold(c.Table, sc.entity) && !strings.EqualFold(c.Table, sc.alias) {
		return "", Col{}, &Error{Number: 4104, Message: `The multi-part identifier "` + c.Table + "." + c.Name + `" could not be bound.`}
	}
	col, ok := r.cat.Column(sc.entity, c.Name)
	if !ok {
		return "", Col{}, invalidColumn(c.Name)
	}
	ref := sc.sqlAlias + "." + quoteIdent(col.Name)
	if col.Expr != nil {
		ref = col.Expr(ref)
	}
	return ref, col, nil
}

// value returns the Go value of a literal or a bound parameter.
func (r *renderer) value(e Expr) (any, error) {
	switch e := e.(type) {
	case *Param:
		if e.Index < 0 || e.Index >= len(r.args) {
			return nil, &Error{Number: ErrUndeclared, Message: `Must declare the scalar variable "` + e.Name + `".`}
		}
		return r.args[e.Index], nil
	case *Literal:
		return LiteralValue(e)
	case *Global:
		return nil, notSupportedf("%s is not supported in conditions by the fieldsync emulator", e.Name)
	}
	return nil, fmt.Errorf("tsql: %T is no value", e)
}

// LiteralValue returns a literal's Go value: nil, string, int64 (a whole
// number that fits) or float64 (any other number).
func LiteralValue(l *Literal) (any, error) {
	switch l.Kind {
	case LitNull:
		return nil, nil
	case LitString:
		return l.Text, nil
	}
	text := l.Text
	if l.Neg {
		text = "-" + text
	}
	if i, err := strconv.ParseInt(text, 10, 64); err == nil {
		return i, nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, &Error{Number: 8115, Message: "Arithmetic overflow error converting expression to data type float."}
	}
	return f, nil
}

// operand writes a column or a value; col is the column the value is
// compared with (for Convert), or nil.
func (r *renderer) operand(e Expr, col *Col) error {
	if c, ok := e.(*Column); ok {
		ref, _, err := r.column(c)
		if err != nil {
			return err
		}
		r.b.WriteString(ref)
		return nil
	}
	v, err := r.value(e)
	if err != nil {
		return err
	}
	if v == nil {
		r.b.WriteString("NULL")
		return nil
	}
	if col != nil && col.Convert != nil {
		if v, err = col.Convert(v); err != nil {
			return &Error{Number: 245, Message: "Conversion failed: " + err.Error()}
		}
		if v == nil {
			r.b.WriteString("NULL")
			return nil
		}
	}
	v, err = sqliteValue(v)
	if err != nil {
		return err
	}
	r.b.WriteByte('?')
	r.out = append(r.out, v)
	return nil
}

// sqliteValue checks that v is a type SQLite drivers bind.
func sqliteValue(v any) (any, error) {
	switch v := v.(type) {
	case string, int64, float64, []byte:
		return v, nil
	case bool:
		if v {
			return int64(1), nil
		}
		return int64(0), nil
	case int:
		return int64(v), nil
	case int32:
		return int64(v), nil
	case time.Time:
		return v, nil
	}
	return nil, notSupportedf("a value of type %T cannot be compared", v)
}

// colOf returns the column description when e is a column.
func (r *renderer) colOf(e Expr) (*Col, error) {
	c, ok := e.(*Column)
	if !ok {
		return nil, nil
	}
	_, col, err := r.column(c)
	if err != nil {
		return nil, err
	}
	return &col, nil
}

func (r *renderer) cond(e Expr) error {
	switch e := e.(type) {
	case *Logic:
		r.b.WriteByte('(')
		if err := r.cond(e.Left); err != nil {
			return err
		}
		r.b.WriteString(" " + e.Op + " ")
		if err := r.cond(e.Right); err != nil {
			return err
		}
		r.b.WriteByte(')')
		return nil
	case *Not:
		r.b.WriteString("NOT (")
		if err := r.cond(e.X); err != nil {
			return err
		}
		r.b.WriteByte(')')
		return nil
	case *Compare:
		lc, err := r.colOf(e.Left)
		if err != nil {
			return err
		}
		rc, err := r.colOf(e.Right)
		if err != nil {
			return err
		}
		if err := r.operand(e.Left, rc); err != nil {
			return err
		}
		if (lc != nil && lc.NoCase) || (rc != nil && rc.NoCase) {
			r.b.WriteString(" COLLATE NOCASE")
		}
		r.b.WriteString(" " + e.Op + " ")
		return r.operand(e.Right, lc)
	case *IsNull:
		if err := r.operand(e.X, nil); err != nil {
			return err
		}
		if e.Not {
			r.b.WriteString(" IS NOT NULL")
		} else {
			r.b.WriteString(" IS NULL")
		}
		return nil
	case *Between:
		xc, err := r.colOf(e.X)
		if err != nil {
			return err
		}
		if err := r.operand(e.X, nil); err != nil {
			return err
		}
		if xc != nil && xc.NoCase {
			r.b.WriteString(" COLLATE NOCASE")
		}
		if e.Not {
			r.b.WriteString(" NOT")
		}
		r.b.WriteString(" BETWEEN ")
		if err := r.operand(e.Lo, xc); err != nil {
			return err
		}
		r.b.WriteString(" AND ")
		return r.operand(e.Hi, xc)
	case *In:
		xc, err := r.colOf(e.X)
		if err != nil {
			return err
		}
		if err := r.operand(e.X, nil); err != nil {
			return err
		}
		if xc != nil && xc.NoCase && e.Sub == nil {
			r.b.WriteString(" COLLATE NOCASE")
		}
		if e.Not {
			r.b.WriteString(" NOT")
		}
		r.b.WriteString(" IN (")
		if e.Sub != nil {
			if err := r.selectStmt(e.Sub, nil, true); err != nil {
				return err
			}
		}
		for i, x := range e.List {
			if i > 0 {
				r.b.WriteString(", ")
			}
			if err := r.operand(x, xc); err != nil {
				return err
			}
		}
		r.b.WriteByte(')')
		return nil
	case *Like:
		return r.like(e)
	}
	return syntaxError("An expression of non-boolean type specified in a context where a condition is expected.")
}

func (r *renderer) like(e *Like) error {
	var esc rune
	if e.Escape != nil {
		v, err := r.value(e.Escape)
		if err != nil {
			return err
		}
		s, ok := v.(string)
		if !ok || utf8.RuneCountInString(s) != 1 {
			return &Error{Number: 506, Message: "The invalid escape character was specified in a LIKE predicate."}
		}
		esc, _ = utf8.DecodeRuneInString(s)
	}
	if err := r.operand(e.X, nil); err != nil {
		return err
	}
	if e.Not {
		r.b.WriteString(" NOT")
	}
	r.b.WriteString(" LIKE ")
	if _, ok := e.Pattern.(*Column); ok {
		return notSupportedf("a LIKE pattern from a column is not supported by the fieldsync emulator")
	}
	v, err := r.value(e.Pattern)
	if err != nil {
		return err
	}
	if v == nil {
		r.b.WriteString("NULL")
		return nil
	}
	s, ok := v.(string)
	if !ok {
		return notSupportedf("a LIKE pattern must be text")
	}
	pat, err := LikeToSQLite(s, esc)
	if err != nil {
		return err
	}
	r.b.WriteString(`? ESCAPE '\'`)
	r.out = append(r.out, pat)
	return nil
}

// LikeToSQLite translates a T-SQL LIKE pattern (with escape character esc,
// 0 for none) into a SQLite LIKE pattern whose escape character is \.
func LikeToSQLite(p string, esc rune) (string, error) {
	var b strings.Builder
	rs := []rune(p)
	lit := func(c rune) {
		if c == '%' || c == '_' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case esc != 0 && c == esc:
			if i+1 >= len(rs) {
				return "", &Error{Number: 506, Message: "The invalid escape character was specified in a LIKE predicate."}
			}
			i++
			lit(rs[i])
		case c == '%' || c == '_':
			b.WriteRune(c)
		case c == '[':
			// [x] with one character x (which may be [, % or _) is x.
			if i+2 < len(rs) && rs[i+2] == ']' && rs[i+1] != '^' && rs[i+1] != ']' {
				lit(rs[i+1])
				i += 2
				continue
			}
			return "", notSupportedf("LIKE bracket expressions other than one quoted character are not supported by the fieldsync emulator")
		default:
			lit(c)
		}
	}
	return b.String(), nil
}
