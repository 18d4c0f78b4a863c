package wasmhost

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
)

// grace is how long a stopped call may take to return.
const grace = 5 * time.Second

// timed runs f and fails the test when it takes longer than grace.
func timed(t *testing.T, what string, f func() error) error {
	t.Helper()
	start := time.Now()
	err := f()
	if d := time.Since(start); d > grace {
		t.Errorf("%s took %v", what, d)
	}
	return err
}

func TestCancellation(t *testing.T) {
	c, _ := openGuest(t, map[string]string{"rows": "100"}, nil)

	t.Run("MidFetch", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		pages, after := 0, 0
		err := timed(t, "a cancelled endless fetch", func() error {
			return c.Fetch(ctx, sdk.FetchRequest{Entity: "endless"}, func(*sdk.Page) error {
				if pages++; pages == 1 {
					cancel()
				} else {
					after++
				}
				return nil
			})
		})
		if !errors.Is(err, context.Canceled) || after > 2 {
			t.Errorf("error %v after %d more pages; want context.Canceled and at most 2", err, after)
		}
		// The guest saw emit answer stop and returned: its instance lives on.
		if n := c.p.pool.idleCount(); n != 1 {
			t.Errorf("%d idle instances, want the instance kept", n)
		}
	})

	t.Run("PreCancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		pages := 0
		err := c.Fetch(ctx, sdk.FetchRequest{Entity: "thing"}, func(*sdk.Page) error { pages++; return nil })
		if !errors.Is(err, context.Canceled) || pages != 0 {
			t.Errorf("error %v, %d pages", err, pages)
		}
	})

	t.Run("CallbackError", func(t *testing.T) {
		stop := errors.New("enough")
		pages := 0
		err := c.Fetch(context.Background(), sdk.FetchRequest{Entity: "thing", PageSize: 10}, func(*sdk.Page) error { pages++; return stop })
		if !errors.Is(err, stop) || pages != 1 {
			t.Errorf("error %v after %d pages, want the callback's after 1", err, pages)
		}
	})

	t.Run("Busy", func(t *testing.T) {
		// A guest computing, not streaming, is stopped by wazero when the
		// context ends; the error is the cancellation, not the time limit.
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		err := timed(t, "a cancelled loop", func() error {
			return c.Fetch(ctx, sdk.FetchRequest{Entity: "loop"}, func(*sdk.Page) error { return nil })
		})
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTimeLimit) {
			t.Errorf("error %v, want the context's deadline", err)
		}
		if n := len(fetchAll(t, c, sdk.FetchRequest{Entity: "thing"})); n != 1 {
			t.Errorf("after a cancelled call: %d pages", n)
		}
	})
}

// TestTimeLimit: a guest stuck in a loop (or asleep) is stopped after the
// call time limit, with an error naming the plugin and the limit, while
// another instance goes on streaming, and the next call gets a fresh
// instance. Time the host spends consuming does not count.
func TestTimeLimit(t *testing.T) {
	c, _ := openGuest(t, map[string]string{"rows": "40"}, func(c *Config) { c.CallTimeout = 300 * time.Millisecond })
	var wg sync.WaitGroup
	var slowErr error
	slowPages := 0
	wg.Go(func() {
		// 40 pages of one row, 20 ms of consumer time each: 800 ms in all,
		// well over the limit, yet the guest itself is quick.
		slowErr = c.Fetch(context.Background(), sdk.FetchRequest{Entity: "thing", PageSize: 1}, func(*sdk.Page) error {
			slowPages++
			time.Sleep(20 * time.Millisecond)
			return nil
		})
	})
	for _, entity := range []string{"loop", "sleep"} {
		err := timed(t, "a runaway "+entity, func() error {
			return c.Fetch(context.Background(), sdk.FetchRequest{Entity: entity}, func(*sdk.Page) error { return nil })
		})
		if !errors.Is(err, ErrTimeLimit) || sdk.KindOf(err) != sdk.Permanent ||
			!strings.Contains(err.Error(), "plugin guest") || !strings.Contains(err.Error(), "300ms") {
			t.Errorf("%s: error %v, want the time limit naming plugin and limit", entity, err)
		}
	}
	wg.Wait()
	if slowErr != nil || slowPages != 41 {
		t.Errorf("the slow consumer's fetch: %v after %d pages", slowErr, slowPages)
	}
	if n := len(fetchAll(t, c, sdk.FetchRequest{Entity: "thing"})); n != 1 {
		t.Errorf("after the limit: %d pages", n)
	}
}

func TestMemoryBomb(t *testing.T) {
	c, _ := openGuest(t, nil, func(c *Config) { c.MemoryLimitPages = 512 }) // 32 MiB
	err := timed(t, "a memory bomb", func() error {
		return c.Fetch(context.Background(), sdk.FetchRequest{Entity: "bomb"}, func(*sdk.Page) error { return nil })
	})
	if !errors.Is(err, ErrMemoryLimit) || sdk.KindOf(err) != sdk.Permanent ||
		!strings.Contains(err.Error(), "plugin guest") || !strings.Contains(err.Error(), "32 MiB") {
		t.Errorf("error %v, want the memory limit naming plugin and limit", err)
	}
	if n := len(fetchAll(t, c, sdk.FetchRequest{Entity: "thing"})); n != 1 {
		t.Errorf("after the bomb: %d pages", n)
	}
}

func TestPanic(t *testing.T) {
	c, logs := openGuest(t, nil, nil)
	err := c.Fetch(context.Background(), sdk.FetchRequest{Entity: "panic"}, func(*sdk.Page) error { return nil })
	if !errors.Is(err, ErrCrashed) || sdk.KindOf(err) != sdk.Permanent || !strings.Contains(err.Error(), "panic: guest bug: panic") {
		t.Errorf("error %v, want a crash quoting the panic", err)
	}
	if !strings.Contains(logs.String(), "plugin crashed") {
		t.Errorf("the crash is not logged:\n%s", logs)
	}
	if n := len(fetchAll(t, c, sdk.FetchRequest{Entity: "thing"})); n != 1 {
		t.Errorf("after the panic: %d pages", n)
	}
}

func TestHTTP(t *testing.T) {
	settings := map[string]string{"url": "https://api.example.com/v1/things?top=1"}
	t.Run("NoPolicy", func(t *testing.T) {
		c, logs := openGuest(t, settings, nil)
		err := c.Fetch(context.Background(), sdk.FetchRequest{Entity: "http"}, func(*sdk.Page) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "no network access") || !strings.Contains(err.Error(), "api.example.com") {
			t.Errorf("error %v, want a refusal", err)
		}
		if !strings.Contains(logs.String(), "request refused") {
			t.Errorf("the refusal is not logged:\n%s", logs)
		}
	})
	t.Run("Hook", func(t *testing.T) {
		var seen *pb.HttpRequest
		c, _ := openGuest(t, settings, func(c *Config) {
			c.HTTP = func(ctx context.Context, req *pb.HttpRequest) *pb.HttpResponse {
				seen = req
				return &pb.HttpResponse{Status: 200, Body: []byte("hello"), Headers: []*pb.Header{{Name: "x-test", Values: []string{"yes"}}}}
			}
		})
		pages := fetchAll(t, c, sdk.FetchRequest{Entity: "http"})
		if seen == nil || seen.Method != "GET" || seen.Url != settings["url"] {
			t.Fatalf("the hook saw %v", seen)
		}
		p := pages[0]
		if p.Columns[0].Ints[0] != 200 || p.Columns[1].Strings[0] != "hello" || p.Columns[2].Strings[0] != "yes" {
			t.Errorf("the guest got %+v", p.Columns)
		}
	})
	t.Run("Refused", func(t *testing.T) {
		c, _ := openGuest(t, settings, func(c *Config) {
			c.HTTP = func(context.Context, *pb.HttpRequest) *pb.HttpResponse {
				return &pb.HttpResponse{Error: "host api.example.com is not on the allow-list"}
			}
		})
		err := c.Fetch(context.Background(), sdk.FetchRequest{Entity: "http"}, func(*sdk.Page) error { return nil })
		if !sdk.IsRetryable(err) || !strings.Contains(err.Error(), "not on the allow-list") {
			t.Errorf("error %v, want the policy's reason", err)
		}
	})
}

// TestNotAPlugin: a file that is no module, or a module that is no
// fieldsync plugin, fails to open with an error that says so.
func TestNotAPlugin(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content, want string
	}{
		{"garbage", "not wasm at all", "not a valid WebAssembly module"},
		{"empty-module", "\x00asm\x01\x00\x00\x00", "is not a fieldsync plugin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".wasm")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Open(context.Background(), Config{Path: path})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.name) {
				t.Errorf("error %v, want %q naming the plugin", err, tt.want)
			}
		})
	}
	if _, err := Open(context.Background(), Config{Path: filepath.Join(dir, "missing.wasm")}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
