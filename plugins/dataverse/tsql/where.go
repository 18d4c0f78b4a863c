package tsql

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fieldsync/fieldsync/sdk"
)

// Ops lists the operators Where translates: every sdk operator. The user
// operators need the matching UserContext field, the relative-date ones
// UserContext.Now; without them the filter is refused.
var Ops = []sdk.FilterOp{
	sdk.OpAnd, sdk.OpOr, sdk.OpNot,
	sdk.OpEq, sdk.OpNe, sdk.OpLt, sdk.OpLe, sdk.OpGt, sdk.OpGe,
	sdk.OpIn, sdk.OpNotIn, sdk.OpLike, sdk.OpBeginsWith, sdk.OpIsNull, sdk.OpNotNull,
	sdk.OpLastXDays, sdk.OpNextXDays, sdk.OpOnOrAfter,
	sdk.OpEqUserID, sdk.OpNeUserID, sdk.OpEqBusinessID, sdk.OpEqUserOrUserTeams,
	sdk.OpLink,
}

// UserContext is what the user-dependent and relative-date operators
// compare with: who fetches, and when.
type UserContext struct {
	UserID         string   // systemuserid; "" = unknown
	BusinessUnitID string   // the user's business unit; "" = unknown
	TeamIDs        []string // the user's teams; nil = unknown, empty = none
	Now            time.Time
}

// Where translates f, a filter on entity e of schema s, into a T-SQL
// condition for "SELECT … FROM e WHERE <condition>", with its values as
// parameters @p1, @p2 … in args (args[i] is @p(i+1)); a caller that adds
// parameters of its own numbers them from len(args)+1. A nil filter gives
// "" (every row). s may be nil when f has no link. Errors are
// sdk.Permanent: the same filter fails again.
//
// Names: a column is its logical name (bracketed when it is a reserved
// word); a lookup is compared on its id column, which the TDS endpoint
// names like the lookup (parentcustomerid; the name is in
// parentcustomeridname). A link becomes "lookup IS NOT NULL AND lookup IN
// (SELECT parentkey FROM parent WHERE <condition>)".
//
// Arguments: text, decimals (their canonical text, which SQL Server
// converts to the column's decimal), GUIDs and lookups (lower-case text)
// as string; integers and choices as int64; floats as float64; bools as
// bool; date-times as time.Time in UTC.
//
// Dates: last-x-days N is from the start of the UTC day N days before
// uc.Now to uc.Now; next-x-days N from uc.Now to the end of the UTC day N
// days after it (column < start of the day after); on-or-after is from the
// start of the value's UTC day.
//
// Text: like patterns keep % and _ as wildcards and bracket [ (the only
// other character T-SQL LIKE treats specially); begins-with brackets %, _
// and [ in its text and appends %. Comparisons follow the column's
// collation (case-insensitive on Dataverse).
func Where(f *sdk.Filter, s *sdk.Schema, e *sdk.Entity, uc UserContext) (sql string, args []any, err error) {
	if f == nil {
		return "", nil, nil
	}
	if e == nil {
		return "", nil, sdk.Errorf(sdk.Permanent, "tsql: no entity to translate the filter for")
	}
	if s != nil {
		err = f.Check(s, e)
	} else {
		err = f.Validate(e)
	}
	if err != nil {
		return "", nil, sdk.Errorf(sdk.Permanent, "tsql: %s: %w", e.Name, err)
	}
	w := &whereWriter{s: s, uc: uc}
	if err := w.expr(f, e, false); err != nil {
		return "", nil, sdk.Errorf(sdk.Permanent, "tsql: %s: %w", e.Name, err)
	}
	return w.b.String(), w.args, nil
}

type whereWriter struct {
	s    *sdk.Schema
	uc   UserContext
	b    strings.Builder
	args []any
}

func (w *whereWriter) param(v any) string {
	w.args = append(w.args, v)
	return "@p" + strconv.Itoa(len(w.args))
}

// expr writes f, a condition on entity e; nested says whether an operator
// binds around it, so that AND, OR and multi-part conditions need
// parentheses.
func (w *whereWriter) expr(f *sdk.Filter, e *sdk.Entity, nested bool) error {
	switch f.Op {
	case sdk.OpAnd, sdk.OpOr:
		if len(f.Children) == 1 {
			return w.expr(f.Children[0], e, nested)
		}
		if nested {
			w.b.WriteByte('(')
		}
		for i, c := range f.Children {
			if i > 0 {
				w.b.WriteString(" " + strings.ToUpper(string(f.Op)) + " ")
			}
			if err := w.expr(c, e, true); err != nil {
				return err
			}
		}
		if nested {
			w.b.WriteByte(')')
		}
		return nil
	case sdk.OpNot:
		w.b.WriteString("NOT (")
		if err := w.expr(f.Children[0], e, false); err != nil {
			return err
		}
		w.b.WriteByte(')')
		return nil
	case sdk.OpLink:
		return w.link(f, e, nested)
	}
	return w.cond(f, e, nested)
}

// link writes "(lookup IS NOT NULL AND lookup IN (SELECT parentkey FROM
// parent WHERE <condition>))". The subquery never yields null, so the
// test is true or false, never unknown, and NOT(link) keeps the rows
// without a parent, as a link on them is false.
func (w *whereWriter) link(f *sdk.Filter, e *sdk.Entity, nested bool) error {
	if w.s == nil {
		return fmt.Errorf("link through %s needs the schema", f.Field)
	}
	fd := e.Field(f.Field)
	if fd == nil || fd.Type != sdk.TypeLookup {
		return fmt.Errorf("link: %s.%s is not a lookup", e.Name, f.Field)
	}
	parent := w.s.Entity(fd.Target)
	if parent == nil {
		return fmt.Errorf("link: %s.%s targets %q, which the schema lacks", e.Name, f.Field, fd.Target)
	}
	for _, n := range []string{f.Field, parent.Name, parent.PrimaryKey} {
		if err := checkName(n); err != nil {
			return fmt.Errorf("link through %s: %w", f.Field, err)
		}
	}
	col := QuoteName(f.Field)
	if nested {
		w.b.WriteByte('(')
	}
	w.b.WriteString(col + " IS NOT NULL AND " + col + " IN (SELECT " + QuoteName(parent.PrimaryKey) + " FROM " + QuoteName(parent.Name) + " WHERE ")
	if err := w.expr(f.Children[0], parent, false); err != nil {
		return err
	}
	w.b.WriteByte(')')
	if nested {
		w.b.WriteByte(')')
	}
	return nil
}

var sqlComparisons = map[sdk.FilterOp]string{
	sdk.OpEq: "=", sdk.OpNe: "<>", sdk.OpLt: "<", sdk.OpLe: "<=", sdk.OpGt: ">", sdk.OpGe: ">=",
}

func (w *whereWriter) cond(f *sdk.Filter, e *sdk.Entity, nested bool) error {
	if err := checkName(f.Field); err != nil {
		return err
	}
	typ := sdk.TypeGUID
	if f.Field != e.PrimaryKey {
		fd := e.Field(f.Field)
		if fd == nil {
			return fmt.Errorf("entity %q has no field %q", e.Name, f.Field)
		}
		typ = fd.Type
	}
	if typ == sdk.TypeBinary || typ == sdk.TypeUnknown {
		return fmt.Errorf("%s %s: %s fields cannot be filtered", f.Field, f.Op, typ)
	}
	col := QuoteName(f.Field)
	fail := func(err error) error { return fmt.Errorf("%s %s: %w", f.Field, f.Op, err) }
	// open and close wrap a condition of two parts when it is nested.
	open := func() {
		if nested {
			w.b.WriteByte('(')
		}
	}
	closeP := func() {
		if nested {
			w.b.WriteByte(')')
		}
	}

	switch f.Op {
	case sdk.OpEq, sdk.OpNe, sdk.OpLt, sdk.OpLe, sdk.OpGt, sdk.OpGe:
		v, err := arg(typ, f.Values[0])
		if err != nil {
			return fail(err)
		}
		w.b.WriteString(col + " " + sqlComparisons[f.Op] + " " + w.param(v))
		return nil
	case sdk.OpIn, sdk.OpNotIn:
		w.b.WriteString(col)
		if f.Op == sdk.OpNotIn {
			w.b.WriteString(" NOT")
		}
		w.b.WriteString(" IN (")
		for i, x := range f.Values {
			v, err := arg(typ, x)
			if err != nil {
				return fail(err)
			}
			if i > 0 {
				w.b.WriteString(", ")
			}
			w.b.WriteString(w.param(v))
		}
		w.b.WriteByte(')')
		return nil
	case sdk.OpLike, sdk.OpBeginsWith:
		if typ != sdk.TypeString {
			return fail(fmt.Errorf("needs a text field; %s is %s", f.Field, typ))
		}
		p := f.Values[0].Str()
		if !utf8.ValidString(p) {
			return fail(errors.New("text is not valid UTF-8"))
		}
		if f.Op == sdk.OpLike {
			p = strings.ReplaceAll(p, "[", "[[]")
		} else {
			p = LikeLiteral(p) + "%"
		}
		w.b.WriteString(col + " LIKE " + w.param(p))
		return nil
	case sdk.OpIsNull:
		w.b.WriteString(col + " IS NULL")
		return nil
	case sdk.OpNotNull:
		w.b.WriteString(col + " IS NOT NULL")
		return nil
	case sdk.OpOnOrAfter:
		if typ != sdk.TypeDateTime {
			return fail(fmt.Errorf("needs a date-time field; %s is %s", f.Field, typ))
		}
		day := startOfDay(time.UnixMicro(f.Values[0].Int()).UTC())
		if err := checkDate(day); err != nil {
			return fail(err)
		}
		w.b.WriteString(col + " >= " + w.param(day))
		return nil
	case sdk.OpLastXDays, sdk.OpNextXDays:
		if typ != sdk.TypeDateTime {
			return fail(fmt.Errorf("needs a date-time field; %s is %s", f.Field, typ))
		}
		if w.uc.Now.IsZero() {
			return fail(errors.New("needs the time of the fetch"))
		}
		n := f.Values[0].Int()
		if n < 0 || n > sdk.MaxRelativeDays {
			return fail(fmt.Errorf("needs 0 to %d days, got %d", sdk.MaxRelativeDays, n))
		}
		now := w.uc.Now.UTC()
		var from, to time.Time
		lessThan := "<="
		if f.Op == sdk.OpLastXDays {
			from, to = startOfDay(now).AddDate(0, 0, -int(n)), now
		} else {
			from, to = now, startOfDay(now).AddDate(0, 0, int(n)+1)
			lessThan = "<"
		}
		if err := checkDate(from); err != nil {
			return fail(err)
		}
		if err := checkDate(to); err != nil {
			return fail(err)
		}
		open()
		w.b.WriteString(col + " >= " + w.param(from) + " AND " + col + " " + lessThan + " " + w.param(to))
		closeP()
		return nil
	case sdk.OpEqUserID, sdk.OpNeUserID, sdk.OpEqBusinessID, sdk.OpEqUserOrUserTeams:
		if typ != sdk.TypeGUID && typ != sdk.TypeLookup {
			return fail(fmt.Errorf("needs an id field; %s is %s", f.Field, typ))
		}
		var ids []string
		switch f.Op {
		case sdk.OpEqBusinessID:
			if w.uc.BusinessUnitID == "" {
				return fail(errors.New("the user's business unit is unknown"))
			}
			ids = []string{w.uc.BusinessUnitID}
		case sdk.OpEqUserOrUserTeams:
			if w.uc.TeamIDs == nil {
				return fail(errors.New("the user's teams are unknown"))
			}
			ids = append([]string{w.uc.UserID}, w.uc.TeamIDs...)
			if w.uc.UserID == "" {
				return fail(errors.New("the user is unknown"))
			}
		default:
			if w.uc.UserID == "" {
				return fail(errors.New("the user is unknown"))
			}
			ids = []string{w.uc.UserID}
		}
		for i, id := range ids {
			g, err := guid(id)
			if err != nil {
				return fail(err)
			}
			ids[i] = g
		}
		switch f.Op {
		case sdk.OpNeUserID:
			w.b.WriteString(col + " <> " + w.param(ids[0]))
		case sdk.OpEqUserOrUserTeams:
			w.b.WriteString(col + " IN (")
			for i, id := range ids {
				if i > 0 {
					w.b.WriteString(", ")
				}
				w.b.WriteString(w.param(id))
			}
			w.b.WriteByte(')')
		default:
			w.b.WriteString(col + " = " + w.param(ids[0]))
		}
		return nil
	}
	return fail(errors.New("unsupported operator"))
}

// LikeLiteral brackets the characters T-SQL LIKE treats specially (%, _
// and [) so that s matches itself.
func LikeLiteral(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '%', '_', '[':
			b.WriteByte('[')
			b.WriteRune(r)
			b.WriteByte(']')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func startOfDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// checkDate keeps date-times within datetime2's years 1 to 9999.
func checkDate(t time.Time) error {
	if y := t.Year(); y < 1 || y > 9999 {
		return fmt.Errorf("date-time in year %d is out of range", y)
	}
	return nil
}

// arg converts v, a value of a field of type t, into a query argument.
func arg(t sdk.FieldType, v sdk.Value) (any, error) {
	if v.Kind() != t.Kind() || v.IsNull() {
		return nil, fmt.Errorf("a %s value cannot be compared with a %s field", v.Kind(), t)
	}
	switch t {
	case sdk.TypeString:
		if !utf8.ValidString(v.Str()) {
			return nil, errors.New("text is not valid UTF-8")
		}
		return v.Str(), nil
	case sdk.TypeDecimal:
		return decimal(v.Str())
	case sdk.TypeGUID, sdk.TypeLookup:
		return guid(v.Str())
	case sdk.TypeInt, sdk.TypeChoice:
		return v.Int(), nil
	case sdk.TypeFloat:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%v is not a comparable number", f)
		}
		return f, nil
	case sdk.TypeBool:
		return v.Bool(), nil
	case sdk.TypeDateTime:
		d := time.UnixMicro(v.Int()).UTC()
		if err := checkDate(d); err != nil {
			return nil, err
		}
		return d, nil
	}
	return nil, fmt.Errorf("%s fields cannot be filtered", t)
}

// decimal checks that s is a plain decimal number ("-12.50") of at most
// 38 digits (SQL Server's largest precision) and returns it without a
// leading plus.
func decimal(s string) (string, error) {
	if !sdk.IsPlainDecimal(s) {
		return "", fmt.Errorf("%q is not a decimal number", s)
	}
	intPart, frac, _ := strings.Cut(strings.TrimLeft(s, "+-"), ".")
	if len(strings.TrimLeft(intPart, "0"))+len(frac) > 38 {
		return "", fmt.Errorf("%q has more than 38 digits", s)
	}
	return strings.TrimPrefix(s, "+"), nil
}

// guid checks that s is a GUID in 8-4-4-4-12 form and returns it in lower
// case.
func guid(s string) (string, error) {
	if !sdk.IsGUID(s) {
		return "", fmt.Errorf("%q is not a GUID", s)
	}
	return strings.ToLower(s), nil
}

// checkName accepts logical names: a letter or underscore, then letters,
// digits and underscores, at most 128 characters.
func checkName(s string) error {
	if s == "" || len(s) > 128 {
		return fmt.Errorf("%q is not a logical name", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return fmt.Errorf("%q is not a logical name", s)
	}
	return nil
}
