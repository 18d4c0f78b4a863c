package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const wasmGood = `
store = "device.db"
user  = "u"
device = "d"
backend "mock" {
  plugin        = "wasm"
  module        = "plugins/mock.wasm"
  allow         = ["http://127.0.0.1:8080", "https://*.example.com"]
  allow_private = true
  credentials   = { "http://127.0.0.1:8080" = "Bearer s3cret" }
  limits {
    memory_mb    = 64
    call_timeout = "5s"
  }
  settings = { url = "http://127.0.0.1:8080" }
}
policy "numbers-max" {
  module = "policies/max.wasm"
}
entity "opportunity" {
  conflict = "numbers-max"
}
`

func TestWASMConfig(t *testing.T) {
	cfg, err := Parse([]byte(wasmGood), "/etc/fs/fieldsync.hcl")
	if err != nil {
		t.Fatal(err)
	}
	w := cfg.Backend.WASM
	if cfg.Backend.Plugin != PluginWASM || w == nil {
		t.Fatalf("backend %+v", cfg.Backend)
	}
	if w.Module != filepath.FromSlash("/etc/fs/plugins/mock.wasm") || !w.AllowPrivate || len(w.Allow) != 2 ||
		w.Credentials["http://127.0.0.1:8080"] != "Bearer s3cret" || w.MaxResponseMB != 16 ||
		w.Limits.MemoryMB != 64 || w.Limits.CallTimeout != 5*time.Second {
		t.Fatalf("wasm %+v", w)
	}
	if len(cfg.Policies) != 1 || cfg.Policies[0].Module != filepath.FromSlash("/etc/fs/policies/max.wasm") || cfg.Policies[0].Limits != DefaultLimits() {
		t.Fatalf("policies %+v", cfg.Policies)
	}
	if cfg.Entities[0].Conflict != "numbers-max" {
		t.Fatalf("entity %+v", cfg.Entities[0])
	}
}

func TestWASMConfigErrors(t *testing.T) {
	tests := []struct {
		name, from, to, want string
	}{
		{"credentials for an unlisted host", `{ "http://127.0.0.1:8080" = "Bearer s3cret" }`, `{ "http://evil.example" = "Bearer s3cret" }`, `credentials for "http://evil.example", which allow does not list`},
		{"allow with a path", `"http://127.0.0.1:8080",`, `"http://127.0.0.1:8080/x",`, "only scheme, host and port"},
		{"allow with another scheme", `"http://127.0.0.1:8080",`, `"ftp://127.0.0.1",`, `scheme "ftp" is not supported`},
		{"bad wildcard", `"https://*.example.com"`, `"https://a.*.com"`, "a wildcard may only be the whole first label"},
		{"memory out of range", "memory_mb    = 64", "memory_mb    = 1", "memory_mb"},
		{"no module", `module        = "plugins/mock.wasm"`, ``, "a wasm plugin needs a module"},
		{"allow_private not a bool", "allow_private = true", `allow_private = "yes"`, "want true or false"},
		{"wasm attributes on builtin", `plugin        = "wasm"`, `plugin = "builtin"`, "only for wasm plugins"},
		{"policy shadows a built-in", `policy "numbers-max"`, `policy "merge"`, "name of a built-in policy"},
		{"entity names an undeclared policy", `conflict = "numbers-max"`, `conflict = "numbers-min"`, `unknown conflict policy "numbers-min"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(wasmGood, tt.from, tt.to, 1)
			if src == wasmGood {
				t.Fatalf("the replacement %q did not apply", tt.from)
			}
			_, err := Parse([]byte(src), "fieldsync.hcl")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("the error shows a credential: %v", err)
			}
			if !strings.Contains(err.Error(), "fieldsync.hcl:") {
				t.Fatalf("the error names no place: %v", err)
			}
		})
	}
}
