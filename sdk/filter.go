package sdk

import (
	"fmt"
)

// FilterOp is the operator of a Filter node.
type FilterOp string

const (
	// Groups: Children hold the conditions.
	OpAnd FilterOp = "and"
	OpOr  FilterOp = "or"
	OpNot FilterOp = "not"

	// Comparisons: one value.
	OpEq FilterOp = "eq"
	OpNe FilterOp = "ne"
	OpLt FilterOp = "lt"
	OpLe FilterOp = "le"
	OpGt FilterOp = "gt"
	OpGe FilterOp = "ge"
	// Sets: one or more values.
	OpIn    FilterOp = "in"
	OpNotIn FilterOp = "not-in"
	// Text: one text value.
	OpLike       FilterOp = "like"        // SQL LIKE pattern: % any run, _ one character
	OpBeginsWith FilterOp = "begins-with" // prefix match on text
	// Null checks: no value.
	OpIsNull  FilterOp = "null"
	OpNotNull FilterOp = "not-null"

	// Dates, on date-time fields, evaluated by the server at the time of
	// the fetch (so a row can leave the filter without changing).
	OpLastXDays FilterOp = "last-x-days" // one int N: from N days before now until now
	OpNextXDays FilterOp = "next-x-days" // one int N: from now until N days ahead
	OpOnOrAfter FilterOp = "on-or-after" // one date-time: on its UTC day or later

	// User-dependent, no value: the server knows who fetches. They compare
	// a GUID or lookup field with the syncing user's id, the user's
	// business unit, or the user and every team the user belongs to.
	OpEqUserID          FilterOp = "eq-userid"
	OpNeUserID          FilterOp = "ne-userid"
	OpEqBusinessID      FilterOp = "eq-businessid"
	OpEqUserOrUserTeams FilterOp = "eq-useroruserteams"

	// OpLink is a condition on a linked (parent) row: Field names a lookup
	// of this entity and the one child is a condition on the entity the
	// lookup targets. A row matches when its lookup names a parent row
	// that matches the child.
	OpLink FilterOp = "link"
)

// FilterOps lists every operator, in the order of the sections above.
var FilterOps = []FilterOp{
	OpAnd, OpOr, OpNot,
	OpEq, OpNe, OpLt, OpLe, OpGt, OpGe, OpIn, OpNotIn, OpLike, OpBeginsWith, OpIsNull, OpNotNull,
	OpLastXDays, OpNextXDays, OpOnOrAfter,
	OpEqUserID, OpNeUserID, OpEqBusinessID, OpEqUserOrUserTeams,
	OpLink,
}

// IsGroup reports whether op combines child conditions.
func (op FilterOp) IsGroup() bool { return op == OpAnd || op == OpOr || op == OpNot }

// IsUserDependent reports whether op's meaning depends on who fetches.
func (op FilterOp) IsUserDependent() bool {
	switch op {
	case OpEqUserID, OpNeUserID, OpEqBusinessID, OpEqUserOrUserTeams:
		return true
	}
	return false
}

// IsRelativeDate reports whether op compares with the time of the fetch.
func (op FilterOp) IsRelativeDate() bool { return op == OpLastXDays || op == OpNextXDays }

// arity is how many values op takes: -1 means one or more.
func (op FilterOp) arity() (int, bool) {
	switch op {
	case OpEq, OpNe, OpLt, OpLe, OpGt, OpGe, OpLike, OpBeginsWith, OpLastXDays, OpNextXDays, OpOnOrAfter:
		return 1, true
	case OpIn, OpNotIn:
		return -1, true
	case OpIsNull, OpNotNull, OpEqUserID, OpNeUserID, OpEqBusinessID, OpEqUserOrUserTeams:
		return 0, true
	}
	return 0, false
}

// MaxRelativeDays bounds last-x-days and next-x-days.
const MaxRelativeDays = 36500

// Filter is a condition tree: And/Or/Not nodes hold Children; comparison
// nodes name a Field and hold Values (see each operator for how many); a
// Link node names a lookup Field and holds one child, a condition on the
// parent entity. Every connector translates it into its server's query
// language; one that cannot express a node must refuse it with a permanent
// error, never widen it, and lists the operators it can express in
// Info.FilterOps so a configuration that needs others is refused before
// anything is fetched.
//
// How a comparison treats a row whose field is null follows the backend
// (SQL and FetchXML leave it out of ne and not-in, OData and SOQL keep it);
// a filter that must include or exclude null rows says so with OpIsNull or
// OpNotNull.
type Filter struct {
	Op       FilterOp
	Children []*Filter
	Field    string
	Values   []Value
}

// And, Or, Not, Cmp and Link build filters.
func And(children ...*Filter) *Filter { return &Filter{Op: OpAnd, Children: children} }
func Or(children ...*Filter) *Filter  { return &Filter{Op: OpOr, Children: children} }
func Not(child *Filter) *Filter       { return &Filter{Op: OpNot, Children: []*Filter{child}} }
func Cmp(field string, op FilterOp, values ...Value) *Filter {
	return &Filter{Op: op, Field: field, Values: values}
}
func Link(lookup string, cond *Filter) *Filter {
	return &Filter{Op: OpLink, Field: lookup, Children: []*Filter{cond}}
}

// MaxFilterDepth bounds nesting so a hostile filter cannot exhaust a stack.
const MaxFilterDepth = 32

// Validate checks the filter's shape against an entity: known operators,
// known fields, the right number of values and values of the field's kind.
// A Link's condition is checked for shape only; Check also checks it
// against the parent entity.
func (f *Filter) Validate(e *Entity) error { return f.validate(nil, e, 0) }

// Check is Validate with the whole schema, so the conditions of Link nodes
// are checked against the entities their lookups target.
func (f *Filter) Check(s *Schema, e *Entity) error { return f.validate(s, e, 0) }

func (f *Filter) validate(s *Schema, e *Entity, depth int) error {
	if f == nil {
		return nil
	}
	if depth > MaxFilterDepth {
		return fmt.Errorf("filter nested deeper than %d", MaxFilterDepth)
	}
	switch f.Op {
	case OpAnd, OpOr, OpNot:
		if f.Op == OpNot && len(f.Children) != 1 {
			return fmt.Errorf("filter: not takes one condition, got %d", len(f.Children))
		}
		if len(f.Children) == 0 {
			return fmt.Errorf("filter: %s has no conditions", f.Op)
		}
		for _, c := range f.Children {
			if c == nil {
				return fmt.Errorf("filter: %s has an empty condition", f.Op)
			}
			if err := c.validate(s, e, depth+1); err != nil {
				return err
			}
		}
		return nil
	case OpLink:
		if len(f.Children) != 1 || f.Children[0] == nil {
			return fmt.Errorf("filter: link %s takes one condition on the parent", f.Field)
		}
		if len(f.Values) != 0 {
			return fmt.Errorf("filter: link %s takes no values", f.Field)
		}
		var parent *Entity
		if e != nil {
			fd := e.Field(f.Field)
			if fd == nil {
				return fmt.Errorf("filter: entity %q has no field %q", e.Name, f.Field)
			}
			if fd.Type != TypeLookup || fd.Target == "" {
				return fmt.Errorf("filter: link needs a lookup field; %s.%s is %s", e.Name, f.Field, fd.Type)
			}
			if s != nil {
				if parent = s.Entity(fd.Target); parent == nil {
					return fmt.Errorf("filter: %s.%s links to %q, which the schema lacks", e.Name, f.Field, fd.Target)
				}
			}
		}
		return f.Children[0].validate(s, parent, depth+1)
	}
	if len(f.Children) != 0 {
		return fmt.Errorf("filter: %s %s takes no conditions", f.Field, f.Op)
	}
	if f.Field == "" {
		return fmt.Errorf("filter: %s names no field", f.Op)
	}
	var field *Field
	if e != nil {
		if f.Field == e.PrimaryKey {
			field = &Field{Name: f.Field, Type: TypeGUID}
		} else if field = e.Field(f.Field); field == nil {
			return fmt.Errorf("filter: entity %q has no field %q", e.Name, f.Field)
		}
	}
	want, known := f.Op.arity()
	if !known {
		return fmt.Errorf("filter: unknown operator %q", f.Op)
	}
	if want >= 0 && len(f.Values) != want {
		return fmt.Errorf("filter: %s %s takes %d value(s), got %d", f.Field, f.Op, want, len(f.Values))
	}
	if want < 0 && len(f.Values) == 0 {
		return fmt.Errorf("filter: %s %s needs at least one value", f.Field, f.Op)
	}
	switch f.Op {
	case OpLike, OpBeginsWith:
		if f.Values[0].Kind() != KindString {
			return fmt.Errorf("filter: %s %s needs a text value", f.Field, f.Op)
		}
	case OpLastXDays, OpNextXDays:
		if f.Values[0].Kind() != KindInt || f.Values[0].Int() < 0 || f.Values[0].Int() > MaxRelativeDays {
			return fmt.Errorf("filter: %s %s needs a whole number of days from 0 to %d", f.Field, f.Op, MaxRelativeDays)
		}
		if field != nil && field.Type != TypeDateTime {
			return fmt.Errorf("filter: %s %s needs a date-time field; %s is %s", f.Field, f.Op, f.Field, field.Type)
		}
		return nil
	case OpOnOrAfter:
		if field != nil && field.Type != TypeDateTime {
			return fmt.Errorf("filter: %s %s needs a date-time field; %s is %s", f.Field, f.Op, f.Field, field.Type)
		}
	case OpEqUserID, OpNeUserID, OpEqBusinessID, OpEqUserOrUserTeams:
		if field != nil && field.Type != TypeGUID && field.Type != TypeLookup {
			return fmt.Errorf("filter: %s %s needs an id (GUID or lookup) field; %s is %s", f.Field, f.Op, f.Field, field.Type)
		}
		return nil
	}
	for _, v := range f.Values {
		if v.IsNull() {
			return fmt.Errorf("filter: %s %s compares with null; use null or not-null", f.Field, f.Op)
		}
		if field != nil {
			if err := v.CheckType(field.Type); err != nil {
				return fmt.Errorf("filter: %s %s: %w", f.Field, f.Op, err)
			}
		}
	}
	return nil
}

// Walk calls fn for every node of f, parents first; a Link's condition is
// visited too (fn sees the Link node before it).
func (f *Filter) Walk(fn func(*Filter)) {
	if f == nil {
		return
	}
	fn(f)
	for _, c := range f.Children {
		c.Walk(fn)
	}
}

// Ops lists the distinct operators f uses.
func (f *Filter) Ops() []FilterOp {
	seen := map[FilterOp]bool{}
	var out []FilterOp
	f.Walk(func(n *Filter) {
		if !seen[n.Op] {
			seen[n.Op] = true
			out = append(out, n.Op)
		}
	})
	return out
}

// Volatile reports whether a row's match can change without the row
// changing: relative dates move with the clock, user-dependent operators
// with team membership and business units, linked conditions with the
// parent row. An engine cannot learn of such a row leaving the filter from
// the row's changes, so it checks which rows still match.
func (f *Filter) Volatile() bool {
	v := false
	f.Walk(func(n *Filter) {
		if n.Op.IsRelativeDate() || n.Op.IsUserDependent() || n.Op == OpLink {
			v = true
		}
	})
	return v
}

// SupportsFilter reports whether every operator f uses is among ops, and
// names the first that is not.
func SupportsFilter(ops []FilterOp, f *Filter) (FilterOp, bool) {
	have := make(map[FilterOp]bool, len(ops))
	for _, op := range ops {
		have[op] = true
	}
	for _, op := range f.Ops() {
		if !have[op] {
			return op, false
		}
	}
	return "", true
}
