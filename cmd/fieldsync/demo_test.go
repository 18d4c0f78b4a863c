package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemo runs the whole demo small: two devices (one through the
// subprocess plugin, which is this test binary; see TestMain), edits
// everywhere, a conflict, and convergence checks that must all pass.
func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	out := ok(t, "demo", "--dir", dir, "--records", "200")
	if n := strings.Count(out, "\n"); n >= 60 {
		t.Errorf("the demo printed %d lines; keep it under 60", n)
	}
	for _, want := range []string{
		"200 accounts, 400 contacts, 200 opportunities",
		"800 records", // each device's first sync: 200 + 400 + 200
		"subprocess plugin", "in-process",
		"← overlaps",
		"the server's name stays everywhere",
		"merged in and sent",
		"row counts: 201 accounts, 401 contacts, 200 opportunities",
		"nothing left to upload",
		"7. Roles",
		"carol  role sales", "dave   role service",
		"her open opportunities", "only those accounts' contacts",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the demo's output lacks %q", want)
		}
	}
	if strings.Contains(out, "✗") || strings.Count(out, "✓") != 13 {
		t.Errorf("not every convergence check passed:\n%s", out)
	}
	if t.Failed() {
		t.Logf("demo output:\n%s", out)
	}

	// The files stay, and each device's config still syncs.
	for _, f := range []string{"server.db", "alice.db", "bob.db", "alice.hcl", "bob.hcl"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("the demo left no %s: %v", f, err)
		}
	}
	for _, dev := range []string{"alice", "bob", "carol", "dave"} {
		out := ok(t, "--config", filepath.Join(dir, dev+".hcl"), "sync")
		if !strings.Contains(out, "Sync ok") || !strings.Contains(out, "Upload: nothing to send") {
			t.Errorf("%s's sync after the demo:\n%s", dev, out)
		}
	}

	fails(t, "already holds a demo", "demo", "--dir", dir, "--records", "200")
	fails(t, "--records must be at least", "demo", "--records", "3")
}

func TestDemoKeepFalseRemovesTheDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	ok(t, "demo", "--dir", dir, "--records", "20", "--keep=false")
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("--keep=false left %s behind (%v)", dir, err)
	}
}
