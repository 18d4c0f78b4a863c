package config

import (
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// checker collects the problems found while a decoded file is validated, so
// one run reports all of them rather than the first.
type checker struct {
	src   []byte // the parsed text, for quoting values in messages
	diags hcl.Diagnostics
}

// report records a problem at subject. summary says what is wrong; detail,
// which may be empty, says what would be right.
func (c *checker) report(subject hcl.Range, summary, detail string) {
	c.diags = append(c.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   detail,
		Subject:  subject.Ptr(),
	})
}

// attrError records a problem with attribute a. The subject is the whole
// attribute, so the column is where its name starts.
func (c *checker) attrError(a *hcl.Attribute, summary, detail string) {
	c.diags = append(c.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   detail,
		Subject:  a.Range.Ptr(),
		Context:  a.Expr.Range().Ptr(),
	})
}

// isSet reports whether a is present and not null. HCL's null means "not
// set", as it does in Terraform, so `page_size = null` takes the default.
func isSet(a *hcl.Attribute) bool {
	if a == nil {
		return false
	}
	if nonLiteral(a.Expr) != nil {
		return true // value reports it
	}
	v, diags := a.Expr.Value(nil)
	// An expression that fails to evaluate counts as set: the typed
	// accessors below report why it failed.
	return diags.HasErrors() || !v.IsNull()
}

// required reports a required attribute that is absent (at missing, where
// the enclosing body starts) or null.
func (c *checker) required(a *hcl.Attribute, missing hcl.Range, summary, detail string) bool {
	if isSet(a) {
		return true
	}
	if a != nil {
		c.attrError(a, summary, detail)
	} else {
		c.report(missing, summary, detail)
	}
	return false
}

// value evaluates a, which must be a literal value (see nonLiteral). ok is
// false when a is absent or null, or when it is no literal or does not
// evaluate (then the problem is recorded).
func (c *checker) value(what string, a *hcl.Attribute) (cty.Value, bool) {
	if a == nil {
		return cty.NilVal, false
	}
	if bad := nonLiteral(a.Expr); bad != nil {
		c.diags = append(c.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  what + ": only a literal value is allowed here",
			Detail:   `the config has no variables, functions, operators or "${...}" templates; write the value itself`,
			Subject:  bad.Range().Ptr(),
			Context:  a.Range.Ptr(),
		})
		return cty.NilVal, false
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		for _, d := range diags {
			if d != nil && d.Summary != "" {
				d.Summary = what + ": " + d.Summary
			}
		}
		c.diags = append(c.diags, diags...)
		return cty.NilVal, false
	}
	if !v.IsWhollyKnown() {
		c.attrError(a, what+": must be a constant", "")
		return cty.NilVal, false
	}
	if v.IsNull() {
		return cty.NilVal, false
	}
	return v, true
}

// str decodes a string. Numbers and bools are taken as their text, as HCL
// converts them.
func (c *checker) str(what string, a *hcl.Attribute) (string, bool) {
	v, ok := c.value(what, a)
	if !ok {
		return "", false
	}
	s, ok := asString(v)
	if !ok {
		c.attrError(a, fmt.Sprintf("%s: want a string, got %s", what, typeName(v.Type())), "")
		return "", false
	}
	return s, true
}

// text decodes a string that must hold more than blanks.
func (c *checker) text(what string, a *hcl.Attribute) (string, bool) {
	s, ok := c.str(what, a)
	if ok && strings.TrimSpace(s) == "" {
		c.attrError(a, what+": must not be empty", "")
		return "", false
	}
	return s, ok
}

// integer decodes a whole number from lo to hi.
func (c *checker) integer(what string, a *hcl.Attribute, lo, hi int64, dflt string) (int, bool) {
	v, ok := c.value(what, a)
	if !ok {
		return 0, false
	}
	valid := fmt.Sprintf("valid: %d..%d", lo, hi)
	if dflt != "" {
		valid += ", default " + dflt
	}
	n, err := convert.Convert(v, cty.Number)
	if err != nil || n.IsNull() {
		c.attrError(a, fmt.Sprintf("%s: want a whole number, got %s", what, describe(v)), valid)
		return 0, false
	}
	// The number is quoted as written: printing a big.Float such as
	// 1e9999999 takes seconds.
	f := n.AsBigFloat()
	if !f.IsInt() {
		c.attrError(a, fmt.Sprintf("%s: %s is not a whole number", what, c.source(a.Expr.Range())), valid)
		return 0, false
	}
	if f.Cmp(new(big.Float).SetInt64(lo)) < 0 || f.Cmp(new(big.Float).SetInt64(hi)) > 0 {
		c.attrError(a, fmt.Sprintf("%s: %s is out of range", what, c.source(a.Expr.Range())), valid)
		return 0, false
	}
	i, _ := f.Int64()
	return int(i), true
}

// duration decodes a Go duration ("500ms", "2s", "1m30s") from lo to hi.
func (c *checker) duration(what string, a *hcl.Attribute, lo, hi time.Duration, dflt string) (time.Duration, bool) {
	s, ok := c.str(what, a)
	if !ok {
		return 0, false
	}
	valid := fmt.Sprintf("valid: %s..%s, default %s", lo, hi, dflt)
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		c.attrError(a, fmt.Sprintf("%s: %s is not a duration", what, short(s)),
			`write a number with a unit (ns, us, ms, s, m, h), e.g. "500ms", "2s", "1m30s"`)
		return 0, false
	}
	if d < lo || d > hi {
		c.attrError(a, fmt.Sprintf("%s: %s is out of range", what, d), valid)
		return 0, false
	}
	return d, true
}

// list decodes a list of strings.
func (c *checker) list(what string, a *hcl.Attribute) ([]string, bool) {
	v, ok := c.value(what, a)
	if !ok {
		return nil, false
	}
	t := v.Type()
	if !t.IsListType() && !t.IsTupleType() && !t.IsSetType() {
		c.attrError(a, fmt.Sprintf("%s: want a list of strings, got %s", what, typeName(t)),
			`e.g. ["a", "b"]`)
		return nil, false
	}
	out := make([]string, 0, v.LengthInt())
	good := true
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		s, ok := asString(e)
		if !ok {
			c.attrError(a, fmt.Sprintf("%s: item %d: want a string, got %s", what, len(out)+1, describe(e)), "")
			good = false
		}
		out = append(out, s)
	}
	return out, good
}

// strMap decodes an object of strings, such as { path = "server.db" }.
func (c *checker) strMap(what string, a *hcl.Attribute) (map[string]string, bool) {
	v, ok := c.value(what, a)
	if !ok {
		return nil, false
	}
	t := v.Type()
	if !t.IsObjectType() && !t.IsMapType() {
		c.attrError(a, fmt.Sprintf("%s: want an object of strings, got %s", what, typeName(t)),
			`e.g. { path = "server.db" }`)
		return nil, false
	}
	out := make(map[string]string, v.LengthInt())
	good := true
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		key := k.AsString()
		if strings.TrimSpace(key) == "" {
			c.attrError(a, what+": a key is empty", "")
			good = false
			continue
		}
		s, ok := asString(e)
		if !ok {
			c.attrError(a, fmt.Sprintf("%s: %s: want a string, got %s", what, short(key), describe(e)), "")
			good = false
			continue
		}
		out[key] = s
	}
	return out, good
}

// asString converts a known, non-null primitive value to its text. A number
// beyond about 1e±38 is refused: cty writes numbers out in full, and
// 1e9999999 would become ten million digits.
func asString(v cty.Value) (string, bool) {
	if v.IsNull() || !v.IsWhollyKnown() || !v.Type().IsPrimitiveType() {
		return "", false
	}
	if v.Type() == cty.Number {
		f := v.AsBigFloat()
		if exp := f.MantExp(nil); f.IsInf() || exp < -128 || exp > 128 {
			return "", false
		}
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil || s.IsNull() {
		return "", false
	}
	return s.AsString(), true
}

// describe names a value's type for a message, saying "null" for null.
func describe(v cty.Value) string {
	if v.IsNull() {
		return "null"
	}
	if v.Type() == cty.String && v.IsKnown() {
		return "string " + short(v.AsString())
	}
	return typeName(v.Type())
}

// typeName names a type as an admin writes it rather than as cty does:
// ["a"] is a list, { a = 1 } an object.
func typeName(t cty.Type) string {
	switch {
	case t == cty.String:
		return "string"
	case t == cty.Number:
		return "number"
	case t == cty.Bool:
		return "bool"
	case t.IsListType(), t.IsTupleType(), t.IsSetType():
		return "list"
	case t.IsObjectType(), t.IsMapType():
		return "object"
	}
	return "value of type " + t.FriendlyName()
}

// checkName reports a name that is empty or holds spaces or control
// characters: names become table and column names and appear in logs, and a
// stray space is a typo nobody sees.
func (c *checker) checkName(subject hcl.Range, what, name string) bool {
	switch {
	case name == "":
		c.report(subject, what+": the name is empty", "")
		return false
	case !utf8.ValidString(name) || strings.IndexFunc(name, badNameRune) >= 0:
		c.report(subject, fmt.Sprintf("%s: %s holds spaces or control characters", what, short(name)), "")
		return false
	}
	return true
}

func badNameRune(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError
}

// nonLiteral returns the first part of e that is not a literal value, or nil.
// A config holds values: strings (heredocs too), numbers, bools, null, and
// lists and objects of them. With no variables, the rest of HCL's expression
// language (operators, conditionals, for, "${...}") could only compute a
// constant the admin can write out, and a template can be made to print a
// ten-million-digit number.
func nonLiteral(e hcl.Expression) hcl.Expression {
	switch e := e.(type) {
	case *hclsyntax.LiteralValueExpr:
		return nil
	case *hclsyntax.TemplateExpr:
		// "a${1}" has a number literal among its parts: only string
		// parts are text.
		for _, p := range e.Parts {
			if lit, ok := p.(*hclsyntax.LiteralValueExpr); !ok || lit.Val.Type() != cty.String {
				return p
			}
		}
		return nil
	case *hclsyntax.UnaryOpExpr: // -1
		if _, ok := e.Val.(*hclsyntax.LiteralValueExpr); ok && e.Op == hclsyntax.OpNegate {
			return nil
		}
		return e
	case *hclsyntax.ParenthesesExpr:
		return nonLiteral(e.Expression)
	case *hclsyntax.TupleConsExpr:
		for _, x := range e.Exprs {
			if bad := nonLiteral(x); bad != nil {
				return bad
			}
		}
		return nil
	case *hclsyntax.ObjectConsExpr:
		for _, item := range e.Items {
			key := item.KeyExpr
			if k, ok := key.(*hclsyntax.ObjectConsKeyExpr); ok {
				// A bare word key (path = ...) is its own name.
				if !k.ForceNonLiteral && hcl.ExprAsKeyword(k.Wrapped) != "" {
					key = nil
				} else {
					key = k.Wrapped
				}
			}
			if key != nil {
				if bad := nonLiteral(key); bad != nil {
					return bad
				}
			}
			if bad := nonLiteral(item.ValueExpr); bad != nil {
				return bad
			}
		}
		return nil
	}
	return e
}

// source is the text at r, for quoting a value as it was written.
func (c *checker) source(r hcl.Range) string {
	if r.Start.Byte < 0 || r.Start.Byte > r.End.Byte || r.End.Byte > len(c.src) {
		return "the value"
	}
	s := string(c.src[r.Start.Byte:r.End.Byte])
	if len(s) > maxQuoted {
		s = s[:maxQuoted] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}

// maxQuoted bounds how much of a value a message repeats.
const maxQuoted = 64

// short quotes s for a message, cut to maxQuoted bytes.
func short(s string) string {
	if len(s) <= maxQuoted {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q...", strings.ToValidUTF8(s[:maxQuoted], ""))
}
