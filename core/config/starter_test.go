package config

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
	"unicode/utf8"
)

func TestStarterParsesBack(t *testing.T) {
	stubHostname(t, "host-1", nil)
	file := filepath.Join(dir, "fieldsync.hcl")
	tests := []struct {
		name string
		opts StarterOptions
		want Config
	}{
		{
			name: "defaults",
			want: Config{
				Store: filepath.Join(dir, "device.db"), User: "user", Device: "host-1",
				Backend: Backend{Name: "mock", Plugin: PluginBuiltin, Settings: map[string]string{
					"path": filepath.Join(dir, "server.db"), "create": "true",
				}},
			},
		},
		{
			name: "options",
			opts: StarterOptions{ServerPath: "../shared/server.db", StorePath: "/var/lib/fieldsync/alice.db", User: "alice", Device: "laptop-1"},
			want: Config{
				Store: "/var/lib/fieldsync/alice.db", User: "alice", Device: "laptop-1",
				Backend: Backend{Name: "mock", Plugin: PluginBuiltin, Settings: map[string]string{
					"path": filepath.Join(filepath.Dir(dir), "shared", "server.db"), "create": "true",
				}},
			},
		},
		{
			name: "strings HCL would read as templates or escapes",
			opts: StarterOptions{StorePath: `C:\data\${x}.db`, User: "a\"b\\c%{if}\n\t\x01", Device: "é 🚀 $${"},
			want: Config{
				Store: filepath.Join(dir, `C:\data\${x}.db`), User: "a\"b\\c%{if}\n\t\x01", Device: "é 🚀 $${",
				Backend: Backend{Name: "mock", Plugin: PluginBuiltin, Settings: map[string]string{
					"path": filepath.Join(dir, "server.db"), "create": "true",
				}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(Starter(tt.opts), file)
			if err != nil {
				t.Fatalf("the starter does not parse: %v\n%s", err, Starter(tt.opts))
			}
			tt.want.Path, tt.want.Dir, tt.want.Sync = file, dir, DefaultSync()
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("Parse(Starter):\n got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

// TestStarterExamples uncomments the starter's example entity blocks and
// checks that what it teaches parses, so the comments cannot rot.
func TestStarterExamples(t *testing.T) {
	stubHostname(t, "host-1", nil)
	var out []string
	inBlock := false
	for _, line := range strings.Split(string(Starter(StarterOptions{})), "\n") {
		if strings.HasPrefix(line, `# entity "`) {
			inBlock = true
		}
		if inBlock {
			line = strings.TrimPrefix(line, "# ")
			inBlock = line != "}"
		}
		out = append(out, line)
	}
	src := strings.Join(out, "\n")
	cfg, err := Parse([]byte(src), "fieldsync.hcl")
	if err != nil {
		t.Fatalf("the starter's examples do not parse: %v\n%s", err, src)
	}
	want := []Entity{
		{Name: "account", Fields: []string{"name", "city"}, Conflict: "server-wins", Order: 1, ModifiedField: "modifiedon", SyncMode: SyncIncremental},
		{Name: "contact", Conflict: "merge", Order: 2, RelatedOnly: true},
	}
	if len(cfg.Entities) == 2 {
		if got := sdk.FormatFilter(cfg.Entities[0].Filter); got != "active eq true and createdon last-x-days 365" {
			t.Errorf("example where: %s", got)
		}
		if got := sdk.FormatFilter(cfg.Entities[1].Filter); got != "lastname not-null" {
			t.Errorf("example filter block: %s", got)
		}
		cfg.Entities[0].Filter, cfg.Entities[1].Filter = nil, nil
	}
	if !reflect.DeepEqual(cfg.Entities, want) {
		t.Errorf("example entities:\n got %+v\nwant %+v", cfg.Entities, want)
	}
}

// TestStarterDocumentsEverything fails when an attribute of the schema is
// missing from the starter, so a new attribute gets its comment there.
func TestStarterDocumentsEverything(t *testing.T) {
	src := string(Starter(StarterOptions{}))
	for _, typ := range []reflect.Type{
		reflect.TypeFor[fileBody](), reflect.TypeFor[backendBlock](),
		reflect.TypeFor[syncBlock](), reflect.TypeFor[entityBlock](),
	} {
		for f := range typ.Fields() {
			name, kind, _ := strings.Cut(f.Tag.Get("hcl"), ",")
			if kind != "optional" && kind != "block" {
				continue
			}
			if !strings.Contains(src, "\n"+name+" ") && !strings.Contains(src, " "+name+" ") {
				t.Errorf("the starter does not mention %q", name)
			}
		}
	}
	for _, p := range ConflictPolicies {
		if !strings.Contains(src, p) {
			t.Errorf("the starter does not mention conflict policy %q", p)
		}
	}
}

// FuzzStarter: whatever the options hold, the starter parses back to them.
func FuzzStarter(f *testing.F) {
	f.Add("server.db", "device.db", "alice", "laptop-1")
	f.Add(`C:\x`, "${a}", "%{b}", "$${c}")
	f.Add("", "", "\x00\n", "\xff")
	f.Fuzz(func(t *testing.T, server, store, user, device string) {
		stubHostname(t, "host-1", nil)
		opts := StarterOptions{ServerPath: server, StorePath: store, User: user, Device: device}
		cfg, err := Parse(Starter(opts), "fieldsync.hcl")
		if err != nil {
			t.Fatalf("Starter(%+q) does not parse: %v", opts, err)
		}
		valid := func(s, dflt string) string {
			if strings.TrimSpace(s) == "" {
				return dflt
			}
			return strings.ToValidUTF8(s, string(utf8.RuneError))
		}
		if cfg.User != valid(user, "user") || cfg.Device != valid(device, "host-1") {
			t.Errorf("Starter(%+q) parses back as user %q device %q", opts, cfg.User, cfg.Device)
		}
	})
}
