package wasmhost

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

// TestWarmStart: with the compilation cache on disk, a second start of a
// plugin (a new runtime, as in a new process) does not compile again. The
// cold and warm times are logged (go test -v -run WarmStart); the test
// holds the warm start to a third of the cold one, which a recompile would
// never meet.
func TestWarmStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	open := func() (*Connector, time.Duration) {
		start := time.Now()
		c, _ := openGuest(t, nil, func(c *Config) { c.CacheDir = dir })
		return c, time.Since(start)
	}
	cold, coldTime := open()
	cold.Close(context.Background())
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("the cache directory holds nothing after a start (%v)", err)
	}
	best := time.Hour
	for range 3 {
		warm, d := open()
		best = min(best, d)
		if n := len(fetchAll(t, warm, sdk.FetchRequest{Entity: "thing"})); n != 1 {
			t.Errorf("warm connector: %d pages", n)
		}
		warm.Close(context.Background())
	}
	info, _ := os.Stat(buildGuest(t))
	t.Logf("module %.1f MB: cold start %v, warm start %v (best of 3)", float64(info.Size())/1e6, coldTime.Round(time.Millisecond), best.Round(time.Millisecond))
	if best > coldTime/3 {
		t.Errorf("warm start %v is not much faster than the cold %v: the cache did not work", best, coldTime)
	}
}
