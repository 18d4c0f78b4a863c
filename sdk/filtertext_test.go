package sdk

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// filterEqual compares two trees: operators, fields, values (Value.Equal,
// so kinds must match) and children; nil and empty slices are the same.
func filterEqual(a, b *Filter) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Op != b.Op || a.Field != b.Field || len(a.Values) != len(b.Values) || len(a.Children) != len(b.Children) {
		return false
	}
	for i := range a.Values {
		if !a.Values[i].Equal(b.Values[i]) {
			return false
		}
	}
	for i := range a.Children {
		if !filterEqual(a.Children[i], b.Children[i]) {
			return false
		}
	}
	return true
}

// dump shows a tree with its value kinds, for failure messages.
func dump(f *Filter) string {
	if f == nil {
		return "nil"
	}
	var b strings.Builder
	b.WriteString(string(f.Op))
	b.WriteString("[")
	b.WriteString(f.Field)
	for _, v := range f.Values {
		b.WriteString(" ")
		b.WriteString(v.Kind().String())
		b.WriteString(":")
		b.WriteString(v.String())
	}
	for _, c := range f.Children {
		b.WriteString(" ")
		b.WriteString(dump(c))
	}
	b.WriteString("]")
	return b.String()
}

func day(y int, m time.Month, d int) Value { return Time(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)) }

func TestParseFilter(t *testing.T) {
	tests := []struct {
		name, text string
		want       *Filter
	}{
		// Comparisons.
		{"eq int", "statecode eq 0", Cmp("statecode", OpEq, Int(0))},
		{"ne negative", "n ne -12", Cmp("n", OpNe, Int(-12))},
		{"lt float", "price lt 12.5", Cmp("price", OpLt, Float(12.5))},
		{"le exponent", "x le 1e-3", Cmp("x", OpLe, Float(1e-3))},
		{"gt plus sign", "x gt +7", Cmp("x", OpGt, Int(7))},
		{"ge datetime", "createdon ge 2026-01-01T08:00:00Z", Cmp("createdon", OpGe, Time(time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)))},
		{"datetime offset and fraction", "t eq 2026-01-01T10:00:00.25+02:00", Cmp("t", OpEq, Time(time.Date(2026, 1, 1, 8, 0, 0, 250_000_000, time.UTC)))},
		{"lower-case t and z", "t eq 2026-01-01t08:00:00z", Cmp("t", OpEq, Time(time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)))},
		{"text", "city eq 'Oslo'", Cmp("city", OpEq, String("Oslo"))},
		{"text with quote", "name eq 'O''Brien'", Cmp("name", OpEq, String("O'Brien"))},
		{"empty text", "name eq ''", Cmp("name", OpEq, String(""))},
		{"text keeps spaces and unicode", "name eq '  Ærø and or ( '", Cmp("name", OpEq, String("  Ærø and or ( "))},
		{"bools", "active eq true and deleted ne FALSE", And(Cmp("active", OpEq, Bool(true)), Cmp("deleted", OpNe, Bool(false)))},
		{"bytes", "data eq x'00fF'", Cmp("data", OpEq, Bytes([]byte{0, 0xff}))},
		{"empty bytes", "data ne x''", Cmp("data", OpNe, Bytes([]byte{}))},
		{"non-finite floats", "a eq nan or b eq inf or c eq -INF", Or(Cmp("a", OpEq, Float(math.NaN())), Cmp("b", OpEq, Float(math.Inf(1))), Cmp("c", OpEq, Float(math.Inf(-1))))},
		// Sets.
		{"in", "industrycode in (1, 2, 3)", Cmp("industrycode", OpIn, Int(1), Int(2), Int(3))},
		{"in one, no spaces", "x in(1)", Cmp("x", OpIn, Int(1))},
		{"not-in mixed", "x not-in ('a', 2.5, true)", Cmp("x", OpNotIn, String("a"), Float(2.5), Bool(true))},
		// Text operators.
		{"like", "name like '%son'", Cmp("name", OpLike, String("%son"))},
		{"begins-with", "city begins-with 'Ber'", Cmp("city", OpBeginsWith, String("Ber"))},
		// Nulls.
		{"null", "parentid null", Cmp("parentid", OpIsNull)},
		{"not-null and", "parentid not-null and a eq 1", And(Cmp("parentid", OpNotNull), Cmp("a", OpEq, Int(1)))},
		// Dates.
		{"last-x-days", "createdon last-x-days 30", Cmp("createdon", OpLastXDays, Int(30))},
		{"next-x-days", "due next-x-days 0", Cmp("due", OpNextXDays, Int(0))},
		{"on-or-after date", "closedate on-or-after 2026-01-01", Cmp("closedate", OpOnOrAfter, day(2026, 1, 1))},
		{"on-or-after text", "closedate on-or-after '2026-01-01'", Cmp("closedate", OpOnOrAfter, String("2026-01-01"))},
		// User operators.
		{"user ops", "ownerid eq-userid or a ne-userid or b eq-businessid or c eq-useroruserteams",
			Or(Cmp("ownerid", OpEqUserID), Cmp("a", OpNeUserID), Cmp("b", OpEqBusinessID), Cmp("c", OpEqUserOrUserTeams))},
		{"documented example 1", "statecode eq 0 and ownerid eq-userid", And(Cmp("statecode", OpEq, Int(0)), Cmp("ownerid", OpEqUserID))},
		// Link.
		{"link", "parentaccountid link (city eq 'Oslo' and active eq true)",
			Link("parentaccountid", And(Cmp("city", OpEq, String("Oslo")), Cmp("active", OpEq, Bool(true))))},
		{"nested link", "a link (b link (c null))", Link("a", Link("b", Cmp("c", OpIsNull)))},
		{"not link", "not a link (c null)", Not(Link("a", Cmp("c", OpIsNull)))},
		// Precedence and grouping.
		{"and binds tighter than or", "a eq 1 or b eq 2 and c eq 3",
			Or(Cmp("a", OpEq, Int(1)), And(Cmp("b", OpEq, Int(2)), Cmp("c", OpEq, Int(3))))},
		{"not binds tighter than and", "not a eq 1 and b eq 2", And(Not(Cmp("a", OpEq, Int(1))), Cmp("b", OpEq, Int(2)))},
		{"documented example 2", "(city eq 'Oslo' or city begins-with 'Ber') and not active eq false",
			And(Or(Cmp("city", OpEq, String("Oslo")), Cmp("city", OpBeginsWith, String("Ber"))), Not(Cmp("active", OpEq, Bool(false))))},
		{"documented example 3", "industrycode in (1, 2, 3) and createdon last-x-days 30",
			And(Cmp("industrycode", OpIn, Int(1), Int(2), Int(3)), Cmp("createdon", OpLastXDays, Int(30)))},
		{"chains are flat", "a null and b null and c null", And(Cmp("a", OpIsNull), Cmp("b", OpIsNull), Cmp("c", OpIsNull))},
		{"parentheses keep nesting", "(a null and b null) and c null", And(And(Cmp("a", OpIsNull), Cmp("b", OpIsNull)), Cmp("c", OpIsNull))},
		{"redundant parentheses", "((a null))", Cmp("a", OpIsNull)},
		{"not not", "not not a null", Not(Not(Cmp("a", OpIsNull)))},
		{"not group", "not (a null or b null)", Not(Or(Cmp("a", OpIsNull), Cmp("b", OpIsNull)))},
		{"prefix group of one", "and(a null)", And(Cmp("a", OpIsNull))},
		{"prefix group list", "OR (a null, b null and c null)", Or(Cmp("a", OpIsNull), And(Cmp("b", OpIsNull), Cmp("c", OpIsNull)))},
		// Case, spacing, names.
		{"keywords are case-insensitive", "A EQ 1 AND NOT B Begins-With 'x' Or C NULL",
			Or(And(Cmp("A", OpEq, Int(1)), Not(Cmp("B", OpBeginsWith, String("x")))), Cmp("C", OpIsNull))},
		{"whitespace", "\ta\neq\r\n1  ", Cmp("a", OpEq, Int(1))},
		{"quoted name", `"my field" eq 1`, Cmp("my field", OpEq, Int(1))},
		{"quoted keyword name", `"not" null and "a""b" null`, And(Cmp("not", OpIsNull), Cmp(`a"b`, OpIsNull))},
		{"names that are operators", "eq eq 1 and null null and link link (true eq true)",
			And(Cmp("eq", OpEq, Int(1)), Cmp("null", OpIsNull), Link("link", Cmp("true", OpEq, Bool(true))))},
		{"underscore name", "_x1 eq 1", Cmp("_x1", OpEq, Int(1))},
		{"extreme ints", "a in (-9223372036854775808, 9223372036854775807, 0150)",
			Cmp("a", OpIn, Int(math.MinInt64), Int(math.MaxInt64), Int(150))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFilter(tt.text)
			if err != nil {
				t.Fatalf("ParseFilter(%q): %v", tt.text, err)
			}
			if !filterEqual(got, tt.want) {
				t.Fatalf("ParseFilter(%q)\n got  %s\n want %s", tt.text, dump(got), dump(tt.want))
			}
			if err := got.Validate(nil); err != nil {
				t.Fatalf("result does not validate: %v", err)
			}
			again, err := ParseFilter(FormatFilter(got))
			if err != nil || !filterEqual(again, got) {
				t.Fatalf("round trip through %q: %s, %v", FormatFilter(got), dump(again), err)
			}
		})
	}
}

func TestParseFilterErrors(t *testing.T) {
	tests := []struct {
		text string
		want string // the whole message, or a part of it when partial
		part bool
	}{
		// Exact messages.
		{"statecode eq", `filter: at column 13: expected a value after "eq", found end of text`, false},
		{"statecode eq    ", `filter: at column 17: expected a value after "eq", found end of text`, false},
		{"", `filter: at column 1: the filter is empty`, false},
		{"  \n ", `filter: at line 2, column 2: the filter is empty`, false},
		{"city eq Oslo", `filter: at column 9: expected a value after "eq", found "Oslo"; write text in single quotes: 'Oslo'`, false},
		{"city eq 'Oslo", `filter: at column 9: the text starting here has no closing quote (')`, false},
		{"a eq 1 b eq 2", `filter: at column 8: expected "and", "or" or end of text, found "b"`, false},
		{"(a eq 1", `filter: at column 8: expected "and", "or" or ")" to close the "(" at column 1, found end of text`, false},
		{"a null 1", `filter: at column 8: null takes no value, found 1`, false},
		{"statecode equals 0", `filter: at column 11: unknown operator "equals"; valid: eq, ne, lt, le, gt, ge, in, not-in, like, begins-with, null, not-null, last-x-days, next-x-days, on-or-after, eq-userid, ne-userid, eq-businessid, eq-useroruserteams, link`, false},
		{"a eq 1 and\n  b eq", `filter: at line 2, column 7: expected a value after "eq", found end of text`, false},
		{"name like 5", `filter: at column 11: like needs text in single quotes, found 5`, false},
		{"d last-x-days 40000", `filter: at column 15: last-x-days needs a whole number of days from 0 to 36500, found 40000`, false},
		{"a in 1", `filter: at column 6: expected "(" and a list of values after "in", found 1`, false},
		{"a in (1, )", `filter: at column 10: expected a value in the list after "in", found ")"`, false},
		{"a in (1 2)", `filter: at column 9: expected "," or ")" to close the list at column 6, found 2`, false},
		{"a eq null", `filter: at column 6: a value cannot be null; test for null with the null or not-null operator, e.g. city null`, false},
		{"and eq 1", `filter: at column 1: expected a condition, found "and" (a field named so is written in double quotes: "and")`, false},
		{"a-b eq 1", `filter: at column 1: "a-b" is not a plain field name; write it in double quotes: "a-b"`, false},
		{"a eq 1 $", `filter: at column 8: unexpected character '$'`, false},
		// Partial messages.
		{"a eq 99999999999999999999", "too large for a whole number", true},
		{"a eq 1e999", "1e999 is too large for a number", true},
		{"a eq 2026-13-01", "2026-13-01 is not a valid date", true},
		{"a eq 2026-01-01T25:00:00Z", "is not a valid time", true},
		{"a eq 12abc", "12abc is not a number or a date", true},
		{"a eq 1.", "is not a number or a date", true},
		{"a eq -", "is not a number or a date", true},
		{"a eq x'0'", "pairs of hex digits", true},
		{`"a eq 1`, "the name starting here has no closing quote", true},
		{"a eq", "found end of text", true},
		{"a", `expected an operator after "a", found end of text`, true},
		{"a 1", `expected an operator after "a", found 1`, true},
		{"a link a eq 1", `expected "(" and a condition on the parent after "link", found "a"`, true},
		{"a link ()", `expected a condition (a field name, "not" or "("), found ")"`, true},
		{"not", "found end of text", true},
		{"()", `expected a condition`, true},
		{"and()", `expected a condition`, true},
		{"and(a null b null)", `expected "and", "or", "," or ")" to close the "(" at column 4, found "b"`, true},
		{"a eq 1 and or b eq 2", `expected a condition, found "or"`, true},
		{"a eq 1)", `expected "and", "or" or end of text, found ")"`, true},
		{"a eq 'x' 'y'", `found 'y'`, true},
		{"a eq \xff", "not valid UTF-8", true},
		{"a eq 1\u00a0", `unexpected character '\u00a0'`, true},
		{"a eq 'é' and b eq", "at column 18:", true},
	}
	for _, tt := range tests {
		f, err := ParseFilter(tt.text)
		if err == nil {
			t.Errorf("ParseFilter(%q) = %s, want an error", tt.text, dump(f))
			continue
		}
		if tt.part && !strings.Contains(err.Error(), tt.want) || !tt.part && err.Error() != tt.want {
			t.Errorf("ParseFilter(%q):\n got  %s\n want %s", tt.text, err, tt.want)
		}
		var se *FilterSyntaxError
		if !errors.As(err, &se) || se.Line < 1 || se.Column < 1 || se.Offset < 0 || se.Offset > len(tt.text) {
			t.Errorf("ParseFilter(%q): error %#v is not a positioned *FilterSyntaxError", tt.text, err)
		}
	}
}

func TestParseFilterLimits(t *testing.T) {
	// Text length.
	long := "a eq '" + strings.Repeat("x", MaxFilterText) + "'"
	if _, err := ParseFilter(long); err == nil || !strings.Contains(err.Error(), "more than the 65536 allowed") {
		t.Fatalf("long text: %v", err)
	}
	// List size.
	list := func(n int) string {
		var b strings.Builder
		b.WriteString("a in (")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("1")
		}
		b.WriteString(")")
		return b.String()
	}
	if f, err := ParseFilter(list(MaxFilterList)); err != nil || len(f.Values) != MaxFilterList {
		t.Fatalf("a list of %d: %v", MaxFilterList, err)
	}
	if _, err := ParseFilter(list(MaxFilterList + 1)); err == nil || !strings.Contains(err.Error(), "more than 10000 values") {
		t.Fatalf("a list too long: %v", err)
	}
	// Tree depth: a chain of nots MaxFilterDepth deep is the deepest
	// valid tree; one more is refused with a position.
	deep := strings.Repeat("not ", MaxFilterDepth) + "a null"
	f, err := ParseFilter(deep)
	if err != nil {
		t.Fatalf("depth %d: %v", MaxFilterDepth, err)
	}
	if err := f.Validate(nil); err != nil {
		t.Fatal(err)
	}
	_, err = ParseFilter("not " + deep)
	if err == nil || err.Error() != "filter: at column 133: the conditions nest more than 32 levels deep" {
		t.Fatalf("depth %d: %v", MaxFilterDepth+1, err)
	}
	// And/or nodes count too, with no nesting in the text to show it.
	chain := "a null"
	for range MaxFilterDepth + 1 {
		chain = "(" + chain + " and a null)"
	}
	if _, err := ParseFilter(chain); err == nil || !strings.Contains(err.Error(), "nest more than 32 levels") {
		t.Fatalf("deep and chain: %v", err)
	}
	// Parentheses alone are bounded too, before any node is built.
	parens := strings.Repeat("(", 100_000) + "a null" + strings.Repeat(")", 100_000)
	if _, err := ParseFilter(parens[:MaxFilterText]); err == nil || !strings.Contains(err.Error(), "nest more than 66 levels") {
		t.Fatalf("deep parentheses: %v", err)
	}
	// Deep, valid trees of every kind round-trip.
	var n *Filter = Cmp("a", OpIsNull)
	for i := range MaxFilterDepth {
		switch i % 5 {
		case 0:
			n = Not(n)
		case 1:
			n = And(n, Cmp("b", OpIsNull))
		case 2:
			n = Or(Cmp("b", OpIsNull), n)
		case 3:
			n = Link("l", n)
		case 4:
			n = And(n)
		}
	}
	if err := n.Validate(nil); err != nil {
		t.Fatal(err)
	}
	back, err := ParseFilter(FormatFilter(n))
	if err != nil || !filterEqual(back, n) {
		t.Fatalf("deep tree %q: %v", FormatFilter(n), err)
	}
}

func TestFormatFilter(t *testing.T) {
	tests := []struct {
		f    *Filter
		want string
	}{
		{nil, ""},
		{Cmp("statecode", OpEq, Int(0)), "statecode eq 0"},
		{Cmp("city", OpEq, String("O'Brien")), "city eq 'O''Brien'"},
		{Cmp("x", OpEq, Float(1)), "x eq 1.0"},
		{Cmp("x", OpEq, Float(-0.5)), "x eq -0.5"},
		{Cmp("x", OpEq, Float(math.Copysign(0, -1))), "x eq -0.0"},
		{Cmp("x", OpEq, Float(1e21)), "x eq 1e+21"},
		{Cmp("x", OpEq, Float(1e-7)), "x eq 1e-07"},
		{Cmp("x", OpEq, Float(123456.75)), "x eq 123456.75"},
		{Cmp("x", OpIn, Float(math.NaN()), Float(math.Inf(1)), Float(math.Inf(-1))), "x in (nan, inf, -inf)"},
		{Cmp("x", OpNe, Bool(false)), "x ne false"},
		{Cmp("x", OpEq, Bytes([]byte{0xca, 0xfe})), "x eq x'cafe'"},
		{Cmp("x", OpNotIn, Int(1), String("a")), "x not-in (1, 'a')"},
		{Cmp("d", OpOnOrAfter, day(2026, 1, 1)), "d on-or-after 2026-01-01"},
		{Cmp("d", OpOnOrAfter, Time(time.Date(2026, 1, 1, 8, 0, 0, 5000, time.UTC))), "d on-or-after 2026-01-01T08:00:00.000005Z"},
		{Cmp("d", OpOnOrAfter, Int(math.MaxInt64)), "d on-or-after 9223372036854775807"},
		{Cmp("d", OpGe, day(2026, 1, 1)), "d ge 1767225600000000"},
		{Cmp("o", OpEqUserID), "o eq-userid"},
		{Cmp("my field", OpIsNull), `"my field" null`},
		{Cmp("Or", OpIsNull), `"Or" null`},
		{Cmp(`a"b`, OpIsNull), `"a""b" null`},
		{Link("", Cmp("a", OpIsNull)), `"" link (a null)`},
		{And(Cmp("a", OpIsNull), Or(Cmp("b", OpIsNull), Cmp("c", OpIsNull))), "a null and (b null or c null)"},
		{Or(Cmp("a", OpIsNull), And(Cmp("b", OpIsNull), Cmp("c", OpIsNull))), "a null or (b null and c null)"},
		{And(And(Cmp("a", OpIsNull), Cmp("b", OpIsNull)), Cmp("c", OpIsNull)), "(a null and b null) and c null"},
		{Not(And(Cmp("a", OpIsNull), Cmp("b", OpIsNull))), "not (a null and b null)"},
		{And(Not(Cmp("a", OpIsNull)), Cmp("b", OpIsNull)), "not a null and b null"},
		{Not(Not(Cmp("a", OpIsNull))), "not not a null"},
		{And(Cmp("a", OpIsNull)), "and(a null)"},
		{Or(Or(Cmp("a", OpIsNull), Cmp("b", OpIsNull))), "or(a null or b null)"},
		{Not(Or(Cmp("a", OpIsNull))), "not or(a null)"},
		{Link("p", Or(Cmp("a", OpIsNull), Cmp("b", OpIsNull))), "p link (a null or b null)"},
		// Invalid trees are written as well as can be, without panicking.
		{And(), "and()"},
		{&Filter{Op: OpNot}, "not()"},
		{And(nil, Cmp("a", OpIsNull)), "<nil> and a null"},
		{&Filter{Op: "weird", Field: "a", Values: []Value{Null(), Int(1)}}, "a weird null 1"},
		{&Filter{}, `"" <no-op>`},
		{&Filter{Op: OpEq, Field: "a", Children: []*Filter{Cmp("b", OpIsNull)}}, "a eq (b null)"},
	}
	for _, tt := range tests {
		if got := FormatFilter(tt.f); got != tt.want {
			t.Errorf("FormatFilter(%s) = %q, want %q", dump(tt.f), got, tt.want)
		}
		if tt.f != nil && tt.f.String() != tt.want {
			t.Errorf("String() = %q, want %q", tt.f.String(), tt.want)
		}
	}
	// A cycle, which only a bug builds, still ends.
	loop := And(Cmp("a", OpIsNull), nil)
	loop.Children[1] = loop
	if s := FormatFilter(loop); !strings.Contains(s, "(...)") {
		t.Fatalf("cyclic filter: %q", s)
	}
}

// genValue draws any non-null value.
func genValue(t *rapid.T, label string) Value {
	switch rapid.IntRange(0, 6).Draw(t, label+"-kind") {
	case 0:
		return String(rapid.SampledFrom([]string{"", "'", "''", "Oslo", "a b", "\n", "ü", "%_", `"`}).Draw(t, label+"-s"))
	case 1:
		return String(rapid.String().Draw(t, label+"-str"))
	case 2:
		return Int(rapid.Int64().Draw(t, label+"-int"))
	case 3:
		return Float(rapid.OneOf(rapid.Float64(), rapid.SampledFrom([]float64{
			0, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1), math.MaxFloat64,
			math.SmallestNonzeroFloat64, 1e15, 1e-4, 0.1, -1e21, 1,
		})).Draw(t, label+"-float"))
	case 4:
		return Bool(rapid.Bool().Draw(t, label+"-bool"))
	case 5:
		return Bytes(rapid.SliceOf(rapid.Byte()).Draw(t, label+"-bytes"))
	}
	return Time(time.Date(rapid.IntRange(1, 9999).Draw(t, label+"-year"), 1, 1, 0, 0, 0, 0, time.UTC).
		Add(time.Duration(rapid.Int64Range(0, 366*24*3600*1e6).Draw(t, label+"-us")) * time.Microsecond))
}

var fieldNames = rapid.OneOf(
	rapid.SampledFrom([]string{"a", "statecode", "_x", "and", "OR", "not", "eq", "null", "link", "true", "x", "a-b", "my field", `q"uote`, "é"}),
	rapid.StringMatching(`[A-Za-z_][A-Za-z0-9_]{0,8}`),
	rapid.String().Filter(func(s string) bool { return s != "" }),
)

// genFilter draws a valid tree at most maxDepth deep, with about budget
// nodes.
func genFilter(t *rapid.T, depth, maxDepth int, budget *int) *Filter {
	*budget--
	kind := 0 // a comparison
	if depth < maxDepth && *budget > 0 {
		kind = rapid.IntRange(0, 5).Draw(t, "node")
	}
	switch kind {
	case 1, 2:
		n := rapid.IntRange(1, 4).Draw(t, "children")
		children := make([]*Filter, n)
		for i := range children {
			children[i] = genFilter(t, depth+1, maxDepth, budget)
		}
		if kind == 1 {
			return And(children...)
		}
		return Or(children...)
	case 3:
		return Not(genFilter(t, depth+1, maxDepth, budget))
	case 4:
		return Link(rapid.OneOf(fieldNames, rapid.Just("")).Draw(t, "lookup"), genFilter(t, depth+1, maxDepth, budget))
	}
	field := fieldNames.Draw(t, "field")
	ops := []FilterOp{OpEq, OpNe, OpLt, OpLe, OpGt, OpGe, OpIn, OpNotIn, OpLike, OpBeginsWith, OpIsNull, OpNotNull,
		OpLastXDays, OpNextXDays, OpOnOrAfter, OpEqUserID, OpNeUserID, OpEqBusinessID, OpEqUserOrUserTeams}
	op := rapid.SampledFrom(ops).Draw(t, "op")
	switch want, _ := op.arity(); {
	case op == OpLike || op == OpBeginsWith:
		return Cmp(field, op, String(rapid.String().Draw(t, "pattern")))
	case op.IsRelativeDate():
		return Cmp(field, op, Int(rapid.Int64Range(0, MaxRelativeDays).Draw(t, "days")))
	case want == 0:
		return Cmp(field, op)
	case want == 1:
		return Cmp(field, op, genValue(t, "v"))
	}
	vals := make([]Value, rapid.IntRange(1, 5).Draw(t, "values"))
	for i := range vals {
		vals[i] = genValue(t, "v")
	}
	return Cmp(field, op, vals...)
}

func TestFilterTextRoundTripProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		budget := rapid.IntRange(1, 40).Draw(t, "budget")
		maxDepth := rapid.IntRange(0, MaxFilterDepth).Draw(t, "maxDepth")
		f := genFilter(t, 0, maxDepth, &budget)
		if err := f.Validate(nil); err != nil {
			t.Fatalf("generated an invalid filter: %v", err)
		}
		text := FormatFilter(f)
		back, err := ParseFilter(text)
		if err != nil {
			t.Fatalf("ParseFilter(%q): %v", text, err)
		}
		if !filterEqual(back, f) {
			t.Fatalf("round trip through %q\n got  %s\n want %s", text, dump(back), dump(f))
		}
		if again := FormatFilter(back); again != text {
			t.Fatalf("formatting is not canonical: %q then %q", text, again)
		}
	})
}

// coerceSchema has one of each field type, and a lookup to a parent.
func coerceSchema() *Schema {
	return &Schema{Entities: []Entity{
		{Name: "account", PrimaryKey: "accountid", Fields: []Field{
			{Name: "name", Type: TypeString},
			{Name: "city", Type: TypeString},
			{Name: "employees", Type: TypeInt},
			{Name: "revenue", Type: TypeDecimal},
			{Name: "score", Type: TypeFloat},
			{Name: "active", Type: TypeBool},
			{Name: "createdon", Type: TypeDateTime},
			{Name: "externalid", Type: TypeGUID},
			{Name: "ownerid", Type: TypeLookup, Target: "user"},
			{Name: "parentaccountid", Type: TypeLookup, Target: "account"},
			{Name: "statecode", Type: TypeChoice, Choices: []Choice{{0, "Active"}, {1, "Inactive"}}},
			{Name: "freechoice", Type: TypeChoice},
			{Name: "logo", Type: TypeBinary},
			{Name: "orphan", Type: TypeLookup, Target: "gone"},
		}},
		{Name: "user", PrimaryKey: "userid", Fields: []Field{
			{Name: "fullname", Type: TypeString},
		}},
		{Name: "contact", PrimaryKey: "contactid", Fields: []Field{
			{Name: "accountid", Type: TypeLookup, Target: "account"},
			{Name: "birthday", Type: TypeDateTime},
		}},
	}}
}

const guid = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"

func TestCoerce(t *testing.T) {
	s := coerceSchema()
	account := s.Entity("account")
	tests := []struct {
		name, text string
		entity     string
		want       *Filter
	}{
		{"string stays", "name eq 'Oslo'", "", Cmp("name", OpEq, String("Oslo"))},
		{"int from float", "employees gt 10.0", "", Cmp("employees", OpGt, Int(10))},
		{"int from text", "employees in ('1', 2)", "", Cmp("employees", OpIn, Int(1), Int(2))},
		{"decimal from int", "revenue ge 1000", "", Cmp("revenue", OpGe, String("1000"))},
		{"decimal from float", "revenue lt 12.5", "", Cmp("revenue", OpLt, String("12.5"))},
		{"decimal from text keeps scale", "revenue eq '+12.50'", "", Cmp("revenue", OpEq, String("12.50"))},
		{"float from int", "score eq 3", "", Cmp("score", OpEq, Float(3))},
		{"float from text", "score eq '2.5'", "", Cmp("score", OpEq, Float(2.5))},
		{"bool from text", "active eq 'True'", "", Cmp("active", OpEq, Bool(true))},
		{"datetime from date", "createdon ge 2026-01-01", "", Cmp("createdon", OpGe, day(2026, 1, 1))},
		{"datetime from text", "createdon lt '2026-01-01T01:00:00+01:00'", "", Cmp("createdon", OpLt, day(2026, 1, 1))},
		{"on-or-after from text", "createdon on-or-after '2026-01-01'", "", Cmp("createdon", OpOnOrAfter, day(2026, 1, 1))},
		{"guid lower-cased", "externalid eq '{" + strings.ToUpper(guid) + "}'", "", Cmp("externalid", OpEq, String(guid))},
		{"lookup", "ownerid in ('" + guid + "')", "", Cmp("ownerid", OpIn, String(guid))},
		{"primary key", "accountid eq '" + strings.ToUpper(guid) + "'", "", Cmp("accountid", OpEq, String(guid))},
		{"choice by number", "statecode eq 1", "", Cmp("statecode", OpEq, Int(1))},
		{"choice by label", "statecode ne 'inactive'", "", Cmp("statecode", OpNe, Int(1))},
		{"choice without a list", "freechoice eq 7", "", Cmp("freechoice", OpEq, Int(7))},
		{"binary", "logo eq x'00'", "", Cmp("logo", OpEq, Bytes([]byte{0}))},
		{"relative days from float", "createdon last-x-days 30", "", Cmp("createdon", OpLastXDays, Int(30))},
		{"user op", "ownerid eq-userid", "", Cmp("ownerid", OpEqUserID)},
		{"patterns stay text", "name like '1%'", "", Cmp("name", OpLike, String("1%"))},
		{"groups", "not (employees eq 1.0 or active eq 'false')", "",
			Not(Or(Cmp("employees", OpEq, Int(1)), Cmp("active", OpEq, Bool(false))))},
		{"link uses the parent entity", "parentaccountid link (employees eq '5' and ownerid link (fullname eq 'Al'))", "",
			Link("parentaccountid", And(Cmp("employees", OpEq, Int(5)), Link("ownerid", Cmp("fullname", OpEq, String("Al")))))},
		{"from a child entity", "accountid link (statecode eq 'Active') and birthday on-or-after 2000-01-01", "contact",
			And(Link("accountid", Cmp("statecode", OpEq, Int(0))), Cmp("birthday", OpOnOrAfter, day(2000, 1, 1)))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFilter(tt.text)
			if err != nil {
				t.Fatal(err)
			}
			before := FormatFilter(f)
			e := account
			if tt.entity != "" {
				e = s.Entity(tt.entity)
			}
			got, err := f.Coerce(s, e)
			if err != nil {
				t.Fatalf("Coerce(%q): %v", tt.text, err)
			}
			if !filterEqual(got, tt.want) {
				t.Fatalf("Coerce(%q)\n got  %s\n want %s", tt.text, dump(got), dump(tt.want))
			}
			if FormatFilter(f) != before {
				t.Fatalf("Coerce changed its receiver: %q became %q", before, FormatFilter(f))
			}
			if err := got.Check(s, e); err != nil {
				t.Fatal(err)
			}
			again, err := got.Coerce(s, e)
			if err != nil || !filterEqual(again, got) {
				t.Fatalf("Coerce is not idempotent: %s, %v", dump(again), err)
			}
		})
	}
	var nilFilter *Filter
	if got, err := nilFilter.Coerce(s, account); got != nil || err != nil {
		t.Fatalf("nil.Coerce = %v, %v", got, err)
	}
}

func TestCoerceErrors(t *testing.T) {
	s := coerceSchema()
	account := s.Entity("account")
	tests := []struct{ text, want string }{
		{"name eq 150", "filter: account.name eq 150: account.name is a string field; write the value as text in quotes"},
		{"employees eq 1.5", "filter: account.employees eq 1.5: account.employees is an int field, so the value must be a whole number"},
		{"employees eq 'many'", "account.employees is an int field, so the value must be a whole number"},
		{"employees eq true", "must be a whole number, not a bool"},
		{"revenue eq 'ten'", "filter: account.revenue eq 'ten': account.revenue is a decimal field and the text is not a decimal number (like 12.50)"},
		{"revenue eq nan", "account.revenue is a decimal field; NaN is not a decimal number"},
		{"score eq 'x'", "account.score is a float field and the text is not a number"},
		{"active eq 1", "filter: account.active eq 1: account.active is a bool field; write true or false"},
		{"createdon ge 'yesterday'", "account.createdon is a datetime field; write a date like 2026-01-31"},
		{"createdon ge 1.5", "account.createdon is a datetime field"},
		{"externalid eq 'abc'", "filter: account.externalid eq 'abc': account.externalid is a guid field and the text is not a GUID (like 3f2504e0-4f89-11d3-9a0c-0305e82c3301)"},
		{"ownerid eq 5", "account.ownerid is a lookup field; write the id as text in quotes"},
		{"accountid eq 'x'", "account.accountid is a guid field and the text is not a GUID"},
		{"statecode eq 'Open'", "filter: account.statecode eq 'Open': account.statecode has no choice labelled so (choices: 0 Active, 1 Inactive)"},
		{"statecode eq 5", "filter: account.statecode eq 5: account.statecode has no choice 5 (choices: 0 Active, 1 Inactive)"},
		{"logo eq 'x'", "account.logo is a binary field; write the bytes as x'hex'"},
		{"parentaccountid link (name eq 1)", "filter: account.name eq 1: account.name is a string field"},
		{"nosuch eq 1", `filter: entity "account" has no field "nosuch"`},
		{"name link (a null)", "filter: link needs a lookup field; account.name is string"},
		{"orphan link (a null)", `filter: account.orphan links to "gone", which the schema lacks`},
		{"name on-or-after 2026-01-01", "filter: name on-or-after needs a date-time field; name is string"},
		{"ownerid link (nosuch null)", `filter: entity "user" has no field "nosuch"`},
	}
	for _, tt := range tests {
		f, err := ParseFilter(tt.text)
		if err != nil {
			t.Fatalf("ParseFilter(%q): %v", tt.text, err)
		}
		got, err := f.Coerce(s, account)
		if err == nil {
			t.Errorf("Coerce(%q) = %s, want an error", tt.text, dump(got))
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Coerce(%q):\n got  %v\n want %s", tt.text, err, tt.want)
		}
	}
	// Trees too deep or of the wrong shape are refused, not walked forever.
	deep := Cmp("name", OpIsNull)
	for range MaxFilterDepth + 1 {
		deep = Not(deep)
	}
	if _, err := deep.Coerce(s, account); err == nil || !strings.Contains(err.Error(), "deeper than 32") {
		t.Fatalf("deep: %v", err)
	}
	if _, err := And(nil).Coerce(s, account); err == nil {
		t.Fatal("a nil child was accepted")
	}
	// Without an entity nothing can be converted: the shape is checked.
	f, _ := ParseFilter("a eq 1")
	if got, err := f.Coerce(nil, nil); err != nil || !filterEqual(got, f) || got == f {
		t.Fatalf("Coerce(nil, nil) = %s, %v", dump(got), err)
	}
}

// FuzzParseFilter: ParseFilter never panics; what it accepts is valid,
// formats canonically and reads back to the same tree; Coerce against a
// schema never panics and returns only filters that pass Check.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"statecode eq 0 and ownerid eq-userid",
		"(city eq 'Oslo' or city begins-with 'Ber') and not active eq false",
		"industrycode in (1, 2, 3) and createdon last-x-days 30",
		"parentaccountid link (city eq 'Oslo' and active eq true)",
		"closedate on-or-after 2026-01-01",
		"createdon ge 2026-01-01T08:00:00Z",
		`"my field" not-in (x'00', -inf, nan, 1e-7, 'it''s') or and(a null) or or(b null, c null)`,
		"revenue eq 12.50 and statecode eq 'Active' and externalid eq '{3F2504E0-4F89-11D3-9A0C-0305E82C3301}'",
		"not not (a null", "a eq 'x", "a in (", "\xff", "a eq 2026-02-30",
	} {
		f.Add(s)
	}
	s := coerceSchema()
	account := s.Entity("account")
	f.Fuzz(func(t *testing.T, text string) {
		got, err := ParseFilter(text)
		if err != nil {
			if got != nil {
				t.Fatal("ParseFilter returned a filter with its error")
			}
			if !strings.HasPrefix(err.Error(), "filter: ") {
				t.Fatalf("error %q does not say it is about the filter", err)
			}
			return
		}
		if err := got.Validate(nil); err != nil {
			t.Fatalf("ParseFilter(%q) is invalid: %v", text, err)
		}
		canon := FormatFilter(got)
		if len(canon) <= MaxFilterText {
			back, err := ParseFilter(canon)
			if err != nil {
				t.Fatalf("ParseFilter(%q) then FormatFilter = %q, which does not parse: %v", text, canon, err)
			}
			if !filterEqual(back, got) {
				t.Fatalf("%q -> %q -> %s, want %s", text, canon, dump(back), dump(got))
			}
			if again := FormatFilter(back); again != canon {
				t.Fatalf("not canonical: %q then %q", canon, again)
			}
		}
		c, err := got.Coerce(s, account)
		if err != nil {
			return
		}
		if err := c.Check(s, account); err != nil {
			t.Fatalf("Coerce(%q) returned a filter that fails Check: %v", text, err)
		}
		if again, err := c.Coerce(s, account); err != nil || !filterEqual(again, c) {
			t.Fatalf("Coerce(%q) is not idempotent: %v", text, err)
		}
	})
}
