package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/plugins/mock"
	"github.com/fieldsync/fieldsync/plugins/mock/httpapi"
)

// buildWASM builds a wasip1 module of pkg into dir.
func buildWASM(t *testing.T, dir, pkg, name string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// TestWASMConfig syncs a device whose config loads the mock as a WASM
// module, reaching its server over HTTP under an allow-list with a
// credential the host injects, and settles a conflict with a WASM policy
// chosen in the config. Then a config whose allow-list misses the server
// fails with a sentence that says so.
func TestWASMConfig(t *testing.T) {
	dir := t.TempDir()
	// The compilation cache goes where the other tests keep theirs, not
	// into the user's own cache directory.
	t.Setenv("XDG_CACHE_HOME", filepath.Join(os.TempDir(), "fieldsync-test-xdg-cache"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := mock.Create(ctx, filepath.Join(dir, "server.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.Seed(ctx, mock.SeedOptions{Accounts: 10, ContactsPerAccount: 1, OpportunitiesPerAccount: 1, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	addr, err := httpapi.Serve(ctx, "127.0.0.1:0", srv, httpapi.Options{Tokens: map[string]string{"tok-123": "wasm-dev"}})
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + strings.TrimPrefix(addr, "http://")
	buildWASM(t, dir, "github.com/fieldsync/fieldsync/plugins/mock/cmd/fieldsync-mock-wasm", "mock.wasm")
	buildWASM(t, dir, "github.com/fieldsync/fieldsync/sdk/examples/numbersmax/wasm", "numbers-max.wasm")
	write := func(name, allow string) string {
		cfg := fmt.Sprintf(`store = "device.db"
user = "wasm-dev"
device = "test"
backend "mock" {
  plugin        = "wasm"
  module        = "mock.wasm"
  allow         = [%q]
  allow_private = true
  credentials   = { %q = "Bearer tok-123" }
  settings      = { url = %q }
}
policy "numbers-max" {
  module = "numbers-max.wasm"
}
entity "account" {}
entity "opportunity" {
  conflict = "numbers-max"
}
`, allow, allow, url)
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("fieldsync.hcl", url)
	if r := run(t, "--config", good, "sync"); r.code != 0 {
		t.Fatalf("first sync: %s%s", r.stdout, r.stderr)
	}
	store := filepath.Join(dir, "device.db")
	id := sqlText(t, store, "SELECT opportunityid FROM opportunity ORDER BY opportunityid LIMIT 1")
	sqlExec(t, store, "UPDATE opportunity SET probability = 90 WHERE opportunityid = '"+id+"'")
	if err := srv.Exec(ctx, "UPDATE opportunity SET probability = 40, name = 'Server' WHERE opportunityid = '"+id+"'"); err != nil {
		t.Fatal(err)
	}
	if r := run(t, "--config", good, "sync"); r.code != 0 {
		t.Fatalf("second sync: %s%s", r.stdout, r.stderr)
	}
	got, err := srv.QueryText(ctx, "SELECT probability FROM opportunity WHERE opportunityid = ?", id)
	if err != nil || got != "90" {
		t.Fatalf("server probability %q (%v), want 90: the larger number wins under numbers-max", got, err)
	}

	bad := write("elsewhere.hcl", "http://127.0.0.2:1")
	r := run(t, "--config", bad, "sync")
	if r.code == 0 || !strings.Contains(r.stderr, "not on the allow-list") {
		t.Fatalf("a sync outside the allow-list: exit %d\n%s", r.code, r.stderr)
	}
}
