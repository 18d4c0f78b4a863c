package sdk

import (
	"fmt"
)

// FetchRequest asks for one entity's rows.
//
// With no Token it is a full read; with a Token (from the last page of an
// earlier fetch) it returns what changed since: upserts and deletes. Cursor,
// taken from any page, resumes that same fetch after that page. The connector
// evaluates Filter on its server, so rows outside it never leave the server.
//
// What the contract suite holds every connector to:
//   - incremental fetches are exact: a row unchanged since the token is not
//     sent, and a token may be used more than once (a connector that tracks
//     changes by timestamp keeps the ids at the boundary in its token);
//   - PageSize bounds a page's rows plus deletes, so a backend whose
//     smallest batch is larger splits its batches;
//   - a filtered incremental fetch sends a changed row that no longer matches
//     as a delete, so the device drops what left its data set.
type FetchRequest struct {
	Entity   string
	Fields   []string // selected fields; nil means all of the entity's fields
	Filter   *Filter  // nil means every row
	Token    []byte   // change token for an incremental fetch
	Cursor   []byte   // resume after the page that carried this cursor
	PageSize int      // rows per page; 0 lets the connector choose
}

// DefaultPageSize is used when a FetchRequest does not set one.
const DefaultPageSize = 1000

// MaxPageSize bounds a page so memory stays flat on both sides of a transport.
const MaxPageSize = 5000

// FilterOp is the operator of a Filter node.
type FilterOp string

const (
	OpAnd        FilterOp = "and"
	OpOr         FilterOp = "or"
	OpNot        FilterOp = "not"
	OpEq         FilterOp = "eq"
	OpNe         FilterOp = "ne"
	OpLt         FilterOp = "lt"
	OpLe         FilterOp = "le"
	OpGt         FilterOp = "gt"
	OpGe         FilterOp = "ge"
	OpIn         FilterOp = "in"
	OpNotIn      FilterOp = "not-in"
	OpLike       FilterOp = "like"        // SQL LIKE pattern: % any run, _ one character
	OpBeginsWith FilterOp = "begins-with" // prefix match on text
	OpIsNull     FilterOp = "null"
	OpNotNull    FilterOp = "not-null"
)

// Filter is a condition tree: And/Or/Not nodes hold Children; comparison
// nodes name a Field and hold Values (one for eq..ge, like and begins-with,
// one or more for in and not-in, none for null and not-null). Every connector
// translates it into its server's query language; one that cannot express a
// node must refuse it with a permanent error, never widen it.
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

// And, Or, Not and Cmp build filters.
func And(children ...*Filter) *Filter { return &Filter{Op: OpAnd, Children: children} }
func Or(children ...*Filter) *Filter  { return &Filter{Op: OpOr, Children: children} }
func Not(child *Filter) *Filter       { return &Filter{Op: OpNot, Children: []*Filter{child}} }
func Cmp(field string, op FilterOp, values ...Value) *Filter {
	return &Filter{Op: op, Field: field, Values: values}
}

// MaxFilterDepth bounds nesting so a hostile filter cannot exhaust a stack.
const MaxFilterDepth = 32

// Validate checks the filter's shape against an entity: known operators,
// known fields, the right number of values and values of the field's kind.
func (f *Filter) Validate(e *Entity) error { return f.validate(e, 0) }

func (f *Filter) validate(e *Entity, depth int) error {
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
			if err := c.validate(e, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	var field *Field
	if e != nil {
		if f.Field == e.PrimaryKey {
			field = &Field{Name: f.Field, Type: TypeGUID}
		} else if field = e.Field(f.Field); field == nil {
			return fmt.Errorf("filter: entity %q has no field %q", e.Name, f.Field)
		}
	}
	want := -1 // at least one
	switch f.Op {
	case OpEq, OpNe, OpLt, OpLe, OpGt, OpGe, OpLike, OpBeginsWith:
		want = 1
	case OpIn, OpNotIn:
	case OpIsNull, OpNotNull:
		want = 0
	default:
		return fmt.Errorf("filter: unknown operator %q", f.Op)
	}
	if want >= 0 && len(f.Values) != want {
		return fmt.Errorf("filter: %s %s takes %d value(s), got %d", f.Field, f.Op, want, len(f.Values))
	}
	if want < 0 && len(f.Values) == 0 {
		return fmt.Errorf("filter: %s %s needs at least one value", f.Field, f.Op)
	}
	if (f.Op == OpLike || f.Op == OpBeginsWith) && f.Values[0].Kind() != KindString {
		return fmt.Errorf("filter: %s %s needs a text value", f.Field, f.Op)
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

// FetchFunc receives the pages of a fetch in order. Returning an error stops
// the fetch; the connector returns that error.
type FetchFunc func(*Page) error
