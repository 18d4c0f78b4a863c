// Package odata translates sync filters (sdk.Filter) into Dataverse Web API
// $filter expressions (OData v4 with Dataverse's query functions). It is
// pure: it neither sends requests nor reads the clock, and it never widens a
// filter — what $filter cannot say exactly is refused with a permanent
// error naming the node.
package odata

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

// Ops lists the operators Filter translates: every sdk operator. Some uses
// are still refused: like with a pattern other than %x%, x% or %x (OData
// has no general LIKE and Dataverse offers no Like function), and inside a
// link the query functions that take a property name (last-x-days,
// next-x-days and the user operators), which name a column of the entity
// queried, not a path.
var Ops = []sdk.FilterOp{
	sdk.OpAnd, sdk.OpOr, sdk.OpNot,
	sdk.OpEq, sdk.OpNe, sdk.OpLt, sdk.OpLe, sdk.OpGt, sdk.OpGe,
	sdk.OpIn, sdk.OpNotIn, sdk.OpLike, sdk.OpBeginsWith, sdk.OpIsNull, sdk.OpNotNull,
	sdk.OpLastXDays, sdk.OpNextXDays, sdk.OpOnOrAfter,
	sdk.OpEqUserID, sdk.OpNeUserID, sdk.OpEqBusinessID, sdk.OpEqUserOrUserTeams,
	sdk.OpLink,
}

// NavFunc names the single-valued navigation property of entity's lookup
// field (for example "parentcustomerid_account" for contact's
// parentcustomerid when it points at an account); "" when there is none.
// The connector reads it from $metadata.
type NavFunc func(entity, lookupField string) string

// Filter translates f, a filter on entity e of schema s, into a $filter
// expression. The result is not URL-encoded: the caller encodes it as a
// query parameter value. A nil filter gives "" (every row). s and nav may
// be nil when f has no link. Errors are sdk.Permanent: the same filter
// fails again.
//
// Names: a column is its logical name, a lookup _<name>_value, a column of
// a linked row <navigation property>/<column> (nested links chain); query
// functions take the logical name (PropertyName='ownerid').
//
// Values: text in single quotes, a quote in it doubled; GUIDs unquoted in
// lower case; date-times as ISO 8601 UTC, fractions of a second kept;
// decimals, integers, choices and floats as plain numbers; bools true and
// false.
func Filter(f *sdk.Filter, s *sdk.Schema, e *sdk.Entity, nav NavFunc) (string, error) {
	if f == nil {
		return "", nil
	}
	if e == nil {
		return "", sdk.Errorf(sdk.Permanent, "odata: no entity to translate the filter for")
	}
	out, err := translate(f, s, e, nav)
	if err != nil {
		return "", sdk.Errorf(sdk.Permanent, "odata: %s: %w", e.Name, err)
	}
	return out, nil
}

func translate(f *sdk.Filter, s *sdk.Schema, e *sdk.Entity, nav NavFunc) (string, error) {
	var err error
	if s != nil {
		err = f.Check(s, e)
	} else {
		err = f.Validate(e)
	}
	if err != nil {
		return "", err
	}
	t := translator{s: s, nav: nav}
	var b strings.Builder
	if err := t.expr(&b, f, e, "", false); err != nil {
		return "", err
	}
	return b.String(), nil
}

type translator struct {
	s   *sdk.Schema
	nav NavFunc
}

// expr writes f, a condition on entity e reached through path prefix ("" or
// "nav/…/"); nested says whether an operator binds around it, so an and or
// an or needs parentheses.
func (t *translator) expr(b *strings.Builder, f *sdk.Filter, e *sdk.Entity, prefix string, nested bool) error {
	switch f.Op {
	case sdk.OpAnd, sdk.OpOr:
		if len(f.Children) == 1 {
			return t.expr(b, f.Children[0], e, prefix, nested)
		}
		if nested {
			b.WriteByte('(')
		}
		for i, c := range f.Children {
			if i > 0 {
				b.WriteString(" " + string(f.Op) + " ")
			}
			if err := t.expr(b, c, e, prefix, true); err != nil {
				return err
			}
		}
		if nested {
			b.WriteByte(')')
		}
		return nil
	case sdk.OpNot:
		b.WriteString("not (")
		if err := t.expr(b, f.Children[0], e, prefix, false); err != nil {
			return err
		}
		b.WriteByte(')')
		return nil
	case sdk.OpLink:
		return t.link(b, f, e, prefix, nested)
	}
	return t.cond(b, f, e, prefix, nested)
}

// link writes "<nav>/<parent key> ne null and <condition on nav/…>". The
// key test keeps a row without a parent (or, through a polymorphic lookup,
// with a parent of another table) from matching a condition such as
// nav/name eq null.
func (t *translator) link(b *strings.Builder, f *sdk.Filter, e *sdk.Entity, prefix string, nested bool) error {
	if t.s == nil {
		return fmt.Errorf("link through %s needs the schema", f.Field)
	}
	if t.nav == nil {
		return fmt.Errorf("link through %s needs the navigation properties", f.Field)
	}
	fd := e.Field(f.Field)
	if fd == nil || fd.Type != sdk.TypeLookup {
		return fmt.Errorf("link: %s.%s is not a lookup", e.Name, f.Field)
	}
	parent := t.s.Entity(fd.Target)
	if parent == nil {
		return fmt.Errorf("link: %s.%s targets %q, which the schema lacks", e.Name, f.Field, fd.Target)
	}
	np := t.nav(e.Name, f.Field)
	if np == "" {
		return fmt.Errorf("link: %s.%s has no navigation property", e.Name, f.Field)
	}
	for _, n := range []string{np, parent.PrimaryKey} {
		if err := checkName(n); err != nil {
			return fmt.Errorf("link through %s: %w", f.Field, err)
		}
	}
	sub := prefix + np + "/"
	if nested {
		b.WriteByte('(')
	}
	b.WriteString(sub + parent.PrimaryKey + " ne null and ")
	if err := t.expr(b, f.Children[0], parent, sub, true); err != nil {
		return err
	}
	if nested {
		b.WriteByte(')')
	}
	return nil
}

var comparisons = map[sdk.FilterOp]string{
	sdk.OpEq: "eq", sdk.OpNe: "ne", sdk.OpLt: "lt", sdk.OpLe: "le", sdk.OpGt: "gt", sdk.OpGe: "ge",
}

// functions maps operators to Dataverse query functions
// (Microsoft.Dynamics.CRM.*, "Web API Query Function Reference").
var functions = map[sdk.FilterOp]string{
	sdk.OpIn:                "In",
	sdk.OpNotIn:             "NotIn",
	sdk.OpLastXDays:         "LastXDays",
	sdk.OpNextXDays:         "NextXDays",
	sdk.OpEqUserID:          "EqualUserId",
	sdk.OpNeUserID:          "NotEqualUserId",
	sdk.OpEqBusinessID:      "EqualBusinessId",
	sdk.OpEqUserOrUserTeams: "EqualUserOrUserTeams",
}

func (t *translator) cond(b *strings.Builder, f *sdk.Filter, e *sdk.Entity, prefix string, nested bool) error {
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
	path := prefix + f.Field
	if typ == sdk.TypeLookup {
		path = prefix + "_" + f.Field + "_value"
	}
	fail := func(err error) error { return fmt.Errorf("%s %s: %w", f.Field, f.Op, err) }

	switch f.Op {
	case sdk.OpEq, sdk.OpNe, sdk.OpLt, sdk.OpLe, sdk.OpGt, sdk.OpGe:
		if typ == sdk.TypeBool && f.Op != sdk.OpEq && f.Op != sdk.OpNe {
			return fail(errors.New("bool fields have no order"))
		}
		lit, err := literal(typ, f.Values[0])
		if err != nil {
			return fail(err)
		}
		b.WriteString(path + " " + comparisons[f.Op] + " " + lit)
		return nil
	case sdk.OpIsNull:
		b.WriteString(path + " eq null")
		return nil
	case sdk.OpNotNull:
		b.WriteString(path + " ne null")
		return nil
	case sdk.OpOnOrAfter:
		// The start of the value's UTC day, as the sdk defines it.
		// Dataverse's OnOrAfter function takes a date in the fetching
		// user's time zone (for user-local columns), which could widen the
		// filter; a plain ge is exact and also works through links.
		day := time.UnixMicro(f.Values[0].Int()).UTC().Truncate(24 * time.Hour)
		lit, err := dateTime(day)
		if err != nil {
			return fail(err)
		}
		b.WriteString(path + " ge " + lit)
		return nil
	case sdk.OpLike, sdk.OpBeginsWith:
		return t.text(b, f, typ, path, fail)
	case sdk.OpIn, sdk.OpNotIn:
		if prefix != "" {
			return t.inThroughLink(b, f, typ, path, nested, fail)
		}
	}

	fn, ok := functions[f.Op]
	if !ok {
		return fail(errors.New("unsupported operator"))
	}
	if prefix != "" {
		// PropertyName names a column of the entity queried; a path through
		// a navigation property is not documented to work.
		return fail(fmt.Errorf("Dataverse's %s function cannot reach a linked row", fn))
	}
	b.WriteString("Microsoft.Dynamics.CRM." + fn + "(PropertyName='" + f.Field + "'")
	switch f.Op {
	case sdk.OpIn, sdk.OpNotIn:
		b.WriteString(",PropertyValues=[")
		for i, v := range f.Values {
			s, err := text(typ, v)
			if err != nil {
				return fail(err)
			}
			if i > 0 {
				b.WriteByte(',')
			}
			jsonString(b, s)
		}
		b.WriteByte(']')
	case sdk.OpLastXDays, sdk.OpNextXDays:
		d := f.Values[0].Int()
		if d < 1 || d > sdk.MaxRelativeDays {
			return fail(fmt.Errorf("needs 1 to %d days, got %d", sdk.MaxRelativeDays, d))
		}
		b.WriteString(",PropertyValue=" + strconv.FormatInt(d, 10))
	}
	b.WriteByte(')')
	return nil
}

// inThroughLink writes in and not-in on a linked row as comparisons, since
// the In functions cannot take a path: (p eq a or p eq b) and, for not-in,
// (p ne a and p ne b and p ne null) — NotIn, like SQL's NOT IN, leaves out
// rows where p is null, whatever ne does with them.
func (t *translator) inThroughLink(b *strings.Builder, f *sdk.Filter, typ sdk.FieldType, path string, nested bool, fail func(error) error) error {
	op, join := " eq ", " or "
	if f.Op == sdk.OpNotIn {
		op, join = " ne ", " and "
	}
	paren := nested && (len(f.Values) > 1 || f.Op == sdk.OpNotIn)
	if paren {
		b.WriteByte('(')
	}
	for i, v := range f.Values {
		lit, err := literal(typ, v)
		if err != nil {
			return fail(err)
		}
		if i > 0 {
			b.WriteString(join)
		}
		b.WriteString(path + op + lit)
	}
	if f.Op == sdk.OpNotIn {
		b.WriteString(" and " + path + " ne null")
	}
	if paren {
		b.WriteByte(')')
	}
	return nil
}

// text writes like and begins-with with OData's string functions.
//
// Dataverse runs contains, startswith and endswith as T-SQL LIKE with the
// argument inside the pattern (Microsoft: "Use wildcard characters in
// conditions for string values"), so %, _ and [ in it are wildcards; a
// literal one is written bracketed ([%], [_], [[]). An sdk like pattern
// %x%, x% or %x whose x has no wildcard becomes contains, startswith or
// endswith of x; any other pattern is refused: OData has no general LIKE,
// and Dataverse's function list has no Like.
func (t *translator) text(b *strings.Builder, f *sdk.Filter, typ sdk.FieldType, path string, fail func(error) error) error {
	if typ != sdk.TypeString {
		return fail(fmt.Errorf("needs a text field; %s is %s", f.Field, typ))
	}
	p := f.Values[0].Str()
	if !utf8.ValidString(p) {
		return fail(errors.New("text is not valid UTF-8"))
	}
	fn, arg := "startswith", p
	if f.Op == sdk.OpLike {
		core := strings.TrimRight(strings.TrimLeft(p, "%"), "%")
		lead, trail := strings.HasPrefix(p, "%"), strings.HasSuffix(p, "%")
		switch {
		case strings.ContainsAny(core, "%_"):
			return fail(fmt.Errorf("pattern %q has a wildcard inside; OData can only say %%x%%, x%% and %%x", p))
		case lead && trail:
			fn = "contains"
		case lead:
			fn = "endswith"
		case trail:
			fn = "startswith"
		default:
			return fail(fmt.Errorf("pattern %q has no %% at either end; OData can only say %%x%%, x%% and %%x", p))
		}
		arg = core
	}
	b.WriteString(fn + "(" + path + "," + quote(literalPattern(arg)) + ")")
	return nil
}

// literalPattern brackets T-SQL LIKE's special characters.
func literalPattern(s string) string {
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

// literal renders v, a value of a field of type t, as an OData literal.
func literal(t sdk.FieldType, v sdk.Value) (string, error) {
	s, err := text(t, v)
	if err != nil {
		return "", err
	}
	if t == sdk.TypeString {
		return quote(s), nil
	}
	return s, nil
}

// text renders v as text: the literal without quotes, and the form the In
// functions take in PropertyValues.
func text(t sdk.FieldType, v sdk.Value) (string, error) {
	if v.Kind() != t.Kind() || v.IsNull() {
		return "", fmt.Errorf("a %s value cannot be compared with a %s field", v.Kind(), t)
	}
	switch t {
	case sdk.TypeString:
		if !utf8.ValidString(v.Str()) {
			return "", errors.New("text is not valid UTF-8")
		}
		return v.Str(), nil
	case sdk.TypeDecimal:
		return decimal(v.Str())
	case sdk.TypeGUID, sdk.TypeLookup:
		return guid(v.Str())
	case sdk.TypeInt, sdk.TypeChoice:
		return strconv.FormatInt(v.Int(), 10), nil
	case sdk.TypeFloat:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "", fmt.Errorf("%v is not a comparable number", f)
		}
		return strconv.FormatFloat(f, 'f', -1, 64), nil
	case sdk.TypeBool:
		return strconv.FormatBool(v.Bool()), nil
	case sdk.TypeDateTime:
		return dateTime(time.UnixMicro(v.Int()).UTC())
	}
	return "", fmt.Errorf("%s fields cannot be filtered", t)
}

// quote writes an OData string literal: single quotes, a quote doubled.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// jsonString writes s as a JSON string. OData passes a collection argument
// of a function as JSON (OData v4 URL Conventions 11.5.4.1), so
// PropertyValues=["a","b"].
func jsonString(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[r>>4])
			b.WriteByte(hex[r&0xF])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// dateTime writes an instant as ISO 8601 UTC (Edm.DateTimeOffset), with
// the fraction of a second only when there is one.
func dateTime(t time.Time) (string, error) {
	if y := t.Year(); y < 1 || y > 9999 {
		return "", fmt.Errorf("date-time in year %d is out of range", y)
	}
	return t.Format("2006-01-02T15:04:05.999999Z07:00"), nil
}

// decimal checks that s is a plain decimal number ("-12.50") and returns it
// without a leading plus (which a URL would turn into a space).
func decimal(s string) (string, error) {
	if !sdk.IsPlainDecimal(s) {
		return "", fmt.Errorf("%q is not a decimal number", s)
	}
	return strings.TrimPrefix(s, "+"), nil
}

// guid checks that s is a GUID in 8-4-4-4-12 form and returns it in lower
// case (how the sdk carries ids).
func guid(s string) (string, error) {
	if !sdk.IsGUID(s) {
		return "", fmt.Errorf("%q is not a GUID", s)
	}
	return strings.ToLower(s), nil
}

// checkName accepts logical names and navigation property names: a letter
// or underscore, then letters, digits and underscores. Anything else could
// change the expression around it.
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
