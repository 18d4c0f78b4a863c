package emulator

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Bounds on one FetchXML document.
const (
	maxFetchXML   = 1 << 20
	maxXMLDepth   = 32
	maxXMLNodes   = 20000
	maxLinks      = 15
	maxFetchCount = 5000
)

// xnode is one parsed XML element.
type xnode struct {
	name  string
	attrs map[string]string
	kids  []*xnode
	text  string
}

// parseXML reads one XML document into a tree, bounded in size, depth and
// node count. Non-blank text is kept only for leaves.
func parseXML(src string) (*xnode, error) {
	if len(src) > maxFetchXML {
		return nil, fmt.Errorf("the FetchXML exceeds %d bytes", maxFetchXML)
	}
	d := xml.NewDecoder(strings.NewReader(src))
	d.Strict = true
	var stack []*xnode
	var root *xnode
	nodes := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("the FetchXML is not well-formed: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			nodes++
			if nodes > maxXMLNodes {
				return nil, fmt.Errorf("the FetchXML has more than %d elements", maxXMLNodes)
			}
			if len(stack) >= maxXMLDepth {
				return nil, fmt.Errorf("the FetchXML nests deeper than %d elements", maxXMLDepth)
			}
			if t.Name.Space != "" {
				return nil, fmt.Errorf("element <%s:%s>: namespaces are not supported", t.Name.Space, t.Name.Local)
			}
			n := &xnode{name: t.Name.Local, attrs: map[string]string{}}
			for _, a := range t.Attr {
				if a.Name.Space != "" {
					return nil, fmt.Errorf("element <%s>: namespaced attribute %s:%s is not supported", n.name, a.Name.Space, a.Name.Local)
				}
				if _, dup := n.attrs[a.Name.Local]; dup {
					return nil, fmt.Errorf("element <%s> repeats attribute %s", n.name, a.Name.Local)
				}
				n.attrs[a.Name.Local] = a.Value
			}
			if len(stack) == 0 {
				if root != nil {
					return nil, errors.New("the FetchXML has more than one root element")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				if strings.TrimSpace(p.text) != "" {
					return nil, fmt.Errorf("element <%s> mixes text and elements", p.name)
				}
				p.kids = append(p.kids, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) != 0 {
					return nil, errors.New("the FetchXML has text outside its root element")
				}
				continue
			}
			p := stack[len(stack)-1]
			if len(p.kids) > 0 && len(bytes.TrimSpace(t)) != 0 {
				return nil, fmt.Errorf("element <%s> mixes text and elements", p.name)
			}
			p.text += string(t)
		case xml.Directive:
			return nil, errors.New("the FetchXML may not hold a DOCTYPE or other directive")
		}
	}
	if root == nil {
		return nil, errors.New("the FetchXML is empty")
	}
	return root, nil
}

// checkAttrs refuses attributes of n outside allowed.
func (n *xnode) checkAttrs(allowed ...string) error {
	for k := range n.attrs {
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if !ok {
			return fmt.Errorf("<%s> does not take the attribute %q", n.name, k)
		}
	}
	if strings.TrimSpace(n.text) != "" && n.name != "value" {
		return fmt.Errorf("<%s> does not take text", n.name)
	}
	return nil
}

// fetchQuery is a parsed, checked <fetch>.
type fetchQuery struct {
	count    int
	page     int
	cookie   string
	distinct bool
	top      bool // count came from top: no paging
	root     *fetchEntity
}

// fetchEntity is the <entity> or one <link-entity>.
type fetchEntity struct {
	ent      *Entity
	alias    string // link alias ("" for the entity); the SQL alias is sqlAlias
	sqlAlias string
	allAttrs bool
	attrs    []string
	orders   []fetchOrder
	filters  []*fetchFilter
	links    []*fetchEntity
	from, to string
	outer    bool
}

type fetchOrder struct {
	attr string
	desc bool
}

type fetchFilter struct {
	or    bool
	items []any // *fetchCondition or *fetchFilter
}

type fetchCondition struct {
	entityName string
	attr       string
	op         string
	value      string
	hasValue   bool
	values     []string
}

func parseBool(s string) (bool, error) {
	switch s {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", s)
}

// parseFetch parses and checks src against the model.
func parseFetch(src string) (*fetchQuery, error) {
	root, err := parseXML(src)
	if err != nil {
		return nil, err
	}
	if root.name != "fetch" {
		return nil, fmt.Errorf("the root element is <%s>, not <fetch>", root.name)
	}
	if err := root.checkAttrs("version", "mapping", "count", "page", "paging-cookie", "no-lock", "distinct", "top", "output-format", "returntotalrecordcount", "latematerialize"); err != nil {
		return nil, err
	}
	q := &fetchQuery{count: maxFetchCount}
	if v, ok := root.attrs["mapping"]; ok && v != "logical" {
		return nil, fmt.Errorf("mapping must be \"logical\"")
	}
	if v, ok := root.attrs["output-format"]; ok && v != "xml-platform" {
		return nil, fmt.Errorf("output-format %q is not supported", v)
	}
	for _, k := range []string{"no-lock", "returntotalrecordcount", "latematerialize"} {
		if v, ok := root.attrs[k]; ok {
			if _, err := parseBool(v); err != nil {
				return nil, fmt.Errorf("%s: %v", k, err)
			}
		}
	}
	if v, ok := root.attrs["distinct"]; ok {
		if q.distinct, err = parseBool(v); err != nil {
			return nil, fmt.Errorf("distinct: %v", err)
		}
	}
	num := func(k string, lo, hi int) (int, bool, error) {
		v, ok := root.attrs[k]
		if !ok {
			return 0, false, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return 0, false, fmt.Errorf("%s must be a whole number from %d to %d", k, lo, hi)
		}
		return n, true, nil
	}
	count, hasCount, err := num("count", 1, maxFetchCount)
	if err != nil {
		return nil, err
	}
	top, hasTop, err := num("top", 1, maxFetchCount)
	if err != nil {
		return nil, err
	}
	page, hasPage, err := num("page", 1, 1<<30)
	if err != nil {
		return nil, err
	}
	if hasTop && (hasCount || hasPage) {
		return nil, errors.New("top cannot be combined with count or page")
	}
	if hasCount {
		q.count = count
	}
	if hasTop {
		q.count, q.top = top, true
	}
	q.page = 1
	if hasPage {
		q.page = page
	}
	if c, ok := root.attrs["paging-cookie"]; ok && c != "" {
		if !hasPage {
			return nil, errors.New("a paging-cookie needs the page it asks for")
		}
		q.cookie = c
	}
	if len(root.kids) != 1 || root.kids[0].name != "entity" {
		return nil, errors.New("<fetch> must hold exactly one <entity>")
	}
	p := &fetchParser{aliases: map[string]*fetchEntity{}}
	if q.root, err = p.entity(root.kids[0], nil); err != nil {
		return nil, err
	}
	// Conditions naming a link alias are resolved once every alias is known.
	for _, f := range q.root.filters {
		if err := p.resolve(f, q.root); err != nil {
			return nil, err
		}
	}
	return q, nil
}

type fetchParser struct {
	aliases map[string]*fetchEntity
	n       int
}

func (p *fetchParser) entity(n *xnode, parent *fetchEntity) (*fetchEntity, error) {
	fe := &fetchEntity{sqlAlias: "t" + strconv.Itoa(p.n)}
	p.n++
	if parent == nil {
		if err := n.checkAttrs("name"); err != nil {
			return nil, err
		}
	} else {
		if err := n.checkAttrs("name", "from", "to", "alias", "link-type", "visible", "intersect"); err != nil {
			return nil, err
		}
	}
	name := n.attrs["name"]
	if fe.ent = entity(name); fe.ent == nil {
		return nil, fmt.Errorf("<%s>: the entity %q does not exist", n.name, name)
	}
	if parent != nil {
		if p.n-1 > maxLinks {
			return nil, fmt.Errorf("more than %d link-entity elements", maxLinks)
		}
		fe.from, fe.to = n.attrs["from"], n.attrs["to"]
		if a := fe.ent.Attr(fe.from); a == nil || (a.Type != TypeGuid && a.Type != TypeLookup) {
			return nil, fmt.Errorf("<link-entity name=%q>: from %q is not a key or lookup of %s", name, fe.from, name)
		}
		if a := parent.ent.Attr(fe.to); a == nil || (a.Type != TypeGuid && a.Type != TypeLookup) {
			return nil, fmt.Errorf("<link-entity name=%q>: to %q is not a key or lookup of %s", name, fe.to, parent.ent.Name)
		}
		switch n.attrs["link-type"] {
		case "", "inner":
		case "outer":
			fe.outer = true
		default:
			return nil, fmt.Errorf("<link-entity>: link-type %q is not inner or outer", n.attrs["link-type"])
		}
		fe.alias = n.attrs["alias"]
		if fe.alias == "" {
			fe.alias = name + strconv.Itoa(p.n-1)
		}
		if !validName(fe.alias) {
			return nil, fmt.Errorf("<link-entity>: alias %q is not a name", fe.alias)
		}
		if p.aliases[fe.alias] != nil {
			return nil, fmt.Errorf("<link-entity>: alias %q is used twice", fe.alias)
		}
		p.aliases[fe.alias] = fe
	}
	for _, k := range n.kids {
		switch k.name {
		case "attribute":
			if err := k.checkAttrs("name"); err != nil {
				return nil, err
			}
			a := fe.ent.Attr(k.attrs["name"])
			if a == nil {
				return nil, fmt.Errorf("<attribute>: %s has no attribute %q", name, k.attrs["name"])
			}
			if a.Type == TypeBinary {
				return nil, fmt.Errorf("<attribute>: %s.%s is binary; read it through Blob", name, a.Name)
			}
			for _, x := range fe.attrs {
				if x == a.Name {
					return nil, fmt.Errorf("<attribute>: %q is listed twice", a.Name)
				}
			}
			fe.attrs = append(fe.attrs, a.Name)
		case "all-attributes":
			if err := k.checkAttrs(); err != nil {
				return nil, err
			}
			fe.allAttrs = true
		case "order":
			if parent != nil {
				return nil, errors.New("<order> inside <link-entity> is not supported")
			}
			if err := k.checkAttrs("attribute", "descending"); err != nil {
				return nil, err
			}
			o := fetchOrder{attr: k.attrs["attribute"]}
			if a := fe.ent.Attr(o.attr); o.attr != versionAttr && (a == nil || a.Type == TypeBinary) {
				return nil, fmt.Errorf("<order>: %s has no sortable attribute %q", name, o.attr)
			}
			if v, ok := k.attrs["descending"]; ok {
				d, err := parseBool(v)
				if err != nil {
					return nil, fmt.Errorf("<order> descending: %v", err)
				}
				o.desc = d
			}
			fe.orders = append(fe.orders, o)
		case "filter":
			f, err := p.filter(k, fe, parent == nil, 0)
			if err != nil {
				return nil, err
			}
			fe.filters = append(fe.filters, f)
		case "link-entity":
			l, err := p.entity(k, fe)
			if err != nil {
				return nil, err
			}
			fe.links = append(fe.links, l)
		default:
			return nil, fmt.Errorf("<%s> cannot hold <%s>", n.name, k.name)
		}
	}
	if fe.allAttrs && len(fe.attrs) > 0 {
		return nil, fmt.Errorf("<%s> holds both <all-attributes/> and <attribute>", n.name)
	}
	return fe, nil
}

func validName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// valueless are the operators taking no value.
var valueless = map[string]bool{
	"null": true, "not-null": true, "eq-userid": true, "ne-userid": true, "eq-businessid": true,
	"ne-businessid": true, "eq-useroruserteams": true, "eq-userteams": true,
}

// knownOps are the operators the evaluator implements.
var knownOps = map[string]bool{
	"eq": true, "ne": true, "lt": true, "le": true, "gt": true, "ge": true, "in": true, "not-in": true,
	"like": true, "not-like": true, "begins-with": true, "not-begin-with": true, "ends-with": true, "not-end-with": true,
	"null": true, "not-null": true, "last-x-days": true, "next-x-days": true, "on-or-after": true, "on-or-before": true,
	"eq-userid": true, "ne-userid": true, "eq-businessid": true, "ne-businessid": true, "eq-useroruserteams": true, "eq-userteams": true,
}

func (p *fetchParser) filter(n *xnode, fe *fetchEntity, top bool, depth int) (*fetchFilter, error) {
	if err := n.checkAttrs("type"); err != nil {
		return nil, err
	}
	f := &fetchFilter{}
	switch n.attrs["type"] {
	case "", "and":
	case "or":
		f.or = true
	default:
		return nil, fmt.Errorf("<filter> type %q is not and or or", n.attrs["type"])
	}
	for _, k := range n.kids {
		switch k.name {
		case "filter":
			c, err := p.filter(k, fe, top, depth+1)
			if err != nil {
				return nil, err
			}
			f.items = append(f.items, c)
		case "condition":
			c, err := p.condition(k, fe, top)
			if err != nil {
				return nil, err
			}
			f.items = append(f.items, c)
		default:
			return nil, fmt.Errorf("<filter> cannot hold <%s>", k.name)
		}
	}
	return f, nil
}

func (p *fetchParser) condition(n *xnode, fe *fetchEntity, top bool) (*fetchCondition, error) {
	if err := n.checkAttrs("attribute", "operator", "value", "entityname"); err != nil {
		return nil, err
	}
	c := &fetchCondition{entityName: n.attrs["entityname"], attr: n.attrs["attribute"], op: n.attrs["operator"]}
	if c.entityName != "" && !top {
		return nil, errors.New("<condition entityname> is only supported in the filter of the <entity>")
	}
	if !knownOps[c.op] {
		return nil, fmt.Errorf("<condition>: operator %q is not supported", c.op)
	}
	c.value, c.hasValue = n.attrs["value"]
	for _, v := range n.kids {
		if v.name != "value" {
			return nil, fmt.Errorf("<condition> cannot hold <%s>", v.name)
		}
		if err := v.checkAttrs(); err != nil {
			return nil, err
		}
		c.values = append(c.values, v.text)
	}
	switch {
	case valueless[c.op]:
		if c.hasValue || len(c.values) > 0 {
			return nil, fmt.Errorf("<condition attribute=%q>: %s takes no value", c.attr, c.op)
		}
	case c.op == "in" || c.op == "not-in":
		if c.hasValue {
			c.values = append(c.values, c.value)
			c.hasValue = false
		}
		if len(c.values) == 0 {
			return nil, fmt.Errorf("<condition attribute=%q>: %s needs <value> elements", c.attr, c.op)
		}
	default:
		if len(c.values) == 1 && !c.hasValue {
			c.value, c.hasValue, c.values = c.values[0], true, nil
		}
		if !c.hasValue || len(c.values) > 0 {
			return nil, fmt.Errorf("<condition attribute=%q>: %s needs exactly one value", c.attr, c.op)
		}
	}
	if c.entityName == "" {
		if _, err := attrType(fe.ent, c.attr); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// resolve checks the conditions that name a link alias.
func (p *fetchParser) resolve(f *fetchFilter, root *fetchEntity) error {
	for _, it := range f.items {
		switch x := it.(type) {
		case *fetchFilter:
			if err := p.resolve(x, root); err != nil {
				return err
			}
		case *fetchCondition:
			if x.entityName == "" {
				continue
			}
			fe := p.aliases[x.entityName]
			if fe == nil {
				return fmt.Errorf("<condition entityname=%q>: no link-entity has that alias", x.entityName)
			}
			if _, err := attrType(fe.ent, x.attr); err != nil {
				return err
			}
		}
	}
	return nil
}

// attrType is the type of attr on e, versionnumber included.
func attrType(e *Entity, attr string) (string, error) {
	if attr == versionAttr {
		return TypeBigInt, nil
	}
	a := e.Attr(attr)
	if a == nil {
		return "", fmt.Errorf("<condition>: %s has no attribute %q", e.Name, attr)
	}
	if a.Type == TypeBinary {
		return "", fmt.Errorf("<condition>: %s.%s is binary and cannot be filtered", e.Name, attr)
	}
	return a.Type, nil
}
