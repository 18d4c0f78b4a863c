package sdk

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on what ParseFilter reads. A real filter is a line or two.
const (
	// MaxFilterText bounds the text, in bytes.
	MaxFilterText = 64 << 10
	// MaxFilterList bounds the values of one in or not-in list.
	MaxFilterList = 10000
)

// maxFilterNesting bounds how deep parentheses, not, link and prefix groups
// nest in the text, so that parsing recurses a bounded number of levels.
// The canonical text of a filter MaxFilterDepth deep nests less than this;
// the depth of the tree itself is checked against MaxFilterDepth.
const maxFilterNesting = 2*MaxFilterDepth + 2

// FilterSyntaxError is the error ParseFilter returns for text it cannot
// read: where the problem is and what it is.
type FilterSyntaxError struct {
	Offset int    // byte offset into the text
	Line   int    // 1-based
	Column int    // 1-based, in characters
	Msg    string // what is wrong, without the position
}

func (e *FilterSyntaxError) Error() string {
	if e.Line <= 1 {
		return fmt.Sprintf("filter: at column %d: %s", e.Column, e.Msg)
	}
	return fmt.Sprintf("filter: at line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// ParseFilter reads the filter text language, the compact form of a Filter
// that admins write in config files and that logs show:
//
//	statecode eq 0 and ownerid eq-userid
//	(city eq 'Oslo' or city begins-with 'Ber') and not active eq false
//	industrycode in (1, 2, 3) and createdon last-x-days 30
//	parentaccountid link (city eq 'Oslo' and active eq true)
//	closedate on-or-after 2026-01-01
//
// Grammar, loosest first:
//
//	expr   = and { "or" and }
//	and    = unary { "and" unary }
//	unary  = "not" unary | "(" expr ")" | ("and" | "or") "(" expr { "," expr } ")" | cond
//	cond   = field "link" "(" expr ")"
//	       | field op0                            null, not-null, eq-userid, ...
//	       | field op1 value                      eq, like, last-x-days, on-or-after, ...
//	       | field ("in" | "not-in") "(" value { "," value } ")"
//	field  = identifier | "double-quoted name"
//	value  = integer | decimal | 'text' | true | false | date | datetime | x'hex' | nan | inf | -inf
//
// Keywords and operators are case-insensitive; field names are not. A field
// name is [A-Za-z_][A-Za-z0-9_]*, or any text in double quotes ("" is a
// quote inside), which is also how a field named and, or or not is written.
// Values: 42 is an Int, 12.5 or 1e-3 a Float, 'text' a String (a quote
// inside is doubled), true and false Bools, 2026-01-31 and RFC 3339 times
// (2026-01-31T14:00:00Z) datetime Ints of Unix microseconds (as Time makes
// them), x'00ff' Bytes. The prefix form and(a, b) is what FormatFilter
// writes for a group of one condition, which infix text cannot spell.
//
// The text does not say what type a field has: 5 is an Int whether the field
// is an int, a float or a decimal. Coerce converts the values to the types of
// an entity's fields.
//
// The result passes Validate(nil). An error is a *FilterSyntaxError naming
// the position, or says which limit (MaxFilterText, MaxFilterList,
// MaxFilterDepth) the text exceeds.
func ParseFilter(text string) (*Filter, error) {
	if len(text) > MaxFilterText {
		return nil, fmt.Errorf("filter: the text is %d bytes, more than the %d allowed", len(text), MaxFilterText)
	}
	p := &filterParser{src: text, pos: map[*Filter]int{}}
	toks, err := p.lex()
	if err != nil {
		return nil, err
	}
	p.toks = toks
	if p.peek().kind == tokEOF {
		return nil, p.errAt(p.peek().pos, "the filter is empty")
	}
	f, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.errAt(t.pos, "expected \"and\", \"or\" or end of text, found %s", p.describe(t))
	}
	if err := p.checkDepth(f, 0); err != nil {
		return nil, err
	}
	// The parser builds only valid shapes; this is a guard, not a check
	// expected to fail.
	if err := f.Validate(nil); err != nil {
		return nil, err
	}
	return f, nil
}

type tokKind uint8

const (
	tokEOF    tokKind = iota
	tokLParen         // (
	tokRParen         // )
	tokComma          // ,
	tokWord           // keyword, operator, field name, true, false
	tokName           // "double-quoted" field name
	tokText           // 'single-quoted' text
	tokBytes          // x'hex'
	tokNumber         // number or date: starts with a digit or a sign
)

type token struct {
	kind     tokKind
	pos, end int    // byte offsets into the text
	text     string // as written; for quoted tokens, the decoded text
	bytes    []byte // tokBytes
}

type filterParser struct {
	src  string
	toks []token
	next int // index of the next token
	nest int
	pos  map[*Filter]int // where each node starts, for depth errors
}

// position converts a byte offset to a line and a column in characters.
func (p *filterParser) position(off int) (line, col int) {
	off = min(max(off, 0), len(p.src))
	before := p.src[:off]
	line = 1 + strings.Count(before, "\n")
	if i := strings.LastIndexByte(before, '\n'); i >= 0 {
		before = before[i+1:]
	}
	return line, 1 + utf8.RuneCountInString(before)
}

func (p *filterParser) errAt(off int, format string, args ...any) error {
	line, col := p.position(off)
	return &FilterSyntaxError{Offset: off, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}

// where names the position of off for a message: "column 5" or "line 2,
// column 5".
func (p *filterParser) where(off int) string {
	line, col := p.position(off)
	if line == 1 {
		return fmt.Sprintf("column %d", col)
	}
	return fmt.Sprintf("line %d, column %d", line, col)
}

// maxQuotedToken bounds how much of a token a message repeats.
const maxQuotedToken = 40

// describe names a token for a message, as it was written.
func (p *filterParser) describe(t token) string {
	if t.kind == tokEOF {
		return "end of text"
	}
	s := p.src[t.pos:t.end]
	cut := false
	if len(s) > maxQuotedToken {
		s, cut = s[:maxQuotedToken], true
		for len(s) > 0 && !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	s = strings.ToValidUTF8(s, "?")
	switch t.kind {
	case tokText, tokName, tokBytes, tokNumber:
		// Quoted tokens delimit themselves; numbers read as they are.
		if cut {
			s += "..."
		}
		return s
	}
	if cut {
		return strconv.Quote(s) + "..."
	}
	return strconv.Quote(s)
}

func isFilterSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
func isLetter(c byte) bool   { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isDigit(c byte) bool    { return c >= '0' && c <= '9' }
func isWordByte(c byte) bool { return isLetter(c) || isDigit(c) }

// isNumberByte is what may follow the first character of a number or a
// date: 12.5, -3, 1e-7, 2026-01-31T14:00:00.5+02:00, -inf.
func isNumberByte(c byte) bool {
	return isWordByte(c) || c == '.' || c == ':' || c == '+' || c == '-'
}

// lex splits the text into tokens, ending with tokEOF.
func (p *filterParser) lex() ([]token, error) {
	src := p.src
	var toks []token
	i := 0
	for {
		for i < len(src) && isFilterSpace(src[i]) {
			i++
		}
		if i == len(src) {
			return append(toks, token{kind: tokEOF, pos: i, end: i}), nil
		}
		start, c := i, src[i]
		switch {
		case c == '(' || c == ')' || c == ',':
			kind := tokComma
			if c == '(' {
				kind = tokLParen
			} else if c == ')' {
				kind = tokRParen
			}
			i++
			toks = append(toks, token{kind: kind, pos: start, end: i, text: src[start:i]})
		case c == '\'' || c == '"':
			s, end, ok := scanQuoted(src, i)
			if !ok {
				if c == '\'' {
					return nil, p.errAt(start, "the text starting here has no closing quote (')")
				}
				return nil, p.errAt(start, "the name starting here has no closing quote (\")")
			}
			kind := tokText
			if c == '"' {
				kind = tokName
			}
			i = end
			toks = append(toks, token{kind: kind, pos: start, end: i, text: s})
		case (c == 'x' || c == 'X') && i+1 < len(src) && src[i+1] == '\'':
			s, end, ok := scanQuoted(src, i+1)
			if !ok {
				return nil, p.errAt(start, "the bytes starting here have no closing quote (')")
			}
			b, err := hex.DecodeString(s)
			if err != nil {
				return nil, p.errAt(start, "x'...' holds bytes as pairs of hex digits, e.g. x'00ff'")
			}
			i = end
			toks = append(toks, token{kind: tokBytes, pos: start, end: i, bytes: b})
		case isLetter(c):
			// A word; operators join words with hyphens (begins-with).
			i++
			for i < len(src) {
				if isWordByte(src[i]) {
					i++
				} else if src[i] == '-' && i+1 < len(src) && isWordByte(src[i+1]) {
					i += 2
				} else {
					break
				}
			}
			toks = append(toks, token{kind: tokWord, pos: start, end: i, text: src[start:i]})
		case isDigit(c) || c == '-' || c == '+':
			i++
			for i < len(src) && isNumberByte(src[i]) {
				i++
			}
			toks = append(toks, token{kind: tokNumber, pos: start, end: i, text: src[start:i]})
		default:
			r, _ := utf8.DecodeRuneInString(src[i:])
			if r == utf8.RuneError {
				return nil, p.errAt(start, "unexpected byte 0x%02x (the text is not valid UTF-8 here)", c)
			}
			return nil, p.errAt(start, "unexpected character %q", r)
		}
	}
}

// scanQuoted reads the quoted token at src[i], where the quote character
// doubled stands for itself, and returns its text and where it ends.
func scanQuoted(src string, i int) (string, int, bool) {
	q := src[i]
	i++
	var b strings.Builder
	from := i
	for {
		j := strings.IndexByte(src[i:], q)
		if j < 0 {
			return "", 0, false
		}
		i += j
		if i+1 < len(src) && src[i+1] == q {
			b.WriteString(src[from : i+1])
			i += 2
			from = i
			continue
		}
		if b.Len() == 0 {
			return src[from:i], i + 1, true
		}
		b.WriteString(src[from:i])
		return b.String(), i + 1, true
	}
}

func (p *filterParser) peek() token { return p.toks[p.next] }

func (p *filterParser) peekAt(n int) token {
	if p.next+n < len(p.toks) {
		return p.toks[p.next+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *filterParser) take() token {
	t := p.toks[p.next]
	if t.kind != tokEOF {
		p.next++
	}
	return t
}

func isKeyword(t token, kw string) bool { return t.kind == tokWord && strings.EqualFold(t.text, kw) }

// enter counts one more level of nesting in the text, refusing too many.
func (p *filterParser) enter(at int) error {
	p.nest++
	if p.nest > maxFilterNesting {
		return p.errAt(at, "the conditions nest more than %d levels deep", maxFilterNesting)
	}
	return nil
}

func (p *filterParser) or() (*Filter, error) {
	first, err := p.and()
	if err != nil {
		return nil, err
	}
	if !isKeyword(p.peek(), "or") {
		return first, nil
	}
	n := &Filter{Op: OpOr, Children: []*Filter{first}}
	p.pos[n] = p.pos[first]
	for isKeyword(p.peek(), "or") {
		p.take()
		c, err := p.and()
		if err != nil {
			return nil, err
		}
		n.Children = append(n.Children, c)
	}
	return n, nil
}

func (p *filterParser) and() (*Filter, error) {
	first, err := p.unary()
	if err != nil {
		return nil, err
	}
	if !isKeyword(p.peek(), "and") {
		return first, nil
	}
	n := &Filter{Op: OpAnd, Children: []*Filter{first}}
	p.pos[n] = p.pos[first]
	for isKeyword(p.peek(), "and") {
		p.take()
		c, err := p.unary()
		if err != nil {
			return nil, err
		}
		n.Children = append(n.Children, c)
	}
	return n, nil
}

func (p *filterParser) unary() (*Filter, error) {
	t := p.peek()
	switch {
	case isKeyword(t, "not"):
		p.take()
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		c, err := p.unary()
		if err != nil {
			return nil, err
		}
		p.nest--
		n := Not(c)
		p.pos[n] = t.pos
		return n, nil
	case t.kind == tokLParen:
		p.take()
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if err := p.close(t, `"and", "or"`); err != nil {
			return nil, err
		}
		p.nest--
		return e, nil
	case (isKeyword(t, "and") || isKeyword(t, "or")) && p.peekAt(1).kind == tokLParen:
		p.take()
		open := p.take()
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		n := &Filter{Op: OpAnd}
		if isKeyword(t, "or") {
			n.Op = OpOr
		}
		p.pos[n] = t.pos
		for {
			c, err := p.or()
			if err != nil {
				return nil, err
			}
			n.Children = append(n.Children, c)
			if p.peek().kind != tokComma {
				break
			}
			p.take()
		}
		if err := p.close(open, `"and", "or", ","`); err != nil {
			return nil, err
		}
		p.nest--
		return n, nil
	}
	return p.cond()
}

// close takes the ")" that closes open; expected lists what else could
// have come instead.
func (p *filterParser) close(open token, expected string) error {
	t := p.take()
	if t.kind != tokRParen {
		return p.errAt(t.pos, "expected %s or \")\" to close the \"(\" at %s, found %s",
			expected, p.where(open.pos), p.describe(t))
	}
	return nil
}

// reservedName reports whether a field name must be quoted because a
// condition could not start with it unquoted.
func reservedName(s string) bool {
	return strings.EqualFold(s, "and") || strings.EqualFold(s, "or") || strings.EqualFold(s, "not")
}

// isIdent reports whether s is [A-Za-z_][A-Za-z0-9_]*.
func isIdent(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isWordByte(s[i]) {
			return false
		}
	}
	return true
}

// textOps are the operators a condition may name, by lower-case spelling.
var textOps = func() map[string]FilterOp {
	m := map[string]FilterOp{}
	for _, op := range FilterOps {
		if !op.IsGroup() {
			m[string(op)] = op
		}
	}
	return m
}()

func validOps() string {
	var names []string
	for _, op := range FilterOps {
		if !op.IsGroup() {
			names = append(names, string(op))
		}
	}
	return strings.Join(names, ", ")
}

func (p *filterParser) cond() (*Filter, error) {
	t := p.take()
	var field string
	switch {
	case t.kind == tokName:
		field = t.text
	case t.kind == tokWord && reservedName(t.text):
		return nil, p.errAt(t.pos, "expected a condition, found %s (a field named so is written in double quotes: \"%s\")",
			p.describe(t), t.text)
	case t.kind == tokWord && !isIdent(t.text):
		return nil, p.errAt(t.pos, "%s is not a plain field name; write it in double quotes: \"%s\"", p.describe(t), t.text)
	case t.kind == tokWord:
		field = t.text
	default:
		return nil, p.errAt(t.pos, "expected a condition (a field name, \"not\" or \"(\"), found %s", p.describe(t))
	}

	ot := p.take()
	if ot.kind != tokWord {
		return nil, p.errAt(ot.pos, "expected an operator after %s, found %s", p.describe(t), p.describe(ot))
	}
	op, ok := textOps[strings.ToLower(ot.text)]
	if !ok {
		hint := ""
		if reservedName(ot.text) {
			hint = " (an operator must follow the field name)"
		}
		return nil, p.errAt(ot.pos, "unknown operator %s%s; valid: %s", p.describe(ot), hint, validOps())
	}
	n := &Filter{Op: op, Field: field}
	p.pos[n] = t.pos

	if op == OpLink {
		open := p.take()
		if open.kind != tokLParen {
			return nil, p.errAt(open.pos, "expected \"(\" and a condition on the parent after \"link\", found %s", p.describe(open))
		}
		if err := p.enter(open.pos); err != nil {
			return nil, err
		}
		c, err := p.or()
		if err != nil {
			return nil, err
		}
		if err := p.close(open, `"and", "or"`); err != nil {
			return nil, err
		}
		p.nest--
		n.Children = []*Filter{c}
		return n, nil
	}

	want, _ := op.arity()
	switch want {
	case 0:
		if v := p.peek(); v.kind == tokNumber || v.kind == tokText || v.kind == tokBytes ||
			isKeyword(v, "true") || isKeyword(v, "false") {
			return nil, p.errAt(v.pos, "%s takes no value, found %s", op, p.describe(v))
		}
	case 1:
		v, vt, err := p.value(fmt.Sprintf("after %q", string(op)))
		if err != nil {
			return nil, err
		}
		switch op {
		case OpLike, OpBeginsWith:
			if v.Kind() != KindString {
				return nil, p.errAt(vt.pos, "%s needs text in single quotes, found %s", op, p.describe(vt))
			}
		case OpLastXDays, OpNextXDays:
			if v.Kind() != KindInt || v.Int() < 0 || v.Int() > MaxRelativeDays {
				return nil, p.errAt(vt.pos, "%s needs a whole number of days from 0 to %d, found %s",
					op, MaxRelativeDays, p.describe(vt))
			}
		}
		n.Values = []Value{v}
	default:
		open := p.take()
		if open.kind != tokLParen {
			return nil, p.errAt(open.pos, "expected \"(\" and a list of values after %q, found %s", string(op), p.describe(open))
		}
		for {
			if len(n.Values) == MaxFilterList {
				return nil, p.errAt(p.peek().pos, "the list holds more than %d values", MaxFilterList)
			}
			v, _, err := p.value(fmt.Sprintf("in the list after %q", string(op)))
			if err != nil {
				return nil, err
			}
			n.Values = append(n.Values, v)
			sep := p.take()
			if sep.kind == tokRParen {
				break
			}
			if sep.kind != tokComma {
				return nil, p.errAt(sep.pos, "expected \",\" or \")\" to close the list at %s, found %s",
					p.where(open.pos), p.describe(sep))
			}
		}
	}
	return n, nil
}

// value reads one value; where says where it stands, for messages.
func (p *filterParser) value(where string) (Value, token, error) {
	t := p.take()
	switch t.kind {
	case tokText:
		return String(t.text), t, nil
	case tokBytes:
		return Bytes(t.bytes), t, nil
	case tokNumber:
		v, msg := parseFilterNumber(t.text)
		if msg != "" {
			return Value{}, t, p.errAt(t.pos, "%s", msg)
		}
		return v, t, nil
	case tokWord:
		switch strings.ToLower(t.text) {
		case "true":
			return Bool(true), t, nil
		case "false":
			return Bool(false), t, nil
		case "nan":
			return Float(math.NaN()), t, nil
		case "inf":
			return Float(math.Inf(1)), t, nil
		case "null":
			return Value{}, t, p.errAt(t.pos, "a value cannot be null; test for null with the null or not-null operator, e.g. city null")
		}
		return Value{}, t, p.errAt(t.pos, "expected a value %s, found %s; write text in single quotes: '%s'",
			where, p.describe(t), strings.ReplaceAll(t.text, "'", "''"))
	}
	return Value{}, t, p.errAt(t.pos, "expected a value %s, found %s", where, p.describe(t))
}

// parseFilterNumber reads a number or a date token. msg says what is wrong
// with it, or is empty.
func parseFilterNumber(s string) (v Value, msg string) {
	switch strings.ToLower(s) {
	case "-inf":
		return Float(math.Inf(-1)), ""
	case "+inf":
		return Float(math.Inf(1)), ""
	}
	switch numberShape(s) {
	case shapeInt:
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return Value{}, fmt.Sprintf("%s is too large for a whole number (%d to %d)", s, int64(math.MinInt64), int64(math.MaxInt64))
		}
		return Int(i), ""
	case shapeFloat:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && math.IsInf(f, 0) {
			return Value{}, fmt.Sprintf("%s is too large for a number", s)
		}
		// A number too small for a float64 reads as 0 or the nearest
		// subnormal, like any rounding.
		return Float(f), ""
	}
	if t, ok, msg := parseFilterTime(s); ok {
		return Time(t), ""
	} else if msg != "" {
		return Value{}, msg
	}
	if len(s) > maxQuotedToken {
		s = s[:maxQuotedToken] + "..."
	}
	return Value{}, fmt.Sprintf("%s is not a number or a date (dates are written 2026-01-31 or 2026-01-31T14:00:00Z)", s)
}

// parseFilterTime reads a date (2026-01-31, midnight UTC) or an RFC 3339
// time. ok is false when s does not look like either; msg is set when it
// does but is not a valid one.
func parseFilterTime(s string) (t time.Time, ok bool, msg string) {
	isDate := len(s) >= 10 && isDigit(s[0]) && isDigit(s[1]) && isDigit(s[2]) && isDigit(s[3]) && s[4] == '-' &&
		isDigit(s[5]) && isDigit(s[6]) && s[7] == '-' && isDigit(s[8]) && isDigit(s[9])
	if !isDate {
		return time.Time{}, false, ""
	}
	shown := s
	if len(shown) > maxQuotedToken {
		shown = shown[:maxQuotedToken] + "..."
	}
	if len(s) == 10 {
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			return time.Time{}, false, fmt.Sprintf("%s is not a valid date (want YYYY-MM-DD)", shown)
		}
		return t, true, ""
	}
	t, err := time.Parse(time.RFC3339Nano, strings.ToUpper(s))
	if err != nil {
		return time.Time{}, false, fmt.Sprintf("%s is not a valid time (want RFC 3339, e.g. 2026-01-31T14:00:00Z or 2026-01-31T16:00:00+02:00)", shown)
	}
	return t, true, ""
}

type numShape uint8

const (
	shapeOther numShape = iota
	shapeInt            // [+-]digits
	shapeFloat          // [+-]digits.digits[e[+-]digits] or [+-]digits e[+-]digits
)

func numberShape(s string) numShape {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && isDigit(s[i]) {
			i++
			n++
		}
		return n
	}
	if digits() == 0 {
		return shapeOther
	}
	if i == len(s) {
		return shapeInt
	}
	float := false
	if s[i] == '.' {
		i++
		if digits() == 0 {
			return shapeOther
		}
		float = true
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return shapeOther
		}
		float = true
	}
	if i != len(s) || !float {
		return shapeOther
	}
	return shapeFloat
}

// checkDepth refuses a tree deeper than Validate allows, naming where the
// first node too deep starts.
func (p *filterParser) checkDepth(f *Filter, depth int) error {
	if depth > MaxFilterDepth {
		return p.errAt(p.pos[f], "the conditions nest more than %d levels deep", MaxFilterDepth)
	}
	for _, c := range f.Children {
		if err := p.checkDepth(c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// FormatFilter writes f in the filter text language, canonically: lower-case
// keywords, single spaces, in and not-in lists in parentheses, parentheses
// around every group of two or more conditions inside another, text in
// single quotes. ParseFilter reads it back to an equal tree for every f
// that passes Validate(nil) and whose text stays within MaxFilterText and
// MaxFilterList, except that a NaN reads back as math.NaN() and and, or and
// not nodes lose the Field and Values they do not use. Times cannot be told
// from integers (both are Ints), so values are written as integers except
// on-or-after's, which is written as a date or RFC 3339 time. A filter that
// does not validate is written as well as it can be, for logs; nil is "".
func FormatFilter(f *Filter) string {
	if f == nil {
		return ""
	}
	var b strings.Builder
	writeFilterText(&b, f, false, 0)
	return b.String()
}

// String returns FormatFilter(f).
func (f *Filter) String() string { return FormatFilter(f) }

// maxFormatDepth stops FormatFilter on a tree too deep to be valid (or a
// cyclic one, which only a bug builds).
const maxFormatDepth = 4 * MaxFilterDepth

// writeFilterText writes f; operand says f is a term of and, or or not,
// where a group of several conditions needs parentheses.
func writeFilterText(b *strings.Builder, f *Filter, operand bool, depth int) {
	if f == nil {
		b.WriteString("<nil>")
		return
	}
	if depth > maxFormatDepth {
		b.WriteString("(...)")
		return
	}
	switch f.Op {
	case OpAnd, OpOr:
		if len(f.Children) < 2 {
			b.WriteString(string(f.Op))
			writeChildren(b, f.Children, depth)
			return
		}
		if operand {
			b.WriteByte('(')
		}
		for i, c := range f.Children {
			if i > 0 {
				b.WriteByte(' ')
				b.WriteString(string(f.Op))
				b.WriteByte(' ')
			}
			writeFilterText(b, c, true, depth+1)
		}
		if operand {
			b.WriteByte(')')
		}
		return
	case OpNot:
		if len(f.Children) != 1 {
			b.WriteString("not")
			writeChildren(b, f.Children, depth)
			return
		}
		b.WriteString("not ")
		writeFilterText(b, f.Children[0], true, depth+1)
		return
	case OpLink:
		b.WriteString(formatFieldName(f.Field))
		b.WriteString(" link ")
		writeChildren(b, f.Children, depth)
		return
	}
	b.WriteString(formatFieldName(f.Field))
	b.WriteByte(' ')
	if f.Op == "" {
		b.WriteString("<no-op>")
	} else {
		b.WriteString(string(f.Op))
	}
	if want, _ := f.Op.arity(); want < 0 {
		b.WriteString(" (")
		for i, v := range f.Values {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(formatFilterValue(f.Op, v))
		}
		b.WriteByte(')')
		return
	}
	for _, v := range f.Values {
		b.WriteByte(' ')
		b.WriteString(formatFilterValue(f.Op, v))
	}
	if len(f.Children) > 0 {
		b.WriteByte(' ')
		writeChildren(b, f.Children, depth)
	}
}

// writeChildren writes (a, b, ...), each child a whole expression.
func writeChildren(b *strings.Builder, children []*Filter, depth int) {
	b.WriteByte('(')
	for i, c := range children {
		if i > 0 {
			b.WriteString(", ")
		}
		writeFilterText(b, c, false, depth+1)
	}
	b.WriteByte(')')
}

// formatFieldName writes a field name bare when it can be, else in double
// quotes.
func formatFieldName(s string) string {
	if isIdent(s) && !reservedName(s) {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// formatFilterValue writes v as the filter text language reads it; op is
// the operator it belongs to.
func formatFilterValue(op FilterOp, v Value) string {
	switch v.Kind() {
	case KindString:
		return "'" + strings.ReplaceAll(v.Str(), "'", "''") + "'"
	case KindInt:
		if op == OpOnOrAfter {
			if s, ok := formatFilterTime(v.Int()); ok {
				return s
			}
		}
		return strconv.FormatInt(v.Int(), 10)
	case KindFloat:
		return formatFilterFloat(v.Float())
	case KindBool:
		return strconv.FormatBool(v.Bool())
	case KindBytes:
		return "x'" + hex.EncodeToString(v.Bytes()) + "'"
	case KindNull:
		return "null"
	}
	return v.String()
}

// formatFilterFloat writes x so that it reads back as a float with the same
// bits: always with a point or an exponent, plain when that is short.
func formatFilterFloat(x float64) string {
	switch {
	case math.IsNaN(x):
		return "nan"
	case math.IsInf(x, 1):
		return "inf"
	case math.IsInf(x, -1):
		return "-inf"
	}
	a := math.Abs(x)
	if a == 0 || a >= 1e-4 && a < 1e15 {
		s := strconv.FormatFloat(x, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(x, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

// formatFilterTime writes Unix microseconds as a date, or an RFC 3339 time
// when they are not midnight UTC; ok is false outside the years 1 to 9999,
// which RFC 3339 cannot write.
func formatFilterTime(micros int64) (string, bool) {
	t := time.UnixMicro(micros).UTC()
	if t.Year() < 1 || t.Year() > 9999 {
		return "", false
	}
	if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
		return t.Format("2006-01-02"), true
	}
	return t.Format(time.RFC3339Nano), true
}

// Coerce returns a copy of f whose values have the types of the fields
// they are compared with, then checks the copy with Check(s, e). The text
// language cannot know field types, so config turns parsed text into a
// filter for an entity with Coerce:
//
//   - guid and lookup fields (and the primary key): text holding a GUID,
//     in any case and optionally in braces, becomes lower-case canonical
//     text;
//   - datetime: a date or RFC 3339 time in text becomes Unix microseconds;
//     integers are taken as microseconds already (ParseFilter reads dates
//     so);
//   - decimal: numbers become their decimal text (12.5 becomes "12.5"; a
//     float has about 15 significant digits, so write a longer amount in
//     quotes); text must be a decimal number;
//   - float: integers and numeric text become floats;
//   - int: whole floats and integer text become integers;
//   - choice: integers, or text naming a choice by its label (ignoring
//     case), and when the field lists its choices the value must be one;
//   - bool: true and false, also as text;
//   - string: only text: 0150 is the number 150, so the value must be
//     quoted.
//
// Link conditions are coerced against the entity their lookup targets in s.
// Values of like, begins-with and the relative-date operators are left as
// they are. f itself is not changed; nil gives nil.
func (f *Filter) Coerce(s *Schema, e *Entity) (*Filter, error) {
	if f == nil {
		return nil, nil
	}
	out, err := coerceFilter(f, s, e, 0)
	if err != nil {
		return nil, err
	}
	if err := out.Check(s, e); err != nil {
		return nil, err
	}
	return out, nil
}

func coerceFilter(f *Filter, s *Schema, e *Entity, depth int) (*Filter, error) {
	if f == nil {
		return nil, nil
	}
	if depth > MaxFilterDepth {
		return nil, fmt.Errorf("filter nested deeper than %d", MaxFilterDepth)
	}
	n := &Filter{Op: f.Op, Field: f.Field}
	if f.Values != nil {
		n.Values = make([]Value, len(f.Values))
		for i, v := range f.Values {
			if v.Kind() == KindBytes {
				v = Bytes(bytes.Clone(v.Bytes()))
			}
			n.Values[i] = v
		}
	}
	childEntity := e
	switch {
	case f.Op == OpLink:
		childEntity = nil
		if e != nil && s != nil {
			if fd := e.Field(f.Field); fd != nil && fd.Type == TypeLookup && fd.Target != "" {
				childEntity = s.Entity(fd.Target)
			}
		}
	case !f.Op.IsGroup():
		childEntity = nil // a comparison has no children; Check says so
		if e != nil {
			if err := coerceValues(n, e); err != nil {
				return nil, err
			}
		}
	}
	if f.Children != nil {
		n.Children = make([]*Filter, len(f.Children))
		for i, c := range f.Children {
			cc, err := coerceFilter(c, s, childEntity, depth+1)
			if err != nil {
				return nil, err
			}
			n.Children[i] = cc
		}
	}
	return n, nil
}

// coerceValues converts the values of comparison n, a copy, to its field's
// type. An unknown field is left for Check to report.
func coerceValues(n *Filter, e *Entity) error {
	var fd *Field
	if n.Field == e.PrimaryKey && n.Field != "" {
		fd = &Field{Name: n.Field, Type: TypeGUID}
	} else if fd = e.Field(n.Field); fd == nil {
		return nil
	}
	for i, v := range n.Values {
		var (
			out Value
			why string
		)
		switch n.Op {
		case OpIsNull, OpNotNull, OpEqUserID, OpNeUserID, OpEqBusinessID, OpEqUserOrUserTeams,
			OpLike, OpBeginsWith:
			continue // no values, or text patterns
		case OpLastXDays, OpNextXDays:
			out, why = coerceWhole(v, "the number of days")
		case OpOnOrAfter:
			if fd.Type != TypeDateTime {
				continue // Check says the operator needs a datetime field
			}
			out, why = coerceValue(v, fd, e)
		default:
			out, why = coerceValue(v, fd, e)
		}
		if why != "" {
			return fmt.Errorf("filter: %s.%s %s %s: %s", e.Name, n.Field, n.Op, shortValue(n.Op, v), why)
		}
		n.Values[i] = out
	}
	return nil
}

// shortValue writes a value for a message, cut to a readable length.
func shortValue(op FilterOp, v Value) string {
	s := formatFilterValue(op, v)
	if len(s) > 2*maxQuotedToken {
		s = strings.ToValidUTF8(s[:2*maxQuotedToken], "") + "..."
	}
	return s
}

// coerceWhole converts v to an Int: whole floats and integer text too.
func coerceWhole(v Value, what string) (Value, string) {
	switch v.Kind() {
	case KindInt:
		return v, ""
	case KindFloat:
		if x := v.Float(); x == math.Trunc(x) && x >= -(1<<63) && x < 1<<63 {
			return Int(int64(x)), ""
		}
		return v, what + " must be a whole number"
	case KindString:
		if i, err := strconv.ParseInt(strings.TrimSpace(v.Str()), 10, 64); err == nil {
			return Int(i), ""
		}
		return v, what + " must be a whole number"
	}
	return v, fmt.Sprintf("%s must be a whole number, not a %s", what, v.Kind())
}

// coerceValue converts v to the type of field fd of entity e. why, when set,
// says why it cannot.
func coerceValue(v Value, fd *Field, e *Entity) (Value, string) {
	if v.IsNull() {
		return v, "" // Check refuses comparing with null
	}
	name := e.Name + "." + fd.Name
	switch fd.Type {
	case TypeString:
		if v.Kind() == KindString {
			return v, ""
		}
		return v, fmt.Sprintf("%s is a string field; write the value as text in quotes", name)
	case TypeInt:
		return coerceWhole(v, name+" is an int field, so the value")
	case TypeChoice:
		return coerceChoice(v, fd, name)
	case TypeDecimal:
		return coerceDecimal(v, name)
	case TypeFloat:
		switch v.Kind() {
		case KindFloat:
			return v, ""
		case KindInt:
			return Float(float64(v.Int())), ""
		case KindString:
			if x, err := strconv.ParseFloat(strings.TrimSpace(v.Str()), 64); err == nil {
				return Float(x), ""
			}
			return v, fmt.Sprintf("%s is a float field and the text is not a number", name)
		}
		return v, fmt.Sprintf("%s is a float field; write a number", name)
	case TypeBool:
		switch {
		case v.Kind() == KindBool:
			return v, ""
		case v.Kind() == KindString && strings.EqualFold(strings.TrimSpace(v.Str()), "true"):
			return Bool(true), ""
		case v.Kind() == KindString && strings.EqualFold(strings.TrimSpace(v.Str()), "false"):
			return Bool(false), ""
		}
		return v, fmt.Sprintf("%s is a bool field; write true or false", name)
	case TypeDateTime:
		switch v.Kind() {
		case KindInt:
			return v, ""
		case KindString:
			s := strings.TrimSpace(v.Str())
			if t, ok, _ := parseFilterTime(s); ok {
				return Time(t), ""
			}
		}
		return v, fmt.Sprintf("%s is a datetime field; write a date like 2026-01-31 or a time like 2026-01-31T14:00:00Z", name)
	case TypeGUID, TypeLookup:
		if v.Kind() == KindString {
			if g, ok := canonicalGUID(v.Str()); ok {
				return String(g), ""
			}
			return v, fmt.Sprintf("%s is a %s field and the text is not a GUID (like 3f2504e0-4f89-11d3-9a0c-0305e82c3301)", name, fd.Type)
		}
		return v, fmt.Sprintf("%s is a %s field; write the id as text in quotes", name, fd.Type)
	case TypeBinary:
		if v.Kind() == KindBytes {
			return v, ""
		}
		return v, fmt.Sprintf("%s is a binary field; write the bytes as x'hex'", name)
	}
	return v, "" // unknown type: Check decides
}

// coerceChoice converts v to a choice value: a number, or the label of one
// of the field's choices.
func coerceChoice(v Value, fd *Field, name string) (Value, string) {
	if v.Kind() == KindString {
		s := strings.TrimSpace(v.Str())
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			v = Int(i)
		} else {
			var found []Choice
			for _, c := range fd.Choices {
				if strings.EqualFold(strings.TrimSpace(c.Label), s) {
					found = append(found, c)
				}
			}
			switch len(found) {
			case 0:
				return v, fmt.Sprintf("%s has no choice labelled so%s", name, listChoices(fd.Choices))
			case 1:
				return Int(found[0].Value), ""
			}
			return v, fmt.Sprintf("%s has %d choices labelled so; write the number%s", name, len(found), listChoices(fd.Choices))
		}
	}
	out, why := coerceWhole(v, name+" is a choice field, so the value")
	if why != "" || len(fd.Choices) == 0 {
		return out, why
	}
	for _, c := range fd.Choices {
		if c.Value == out.Int() {
			return out, ""
		}
	}
	return v, fmt.Sprintf("%s has no choice %d%s", name, out.Int(), listChoices(fd.Choices))
}

// listChoices lists choices for a message, the first few.
func listChoices(cs []Choice) string {
	if len(cs) == 0 {
		return ""
	}
	const shown = 10
	var b strings.Builder
	b.WriteString(" (choices: ")
	for i, c := range cs {
		if i == shown {
			fmt.Fprintf(&b, ", and %d more", len(cs)-shown)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		label := c.Label
		if len(label) > maxQuotedToken {
			label = strings.ToValidUTF8(label[:maxQuotedToken], "") + "..."
		}
		fmt.Fprintf(&b, "%d %s", c.Value, label)
	}
	b.WriteByte(')')
	return b.String()
}

// coerceDecimal converts v to the text of a decimal number.
func coerceDecimal(v Value, name string) (Value, string) {
	switch v.Kind() {
	case KindString:
		s := strings.TrimPrefix(strings.TrimSpace(v.Str()), "+")
		if isDecimalText(s) {
			return String(s), ""
		}
		return v, fmt.Sprintf("%s is a decimal field and the text is not a decimal number (like 12.50)", name)
	case KindInt:
		return String(strconv.FormatInt(v.Int(), 10)), ""
	case KindFloat:
		x := v.Float()
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return v, fmt.Sprintf("%s is a decimal field; %v is not a decimal number", name, x)
		}
		return String(strconv.FormatFloat(x, 'f', -1, 64)), ""
	}
	return v, fmt.Sprintf("%s is a decimal field; write a number", name)
}

// isDecimalText reports whether s is a decimal number: an optional minus,
// digits, and optionally a point and more digits (12, -0.5, .5, 12.).
func isDecimalText(s string) bool {
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasPoint := strings.Cut(s, ".")
	if intPart == "" && frac == "" {
		return false
	}
	for _, part := range []string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			if !isDigit(part[i]) {
				return false
			}
		}
	}
	return hasPoint || intPart != ""
}

// canonicalGUID returns s as a lower-case GUID without braces, if it is one.
func canonicalGUID(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	if !IsGUID(s) {
		return "", false
	}
	return strings.ToLower(s), true
}
