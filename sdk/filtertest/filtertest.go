// Package filtertest is a test helper for the golden-file tests of filter
// translators (FetchXML, OData, SOQL, T-SQL...): it renders sdk.Filter trees
// for golden files with date-times readable, compares output with a golden
// file (or rewrites it), and catches golden files whose case was removed.
//
// The -update flag stays declared in each test package; its value is passed
// in. The package uses only the standard library, testing and sdk, so it
// builds wherever sdk does, GOOS=wasip1 included.
package filtertest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

// Dir is where the translators keep their golden files, relative to the
// package directory.
const Dir = "testdata/golden"

// Golden compares got with the golden file dir/name.txt. With update set it
// writes got there instead (creating dir as needed).
func Golden(t testing.TB, dir, name, got string, update bool) {
	t.Helper()
	path := filepath.Join(dir, name+".txt")
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("output differs from %s (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// NoStrays reports every file in dir that is not the golden file
// (name + ".txt") of one of names: a file whose case was removed.
func NoStrays(t testing.TB, dir string, names []string) {
	t.Helper()
	known := make(map[string]bool, len(names))
	for _, n := range names {
		known[n+".txt"] = true
	}
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !known[f.Name()] {
			t.Errorf("%s has no case", filepath.Join(dir, f.Name()))
		}
	}
}

// Describe renders a filter for golden files, date-times readable: the
// values of date-time fields of e (other than day counts) are written in
// RFC 3339. Links are followed through s to the target entity. A nil filter
// is "(none)".
func Describe(s *sdk.Schema, e *sdk.Entity, f *sdk.Filter) string {
	if f == nil {
		return "(none)"
	}
	switch f.Op {
	case sdk.OpAnd, sdk.OpOr, sdk.OpNot:
		parts := make([]string, len(f.Children))
		for i, c := range f.Children {
			parts[i] = Describe(s, e, c)
		}
		return string(f.Op) + "(" + strings.Join(parts, ", ") + ")"
	case sdk.OpLink:
		var parent *sdk.Entity
		if e != nil {
			if fd := e.Field(f.Field); fd != nil && fd.Target != "" {
				parent = s.Entity(fd.Target)
			}
		}
		parts := make([]string, len(f.Children))
		for i, c := range f.Children {
			parts[i] = Describe(s, parent, c)
		}
		return "link " + f.Field + "(" + strings.Join(parts, ", ") + ")"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", f.Field, f.Op)
	dt := false
	if e != nil {
		if fd := e.Field(f.Field); fd != nil && fd.Type == sdk.TypeDateTime {
			dt = true
		}
	}
	for i, v := range f.Values {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte(' ')
		if dt && v.Kind() == sdk.KindInt && f.Op != sdk.OpLastXDays && f.Op != sdk.OpNextXDays {
			b.WriteString(v.Time().Format(time.RFC3339Nano))
		} else {
			b.WriteString(v.String())
		}
	}
	return b.String()
}
