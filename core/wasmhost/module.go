package wasmhost

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/fieldsync/fieldsync/sdk/wasmabi"
)

// plugin is one loaded module: its runtime (which carries the limits), the
// compiled code (both shared in the process, see shared.go) and its own pool
// of instances. Connector and Policy wrap it.
type plugin struct {
	cfg      Config
	name     string
	logger   hclog.Logger
	hash     [sha256.Size]byte
	runtime  wazero.Runtime
	compiled wazero.CompiledModule
	modCfg   wazero.ModuleConfig
	pool     *pool
}

// maxSleep bounds one sleep of the guest. WASI's poll_oneoff sleeps without
// looking at the call's context, so a guest sleeping for an hour could not
// be cancelled; in slices the guest's scheduler wakes up, finds its timer not
// yet due and sleeps again, and between the slices wazero sees the context.
const maxSleep = 50 * time.Millisecond

// load reads and compiles the module and prepares its instances; ready runs
// on each new instance before its first call (a connector configures it).
func load(ctx context.Context, cfg Config, ready func(context.Context, *instance) error) (*plugin, error) {
	cfg = cfg.withDefaults()
	if cfg.Path == "" {
		return nil, fmt.Errorf("wasmhost: no .wasm path")
	}
	bin, err := os.ReadFile(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("load plugin %s: %w", cfg.Name, err)
	}
	p := &plugin{cfg: cfg, name: cfg.Name, logger: cfg.Logger, hash: sha256.Sum256(bin)}
	if err := p.prepare(ctx, bin); err != nil {
		return nil, err
	}
	p.pool = newPool(cfg.PoolSize, func(ctx context.Context) (*instance, error) {
		inst, err := p.instantiate(ctx)
		if err != nil {
			return nil, err
		}
		if ready != nil {
			if err := ready(ctx, inst); err != nil {
				inst.close(ctx)
				return nil, err
			}
		}
		return inst, nil
	})
	return p, nil
}

// prepare finds or compiles the module in the runtime for the plugin's
// limits and checks that it is a fieldsync plugin.
func (p *plugin) prepare(ctx context.Context, bin []byte) error {
	rt, compiled, err := shared.acquire(ctx, p.cfg, bin)
	if err != nil {
		return fmt.Errorf("load plugin %s: %s is not a valid WebAssembly module: %w", p.name, p.cfg.Path, err)
	}
	p.runtime, p.compiled = rt, compiled
	exports := compiled.ExportedFunctions()
	for _, name := range []string{wasmabi.ExportABI, wasmabi.ExportAlloc, wasmabi.ExportFree, wasmabi.ExportCall} {
		if _, ok := exports[name]; !ok {
			shared.release(ctx, p.cfg, p.hash)
			p.compiled = nil
			return fmt.Errorf("load plugin %s: %s is not a fieldsync plugin (it exports no %s); build it with sdk/wasmguest", p.name, p.cfg.Path, name)
		}
	}
	level := p.logger.GetLevel()
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	p.modCfg = wazero.NewModuleConfig().
		WithName(""). // anonymous: the pool instantiates it many times
		WithStartFunctions("_initialize").
		WithEnv(wasmabi.EnvLogLevel, level.String()).
		// wazero's defaults are a fixed fake clock and a deterministic random
		// source; a connector needs real time (tokens, timestamps) and real
		// randomness (ids, nonces).
		WithSysWalltime().
		WithSysNanotime().
		WithNanosleep(func(ns int64) { time.Sleep(min(time.Duration(ns), maxSleep)) }).
		WithRandSource(rand.Reader)
	return nil
}

// instance is one instantiation of the module: its own memory, its own
// connector. Not safe for concurrent use: the pool hands it to one call at a
// time.
type instance struct {
	p      *plugin
	mod    api.Module
	mem    api.Memory
	stderr *outputLog
	// The exports, looked up once: a lookup per call costs ~18 µs and 40 KB.
	alloc, free, call api.Function
	stack             []uint64
	// broken is set when a call trapped or broke the ABI; the pool then
	// closes the instance instead of reusing it.
	broken bool
	// stream is the response body http_open left open, read by http_read;
	// streamErr is the error that ended it early. Closed by http_close, the
	// next http_open, the end of the call, or the instance's close.
	stream    io.ReadCloser
	streamErr error
}

// instantiate runs the module's initialisers (bounded by the call time
// limit) and checks the ABI version.
func (p *plugin) instantiate(ctx context.Context) (*instance, error) {
	inst := &instance{p: p, stderr: newOutputLog(p.logger, "plugin stderr"), stack: make([]uint64, 3)}
	ictx, cancel := context.WithTimeout(context.WithValue(ctx, pluginKey{}, p), p.cfg.CallTimeout)
	defer cancel()
	mod, err := p.runtime.InstantiateModule(ictx, p.compiled, p.modCfg.
		WithStderr(inst.stderr).
		WithStdout(newOutputLog(p.logger, "plugin stdout")))
	if err != nil {
		return nil, fmt.Errorf("start plugin %s: %w%s", p.name, err, inst.stderr.panicMessage())
	}
	inst.mod, inst.mem = mod, mod.Memory()
	inst.alloc = mod.ExportedFunction(wasmabi.ExportAlloc)
	inst.free = mod.ExportedFunction(wasmabi.ExportFree)
	inst.call = mod.ExportedFunction(wasmabi.ExportCall)
	abi := mod.ExportedFunction(wasmabi.ExportABI)
	if inst.mem == nil || inst.alloc == nil || inst.free == nil || inst.call == nil || abi == nil {
		inst.close(ctx)
		return nil, fmt.Errorf("start plugin %s: the module lacks its memory or a fieldsync export", p.name)
	}
	if err := abi.CallWithStack(ictx, inst.stack); err != nil {
		inst.close(ctx)
		return nil, fmt.Errorf("start plugin %s: %s: %w", p.name, wasmabi.ExportABI, err)
	}
	if v := uint32(inst.stack[0]); v != wasmabi.Version {
		inst.close(ctx)
		return nil, fmt.Errorf("start plugin %s: it speaks WASM ABI %d, this host speaks %d", p.name, v, wasmabi.Version)
	}
	return inst, nil
}

func (inst *instance) close(ctx context.Context) {
	inst.closeStream()
	if inst.mod != nil {
		_ = inst.mod.Close(ctx)
	}
}

// close releases the pool's instances and gives the compiled module back
// to the process (which keeps it for the next open, see shared.go).
func (p *plugin) close(ctx context.Context) {
	if p.pool != nil {
		p.pool.close(ctx)
	}
	if p.compiled != nil {
		shared.release(ctx, p.cfg, p.hash)
		p.compiled = nil
	}
}
