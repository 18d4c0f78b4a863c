package config

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func int64p(n int64) *int64 { return &n }

func TestDocumentsBlock(t *testing.T) {
	stubHostname(t, "host-1", nil)
	file := filepath.Join(dir, "fieldsync.hcl")
	tests := []struct {
		name string
		src  string
		want *Documents
	}{
		{"no block: no documents", head, nil},
		{"empty block: every document", head + "documents {}\n",
			&Documents{Parallel: 5, MaxSize: -1, Suffix: map[string]int64{}, Entities: map[string]DocumentRule{}}},
		{"every setting", head + `
documents {
  max_size_mb = 10        # 0 = none, -1 = unlimited
  parallel    = 3
  quota_mb    = 500
  include     = ["account", "contact"]
  exclude     = []
  dir         = "docs"
  suffix ".pdf" { max_size_mb = 50 }
  suffix ".MP4" { max_size_mb = 0 }
  suffix ".iso" { max_size_mb = -1 }
  entity "contact" {
    max_size_mb = 2
    suffix ".jpg" { max_size_mb = 0.5 }
  }
  entity "lead" {}
}
`, &Documents{
			Dir: filepath.Join(dir, "docs"), Parallel: 3, MaxSize: 10 << 20, Quota: 500 << 20,
			Include: []string{"account", "contact"},
			Suffix:  map[string]int64{".pdf": 50 << 20, ".mp4": 0, ".iso": -1},
			Entities: map[string]DocumentRule{
				"contact": {MaxSize: int64p(2 << 20), Suffix: map[string]int64{".jpg": 512 << 10}},
				"lead":    {Suffix: map[string]int64{}},
			},
		}},
		{"none and a fraction", head + "documents {\n  max_size_mb = 0\n  quota_mb = 0.001\n}\n",
			&Documents{Parallel: 5, MaxSize: 0, Quota: 1049, Suffix: map[string]int64{}, Entities: map[string]DocumentRule{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.src), file)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cfg.Documents, tt.want) {
				t.Errorf("documents\n got %+v\nwant %+v", cfg.Documents, tt.want)
			}
		})
	}
}

func TestDocumentsBlockBad(t *testing.T) {
	stubHostname(t, "host-1", nil)
	tests := []struct {
		name string
		src  string
		want []string // each must appear in one problem line
	}{
		{"negative size", "documents {\n  max_size_mb = -2\n}\n", []string{"fieldsync.hcl:5,3: documents: max_size_mb: -2 is out of range"}},
		{"too big", "documents {\n  max_size_mb = 1e12\n}\n", []string{"documents: max_size_mb: 1e12 is out of range"}},
		{"not a number", "documents {\n  quota_mb = \"lots\"\n}\n", []string{`documents: quota_mb: want a number of megabytes, got string "lots"`}},
		{"negative quota", "documents {\n  quota_mb = -1\n}\n", []string{"documents: quota_mb is negative"}},
		{"parallel", "documents {\n  parallel = 0\n}\n", []string{"documents: parallel: 0 is out of range; valid: 1..32, default 5"}},
		{"include is no list", "documents {\n  include = \"account\"\n}\n", []string{"documents: include: want a list of strings"}},
		{"include twice", "documents {\n  include = [\"a\", \"a\"]\n}\n", []string{`documents: include: "a" is listed twice`}},
		{"bad entity name", "documents {\n  exclude = [\"a b\"]\n}\n", []string{`documents: exclude: entity: "a b" holds spaces`}},
		{"suffix without a size", "documents {\n  suffix \".pdf\" {}\n}\n", []string{`documents: suffix ".pdf": max_size_mb is required`}},
		{"suffix twice", "documents {\n  suffix \".pdf\" { max_size_mb = 1 }\n  suffix \".PDF\" { max_size_mb = 2 }\n}\n",
			[]string{`fieldsync.hcl:6,3: documents: suffix ".PDF": declared twice`}},
		{"entity twice", "documents {\n  entity \"a\" {}\n  entity \"a\" {}\n}\n", []string{`documents: entity "a": declared twice`}},
		{"entity suffix", "documents {\n  entity \"a\" {\n    suffix \"x\" { max_size_mb = -5 }\n  }\n}\n",
			[]string{`documents: entity "a": suffix "x": max_size_mb: -5 is out of range`}},
		{"two blocks", "documents {}\ndocuments {}\n", []string{"Duplicate documents block"}},
		{"unknown attribute", "documents {\n  max_size = 1\n}\n", []string{`An argument named "max_size" is not expected here`}},
		{"every problem at once", "documents {\n  max_size_mb = -3\n  parallel = 99\n}\n",
			[]string{"max_size_mb: -3 is out of range", "parallel: 99 is out of range"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(head+tt.src), "fieldsync.hcl")
			var cfgErr *Error
			if !errors.As(err, &cfgErr) {
				t.Fatalf("want a config error, got %v", err)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
		})
	}
}

// The starter's commented documents block parses once uncommented.
func TestStarterDocumentsExample(t *testing.T) {
	stubHostname(t, "host-1", nil)
	var out []string
	inBlock := false
	for _, line := range strings.Split(string(Starter(StarterOptions{})), "\n") {
		if line == "# documents {" {
			inBlock = true
		}
		if inBlock {
			line = strings.TrimPrefix(line, "# ")
			inBlock = line != "}"
		}
		out = append(out, line)
	}
	cfg, err := Parse([]byte(strings.Join(out, "\n")), "fieldsync.hcl")
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.Documents
	if d == nil || d.MaxSize != 10<<20 || d.Quota != 500<<20 || d.Parallel != 5 || d.Suffix[".pdf"] != 50<<20 ||
		d.Entities["contact"].Suffix[".jpg"] != 512<<10 || len(d.Include) != 2 {
		t.Fatalf("starter documents example: %+v", d)
	}
}
