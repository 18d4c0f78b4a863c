package config

import (
	"fmt"
	"strings"
	"text/template"
	"unicode"
)

// StarterOptions fill in a starter config. Empty fields take the defaults
// noted on each.
type StarterOptions struct {
	// ServerPath is the mock backend's server file (default "server.db").
	ServerPath string
	// StorePath is the device's local SQLite file (default "device.db").
	StorePath string
	// User is who syncs (default "user").
	User string
	// Device names the device; empty leaves it to the hostname.
	Device string
}

// Starter returns a starter config for the mock backend with every attribute
// explained in a comment, as `fieldsync init` writes it. Paths are written
// as given, so relative ones are resolved against the directory the file is
// saved in. It parses back cleanly whatever the options hold.
func Starter(opts StarterOptions) []byte {
	data := struct {
		Store, Server, User, Device string
		DeviceSet                   bool
		Sync                        Sync
		Policies                    string
	}{
		Store:     quote(orDefault(opts.StorePath, "device.db")),
		Server:    quote(orDefault(opts.ServerPath, "server.db")),
		User:      quote(orDefault(opts.User, "user")),
		Device:    quote(orDefault(opts.Device, "laptop-1")),
		DeviceSet: strings.TrimSpace(opts.Device) != "",
		Sync:      DefaultSync(),
		Policies:  strings.Join(ConflictPolicies, " | "),
	}
	var b strings.Builder
	if err := starterTemplate.Execute(&b, data); err != nil {
		// The template and its data are ours; this is a bug, not input.
		panic(fmt.Sprintf("config: starter template: %v", err))
	}
	return []byte(b.String())
}

func orDefault(s, dflt string) string {
	if strings.TrimSpace(s) == "" {
		return dflt
	}
	return s
}

// quote writes s as an HCL string literal. Invalid UTF-8 becomes U+FFFD, and
// "${" and "%{" are written with an escaped first rune so they stay text
// rather than start a template.
func quote(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.WriteByte('"')
	for i, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case (r == '$' || r == '%') && strings.HasPrefix(s[i+1:], "{"):
			fmt.Fprintf(&b, `\u%04X`, r)
		case !unicode.IsPrint(r) && r <= 0xFFFF:
			fmt.Fprintf(&b, `\u%04X`, r)
		case !unicode.IsPrint(r):
			fmt.Fprintf(&b, `\U%08X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

var starterTemplate = template.Must(template.New("starter").Parse(`# fieldsync configuration: how this device syncs.
#
# Relative paths (store, a backend's command and its "path" setting) are
# resolved against the directory of this file, not the working directory.
# An optional attribute that is left out, or set to null, takes its default.

# The local SQLite database the host app reads and writes with plain SQL.
store = {{.Store}}

# Who syncs on this device; sync logs and user-dependent filters name them.
user = {{.User}}

# This device's name in sync logs. Default: the machine's hostname.
{{if not .DeviceSet}}# {{end}}device = {{.Device}}

# The host app's version, recorded in sync logs. Optional.
# app_version = "1.0.0"

# The backend this device syncs with; exactly one. The label is the
# connector's name.
backend "mock" {
  # How the connector is loaded: "builtin" (linked into fieldsync, the
  # default), "subprocess" (a plugin executable) or "wasm" (a WebAssembly
  # module run in fieldsync's sandbox).
  plugin = "builtin"

  # Subprocess plugins only: the executable (relative to this file's
  # directory, no PATH lookup) and its arguments.
  # command = "./fieldsync-plugin-mock"
  # args    = ["--verbose"]

  # WASM plugins only. The module, and the only places it may reach over
  # HTTP (scheme://host[:port]; "*.example.com" for subdomains). Private
  # and loopback addresses are refused unless allow_private = true (an
  # emulator on 127.0.0.1 needs it). credentials are Authorization header
  # values the host adds for an allowed destination: the module never
  # sees them. max_response_mb bounds one response (default 16).
  # module          = "plugins/mock.wasm"
  # allow           = ["http://127.0.0.1:8080"]
  # allow_private   = true
  # credentials     = { "http://127.0.0.1:8080" = "Bearer a-secret" }
  # max_response_mb = 16
  # limits {
  #   memory_mb    = 256    # memory of one module instance, 16..4096
  #   call_timeout = "60s"  # one call into the module; a runaway is stopped
  # }

  # Settings handed to the connector as strings. The mock's are:
  #   path    the server SQLite file all devices share (resolved like store)
  #   create  "true" lays out a new server file with the demo data model
  #   user    the name the server's request log records
  #   pool    SQLite connections at most (1..64, default 4)
  settings = {
    path   = {{.Server}}
    create = "true"
  }
}

# Conflict policies shipped as WASM modules, chosen by name in entity blocks
# like the built-in ones. limits { } as for a wasm backend.
# policy "numbers-max" {
#   module = "policies/numbers-max.wasm"
# }

# Tuning of the sync cycle. Every attribute is optional; the values below are
# the defaults.
sync {
  # Entities downloaded in parallel, 1..16.
  download_threads = {{.Sync.DownloadThreads}}
  # Records per downloaded page, 100..5000. Larger pages mean fewer
  # requests and more memory per request.
  page_size = {{.Sync.PageSize}}
  # Local changes sent per upload request, 1..1000.
  upload_batch = {{.Sync.UploadBatch}}
  # Retryable failures one batch may meet before this sync gives up, 0..20.
  retries = {{.Sync.Retries}}
  # Wait before the first retry, doubled on each further one; 1ms..1h.
  retry_backoff = "{{.Sync.RetryBackoff}}"
}

# Attachments of the rows on the device. Without a documents block none
# download. Sizes are megabytes (fractions allowed): 0 = none, -1 = no
# limit. A document over its limit, or over the quota, stays listed as
# blocked; "fieldsync documents get ID" fetches it on demand.
# documents {
#   max_size_mb = 10                     # default -1 (no limit)
#   parallel    = 5                      # downloads at once, 1..32
#   quota_mb    = 500                    # total kept on the device; default 0 (none)
#   include     = ["account", "contact"] # only these entities' documents
#   exclude     = []                     # never these entities' documents
#   dir         = "documents"            # default: next to the store
#   suffix ".pdf" { max_size_mb = 50 }   # by the end of the file name
#   entity "contact" {                   # one entity's own limits
#     max_size_mb = 2
#     suffix ".jpg" { max_size_mb = 0.5 }
#   }
# }

# The entities to sync. With no entity block, every entity the backend offers
# syncs with all its fields and the server-wins policy; with entity blocks,
# only those entities sync. For example:
#
# entity "account" {
#   # The fields to sync. Default: every field the backend offers.
#   fields = ["name", "city"]
#   # What happens when the device and the server both changed a record:
#   # {{.Policies}}.
#   # server-wins (the default) keeps the server's version; device-wins sends
#   # the fields the device changed; device-wins-full sends the whole device
#   # record; merge merges field by field against the common base;
#   # last-writer-wins keeps the later change by modified_field; manual parks
#   # the conflict for a person.
#   conflict = "server-wins"
#   # Download order, lower first, 0..1000000 (parents before children).
#   # Default: the block's position in this file.
#   order = 1
#   # The timestamp field last-writer-wins compares (Dataverse: modifiedon).
#   # Optional.
#   modified_field = "modifiedon"
#   # Which rows go offline, evaluated by the server: the compact text form
#   # (operators: eq ne lt le gt ge in not-in like begins-with null not-null
#   # last-x-days next-x-days on-or-after eq-userid ne-userid eq-businessid
#   # eq-useroruserteams, "lookup link (...)" for the parent row; and, or,
#   # not, parentheses), or a filter { } block of condition, and, or, not
#   # and link "lookup" blocks. Default: every row.
#   where = "active eq true and createdon last-x-days 365"
#   # incremental (the default: changes since the last sync) or full (the
#   # whole entity every sync).
#   sync_mode = "incremental"
#   # true keeps the entity off the device: the app reads it online.
#   online_only = false
# }
#
# entity "contact" {
#   conflict = "merge"
#   # Only the contacts of accounts on the device; cleanup removes orphans.
#   download_only_related = true
#   filter {
#     condition {
#       field = "lastname"
#       op    = "not-null"
#     }
#   }
# }

# Roles: a user gets the entity blocks above plus those of each role in
# roles, united (any role's rows and fields; see the README). For example:
# roles = ["sales"]
# role "sales" {
#   entity "opportunity" {
#     where = "ownerid eq-userid and statecode eq 0"
#   }
# }
`))
