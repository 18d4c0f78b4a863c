package config

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzParse feeds Parse arbitrary bytes: it must never panic, an error must
// say something on every line and point into the file, and a config it
// accepts must hold what validation promises.
func FuzzParse(f *testing.F) {
	f.Add(Starter(StarterOptions{}))
	f.Add([]byte(head))
	f.Add([]byte(head + "sync {\n  page_size = 1e999\n  retry_backoff = \"5 s\"\n}\n"))
	f.Add([]byte(head + "entity \"a\" {\n  fields = [\"x\", null, {}]\n  conflict = \"serverwins\"\n  order = 1.5\n}\n"))
	f.Add([]byte("store = 1/0\nuser = \"${\"a\"}\"\nbackend \"m\" {\n  plugin = \"subprocess\"\n  command = \"\"\n  settings = { \"\" = [] }\n}\n"))
	f.Add([]byte("\ufeffstore = <<EOT\nx\nEOT\nuser = [for x in [1]: x]\n"))
	f.Add([]byte("entity \"a\" \"b\" {}\nbackend {}\nsync {}\nsync {}\n"))
	f.Add([]byte{0xff, 0xfe, '{', '"', 0})

	f.Fuzz(func(t *testing.T, src []byte) {
		stubHostname(t, "host-1", nil)
		cfg, err := Parse(src, "fuzz.hcl")
		if err != nil {
			if cfg != nil {
				t.Fatalf("Parse returned a config with its error")
			}
			var cerr *Error
			if !errors.As(err, &cerr) || len(cerr.Diagnostics) == 0 {
				t.Fatalf("Parse error %T %q carries no diagnostics", err, err)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if strings.TrimSpace(line) == "" {
					t.Fatalf("Parse error has an empty line: %q", err)
				}
			}
			for _, d := range cerr.Diagnostics {
				if d.Subject == nil || d.Subject.Filename != "fuzz.hcl" || d.Subject.Start.Line < 1 {
					t.Fatalf("a problem does not point into the file: %q", err)
				}
			}
			return
		}
		checkInvariants(t, cfg)
	})
}

// checkInvariants holds a parsed config to what Parse promises its callers.
func checkInvariants(t *testing.T, cfg *Config) {
	t.Helper()
	if cfg == nil {
		t.Fatal("Parse returned neither a config nor an error")
	}
	s := cfg.Sync
	switch {
	case !filepath.IsAbs(cfg.Store) || !filepath.IsAbs(cfg.Dir):
		t.Fatalf("store %q or dir %q is not absolute", cfg.Store, cfg.Dir)
	case strings.TrimSpace(cfg.User) == "" || strings.TrimSpace(cfg.Device) == "":
		t.Fatalf("user %q or device %q is blank", cfg.User, cfg.Device)
	case cfg.Backend.Name == "" || cfg.Backend.Settings == nil:
		t.Fatalf("backend %+v has no name or nil settings", cfg.Backend)
	case cfg.Backend.Plugin != PluginBuiltin && cfg.Backend.Plugin != PluginSubprocess:
		t.Fatalf("plugin %q", cfg.Backend.Plugin)
	case cfg.Backend.Plugin == PluginSubprocess && !filepath.IsAbs(cfg.Backend.Command):
		t.Fatalf("subprocess command %q is not absolute", cfg.Backend.Command)
	case cfg.Backend.Plugin == PluginBuiltin && (cfg.Backend.Command != "" || len(cfg.Backend.Args) > 0):
		t.Fatalf("builtin backend with a command: %+v", cfg.Backend)
	case s.DownloadThreads < minThreads || s.DownloadThreads > maxThreads,
		s.PageSize < minPageSize || s.PageSize > maxPageSize,
		s.UploadBatch < minBatch || s.UploadBatch > maxBatch,
		s.Retries < minRetries || s.Retries > maxRetries,
		s.RetryBackoff < minBackoff || s.RetryBackoff > maxBackoff:
		t.Fatalf("sync settings out of range: %+v", s)
	}
	names := map[string]bool{}
	for i, e := range cfg.Entities {
		if e.Name == "" || names[e.Name] {
			t.Fatalf("entity name %q empty or repeated", e.Name)
		}
		names[e.Name] = true
		if !slices.Contains(ConflictPolicies, e.Conflict) {
			t.Fatalf("entity %q: policy %q", e.Name, e.Conflict)
		}
		if e.Fields != nil && len(e.Fields) == 0 {
			t.Fatalf("entity %q: empty, non-nil fields", e.Name)
		}
		if i > 0 && cfg.Entities[i-1].Order > e.Order {
			t.Fatalf("entities not sorted by order: %+v", cfg.Entities)
		}
	}
}
