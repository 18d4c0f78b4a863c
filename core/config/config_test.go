package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// stubHostname makes the default device name predictable.
func stubHostname(t *testing.T, name string, err error) {
	t.Helper()
	old := hostname
	hostname = func() (string, error) { return name, err }
	t.Cleanup(func() { hostname = old })
}

// dir is where the good configs claim to live; it is absolute on every OS.
var dir = filepath.Join(string(filepath.Separator)+"etc", "fieldsync")

func TestParseGood(t *testing.T) {
	stubHostname(t, "host-1", nil)
	file := filepath.Join(dir, "fieldsync.hcl")
	abs := filepath.Join(string(filepath.Separator)+"srv", "data", "server.db")

	tests := []struct {
		name string
		src  string
		want Config
	}{
		{
			name: "minimal config takes every default",
			src: `
store = "device.db"
user  = "alice"
backend "mock" {}
`,
			want: Config{
				Store:   filepath.Join(dir, "device.db"),
				User:    "alice",
				Device:  "host-1",
				Backend: Backend{Name: "mock", Plugin: PluginBuiltin, Settings: map[string]string{}},
				Sync:    DefaultSync(),
			},
		},
		{
			name: "every attribute set",
			src: `
store       = "data/../local/device.db"
user        = "alice"
device      = "laptop-1"
app_version = "1.2.3"

backend "mock" {
  plugin   = "subprocess"
  command  = "./bin/fieldsync-plugin-mock"
  args     = ["--log", "debug"]
  settings = {
    path   = "server.db"
    create = true
    pool   = 8
    url    = "relative/not/a/path"
  }
}

sync {
  download_threads = 16
  page_size        = 5000
  upload_batch     = 1
  retries          = 0
  retry_backoff    = "1m30s"
}

entity "account" {
  fields         = ["name", "city"]
  conflict       = "last-writer-wins"
  order          = 2
  modified_field = "modifiedon"
}

entity "contact" {
  conflict = "merge"
  order    = 0
}
`,
			want: Config{
				Store:      filepath.Join(dir, "local", "device.db"),
				User:       "alice",
				Device:     "laptop-1",
				AppVersion: "1.2.3",
				Backend: Backend{
					Name:    "mock",
					Plugin:  PluginSubprocess,
					Command: filepath.Join(dir, "bin", "fieldsync-plugin-mock"),
					Args:    []string{"--log", "debug"},
					Settings: map[string]string{
						"path":   filepath.Join(dir, "server.db"),
						"create": "true",
						"pool":   "8",
						"url":    "relative/not/a/path",
					},
				},
				Sync: Sync{DownloadThreads: 16, PageSize: 5000, UploadBatch: 1, Retries: 0, RetryBackoff: 90 * time.Second},
				Entities: []Entity{
					{Name: "contact", Conflict: "merge", Order: 0},
					{Name: "account", Fields: []string{"name", "city"}, Conflict: "last-writer-wins", Order: 2, ModifiedField: "modifiedon"},
				},
			},
		},
		{
			name: "absolute paths are kept and null means default",
			src: `
store = "` + filepath.ToSlash(abs) + `"
user  = "bob"
device = null
backend "mock" {
  plugin   = null
  settings = { path = "` + filepath.ToSlash(abs) + `" }
}
sync {
  page_size     = null
  retry_backoff = "2s"
}
`,
			want: Config{
				Store:   filepath.FromSlash(filepath.ToSlash(abs)),
				User:    "bob",
				Device:  "host-1",
				Backend: Backend{Name: "mock", Plugin: PluginBuiltin, Settings: map[string]string{"path": filepath.ToSlash(abs)}},
				Sync: Sync{DownloadThreads: 3, PageSize: 1000, UploadBatch: 100, Retries: 5,
					RetryBackoff: 2 * time.Second},
			},
		},
		{
			name: "default order is declaration order, ties keep it",
			src: `
store = "d.db"
user  = "u"
backend "mock" {}
entity "a" {}
entity "b" {
  order = 1
}
entity "c" {}
entity "d" {
  order = 10
}
`,
			want: Config{
				Store:   filepath.Join(dir, "d.db"),
				User:    "u",
				Device:  "host-1",
				Backend: Backend{Name: "mock", Plugin: PluginBuiltin, Settings: map[string]string{}},
				Sync:    DefaultSync(),
				Entities: []Entity{
					{Name: "a", Conflict: DefaultConflictPolicy, Order: 1},
					{Name: "b", Conflict: DefaultConflictPolicy, Order: 1},
					{Name: "c", Conflict: DefaultConflictPolicy, Order: 3},
					{Name: "d", Conflict: DefaultConflictPolicy, Order: 10},
				},
			},
		},
		{
			name: "literal forms: heredoc, negative, parentheses, quoted key",
			src: `
store = "d.db"
user  = "u"
app_version = <<-EOT
  1.0
  EOT
backend "mock" {
  settings = {
    "api-key" = "k"
    path      = "p"
    n         = -1.5
  }
}
sync {
  upload_batch = (7)
}
`,
			want: Config{
				Store:      filepath.Join(dir, "d.db"),
				User:       "u",
				Device:     "host-1",
				AppVersion: "1.0\n",
				Backend: Backend{Name: "mock", Plugin: PluginBuiltin, Settings: map[string]string{
					"api-key": "k", "path": filepath.Join(dir, "p"), "n": "-1.5",
				}},
				Sync: Sync{DownloadThreads: 3, PageSize: 1000, UploadBatch: 7, Retries: 5, RetryBackoff: 500 * time.Millisecond},
			},
		},
		{
			name: "byte-order mark and numbers written as strings",
			src:  "\ufeffstore = \"d.db\"\nuser = \"u\"\nbackend \"mock\" {}\nsync {\n  page_size = \"200\"\n}\n",
			want: Config{
				Store:   filepath.Join(dir, "d.db"),
				User:    "u",
				Device:  "host-1",
				Backend: Backend{Name: "mock", Plugin: PluginBuiltin, Settings: map[string]string{}},
				Sync:    Sync{DownloadThreads: 3, PageSize: 200, UploadBatch: 100, Retries: 5, RetryBackoff: 500 * time.Millisecond},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.src), file)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tt.want.Path = file
			tt.want.Dir = dir
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("Parse:\n got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestParseNoFilenameResolvesAgainstWorkingDirectory(t *testing.T) {
	stubHostname(t, "host-1", nil)
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse([]byte("store = \"d.db\"\nuser = \"u\"\nbackend \"m\" {}\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Path != "" || cfg.Dir != wd || cfg.Store != filepath.Join(wd, "d.db") {
		t.Errorf("Path %q Dir %q Store %q; want \"\", %q, %q", cfg.Path, cfg.Dir, cfg.Store, wd, filepath.Join(wd, "d.db"))
	}
	_, err = Parse([]byte("user = 1"), "")
	if err == nil || !strings.HasPrefix(err.Error(), "<input>:1,1: ") {
		t.Errorf("error %v; want it to name <input>", err)
	}
}

func TestLoad(t *testing.T) {
	stubHostname(t, "host-1", nil)
	tmp := t.TempDir()
	path := filepath.Join(tmp, "fieldsync.hcl")
	if err := os.WriteFile(path, Starter(StarterOptions{User: "alice"}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Path != path || cfg.Dir != tmp || cfg.Store != filepath.Join(tmp, "device.db") ||
		cfg.Backend.Settings["path"] != filepath.Join(tmp, "server.db") {
		t.Errorf("Load: Path %q Dir %q Store %q server %q", cfg.Path, cfg.Dir, cfg.Store, cfg.Backend.Settings["path"])
	}

	t.Run("missing file", func(t *testing.T) {
		_, err := Load(filepath.Join(tmp, "nope.hcl"))
		if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "nope.hcl") {
			t.Errorf("Load: %v; want a not-exist error naming the file", err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		big := filepath.Join(tmp, "big.hcl")
		if err := os.WriteFile(big, make([]byte, maxFileSize+1), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Errorf("Load: %v; want a size error", err)
		}
	})
	t.Run("error names the path as given", func(t *testing.T) {
		bad := filepath.Join(tmp, "bad.hcl")
		if err := os.WriteFile(bad, []byte("user = \"u\"\nstore = \"s\"\nbackend \"m\" {}\nsync {\n  retries = 99\n}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(bad)
		if err == nil || !strings.HasPrefix(err.Error(), bad+":5,3: sync: retries: 99 is out of range") {
			t.Errorf("Load: %v", err)
		}
	})
}
