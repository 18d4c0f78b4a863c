package tsql

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF    tokKind = iota
	tIdent          // bare identifier or keyword
	tQIdent         // [bracketed] or "double-quoted" identifier
	tParam          // @name
	tGlobal         // @@name
	tString         // 'text' or N'text'
	tNumber         // 12, 1.5, 2e3
	tOp             // = <> != < <= > >= !< !> ( ) , . * ; + -
)

type token struct {
	kind tokKind
	text string // identifier without quotes, string contents unescaped, operator, number text
	pos  int    // byte offset in the source
	raw  string // the source text of the token (for error messages)
}

// MaxQueryLength bounds the text Parse accepts, in bytes.
const MaxQueryLength = 1 << 20

// lex splits src into tokens. Comments (-- to end of line, /* */ nested)
// and white space separate tokens and are dropped.
func lex(src string) ([]token, error) {
	if len(src) > MaxQueryLength {
		return nil, notSupportedf("queries longer than %d bytes are not supported", MaxQueryLength)
	}
	if !utf8.ValidString(src) {
		return nil, syntaxError("the query is not valid text")
	}
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
			continue
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			depth := 0
			j := i
			for {
				if j+1 >= len(src) {
					return nil, &Error{Number: ErrSyntax, Message: "Missing end comment mark '*/'."}
				}
				if src[j] == '/' && src[j+1] == '*' {
					depth++
					j += 2
					continue
				}
				if src[j] == '*' && src[j+1] == '/' {
					depth--
					j += 2
					if depth == 0 {
						break
					}
					continue
				}
				j++
			}
			i = j
			continue
		}
		start := i
		switch {
		case c == '[':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(src) {
					return nil, &Error{Number: ErrSyntax, Message: "Unclosed quotation mark before the character string '" + clip(src[start:]) + "'."}
				}
				if src[j] == ']' {
					if j+1 < len(src) && src[j+1] == ']' {
						b.WriteByte(']')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(src[j])
				j++
			}
			i = j + 1
			toks = append(toks, token{kind: tQIdent, text: b.String(), pos: start, raw: src[start:i]})
		case c == '"':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(src) {
					return nil, &Error{Number: ErrSyntax, Message: "Unclosed quotation mark before the character string '" + clip(src[start:]) + "'."}
				}
				if src[j] == '"' {
					if j+1 < len(src) && src[j+1] == '"' {
						b.WriteByte('"')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(src[j])
				j++
			}
			i = j + 1
			toks = append(toks, token{kind: tQIdent, text: b.String(), pos: start, raw: src[start:i]})
		case c == '\'' || ((c == 'N' || c == 'n') && i+1 < len(src) && src[i+1] == '\''):
			j := i + 1
			if c != '\'' {
				j++
			}
			var b strings.Builder
			for {
				if j >= len(src) {
					return nil, &Error{Number: ErrSyntax, Message: "Unclosed quotation mark after the character string '" + clip(src[start:]) + "'."}
				}
				if src[j] == '\'' {
					if j+1 < len(src) && src[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(src[j])
				j++
			}
			i = j + 1
			toks = append(toks, token{kind: tString, text: b.String(), pos: start, raw: src[start:i]})
		case c == '@':
			kind := tParam
			j := i + 1
			if j < len(src) && src[j] == '@' {
				kind = tGlobal
				j++
			}
			k := scanIdent(src, j)
			if k == j {
				return nil, syntaxNear(src[start:j])
			}
			i = k
			toks = append(toks, token{kind: kind, text: src[start:i], pos: start, raw: src[start:i]})
		case isDigit(c) || (c == '.' && i+1 < len(src) && isDigit(src[i+1])):
			j := i
			for j < len(src) && isDigit(src[j]) {
				j++
			}
			if j < len(src) && (src[j] == 'x' || src[j] == 'X') && j == i+1 && c == '0' {
				return nil, notSupportedf("binary literals are not supported")
			}
			if j < len(src) && src[j] == '.' {
				j++
				for j < len(src) && isDigit(src[j]) {
					j++
				}
			}
			if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
				k := j + 1
				if k < len(src) && (src[k] == '+' || src[k] == '-') {
					k++
				}
				if k < len(src) && isDigit(src[k]) {
					for k < len(src) && isDigit(src[k]) {
						k++
					}
					j = k
				} else {
					return nil, syntaxNear(src[start:k])
				}
			}
			// A number running into a letter (12abc) is an error, as in T-SQL
			// for most such cases; it is safer than splitting.
			if j < len(src) {
				if r, _ := utf8.DecodeRuneInString(src[j:]); isIdentStart(r) {
					return nil, syntaxNear(src[start : j+1])
				}
			}
			i = j
			toks = append(toks, token{kind: tNumber, text: src[start:i], pos: start, raw: src[start:i]})
		default:
			r, size := utf8.DecodeRuneInString(src[i:])
			if isIdentStart(r) {
				j := scanIdent(src, i+size)
				i = j
				toks = append(toks, token{kind: tIdent, text: src[start:i], pos: start, raw: src[start:i]})
				continue
			}
			op := ""
			if i+1 < len(src) {
				switch two := src[i : i+2]; two {
				case "<>", "!=", "<=", ">=", "!<", "!>":
					op = two
				}
			}
			if op == "" {
				switch c {
				case '=', '<', '>', '(', ')', ',', '.', '*', ';', '+', '-':
					op = string(c)
				default:
					return nil, syntaxNear(string(r))
				}
			}
			i += len(op)
			toks = append(toks, token{kind: tOp, text: op, pos: start, raw: op})
		}
	}
	toks = append(toks, token{kind: tEOF, pos: len(src)})
	return toks, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isIdentStart(r rune) bool {
	return r == '_' || r == '#' || unicode.IsLetter(r)
}

func isIdentPart(r rune) bool {
	return r == '_' || r == '#' || r == '@' || r == '$' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// scanIdent returns the end of the identifier characters starting at i.
func scanIdent(src string, i int) int {
	for i < len(src) {
		r, size := utf8.DecodeRuneInString(src[i:])
		if !isIdentPart(r) {
			break
		}
		i += size
	}
	return i
}

func clip(s string) string {
	if len(s) > 40 {
		s = s[:40]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}
