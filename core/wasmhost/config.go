package wasmhost

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
)

// Defaults for the zero values of Config.
const (
	// DefaultMemoryLimitPages caps an instance's linear memory at 256 MiB
	// (64 KiB pages). A Go guest runs in 10 to 15 MiB (measured); a page of
	// 5,000 wide rows plus its encoding is a few MiB more.
	DefaultMemoryLimitPages = 4096
	// DefaultCallTimeout is how long a guest may run without returning or
	// handing the host anything (see Config.CallTimeout).
	DefaultCallTimeout = 60 * time.Second
	// DefaultPoolSize is how many instances may run calls at once.
	DefaultPoolSize = 2
)

// pageSize is the WebAssembly page size.
const pageSize = 64 << 10

// Config says which module to run and within what limits.
type Config struct {
	// Path is the .wasm file.
	Path string
	// Name labels the plugin in logs and errors; the file's base name
	// without .wasm when empty.
	Name string
	// Settings go to the connector's factory, in every instance.
	Settings map[string]string
	// Logger receives the guest's logs and stray output, as given (the
	// caller names it after the plugin; pluginhost does). nil discards them.
	Logger hclog.Logger
	// CacheDir keeps compiled machine code on disk, keyed by the module's
	// hash, so a start in a new process does not compile again (measured
	// for a 14.5 MB Go guest on 2 cores: 2.7 s to compile, 170 ms to start
	// from the disk cache, most of it wazero validating the module). Within
	// one process compiled modules are kept in memory whatever CacheDir
	// says, so opening the plugin again takes about 40 ms (see shared.go).
	// Empty means no disk cache; see DefaultCacheDir.
	CacheDir string
	// MemoryLimitPages caps each instance's memory, in 64 KiB pages; a guest
	// that needs more is stopped (DefaultMemoryLimitPages when zero).
	MemoryLimitPages uint32
	// CallTimeout bounds how long the guest may run on its own: the clock
	// restarts whenever it streams a message or gets an HTTP answer, and
	// stops while the host works (consuming a page, making a request,
	// waiting for the next piece of a streamed response body). A
	// long fetch that keeps streaming is not cut off; a guest stuck in a
	// loop is, and its instance is thrown away (DefaultCallTimeout when
	// zero).
	CallTimeout time.Duration
	// NoTimeLimit turns the time limit off for a plugin the admin trusts
	// and that moves much data. wazero can stop a guest only by checking,
	// at the head of every loop of the guest's code, whether the call's
	// context ended, and each check leaves the compiled code for the Go
	// runtime and back; a Go guest enters such a loop in nearly every
	// function, so the checks cost it about three quarters of its speed
	// (see BenchmarkStream). Without them cancellation still reaches a guest
	// that streams (emit answers stop) or makes requests (the HTTP hook sees
	// the context), but a guest stuck in a loop can be neither stopped nor
	// cancelled: it holds a thread until the process ends.
	NoTimeLimit bool
	// PoolSize is how many instances may run calls at once; more calls wait
	// for one (DefaultPoolSize when zero). Instances are made on demand and
	// kept.
	PoolSize int
	// HTTP makes a guest's HTTP request under the plugin's network policy
	// and never returns nil; the refusal of a request is a response with
	// Error set. nil refuses every request.
	HTTP func(ctx context.Context, req *pb.HttpRequest) *pb.HttpResponse
	// HTTPStream is HTTP with a streamed body, for the http_open import:
	// it answers the response without its body (resp.Body is ignored) and
	// the body as a reader the guest drains piece by piece, so the server
	// and the guest work at the same time. body is nil when resp.Error is
	// set; otherwise the host closes it when the guest does, or when the
	// call ends. Like HTTP, the response is never nil. nil means the host
	// answers http_open through HTTP, with the whole body buffered.
	// NetworkStreamHook makes one from a network policy.
	HTTPStream func(ctx context.Context, req *pb.HttpRequest) (resp *pb.HttpResponse, body io.ReadCloser)
}

// DefaultCacheDir is where a host keeps compiled plugins when its
// configuration names no place: fieldsync/wasm under the user's cache
// directory, or "" (no disk cache) where there is none.
func DefaultCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "fieldsync", "wasm")
}

// withDefaults fills in the zero values.
func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = strings.TrimSuffix(filepath.Base(c.Path), ".wasm")
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if c.MemoryLimitPages == 0 {
		c.MemoryLimitPages = DefaultMemoryLimitPages
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	if c.PoolSize <= 0 {
		c.PoolSize = DefaultPoolSize
	}
	return c
}

// The causes of a call the host stopped. The *sdk.Error a call returns
// wraps one of them, so errors.Is tells them apart; all are permanent
// (the same call would end the same way), and the instance is gone.
var (
	// ErrTimeLimit: the guest ran longer than Config.CallTimeout on its own.
	ErrTimeLimit = errors.New("plugin call exceeded its time limit")
	// ErrMemoryLimit: the guest needed more memory than Config.MemoryLimitPages.
	ErrMemoryLimit = errors.New("plugin exceeded its memory limit")
	// ErrCrashed: the guest trapped (a panic, a fatal runtime error).
	ErrCrashed = errors.New("plugin crashed")
	// ErrBadGuest: the guest broke the ABI (a buffer outside its memory, a
	// result that does not decode).
	ErrBadGuest = errors.New("plugin broke the WASM ABI")
)
