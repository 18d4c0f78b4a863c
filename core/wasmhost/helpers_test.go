package wasmhost

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// The tests build their guest module themselves (the Go build cache makes
// a rebuild a link, well under a second) and share one compilation cache, so
// only the first Open of a run compiles the module.
var (
	testDir    string // removed when the tests end
	guestOnce  sync.Once
	guestPath  string
	guestErr   error
	sharedDir  string // the compilation cache most tests share
	guestBuild = []string{"build", "-buildmode=c-shared", "-ldflags=-s -w", "-o"}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wasmhost-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testDir, sharedDir = dir, filepath.Join(dir, "cache")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildGuest builds testdata/guest for wasip1 once per test binary run and
// returns the module's path.
func buildGuest(tb testing.TB) string {
	tb.Helper()
	guestOnce.Do(func() {
		guestPath = filepath.Join(testDir, "guest.wasm")
		cmd := exec.Command("go", append(guestBuild, guestPath, "./testdata/guest")...)
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if out, err := cmd.CombinedOutput(); err != nil {
			guestErr = fmt.Errorf("build the guest module: %v\n%s", err, out)
		}
	})
	if guestErr != nil {
		tb.Fatal(guestErr)
	}
	return guestPath
}

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// openGuest opens the guest connector with the shared cache; change adjusts
// the config first. Its logs go to the returned buffer.
func openGuest(tb testing.TB, settings map[string]string, change func(*Config)) (*Connector, *syncBuffer) {
	tb.Helper()
	logs := &syncBuffer{}
	cfg := Config{
		Path:     buildGuest(tb),
		Name:     "guest",
		Settings: settings,
		Logger:   hclog.New(&hclog.LoggerOptions{Name: "guest", Output: logs, Level: hclog.Debug}),
		CacheDir: sharedDir,
	}
	if change != nil {
		change(&cfg)
	}
	c, err := Open(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("open the guest: %v", err)
	}
	tb.Cleanup(func() { c.Close(context.Background()) })
	return c, logs
}
