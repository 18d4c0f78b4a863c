package soql

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/filterfuzz"
)

// lex splits a WHERE condition into its string literals (decoded) and the
// rest, in which a literal stands as S. In a literal a backslash must start
// one of SOQL's escapes.
func lex(s string) (lits []string, skeleton string, err error) {
	var sk strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\'' {
			sk.WriteByte(s[i])
			continue
		}
		var lit strings.Builder
		j := i + 1
		for ; ; j++ {
			if j >= len(s) {
				return nil, "", fmt.Errorf("unterminated literal at %d", i)
			}
			c := s[j]
			if c == '\'' {
				break
			}
			if c != '\\' {
				lit.WriteByte(c)
				continue
			}
			j++
			if j >= len(s) {
				return nil, "", fmt.Errorf("backslash at the end")
			}
			switch s[j] {
			case 'n', 'N':
				lit.WriteByte('\n')
			case 'r', 'R':
				lit.WriteByte('\r')
			case 't', 'T':
				lit.WriteByte('\t')
			case 'f', 'F':
				lit.WriteByte('\f')
			case '"', '\'', '\\', '%', '_':
				lit.WriteByte(s[j])
			default:
				return nil, "", fmt.Errorf("unknown escape \\%c at %d", s[j], j)
			}
		}
		lits = append(lits, lit.String())
		sk.WriteByte('S')
		i = j
	}
	return lits, sk.String(), nil
}

// skeletonOK reports whether the text outside literals holds only what the
// translator writes itself: names, numbers, dates, operators, parentheses.
func skeletonOK(sk string) bool {
	parens := 0
	for i := 0; i < len(sk); i++ {
		c := sk[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("_ .,=!<>:-", c) >= 0:
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
	typ := sdk.TypeGUID
	if fd := e.Field(f.Field); fd != nil {
		typ = fd.Type
	}
	for _, v := range f.Values {
		if v.Kind() != sdk.KindString {
			continue
		}
		may[v.Str()] = true
		may[v.Str()+"%"] = true // begins-with, \% and \_ read back as % and _
		switch f.Op {
		case sdk.OpEq, sdk.OpNe, sdk.OpLt, sdk.OpLe, sdk.OpGt, sdk.OpGe, sdk.OpIn, sdk.OpNotIn:
			if typ == sdk.TypeString {
				*must = append(*must, v.Str())
			}
		}
	}
}

func FuzzSOQL(f *testing.F) {
	for _, b := range filterfuzz.Seeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := filterfuzz.New(data)
		e := r.Entity(testSchema)
		flt := r.Filter(testSchema, e, filterfuzz.Options{IDs: filterfuzz.IDs{A: id1, B: id2, Stem: id1[:17]}})
		uc := testUC
		if r.Byte()%8 == 7 {
			uc.UserID = r.Text(nil)
		}
		out, err := Where(flt, testSchema, e, uc)
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
		may := map[string]bool{uc.UserID: true}
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
