package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadConfig: a config that does not load gives one sentence naming the
// file, line and column, and what is wrong; --log-level debug adds the rest.
func TestBadConfig(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // after "bad.hcl:"
	}{
		{"syntax error", "store = \"d.db\"\nuser = \n", "2,"},
		{"unknown attribute", "store = \"d.db\"\nuser = \"u\"\nbackend \"mock\" {}\ncolour = \"blue\"\n", "4,1:"},
		{"out of range", "store = \"d.db\"\nuser = \"u\"\nbackend \"mock\" {}\nsync {\n  page_size = 7\n}\n", "5,3: sync: page_size: 7 is out of range"},
		{"unknown policy", "store = \"d.db\"\nuser = \"u\"\nbackend \"mock\" {}\nentity \"account\" {\n  conflict = \"coin-flip\"\n}\n", `5,3: entity "account": unknown conflict policy "coin-flip"`},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "bad.hcl")
			if err := os.WriteFile(path, []byte(tt.src), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, cmd := range []string{"sync", "status"} {
				fails(t, path+":"+tt.want, "--config", path, cmd)
			}
		})
	}

	t.Run("several problems", func(t *testing.T) {
		path := filepath.Join(dir, "bad.hcl")
		src := "store = \"d.db\"\nuser = \"u\"\nbackend \"mock\" {}\nsync {\n  page_size = 7\n  retries = 99\n}\n"
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		fails(t, "(and 1 more problem; --log-level debug lists them)", "--config", path, "sync")
		r := run(t, "--config", path, "--log-level", "debug", "sync")
		if r.code != 1 || !strings.Contains(r.stderr, "6,3: sync: retries: 99 is out of range") {
			t.Errorf("--log-level debug does not list the second problem:\n%s", r.stderr)
		}
	})
}
