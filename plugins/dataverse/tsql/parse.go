package tsql

import (
	"strconv"
	"strings"
)

// MaxDepth bounds the nesting of conditions (parentheses, NOT, subqueries)
// so hostile text cannot exhaust the stack.
const MaxDepth = 128

// Parse reads exactly one SELECT statement (a trailing semicolon is
// allowed). Anything else is refused with an *Error.
func Parse(src string) (*Select, error) {
	stmts, err := ParseBatch(src)
	if err != nil {
		return nil, err
	}
	if len(stmts) != 1 {
		return nil, notSupportedf("expected one SELECT statement, got %d statements", len(stmts))
	}
	s, ok := stmts[0].(*Select)
	if !ok {
		return nil, notSupportedf("expected a SELECT statement, got %s", stmts[0])
	}
	return s, nil
}

// ParseBatch reads a batch: SELECT and SET statements separated by
// semicolons or white space. What the Dataverse endpoint refuses (INSERT,
// UPDATE, DELETE, MERGE, CREATE, ALTER, DROP, EXEC, WITH …) is refused
// with ErrNotSupported; what it would accept but this subset lacks (joins,
// GROUP BY, functions, DECLARE …) is refused the same way, the message
// naming the emulator; malformed text gets ErrSyntax.
func ParseBatch(src string) ([]Statement, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	var out []Statement
	for {
		for p.isOp(";") {
			p.next()
		}
		if p.peek().kind == tEOF {
			break
		}
		st, err := p.statement()
		if err != nil {
			return nil, err
		}
		out = append(out, st)
		t := p.peek()
		if t.kind == tEOF || p.isOp(";") || p.isKeyword("SELECT") || p.isKeyword("SET") {
			continue
		}
		return nil, p.unexpected()
	}
	if len(out) == 0 {
		return nil, syntaxError("The batch holds no statement.")
	}
	return out, nil
}

type parser struct {
	toks  []token
	pos   int
	depth int
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) peekAt(n int) token {
	if p.pos+n < len(p.toks) {
		return p.toks[p.pos+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *parser) isOp(op string) bool {
	t := p.peek()
	return t.kind == tOp && t.text == op
}

func (p *parser) isKeyword(kw string) bool {
	t := p.peek()
	return t.kind == tIdent && strings.EqualFold(t.text, kw)
}

func (p *parser) acceptKeyword(kw string) bool {
	if p.isKeyword(kw) {
		p.next()
		return true
	}
	return false
}

func (p *parser) expectKeyword(kw string) error {
	if !p.acceptKeyword(kw) {
		return p.unexpected()
	}
	return nil
}

func (p *parser) expectOp(op string) error {
	if !p.isOp(op) {
		return p.unexpected()
	}
	p.next()
	return nil
}

func (p *parser) unexpected() error {
	t := p.peek()
	if t.kind == tEOF {
		return syntaxError("Incorrect syntax near the end of the batch.")
	}
	return syntaxNear(t.raw)
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > MaxDepth {
		return notSupportedf("the query is nested more than %d levels deep", MaxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// refusals maps statement keywords to what the endpoint says of them.
var refusals = map[string]string{
	"INSERT": "DML statements are not supported (INSERT); the TDS endpoint is read-only",
	"UPDATE": "DML statements are not supported (UPDATE); the TDS endpoint is read-only",
	"DELETE": "DML statements are not supported (DELETE); the TDS endpoint is read-only",
	"MERGE":  "DML statements are not supported (MERGE); the TDS endpoint is read-only",
	"BULK":   "DML statements are not supported (BULK INSERT); the TDS endpoint is read-only",

	"TRUNCATE": "DDL statements are not supported (TRUNCATE); the TDS endpoint is read-only",
	"CREATE":   "DDL statements are not supported (CREATE); the TDS endpoint is read-only",
	"ALTER":    "DDL statements are not supported (ALTER); the TDS endpoint is read-only",
	"DROP":     "DDL statements are not supported (DROP); the TDS endpoint is read-only",
	"GRANT":    "DDL statements are not supported (GRANT); the TDS endpoint is read-only",
	"REVOKE":   "DDL statements are not supported (REVOKE); the TDS endpoint is read-only",
	"DENY":     "DDL statements are not supported (DENY); the TDS endpoint is read-only",

	"EXEC":    "EXECUTE statements are not supported",
	"EXECUTE": "EXECUTE statements are not supported",
	"WITH":    "common table expressions (WITH) are not supported",

	"BEGIN":    "transactions are not supported",
	"COMMIT":   "transactions are not supported",
	"ROLLBACK": "transactions are not supported",
	"SAVE":     "transactions are not supported",

	"DECLARE": "DECLARE is not supported by the fieldsync emulator",
	"USE":     "USE is not supported",
}

func (p *parser) statement() (Statement, error) {
	t := p.peek()
	if t.kind == tIdent {
		kw := strings.ToUpper(t.text)
		switch kw {
		case "SELECT":
			return p.selectStmt(false)
		case "SET":
			return p.setStmt()
		}
		if msg, ok := refusals[kw]; ok {
			return nil, notSupportedf("%s", msg)
		}
	}
	if t.kind == tOp && t.text == "(" {
		return nil, notSupportedf("parenthesized queries are not supported by the fieldsync emulator")
	}
	return nil, p.unexpected()
}

// setStmt reads SET option[, option] value, which the emulator ignores.
func (p *parser) setStmt() (Statement, error) {
	p.next() // SET
	var names []string
	for {
		t := p.peek()
		if t.kind == tParam {
			return nil, notSupportedf("variables are not supported by the fieldsync emulator")
		}
		if t.kind != tIdent {
			return nil, p.unexpected()
		}
		names = append(names, strings.ToUpper(p.next().text))
		if !p.isOp(",") {
			break
		}
		p.next()
	}
	var vals []string
	for {
		t := p.peek()
		if t.kind == tEOF || p.isOp(";") || p.isKeyword("SELECT") || p.isKeyword("SET") {
			break
		}
		if t.kind != tIdent && t.kind != tNumber && t.kind != tQIdent && !(t.kind == tOp && t.text == "-") {
			return nil, p.unexpected()
		}
		vals = append(vals, p.next().raw)
	}
	if len(vals) == 0 {
		return nil, p.unexpected()
	}
	return &Set{Option: strings.Join(names, ", "), Value: strings.Join(vals, " ")}, nil
}

// clauseRefusals are keywords that may follow a table or a condition and
// that the Dataverse endpoint may accept but this subset does not.
var clauseRefusals = map[string]string{
	"JOIN": "joins", "INNER": "joins", "LEFT": "joins", "RIGHT": "joins", "FULL": "joins",
	"CROSS": "joins", "OUTER": "joins", "APPLY": "joins",
	"UNION": "UNION", "EXCEPT": "EXCEPT", "INTERSECT": "INTERSECT",
	"GROUP": "GROUP BY", "HAVING": "HAVING", "OFFSET": "OFFSET/FETCH", "FOR": "FOR XML/JSON",
	"OPTION": "query hints", "WITH": "table hints", "PIVOT": "PIVOT", "UNPIVOT": "UNPIVOT",
	"TABLESAMPLE": "TABLESAMPLE", "COMPUTE": "COMPUTE",
}

func (p *parser) refuseClause() error {
	t := p.peek()
	if t.kind == tIdent {
		if what, ok := clauseRefusals[strings.ToUpper(t.text)]; ok {
			return notSupportedf("%s are not supported by the fieldsync emulator", what)
		}
	}
	if t.kind == tOp && t.text == "," {
		return notSupportedf("joins are not supported by the fieldsync emulator")
	}
	return nil
}

func (p *parser) selectStmt(sub bool) (*Select, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.expectKeyword("SELECT"); err != nil {
		return nil, err
	}
	s := &Select{}
	if p.acceptKeyword("DISTINCT") {
		s.Distinct = true
	} else {
		p.acceptKeyword("ALL")
	}
	if p.acceptKeyword("TOP") {
		top, err := p.top()
		if err != nil {
			return nil, err
		}
		s.Top = top
	}
	if p.isOp("*") {
		p.next()
		s.Star = true
	} else {
		for {
			it, err := p.item()
			if err != nil {
				return nil, err
			}
			s.Items = append(s.Items, it)
			if !p.isOp(",") {
				break
			}
			p.next()
		}
	}
	if p.isKeyword("INTO") {
		return nil, notSupportedf("DML statements are not supported (SELECT INTO); the TDS endpoint is read-only")
	}
	if p.acceptKeyword("FROM") {
		name, alias, err := p.table()
		if err != nil {
			return nil, err
		}
		s.From, s.Alias = name, alias
	}
	if err := p.refuseClause(); err != nil {
		return nil, err
	}
	if p.acceptKeyword("WHERE") {
		if s.From == "" {
			return nil, notSupportedf("WHERE without FROM is not supported by the fieldsync emulator")
		}
		w, err := p.or()
		if err != nil {
			return nil, err
		}
		s.Where = w
	}
	if err := p.refuseClause(); err != nil {
		return nil, err
	}
	if p.acceptKeyword("ORDER") {
		if err := p.expectKeyword("BY"); err != nil {
			return nil, err
		}
		if s.From == "" {
			return nil, notSupportedf("ORDER BY without FROM is not supported by the fieldsync emulator")
		}
		for {
			t := p.peek()
			if t.kind == tNumber {
				return nil, notSupportedf("ORDER BY a column number is not supported by the fieldsync emulator")
			}
			e, err := p.operand()
			if err != nil {
				return nil, err
			}
			c, ok := e.(*Column)
			if !ok {
				return nil, notSupportedf("ORDER BY takes column names only in the fieldsync emulator")
			}
			o := Order{Column: c}
			if p.acceptKeyword("DESC") {
				o.Desc = true
			} else {
				p.acceptKeyword("ASC")
			}
			s.OrderBy = append(s.OrderBy, o)
			if !p.isOp(",") {
				break
			}
			p.next()
		}
	}
	if err := p.refuseClause(); err != nil {
		return nil, err
	}
	return s, s.check(sub)
}

// check applies the rules the grammar does not.
func (s *Select) check(sub bool) error {
	if s.From == "" {
		if s.Star {
			return &Error{Number: 263, Message: "Must specify table to select from."}
		}
		for _, it := range s.Items {
			if c, ok := it.Expr.(*Column); ok {
				return invalidColumn(c.Name)
			}
		}
		if s.Top != nil || s.Distinct {
			return notSupportedf("TOP and DISTINCT without FROM are not supported by the fieldsync emulator")
		}
		if sub {
			return notSupportedf("a subquery needs a FROM clause")
		}
		return nil
	}
	for _, it := range s.Items {
		if _, ok := it.Expr.(*Column); !ok {
			return notSupportedf("the select list of a query with FROM takes column names only in the fieldsync emulator")
		}
	}
	if sub {
		if s.Star || len(s.Items) != 1 {
			return &Error{Number: 116, Message: "Only one expression can be specified in the select list when the subquery is not introduced with EXISTS."}
		}
		if s.Top != nil || len(s.OrderBy) > 0 {
			return notSupportedf("TOP and ORDER BY in a subquery are not supported by the fieldsync emulator")
		}
	}
	return nil
}

func invalidColumn(name string) *Error {
	return &Error{Number: ErrInvalidColumn, Message: "Invalid column name '" + name + "'."}
}

// top reads TOP (n), TOP n or TOP (@p).
func (p *parser) top() (Expr, error) {
	paren := p.isOp("(")
	if paren {
		p.next()
	}
	t := p.next()
	var e Expr
	switch t.kind {
	case tNumber:
		if _, err := strconv.ParseInt(t.text, 10, 64); err != nil {
			return nil, &Error{Number: 1060, Message: "The number of rows in the TOP clause must be an integer."}
		}
		e = &Literal{Kind: LitNumber, Text: t.text}
	case tParam:
		if !paren {
			return nil, syntaxNear(t.raw)
		}
		e = &Param{Name: t.text, Index: -1}
	default:
		return nil, syntaxNear(t.raw)
	}
	if paren {
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
	}
	if p.isKeyword("PERCENT") || p.isKeyword("WITH") {
		return nil, notSupportedf("TOP … PERCENT and WITH TIES are not supported by the fieldsync emulator")
	}
	return e, nil
}

func (p *parser) item() (Item, error) {
	t := p.peek()
	if (t.kind == tIdent || t.kind == tQIdent) && p.peekAt(1).kind == tOp && p.peekAt(1).text == "." &&
		p.peekAt(2).kind == tOp && p.peekAt(2).text == "*" {
		return Item{}, notSupportedf("qualified * is not supported by the fieldsync emulator")
	}
	if (t.kind == tIdent || t.kind == tQIdent || t.kind == tString) && p.peekAt(1).kind == tOp && p.peekAt(1).text == "=" {
		return Item{}, notSupportedf("alias = expression is not supported by the fieldsync emulator; use expression AS alias")
	}
	e, err := p.operand()
	if err != nil {
		return Item{}, err
	}
	it := Item{Expr: e}
	explicit := p.acceptKeyword("AS")
	switch t := p.peek(); {
	case t.kind == tQIdent || t.kind == tString:
		it.Alias = p.next().text
	case t.kind == tIdent && !reserved[strings.ToUpper(t.text)]:
		it.Alias = p.next().text
	case explicit:
		return Item{}, p.unexpected()
	}
	if p.isOp("+") || p.isOp("-") || p.isOp("*") || p.isOp("/") {
		return Item{}, notSupportedf("expressions in the select list are not supported by the fieldsync emulator")
	}
	return it, nil
}

// table reads [db.][schema.]name [[AS] alias].
func (p *parser) table() (name, alias string, err error) {
	var parts []string
	for {
		t := p.peek()
		switch {
		case t.kind == tQIdent:
		case t.kind == tIdent && !reserved[strings.ToUpper(t.text)]:
		case t.kind == tOp && t.text == "(":
			return "", "", notSupportedf("derived tables are not supported by the fieldsync emulator")
		default:
			return "", "", p.unexpected()
		}
		parts = append(parts, p.next().text)
		if !p.isOp(".") {
			break
		}
		p.next()
		if len(parts) == 3 {
			return "", "", syntaxNear(".")
		}
	}
	name = parts[len(parts)-1]
	if name == "" {
		return "", "", syntaxError("An object or column name is missing or empty.")
	}
	explicit := p.acceptKeyword("AS")
	switch t := p.peek(); {
	case t.kind == tQIdent:
		alias = p.next().text
	case t.kind == tIdent && !reserved[strings.ToUpper(t.text)]:
		alias = p.next().text
	case explicit:
		return "", "", p.unexpected()
	}
	return name, alias, nil
}

func (p *parser) or() (Expr, error) {
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.acceptKeyword("OR") {
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		left = &Logic{Op: "OR", Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) and() (Expr, error) {
	left, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.acceptKeyword("AND") {
		right, err := p.not()
		if err != nil {
			return nil, err
		}
		left = &Logic{Op: "AND", Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) not() (Expr, error) {
	if p.acceptKeyword("NOT") {
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return &Not{X: x}, nil
	}
	return p.predicate()
}

var compareOps = map[string]string{
	"=": "=", "<>": "<>", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "!<": ">=", "!>": "<=",
}

func (p *parser) predicate() (Expr, error) {
	if p.isOp("(") {
		if p.peekAt(1).kind == tIdent && strings.EqualFold(p.peekAt(1).text, "SELECT") {
			return nil, notSupportedf("scalar subqueries are not supported by the fieldsync emulator")
		}
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		p.next()
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		return e, nil
	}
	if p.isKeyword("EXISTS") {
		return nil, notSupportedf("EXISTS is not supported by the fieldsync emulator")
	}
	x, err := p.operand()
	if err != nil {
		return nil, err
	}
	if p.acceptKeyword("IS") {
		not := p.acceptKeyword("NOT")
		if err := p.expectKeyword("NULL"); err != nil {
			return nil, err
		}
		return &IsNull{X: x, Not: not}, nil
	}
	not := p.acceptKeyword("NOT")
	switch {
	case p.acceptKeyword("IN"):
		return p.in(x, not)
	case p.acceptKeyword("LIKE"):
		pat, err := p.operand()
		if err != nil {
			return nil, err
		}
		l := &Like{X: x, Pattern: pat, Not: not}
		if p.acceptKeyword("ESCAPE") {
			if l.Escape, err = p.operand(); err != nil {
				return nil, err
			}
		}
		return l, nil
	case p.acceptKeyword("BETWEEN"):
		lo, err := p.operand()
		if err != nil {
			return nil, err
		}
		if err := p.expectKeyword("AND"); err != nil {
			return nil, err
		}
		hi, err := p.operand()
		if err != nil {
			return nil, err
		}
		return &Between{X: x, Lo: lo, Hi: hi, Not: not}, nil
	case not:
		return nil, p.unexpected()
	}
	t := p.peek()
	if t.kind == tOp {
		if op, ok := compareOps[t.text]; ok {
			p.next()
			y, err := p.operand()
			if err != nil {
				return nil, err
			}
			return &Compare{Op: op, Left: x, Right: y}, nil
		}
		switch t.text {
		case "+", "-", "*", "/":
			return nil, notSupportedf("arithmetic is not supported by the fieldsync emulator")
		}
	}
	return nil, p.unexpected()
}

func (p *parser) in(x Expr, not bool) (Expr, error) {
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	in := &In{X: x, Not: not}
	if p.isKeyword("SELECT") {
		sub, err := p.selectStmt(true)
		if err != nil {
			return nil, err
		}
		in.Sub = sub
	} else {
		for {
			e, err := p.operand()
			if err != nil {
				return nil, err
			}
			in.List = append(in.List, e)
			if !p.isOp(",") {
				break
			}
			p.next()
		}
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	return in, nil
}

// notFunctions are keywords that start expressions this subset lacks.
var notFunctions = map[string]bool{"CASE": true, "CAST": true, "CONVERT": true, "COALESCE": true, "NULLIF": true, "TRY_CONVERT": true, "EXISTS": true}

// operand reads a column, a parameter, a literal or a global variable.
func (p *parser) operand() (Expr, error) {
	t := p.peek()
	switch t.kind {
	case tNumber:
		p.next()
		return &Literal{Kind: LitNumber, Text: t.text}, nil
	case tString:
		p.next()
		return &Literal{Kind: LitString, Text: t.text}, nil
	case tParam:
		p.next()
		return &Param{Name: t.text, Index: -1}, nil
	case tGlobal:
		p.next()
		return &Global{Name: strings.ToUpper(t.text)}, nil
	case tOp:
		if (t.text == "-" || t.text == "+") && p.peekAt(1).kind == tNumber {
			p.next()
			n := p.next()
			return &Literal{Kind: LitNumber, Text: n.text, Neg: t.text == "-"}, nil
		}
		if t.text == "(" {
			if p.peekAt(1).kind == tIdent && strings.EqualFold(p.peekAt(1).text, "SELECT") {
				return nil, notSupportedf("scalar subqueries are not supported by the fieldsync emulator")
			}
			return nil, notSupportedf("parenthesized expressions are not supported by the fieldsync emulator")
		}
		return nil, p.unexpected()
	case tIdent, tQIdent:
		up := strings.ToUpper(t.text)
		if t.kind == tIdent {
			if up == "NULL" {
				p.next()
				return &Literal{Kind: LitNull}, nil
			}
			if notFunctions[up] {
				return nil, notSupportedf("%s is not supported by the fieldsync emulator", up)
			}
			if reserved[up] {
				return nil, p.unexpected()
			}
		}
		if n := p.peekAt(1); n.kind == tOp && n.text == "(" {
			return nil, notSupportedf("functions (%s) are not supported by the fieldsync emulator", t.text)
		}
		if t.text == "" {
			return nil, syntaxError("An object or column name is missing or empty.")
		}
		p.next()
		if !p.isOp(".") {
			return &Column{Name: t.text}, nil
		}
		p.next()
		n := p.peek()
		if n.kind != tQIdent && (n.kind != tIdent || reserved[strings.ToUpper(n.text)]) {
			return nil, p.unexpected()
		}
		if n.text == "" {
			return nil, syntaxError("An object or column name is missing or empty.")
		}
		p.next()
		if p.isOp(".") {
			return nil, notSupportedf("column names of more than two parts are not supported by the fieldsync emulator")
		}
		return &Column{Table: t.text, Name: n.text}, nil
	}
	return nil, p.unexpected()
}

// Walk calls fn for e and every node below it, subqueries included,
// parents first; fn returning false skips the node's children.
func Walk(e Expr, fn func(Expr) bool) {
	if e == nil || !fn(e) {
		return
	}
	switch e := e.(type) {
	case *Logic:
		Walk(e.Left, fn)
		Walk(e.Right, fn)
	case *Not:
		Walk(e.X, fn)
	case *Compare:
		Walk(e.Left, fn)
		Walk(e.Right, fn)
	case *In:
		Walk(e.X, fn)
		for _, x := range e.List {
			Walk(x, fn)
		}
		if e.Sub != nil {
			e.Sub.walk(fn)
		}
	case *Like:
		Walk(e.X, fn)
		Walk(e.Pattern, fn)
		Walk(e.Escape, fn)
	case *IsNull:
		Walk(e.X, fn)
	case *Between:
		Walk(e.X, fn)
		Walk(e.Lo, fn)
		Walk(e.Hi, fn)
	}
}

func (s *Select) walk(fn func(Expr) bool) {
	Walk(s.Top, fn)
	for _, it := range s.Items {
		Walk(it.Expr, fn)
	}
	Walk(s.Where, fn)
	for _, o := range s.OrderBy {
		Walk(o.Column, fn)
	}
}

// Params lists the parameters the statement uses, in order of appearance
// (a parameter used twice is listed twice).
func (s *Select) Params() []*Param {
	var out []*Param
	s.walk(func(e Expr) bool {
		if p, ok := e.(*Param); ok {
			out = append(out, p)
		}
		return true
	})
	return out
}

// Bind resolves each parameter to its position among names (the
// parameters the request declared, "@" included; matched ignoring case).
// An undeclared one is refused as SQL Server does.
func (s *Select) Bind(names []string) error {
	for _, p := range s.Params() {
		p.Index = -1
		for i, n := range names {
			if strings.EqualFold(n, p.Name) {
				p.Index = i
				break
			}
		}
		if p.Index < 0 {
			return &Error{Number: ErrUndeclared, Message: `Must declare the scalar variable "` + p.Name + `".`}
		}
	}
	return nil
}

// IsConstant reports whether the statement reads no entity (SELECT 1,
// SELECT @@VERSION): the server answers it itself.
func (s *Select) IsConstant() bool { return s.From == "" }
