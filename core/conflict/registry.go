package conflict

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Registry names the policies configuration may choose: the built-ins, and
// custom ones the host registers (WASM policies arrive this way).
type Registry struct {
	mu       sync.RWMutex
	policies map[string]Policy
}

// ErrUnknownPolicy is wrapped by Lookup's error for a name nobody registered.
var ErrUnknownPolicy = errors.New("unknown conflict policy")

// NewRegistry returns a registry holding the built-in policies.
func NewRegistry() *Registry {
	merge, _ := NewMerge(TieServer)
	r := &Registry{policies: map[string]Policy{}}
	for _, p := range []Policy{serverWins{}, deviceWins{}, deviceWinsFull{}, merge, lastWriterWins{}, manual{}} {
		r.policies[p.Name()] = p
	}
	return r
}

// Default is the registry the package-level functions use.
var Default = NewRegistry()

// Register adds a policy under its Name. A name already taken, built-in or
// not, is an error, so a plugin cannot silently replace a policy that
// configuration already relies on.
func (r *Registry) Register(p Policy) error {
	if p == nil {
		return errors.New("conflict: register needs a policy")
	}
	name := p.Name()
	if name == "" || strings.TrimSpace(name) != name {
		return fmt.Errorf("conflict: policy name %q is empty or has surrounding spaces", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.policies[name]; ok {
		return fmt.Errorf("conflict: policy %q registered twice", name)
	}
	r.policies[name] = p
	return nil
}

// Lookup returns the policy registered under name; the empty name means
// DefaultPolicy. An unknown name is an error listing the valid ones.
func (r *Registry) Lookup(name string) (Policy, error) {
	if name == "" {
		name = DefaultPolicy
	}
	r.mu.RLock()
	p, ok := r.policies[name]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("conflict policy %q: %w (valid: %s)", name, ErrUnknownPolicy, strings.Join(r.Names(), ", "))
	}
	return p, nil
}

// Names lists the registered policies, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.policies))
	for n := range r.policies {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Register adds p to the Default registry.
func Register(p Policy) error { return Default.Register(p) }

// Lookup finds a policy in the Default registry.
func Lookup(name string) (Policy, error) { return Default.Lookup(name) }

// Names lists the Default registry's policies.
func Names() []string { return Default.Names() }
