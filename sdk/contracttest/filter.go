package contracttest

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

// testFilters: a connector with the Filter capability evaluates every
// operator on its server and returns exactly the rows that match; one
// without it refuses a filter (Permanent or Unsupported) rather than return
// more rows than asked for.
//
// The suite writes six rows whose first writable string field and first
// writable int field hold known values (null where the field allows it) and
// runs each operator, alone and combined, with a page size of 2 so cursors
// carry the filter. Among the suite's rows, a fetch must return those the
// filter matches and no others.
//
// Backends disagree on null: SQL is three-valued (null <> 'x' is unknown,
// so excluded), OData and SOQL compare null as a value (null ne 'x' is
// true). sdk.Filter does not pick one, so neither does the suite: a row
// whose outcome differs between the two readings may be returned or not.
func testFilters(t *testing.T, f *fixture) {
	if !f.ent.Capabilities.Filter {
		req := sdk.FetchRequest{Entity: f.ent.Name, Filter: sdk.Cmp(f.ent.PrimaryKey, sdk.OpEq, sdk.String("contracttest"))}
		_, err := f.fetch(t, f.a, req)
		switch kind := sdk.KindOf(err); {
		case err == nil:
			t.Errorf("entity %q lacks the Filter capability, yet %s succeeded: a connector that cannot evaluate a filter must refuse it, never widen it", f.ent.Name, describe(req))
		case kind != sdk.Permanent && kind != sdk.Unsupported:
			t.Errorf("%s on an entity without Filter: error of kind %s (%v), want permanent or unsupported", describe(req), kind, err)
		}
		return
	}

	sf, nf := f.stringField(), f.intField()
	m := "ct" + f.marker
	str := func(s string) sdk.Value { return sdk.String(m + "-" + s) }
	type seed struct {
		s, n sdk.Value
	}
	seeds := []seed{
		{str("apple"), sdk.Int(10)},
		{str("apricot"), sdk.Int(20)},
		{str("banana"), sdk.Int(30)},
		{str("cherry"), sdk.Int(40)},
		{sdk.Null(), sdk.Int(50)},
		{str("elder"), sdk.Null()},
	}
	idx := make([]int, len(seeds))
	vals := make([]map[string]sdk.Value, len(seeds))
	for k, sd := range seeds {
		idx[k] = f.index()
		vals[k] = f.values(t, idx[k])
		if sf != nil {
			if sd.s.IsNull() && sf.Required {
				sd.s = str("date")
			}
			vals[k][sf.Name] = sd.s
		}
		if nf != nil {
			if sd.n.IsNull() && nf.Required {
				sd.n = sdk.Int(60)
			}
			vals[k][nf.Name] = sd.n
		}
	}
	rows := f.createValues(t, f.a, idx, vals)

	type tc struct {
		name   string
		filter *sdk.Filter
	}
	pk := f.ent.PrimaryKey
	cases := []tc{
		{"key-eq", sdk.Cmp(pk, sdk.OpEq, sdk.String(rows[2].id))},
		{"key-in", sdk.Cmp(pk, sdk.OpIn, sdk.String(rows[0].id), sdk.String(rows[3].id))},
	}
	if sf != nil {
		s := sf.Name
		cases = append(cases,
			tc{"string-eq", sdk.Cmp(s, sdk.OpEq, str("apple"))},
			tc{"string-ne", sdk.Cmp(s, sdk.OpNe, str("apple"))},
			tc{"string-in", sdk.Cmp(s, sdk.OpIn, str("apple"), str("cherry"))},
			tc{"string-not-in", sdk.Cmp(s, sdk.OpNotIn, str("apple"), str("cherry"))},
			tc{"string-lt", sdk.Cmp(s, sdk.OpLt, str("b"))},
			tc{"string-ge", sdk.Cmp(s, sdk.OpGe, str("cherry"))},
			tc{"begins-with", sdk.Cmp(s, sdk.OpBeginsWith, str("ap"))},
			tc{"like", sdk.Cmp(s, sdk.OpLike, sdk.String("%"+m+"-b_n%"))},
			tc{"string-null", sdk.Cmp(s, sdk.OpIsNull)},
			tc{"string-not-null", sdk.Cmp(s, sdk.OpNotNull)},
			tc{"not", sdk.Not(sdk.Cmp(s, sdk.OpBeginsWith, str("ap")))},
		)
	}
	if nf != nil {
		n := nf.Name
		cases = append(cases,
			tc{"int-eq", sdk.Cmp(n, sdk.OpEq, sdk.Int(30))},
			tc{"int-ne", sdk.Cmp(n, sdk.OpNe, sdk.Int(30))},
			tc{"int-gt", sdk.Cmp(n, sdk.OpGt, sdk.Int(30))},
			tc{"int-ge", sdk.Cmp(n, sdk.OpGe, sdk.Int(30))},
			tc{"int-lt", sdk.Cmp(n, sdk.OpLt, sdk.Int(30))},
			tc{"int-le", sdk.Cmp(n, sdk.OpLe, sdk.Int(30))},
			tc{"int-in", sdk.Cmp(n, sdk.OpIn, sdk.Int(10), sdk.Int(40))},
			tc{"int-not-in", sdk.Cmp(n, sdk.OpNotIn, sdk.Int(10), sdk.Int(40))},
			tc{"int-null", sdk.Cmp(n, sdk.OpIsNull)},
			tc{"int-not-null", sdk.Cmp(n, sdk.OpNotNull)},
		)
	}
	if sf != nil && nf != nil {
		s, n := sf.Name, nf.Name
		cases = append(cases,
			tc{"and", sdk.And(sdk.Cmp(s, sdk.OpBeginsWith, str("ap")), sdk.Cmp(n, sdk.OpGt, sdk.Int(10)))},
			tc{"or", sdk.Or(sdk.Cmp(s, sdk.OpEq, str("apple")), sdk.Cmp(n, sdk.OpEq, sdk.Int(40)))},
			tc{"nested", sdk.Or(
				sdk.And(sdk.Not(sdk.Cmp(s, sdk.OpEq, str("apple"))), sdk.Cmp(n, sdk.OpLe, sdk.Int(20))),
				sdk.And(sdk.Cmp(s, sdk.OpIsNull), sdk.Not(sdk.Cmp(n, sdk.OpIsNull))),
			)},
		)
	}
	if sf == nil {
		t.Logf("entity %q has no writable string field with room for the suite's values: string operators are not tested", f.ent.Name)
	}
	if nf == nil {
		t.Logf("entity %q has no writable int field: int operators are not tested", f.ent.Name)
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := sdk.FetchRequest{Entity: f.ent.Name, Filter: c.filter, PageSize: 2}
			got := f.mustFetch(t, f.a, req)
			for k, r := range rows {
				rv := map[string]sdk.Value{pk: sdk.String(r.id)}
				for name, v := range r.values {
					rv[name] = v
				}
				sqlMatch := match(c.filter, rv, true) == yes
				valueMatch := match(c.filter, rv, false) == yes
				_, returned := got.rows[r.id]
				switch {
				case returned && !sqlMatch && !valueMatch:
					t.Errorf("%s returned row %d (%s), which does not match", describe(req), k, describeSeed(sf, nf, r))
				case !returned && sqlMatch && valueMatch:
					t.Errorf("%s did not return row %d (%s), which matches", describe(req), k, describeSeed(sf, nf, r))
				}
			}
			var ours []row
			for _, r := range rows {
				if _, ok := got.rows[r.id]; ok {
					ours = append(ours, r)
				}
			}
			f.expectRows(t, describe(req), got, ours)
		})
	}

	// A membership read (IDsOnly) returns the same rows as the fetch it
	// mirrors, with no values: the engine removes what it does not list.
	t.Run("ids-only", func(t *testing.T) {
		filter := cases[1].filter
		want := f.mustFetch(t, f.a, sdk.FetchRequest{Entity: f.ent.Name, Filter: filter, PageSize: 2})
		req := sdk.FetchRequest{Entity: f.ent.Name, Filter: filter, PageSize: 2, IDsOnly: true}
		got := f.mustFetch(t, f.a, req)
		if len(got.rows) != len(want.rows) {
			t.Errorf("%s returned %d rows, the same fetch with values %d", describe(req), len(got.rows), len(want.rows))
		}
		for id := range want.rows {
			if _, ok := got.rows[id]; !ok {
				t.Errorf("%s lacks row %q", describe(req), id)
			}
		}
		for _, p := range got.pages {
			if len(p.Fields) != 0 || len(p.Columns) != 0 {
				t.Fatalf("%s: a page carries fields %v; an ids-only page has none", describe(req), p.Fields)
			}
		}
	})
}

// stringField is the first writable text field with room for the suite's
// values, or nil.
func (f *fixture) stringField() *sdk.Field {
	for i, fd := range f.ent.Fields {
		if fd.Type == sdk.TypeString && !fd.ReadOnly && (fd.MaxLength == 0 || fd.MaxLength >= 32) {
			return &f.ent.Fields[i]
		}
	}
	return nil
}

// intField is the first writable integer field, or nil.
func (f *fixture) intField() *sdk.Field {
	for i, fd := range f.ent.Fields {
		if fd.Type == sdk.TypeInt && !fd.ReadOnly {
			return &f.ent.Fields[i]
		}
	}
	return nil
}

func describeSeed(sf, nf *sdk.Field, r row) string {
	var parts []string
	for _, fd := range []*sdk.Field{sf, nf} {
		if fd != nil {
			parts = append(parts, fmt.Sprintf("%s=%v", fd.Name, r.values[fd.Name]))
		}
	}
	return fmt.Sprintf("id %q, %s", r.id, strings.Join(parts, ", "))
}

// truth is a filter outcome; unknown arises only in SQL's reading.
type truth uint8

const (
	no truth = iota
	yes
	unknown
)

// match is the suite's reference evaluator. With sql set it reads null as
// SQL does (any comparison with null is unknown, and unknown rows are not
// returned); without, as OData and SOQL do (null equals nothing, so ne and
// not-in hold for it, and not is plain negation).
func match(f *sdk.Filter, row map[string]sdk.Value, sql bool) truth {
	switch f.Op {
	case sdk.OpAnd, sdk.OpOr:
		out := yes
		if f.Op == sdk.OpOr {
			out = no
		}
		for _, c := range f.Children {
			switch r := match(c, row, sql); {
			case f.Op == sdk.OpAnd && r == no, f.Op == sdk.OpOr && r == yes:
				return r
			case r == unknown:
				out = unknown
			}
		}
		return out
	case sdk.OpNot:
		switch match(f.Children[0], row, sql) {
		case yes:
			return no
		case no:
			return yes
		}
		return unknown
	}
	v := row[f.Field]
	switch f.Op {
	case sdk.OpIsNull:
		return of(v.IsNull())
	case sdk.OpNotNull:
		return of(!v.IsNull())
	}
	if v.IsNull() {
		if sql {
			return unknown
		}
		return of(f.Op == sdk.OpNe || f.Op == sdk.OpNotIn)
	}
	cmp := func(w sdk.Value) int {
		if v.Kind() == sdk.KindInt {
			return compare(v.Int(), w.Int())
		}
		return strings.Compare(v.Str(), w.Str())
	}
	switch f.Op {
	case sdk.OpEq:
		return of(cmp(f.Values[0]) == 0)
	case sdk.OpNe:
		return of(cmp(f.Values[0]) != 0)
	case sdk.OpLt:
		return of(cmp(f.Values[0]) < 0)
	case sdk.OpLe:
		return of(cmp(f.Values[0]) <= 0)
	case sdk.OpGt:
		return of(cmp(f.Values[0]) > 0)
	case sdk.OpGe:
		return of(cmp(f.Values[0]) >= 0)
	case sdk.OpIn, sdk.OpNotIn:
		in := slices.ContainsFunc(f.Values, func(w sdk.Value) bool { return cmp(w) == 0 })
		return of(in == (f.Op == sdk.OpIn))
	case sdk.OpBeginsWith:
		return of(strings.HasPrefix(v.Str(), f.Values[0].Str()))
	case sdk.OpLike:
		return of(likeRegexp(f.Values[0].Str()).MatchString(v.Str()))
	}
	return no
}

func of(b bool) truth {
	if b {
		return yes
	}
	return no
}

func compare(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// likeRegexp translates a SQL LIKE pattern: % any run, _ one character.
func likeRegexp(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("(?s)^")
	for _, r := range pattern {
		switch r {
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}
