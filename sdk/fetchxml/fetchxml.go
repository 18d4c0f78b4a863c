// Package fetchxml translates sync filters (sdk.Filter) into FetchXML, the
// query language that Dataverse and Resco Cloud both accept, and builds
// whole <fetch> documents around them. It is pure (no I/O, no clock) and uses
// only the standard library and sdk, so the same code runs in a subprocess
// plugin and in a WASM (GOOS=wasip1) one.
//
// A translation never widens a filter: what FetchXML cannot say exactly is
// refused with a permanent error that names the node.
package fetchxml

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/fieldsync/fieldsync/sdk"
)

// Ops lists the operators Filter translates. Every sdk operator is here,
// but some combinations are still refused: the negation of last-x-days,
// next-x-days, eq-useroruserteams and link (FetchXML has no inverse for
// them), and filters joining more than MaxLinks links.
var Ops = []sdk.FilterOp{
	sdk.OpAnd, sdk.OpOr, sdk.OpNot,
	sdk.OpEq, sdk.OpNe, sdk.OpLt, sdk.OpLe, sdk.OpGt, sdk.OpGe,
	sdk.OpIn, sdk.OpNotIn, sdk.OpLike, sdk.OpBeginsWith, sdk.OpIsNull, sdk.OpNotNull,
	sdk.OpLastXDays, sdk.OpNextXDays, sdk.OpOnOrAfter,
	sdk.OpEqUserID, sdk.OpNeUserID, sdk.OpEqBusinessID, sdk.OpEqUserOrUserTeams,
	sdk.OpLink,
}

// MaxLinks bounds the link-entity elements of one query: Dataverse refuses
// a query with more than 15 (its documented limit; Resco Cloud's is not
// documented, so the same bound is used for both).
const MaxLinks = 15

// Fragment is a filter translated for one <entity> element: its <filter>
// element and the <link-entity> elements it needs, both children of that
// <entity>. Either may be empty (a filter made only of links has no
// <filter> of its own), never both.
type Fragment struct {
	Filter string
	Links  string
}

// String returns both parts in the order Query writes them.
func (fr Fragment) String() string { return fr.Filter + fr.Links }

// Filter translates f, a filter on entity e of schema s, into FetchXML. A
// nil filter gives an empty Fragment (every row). s may be nil when f has no
// link. Errors are sdk.Permanent: the same filter fails again.
//
// A not is pushed down to the conditions (De Morgan's laws and the inverse
// operators: eq/ne, lt/ge, in/not-in, like/not-like, begins-with/
// not-begin-with, null/not-null, eq-userid/ne-userid, eq-businessid/
// ne-businessid). Both sides of each pair treat a null field as SQL does
// (neither matches), so NOT(a) and the inverse of a select the same rows.
//
// A link whose every ancestor is an and becomes an inner
// <link-entity> carrying its own filter. When any link sits under an or,
// every link becomes an outer <link-entity> and the whole condition goes to
// the entity's filter, each condition on a linked row naming its alias in
// entityname, each link guarded by a not-null condition on the parent's key
// (so a row without a parent cannot match through a null comparison).
// Lookups point at one parent, so the joins never repeat a row.
func Filter(f *sdk.Filter, s *sdk.Schema, e *sdk.Entity) (Fragment, error) {
	if f == nil {
		return Fragment{}, nil
	}
	if e == nil {
		return Fragment{}, sdk.Errorf(sdk.Permanent, "fetchxml: no entity to translate the filter for")
	}
	fr, err := translate(f, s, e)
	if err != nil {
		return Fragment{}, sdk.Errorf(sdk.Permanent, "fetchxml: %s: %w", e.Name, err)
	}
	return fr, nil
}

func translate(f *sdk.Filter, s *sdk.Schema, e *sdk.Entity) (Fragment, error) {
	var err error
	if s != nil {
		err = f.Check(s, e)
	} else {
		err = f.Validate(e)
	}
	if err != nil {
		return Fragment{}, err
	}
	b := builder{s: s}
	root, err := b.build(f, e, "", false, false)
	if err != nil {
		return Fragment{}, err
	}
	if b.outer {
		return b.renderOuter(root)
	}
	return b.renderInner(root)
}

// QueryOptions shape a <fetch> document.
type QueryOptions struct {
	// Count is the page size (<fetch count>); 0 leaves the server's
	// default (5000 on Dataverse).
	Count int
	// Page is the page number from 1 (<fetch page>); 0 leaves it out.
	Page int
	// PagingCookie is the cookie of the previous page, as the server
	// returned it once decoded (Dataverse: the pagingcookie attribute of
	// @Microsoft.Dynamics.CRM.fetchxmlpagingcookie, URL-decoded twice,
	// which is itself XML such as <cookie page="1">…</cookie>). It needs
	// Page, the number of the page it asks for.
	PagingCookie string
	// OrderByPrimaryKey sorts by the entity's key, which stable paging
	// needs.
	OrderByPrimaryKey bool
}

// Query builds a whole <fetch> document: entity (its logical name), the
// attributes to return (none means <all-attributes/>), filter f on entity e
// of schema s (nil for every row; e may then be nil unless
// opts.OrderByPrimaryKey), and paging. Errors are sdk.Permanent.
func Query(entity string, attrs []string, f *sdk.Filter, s *sdk.Schema, e *sdk.Entity, opts QueryOptions) (string, error) {
	q, err := query(entity, attrs, f, s, e, opts)
	if err != nil {
		var se *sdk.Error
		if errors.As(err, &se) {
			return "", err
		}
		return "", sdk.Errorf(sdk.Permanent, "fetchxml: query %s: %w", entity, err)
	}
	return q, nil
}

func query(entity string, attrs []string, f *sdk.Filter, s *sdk.Schema, e *sdk.Entity, opts QueryOptions) (string, error) {
	if err := checkName(entity); err != nil {
		return "", fmt.Errorf("entity: %w", err)
	}
	if opts.Count < 0 || opts.Page < 0 {
		return "", fmt.Errorf("count %d and page %d must not be negative", opts.Count, opts.Page)
	}
	if opts.PagingCookie != "" && opts.Page == 0 {
		return "", errors.New("a paging cookie needs the number of the page it asks for")
	}
	if err := checkText(opts.PagingCookie); err != nil {
		return "", fmt.Errorf("paging cookie: %w", err)
	}
	if opts.OrderByPrimaryKey && e == nil {
		return "", errors.New("ordering by the primary key needs the entity")
	}
	seen := map[string]bool{}
	for _, a := range attrs {
		if err := checkName(a); err != nil {
			return "", fmt.Errorf("attribute: %w", err)
		}
		if seen[a] {
			return "", fmt.Errorf("attribute %q listed twice", a)
		}
		seen[a] = true
		if e != nil && a != e.PrimaryKey && e.Field(a) == nil {
			return "", fmt.Errorf("entity %q has no attribute %q", e.Name, a)
		}
	}
	fr, err := Filter(f, s, e)
	if err != nil {
		return "", err
	}

	var w strings.Builder
	w.WriteString(`<fetch version="1.0" mapping="logical"`)
	if opts.Count > 0 {
		attr(&w, "count", strconv.Itoa(opts.Count))
	}
	if opts.Page > 0 {
		attr(&w, "page", strconv.Itoa(opts.Page))
	}
	if opts.PagingCookie != "" {
		attr(&w, "paging-cookie", opts.PagingCookie)
	}
	w.WriteString(`><entity`)
	attr(&w, "name", entity)
	w.WriteByte('>')
	if len(attrs) == 0 {
		w.WriteString(`<all-attributes/>`)
	}
	for _, a := range attrs {
		w.WriteString(`<attribute`)
		attr(&w, "name", a)
		w.WriteString(`/>`)
	}
	if opts.OrderByPrimaryKey {
		if err := checkName(e.PrimaryKey); err != nil {
			return "", fmt.Errorf("primary key: %w", err)
		}
		w.WriteString(`<order`)
		attr(&w, "attribute", e.PrimaryKey)
		w.WriteString(` descending="false"/>`)
	}
	w.WriteString(fr.Filter)
	w.WriteString(fr.Links)
	w.WriteString(`</entity></fetch>`)
	return w.String(), nil
}

// node is a filter after negation was pushed down: a group of nodes, one
// FetchXML condition, or a link.
type node struct {
	kind  nodeKind
	group string  // kindGroup: "and" or "or"
	kids  []*node // kindGroup
	// kindCond: <condition attribute operator value> or <value> children.
	attr     string
	op       string
	value    string
	hasValue bool
	values   []string
	owner    string // alias of the link-entity the condition is on; "" for the entity
	// kindLink
	target, from, to, alias string
	child                   *node
}

type nodeKind uint8

const (
	kindGroup nodeKind = iota
	kindCond
	kindLink
)

type builder struct {
	s      *sdk.Schema
	nlinks int
	outer  bool // some link sits under an or: render every link as an outer join
}

// build turns f, a condition on entity e (the row of link alias owner),
// into a node, negated when neg. underOr says whether an or lies between f
// and the nearest enclosing link (or the root).
func (b *builder) build(f *sdk.Filter, e *sdk.Entity, owner string, neg, underOr bool) (*node, error) {
	switch f.Op {
	case sdk.OpNot:
		return b.build(f.Children[0], e, owner, !neg, underOr)
	case sdk.OpAnd, sdk.OpOr:
		// not(a and b) = not a or not b; not(a or b) = not a and not b.
		g := &node{kind: kindGroup, group: "and"}
		if (f.Op == sdk.OpOr) != neg {
			g.group = "or"
		}
		for _, c := range f.Children {
			k, err := b.build(c, e, owner, neg, underOr || g.group == "or")
			if err != nil {
				return nil, err
			}
			g.kids = append(g.kids, k)
		}
		return g, nil
	case sdk.OpLink:
		return b.link(f, e, neg, underOr)
	}
	return b.cond(f, e, owner, neg)
}

func (b *builder) link(f *sdk.Filter, e *sdk.Entity, neg, underOr bool) (*node, error) {
	if neg {
		// not(link) is "no parent, or a parent that fails the condition
		// (also by a null)": FetchXML's outer joins cannot say the second
		// part exactly.
		return nil, fmt.Errorf("cannot negate the link through %s: FetchXML has no exact inverse", f.Field)
	}
	if b.s == nil {
		return nil, fmt.Errorf("link through %s needs the schema", f.Field)
	}
	fd := e.Field(f.Field)
	if fd == nil || fd.Type != sdk.TypeLookup {
		return nil, fmt.Errorf("link: %s.%s is not a lookup", e.Name, f.Field)
	}
	parent := b.s.Entity(fd.Target)
	if parent == nil {
		return nil, fmt.Errorf("link: %s.%s targets %q, which the schema lacks", e.Name, f.Field, fd.Target)
	}
	for _, n := range []string{fd.Name, parent.Name, parent.PrimaryKey} {
		if err := checkName(n); err != nil {
			return nil, fmt.Errorf("link through %s: %w", f.Field, err)
		}
	}
	b.nlinks++
	if b.nlinks > MaxLinks {
		return nil, fmt.Errorf("more than %d links in one filter", MaxLinks)
	}
	if underOr {
		b.outer = true
	}
	n := &node{kind: kindLink, target: parent.Name, from: parent.PrimaryKey, to: fd.Name, alias: "l" + strconv.Itoa(b.nlinks)}
	child, err := b.build(f.Children[0], parent, n.alias, false, false)
	if err != nil {
		return nil, err
	}
	n.child = child
	return n, nil
}

// operators maps each comparison to its FetchXML operator and to the
// operator of its negation ("" when FetchXML has none).
var operators = map[sdk.FilterOp][2]string{
	sdk.OpEq:         {"eq", "ne"},
	sdk.OpNe:         {"ne", "eq"},
	sdk.OpLt:         {"lt", "ge"},
	sdk.OpLe:         {"le", "gt"},
	sdk.OpGt:         {"gt", "le"},
	sdk.OpGe:         {"ge", "lt"},
	sdk.OpIn:         {"in", "not-in"},
	sdk.OpNotIn:      {"not-in", "in"},
	sdk.OpLike:       {"like", "not-like"},
	sdk.OpBeginsWith: {"begins-with", "not-begin-with"},
	sdk.OpIsNull:     {"null", "not-null"},
	sdk.OpNotNull:    {"not-null", "null"},
	// last-x-days and next-x-days have no inverse: olderthan-x-days counts
	// differently and the complement of a window is two ranges.
	sdk.OpLastXDays: {"last-x-days", ""},
	sdk.OpNextXDays: {"next-x-days", ""},
	// on-or-after is "from the start of its UTC day": ge that instant.
	// FetchXML's own on-or-after takes a date in the fetching user's
	// time zone (for user-local columns), which could widen the filter.
	sdk.OpOnOrAfter:         {"ge", "lt"},
	sdk.OpEqUserID:          {"eq-userid", "ne-userid"},
	sdk.OpNeUserID:          {"ne-userid", "eq-userid"},
	sdk.OpEqBusinessID:      {"eq-businessid", "ne-businessid"},
	sdk.OpEqUserOrUserTeams: {"eq-useroruserteams", ""},
}

func (b *builder) cond(f *sdk.Filter, e *sdk.Entity, owner string, neg bool) (*node, error) {
	pair, ok := operators[f.Op]
	if !ok {
		return nil, fmt.Errorf("%s: unsupported operator %q", f.Field, f.Op)
	}
	op := pair[0]
	if neg {
		op = pair[1]
		if op == "" {
			return nil, fmt.Errorf("%s: cannot negate %s: FetchXML has no exact inverse", f.Field, f.Op)
		}
	}
	if err := checkName(f.Field); err != nil {
		return nil, err
	}
	typ := sdk.TypeGUID
	if f.Field != e.PrimaryKey {
		fd := e.Field(f.Field)
		if fd == nil {
			return nil, fmt.Errorf("entity %q has no field %q", e.Name, f.Field)
		}
		typ = fd.Type
	}
	n := &node{kind: kindCond, attr: f.Field, op: op, owner: owner}
	fail := func(err error) (*node, error) { return nil, fmt.Errorf("%s %s: %w", f.Field, f.Op, err) }

	switch f.Op {
	case sdk.OpIsNull, sdk.OpNotNull, sdk.OpEqUserID, sdk.OpNeUserID, sdk.OpEqBusinessID, sdk.OpEqUserOrUserTeams:
		if typ == sdk.TypeBinary || typ == sdk.TypeUnknown {
			return fail(fmt.Errorf("%s fields cannot be filtered", typ))
		}
		return n, nil
	case sdk.OpLastXDays, sdk.OpNextXDays:
		d := f.Values[0].Int()
		if d < 1 || d > sdk.MaxRelativeDays {
			return fail(fmt.Errorf("needs 1 to %d days, got %d", sdk.MaxRelativeDays, d))
		}
		n.value, n.hasValue = strconv.FormatInt(d, 10), true
		return n, nil
	case sdk.OpOnOrAfter:
		if typ != sdk.TypeDateTime {
			return fail(fmt.Errorf("needs a date-time field; %s is %s", f.Field, typ))
		}
		v, err := dateTime(startOfUTCDay(f.Values[0].Int()))
		if err != nil {
			return fail(err)
		}
		n.value, n.hasValue = v, true
		return n, nil
	case sdk.OpLike, sdk.OpBeginsWith:
		if typ != sdk.TypeString {
			return fail(fmt.Errorf("needs a text field; %s is %s", f.Field, typ))
		}
		p := f.Values[0].Str()
		if err := checkText(p); err != nil {
			return fail(err)
		}
		if f.Op == sdk.OpLike {
			n.value = likePattern(p)
		} else {
			n.value = literalPrefix(p)
		}
		n.hasValue = true
		return n, nil
	case sdk.OpLt, sdk.OpLe, sdk.OpGt, sdk.OpGe:
		if typ == sdk.TypeBool {
			return fail(errors.New("bool fields have no order"))
		}
	}
	vals := make([]string, len(f.Values))
	for i, v := range f.Values {
		s, err := literal(typ, v)
		if err != nil {
			return fail(err)
		}
		vals[i] = s
	}
	if f.Op == sdk.OpIn || f.Op == sdk.OpNotIn {
		n.values = vals
	} else {
		n.value, n.hasValue = vals[0], true
	}
	return n, nil
}

// Wildcards. Dataverse runs like, not-like, begins-with and not-begin-with
// as T-SQL LIKE with the value as the pattern (Microsoft: "Use wildcard
// characters in conditions for string values"), where %, _ and [ are
// special and a bracketed character is literal. Resco Cloud is assumed to
// do the same (unverified). The sdk's patterns know only % and _, so a [
// in them is literal; a begins-with prefix is literal throughout.

// likePattern turns an sdk like pattern into a T-SQL one.
func likePattern(p string) string { return strings.ReplaceAll(p, "[", "[[]") }

// literalPrefix turns a begins-with prefix into a pattern matching itself.
func literalPrefix(p string) string {
	var b strings.Builder
	for _, r := range p {
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

// renderInner writes a filter whose links all sit under ands: each becomes
// an inner link-entity with its own filter.
func (b *builder) renderInner(root *node) (Fragment, error) {
	var fw, lw strings.Builder
	if err := scope(&fw, &lw, root); err != nil {
		return Fragment{}, err
	}
	return Fragment{Filter: fw.String(), Links: lw.String()}, nil
}

// scope writes the filter of one entity or link-entity to fw and its
// link-entity children to lw.
func scope(fw, lw *strings.Builder, n *node) error {
	var conds, links []*node
	split(n, &conds, &links)
	if len(conds) == 1 && conds[0].kind == kindGroup {
		if err := innerGroup(fw, conds[0]); err != nil {
			return err
		}
	} else if len(conds) > 0 {
		fw.WriteString(`<filter type="and">`)
		for _, c := range conds {
			if err := innerGroup(fw, c); err != nil {
				return err
			}
		}
		fw.WriteString(`</filter>`)
	}
	for _, l := range links {
		linkEntity(lw, l, "inner")
		var cf, cl strings.Builder
		if err := scope(&cf, &cl, l.child); err != nil {
			return err
		}
		lw.WriteString(cf.String())
		lw.WriteString(cl.String())
		lw.WriteString(`</link-entity>`)
	}
	return nil
}

// split sorts the nodes under n's ands into conditions (and or-groups) and
// links.
func split(n *node, conds, links *[]*node) {
	switch {
	case n.kind == kindGroup && n.group == "and":
		for _, k := range n.kids {
			split(k, conds, links)
		}
	case n.kind == kindLink:
		*links = append(*links, n)
	default:
		*conds = append(*conds, n)
	}
}

func innerGroup(w *strings.Builder, n *node) error {
	switch n.kind {
	case kindCond:
		condition(w, n, false)
	case kindGroup:
		w.WriteString(`<filter type="` + n.group + `">`)
		for _, k := range n.kids {
			if err := innerGroup(w, k); err != nil {
				return err
			}
		}
		w.WriteString(`</filter>`)
	default: // build set outer for any link under an or
		return errors.New("internal: link under an or in an inner join")
	}
	return nil
}

// renderOuter writes the whole condition into the entity's filter, with
// every link an outer link-entity.
func (b *builder) renderOuter(root *node) (Fragment, error) {
	var fw, lw strings.Builder
	if root.kind == kindCond {
		fw.WriteString(`<filter type="and">`)
		outerItem(&fw, root)
		fw.WriteString(`</filter>`)
	} else {
		outerItem(&fw, root)
	}
	outerLinks(&lw, root)
	return Fragment{Filter: fw.String(), Links: lw.String()}, nil
}

func outerItem(w *strings.Builder, n *node) {
	switch n.kind {
	case kindCond:
		condition(w, n, true)
	case kindGroup:
		w.WriteString(`<filter type="` + n.group + `">`)
		for _, k := range n.kids {
			outerItem(w, k)
		}
		w.WriteString(`</filter>`)
	case kindLink:
		// The parent exists and matches.
		w.WriteString(`<filter type="and">`)
		condition(w, &node{attr: n.from, op: "not-null", owner: n.alias}, true)
		outerItem(w, n.child)
		w.WriteString(`</filter>`)
	}
}

// outerLinks writes the link-entity of every link in n, nested as the
// links are.
func outerLinks(w *strings.Builder, n *node) {
	switch n.kind {
	case kindGroup:
		for _, k := range n.kids {
			outerLinks(w, k)
		}
	case kindLink:
		linkEntity(w, n, "outer")
		outerLinks(w, n.child)
		w.WriteString(`</link-entity>`)
	}
}

func linkEntity(w *strings.Builder, n *node, typ string) {
	w.WriteString(`<link-entity`)
	attr(w, "name", n.target)
	attr(w, "from", n.from)
	attr(w, "to", n.to)
	attr(w, "link-type", typ)
	attr(w, "alias", n.alias)
	w.WriteByte('>')
}

func condition(w *strings.Builder, n *node, entityName bool) {
	w.WriteString(`<condition`)
	if entityName && n.owner != "" {
		attr(w, "entityname", n.owner)
	}
	attr(w, "attribute", n.attr)
	attr(w, "operator", n.op)
	if n.hasValue {
		attr(w, "value", n.value)
	}
	if n.values == nil {
		w.WriteString(`/>`)
		return
	}
	w.WriteByte('>')
	for _, v := range n.values {
		w.WriteString(`<value>`)
		escape(w, v)
		w.WriteString(`</value>`)
	}
	w.WriteString(`</condition>`)
}

// attr writes ` name="value"`, the value escaped.
func attr(w *strings.Builder, name, value string) {
	w.WriteByte(' ')
	w.WriteString(name)
	w.WriteString(`="`)
	escape(w, value)
	w.WriteByte('"')
}
