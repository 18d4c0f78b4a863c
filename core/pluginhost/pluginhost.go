// Package pluginhost loads connectors for the engine, whatever their
// transport: Go values registered in-process, executables started as
// go-plugin subprocesses, or WebAssembly modules run in a wazero sandbox
// (core/wasmhost). It hands back an sdk.Connector and owns the plugin's
// lifetime; it knows nothing of syncing.
package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/core/wasmhost"
	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/subprocess"
)

// Transport says how a connector is loaded.
type Transport string

const (
	// InProcess calls a Factory registered in this process (what a mobile
	// host app links in: iOS allows no subprocesses).
	InProcess Transport = "builtin"
	// Subprocess starts an executable that calls subprocess.Serve.
	Subprocess Transport = "subprocess"
	// WASM runs a .wasm module built with sdk/wasmguest in a sandbox.
	WASM Transport = "wasm"
)

// Spec says which connector to load and how.
type Spec struct {
	// Name is the registered name (InProcess) or a label for logs.
	Name      string
	Transport Transport
	// Command and Args start a Subprocess plugin; for a WASM plugin,
	// Command is the .wasm file and Args are unused.
	Command string
	Args    []string
	// Settings go to the connector's factory.
	Settings map[string]string
	// WASM holds a WASM plugin's limits, compilation cache and network
	// policy hook (see wasmhost.Config); its Path, Name, Settings and
	// Logger are taken from the spec. An empty CacheDir means
	// wasmhost.DefaultCacheDir, so a second start does not compile again.
	WASM wasmhost.Config
}

// Registry holds the connectors linked into this process.
type Registry struct {
	mu        sync.RWMutex
	factories map[string]sdk.Factory
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{factories: map[string]sdk.Factory{}} }

// Default is the registry the fieldsync command uses.
var Default = NewRegistry()

// ErrUnknownConnector is returned for a name nobody registered.
var ErrUnknownConnector = errors.New("unknown connector")

// Register adds a factory under name. Registering a name twice is an error,
// so two packages cannot silently replace each other.
func (r *Registry) Register(name string, f sdk.Factory) error {
	if name == "" || f == nil {
		return errors.New("pluginhost: register needs a name and a factory")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.factories[name]; ok {
		return fmt.Errorf("pluginhost: connector %q registered twice", name)
	}
	r.factories[name] = f
	return nil
}

// Factory returns the factory registered under name.
func (r *Registry) Factory(name string) (sdk.Factory, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	f, ok := r.factories[name]
	return f, ok
}

// Names lists the registered connectors, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.factories))
	for n := range r.factories {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Open loads the connector spec describes. The connector's logs go to logger
// (named after the connector) on every transport.
func (r *Registry) Open(ctx context.Context, spec Spec, logger hclog.Logger) (sdk.Connector, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	logger = logger.Named(spec.Name)
	switch spec.Transport {
	case InProcess, "":
		f, ok := r.Factory(spec.Name)
		if !ok {
			return nil, fmt.Errorf("connector %q: %w (built in: %v)", spec.Name, ErrUnknownConnector, r.Names())
		}
		c, err := f(ctx, spec.Settings, logger)
		if err != nil {
			return nil, fmt.Errorf("open connector %q: %w", spec.Name, err)
		}
		return c, nil
	case Subprocess:
		if spec.Command == "" {
			return nil, fmt.Errorf("connector %q: a subprocess plugin needs a command", spec.Name)
		}
		c, err := subprocess.Open(ctx, subprocess.Config{
			Cmd:      exec.Command(spec.Command, spec.Args...),
			Settings: spec.Settings,
			Logger:   logger,
		})
		if err != nil {
			return nil, fmt.Errorf("open connector %q: %w", spec.Name, err)
		}
		return c, nil
	case WASM:
		if spec.Command == "" {
			return nil, fmt.Errorf("connector %q: a WASM plugin needs the path of its .wasm file", spec.Name)
		}
		cfg := spec.WASM
		cfg.Path, cfg.Name, cfg.Settings, cfg.Logger = spec.Command, spec.Name, spec.Settings, logger
		if cfg.CacheDir == "" {
			cfg.CacheDir = wasmhost.DefaultCacheDir()
		}
		c, err := wasmhost.Open(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("open connector %q: %w", spec.Name, err)
		}
		return c, nil
	}
	return nil, fmt.Errorf("connector %q: unknown transport %q (want %q, %q or %q)", spec.Name, spec.Transport, InProcess, Subprocess, WASM)
}
