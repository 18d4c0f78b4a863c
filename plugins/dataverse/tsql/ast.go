// Package tsql is the T-SQL of fieldsync's Dataverse TDS code, in both
// directions:
//
//   - Parse and ParseBatch read the SELECT subset that the Dataverse TDS
//     endpoint accepts and the connector emits, into a Select tree, and
//     refuse everything else with an *Error (DML, DDL, EXEC, CTEs, joins …).
//     (*Select).SQLite renders a tree as parameterised SQLite SQL through a
//     Catalog, for the emulator.
//   - Where translates a sync filter (sdk.Filter) into a T-SQL WHERE
//     condition with @pN parameters, for the connector's TDS downloader.
//
// The subset: SELECT [DISTINCT] [TOP (n | @p)] columns | * FROM entity
// [[AS] alias] [WHERE condition] [ORDER BY column [ASC|DESC], …], where a
// condition combines AND, OR, NOT and parentheses over comparisons (= <>
// != < <= > >= !< !>), [NOT] IN (values), [NOT] IN (SELECT column FROM
// entity [WHERE …]), [NOT] LIKE [ESCAPE], IS [NOT] NULL and [NOT] BETWEEN,
// with columns, parameters (@p1, @name), literals (N'…', '…', numbers,
// NULL) as operands. SELECT without FROM takes literals, parameters and
// global variables (SELECT 1, SELECT @@VERSION); SET option … statements
// are read so that a server can ignore them.
//
// Errors carry SQL Server's numbers where one fits (102 syntax, 137
// undeclared variable, 207 column, 208 object). Refusals use 40000 and
// start "The request could not be processed: …": what Dataverse refuses
// (DML, DDL, EXEC, WITH) says "… statements are not supported …; the TDS
// endpoint is read-only", and what Dataverse accepts but this subset lacks
// (joins, GROUP BY, functions …) names "the fieldsync emulator". The
// number and wording of Dataverse's own refusals are unverified.
//
// It uses the standard library and the sdk only; it neither opens
// connections nor reads the clock.
package tsql

import (
	"fmt"
	"strings"
)

// Error numbers, after SQL Server's where one fits.
const (
	ErrSyntax        = 102   // Incorrect syntax near '…'.
	ErrUndeclared    = 137   // Must declare the scalar variable "@x".
	ErrInvalidColumn = 207   // Invalid column name '…'.
	ErrInvalidObject = 208   // Invalid object name '…'.
	ErrNotSupported  = 40000 // Dataverse's number for what its endpoint refuses (unverified)
)

// Error is a refused query: a T-SQL error number and message as the TDS
// endpoint reports them.
type Error struct {
	Number  int32
	Message string
}

func (e *Error) Error() string { return e.Message }

func syntaxError(msg string) *Error { return &Error{Number: ErrSyntax, Message: msg} }

func syntaxNear(s string) *Error {
	return &Error{Number: ErrSyntax, Message: "Incorrect syntax near '" + clip(s) + "'."}
}

func notSupportedf(format string, args ...any) *Error {
	return &Error{Number: ErrNotSupported, Message: "The request could not be processed: " + fmt.Sprintf(format, args...) + "."}
}

// Statement is one statement of a batch: *Select or *Set.
type Statement interface {
	statement()
	String() string
}

// Set is a SET statement for a session option (SET NOCOUNT ON, SET
// TEXTSIZE 2147483647 …). The emulator accepts and ignores them.
type Set struct {
	Option string // upper case
	Value  string // ON, OFF, a number or a name, as written
}

func (*Set) statement() {}

func (s *Set) String() string { return "SET " + s.Option + " " + s.Value }

// Select is one SELECT statement.
//
// A Select with a From reads one entity: Items are columns (or Star is
// set). A Select without From is a constant query (SELECT 1, SELECT
// @@VERSION): Items hold literals, parameters and global variables.
type Select struct {
	Distinct bool
	Top      Expr // nil, *Literal (a whole number) or *Param
	Star     bool // SELECT *
	Items    []Item
	From     string // entity (logical) name; "" for a constant query
	Alias    string // FROM account AS a: "a"
	Where    Expr   // nil: every row
	OrderBy  []Order
}

func (*Select) statement() {}

// Item is one entry of the select list.
type Item struct {
	Expr  Expr   // *Column with From; otherwise *Literal, *Param or *Global
	Alias string // "" when none
}

// Name is the name of the result column: the alias, the column name, or
// "" (as SQL Server names an unnamed expression).
func (it Item) Name() string {
	if it.Alias != "" {
		return it.Alias
	}
	if c, ok := it.Expr.(*Column); ok {
		return c.Name
	}
	return ""
}

// Order is one ORDER BY key.
type Order struct {
	Column *Column
	Desc   bool
}

// Expr is a node of a condition or a value: *Logic, *Not, *Compare, *In,
// *Like, *IsNull, *Between (conditions) or *Column, *Param, *Literal,
// *Global (values).
type Expr interface {
	expr()
	write(b *strings.Builder)
}

// Logic is AND or OR of two conditions.
type Logic struct {
	Op          string // "AND" or "OR"
	Left, Right Expr
}

// Not negates a condition.
type Not struct{ X Expr }

// Compare is a comparison; Op is one of = <> < <= > >= (!= is read as
// <>, !< as >=, !> as <=).
type Compare struct {
	Op          string
	Left, Right Expr
}

// In is X [NOT] IN (List) or X [NOT] IN (subquery).
type In struct {
	X    Expr
	List []Expr
	Sub  *Select // a one-column SELECT … FROM … [WHERE …]
	Not  bool
}

// Like is X [NOT] LIKE Pattern [ESCAPE Escape].
type Like struct {
	X, Pattern Expr
	Escape     Expr // nil, or a one-character *Literal or *Param
	Not        bool
}

// IsNull is X IS [NOT] NULL.
type IsNull struct {
	X   Expr
	Not bool
}

// Between is X [NOT] BETWEEN Lo AND Hi.
type Between struct {
	X, Lo, Hi Expr
	Not       bool
}

// Column names a column, optionally qualified by the entity or its alias.
type Column struct {
	Table string
	Name  string
}

// Param is a parameter (@p1, @name). Index is its position in the
// arguments after Bind, -1 before.
type Param struct {
	Name  string // with the @
	Index int
}

// LiteralKind tells what a Literal holds.
type LiteralKind uint8

const (
	LitNull   LiteralKind = iota
	LitNumber             // Text is the number as written (no sign: see Neg)
	LitString             // Text is the string, quotes removed
)

// Literal is a constant.
type Literal struct {
	Kind LiteralKind
	Text string
	Neg  bool // a number written with a leading minus
}

// Global is a global variable such as @@VERSION.
type Global struct{ Name string }

func (*Logic) expr()   {}
func (*Not) expr()     {}
func (*Compare) expr() {}
func (*In) expr()      {}
func (*Like) expr()    {}
func (*IsNull) expr()  {}
func (*Between) expr() {}
func (*Column) expr()  {}
func (*Param) expr()   {}
func (*Literal) expr() {}
func (*Global) expr()  {}

// String renders the statement as T-SQL that Parse reads back to the same
// tree.
func (s *Select) String() string {
	var b strings.Builder
	s.write(&b)
	return b.String()
}

func (s *Select) write(b *strings.Builder) {
	b.WriteString("SELECT ")
	if s.Distinct {
		b.WriteString("DISTINCT ")
	}
	if s.Top != nil {
		b.WriteString("TOP (")
		s.Top.write(b)
		b.WriteString(") ")
	}
	if s.Star {
		b.WriteString("*")
	}
	for i, it := range s.Items {
		if i > 0 {
			b.WriteString(", ")
		}
		it.Expr.write(b)
		if it.Alias != "" {
			b.WriteString(" AS ")
			b.WriteString(QuoteName(it.Alias))
		}
	}
	if s.From != "" {
		b.WriteString(" FROM ")
		b.WriteString(QuoteName(s.From))
		if s.Alias != "" {
			b.WriteString(" AS ")
			b.WriteString(QuoteName(s.Alias))
		}
	}
	if s.Where != nil {
		b.WriteString(" WHERE ")
		s.Where.write(b)
	}
	for i, o := range s.OrderBy {
		if i == 0 {
			b.WriteString(" ORDER BY ")
		} else {
			b.WriteString(", ")
		}
		o.Column.write(b)
		if o.Desc {
			b.WriteString(" DESC")
		}
	}
}

// Every condition is written in parentheses when it is an operand of AND,
// OR or NOT, so the text never depends on precedence.
func writeCond(b *strings.Builder, e Expr) {
	switch e.(type) {
	case *Logic, *Not:
		b.WriteByte('(')
		e.write(b)
		b.WriteByte(')')
	default:
		e.write(b)
	}
}

func (e *Logic) write(b *strings.Builder) {
	writeCond(b, e.Left)
	b.WriteString(" " + e.Op + " ")
	writeCond(b, e.Right)
}

func (e *Not) write(b *strings.Builder) {
	b.WriteString("NOT ")
	writeCond(b, e.X)
}

func (e *Compare) write(b *strings.Builder) {
	e.Left.write(b)
	b.WriteString(" " + e.Op + " ")
	e.Right.write(b)
}

func (e *In) write(b *strings.Builder) {
	e.X.write(b)
	if e.Not {
		b.WriteString(" NOT")
	}
	b.WriteString(" IN (")
	if e.Sub != nil {
		e.Sub.write(b)
	}
	for i, x := range e.List {
		if i > 0 {
			b.WriteString(", ")
		}
		x.write(b)
	}
	b.WriteByte(')')
}

func (e *Like) write(b *strings.Builder) {
	e.X.write(b)
	if e.Not {
		b.WriteString(" NOT")
	}
	b.WriteString(" LIKE ")
	e.Pattern.write(b)
	if e.Escape != nil {
		b.WriteString(" ESCAPE ")
		e.Escape.write(b)
	}
}

func (e *IsNull) write(b *strings.Builder) {
	e.X.write(b)
	if e.Not {
		b.WriteString(" IS NOT NULL")
	} else {
		b.WriteString(" IS NULL")
	}
}

func (e *Between) write(b *strings.Builder) {
	e.X.write(b)
	if e.Not {
		b.WriteString(" NOT")
	}
	b.WriteString(" BETWEEN ")
	e.Lo.write(b)
	b.WriteString(" AND ")
	e.Hi.write(b)
}

func (e *Column) write(b *strings.Builder) {
	if e.Table != "" {
		b.WriteString(QuoteName(e.Table))
		b.WriteByte('.')
	}
	b.WriteString(QuoteName(e.Name))
}

func (e *Param) write(b *strings.Builder) { b.WriteString(e.Name) }

func (e *Literal) write(b *strings.Builder) {
	switch e.Kind {
	case LitNull:
		b.WriteString("NULL")
	case LitNumber:
		if e.Neg {
			b.WriteByte('-')
		}
		b.WriteString(e.Text)
	case LitString:
		b.WriteString(QuoteString(e.Text))
	}
}

func (e *Global) write(b *strings.Builder) { b.WriteString(e.Name) }

// QuoteString writes s as a Unicode T-SQL string literal: N'…' with each
// quote doubled.
func QuoteString(s string) string { return "N'" + strings.ReplaceAll(s, "'", "''") + "'" }

// QuoteName writes an identifier bare when it is a regular identifier
// that is no reserved word, else in brackets with ] doubled.
func QuoteName(s string) string {
	if isRegularIdent(s) && !reserved[strings.ToUpper(s)] {
		return s
	}
	return "[" + strings.ReplaceAll(s, "]", "]]") + "]"
}

func isRegularIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if i == 0 {
			if !isIdentStart(r) || r == '#' {
				return false
			}
		} else if !isIdentPart(r) {
			return false
		}
	}
	return true
}

// reserved holds T-SQL's reserved keywords (and ODBC's that SQL Server
// reserves); such a name must be bracketed.
var reserved = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`ADD ALL ALTER AND ANY AS ASC AUTHORIZATION BACKUP BEGIN BETWEEN BREAK
	BROWSE BULK BY CASCADE CASE CHECK CHECKPOINT CLOSE CLUSTERED COALESCE COLLATE COLUMN COMMIT
	COMPUTE CONSTRAINT CONTAINS CONTAINSTABLE CONTINUE CONVERT CREATE CROSS CURRENT CURRENT_DATE
	CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER CURSOR DATABASE DBCC DEALLOCATE DECLARE DEFAULT
	DELETE DENY DESC DISK DISTINCT DISTRIBUTED DOUBLE DROP DUMP ELSE END ERRLVL ESCAPE EXCEPT EXEC
	EXECUTE EXISTS EXIT EXTERNAL FETCH FILE FILLFACTOR FOR FOREIGN FREETEXT FREETEXTTABLE FROM FULL
	FUNCTION GOTO GRANT GROUP HAVING HOLDLOCK IDENTITY IDENTITY_INSERT IDENTITYCOL IF IN INDEX INNER
	INSERT INTERSECT INTO IS JOIN KEY KILL LEFT LIKE LINENO LOAD MERGE NATIONAL NOCHECK NONCLUSTERED
	NOT NULL NULLIF OF OFF OFFSETS ON OPEN OPENDATASOURCE OPENQUERY OPENROWSET OPENXML OPTION OR
	ORDER OUTER OVER PERCENT PIVOT PLAN PRECISION PRIMARY PRINT PROC PROCEDURE PUBLIC RAISERROR READ
	READTEXT RECONFIGURE REFERENCES REPLICATION RESTORE RESTRICT RETURN REVERT REVOKE RIGHT ROLLBACK
	ROWCOUNT ROWGUIDCOL RULE SAVE SCHEMA SECURITYAUDIT SELECT SEMANTICKEYPHRASETABLE
	SEMANTICSIMILARITYDETAILSTABLE SEMANTICSIMILARITYTABLE SESSION_USER SET SETUSER SHUTDOWN SOME
	STATISTICS SYSTEM_USER TABLE TABLESAMPLE TEXTSIZE THEN TO TOP TRAN TRANSACTION TRIGGER TRUNCATE
	TRY_CONVERT TSEQUAL UNION UNIQUE UNPIVOT UPDATE UPDATETEXT USE USER VALUES VARYING VIEW WAITFOR
	WHEN WHERE WHILE WITH WITHIN WRITETEXT`) {
		reserved[w] = true
	}
}
