// Package config reads the one HCL file in which an admin configures a
// device's sync: the local store, the user and device, the backend connector,
// the sync tuning and the entities with their conflict policies. It parses and
// validates that file into a Config and reports every problem with the file,
// line and column it sits at; it opens nothing the file names and never panics
// on any input.
package config

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/fieldsync/fieldsync/sdk"
)

// Config is one device's sync configuration, validated, with defaults applied
// and relative paths resolved.
//
// Relative paths are resolved against Dir, the directory of the config file,
// never against the process's working directory: the same file means the same
// thing whoever starts fieldsync from wherever. That covers store, the
// backend's command, and the backend setting named "path" (the one setting
// whose meaning the core knows). Absolute paths are kept as written.
type Config struct {
	// Path is the config file's absolute path ("" when Parse had no name).
	Path string
	// Dir is the absolute directory relative paths were resolved against.
	Dir string

	// Store is the local SQLite file (resolved).
	Store string
	// User is who syncs on this device; sync logs and user-dependent filters
	// name them.
	User string
	// Device names this device in sync logs; it defaults to the hostname.
	Device string
	// AppVersion is the host app's version for sync logs; it may be empty.
	AppVersion string

	Backend Backend
	Sync    Sync
	// Policies are the WASM conflict policies the file declares.
	Policies []Policy
	// Roles are the user's roles: the role blocks whose entities they get,
	// on top of the entity blocks outside any role.
	Roles []string
	// Entities are sorted by Order (ties in declaration order). None means
	// every entity the backend offers, with all its fields and the default
	// policy; with entity blocks, only the entities listed sync.
	Entities []Entity
	// Documents is the documents block (see documents.go); nil without
	// one: no documents download.
	Documents *Documents
}

// Backend says which connector serves this device and how it is loaded.
type Backend struct {
	// Name is the connector's name, the label of the backend block.
	Name string
	// Plugin is PluginBuiltin, PluginSubprocess or PluginWASM.
	Plugin string
	// Command and Args start a subprocess plugin. Command is resolved against
	// the config directory with no PATH lookup; both are empty for builtin.
	Command string
	Args    []string
	// Settings go to the connector's factory as they are, except "path",
	// which is resolved. It is never nil.
	Settings map[string]string
	// WASM is set for a wasm plugin: its module and sandbox.
	WASM *WASM
}

// WASM is a WebAssembly module and the sandbox it runs in.
type WASM struct {
	// Module is the .wasm file, resolved against the config directory.
	Module string
	// Allow lists what the module may reach over HTTP, as
	// scheme://host[:port] (host may start with "*." for subdomains).
	// Nothing else is reachable; empty means no network at all.
	Allow []string
	// AllowPrivate lets the module reach loopback, private and link-local
	// addresses (an emulator on 127.0.0.1 needs it). Off by default.
	AllowPrivate bool
	// Credentials maps an allow-list entry to the Authorization header
	// value the host adds to requests there. The module never sees it.
	Credentials map[string]string
	// MaxResponseMB bounds one HTTP response (default 16).
	MaxResponseMB int
	Limits        Limits
}

// Limits bound a WASM module's instance.
type Limits struct {
	MemoryMB    int           // memory of one instance (16..4096, default 256)
	CallTimeout time.Duration // one call into the module (default 60s)
}

// Policy is a conflict policy shipped as a WASM module, selectable by name
// in entity blocks like the built-in ones.
type Policy struct {
	Name   string
	Module string
	Limits Limits
}

// Sync tunes the sync cycle.
type Sync struct {
	// DownloadThreads is how many entities download in parallel (1..16, default 3).
	DownloadThreads int
	// PageSize is the records per downloaded page (100..5000, default 1000).
	PageSize int
	// UploadBatch is the changes per upload request (1..1000, default 100).
	UploadBatch int
	// Retries is how many retryable failures one batch may meet before the
	// sync gives up (0..20, default 5).
	Retries int
	// RetryBackoff is the wait before the first retry, doubled on each
	// further one (1ms..1h, default 500ms).
	RetryBackoff time.Duration
}

// Entity is one entity the device syncs.
type Entity struct {
	// Name is the backend's name for the entity, the label of the entity block.
	Name string
	// Fields lists the fields to sync; nil means every field the backend offers.
	Fields []string
	// Conflict is the conflict policy, one of ConflictPolicies (default
	// "server-wins").
	Conflict string
	// Order is the download order, lower first; it defaults to the entity's
	// position in the file (1 for the first entity block).
	Order int
	// ModifiedField is the field last-writer-wins compares; it may be empty.
	ModifiedField string

	// Filter selects the rows that go offline (nil: every row). Its values
	// are as written; the engine converts them to the fields' types and
	// refuses a filter the backend cannot express.
	Filter *sdk.Filter
	// SyncMode is SyncIncremental or SyncFull; empty (not set) means
	// incremental.
	SyncMode string
	// OnlineOnly keeps the entity off the device (the app reads it online).
	OnlineOnly bool
	// RelatedOnly downloads a row only while a parent row it names is on
	// the device (download_only_related).
	RelatedOnly bool
	// Roles are the roles whose blocks selected the entity ("" for an
	// entity block at the top of the file, which every user gets).
	//
	// With several roles, the user gets the union: the entity if any role
	// selects it; every field any role selects (all of them if one selects
	// all); the rows any role's filter selects (every row if one has no
	// filter); full sync if any role says so; the lowest order; online
	// only if every role says so. Conflict policies and
	// download_only_related must agree.
	Roles []string
}

// Sync modes of an entity.
const (
	SyncIncremental = "incremental"
	SyncFull        = "full"
)

// Plugin kinds: how a backend's connector is loaded.
const (
	// PluginBuiltin is a connector linked into this process.
	PluginBuiltin = "builtin"
	// PluginSubprocess is an executable speaking the go-plugin gRPC protocol.
	PluginSubprocess = "subprocess"
	// PluginWASM is a WebAssembly module run in the host's sandbox.
	PluginWASM = "wasm"
)

// ConflictPolicies are the conflict policy names an entity may choose; the
// engine's conflict package implements the same names. The first is the
// default.
var ConflictPolicies = []string{
	"server-wins",
	"device-wins",
	"device-wins-full",
	"merge",
	"last-writer-wins",
	"manual",
}

// DefaultConflictPolicy is the policy of an entity that names none.
const DefaultConflictPolicy = "server-wins"

// DefaultSync returns the sync settings of a config with no sync block; the
// numbers are Resco's defaults (3 threads, pages of 1000, batches of 100).
func DefaultSync() Sync {
	return Sync{
		DownloadThreads: 3,
		PageSize:        1000,
		UploadBatch:     100,
		Retries:         5,
		RetryBackoff:    500 * time.Millisecond,
	}
}

// Load reads and parses the config file at path. Problems in the file come
// back as an *Error naming path as it was given.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	// Parse refuses a file over maxFileSize; reading one byte more is
	// enough for it to tell.
	src, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	return Parse(src, path)
}

// Parse parses and validates a config. filename names the file in error
// messages, and its directory is the one relative paths are resolved
// against; with an empty filename messages say "<input>" and paths resolve
// against the working directory. Problems in the config come back as an
// *Error listing each of them.
//
// Syntax errors and structural ones (an unknown attribute or block, a block
// without its label, a second sync block) are reported first; when there are
// none, every remaining problem is reported together.
func Parse(src []byte, filename string) (*Config, error) {
	name := filename
	if name == "" {
		name = "<input>"
	}
	dir, err := filepath.Abs(filepath.Dir(filename))
	if err != nil {
		return nil, fmt.Errorf("config: directory of %s: %w", name, err)
	}
	cfg := &Config{Dir: dir}
	if filename != "" {
		cfg.Path = filepath.Join(dir, filepath.Base(filename))
	}
	if diags := decode(src, name, cfg); diags.HasErrors() {
		return nil, newError(diags)
	}
	return cfg, nil
}

// Error is a config that does not parse or validate. It carries every
// problem found, so a CLI can also render them with source snippets
// (hcl.NewDiagnosticTextWriter).
type Error struct {
	// Diagnostics are the problems, in file order; all are errors.
	Diagnostics hcl.Diagnostics
}

// newError keeps the error diagnostics of diags, sorted by position.
func newError(diags hcl.Diagnostics) *Error {
	var errs hcl.Diagnostics
	for _, d := range diags {
		if d != nil && d.Severity == hcl.DiagError {
			errs = append(errs, d)
		}
	}
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i].Subject, errs[j].Subject
		if a == nil || b == nil {
			return a == nil && b != nil
		}
		if a.Start.Line != b.Start.Line {
			return a.Start.Line < b.Start.Line
		}
		return a.Start.Column < b.Start.Column
	})
	return &Error{Diagnostics: errs}
}

// Error lists the problems one a line, each as
// "file:line,column: problem; hint", the first maxReported of them.
func (e *Error) Error() string {
	if e == nil || len(e.Diagnostics) == 0 {
		return "config: invalid configuration"
	}
	lines := make([]string, 0, min(len(e.Diagnostics), maxReported+1))
	for i, d := range e.Diagnostics {
		if i == maxReported {
			lines = append(lines, fmt.Sprintf("... and %d more problems", len(e.Diagnostics)-i))
			break
		}
		lines = append(lines, formatDiagnostic(d))
	}
	return strings.Join(lines, "\n")
}

var oneLine = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

func formatDiagnostic(d *hcl.Diagnostic) string {
	var b strings.Builder
	if d.Subject != nil {
		fmt.Fprintf(&b, "%s:%d,%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
	}
	summary := strings.TrimSpace(d.Summary)
	if summary == "" {
		summary = "invalid configuration"
	}
	b.WriteString(summary)
	if detail := strings.TrimSpace(d.Detail); detail != "" {
		b.WriteString("; ")
		b.WriteString(detail)
	}
	// One problem a line, whatever the text holds.
	return oneLine.Replace(b.String())
}
