package emulator

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// This file parses the SOQL subset the emulator answers:
//
//	SELECT field[, field...] | COUNT() | COUNT(field)
//	FROM object
//	[WHERE condition]
//	[ORDER BY field [ASC|DESC] [NULLS FIRST|LAST][, ...]]
//	[LIMIT n] [OFFSET n]
//
// Fields are an object's own or one level up a relationship (Account.Name).
// Conditions: = != <> < <= > >= LIKE IN NOT IN, AND OR NOT, parentheses,
// and a semi-join "field IN (SELECT field FROM object [WHERE ...])".
// Values: 'strings' (escapes \' \" \\ \n \r \t \b \f \% \_), numbers, true,
// false, null, dates (2026-11-26), date-times (2026-11-26T10:00:00Z,
// fractions and +hh:mm offsets allowed) and the date literals TODAY,
// YESTERDAY, TOMORROW, LAST_N_DAYS:n, NEXT_N_DAYS:n.

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tDate
	tDateTime
	tOp
	tLParen
	tRParen
	tComma
	tColon
)

type token struct {
	kind tokKind
	text string // identifier, operator, number text or decoded string
	like string // tString: the value as a SQLite LIKE pattern (escape '\')
	pos  int
	t    time.Time
}

// soqlError is a query the emulator refuses: MALFORMED_QUERY unless a
// different code is named.
type soqlError struct {
	code string
	msg  string
}

func (e *soqlError) Error() string { return e.code + ": " + e.msg }

func malformed(format string, args ...any) error {
	return &soqlError{code: "MALFORMED_QUERY", msg: fmt.Sprintf(format, args...)}
}

const maxSOQL = 100000 // SOQL statements are capped at 100,000 characters

func lex(src string) ([]token, error) {
	if len(src) > maxSOQL {
		return nil, malformed("the query is longer than %d characters", maxSOQL)
	}
	var out []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			out = append(out, token{kind: tLParen, text: "(", pos: i})
			i++
		case c == ')':
			out = append(out, token{kind: tRParen, text: ")", pos: i})
			i++
		case c == ',':
			out = append(out, token{kind: tComma, text: ",", pos: i})
			i++
		case c == ':':
			out = append(out, token{kind: tColon, text: ":", pos: i})
			i++
		case c == '=':
			out = append(out, token{kind: tOp, text: "=", pos: i})
			i++
		case c == '!' || c == '<' || c == '>':
			op := string(c)
			if i+1 < len(src) && (src[i+1] == '=' || (c == '<' && src[i+1] == '>')) {
				op += string(src[i+1])
			}
			if op == "!" {
				return nil, malformed("unexpected token: '!'")
			}
			if op == "<>" {
				op = "!="
			}
			out = append(out, token{kind: tOp, text: op, pos: i})
			i += len(op)
			if op == "!=" && src[i-1] == '>' {
				// "<>" is two bytes as well
			}
		case c == '\'':
			t, n, err := lexString(src, i)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
			i = n
		case isDigit(c) || ((c == '-' || c == '+') && i+1 < len(src) && (isDigit(src[i+1]) || src[i+1] == '.')) || (c == '.' && i+1 < len(src) && isDigit(src[i+1])):
			t, n, err := lexNumberOrDate(src, i)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
			i = n
		case isIdentStart(c):
			j := i
			for j < len(src) && (isIdentStart(src[j]) || isDigit(src[j]) || src[j] == '.') {
				j++
			}
			out = append(out, token{kind: tIdent, text: src[i:j], pos: i})
			i = j
		default:
			return nil, malformed("unexpected character %q at position %d", rune(c), i)
		}
	}
	out = append(out, token{kind: tEOF, pos: len(src)})
	return out, nil
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

func lexString(src string, start int) (token, int, error) {
	var val, like strings.Builder
	i := start + 1
	for i < len(src) {
		c := src[i]
		switch c {
		case '\'':
			return token{kind: tString, text: val.String(), like: like.String(), pos: start}, i + 1, nil
		case '\\':
			if i+1 >= len(src) {
				return token{}, 0, malformed("unterminated string at position %d", start)
			}
			e := src[i+1]
			var d byte
			switch e {
			case '\'', '"':
				d = e
			case '\\':
				d = '\\'
			case 'n':
				d = '\n'
			case 'r':
				d = '\r'
			case 't':
				d = '\t'
			case 'b':
				d = '\b'
			case 'f':
				d = '\f'
			case '%', '_':
				// A literal % or _ in a LIKE pattern.
				val.WriteByte('\\')
				val.WriteByte(e)
				like.WriteByte('\\')
				like.WriteByte(e)
				i += 2
				continue
			default:
				return token{}, 0, malformed("Invalid string literal '%s'. Illegal character sequence '\\%c' in string literal.", truncate(src[start:], 40), e)
			}
			val.WriteByte(d)
			if d == '\\' {
				like.WriteString(`\\`)
			} else {
				like.WriteByte(d)
			}
			i += 2
		default:
			val.WriteByte(c)
			like.WriteByte(c)
			i++
		}
	}
	return token{}, 0, malformed("unterminated string at position %d", start)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func lexNumberOrDate(src string, start int) (token, int, error) {
	// A date or date-time literal: 2026-11-26[Thh:mm:ss[.fff](Z|±hh:mm)].
	if len(src)-start >= 10 && isDigit(src[start]) && src[start+4] == '-' && src[start+7] == '-' {
		j := start + 10
		if j < len(src) && src[j] == 'T' {
			k := j + 1
			for k < len(src) && (isDigit(src[k]) || src[k] == ':' || src[k] == '.' || src[k] == 'Z' || src[k] == '+' || src[k] == '-') {
				k++
			}
			text := src[start:k]
			t, err := parseSOQLDateTime(text)
			if err != nil {
				return token{}, 0, malformed("line 1:%d no viable alternative at character '%s'", start, truncate(text, 40))
			}
			return token{kind: tDateTime, text: text, pos: start, t: t}, k, nil
		}
		text := src[start:j]
		t, err := time.Parse("2006-01-02", text)
		if err != nil {
			return token{}, 0, malformed("invalid date: %s", text)
		}
		return token{kind: tDate, text: text, pos: start, t: t}, j, nil
	}
	j := start
	if src[j] == '-' || src[j] == '+' {
		j++
	}
	digits, dot := 0, false
	for j < len(src) && (isDigit(src[j]) || (src[j] == '.' && !dot)) {
		if src[j] == '.' {
			dot = true
		} else {
			digits++
		}
		j++
	}
	if digits == 0 {
		return token{}, 0, malformed("invalid number at position %d", start)
	}
	text := src[start:j]
	if _, err := strconv.ParseFloat(text, 64); err != nil {
		return token{}, 0, malformed("invalid number: %s", truncate(text, 40))
	}
	if j < len(src) && (isIdentStart(src[j])) {
		return token{}, 0, malformed("unexpected token: '%s'", truncate(src[start:], 40))
	}
	return token{kind: tNumber, text: text, pos: start}, j, nil
}

func parseSOQLDateTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05.999999999Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a date-time")
}

// litKind is the kind of a value in a condition.
type litKind int

const (
	litString litKind = iota
	litNumber
	litBool
	litNull
	litDate
	litDateTime
	litRange // TODAY, LAST_N_DAYS:n, ...
)

type literal struct {
	kind litKind
	text string // string value, number text, range name
	like string
	b    bool
	t    time.Time
	n    int // LAST_N_DAYS:n
}

type node interface{ isNode() }

type logicNode struct {
	op   string // AND, OR
	l, r node
}

type notNode struct{ x node }

type cmpNode struct {
	field string
	op    string // = != < <= > >= LIKE IN NOTIN
	vals  []literal
	sub   *soqlQuery // semi-join
}

func (*logicNode) isNode() {}
func (*notNode) isNode()   {}
func (*cmpNode) isNode()   {}

type orderItem struct {
	field     string
	desc      bool
	nullsLast bool
}

type soqlQuery struct {
	count      bool   // COUNT()
	countField string // COUNT(field)
	fields     []string
	from       string
	where      node
	order      []orderItem
	limit      int // -1: none
	offset     int // -1: none
}

type parser struct {
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if p.i < len(p.toks)-1 {
		p.i++
	}
	return t
}

func (p *parser) isKw(kw string) bool {
	t := p.peek()
	return t.kind == tIdent && strings.EqualFold(t.text, kw)
}

func (p *parser) expectKw(kw string) error {
	if !p.isKw(kw) {
		return p.unexpected()
	}
	p.next()
	return nil
}

func (p *parser) unexpected() error {
	t := p.peek()
	if t.kind == tEOF {
		return malformed("unexpected token: <EOF>")
	}
	return malformed("unexpected token: '%s'", truncate(t.text, 60))
}

var reserved = map[string]bool{"select": true, "from": true, "where": true, "and": true, "or": true, "not": true,
	"in": true, "like": true, "order": true, "by": true, "limit": true, "offset": true, "null": true, "true": true,
	"false": true, "asc": true, "desc": true, "nulls": true, "group": true, "having": true, "with": true, "for": true,
	"using": true, "includes": true, "excludes": true}

// parseSOQL parses one query.
func parseSOQL(src string) (*soqlQuery, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	q, err := p.query(false)
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tEOF {
		return nil, p.unexpected()
	}
	return q, nil
}

func (p *parser) query(sub bool) (*soqlQuery, error) {
	q := &soqlQuery{limit: -1, offset: -1}
	if err := p.expectKw("SELECT"); err != nil {
		return nil, err
	}
	if p.isKw("COUNT") && p.toks[p.i+1].kind == tLParen {
		p.next()
		p.next()
		if p.peek().kind == tIdent {
			q.countField = p.next().text
		} else {
			q.count = true
		}
		if p.peek().kind != tRParen {
			return nil, p.unexpected()
		}
		p.next()
	} else {
		for {
			t := p.peek()
			if t.kind != tIdent || reserved[strings.ToLower(t.text)] {
				return nil, p.unexpected()
			}
			p.next()
			if p.peek().kind == tLParen {
				return nil, malformed("unsupported function or subquery in SELECT: %s", truncate(t.text, 40))
			}
			q.fields = append(q.fields, t.text)
			if p.peek().kind != tComma {
				break
			}
			p.next()
		}
	}
	if err := p.expectKw("FROM"); err != nil {
		return nil, err
	}
	t := p.peek()
	if t.kind != tIdent || reserved[strings.ToLower(t.text)] || strings.Contains(t.text, ".") {
		return nil, p.unexpected()
	}
	p.next()
	q.from = t.text
	if p.isKw("WHERE") {
		p.next()
		w, err := p.or()
		if err != nil {
			return nil, err
		}
		q.where = w
	}
	if sub {
		return q, nil
	}
	if p.isKw("ORDER") {
		p.next()
		if err := p.expectKw("BY"); err != nil {
			return nil, err
		}
		for {
			t := p.peek()
			if t.kind != tIdent || reserved[strings.ToLower(t.text)] {
				return nil, p.unexpected()
			}
			p.next()
			it := orderItem{field: t.text}
			if p.isKw("ASC") {
				p.next()
			} else if p.isKw("DESC") {
				p.next()
				it.desc = true
			}
			it.nullsLast = it.desc
			if p.isKw("NULLS") {
				p.next()
				switch {
				case p.isKw("FIRST"):
					it.nullsLast = false
				case p.isKw("LAST"):
					it.nullsLast = true
				default:
					return nil, p.unexpected()
				}
				p.next()
			}
			q.order = append(q.order, it)
			if p.peek().kind != tComma {
				break
			}
			p.next()
		}
	}
	if p.isKw("LIMIT") {
		p.next()
		n, err := p.count("LIMIT")
		if err != nil {
			return nil, err
		}
		q.limit = n
	}
	if p.isKw("OFFSET") {
		p.next()
		n, err := p.count("OFFSET")
		if err != nil {
			return nil, err
		}
		if n > 2000 {
			return nil, &soqlError{code: "NUMBER_OUTSIDE_VALID_RANGE", msg: "Maximum SOQL offset allowed is 2000"}
		}
		q.offset = n
	}
	return q, nil
}

func (p *parser) count(what string) (int, error) {
	t := p.peek()
	if t.kind != tNumber {
		return 0, p.unexpected()
	}
	n, err := strconv.Atoi(t.text)
	if err != nil || n < 0 {
		return 0, malformed("%s must be a non-negative integer: %s", what, truncate(t.text, 40))
	}
	p.next()
	return n, nil
}

const maxDepth = 100

func (p *parser) or() (node, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.isKw("OR") {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = &logicNode{op: "OR", l: l, r: r}
	}
	return l, nil
}

func (p *parser) and() (node, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.isKw("AND") {
		p.next()
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = &logicNode{op: "AND", l: l, r: r}
	}
	return l, nil
}

func (p *parser) unary() (node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, malformed("the condition is nested too deeply")
	}
	if p.isKw("NOT") {
		p.next()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &notNode{x: x}, nil
	}
	if p.peek().kind == tLParen {
		p.next()
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek().kind != tRParen {
			return nil, p.unexpected()
		}
		p.next()
		return x, nil
	}
	return p.comparison()
}

func (p *parser) comparison() (node, error) {
	t := p.peek()
	if t.kind != tIdent || reserved[strings.ToLower(t.text)] {
		return nil, p.unexpected()
	}
	p.next()
	c := &cmpNode{field: t.text}
	op := p.peek()
	switch {
	case op.kind == tOp:
		p.next()
		c.op = op.text
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		c.vals = []literal{v}
	case p.isKw("LIKE"):
		p.next()
		c.op = "LIKE"
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		c.vals = []literal{v}
	case p.isKw("IN"), p.isKw("NOT"):
		c.op = "IN"
		if p.isKw("NOT") {
			p.next()
			if !p.isKw("IN") {
				return nil, p.unexpected()
			}
			c.op = "NOTIN"
		}
		p.next()
		if p.peek().kind != tLParen {
			return nil, p.unexpected()
		}
		p.next()
		if p.isKw("SELECT") {
			p.depth++
			if p.depth > maxDepth {
				return nil, malformed("the condition is nested too deeply")
			}
			sub, err := p.query(true)
			p.depth--
			if err != nil {
				return nil, err
			}
			c.sub = sub
		} else {
			for {
				v, err := p.value()
				if err != nil {
					return nil, err
				}
				c.vals = append(c.vals, v)
				if p.peek().kind != tComma {
					break
				}
				p.next()
			}
		}
		if p.peek().kind != tRParen {
			return nil, p.unexpected()
		}
		p.next()
	default:
		return nil, p.unexpected()
	}
	return c, nil
}

var rangeLiterals = map[string]bool{"TODAY": true, "YESTERDAY": true, "TOMORROW": true, "LAST_N_DAYS": true, "NEXT_N_DAYS": true}

func (p *parser) value() (literal, error) {
	t := p.peek()
	switch t.kind {
	case tString:
		p.next()
		return literal{kind: litString, text: t.text, like: t.like}, nil
	case tNumber:
		p.next()
		return literal{kind: litNumber, text: t.text}, nil
	case tDate:
		p.next()
		return literal{kind: litDate, text: t.text, t: t.t}, nil
	case tDateTime:
		p.next()
		return literal{kind: litDateTime, text: t.text, t: t.t}, nil
	case tIdent:
		u := strings.ToUpper(t.text)
		switch u {
		case "NULL":
			p.next()
			return literal{kind: litNull}, nil
		case "TRUE", "FALSE":
			p.next()
			return literal{kind: litBool, b: u == "TRUE"}, nil
		}
		if rangeLiterals[u] {
			p.next()
			l := literal{kind: litRange, text: u}
			if u == "LAST_N_DAYS" || u == "NEXT_N_DAYS" {
				if p.peek().kind != tColon {
					return literal{}, p.unexpected()
				}
				p.next()
				n := p.peek()
				v, err := strconv.Atoi(n.text)
				if n.kind != tNumber || err != nil || v < 0 || v > 100000 {
					return literal{}, malformed("invalid date literal value: %s:%s", u, truncate(n.text, 20))
				}
				p.next()
				l.n = v
			}
			return l, nil
		}
	}
	return literal{}, p.unexpected()
}
