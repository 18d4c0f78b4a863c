package pluginhost

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/core/wasmhost"
	"github.com/fieldsync/fieldsync/sdk"
)

// TestOpenWASM loads the wasmhost tests' guest module through the registry,
// as configuration naming plugin "wasm" would.
func TestOpenWASM(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "guest.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", path, "../wasmhost/testdata/guest")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the guest module: %v\n%s", err, out)
	}
	var logs bytes.Buffer
	logger := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})
	ctx := context.Background()
	c, err := NewRegistry().Open(ctx, Spec{
		Name: "remote", Transport: WASM, Command: path, Settings: map[string]string{"rows": "3"},
		WASM: wasmhost.Config{CacheDir: filepath.Join(dir, "cache")},
	}, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if info, _ := c.Info(ctx); info.Name != "guestconn" {
		t.Errorf("info %+v", info)
	}
	rows := 0
	if err := c.Fetch(ctx, sdk.FetchRequest{Entity: "thing"}, func(p *sdk.Page) error { rows += p.Len(); return nil }); err != nil || rows != 3 {
		t.Errorf("fetch: %d rows, %v", rows, err)
	}
	if !strings.Contains(logs.String(), "remote: guest connector configured: rows=3") {
		t.Errorf("the guest's log does not reach the logger named after the connector:\n%s", logs.String())
	}
}
