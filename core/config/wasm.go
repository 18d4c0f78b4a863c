package config

import (
	"fmt"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/fieldsync/fieldsync/core/wasmhost/netpolicy"
)

// DefaultLimits are a WASM module's limits when the file sets none.
func DefaultLimits() Limits { return Limits{MemoryMB: 256, CallTimeout: 60e9} }

const defaultMaxResponseMB = 16

func (c *checker) wasm(where string, b *backendBlock, dir string) *WASM {
	w := &WASM{Limits: c.limits(where, b.Limits), MaxResponseMB: defaultMaxResponseMB, Credentials: map[string]string{}}
	if c.required(b.Module, b.DefRange, where+": a wasm plugin needs a module",
		`the .wasm file, relative to the config file's directory, e.g. module = "plugins/mock.wasm"`) {
		if s, ok := c.text(where+": module", b.Module); ok {
			w.Module = resolve(dir, s)
		}
	}
	for _, a := range []*hcl.Attribute{b.Command, b.Args} {
		if isSet(a) {
			c.attrError(a, fmt.Sprintf("%s: %s is only for subprocess plugins", where, a.Name), "a wasm plugin names its module")
		}
	}
	if list, ok := c.list(where+": allow", b.Allow); ok {
		for _, r := range list {
			if err := CheckAllow(r); err != nil {
				c.attrError(b.Allow, fmt.Sprintf("%s: %v", where, err), `write scheme://host[:port], e.g. "https://api.example.com"`)
				continue
			}
			w.Allow = append(w.Allow, r)
		}
	}
	if v, ok := c.boolean(where+": allow_private", b.AllowPrivate); ok {
		w.AllowPrivate = v
	}
	if m, ok := c.strMap(where+": credentials", b.Credentials); ok {
		for k, v := range m {
			if !slices.Contains(w.Allow, k) {
				// The value is a secret: the message names the key only.
				c.attrError(b.Credentials, fmt.Sprintf("%s: credentials for %s, which allow does not list", where, short(k)),
					"credentials go only to allowed destinations; add it to allow")
				continue
			}
			w.Credentials[k] = v
		}
	}
	if n, ok := c.integer(where+": max_response_mb", b.MaxResponseMB, minRespMB, maxRespMB, fmt.Sprint(defaultMaxResponseMB)); ok {
		w.MaxResponseMB = n
	}
	return w
}

func (c *checker) limits(where string, b *limitsBlock) Limits {
	l := DefaultLimits()
	if b == nil {
		return l
	}
	if n, ok := c.integer(where+": limits: memory_mb", b.MemoryMB, minMemoryMB, maxMemoryMB, fmt.Sprint(l.MemoryMB)); ok {
		l.MemoryMB = n
	}
	if d, ok := c.duration(where+": limits: call_timeout", b.CallTimeout, minCall, maxCall, l.CallTimeout.String()); ok {
		l.CallTimeout = d
	}
	return l
}

func (c *checker) policies(blocks []*policyBlock, cfg *Config) {
	seen := map[string]int{}
	for _, b := range blocks {
		where := "policy " + short(b.Name)
		if !c.checkName(b.NameRange, "policy", b.Name) {
			continue
		}
		if slices.Contains(ConflictPolicies, b.Name) {
			c.report(b.NameRange, where+": is the name of a built-in policy", "choose another name")
			continue
		}
		if line, dup := seen[b.Name]; dup {
			c.report(b.DefRange, where+": declared twice", fmt.Sprintf("the first is at line %d", line))
			continue
		}
		seen[b.Name] = b.DefRange.Start.Line
		p := Policy{Name: b.Name, Limits: c.limits(where, b.Limits)}
		if c.required(b.Module, b.DefRange, where+": needs a module", `the policy's .wasm file, e.g. module = "policies/max-wins.wasm"`) {
			if s, ok := c.text(where+": module", b.Module); ok {
				p.Module = resolve(cfg.Dir, s)
			}
		}
		cfg.Policies = append(cfg.Policies, p)
	}
}

func policyNames(cfg *Config) []string {
	var out []string
	for _, p := range cfg.Policies {
		out = append(out, p.Name)
	}
	return out
}

// boolean decodes true or false.
func (c *checker) boolean(what string, a *hcl.Attribute) (bool, bool) {
	v, ok := c.value(what, a)
	if !ok {
		return false, false
	}
	if v.Type() != cty.Bool {
		c.attrError(a, fmt.Sprintf("%s: want true or false, got %s", what, typeName(v.Type())), "")
		return false, false
	}
	return v.True(), true
}

// CheckAllow checks one allow-list entry the way the WASM host will read
// it (netpolicy.ParseRule), so a bad entry fails at config load, with the
// file and line, rather than when the plugin starts.
func CheckAllow(s string) error {
	_, err := netpolicy.ParseRule(s)
	return err
}
