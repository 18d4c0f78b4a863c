package mock

import (
	"fmt"
	"math"
	"strings"
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
// first on. A nil filter is "1" (every row). Every error is Permanent: the
// same filter will fail again.
func compileFilter(e *entity, f *sdk.Filter, first int) (whereSQL, error) {
	if f == nil {
		return whereSQL{sql: "1"}, nil
	}
	if err := f.Validate(&e.Entity); err != nil {
		return whereSQL{}, sdk.Errorf(sdk.Permanent, "mock: %s: %w", e.Name, err)
	}
	fc := filterCompiler{e: e, next: first}
	var b strings.Builder
	if err := fc.node(&b, f); err != nil {
		return whereSQL{}, sdk.Errorf(sdk.Permanent, "mock: %s: filter: %w", e.Name, err)
	}
	return whereSQL{sql: b.String(), args: fc.args}, nil
}

type filterCompiler struct {
	e    *entity
	next int
	args []any
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

func (fc *filterCompiler) node(b *strings.Builder, f *sdk.Filter) error {
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
			if err := fc.node(b, c); err != nil {
				return err
			}
		}
		b.WriteByte(')')
		return nil
	case sdk.OpNot:
		b.WriteString("NOT (")
		if err := fc.node(b, f.Children[0]); err != nil {
			return err
		}
		b.WriteByte(')')
		return nil
	}

	typ := sdk.TypeGUID
	col := fc.e.pk
	if f.Field != fc.e.PrimaryKey {
		fd, _ := fc.e.field(f.Field)
		if fd == nil { // Validate checked; stay safe anyway
			return fmt.Errorf("unknown field %q", f.Field)
		}
		typ, col = fd.Type, quote(fd.Name)
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
