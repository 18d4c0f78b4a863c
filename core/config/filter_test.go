package config

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/fieldsync/fieldsync/sdk"
)

// filterTestFile is a tiny file of filters: blocks, and a where attribute
// in the text form.
type filterTestFile struct {
	Filters []*filterTestBlock `hcl:"filter,block"`
	Where   *hcl.Attribute     `hcl:"where,optional"`
}

type filterTestBlock struct {
	Body hcl.Body `hcl:",remain"`
}

// decodeFilterSrc parses src as decode does (limits, then syntax) and
// decodes its one filter block or its where attribute.
func decodeFilterSrc(t testing.TB, src string) (*sdk.Filter, hcl.Diagnostics) {
	t.Helper()
	if diags := checkLimits([]byte(src), "f.hcl"); diags.HasErrors() {
		return nil, diags
	}
	file, diags := hclsyntax.ParseConfig([]byte(src), "f.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	var body filterTestFile
	if d := gohcl.DecodeBody(file.Body, nil, &body); d.HasErrors() {
		return nil, d
	}
	switch {
	case len(body.Filters) == 1 && body.Where == nil:
		return decodeFilter(body.Filters[0].Body)
	case len(body.Filters) == 0 && body.Where != nil:
		return parseFilterText(body.Where)
	}
	t.Fatalf("want one filter block or a where attribute in %q", src)
	return nil, nil
}

func TestDecodeFilter(t *testing.T) {
	tests := []struct {
		name, src string
		want      string // the filter as text (sdk.FormatFilter)
	}{
		{"a nested filter block", `filter {
  condition {
    field = "statecode"
    op    = "eq"
    value = 0
  }
  or {
    condition {
      field = "city"
      op    = "eq"
      value = "Oslo"
    }
    condition {
      field = "city"
      op    = "begins-with"
      value = "Ber"
    }
  }
  not {
    condition {
      field = "active"
      op    = "eq"
      value = false
    }
  }
  link "parentaccountid" {
    condition {
      field = "active"
      op    = "eq"
      value = true
    }
  }
}`, "statecode eq 0 and (city eq 'Oslo' or city begins-with 'Ber') and not active eq false and parentaccountid link (active eq true)"},
		{"one condition is itself", `filter {
  condition {
    field = "ownerid"
    op    = "EQ-UserId"
  }
}`, "ownerid eq-userid"},
		{"in and not-in", `filter {
  condition {
    field  = "industrycode"
    op     = "in"
    values = [1, 2.5, "x", true, -3]
  }
  condition {
    field  = "x"
    op     = "not-in"
    values = ["a"]
  }
}`, "industrycode in (1, 2.5, 'x', true, -3) and x not-in ('a')"},
		{"numbers", `filter {
  condition {
    field = "a"
    op    = "gt"
    value = 1e30
  }
  condition {
    field = "b"
    op    = "lt"
    value = 2.0
  }
  condition {
    field = "c"
    op    = "ge"
    value = 9223372036854775808
  }
}`, "a gt 1e+30 and b lt 2 and c ge 9.223372036854776e+18"},
		{"explicit groups of one stay groups", `filter {
  and {
    condition {
      field = "a"
      op    = "null"
    }
  }
}`, "and(a null)"},
		{"not and link bodies are ands", `filter {
  not {
    condition {
      field = "a"
      op    = "null"
    }
    condition {
      field = "b"
      op    = "not-null"
    }
  }
  link "parentid" {
    condition {
      field = "createdon"
      op    = "last-x-days"
      value = 30
    }
    or {
      condition {
        field = "d"
        op    = "on-or-after"
        value = "2026-01-01"
      }
      condition {
        field = "name"
        op    = "like"
        value = "%son"
      }
    }
  }
}`, "not (a null and b not-null) and parentid link (createdon last-x-days 30 and (d on-or-after '2026-01-01' or name like '%son'))"},
		{"nested and inside and keeps its nesting", `filter {
  and {
    condition {
      field = "a"
      op    = "null"
    }
    condition {
      field = "b"
      op    = "null"
    }
  }
  condition {
    field = "c"
    op    = "null"
  }
}`, "(a null and b null) and c null"},
		{"heredoc value", "filter {\n  condition {\n    field = \"note\"\n    op = \"eq\"\n    value = <<EOT\nhi\nEOT\n  }\n}", "note eq 'hi\n'"},
		{"text form", `where = "statecode eq 0 and ownerid eq-userid"`, "statecode eq 0 and ownerid eq-userid"},
		{"text form in a heredoc", "where = <<EOT\n(city eq 'Oslo' or\n city begins-with 'Ber')\nEOT\n", "city eq 'Oslo' or city begins-with 'Ber'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, diags := decodeFilterSrc(t, tt.src)
			if diags.HasErrors() {
				t.Fatalf("diagnostics: %v", diags)
			}
			if got := sdk.FormatFilter(f); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			if err := f.Validate(nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestDecodeFilterValueKinds: values stay as written, for Coerce.
func TestDecodeFilterValueKinds(t *testing.T) {
	f, diags := decodeFilterSrc(t, `filter {
  condition {
    field  = "a"
    op     = "in"
    values = [7, 7.5, "7", true]
  }
}`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := []sdk.Value{sdk.Int(7), sdk.Float(7.5), sdk.String("7"), sdk.Bool(true)}
	for i, v := range f.Values {
		if !v.Equal(want[i]) {
			t.Errorf("value %d: %s %v, want %s %v", i, v.Kind(), v, want[i].Kind(), want[i])
		}
	}
	// And Coerce turns them into the field's type.
	schema := &sdk.Schema{Entities: []sdk.Entity{{Name: "e", PrimaryKey: "id", Fields: []sdk.Field{{Name: "a", Type: sdk.TypeFloat}}}}}
	f.Values = f.Values[:3]
	c, err := f.Coerce(schema, &schema.Entities[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := sdk.FormatFilter(c); got != "a in (7.0, 7.5, 7.0)" {
		t.Fatalf("coerced: %s", got)
	}
}

// cond writes a condition block with the given attribute lines.
func cond(lines ...string) string {
	return "  condition {\n    " + strings.Join(lines, "\n    ") + "\n  }\n"
}

func TestDecodeFilterErrors(t *testing.T) {
	type problem struct {
		line, col int
		text      string
	}
	tests := []struct {
		name string
		src  string
		want []problem
	}{
		{"empty filter", "filter {\n}\n", []problem{{1, 8, "the block is empty; add a condition block (field, op and value), or an and, or, not or link block"}}},
		{"empty or", "filter {\n  or {}\n}\n", []problem{{2, 3, "the or block is empty"}}},
		{"empty not", "filter {\n  not {\n  }\n}\n", []problem{{2, 3, "the not block is empty"}}},
		{"empty link", "filter {\n  link \"p\" {}\n}\n", []problem{{2, 3, "the link block is empty"}}},
		{"missing field", "filter {\n" + cond(`op = "null"`) + "}\n", []problem{{2, 3, `condition: "field" is required`}}},
		{"missing op", "filter {\n" + cond(`field = "a"`) + "}\n", []problem{{2, 3, `condition: "op" is required`}}},
		{"unknown op", "filter {\n" + cond(`field = "a"`, `op = "equals"`, `value = 1`) + "}\n",
			[]problem{{4, 5, `condition: unknown operator "equals"; valid: eq, ne, lt, le, gt, ge, in, not-in, like, begins-with, null, not-null, last-x-days, next-x-days, on-or-after, eq-userid, ne-userid, eq-businessid, eq-useroruserteams`}}},
		{"group op", "filter {\n" + cond(`field = "a"`, `op = "or"`) + "}\n",
			[]problem{{4, 5, `condition: "or" is not an operator of a condition; write an or block around the conditions instead`}}},
		{"eq without value", "filter {\n" + cond(`field = "a"`, `op = "eq"`) + "}\n",
			[]problem{{2, 3, `condition: eq needs a value; e.g. value = 0, value = "Oslo" or value = true`}}},
		{"eq with values", "filter {\n" + cond(`field = "a"`, `op = "eq"`, `values = [1]`) + "}\n",
			[]problem{{5, 5, "condition: eq takes one value: value, not values"}}},
		{"in with value", "filter {\n" + cond(`field = "a"`, `op = "in"`, `value = 1`) + "}\n",
			[]problem{{5, 5, "condition: in takes a list: values, not value; e.g. values = [1, 2, 3]"}}},
		{"in without values", "filter {\n" + cond(`field = "a"`, `op = "not-in"`) + "}\n",
			[]problem{{2, 3, "condition: not-in needs values"}}},
		{"in with an empty list", "filter {\n" + cond(`field = "a"`, `op = "in"`, `values = []`) + "}\n",
			[]problem{{5, 5, "condition: values is empty"}}},
		{"in with a string", "filter {\n" + cond(`field = "a"`, `op = "in"`, `values = "a,b"`) + "}\n",
			[]problem{{5, 5, "condition: values: want a list, got string"}}},
		{"bad list items", "filter {\n" + cond(`field = "a"`, `op = "in"`, `values = [1, {}, null]`) + "}\n",
			[]problem{
				{5, 5, "condition: values: item 2: want a string, number or bool, got object"},
				{5, 5, `condition: values: item 3: null is not a value`},
			}},
		{"null values", "filter {\n" + cond(`field = "a"`, `op = "in"`, `values = null`) + "}\n",
			[]problem{{5, 5, "condition: values is null"}}},
		{"null with a value", "filter {\n" + cond(`field = "a"`, `op = "null"`, `value = 1`) + "}\n",
			[]problem{{5, 5, "condition: null takes no value; remove value"}}},
		{"user op with values", "filter {\n" + cond(`field = "a"`, `op = "eq-userid"`, `values = [1]`) + "}\n",
			[]problem{{5, 5, "condition: eq-userid takes no value; remove values"}}},
		{"null value", "filter {\n" + cond(`field = "a"`, `op = "eq"`, `value = null`) + "}\n",
			[]problem{{5, 5, `condition: value is null; test for null with op = "null" or op = "not-null"`}}},
		{"list value", "filter {\n" + cond(`field = "a"`, `op = "eq"`, `value = [1]`) + "}\n",
			[]problem{{5, 5, "condition: value: want a string, number or bool, got list"}}},
		{"huge number", "filter {\n" + cond(`field = "a"`, `op = "eq"`, `value = 1e999`) + "}\n",
			[]problem{{5, 5, "condition: value: the number is too large"}}},
		{"variable", "filter {\n" + cond(`field = "a"`, `op = "eq"`, `value = var.x`) + "}\n",
			[]problem{{5, 13, "condition: value: only a literal value is allowed here"}}},
		{"like a number", "filter {\n" + cond(`field = "a"`, `op = "like"`, `value = 5`) + "}\n",
			[]problem{{5, 5, "condition: like needs a text value"}}},
		{"days not whole", "filter {\n" + cond(`field = "a"`, `op = "last-x-days"`, `value = 1.5`) + "}\n",
			[]problem{{5, 5, "condition: last-x-days needs a whole number of days from 0 to 36500; e.g. value = 30"}}},
		{"days too many", "filter {\n" + cond(`field = "a"`, `op = "next-x-days"`, `value = 40000`) + "}\n",
			[]problem{{5, 5, "condition: next-x-days needs a whole number of days from 0 to 36500"}}},
		{"field with a space", "filter {\n" + cond(`field = "a b"`, `op = "null"`) + "}\n",
			[]problem{{3, 13, `condition: field: "a b" holds spaces or control characters`}}},
		{"field a list", "filter {\n" + cond(`field = ["a"]`, `op = "null"`) + "}\n",
			[]problem{{3, 5, `condition: field: want a string, got list`}}},
		{"op a number", "filter {\n" + cond(`field = "a"`, `op = 1`) + "}\n",
			[]problem{{4, 5, `condition: unknown operator "1"`}}},
		{"unknown attribute", "filter {\n" + cond(`field = "a"`, `op = "null"`, `fields = 1`) + "}\n",
			[]problem{{5, 5, `Unsupported argument; An argument named "fields" is not expected here.`}}},
		{"attribute in a group", "filter {\n  field = \"a\"\n}\n",
			[]problem{{2, 3, `Unsupported argument; An argument named "field" is not expected here.`}}},
		{"unknown block", "filter {\n  cond {}\n}\n",
			[]problem{{2, 3, `Unsupported block type; Blocks of type "cond" are not expected here.`}}},
		{"block in a condition", "filter {\n  condition {\n    and {}\n  }\n}\n",
			[]problem{{3, 5, `Unsupported block type; Blocks of type "and" are not expected here.`}}},
		{"link without a lookup", "filter {\n  link {\n" + cond(`field = "a"`, `op = "null"`) + "  }\n}\n",
			[]problem{{2, 8, "Missing lookup for link; All link blocks must have 1 labels (lookup)."}}},
		{"link with an empty lookup", "filter {\n  link \"\" {\n" + cond(`field = "a"`, `op = "null"`) + "  }\n}\n",
			[]problem{{2, 8, "link: the lookup: the name is empty"}}},
		{"every problem at once", "filter {\n" + cond(`op = "eq"`, `value = 1`) + "  or {\n" + cond(`field = "a"`, `op = "zz"`) + "  }\n}\n",
			[]problem{
				{2, 3, `condition: "field" is required`},
				{9, 5, `condition: unknown operator "zz"`},
			}},
		{"single-line block with several attributes is HCL's error", "filter {\n  condition { field = \"a\" op = \"null\" }\n}\n",
			[]problem{{2, 27, "Invalid single-argument block definition"}}},
		{"too deep", "filter {\n" + strings.Repeat("not {\n", sdk.MaxFilterDepth+1) + cond(`field = "a"`, `op = "null"`) +
			strings.Repeat("}\n", sdk.MaxFilterDepth+1) + "}\n",
			[]problem{{35, 3, "conditions nest more than 32 levels deep"}}},
		{"text: syntax error points into the string", `where = "statecode eq"`,
			[]problem{{1, 22, `at column 13: expected a value after "eq", found end of text`}}},
		{"text: error mid-string", `where = "city eq Oslo and a null"`,
			[]problem{{1, 18, `at column 9: expected a value after "eq", found "Oslo"; write text in single quotes: 'Oslo'`}}},
		{"text: escapes keep the attribute", `where = "a eq \"x\" and"`,
			[]problem{{1, 1, `at column 6: expected a value after "eq", found "x"`}}},
		{"text: heredoc keeps the attribute", "where = <<EOT\na eq\nEOT\n",
			[]problem{{1, 1, `at line 2, column 1: expected a value after "eq", found end of text`}}},
		{"text: not a string", `where = 5`, []problem{{1, 1, `want filter text in a string, got number`}}},
		{"text: a template", `where = "a eq ${1}"`, []problem{{1, 17, "only a literal string is allowed here"}}},
		{"text: empty", `where = ""`, []problem{{1, 1, "at column 1: the filter is empty"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, diags := decodeFilterSrc(t, tt.src)
			if !diags.HasErrors() {
				t.Fatalf("no error; filter %s", sdk.FormatFilter(f))
			}
			if f != nil {
				t.Errorf("a filter came with the errors: %s", sdk.FormatFilter(f))
			}
			if len(diags) != len(tt.want) {
				t.Errorf("got %d problems, want %d: %v", len(diags), len(tt.want), diags)
			}
			for i, w := range tt.want {
				if i >= len(diags) {
					break
				}
				d := diags[i]
				if d.Subject == nil {
					t.Errorf("problem %q has no subject", d.Summary)
					continue
				}
				got := formatDiagnostic(d)
				if d.Subject.Start.Line != w.line || d.Subject.Start.Column != w.col || !strings.Contains(got, w.text) {
					t.Errorf("got  %s\nwant f.hcl:%d,%d: ...%s...", got, w.line, w.col, w.text)
				}
			}
		})
	}
}

// TestFilterFormsAgree: the block form and the text form of a filter
// decode to the same tree.
func TestFilterFormsAgree(t *testing.T) {
	block := `filter {
  or {
    and {
      condition {
        field = "a"
        op    = "eq"
        value = "x"
      }
      condition {
        field = "b"
        op    = "ne"
        value = 2.5
      }
    }
    not {
      link "p" {
        condition {
          field  = "c"
          op     = "in"
          values = [1, 2]
        }
      }
    }
  }
}`
	text := `where = "(a eq 'x' and b ne 2.5) or not p link (c in (1, 2))"`
	fb, d1 := decodeFilterSrc(t, block)
	ft, d2 := decodeFilterSrc(t, text)
	if d1.HasErrors() || d2.HasErrors() {
		t.Fatal(d1, d2)
	}
	if sdk.FormatFilter(fb) != sdk.FormatFilter(ft) {
		t.Fatalf("block %s\ntext  %s", sdk.FormatFilter(fb), sdk.FormatFilter(ft))
	}
}

func TestParseFilterTextNull(t *testing.T) {
	f, diags := decodeFilterSrc(t, "where = null\n")
	if f != nil || diags.HasErrors() {
		t.Fatalf("null where: %v, %v", f, diags)
	}
	if f, diags := parseFilterText(nil); f != nil || diags != nil {
		t.Fatalf("nil attribute: %v, %v", f, diags)
	}
}

// FuzzFilterHCL feeds arbitrary HCL to the filter decoders: they never
// panic, every problem points into the file, and a filter they accept is
// valid and survives the text form.
func FuzzFilterHCL(f *testing.F) {
	f.Add("filter {\n" + cond(`field = "a"`, `op = "eq"`, `value = 1`) + "}\n")
	f.Add("filter {\n  or {\n" + cond(`field = "a"`, `op = "in"`, `values = [1, "x", true, 2.5]`) +
		"  }\n  not {\n" + cond(`field = "b"`, `op = "null"`) + "  }\n  link \"p\" {\n" +
		cond(`field = "c"`, `op = "last-x-days"`, `value = 30`) + "  }\n}\n")
	f.Add("filter {\n  and {\n  }\n  condition {\n    op = \"zz\"\n    value = [null]\n  }\n}\n")
	f.Add(`where = "statecode eq 0 and (city eq 'Oslo' or not a null)"`)
	f.Add(`where = "a eq ${1}"`)
	f.Add("filter {\n  link \"a b\" {\n    condition {\n      field = 1e999\n      op = \"EQ\"\n      value = -1e999\n    }\n  }\n}\n")
	f.Fuzz(func(t *testing.T, src string) {
		if diags := checkLimits([]byte(src), "f.hcl"); diags.HasErrors() {
			return
		}
		file, diags := hclsyntax.ParseConfig([]byte(src), "f.hcl", hcl.InitialPos)
		if diags.HasErrors() || file == nil {
			return
		}
		var body filterTestFile
		if d := gohcl.DecodeBody(file.Body, nil, &body); d.HasErrors() {
			return
		}
		check := func(f *sdk.Filter, diags hcl.Diagnostics) {
			for _, d := range diags {
				if d.Subject == nil || d.Subject.Filename != "f.hcl" || d.Subject.Start.Line < 1 || strings.TrimSpace(d.Summary) == "" {
					t.Fatalf("problem %q does not point into the file", d.Summary)
				}
			}
			if diags.HasErrors() {
				if f != nil {
					t.Fatal("a filter came with errors")
				}
				return
			}
			if f == nil {
				return // a null where
			}
			if err := f.Validate(nil); err != nil {
				t.Fatalf("accepted an invalid filter: %v", err)
			}
			text := sdk.FormatFilter(f)
			if len(text) > sdk.MaxFilterText {
				return
			}
			back, err := sdk.ParseFilter(text)
			if err != nil {
				t.Fatalf("the text form %q does not parse: %v", text, err)
			}
			if again := sdk.FormatFilter(back); again != text {
				t.Fatalf("text form %q reads back as %q", text, again)
			}
		}
		for _, b := range body.Filters {
			check(decodeFilter(b.Body))
		}
		check(parseFilterText(body.Where))
	})
}
