// Package soql translates sync filters (sdk.Filter) into SOQL WHERE
// conditions for the Salesforce connector. It is pure: it neither sends
// queries nor reads the clock, and it never widens a filter — what SOQL
// cannot say exactly is refused with a permanent error naming the node.
package soql

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

// Ops lists the operators Where translates. eq-businessid and
// eq-useroruserteams are left out: Salesforce has neither business units
// nor teams in Dataverse's sense.
var Ops = []sdk.FilterOp{
	sdk.OpAnd, sdk.OpOr, sdk.OpNot,
	sdk.OpEq, sdk.OpNe, sdk.OpLt, sdk.OpLe, sdk.OpGt, sdk.OpGe,
	sdk.OpIn, sdk.OpNotIn, sdk.OpLike, sdk.OpBeginsWith, sdk.OpIsNull, sdk.OpNotNull,
	sdk.OpLastXDays, sdk.OpNextXDays, sdk.OpOnOrAfter,
	sdk.OpEqUserID, sdk.OpNeUserID,
	sdk.OpLink,
}

// MaxLinkDepth is how many relationships a path may cross: SOQL allows
// five levels of child-to-parent relationships (Account.Owner.Manager.…).
const MaxLinkDepth = 5

// RelNameFunc returns the relationship name of entity's lookup field (the
// name a path uses: Account for AccountId), or "" when there is none. The
// connector reads it from describe (relationshipName).
type RelNameFunc func(entity, lookupField string) string

// DefaultRelName follows Salesforce's naming convention: a standard lookup
// drops its Id suffix (AccountId → Account, OwnerId → Owner), a custom one
// turns __c into __r (Region__c → Region__r). Other names have no
// relationship here.
func DefaultRelName(entity, lookupField string) string {
	switch {
	case strings.HasSuffix(lookupField, "__c") && len(lookupField) > 3:
		return strings.TrimSuffix(lookupField, "__c") + "__r"
	case strings.HasSuffix(lookupField, "Id") && len(lookupField) > 2:
		return strings.TrimSuffix(lookupField, "Id")
	}
	return ""
}

// UserContext is what Where needs beyond the filter: who is syncing and
// how lookups are named.
type UserContext struct {
	// UserID is the syncing user's id (005…), compared by eq-userid and
	// ne-userid, which SOQL has no operator for.
	UserID string
	// RelName names relationships; nil means DefaultRelName.
	RelName RelNameFunc
}

// Where translates f, a filter on entity e of schema s, into a SOQL WHERE
// condition (without the WHERE keyword; the caller URL-encodes the whole
// query). A nil filter gives "" (every row). s may be nil when f has no
// link. Errors are sdk.Permanent: the same filter fails again.
//
// Values: text in single quotes with backslash escapes (\' \" \\ \n \r \t
// \f); ids quoted; date-times unquoted as 2026-01-02T03:04:05Z (with
// milliseconds when there are any); bools TRUE and FALSE; numbers plain.
// null and not-null are "= null" and "!= null".
func Where(f *sdk.Filter, s *sdk.Schema, e *sdk.Entity, uc UserContext) (string, error) {
	if f == nil {
		return "", nil
	}
	if e == nil {
		return "", sdk.Errorf(sdk.Permanent, "soql: no entity to translate the filter for")
	}
	out, err := translate(f, s, e, uc)
	if err != nil {
		return "", sdk.Errorf(sdk.Permanent, "soql: %s: %w", e.Name, err)
	}
	return out, nil
}

func translate(f *sdk.Filter, s *sdk.Schema, e *sdk.Entity, uc UserContext) (string, error) {
	var err error
	if s != nil {
		err = f.Check(s, e)
	} else {
		err = f.Validate(e)
	}
	if err != nil {
		return "", err
	}
	t := translator{s: s, uc: uc}
	if t.uc.RelName == nil {
		t.uc.RelName = DefaultRelName
	}
	var b strings.Builder
	if err := t.expr(&b, f, e, "", 0, false); err != nil {
		return "", err
	}
	return b.String(), nil
}

type translator struct {
	s  *sdk.Schema
	uc UserContext
}

// expr writes f, a condition on entity e reached through path prefix ("" or
// "Rel.…."), links deep; nested says whether an operator binds around it.
func (t *translator) expr(b *strings.Builder, f *sdk.Filter, e *sdk.Entity, prefix string, links int, nested bool) error {
	switch f.Op {
	case sdk.OpAnd, sdk.OpOr:
		if len(f.Children) == 1 {
			return t.expr(b, f.Children[0], e, prefix, links, nested)
		}
		if nested {
			b.WriteByte('(')
		}
		for i, c := range f.Children {
			if i > 0 {
				b.WriteString(" " + strings.ToUpper(string(f.Op)) + " ")
			}
			if err := t.expr(b, c, e, prefix, links, true); err != nil {
				return err
			}
		}
		if nested {
			b.WriteByte(')')
		}
		return nil
	case sdk.OpNot:
		b.WriteString("NOT (")
		if err := t.expr(b, f.Children[0], e, prefix, links, false); err != nil {
			return err
		}
		b.WriteByte(')')
		return nil
	case sdk.OpLink:
		return t.link(b, f, e, prefix, links, nested)
	}
	return t.cond(b, f, e, prefix)
}

// link writes "<lookup> != null AND <condition on Rel.…>". Through a null
// lookup every parent field reads as null, so without the first test a
// condition such as Account.Name = null would match contacts without an
// account.
func (t *translator) link(b *strings.Builder, f *sdk.Filter, e *sdk.Entity, prefix string, links int, nested bool) error {
	if links >= MaxLinkDepth {
		return fmt.Errorf("link through %s: SOQL follows at most %d relationships", f.Field, MaxLinkDepth)
	}
	if t.s == nil {
		return fmt.Errorf("link through %s needs the schema", f.Field)
	}
	fd := e.Field(f.Field)
	if fd == nil || fd.Type != sdk.TypeLookup {
		return fmt.Errorf("link: %s.%s is not a lookup", e.Name, f.Field)
	}
	if err := checkName(f.Field); err != nil {
		return err
	}
	parent := t.s.Entity(fd.Target)
	if parent == nil {
		return fmt.Errorf("link: %s.%s targets %q, which the schema lacks", e.Name, f.Field, fd.Target)
	}
	rel := t.uc.RelName(e.Name, f.Field)
	if rel == "" {
		return fmt.Errorf("link: %s.%s has no relationship name", e.Name, f.Field)
	}
	if err := checkName(rel); err != nil {
		return fmt.Errorf("link through %s: relationship %w", f.Field, err)
	}
	if nested {
		b.WriteByte('(')
	}
	b.WriteString(prefix + f.Field + " != null AND ")
	if err := t.expr(b, f.Children[0], parent, prefix+rel+".", links+1, true); err != nil {
		return err
	}
	if nested {
		b.WriteByte(')')
	}
	return nil
}

var comparisons = map[sdk.FilterOp]string{
	sdk.OpEq: "=", sdk.OpNe: "!=", sdk.OpLt: "<", sdk.OpLe: "<=", sdk.OpGt: ">", sdk.OpGe: ">=",
}

func (t *translator) cond(b *strings.Builder, f *sdk.Filter, e *sdk.Entity, prefix string) error {
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
	fail := func(err error) error { return fmt.Errorf("%s %s: %w", f.Field, f.Op, err) }
	if typ == sdk.TypeBinary || typ == sdk.TypeUnknown {
		// Base64 fields cannot be filtered in SOQL.
		return fail(fmt.Errorf("%s fields cannot be filtered", typ))
	}
	path := prefix + f.Field

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
	case sdk.OpIsNull:
		b.WriteString(path + " = null")
	case sdk.OpNotNull:
		b.WriteString(path + " != null")
	case sdk.OpIn, sdk.OpNotIn:
		b.WriteString(path)
		if f.Op == sdk.OpNotIn {
			b.WriteString(" NOT")
		}
		b.WriteString(" IN (")
		for i, v := range f.Values {
			lit, err := literal(typ, v)
			if err != nil {
				return fail(err)
			}
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(lit)
		}
		b.WriteByte(')')
	case sdk.OpLike, sdk.OpBeginsWith:
		if typ != sdk.TypeString {
			return fail(fmt.Errorf("needs a text field; %s is %s", f.Field, typ))
		}
		// SOQL's LIKE has the sdk's wildcards (% and _); a begins-with
		// prefix escapes them (\% and \_, valid only in LIKE).
		p := f.Values[0].Str()
		if f.Op == sdk.OpBeginsWith {
			p = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(p)
		} else {
			p = strings.ReplaceAll(p, `\`, `\\`)
		}
		q, err := quoteEscaped(p)
		if err != nil {
			return fail(err)
		}
		if f.Op == sdk.OpBeginsWith {
			q = q[:len(q)-1] + "%'"
		}
		b.WriteString(path + " LIKE " + q)
	case sdk.OpLastXDays, sdk.OpNextXDays:
		// Date literals: LAST_N_DAYS:n and NEXT_N_DAYS:n, which count
		// whole days in the user's time zone (the sdk leaves relative dates
		// to the server).
		d := f.Values[0].Int()
		if d < 1 || d > sdk.MaxRelativeDays {
			return fail(fmt.Errorf("needs 1 to %d days, got %d", sdk.MaxRelativeDays, d))
		}
		lit := "LAST_N_DAYS:"
		if f.Op == sdk.OpNextXDays {
			lit = "NEXT_N_DAYS:"
		}
		b.WriteString(path + " = " + lit + strconv.FormatInt(d, 10))
	case sdk.OpOnOrAfter:
		day := time.UnixMicro(f.Values[0].Int()).UTC().Truncate(24 * time.Hour)
		lit, err := dateTime(day)
		if err != nil {
			return fail(err)
		}
		b.WriteString(path + " >= " + lit)
	case sdk.OpEqUserID, sdk.OpNeUserID:
		if t.uc.UserID == "" {
			return fail(errors.New("the syncing user's id is unknown"))
		}
		id, err := salesforceID(t.uc.UserID)
		if err != nil {
			return fail(fmt.Errorf("user id: %w", err))
		}
		op := " = "
		if f.Op == sdk.OpNeUserID {
			op = " != "
		}
		b.WriteString(path + op + "'" + id + "'")
	case sdk.OpEqBusinessID, sdk.OpEqUserOrUserTeams:
		return fail(errors.New("Salesforce has no business units or teams to compare with"))
	default:
		return fail(errors.New("unsupported operator"))
	}
	return nil
}

// literal renders v, a value of a field of type t, as a SOQL literal.
func literal(t sdk.FieldType, v sdk.Value) (string, error) {
	if v.Kind() != t.Kind() || v.IsNull() {
		return "", fmt.Errorf("a %s value cannot be compared with a %s field", v.Kind(), t)
	}
	switch t {
	case sdk.TypeString:
		return quote(v.Str())
	case sdk.TypeDecimal:
		return decimal(v.Str())
	case sdk.TypeGUID, sdk.TypeLookup:
		id, err := salesforceID(v.Str())
		if err != nil {
			return "", err
		}
		return "'" + id + "'", nil
	case sdk.TypeInt, sdk.TypeChoice:
		return strconv.FormatInt(v.Int(), 10), nil
	case sdk.TypeFloat:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "", fmt.Errorf("%v is not a comparable number", f)
		}
		return strconv.FormatFloat(f, 'f', -1, 64), nil
	case sdk.TypeBool:
		return strings.ToUpper(strconv.FormatBool(v.Bool())), nil
	case sdk.TypeDateTime:
		return dateTime(time.UnixMicro(v.Int()).UTC())
	}
	return "", fmt.Errorf("%s fields cannot be filtered", t)
}

// quote writes a SOQL string literal.
func quote(s string) (string, error) {
	return quoteEscaped(strings.ReplaceAll(s, `\`, `\\`))
}

// quoteEscaped writes a SOQL string literal of s, whose backslashes are
// already escapes. SOQL knows \n \r \t \b \f \" \' \\ (and in LIKE \% \_);
// any other backslash is an error, and \b is documented as "bell", which
// leaves unclear which character it stands for, so control characters
// other than line ends, tab and form feed are refused.
func quoteEscaped(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", errors.New("text is not valid UTF-8")
	}
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\'':
			b.WriteString(`\'`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 || r == 0x7F {
				return "", fmt.Errorf("text holds %U, which SOQL cannot quote", r)
			}
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String(), nil
}

// Salesforce accepts date-times from 1700-01-01 to 4000-12-31 (SOQL and SOSL
// Reference, "Date Formats and Date Literals").
var (
	minDateTime = time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC)
	maxDateTime = time.Date(4000, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// dateTime writes an instant as SOQL's unquoted YYYY-MM-DDThh:mm:ssZ.
// Salesforce keeps milliseconds, so a value with some is written with them
// (.sssZ); a finer one cannot be compared exactly and is refused.
func dateTime(t time.Time) (string, error) {
	if t.Before(minDateTime) || t.After(maxDateTime) {
		return "", fmt.Errorf("date-time %s is outside Salesforce's range (1700 to 4000)", t.Format(time.RFC3339Nano))
	}
	if t.Nanosecond()%int(time.Millisecond) != 0 {
		return "", fmt.Errorf("date-time %s is finer than the milliseconds Salesforce keeps", t.Format(time.RFC3339Nano))
	}
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04:05Z"), nil
	}
	return t.Format("2006-01-02T15:04:05.000Z"), nil
}

// decimal checks that s is a plain decimal number ("-12.50") and returns it
// without a leading plus.
func decimal(s string) (string, error) {
	if !sdk.IsPlainDecimal(s) {
		return "", fmt.Errorf("%q is not a decimal number", s)
	}
	return strings.TrimPrefix(s, "+"), nil
}

// salesforceID checks that s is a Salesforce id: 15 (case-sensitive) or 18
// letters and digits. Ids are compared as given; case matters in the
// 15-character form.
func salesforceID(s string) (string, error) {
	if len(s) != 15 && len(s) != 18 {
		return "", fmt.Errorf("%q is not a Salesforce id", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return "", fmt.Errorf("%q is not a Salesforce id", s)
		}
	}
	return s, nil
}

// checkName accepts Salesforce API names: a letter, then letters, digits
// and underscores (Name, Region__c, Region__r, ns__Field__c). Anything else
// could change the query around it.
func checkName(s string) error {
	if s == "" || len(s) > 255 {
		return fmt.Errorf("%q is not an API name", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && (c == '_' || '0' <= c && c <= '9') {
			continue
		}
		return fmt.Errorf("%q is not an API name", s)
	}
	return nil
}
