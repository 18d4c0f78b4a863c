package odata

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/filterfuzz"
)

// lex splits a $filter expression into its string literals ('…' with ”
// for a quote, and "…" JSON strings inside [ ]) and the rest, in which a
// literal stands as S.
func lex(s string) (lits []string, skeleton string, err error) {
	var sk strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			var lit strings.Builder
			j := i + 1
			for ; ; j++ {
				if j >= len(s) {
					return nil, "", fmt.Errorf("unterminated literal at %d", i)
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						lit.WriteByte('\'')
						j++
						continue
					}
					break
				}
				lit.WriteByte(s[j])
			}
			lits = append(lits, lit.String())
			sk.WriteByte('S')
			i = j
		case c == '"' && depth > 0:
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' {
					j++
				}
			}
			if j >= len(s) {
				return nil, "", fmt.Errorf("unterminated JSON string at %d", i)
			}
			var lit string
			if err := json.Unmarshal([]byte(s[i:j+1]), &lit); err != nil {
				return nil, "", fmt.Errorf("JSON string at %d: %v", i, err)
			}
			lits = append(lits, lit)
			sk.WriteByte('S')
			i = j
		default:
			switch c {
			case '[':
				depth++
			case ']':
				depth--
			}
			sk.WriteByte(c)
		}
	}
	return lits, sk.String(), nil
}

// skeletonOK reports whether the text outside literals holds only what the
// translator writes itself: names, numbers, dates, operators, brackets.
func skeletonOK(sk string) bool {
	parens := 0
	for i := 0; i < len(sk); i++ {
		c := sk[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("_ /,=.:-[]", c) >= 0:
		case c == '(':
			parens++
		case c == ')':
			parens--
			if parens < 0 {
				return false
			}
		default:
			return false
		}
	}
	return parens == 0
}

// expected walks a filter for the texts that must come out unchanged as
// literals, and every literal the translator may write.
func expected(f *sdk.Filter, e *sdk.Entity, must *[]string, may map[string]bool) {
	switch f.Op {
	case sdk.OpAnd, sdk.OpOr, sdk.OpNot:
		for _, c := range f.Children {
			expected(c, e, must, may)
		}
		return
	case sdk.OpLink:
		expected(f.Children[0], testSchema.Entity(e.Field(f.Field).Target), must, may)
		return
	}
	may[f.Field] = true
	typ := sdk.TypeGUID
	if fd := e.Field(f.Field); fd != nil {
		typ = fd.Type
	}
	for _, v := range f.Values {
		if s, err := text(typ, v); err == nil {
			may[s] = true
			switch f.Op {
			case sdk.OpEq, sdk.OpNe, sdk.OpLt, sdk.OpLe, sdk.OpGt, sdk.OpGe, sdk.OpIn, sdk.OpNotIn:
				if typ == sdk.TypeString {
					*must = append(*must, s)
				}
			}
		}
		if v.Kind() == sdk.KindString {
			p := v.Str()
			may[literalPattern(p)] = true
			may[literalPattern(strings.Trim(p, "%"))] = true
		}
	}
}

func FuzzODataFilter(f *testing.F) {
	for _, b := range filterfuzz.Seeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := filterfuzz.New(data)
		e := r.Entity(testSchema)
		flt := r.Filter(testSchema, e, filterfuzz.Options{})
		out, err := Filter(flt, testSchema, e, testNav)
		if err != nil {
			if sdk.KindOf(err) != sdk.Permanent || err.Error() == "" {
				t.Fatalf("error %v of kind %s", err, sdk.KindOf(err))
			}
			return
		}
		if out == "" {
			t.Fatal("no error and no output")
		}
		if err := flt.Check(testSchema, e); err != nil {
			t.Fatalf("translated a filter the sdk refuses (%v):\n%s", err, out)
		}
		lits, sk, err := lex(out)
		if err != nil {
			t.Fatalf("%v in\n%s", err, out)
		}
		if !skeletonOK(sk) {
			t.Fatalf("unexpected text outside literals:\n%s\nskeleton %s", out, sk)
		}
		var must []string
		may := map[string]bool{}
		expected(flt, e, &must, may)
		for _, l := range lits {
			if !may[l] {
				t.Fatalf("literal %q comes from nowhere in\n%s", l, out)
			}
		}
		got := slices.Clone(lits)
		for _, s := range must {
			i := slices.Index(got, s)
			if i < 0 {
				t.Fatalf("value %q does not round-trip; literals %q in\n%s", s, lits, out)
			}
			got = slices.Delete(got, i, i+1)
		}
	})
}
