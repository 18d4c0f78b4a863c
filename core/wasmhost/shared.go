package wasmhost

import (
	"context"
	"crypto/sha256"
	"fmt"
	"runtime"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// A process keeps what it compiled. Even from the disk cache, wazero decodes
// and validates a whole module before it maps the cached machine code: about
// 12 ms per MB of module, 166 ms for a 14.5 MB Go guest (measured on 2
// cores). A host that syncs again and again in one process (an app, a
// scheduler) would pay that at every sync, so compiled modules are shared:
// one runtime per set of limits, each module compiled once in it, and a
// plugin opened again only instantiates. Plugins sharing a module share no
// state: every instance has its own memory, and the host functions find
// their plugin (its name, logger, settings and network policy) through the
// call's context.

// maxIdleModules bounds how many compiled modules no open plugin uses stay
// in memory for the next open; the least recently used beyond it is freed.
const maxIdleModules = 4

// runtimeKey is what a runtime fixes for every module compiled in it.
type runtimeKey struct {
	memoryLimitPages   uint32
	closeOnContextDone bool
	cacheDir           string
}

type sharedRuntime struct {
	runtime wazero.Runtime
	cache   wazero.CompilationCache // nil without a cache directory
}

type moduleKey struct {
	rt   runtimeKey
	hash [sha256.Size]byte
}

type sharedModule struct {
	compiled wazero.CompiledModule
	refs     int    // open plugins using it
	idleAt   uint64 // registry tick when refs last fell to 0
}

// registry holds the process's runtimes and compiled modules.
type registry struct {
	mu       sync.Mutex
	runtimes map[runtimeKey]*sharedRuntime
	modules  map[moduleKey]*sharedModule
	tick     uint64
}

var shared = &registry{runtimes: map[runtimeKey]*sharedRuntime{}, modules: map[moduleKey]*sharedModule{}}

// acquire returns the runtime for cfg's limits and bin compiled in it,
// compiling (or loading from the disk cache) only what this process has not
// yet. release gives the module back.
func (r *registry) acquire(ctx context.Context, cfg Config, bin []byte) (wazero.Runtime, wazero.CompiledModule, error) {
	rk := runtimeKey{memoryLimitPages: cfg.MemoryLimitPages, closeOnContextDone: !cfg.NoTimeLimit, cacheDir: cfg.CacheDir}
	mk := moduleKey{rt: rk, hash: sha256.Sum256(bin)}
	// One lock over the compile too: two plugins opening the same module at
	// once compile it once, and compiles use every core anyway.
	r.mu.Lock()
	defer r.mu.Unlock()
	sr, err := r.runtimeFor(ctx, rk)
	if err != nil {
		return nil, nil, err
	}
	if m := r.modules[mk]; m != nil {
		m.refs++
		return sr.runtime, m.compiled, nil
	}
	// A cold compile of a Go guest takes seconds; spread it over the cores.
	compiled, err := sr.runtime.CompileModule(experimental.WithCompilationWorkers(context.WithoutCancel(ctx), runtime.GOMAXPROCS(0)), bin)
	if err != nil {
		return nil, nil, err
	}
	r.modules[mk] = &sharedModule{compiled: compiled, refs: 1}
	return sr.runtime, compiled, nil
}

// runtimeFor makes or finds the runtime for rk, with WASI and the host's
// functions linked. The caller holds r.mu.
func (r *registry) runtimeFor(ctx context.Context, rk runtimeKey) (*sharedRuntime, error) {
	if sr := r.runtimes[rk]; sr != nil {
		return sr, nil
	}
	sr := &sharedRuntime{}
	rc := wazero.NewRuntimeConfig().
		WithMemoryLimitPages(rk.memoryLimitPages).
		// The time limit and cancellation both work by ending the context
		// of a call; this makes wazero stop the guest's code when they do
		// (at a price: see Config.NoTimeLimit).
		WithCloseOnContextDone(rk.closeOnContextDone).
		// DWARF only improves the stack traces of traps; parsing it costs
		// every start.
		WithDebugInfoEnabled(false)
	if rk.cacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(rk.cacheDir)
		if err != nil {
			return nil, fmt.Errorf("compilation cache %s: %w", rk.cacheDir, err)
		}
		sr.cache = cache
		rc = rc.WithCompilationCache(cache)
	}
	// The runtime outlives the open that made it: it must not end with
	// that caller's context.
	rctx := context.WithoutCancel(ctx)
	sr.runtime = wazero.NewRuntimeWithConfig(rctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(rctx, sr.runtime); err != nil {
		sr.close(rctx)
		return nil, fmt.Errorf("WASI: %w", err)
	}
	if err := instantiateImports(rctx, sr.runtime); err != nil {
		sr.close(rctx)
		return nil, fmt.Errorf("host functions: %w", err)
	}
	r.runtimes[rk] = sr
	return sr, nil
}

// release gives back a module acquire returned; the least recently released
// modules beyond maxIdleModules are freed.
func (r *registry) release(ctx context.Context, cfg Config, bin [sha256.Size]byte) {
	rk := runtimeKey{memoryLimitPages: cfg.MemoryLimitPages, closeOnContextDone: !cfg.NoTimeLimit, cacheDir: cfg.CacheDir}
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.modules[moduleKey{rt: rk, hash: bin}]
	if m == nil || m.refs == 0 {
		return
	}
	m.refs--
	if m.refs > 0 {
		return
	}
	r.tick++
	m.idleAt = r.tick
	for {
		var oldestKey moduleKey
		var oldest *sharedModule
		idle := 0
		for k, m := range r.modules {
			if m.refs > 0 {
				continue
			}
			idle++
			if oldest == nil || m.idleAt < oldest.idleAt {
				oldestKey, oldest = k, m
			}
		}
		if idle <= maxIdleModules {
			return
		}
		_ = oldest.compiled.Close(context.WithoutCancel(ctx))
		delete(r.modules, oldestKey)
	}
}

// reset frees every idle module and every runtime no module uses, as if the
// process started again (tests measure a start from the disk cache this way).
func (r *registry) reset(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	used := map[runtimeKey]bool{}
	for k, m := range r.modules {
		if m.refs > 0 {
			used[k.rt] = true
			continue
		}
		_ = m.compiled.Close(ctx)
		delete(r.modules, k)
	}
	for k, sr := range r.runtimes {
		if !used[k] {
			sr.close(ctx)
			delete(r.runtimes, k)
		}
	}
}

func (sr *sharedRuntime) close(ctx context.Context) {
	_ = sr.runtime.Close(ctx)
	if sr.cache != nil {
		_ = sr.cache.Close(ctx)
	}
}
