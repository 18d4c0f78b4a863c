package wasmhost

import (
	"context"
	"os"
	"path/filepath"
	"strings"
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
		// As in a new process: nothing compiled is kept in memory.
		shared.reset(context.Background())
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

// TestReopenInProcess: a plugin opened again in the same process (the next
// sync of a host app) neither compiles nor decodes its module again, and two
// plugins sharing one compiled module keep their own settings and logs.
func TestReopenInProcess(t *testing.T) {
	ctx := context.Background()
	first, _ := openGuest(t, map[string]string{"rows": "1"}, nil)
	best := time.Hour
	for range 3 {
		start := time.Now()
		c, _ := openGuest(t, map[string]string{"rows": "1"}, nil)
		if n := countRows(t, c); n != 1 {
			t.Errorf("reopened connector: %d rows, want 1", n)
		}
		best = min(best, time.Since(start))
		c.Close(ctx)
	}
	t.Logf("reopen in the same process, first fetch included: %v (best of 3)", best.Round(time.Millisecond))

	other, otherLogs := openGuest(t, map[string]string{"rows": "3"}, nil)
	if first.p.compiled != other.p.compiled {
		t.Fatal("a second plugin of the same module compiled it again")
	}
	if n, m := countRows(t, first), countRows(t, other); n != 1 || m != 3 {
		t.Errorf("plugins sharing a module: %d and %d rows, want 1 and 3 (settings leaked)", n, m)
	}
	if !strings.Contains(otherLogs.String(), "rows=3") || strings.Contains(otherLogs.String(), "rows=1") {
		t.Errorf("the second plugin's log holds the wrong plugin's lines:\n%s", otherLogs)
	}

	// Other limits mean another runtime, so another compiled module.
	small, _ := openGuest(t, nil, func(c *Config) { c.MemoryLimitPages = 512 })
	if small.p.runtime == first.p.runtime {
		t.Error("a plugin with another memory limit shares the runtime")
	}
}

func countRows(t *testing.T, c *Connector) int {
	t.Helper()
	n := 0
	for _, p := range fetchAll(t, c, sdk.FetchRequest{Entity: "thing"}) {
		n += p.Len()
	}
	return n
}
