package config

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/fieldsync/fieldsync/sdk"
)

// A filter comes in two forms. The text form is one string attribute in the
// filter text language (see sdk.ParseFilter):
//
//	where = "statecode eq 0 and ownerid eq-userid"
//
// The block form spells the same tree out in HCL. The body of filter is an
// implicit AND of its items, and so are the bodies of not and link; and and
// or bodies combine theirs:
//
//	filter {
//	  condition {
//	    field = "statecode"
//	    op    = "eq"
//	    value = 0          # values = [1, 2] for in and not-in; neither for
//	  }                    # null, not-null and the user operators
//	  or {
//	    condition {
//	      ...
//	    }
//	    condition {
//	      ...
//	    }
//	  }
//	  not {
//	    condition {
//	      ...
//	    }
//	  }
//	  link "parentaccountid" {   # a condition on the parent row
//	    condition {
//	      ...
//	    }
//	  }
//	}
//
// HCL allows a block on one line only when it holds a single attribute, so
// conditions take a line per attribute.
//
// Both forms keep values as written: a whole number becomes an sdk.Int,
// another number an sdk.Float, a string an sdk.String, a bool an sdk.Bool.
// sdk.Filter.Coerce later converts them to the types of the entity's fields
// (a GUID written as a string, a date as "2026-01-31").

// Block types and attributes of the block form.
const (
	filterCondition = "condition"
	filterAnd       = "and"
	filterOr        = "or"
	filterNot       = "not"
	filterLink      = "link"
)

// filterBodySchema is what a filter, and, or, not or link body holds.
var filterBodySchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: filterCondition},
		{Type: filterAnd},
		{Type: filterOr},
		{Type: filterNot},
		{Type: filterLink, LabelNames: []string{"lookup"}},
	},
}

// conditionSchema is what a condition block holds.
var conditionSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "field"},
		{Name: "op"},
		{Name: "value"},
		{Name: "values"},
	},
}

// maxFilterBlockNesting bounds how deep decodeFilter follows nested blocks
// before it gives up; sdk.MaxFilterDepth bounds the tree it builds.
const maxFilterBlockNesting = 2*sdk.MaxFilterDepth + 2

// filterDecoder reads the block form. It records where each node was
// written so that a problem found in the whole tree can point at it.
type filterDecoder struct {
	c      checker
	ranges map[*sdk.Filter]hcl.Range
}

// decodeFilter reads the body of a filter block (see above). Every problem
// is a diagnostic on the attribute or block at fault; the filter is nil when
// there is any. The result passes Validate(nil); its values are as written,
// for sdk.Filter.Coerce to convert.
func decodeFilter(body hcl.Body) (*sdk.Filter, hcl.Diagnostics) {
	d := &filterDecoder{ranges: map[*sdk.Filter]hcl.Range{}}
	f := d.body(body, "block", body.MissingItemRange(), 0)
	if f != nil && !d.c.diags.HasErrors() {
		d.checkDepth(f, 0)
	}
	if f != nil && !d.c.diags.HasErrors() {
		// The decoder builds only valid shapes; this is a guard.
		if err := f.Validate(nil); err != nil {
			d.c.report(d.ranges[f], strings.TrimPrefix(err.Error(), "filter: "), "")
		}
	}
	if d.c.diags.HasErrors() {
		return nil, d.c.diags
	}
	return f, d.c.diags
}

// body reads a body that is an implicit AND of its items: one item is
// itself, several an And. what names the body for messages; where is its
// block's range, for an empty body.
func (d *filterDecoder) body(body hcl.Body, what string, where hcl.Range, nest int) *sdk.Filter {
	items := d.items(body, what, where, nest)
	switch len(items) {
	case 0:
		return nil
	case 1:
		return items[0]
	}
	n := sdk.And(items...)
	d.ranges[n] = where
	return n
}

// items reads the conditions and groups of a body, in the order written. A
// body with none is reported empty.
func (d *filterDecoder) items(body hcl.Body, what string, where hcl.Range, nest int) []*sdk.Filter {
	if nest > maxFilterBlockNesting {
		d.c.report(where, fmt.Sprintf("blocks nest more than %d levels deep", maxFilterBlockNesting), "")
		return nil
	}
	content, diags := body.Content(filterBodySchema)
	d.c.diags = append(d.c.diags, diags...)
	if content == nil {
		return nil
	}
	if len(content.Blocks) == 0 {
		if !diags.HasErrors() {
			d.c.report(where, "the "+what+" is empty",
				"add a condition block (field, op and value), or an and, or, not or link block")
		}
		return nil
	}
	var out []*sdk.Filter
	good := !diags.HasErrors()
	for _, b := range content.Blocks {
		f := d.block(b, nest+1)
		if f == nil {
			good = false
			continue
		}
		out = append(out, f)
	}
	if !good {
		return nil
	}
	return out
}

// block reads one item of a body.
func (d *filterDecoder) block(b *hcl.Block, nest int) *sdk.Filter {
	var f *sdk.Filter
	switch b.Type {
	case filterCondition:
		f = d.condition(b)
	case filterAnd, filterOr:
		children := d.items(b.Body, b.Type+" block", b.DefRange, nest)
		if children == nil {
			return nil
		}
		if b.Type == filterAnd {
			f = sdk.And(children...)
		} else {
			f = sdk.Or(children...)
		}
	case filterNot:
		child := d.body(b.Body, "not block", b.DefRange, nest)
		if child == nil {
			return nil
		}
		f = sdk.Not(child)
	case filterLink:
		lookup := b.Labels[0]
		nameOK := d.c.checkName(b.LabelRanges[0], "link: the lookup", lookup)
		child := d.body(b.Body, "link block", b.DefRange, nest)
		if child == nil || !nameOK {
			return nil
		}
		f = sdk.Link(lookup, child)
	default:
		// The schema admits no other type.
		d.c.report(b.DefRange, fmt.Sprintf("unknown block %q", b.Type), "")
		return nil
	}
	d.ranges[f] = b.DefRange
	return f
}

// condition reads a condition block: field, op and the value or values
// the operator takes.
func (d *filterDecoder) condition(b *hcl.Block) *sdk.Filter {
	const what = "condition"
	c := &d.c
	content, diags := b.Body.Content(conditionSchema)
	c.diags = append(c.diags, diags...)
	if content == nil || diags.HasErrors() {
		return nil
	}
	attrs := content.Attributes
	missing := b.DefRange
	good := true

	var field string
	if c.required(attrs["field"], missing, what+`: "field" is required`, `the field the condition tests, e.g. field = "statecode"`) {
		if s, ok := c.str(what+": field", attrs["field"]); !ok {
			good = false
		} else if c.checkName(attrs["field"].Expr.Range(), what+": field", s) {
			field = s
		} else {
			good = false
		}
	} else {
		good = false
	}

	var op sdk.FilterOp
	opAttr := attrs["op"]
	if !c.required(opAttr, missing, what+`: "op" is required`, "the operator, e.g. op = \"eq\"; valid: "+conditionOps()) {
		return nil
	}
	s, ok := c.str(what+": op", opAttr)
	if !ok {
		return nil
	}
	op = sdk.FilterOp(strings.ToLower(s))
	switch {
	case op.IsGroup() || op == sdk.OpLink:
		c.attrError(opAttr, fmt.Sprintf("%s: %s is not an operator of a condition", what, short(s)),
			fmt.Sprintf("write an %s block around the conditions instead", op))
		return nil
	case !isConditionOp(op):
		c.attrError(opAttr, fmt.Sprintf("%s: unknown operator %s", what, short(s)), "valid: "+conditionOps())
		return nil
	}

	values, ok := d.values(what, op, attrs["value"], attrs["values"], missing)
	if !ok || !good {
		return nil
	}
	return sdk.Cmp(field, op, values...)
}

// values reads the value or values op takes, checking it is given the right
// way and, for the operators that care, is of the right kind.
func (d *filterDecoder) values(what string, op sdk.FilterOp, value, values *hcl.Attribute, missing hcl.Range) ([]sdk.Value, bool) {
	c := &d.c
	switch {
	case opTakesNoValue(op):
		for _, a := range []*hcl.Attribute{value, values} {
			if a != nil {
				c.attrError(a, fmt.Sprintf("%s: %s takes no value", what, op), "remove "+a.Name)
				return nil, false
			}
		}
		return nil, true

	case op == sdk.OpIn || op == sdk.OpNotIn:
		if value != nil {
			c.attrError(value, fmt.Sprintf("%s: %s takes a list: values, not value", what, op), "e.g. values = [1, 2, 3]")
			return nil, false
		}
		if values == nil {
			c.report(missing, fmt.Sprintf("%s: %s needs values", what, op), "e.g. values = [1, 2, 3]")
			return nil, false
		}
		v, ok := d.literal(what+": values", values, "e.g. values = [1, 2, 3]")
		if !ok {
			return nil, false
		}
		t := v.Type()
		if !t.IsListType() && !t.IsTupleType() && !t.IsSetType() {
			c.attrError(values, fmt.Sprintf("%s: values: want a list, got %s", what, typeName(t)), "e.g. values = [1, 2, 3]")
			return nil, false
		}
		n := v.LengthInt()
		switch {
		case n == 0:
			c.attrError(values, fmt.Sprintf("%s: values is empty", what), fmt.Sprintf("%s needs at least one value", op))
			return nil, false
		case n > sdk.MaxFilterList:
			c.attrError(values, fmt.Sprintf("%s: values holds %d items, more than %d", what, n, sdk.MaxFilterList), "")
			return nil, false
		}
		out := make([]sdk.Value, 0, n)
		good := true
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			fv, why := filterValue(e)
			if why != "" {
				c.attrError(values, fmt.Sprintf("%s: values: item %d: %s", what, len(out)+1, why), "")
				good = false
			}
			out = append(out, fv)
		}
		return out, good
	}

	// One value.
	if values != nil {
		c.attrError(values, fmt.Sprintf("%s: %s takes one value: value, not values", what, op), "values is for in and not-in")
		return nil, false
	}
	if value == nil {
		c.report(missing, fmt.Sprintf("%s: %s needs a value", what, op), valueExample(op))
		return nil, false
	}
	v, ok := d.literal(what+": value", value, `test for null with op = "null" or op = "not-null"`)
	if !ok {
		return nil, false
	}
	fv, why := filterValue(v)
	if why != "" {
		c.attrError(value, fmt.Sprintf("%s: value: %s", what, why), valueExample(op))
		return nil, false
	}
	switch op {
	case sdk.OpLike, sdk.OpBeginsWith:
		if fv.Kind() != sdk.KindString {
			c.attrError(value, fmt.Sprintf("%s: %s needs a text value", what, op), valueExample(op))
			return nil, false
		}
	case sdk.OpLastXDays, sdk.OpNextXDays:
		if fv.Kind() != sdk.KindInt || fv.Int() < 0 || fv.Int() > sdk.MaxRelativeDays {
			c.attrError(value, fmt.Sprintf("%s: %s needs a whole number of days from 0 to %d", what, op, sdk.MaxRelativeDays),
				valueExample(op))
			return nil, false
		}
	}
	return []sdk.Value{fv}, true
}

// literal evaluates a, which must be a literal, reporting a null as such.
func (d *filterDecoder) literal(what string, a *hcl.Attribute, nullHint string) (cty.Value, bool) {
	before := len(d.c.diags)
	v, ok := d.c.value(what, a)
	if !ok && len(d.c.diags) == before {
		d.c.attrError(a, what+" is null", nullHint)
	}
	return v, ok
}

// filterValue converts an HCL value to a filter value as written: whole
// numbers to Int, other numbers to Float, strings to String, bools to Bool.
// why, when set, says why it cannot.
func filterValue(v cty.Value) (sdk.Value, string) {
	switch {
	case v.IsNull():
		return sdk.Value{}, "null is not a value; test for null with op = \"null\""
	case !v.IsWhollyKnown():
		return sdk.Value{}, "must be a constant"
	case v.Type() == cty.String:
		return sdk.String(v.AsString()), ""
	case v.Type() == cty.Bool:
		return sdk.Bool(v.True()), ""
	case v.Type() == cty.Number:
		f := v.AsBigFloat()
		if f.IsInt() {
			if i, acc := f.Int64(); acc == 0 {
				return sdk.Int(i), ""
			}
		}
		x, _ := f.Float64()
		if math.IsInf(x, 0) {
			return sdk.Value{}, "the number is too large"
		}
		return sdk.Float(x), ""
	}
	return sdk.Value{}, fmt.Sprintf("want a string, number or bool, got %s", typeName(v.Type()))
}

func opTakesNoValue(op sdk.FilterOp) bool {
	return op == sdk.OpIsNull || op == sdk.OpNotNull || op.IsUserDependent()
}

// isConditionOp reports whether op is an operator a condition block names.
func isConditionOp(op sdk.FilterOp) bool {
	for _, o := range sdk.FilterOps {
		if o == op {
			return !op.IsGroup() && op != sdk.OpLink
		}
	}
	return false
}

func conditionOps() string {
	var names []string
	for _, op := range sdk.FilterOps {
		if isConditionOp(op) {
			names = append(names, string(op))
		}
	}
	return strings.Join(names, ", ")
}

func valueExample(op sdk.FilterOp) string {
	switch op {
	case sdk.OpLike:
		return `e.g. value = "%son" (% is any run of characters, _ one)`
	case sdk.OpBeginsWith:
		return `e.g. value = "Ber"`
	case sdk.OpLastXDays, sdk.OpNextXDays:
		return "e.g. value = 30"
	case sdk.OpOnOrAfter:
		return `e.g. value = "2026-01-31"`
	}
	return `e.g. value = 0, value = "Oslo" or value = true`
}

// checkDepth reports the first node nested deeper than sdk.MaxFilterDepth,
// at the block that made it.
func (d *filterDecoder) checkDepth(f *sdk.Filter, depth int) bool {
	if depth > sdk.MaxFilterDepth {
		d.c.report(d.ranges[f], fmt.Sprintf("conditions nest more than %d levels deep", sdk.MaxFilterDepth), "")
		return false
	}
	for _, ch := range f.Children {
		if !d.checkDepth(ch, depth+1) {
			return false
		}
	}
	return true
}

// parseFilterText reads a string attribute in the filter text language
// (sdk.ParseFilter). A null attribute is no filter. A syntax error is a
// diagnostic on the attribute, narrowed to the offending character when the
// string is written plainly on one line.
func parseFilterText(attr *hcl.Attribute) (*sdk.Filter, hcl.Diagnostics) {
	if attr == nil {
		return nil, nil
	}
	if bad := nonLiteral(attr.Expr); bad != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "only a literal string is allowed here",
			Detail:   `the config has no variables, functions, operators or "${...}" templates; write the filter text itself`,
			Subject:  bad.Range().Ptr(),
			Context:  attr.Range.Ptr(),
		}}
	}
	v, diags := attr.Expr.Value(nil)
	if diags.HasErrors() {
		return nil, diags
	}
	if v.IsNull() {
		return nil, diags
	}
	if v.Type() != cty.String || !v.IsKnown() {
		return nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("want filter text in a string, got %s", typeName(v.Type())),
			Detail:   `e.g. "statecode eq 0 and city eq 'Oslo'"`,
			Subject:  attr.Range.Ptr(),
			Context:  attr.Expr.Range().Ptr(),
		})
	}
	text := v.AsString()
	f, err := sdk.ParseFilter(text)
	if err != nil {
		subject := attr.Range
		if se := (*sdk.FilterSyntaxError)(nil); errors.As(err, &se) {
			if r, ok := textPosition(attr.Expr, text, se.Offset); ok {
				subject = r
			}
		}
		return nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  strings.TrimPrefix(err.Error(), "filter: "),
			Subject:  subject.Ptr(),
			Context:  attr.Range.Ptr(),
		})
	}
	return f, diags
}

// textPosition finds byte off of text in the file, when it can: expr is a
// quoted string on one line whose source is the text itself (no escapes,
// which would shift positions) and the text before off is ASCII (so that a
// byte is a column).
func textPosition(expr hcl.Expression, text string, off int) (hcl.Range, bool) {
	t, ok := expr.(*hclsyntax.TemplateExpr)
	if !ok || len(t.Parts) != 1 || text == "" || off < 0 || off > len(text) {
		return hcl.Range{}, false
	}
	r := t.Parts[0].Range()
	if r.Start.Line != r.End.Line || r.End.Byte-r.Start.Byte != len(text) {
		return hcl.Range{}, false
	}
	for i := 0; i < off; i++ {
		if text[i] >= 0x80 || text[i] < 0x20 {
			return hcl.Range{}, false
		}
	}
	start := hcl.Pos{Line: r.Start.Line, Column: r.Start.Column + off, Byte: r.Start.Byte + off}
	end := start
	if off < len(text) {
		end.Column++
		end.Byte++
	}
	return hcl.Range{Filename: r.Filename, Start: start, End: end}, true
}
