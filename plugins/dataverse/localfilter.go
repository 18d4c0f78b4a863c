package dataverse

import (
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/fieldsync/fieldsync/plugins/dataverse/odata"
	"github.com/fieldsync/fieldsync/sdk"
)

// Filters $filter cannot say exactly.
//
// OData has no general LIKE (odata.Filter refuses a like pattern with a
// wildcard inside, such as "%ab_c%"). Such a filter is still served,
// exactly, when every condition in it is on a column of the entity itself:
// the server gets a wider filter, in which each condition $filter cannot
// say becomes, where it counts for the result (under an even number of
// nots), a condition every matching row meets — contains() of the
// pattern's longest literal run, or nothing — and, under an odd number,
// one no row meets (so the not of it is again wide). The rows that come
// back are then checked against the whole original filter here, and only
// those that match are sent: the result is the filter's, never wider.
// Comparisons here follow Dataverse's case-insensitive collation (text is
// compared in lower case) and OData's null reading (null ne x holds).
//
// A filter with links or user or relative-date operators whose $filter
// form fails is refused as before: those cannot be checked on a row.

// localPlan is the widened server filter and what the rows are checked
// against.
type localPlan struct {
	server string      // $filter of the wider condition ("" for none)
	filter *sdk.Filter // the original, checked on each row
	fields []string    // columns the check reads
}

// widen plans a filter that odata.Filter refused with refusal. It returns
// refusal again when the filter cannot be checked on a row.
func widen(f *sdk.Filter, m *model, e *entity, refusal error) (*localPlan, error) {
	if err := f.Check(m.schema, e.sdk); err != nil {
		return nil, refusal
	}
	var fields []string
	ok := true
	f.Walk(func(n *sdk.Filter) {
		switch n.Op {
		case sdk.OpAnd, sdk.OpOr, sdk.OpNot:
			return
		case sdk.OpEq, sdk.OpNe, sdk.OpLt, sdk.OpLe, sdk.OpGt, sdk.OpGe, sdk.OpIn, sdk.OpNotIn,
			sdk.OpLike, sdk.OpBeginsWith, sdk.OpIsNull, sdk.OpNotNull, sdk.OpOnOrAfter:
			fd := e.byName[n.Field]
			if n.Field == e.pk {
				return
			}
			if fd == nil || fd.typ == sdk.TypeBinary {
				ok = false
				return
			}
			if !slices.Contains(fields, n.Field) {
				fields = append(fields, n.Field)
			}
		default:
			ok = false
		}
	})
	if !ok {
		return nil, refusal
	}
	wide, constant := widenNode(f, m, e, true)
	lp := &localPlan{filter: f, fields: fields}
	switch {
	case wide != nil:
		s, err := odata.Filter(wide, m.schema, e.sdk, m.nav)
		if err != nil {
			return nil, refusal
		}
		lp.server = s
	case !constant:
		lp.server = e.pk + " eq null" // matches nothing: no row can match
	}
	return lp, nil
}

// widenNode returns the wider (positive) or narrower (negative) form of n
// as a filter, or a constant (nil filter with its value).
func widenNode(n *sdk.Filter, m *model, e *entity, positive bool) (*sdk.Filter, bool) {
	switch n.Op {
	case sdk.OpAnd, sdk.OpOr:
		var kids []*sdk.Filter
		for _, c := range n.Children {
			w, v := widenNode(c, m, e, positive)
			if w == nil {
				if v == (n.Op == sdk.OpOr) {
					return nil, v // true in an or, false in an and
				}
				continue // true in an and, false in an or: drop it
			}
			kids = append(kids, w)
		}
		if len(kids) == 0 {
			return nil, n.Op == sdk.OpAnd
		}
		if len(kids) == 1 {
			return kids[0], false
		}
		return &sdk.Filter{Op: n.Op, Children: kids}, false
	case sdk.OpNot:
		w, v := widenNode(n.Children[0], m, e, !positive)
		if w == nil {
			return nil, !v
		}
		return sdk.Not(w), false
	}
	if _, err := odata.Filter(n, m.schema, e.sdk, m.nav); err == nil {
		return n, false
	}
	if positive && n.Op == sdk.OpLike {
		if run := longestRun(n.Values[0].Str()); run != "" {
			return sdk.Cmp(n.Field, sdk.OpLike, sdk.String("%"+run+"%")), false
		}
	}
	return nil, positive
}

// longestRun is the longest stretch of a like pattern without wildcards.
func longestRun(p string) string {
	best := ""
	for _, s := range strings.FieldsFunc(p, func(r rune) bool { return r == '%' || r == '_' }) {
		if len(s) > len(best) {
			best = s
		}
	}
	return best
}

// matches evaluates f on a row (values by field name; the key under the
// primary key's name).
func matches(f *sdk.Filter, e *entity, row map[string]sdk.Value) bool {
	switch f.Op {
	case sdk.OpAnd:
		for _, c := range f.Children {
			if !matches(c, e, row) {
				return false
			}
		}
		return true
	case sdk.OpOr:
		for _, c := range f.Children {
			if matches(c, e, row) {
				return true
			}
		}
		return false
	case sdk.OpNot:
		return !matches(f.Children[0], e, row)
	}
	v := row[f.Field]
	typ := sdk.TypeGUID
	if fd := e.byName[f.Field]; fd != nil {
		typ = fd.typ
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
	cmp := func(w sdk.Value) int { return compareValues(typ, v, w) }
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
		return strings.HasPrefix(strings.ToLower(v.Str()), strings.ToLower(f.Values[0].Str()))
	case sdk.OpLike:
		return likePattern(f.Values[0].Str()).MatchString(v.Str())
	case sdk.OpOnOrAfter:
		day := f.Values[0].Time().Truncate(24 * 60 * 60 * 1e9)
		return !v.Time().Before(day)
	}
	return false
}

func compareValues(t sdk.FieldType, a, b sdk.Value) int {
	switch t {
	case sdk.TypeString, sdk.TypeGUID, sdk.TypeLookup:
		return strings.Compare(strings.ToLower(a.Str()), strings.ToLower(b.Str()))
	case sdk.TypeDecimal:
		x, okX := new(big.Rat).SetString(a.Str())
		y, okY := new(big.Rat).SetString(b.Str())
		if okX && okY {
			return x.Cmp(y)
		}
		return strings.Compare(a.Str(), b.Str())
	case sdk.TypeFloat:
		switch x, y := a.Float(), b.Float(); {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case sdk.TypeBool:
		return int(a.Int() - b.Int())
	}
	switch x, y := a.Int(), b.Int(); {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// likePattern compiles a T-SQL LIKE pattern (% any run, _ one character),
// case-insensitive as Dataverse's collation.
func likePattern(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("(?is)^")
	for _, r := range p {
		switch r {
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// filterKey renders a filter exactly, for signatures.
func filterKey(f *sdk.Filter) string {
	if f == nil {
		return ""
	}
	var b strings.Builder
	var walk func(n *sdk.Filter)
	walk = func(n *sdk.Filter) {
		b.WriteString(string(n.Op) + "(" + strconv.Quote(n.Field))
		for _, v := range n.Values {
			b.WriteString("," + v.Kind().String() + ":" + v.String())
		}
		for _, c := range n.Children {
			b.WriteByte(',')
			walk(c)
		}
		b.WriteByte(')')
	}
	walk(f)
	return b.String()
}
