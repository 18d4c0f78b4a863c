package emulator

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// This file parses $filter expressions: the OData v4 subset Dataverse
// documents ("Filter rows", "Web API Query Function Reference") and our
// translator (plugins/dataverse/odata) emits:
//
//	expr     = or
//	or       = and *( "or" and )
//	and      = unary *( "and" unary )
//	unary    = "not" unary / primary
//	primary  = "(" expr ")" / strfunc / queryfn / operand cmp operand
//	strfunc  = ("contains" / "startswith" / "endswith") "(" path "," string ")"
//	queryfn  = "Microsoft.Dynamics.CRM." name "(" [ arg *( "," arg ) ] ")"
//	arg      = name "=" ( string / number / "[" [ item *( "," item ) ] "]" )
//	operand  = path / literal
//	path     = name *( "/" name )
//	literal  = null / true / false / 'text' / number / GUID / date / date-time
//
// Parsing never panics and refuses anything else with a 400 naming the
// position; the SQL is built from the tree in filtersql.go.

// maxFilterLen and maxFilterDepth bound the work one $filter may cause.
const (
	maxFilterLen   = 64 * 1024
	maxFilterDepth = 64
)

type tokKind int

const (
	tkEOF tokKind = iota
	tkName
	tkString // 'text'
	tkJSON   // "text" (inside PropertyValues)
	tkNumber
	tkGUID
	tkDate
	tkDateTime
	tkLParen
	tkRParen
	tkComma
	tkEquals
	tkLBracket
	tkRBracket
	tkSlash
)

type token struct {
	kind tokKind
	text string // names, numbers, GUIDs, dates: as written; strings: unescaped
	pos  int    // byte offset, for messages
}

type lexer struct {
	src string
	pos int
}

func filterSyntaxError(src string, pos int, format string, args ...any) error {
	return badRequest(codeQuery, fmt.Sprintf("Syntax error at position %d in '%s': %s", pos, src, fmt.Sprintf(format, args...)))
}

func isNameStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isNameChar(c byte) bool  { return isNameStart(c) || '0' <= c && c <= '9' || c == '.' }
func isDigit(c byte) bool     { return '0' <= c && c <= '9' }
func isHex(c byte) bool       { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// guidAt reports whether a GUID (8-4-4-4-12 hex) starts at s[i] and is not
// followed by a name character.
func guidAt(s string, i int) bool {
	if len(s)-i < 36 {
		return false
	}
	for j := 0; j < 36; j++ {
		c := s[i+j]
		switch j {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return i+36 == len(s) || !isNameChar(s[i+36])
}

// dateAt returns the length of a date (YYYY-MM-DD) or date-time literal at
// s[i], and whether it has a time part; 0 when there is none.
func dateAt(s string, i int) (int, bool) {
	d := func(k, n int) bool {
		if i+k+n > len(s) {
			return false
		}
		for j := 0; j < n; j++ {
			if !isDigit(s[i+k+j]) {
				return false
			}
		}
		return true
	}
	at := func(k int, c byte) bool { return i+k < len(s) && s[i+k] == c }
	if !(d(0, 4) && at(4, '-') && d(5, 2) && at(7, '-') && d(8, 2)) {
		return 0, false
	}
	n := 10
	if !at(n, 'T') {
		return n, false
	}
	if !(d(n+1, 2) && at(n+3, ':') && d(n+4, 2)) {
		return 0, false
	}
	n += 6
	if at(n, ':') && d(n+1, 2) {
		n += 3
		if at(n, '.') && d(n+1, 1) {
			n += 2
			for i+n < len(s) && isDigit(s[i+n]) {
				n++
			}
		}
	}
	switch {
	case at(n, 'Z'):
		n++
	case (at(n, '+') || at(n, '-')) && d(n+1, 2) && at(n+3, ':') && d(n+4, 2):
		n += 6
	default:
		return 0, false
	}
	return n, true
}

func (l *lexer) next() (token, error) {
	s := l.src
	for l.pos < len(s) && (s[l.pos] == ' ' || s[l.pos] == '\t' || s[l.pos] == '\r' || s[l.pos] == '\n') {
		l.pos++
	}
	start := l.pos
	if l.pos >= len(s) {
		return token{kind: tkEOF, pos: start}, nil
	}
	c := s[l.pos]
	single := map[byte]tokKind{'(': tkLParen, ')': tkRParen, ',': tkComma, '=': tkEquals, '[': tkLBracket, ']': tkRBracket, '/': tkSlash}
	if k, ok := single[c]; ok {
		l.pos++
		return token{kind: k, text: string(c), pos: start}, nil
	}
	switch {
	case c == '\'':
		return l.quoted(start)
	case c == '"':
		return l.json(start)
	case isHex(c) && guidAt(s, l.pos):
		l.pos += 36
		return token{kind: tkGUID, text: s[start:l.pos], pos: start}, nil
	case isDigit(c):
		if n, hasTime := dateAt(s, l.pos); n > 0 {
			l.pos += n
			if hasTime {
				return token{kind: tkDateTime, text: s[start:l.pos], pos: start}, nil
			}
			return token{kind: tkDate, text: s[start:l.pos], pos: start}, nil
		}
		return l.number(start)
	case c == '-' || c == '+':
		if l.pos+1 < len(s) && isDigit(s[l.pos+1]) {
			return l.number(start)
		}
	case isNameStart(c):
		for l.pos < len(s) && isNameChar(s[l.pos]) {
			l.pos++
		}
		return token{kind: tkName, text: s[start:l.pos], pos: start}, nil
	}
	r, _ := utf8.DecodeRuneInString(s[l.pos:])
	return token{}, filterSyntaxError(s, start, "unexpected character %q", r)
}

func (l *lexer) number(start int) (token, error) {
	s := l.src
	if s[l.pos] == '-' || s[l.pos] == '+' {
		l.pos++
	}
	digits := func() int {
		n := 0
		for l.pos < len(s) && isDigit(s[l.pos]) {
			l.pos++
			n++
		}
		return n
	}
	if digits() == 0 {
		return token{}, filterSyntaxError(s, start, "a number needs digits")
	}
	if l.pos < len(s) && s[l.pos] == '.' {
		l.pos++
		if digits() == 0 {
			return token{}, filterSyntaxError(s, start, "a number needs digits after the point")
		}
	}
	if l.pos < len(s) && (s[l.pos] == 'e' || s[l.pos] == 'E') {
		l.pos++
		if l.pos < len(s) && (s[l.pos] == '+' || s[l.pos] == '-') {
			l.pos++
		}
		if digits() == 0 {
			return token{}, filterSyntaxError(s, start, "an exponent needs digits")
		}
	}
	// A type suffix (1.5M, 2L) as OData 4.0 clients may write.
	if l.pos < len(s) && strings.IndexByte("mMdDfFlL", s[l.pos]) >= 0 && (l.pos+1 == len(s) || !isNameChar(s[l.pos+1])) {
		text := s[start:l.pos]
		l.pos++
		return token{kind: tkNumber, text: text, pos: start}, nil
	}
	if l.pos < len(s) && isNameChar(s[l.pos]) {
		return token{}, filterSyntaxError(s, start, "a number runs into a name")
	}
	return token{kind: tkNumber, text: s[start:l.pos], pos: start}, nil
}

func (l *lexer) quoted(start int) (token, error) {
	s := l.src
	var b strings.Builder
	l.pos++
	for {
		i := strings.IndexByte(s[l.pos:], '\'')
		if i < 0 {
			return token{}, filterSyntaxError(s, start, "unterminated string literal")
		}
		b.WriteString(s[l.pos : l.pos+i])
		l.pos += i + 1
		if l.pos < len(s) && s[l.pos] == '\'' {
			b.WriteByte('\'')
			l.pos++
			continue
		}
		if !utf8.ValidString(b.String()) {
			return token{}, filterSyntaxError(s, start, "string literal is not valid UTF-8")
		}
		return token{kind: tkString, text: b.String(), pos: start}, nil
	}
}

// json lexes a JSON string, as OData passes collection arguments
// (PropertyValues=["a","b"]).
func (l *lexer) json(start int) (token, error) {
	s := l.src
	var b strings.Builder
	l.pos++
	for l.pos < len(s) {
		c := s[l.pos]
		switch {
		case c == '"':
			l.pos++
			if !utf8.ValidString(b.String()) {
				return token{}, filterSyntaxError(s, start, "string is not valid UTF-8")
			}
			return token{kind: tkJSON, text: b.String(), pos: start}, nil
		case c == '\\':
			if l.pos+1 >= len(s) {
				return token{}, filterSyntaxError(s, start, "unterminated escape")
			}
			e := s[l.pos+1]
			l.pos += 2
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				if l.pos+4 > len(s) {
					return token{}, filterSyntaxError(s, start, "short \\u escape")
				}
				var r rune
				for _, h := range []byte(s[l.pos : l.pos+4]) {
					var v byte
					switch {
					case isDigit(h):
						v = h - '0'
					case 'a' <= h && h <= 'f':
						v = h - 'a' + 10
					case 'A' <= h && h <= 'F':
						v = h - 'A' + 10
					default:
						return token{}, filterSyntaxError(s, start, "bad \\u escape")
					}
					r = r<<4 | rune(v)
				}
				l.pos += 4
				b.WriteRune(r)
			default:
				return token{}, filterSyntaxError(s, start, "bad escape \\%c", e)
			}
		default:
			b.WriteByte(c)
			l.pos++
		}
	}
	return token{}, filterSyntaxError(s, start, "unterminated string")
}

// Tree.

type node interface{ isNode() }

type nLogic struct {
	op   string // "and", "or"
	l, r node
}

type nNot struct{ x node }

// nCmp compares a path with a literal: path op lit.
type nCmp struct {
	op   string // eq ne lt le gt ge
	path []string
	lit  token
	pos  int
}

// nText is contains/startswith/endswith.
type nText struct {
	fn   string
	path []string
	arg  string
	pos  int
}

// nQuery is a Microsoft.Dynamics.CRM query function.
type nQuery struct {
	fn   string
	args map[string]qarg
	pos  int
}

type qarg struct {
	tok   token   // single value
	list  []token // collection value
	isSet bool
}

func (nLogic) isNode() {}
func (nNot) isNode()   {}
func (nCmp) isNode()   {}
func (nText) isNode()  {}
func (nQuery) isNode() {}

type parser struct {
	lx    lexer
	tok   token
	depth int
}

// parseFilter parses a $filter expression.
func parseFilter(src string) (node, error) {
	if len(src) > maxFilterLen {
		return nil, badRequest(codeQuery, fmt.Sprintf("The $filter expression is longer than %d bytes.", maxFilterLen))
	}
	if !utf8.ValidString(src) {
		return nil, badRequest(codeQuery, "The $filter expression is not valid UTF-8.")
	}
	p := &parser{lx: lexer{src: src}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tkEOF {
		return nil, filterSyntaxError(src, 0, "empty expression")
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tkEOF {
		return nil, p.fail("unexpected %s", p.describe())
	}
	return n, nil
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) fail(format string, args ...any) error {
	return filterSyntaxError(p.lx.src, p.tok.pos, format, args...)
}

func (p *parser) describe() string {
	if p.tok.kind == tkEOF {
		return "end of expression"
	}
	return fmt.Sprintf("'%s'", p.tok.text)
}

func (p *parser) isWord(w string) bool { return p.tok.kind == tkName && p.tok.text == w }

func (p *parser) expect(k tokKind, what string) error {
	if p.tok.kind != k {
		return p.fail("expected %s, found %s", what, p.describe())
	}
	return p.advance()
}

func (p *parser) or() (node, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.isWord("or") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = nLogic{op: "or", l: l, r: r}
	}
	return l, nil
}

func (p *parser) and() (node, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.isWord("and") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = nLogic{op: "and", l: l, r: r}
	}
	return l, nil
}

func (p *parser) unary() (node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxFilterDepth {
		return nil, p.fail("the expression nests deeper than %d levels", maxFilterDepth)
	}
	if p.isWord("not") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return nNot{x: x}, nil
	}
	return p.primary()
}

var comparisonOps = map[string]string{"eq": "eq", "ne": "ne", "lt": "lt", "le": "le", "gt": "gt", "ge": "ge"}

// mirror turns "lit op path" into "path mirror(op) lit".
var mirror = map[string]string{"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}

func (p *parser) primary() (node, error) {
	if p.tok.kind == tkLParen {
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		return n, p.expect(tkRParen, "')'")
	}
	if p.tok.kind == tkName {
		switch name := p.tok.text; {
		case name == "contains" || name == "startswith" || name == "endswith":
			return p.textFunc()
		case strings.HasPrefix(name, "Microsoft.Dynamics.CRM."):
			return p.queryFunc()
		case strings.Contains(name, "."):
			return nil, p.fail("unknown function or name '%s'", name)
		}
	}
	// operand op operand, one side a path.
	pos := p.tok.pos
	lpath, llit, err := p.operand()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tkName || comparisonOps[p.tok.text] == "" {
		if lpath != nil {
			return nil, p.fail("expected a comparison operator (eq, ne, lt, le, gt, ge) after '%s', found %s", strings.Join(lpath, "/"), p.describe())
		}
		return nil, p.fail("expected a comparison operator, found %s", p.describe())
	}
	op := p.tok.text
	if err := p.advance(); err != nil {
		return nil, err
	}
	rpath, rlit, err := p.operand()
	if err != nil {
		return nil, err
	}
	switch {
	case lpath != nil && rpath == nil:
		return nCmp{op: op, path: lpath, lit: rlit, pos: pos}, nil
	case lpath == nil && rpath != nil:
		return nCmp{op: mirror[op], path: rpath, lit: llit, pos: pos}, nil
	case lpath != nil:
		return nil, filterSyntaxError(p.lx.src, pos, "comparing two columns is not supported by the emulator")
	}
	return nil, filterSyntaxError(p.lx.src, pos, "a comparison needs a property on one side")
}

// operand reads a path or a literal.
func (p *parser) operand() ([]string, token, error) {
	t := p.tok
	switch t.kind {
	case tkName:
		switch t.text {
		case "null", "true", "false":
			return nil, t, p.advance()
		case "and", "or", "not", "eq", "ne", "lt", "le", "gt", "ge":
			return nil, t, p.fail("expected a property or a value, found '%s'", t.text)
		}
		var path []string
		for {
			if p.tok.kind != tkName {
				return nil, t, p.fail("expected a property name, found %s", p.describe())
			}
			if strings.Contains(p.tok.text, ".") {
				return nil, t, p.fail("'%s' is not a property name", p.tok.text)
			}
			path = append(path, p.tok.text)
			if err := p.advance(); err != nil {
				return nil, t, err
			}
			if p.tok.kind != tkSlash {
				return path, t, nil
			}
			if len(path) >= 8 {
				return nil, t, p.fail("the path is longer than 8 segments")
			}
			if err := p.advance(); err != nil {
				return nil, t, err
			}
		}
	case tkString, tkNumber, tkGUID, tkDate, tkDateTime:
		return nil, t, p.advance()
	}
	return nil, t, p.fail("expected a property or a value, found %s", p.describe())
}

func (p *parser) textFunc() (node, error) {
	fn, pos := p.tok.text, p.tok.pos
	if err := p.advance(); err != nil {
		return nil, err
	}
	if err := p.expect(tkLParen, "'(' after "+fn); err != nil {
		return nil, err
	}
	path, _, err := p.operand()
	if err != nil {
		return nil, err
	}
	if path == nil {
		return nil, p.fail("%s needs a property as its first argument", fn)
	}
	if err := p.expect(tkComma, "','"); err != nil {
		return nil, err
	}
	if p.tok.kind != tkString {
		return nil, p.fail("%s needs a string literal as its second argument, found %s", fn, p.describe())
	}
	arg := p.tok.text
	if err := p.advance(); err != nil {
		return nil, err
	}
	return nText{fn: fn, path: path, arg: arg, pos: pos}, p.expect(tkRParen, "')'")
}

func (p *parser) queryFunc() (node, error) {
	fn, pos := strings.TrimPrefix(p.tok.text, "Microsoft.Dynamics.CRM."), p.tok.pos
	if err := p.advance(); err != nil {
		return nil, err
	}
	if err := p.expect(tkLParen, "'(' after Microsoft.Dynamics.CRM."+fn); err != nil {
		return nil, err
	}
	args := map[string]qarg{}
	for p.tok.kind != tkRParen {
		if len(args) > 0 {
			if err := p.expect(tkComma, "',' or ')'"); err != nil {
				return nil, err
			}
		}
		if p.tok.kind != tkName {
			return nil, p.fail("expected a parameter name, found %s", p.describe())
		}
		name := p.tok.text
		if _, dup := args[name]; dup {
			return nil, p.fail("parameter %s is given twice", name)
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		if err := p.expect(tkEquals, "'='"); err != nil {
			return nil, err
		}
		var a qarg
		switch p.tok.kind {
		case tkString, tkNumber, tkGUID, tkDate, tkDateTime:
			a.tok = p.tok
			if err := p.advance(); err != nil {
				return nil, err
			}
		case tkLBracket:
			a.isSet = true
			if err := p.advance(); err != nil {
				return nil, err
			}
			for p.tok.kind != tkRBracket {
				if len(a.list) > 0 {
					if err := p.expect(tkComma, "',' or ']'"); err != nil {
						return nil, err
					}
				}
				switch p.tok.kind {
				case tkJSON, tkString, tkNumber, tkGUID:
					a.list = append(a.list, p.tok)
				default:
					return nil, p.fail("expected a value in the list, found %s", p.describe())
				}
				if len(a.list) > 10000 {
					return nil, p.fail("the list has more than 10000 values")
				}
				if err := p.advance(); err != nil {
					return nil, err
				}
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
		default:
			return nil, p.fail("expected a value for %s, found %s", name, p.describe())
		}
		args[name] = a
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return nQuery{fn: fn, args: args, pos: pos}, nil
}
