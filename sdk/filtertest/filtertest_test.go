package filtertest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

func TestDescribe(t *testing.T) {
	s := &sdk.Schema{Entities: []sdk.Entity{
		{Name: "a", PrimaryKey: "id", Fields: []sdk.Field{
			{Name: "when", Type: sdk.TypeDateTime},
			{Name: "n", Type: sdk.TypeInt},
			{Name: "parent", Type: sdk.TypeLookup, Target: "a"},
		}},
	}}
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	f := sdk.And(
		sdk.Cmp("when", sdk.OpEq, sdk.Time(at)),
		sdk.Cmp("when", sdk.OpLastXDays, sdk.Int(3)),
		sdk.Cmp("n", sdk.OpIn, sdk.Int(1), sdk.Int(2)),
		sdk.Link("parent", sdk.Cmp("when", sdk.OpEq, sdk.Time(at))),
	)
	want := "and(when eq 2024-05-06T07:08:09Z, when last-x-days 3, n in 1, 2, link parent(when eq 2024-05-06T07:08:09Z))"
	if got := Describe(s, s.Entity("a"), f); got != want {
		t.Errorf("Describe:\n got  %s\n want %s", got, want)
	}
	if got := Describe(s, nil, nil); got != "(none)" {
		t.Errorf("Describe(nil) = %q", got)
	}
}

func TestGoldenRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "golden")
	Golden(t, dir, "x", "hello\n", true)
	Golden(t, dir, "x", "hello\n", false)
	if b, err := os.ReadFile(filepath.Join(dir, "x.txt")); err != nil || string(b) != "hello\n" {
		t.Fatalf("golden file: %q, %v", b, err)
	}
	NoStrays(t, dir, []string{"x"})
}
