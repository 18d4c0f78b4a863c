package main

import (
	"context"
	"sort"
	"strings"

	"github.com/fieldsync/fieldsync/core/config"
	"github.com/fieldsync/fieldsync/core/conflict"
	"github.com/fieldsync/fieldsync/core/wasmhost"
	"github.com/fieldsync/fieldsync/core/wasmhost/netpolicy"
)

// wasmConfig turns a wasm backend's sandbox settings into the host's: its
// limits, and a network made of exactly its allow-list, with its credentials
// held (and added) by the host.
func wasmConfig(name string, w *config.WASM) (wasmhost.Config, error) {
	rules, err := netpolicy.ParseRules(w.Allow)
	if err != nil {
		return wasmhost.Config{}, err
	}
	pol := &netpolicy.Policy{
		Plugin: name, Allow: rules, AllowPrivate: w.AllowPrivate,
		MaxResponse: int64(w.MaxResponseMB) << 20, Logger: logger().Named(name),
	}
	// Exact hosts before wildcards, so overlapping credentials resolve the
	// same way every time (the first matching credential is used).
	keys := make([]string, 0, len(w.Credentials))
	for k := range w.Credentials {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		wi, wj := strings.Contains(keys[i], "*."), strings.Contains(keys[j], "*.")
		if wi != wj {
			return wj
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		r, err := netpolicy.ParseRule(k)
		if err != nil {
			return wasmhost.Config{}, err
		}
		pol.Credentials = append(pol.Credentials, netpolicy.Credential{Rule: r, Value: w.Credentials[k]})
	}
	if err := pol.Validate(); err != nil {
		return wasmhost.Config{}, err
	}
	return wasmhost.Config{
		MemoryLimitPages: uint32(w.Limits.MemoryMB) * 16, // 64 KiB pages
		CallTimeout:      w.Limits.CallTimeout,
		HTTP:             wasmhost.NetworkHook(pol),
		HTTPStream:       wasmhost.NetworkStreamHook(pol),
	}, nil
}

// namedPolicy is a WASM policy under the name its config block gives it.
type namedPolicy struct {
	conflict.Policy
	name string
}

func (p namedPolicy) Name() string { return p.name }

// openPolicies loads the config's WASM conflict policies into a registry
// that also holds the built-in ones. close releases their modules.
func openPolicies(ctx context.Context, cfg *config.Config) (reg *conflict.Registry, close func(), err error) {
	reg = conflict.NewRegistry()
	var opened []*wasmhost.Policy
	close = func() {
		for _, p := range opened {
			p.Close(context.Background())
		}
	}
	for _, pc := range cfg.Policies {
		p, err := wasmhost.OpenPolicy(ctx, wasmhost.Config{
			Path: pc.Module, Name: pc.Name, Logger: logger(), CacheDir: wasmhost.DefaultCacheDir(),
			MemoryLimitPages: uint32(pc.Limits.MemoryMB) * 16, CallTimeout: pc.Limits.CallTimeout,
		})
		if err != nil {
			close()
			return nil, nil, fail(err, "cannot load the conflict policy %q from %s", pc.Name, pc.Module)
		}
		opened = append(opened, p)
		if err := reg.Register(namedPolicy{Policy: p, name: pc.Name}); err != nil {
			close()
			return nil, nil, fail(err, "cannot register the conflict policy %q", pc.Name)
		}
	}
	return reg, close, nil
}
