package mock

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fieldsync/fieldsync/sdk"
)

// maxFilterValues bounds the parameters one filter may bind, well under
// SQLite's limit of 32766 per statement.
const maxFilterValues = 10000

// whereSQL is a filter translated to a parameterised SQL condition. Field
// names come from the schema only (quoted), values only through parameters.
type whereSQL struct {
	sql  string
	args []any
}

// compileFilter translates f for entity e; parameters are numbered from
// first on. A nil filter is "1" (every row). who is the fetching user, for
// user-dependent operators (nil when the filter has none); now is the time
// relative dates count from. Every error is Permanent: the same filter will
// fail again.
func compileFilter(snap *schemaSnap, e *entity, f *sdk.Filter, first int, who *principal, now time.Time) (whereSQL, error) {
	if f == nil {
		return whereSQL{sql: "1"}, nil
	}
	if err := f.Check(&snap.schema, &e.Entity); err != nil {
		return whereSQL{}, sdk.Errorf(sdk.Permanent, "mock: %s: %w", e.Name, err)
	}
	fc := filterCompiler{snap: snap, next: first, who: who, now: now.UTC()}
	var b strings.Builder
	if err := fc.node(&b, e, e.table, f); err != nil {
		return whereSQL{}, sdk.Errorf(sdk.Permanent, "mock: %s: filter: %w", e.Name, err)
	}
	return whereSQL{sql: b.String(), args: fc.args}, nil
}

// FilterOps are the operators the mock translates: all of them.
var FilterOps = sdk.FilterOps

type filterCompiler struct {
	snap  *schemaSnap
	next  int
	args  []any
	who   *principal
	now   time.Time
	links int // link subqueries so far, naming their aliases
}

// param binds v and returns its placeholder.
func (fc *filterCompiler) param(v any) (string, error) {
	if len(fc.args) >= maxFilterValues {
		return "", fmt.Errorf("more than %d values", maxFilterValues)
	}
	fc.args = append(fc.args, v)
	n := fc.next
	fc.next++
	return fmt.Sprintf("?%d", n), nil
}

// node writes f as a condition on the rows of e, named tbl in the query.
func (fc *filterCompiler) node(b *strings.Builder, e *entity, tbl string, f *sdk.Filter) error {
	switch f.Op {
	case sdk.OpAnd, sdk.OpOr:
		b.WriteByte('(')
		for i, c := range f.Children {
			if i > 0 {
				if f.Op == sdk.OpAnd {
					b.WriteString(" AND ")
				} else {
					b.WriteString(" OR ")
				}
			}
			if err := fc.node(b, e, tbl, c); err != nil {
				return err
			}
		}
		b.WriteByte(')')
		return nil
	case sdk.OpNot:
		b.WriteString("NOT (")
		if err := fc.node(b, e, tbl, f.Children[0]); err != nil {
			return err
		}
		b.WriteByte(')')
		return nil
	case sdk.OpLink:
		return fc.link(b, e, tbl, f)
	}

	typ := sdk.TypeGUID
	col := tbl + "." + e.pk
	if f.Field != e.PrimaryKey {
		fd, _ := e.field(f.Field)
		if fd == nil { // Check checked; stay safe anyway
			return fmt.Errorf("unknown field %q", f.Field)
		}
		typ, col = fd.Type, tbl+"."+quote(fd.Name)
	}
	// Decimals live as exact text; compare them as numbers.
	wrap := func(x string) string { return x }
	if typ == sdk.TypeDecimal {
		wrap = func(x string) string { return "CAST(" + x + " AS NUMERIC)" }
	}
	value := func(v sdk.Value) (string, error) {
		arg, err := filterArg(typ, v)
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", f.Field, f.Op, err)
		}
		p, err := fc.param(arg)
		if err != nil {
			return "", err
		}
		return wrap(p), nil
	}

	switch f.Op {
	case sdk.OpIsNull:
		fmt.Fprintf(b, "%s IS NULL", col)
	case sdk.OpNotNull:
		fmt.Fprintf(b, "%s IS NOT NULL", col)
	case sdk.OpEq, sdk.OpNe, sdk.OpLt, sdk.OpLe, sdk.OpGt, sdk.OpGe:
		p, err := value(f.Values[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(b, "%s %s %s", wrap(col), cmpOps[f.Op], p)
	case sdk.OpIn, sdk.OpNotIn:
		b.WriteString(wrap(col))
		if f.Op == sdk.OpNotIn {
			b.WriteString(" NOT")
		}
		b.WriteString(" IN (")
		for i, v := range f.Values {
			p, err := value(v)
			if err != nil {
				return err
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(p)
		}
		b.WriteByte(')')
	case sdk.OpLike:
		p, err := fc.param(f.Values[0].Str())
		if err != nil {
			return err
		}
		fmt.Fprintf(b, "%s LIKE %s", col, p)
	case sdk.OpBeginsWith:
		prefix := f.Values[0].Str()
		n, err := fc.param(int64(utf8.RuneCountInString(prefix)))
		if err != nil {
			return err
		}
		p, err := fc.param(prefix)
		if err != nil {
			return err
		}
		fmt.Fprintf(b, "substr(%s, 1, %s) = %s", col, n, p)
	case sdk.OpLastXDays, sdk.OpNextXDays, sdk.OpOnOrAfter:
		return fc.dates(b, col, f)
	case sdk.OpEqUserID, sdk.OpNeUserID, sdk.OpEqBusinessID, sdk.OpEqUserOrUserTeams:
		return fc.user(b, e, tbl, col, f)
	default:
		return fmt.Errorf("unsupported operator %q", f.Op)
	}
	return nil
}

var cmpOps = map[sdk.FilterOp]string{
	sdk.OpEq: "=", sdk.OpNe: "<>", sdk.OpLt: "<", sdk.OpLe: "<=", sdk.OpGt: ">", sdk.OpGe: ">=",
}

// filterArg converts a filter value to what is bound for a field of type t,
// refusing values the field could never hold.
func filterArg(t sdk.FieldType, v sdk.Value) (any, error) {
	switch t {
	case sdk.TypeDecimal:
		if !isDecimal(v.Str()) {
			return nil, fmt.Errorf("%q is not a decimal number", v.Str())
		}
		return v.Str(), nil
	case sdk.TypeGUID, sdk.TypeLookup:
		// Ids are lower-case canonical text; match an upper-case spelling too.
		return strings.ToLower(v.Str()), nil
	case sdk.TypeFloat:
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%v is not a comparable number", f)
		}
		return v.Float(), nil
	case sdk.TypeBool:
		if v.Bool() {
			return int64(1), nil
		}
		return int64(0), nil
	}
	return v, nil
}

// filterText renders a filter for the request log.
func filterText(f *sdk.Filter) string {
	if f == nil {
		return ""
	}
	var b strings.Builder
	writeFilter(&b, f, 0)
	return b.String()
}

func writeFilter(b *strings.Builder, f *sdk.Filter, depth int) {
	if f == nil || depth > sdk.MaxFilterDepth {
		b.WriteString("…")
		return
	}
	switch f.Op {
	case sdk.OpLink:
		fmt.Fprintf(b, "%s link(", f.Field)
		for _, c := range f.Children {
			writeFilter(b, c, depth+1)
		}
		b.WriteByte(')')
		return
	case sdk.OpAnd, sdk.OpOr, sdk.OpNot:
		b.WriteString(string(f.Op))
		b.WriteByte('(')
		for i, c := range f.Children {
			if i > 0 {
				b.WriteString(", ")
			}
			writeFilter(b, c, depth+1)
		}
		b.WriteByte(')')
		return
	}
	fmt.Fprintf(b, "%s %s", f.Field, f.Op)
	for i, v := range f.Values {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte(' ')
		if i == 20 {
			fmt.Fprintf(b, "…(%d values)", len(f.Values))
			break
		}
		b.WriteString(v.String())
	}
}

// link writes a condition on the parent row the lookup names: the lookup's
// value is among the ids of the parent's matching rows.
func (fc *filterCompiler) link(b *strings.Builder, e *entity, tbl string, f *sdk.Filter) error {
	fd, _ := e.field(f.Field)
	if fd == nil || fd.Target == "" {
		return fmt.Errorf("link: %s is not a lookup", f.Field)
	}
	parent := fc.snap.entities[fd.Target]
	if parent == nil {
		return fmt.Errorf("link: %s targets unknown entity %q", f.Field, fd.Target)
	}
	fc.links++
	alias := fmt.Sprintf("_l%d", fc.links)
	fmt.Fprintf(b, "%s.%s IN (SELECT %s.%s FROM %s AS %s WHERE ", tbl, quote(fd.Name), alias, parent.pk, parent.table, alias)
	if err := fc.node(b, parent, alias, f.Children[0]); err != nil {
		return err
	}
	b.WriteByte(')')
	return nil
}

// dates writes the date operators. Date-times are stored as Unix
// microseconds. last-x-days N runs from the start of the UTC day N days ago
// to now; next-x-days N from now to the end of the UTC day N days ahead;
// on-or-after from the start of its value's UTC day.
func (fc *filterCompiler) dates(b *strings.Builder, col string, f *sdk.Filter) error {
	day := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) }
	var lo, hi int64
	switch f.Op {
	case sdk.OpLastXDays:
		lo = day(fc.now).AddDate(0, 0, -int(f.Values[0].Int())).UnixMicro()
		hi = fc.now.UnixMicro()
	case sdk.OpNextXDays:
		lo = fc.now.UnixMicro()
		hi = day(fc.now).AddDate(0, 0, int(f.Values[0].Int())+1).UnixMicro() - 1
	case sdk.OpOnOrAfter:
		p, err := fc.param(day(f.Values[0].Time()).UnixMicro())
		if err != nil {
			return err
		}
		fmt.Fprintf(b, "%s >= %s", col, p)
		return nil
	}
	pl, err := fc.param(lo)
	if err != nil {
		return err
	}
	ph, err := fc.param(hi)
	if err != nil {
		return err
	}
	fmt.Fprintf(b, "%s BETWEEN %s AND %s", col, pl, ph)
	return nil
}

// user writes the user-dependent operators for the fetching user (see
// accessDDL for how sharing counts).
func (fc *filterCompiler) user(b *strings.Builder, e *entity, tbl, col string, f *sdk.Filter) error {
	if fc.who == nil {
		return fmt.Errorf("%s %s needs the fetching user", f.Field, f.Op)
	}
	uid, err := fc.param(fc.who.id)
	if err != nil {
		return err
	}
	shared := func(principals string) error {
		ent, err := fc.param(e.Name)
		if err != nil {
			return err
		}
		fmt.Fprintf(b, " OR %s.%s IN (SELECT record_id FROM _share WHERE entity = %s AND principal IN (%s))", tbl, e.pk, ent, principals)
		return nil
	}
	switch f.Op {
	case sdk.OpEqUserID:
		fmt.Fprintf(b, "(%s = %s", col, uid)
		if err := shared(uid); err != nil {
			return err
		}
		b.WriteByte(')')
	case sdk.OpNeUserID:
		fmt.Fprintf(b, "%s <> %s", col, uid)
	case sdk.OpEqBusinessID:
		bu, err := fc.param(fc.who.businessUnit)
		if err != nil {
			return err
		}
		fmt.Fprintf(b, "%s = %s", col, bu)
	case sdk.OpEqUserOrUserTeams:
		principals := fmt.Sprintf("SELECT %[1]s UNION ALL SELECT teamid FROM _team_member WHERE userid = %[1]s", uid)
		fmt.Fprintf(b, "(%s IN (%s)", col, principals)
		if err := shared(principals); err != nil {
			return err
		}
		b.WriteByte(')')
	}
	return nil
}

// needsUser reports whether f has user-dependent operators.
func needsUser(f *sdk.Filter) bool {
	need := false
	f.Walk(func(n *sdk.Filter) { need = need || n.Op.IsUserDependent() })
	return need
}
