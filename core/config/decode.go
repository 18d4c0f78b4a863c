package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/fieldsync/fieldsync/sdk"
)

// The file's schema. gohcl checks its shape (unknown attributes and blocks,
// block labels); every attribute stays an *hcl.Attribute so that the checker
// decodes it with a message naming the attribute, and can point at it.
// Required attributes and blocks are declared optional for the same reason.
type fileBody struct {
	Store      *hcl.Attribute  `hcl:"store,optional"`
	User       *hcl.Attribute  `hcl:"user,optional"`
	Device     *hcl.Attribute  `hcl:"device,optional"`
	AppVersion *hcl.Attribute  `hcl:"app_version,optional"`
	Backends   []*backendBlock `hcl:"backend,block"`
	Sync       *syncBlock      `hcl:"sync,block"`
	Policies   []*policyBlock  `hcl:"policy,block"`
	Entities   []*entityBlock  `hcl:"entity,block"`
	Roles      *hcl.Attribute  `hcl:"roles,optional"`
	RoleBlocks []*roleBlock    `hcl:"role,block"`
	Documents  *documentsBlock `hcl:"documents,block"`
}

// roleBlock is what one role takes offline: its entity blocks.
type roleBlock struct {
	Name      string         `hcl:"name,label"`
	NameRange hcl.Range      `hcl:"name,label_range"`
	DefRange  hcl.Range      `hcl:",def_range"`
	Entities  []*entityBlock `hcl:"entity,block"`
}

// filterBody is a filter block; decodeFilter reads its body.
type filterBody struct {
	DefRange hcl.Range `hcl:",def_range"`
	Body     hcl.Body  `hcl:",remain"`
}

type policyBlock struct {
	Name      string         `hcl:"name,label"`
	NameRange hcl.Range      `hcl:"name,label_range"`
	DefRange  hcl.Range      `hcl:",def_range"`
	Module    *hcl.Attribute `hcl:"module,optional"`
	Limits    *limitsBlock   `hcl:"limits,block"`
}

// limitsBlock bounds a WASM module's sandbox.
type limitsBlock struct {
	DefRange    hcl.Range      `hcl:",def_range"`
	MemoryMB    *hcl.Attribute `hcl:"memory_mb,optional"`
	CallTimeout *hcl.Attribute `hcl:"call_timeout,optional"`
}

type backendBlock struct {
	Name      string         `hcl:"name,label"`
	NameRange hcl.Range      `hcl:"name,label_range"`
	DefRange  hcl.Range      `hcl:",def_range"`
	Plugin    *hcl.Attribute `hcl:"plugin,optional"`
	Command   *hcl.Attribute `hcl:"command,optional"`
	Args      *hcl.Attribute `hcl:"args,optional"`
	Settings  *hcl.Attribute `hcl:"settings,optional"`
	// WASM plugins only.
	Module        *hcl.Attribute `hcl:"module,optional"`
	Allow         *hcl.Attribute `hcl:"allow,optional"`
	AllowPrivate  *hcl.Attribute `hcl:"allow_private,optional"`
	Credentials   *hcl.Attribute `hcl:"credentials,optional"`
	MaxResponseMB *hcl.Attribute `hcl:"max_response_mb,optional"`
	Limits        *limitsBlock   `hcl:"limits,block"`
}

type syncBlock struct {
	DownloadThreads *hcl.Attribute `hcl:"download_threads,optional"`
	PageSize        *hcl.Attribute `hcl:"page_size,optional"`
	UploadBatch     *hcl.Attribute `hcl:"upload_batch,optional"`
	Retries         *hcl.Attribute `hcl:"retries,optional"`
	RetryBackoff    *hcl.Attribute `hcl:"retry_backoff,optional"`
}

type entityBlock struct {
	Name          string         `hcl:"name,label"`
	NameRange     hcl.Range      `hcl:"name,label_range"`
	DefRange      hcl.Range      `hcl:",def_range"`
	Fields        *hcl.Attribute `hcl:"fields,optional"`
	Conflict      *hcl.Attribute `hcl:"conflict,optional"`
	Order         *hcl.Attribute `hcl:"order,optional"`
	ModifiedField *hcl.Attribute `hcl:"modified_field,optional"`
	// Scope: which rows, how they sync.
	Where       *hcl.Attribute `hcl:"where,optional"`
	Filter      *filterBody    `hcl:"filter,block"`
	SyncMode    *hcl.Attribute `hcl:"sync_mode,optional"`
	OnlineOnly  *hcl.Attribute `hcl:"online_only,optional"`
	RelatedOnly *hcl.Attribute `hcl:"download_only_related,optional"`
}

// Ranges the checker enforces; DefaultSync holds the defaults.
const (
	minThreads, maxThreads   = 1, 16
	minPageSize, maxPageSize = 100, 5000 // Resco's range
	minBatch, maxBatch       = 1, 1000
	minRetries, maxRetries   = 0, 20
	minBackoff, maxBackoff   = time.Millisecond, time.Hour
	minOrder, maxOrder       = 0, 1_000_000
	minMemoryMB, maxMemoryMB = 16, 4096
	minCall, maxCall         = 10 * time.Millisecond, time.Hour
	minRespMB, maxRespMB     = 1, 1024
)

const (
	// settingPath is the one backend setting the core resolves: by
	// convention it names a file.
	settingPath      = "path"
	defaultOrderHint = "its position among the entity blocks"
)

var utf8BOM = []byte("\xef\xbb\xbf")

// hostname names the device when the file does not; tests replace it.
var hostname = os.Hostname

// decode parses src and fills cfg. Syntax and shape errors stop it; after
// them, every value is checked and all problems are returned together.
func decode(src []byte, filename string, cfg *Config) hcl.Diagnostics {
	// Windows editors like to start a file with a byte-order mark; HCL
	// would call it an invalid character.
	src = bytes.TrimPrefix(src, utf8BOM)
	if diags := checkLimits(src, filename); diags.HasErrors() {
		return diags
	}
	file, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() || file == nil {
		return diags
	}
	var body fileBody
	if d := gohcl.DecodeBody(file.Body, nil, &body); d.HasErrors() {
		return append(diags, d...)
	}
	c := &checker{src: src}
	c.root(&body, file.Body.MissingItemRange(), cfg)
	return append(diags, c.diags...)
}

func (c *checker) root(b *fileBody, missing hcl.Range, cfg *Config) {
	if c.required(b.Store, missing, `"store" is required`,
		`the local SQLite file, relative to the config file's directory, e.g. store = "device.db"`) {
		if s, ok := c.text("store", b.Store); ok {
			cfg.Store = resolve(cfg.Dir, s)
		}
	}
	if c.required(b.User, missing, `"user" is required`, `who syncs on this device, e.g. user = "alice"`) {
		if s, ok := c.text("user", b.User); ok {
			cfg.User = s
		}
	}
	if isSet(b.Device) {
		if s, ok := c.text("device", b.Device); ok {
			cfg.Device = s
		}
	} else if h, err := hostname(); err != nil || strings.TrimSpace(h) == "" {
		c.report(missing, `"device" is not set and the hostname is unknown`,
			`name this device, e.g. device = "laptop-1"`)
	} else {
		cfg.Device = h
	}
	if s, ok := c.str("app_version", b.AppVersion); ok {
		cfg.AppVersion = s
	}

	switch len(b.Backends) {
	case 0:
		c.report(missing, "a backend block is required",
			`exactly one, e.g. backend "mock" { plugin = "builtin" }`)
	default:
		for _, extra := range b.Backends[1:] {
			c.report(extra.DefRange, "backend "+short(extra.Name)+": only one backend block is allowed",
				fmt.Sprintf("the first is at line %d", b.Backends[0].DefRange.Start.Line))
		}
		c.backend(b.Backends[0], cfg)
	}

	cfg.Sync = DefaultSync()
	if b.Sync != nil {
		c.sync(b.Sync, &cfg.Sync)
	}

	c.policies(b.Policies, cfg)
	c.entities(b, cfg)
	c.documents(b.Documents, cfg)
}

func (c *checker) backend(b *backendBlock, cfg *Config) {
	be := &cfg.Backend
	be.Name = b.Name
	where := "backend " + short(b.Name)
	c.checkName(b.NameRange, "backend", b.Name)

	be.Plugin = PluginBuiltin
	pluginOK := true
	if s, ok := c.str(where+": plugin", b.Plugin); ok {
		switch s {
		case PluginBuiltin, PluginSubprocess, PluginWASM:
			be.Plugin = s
		default:
			c.attrError(b.Plugin, fmt.Sprintf("%s: unknown plugin %s", where, short(s)),
				"valid: builtin, subprocess, wasm")
			pluginOK = false
		}
	} else if isSet(b.Plugin) {
		pluginOK = false
	}

	wasmOnly := []*hcl.Attribute{b.Module, b.Allow, b.AllowPrivate, b.Credentials, b.MaxResponseMB}
	switch {
	case !pluginOK:
		// Whether command belongs here depends on the plugin kind.
	case be.Plugin == PluginSubprocess:
		if c.required(b.Command, b.DefRange, where+": a subprocess plugin needs a command",
			`the plugin executable, relative to the config file's directory, e.g. command = "./fieldsync-plugin-mock"`) {
			if s, ok := c.text(where+": command", b.Command); ok {
				be.Command = resolve(cfg.Dir, s)
			}
		}
		if args, ok := c.list(where+": args", b.Args); ok {
			be.Args = args
		}
	case be.Plugin == PluginWASM:
		be.WASM = c.wasm(where, b, cfg.Dir)
	default:
		for _, a := range []*hcl.Attribute{b.Command, b.Args} {
			if isSet(a) {
				c.attrError(a, fmt.Sprintf("%s: %s is only for subprocess plugins", where, a.Name),
					`set plugin = "subprocess" or remove it`)
			}
		}
	}
	if pluginOK && be.Plugin != PluginWASM {
		for _, a := range wasmOnly {
			if isSet(a) {
				c.attrError(a, fmt.Sprintf("%s: %s is only for wasm plugins", where, a.Name),
					`set plugin = "wasm" or remove it`)
			}
		}
		if b.Limits != nil {
			c.report(b.Limits.DefRange, where+": limits are only for wasm plugins", `set plugin = "wasm" or remove the block`)
		}
	}

	be.Settings = map[string]string{}
	if m, ok := c.strMap(where+": settings", b.Settings); ok {
		be.Settings = m
		if p := m[settingPath]; strings.TrimSpace(p) != "" {
			m[settingPath] = resolve(cfg.Dir, p)
		}
	}
}

func (c *checker) sync(b *syncBlock, s *Sync) {
	d := DefaultSync()
	if n, ok := c.integer("sync: download_threads", b.DownloadThreads, minThreads, maxThreads, fmt.Sprint(d.DownloadThreads)); ok {
		s.DownloadThreads = n
	}
	if n, ok := c.integer("sync: page_size", b.PageSize, minPageSize, maxPageSize, fmt.Sprint(d.PageSize)); ok {
		s.PageSize = n
	}
	if n, ok := c.integer("sync: upload_batch", b.UploadBatch, minBatch, maxBatch, fmt.Sprint(d.UploadBatch)); ok {
		s.UploadBatch = n
	}
	if n, ok := c.integer("sync: retries", b.Retries, minRetries, maxRetries, fmt.Sprint(d.Retries)); ok {
		s.Retries = n
	}
	if v, ok := c.duration("sync: retry_backoff", b.RetryBackoff, minBackoff, maxBackoff, d.RetryBackoff.String()); ok {
		s.RetryBackoff = v
	}
}

// entities reads the entity blocks at the top (every user's) and in the
// roles, and merges what the user's roles select (see Entity).
func (c *checker) entities(b *fileBody, cfg *Config) {
	roleDefs := map[string]*roleBlock{}
	for _, r := range b.RoleBlocks {
		if !c.checkName(r.NameRange, "role", r.Name) {
			continue
		}
		if prev, dup := roleDefs[r.Name]; dup {
			c.report(r.DefRange, "role "+short(r.Name)+": declared twice",
				fmt.Sprintf("the first is at line %d; merge the two blocks", prev.DefRange.Start.Line))
			continue
		}
		roleDefs[r.Name] = r
	}
	if roles, ok := c.list("roles", b.Roles); ok {
		seen := map[string]bool{}
		for _, r := range roles {
			switch {
			case roleDefs[r] == nil:
				valid := make([]string, 0, len(roleDefs))
				for n := range roleDefs {
					valid = append(valid, n)
				}
				sort.Strings(valid)
				c.attrError(b.Roles, fmt.Sprintf("roles: no role block %s", short(r)),
					"declared roles: "+strings.Join(valid, ", "))
			case seen[r]:
				c.attrError(b.Roles, fmt.Sprintf("roles: %s is listed twice", short(r)), "")
			}
			seen[r] = true
		}
		cfg.Roles = roles
	}
	// Every role is checked, assigned or not: a mistake in a role waits
	// for no user to find it.
	var decls []entityDecl
	decls = append(decls, c.entityDecls("", b.Entities, cfg)...)
	for _, r := range b.RoleBlocks {
		ds := c.entityDecls(r.Name, r.Entities, cfg)
		if slices.Contains(cfg.Roles, r.Name) {
			decls = append(decls, ds...)
		}
	}
	cfg.Entities = c.mergeEntities(decls)
	// A stable sort keeps declaration order among equal orders, which is
	// what makes "default: declaration order" hold when some entities
	// name an order and others do not.
	sort.SliceStable(cfg.Entities, func(i, j int) bool {
		return cfg.Entities[i].Order < cfg.Entities[j].Order
	})
}

// entityDecl is one entity block: the entity as one role (or the top of the
// file, role "") declares it.
type entityDecl struct {
	Entity
	role          string
	block         *entityBlock
	conflictSet   bool
	orderSet      bool
	filterChecked bool // the filter decoded (or there is none)
}

func (c *checker) entityDecls(role string, blocks []*entityBlock, cfg *Config) []entityDecl {
	first := map[string]hcl.Range{}
	var out []entityDecl
	for i, b := range blocks {
		where := "entity " + short(b.Name)
		if role != "" {
			where = "role " + short(role) + ": " + where
		}
		if c.checkName(b.NameRange, "entity", b.Name) {
			if r, dup := first[b.Name]; dup {
				c.report(b.DefRange, where+": declared twice",
					fmt.Sprintf("the first is at line %d; merge the two blocks", r.Start.Line))
			} else {
				first[b.Name] = b.DefRange
			}
		}
		d := entityDecl{Entity: Entity{Name: b.Name, Conflict: DefaultConflictPolicy, Order: i + 1}, role: role, block: b}

		if fields, ok := c.list(where+": fields", b.Fields); ok {
			if len(fields) == 0 {
				c.attrError(b.Fields, where+": fields is empty",
					"remove fields to sync every field the backend offers")
			}
			seen := map[string]bool{}
			for _, f := range fields {
				if !c.checkName(b.Fields.Range, where+": field", f) {
					continue
				}
				if seen[f] {
					c.attrError(b.Fields, fmt.Sprintf("%s: field %s is listed twice", where, short(f)), "")
				}
				seen[f] = true
			}
			d.Fields = fields
		}

		if s, ok := c.str(where+": conflict", b.Conflict); ok {
			valid := append(slices.Clone(ConflictPolicies), policyNames(cfg)...)
			if slices.Contains(valid, s) {
				d.Conflict, d.conflictSet = s, true
			} else {
				c.attrError(b.Conflict, fmt.Sprintf("%s: unknown conflict policy %s", where, short(s)),
					"valid: "+strings.Join(valid, ", "))
			}
		}

		if n, ok := c.integer(where+": order", b.Order, minOrder, maxOrder, defaultOrderHint); ok {
			d.Order, d.orderSet = n, true
		}

		if s, ok := c.text(where+": modified_field", b.ModifiedField); ok {
			if c.checkName(b.ModifiedField.Range, where+": modified_field", s) {
				d.ModifiedField = s
			}
		}

		if s, ok := c.str(where+": sync_mode", b.SyncMode); ok {
			switch s {
			case SyncIncremental, SyncFull:
				d.SyncMode = s
			default:
				c.attrError(b.SyncMode, fmt.Sprintf("%s: unknown sync_mode %s", where, short(s)),
					`valid: incremental (changes since the last sync; the default), full (the whole entity every sync)`)
			}
		}
		if v, ok := c.boolean(where+": online_only", b.OnlineOnly); ok {
			d.OnlineOnly = v
		}
		if v, ok := c.boolean(where+": download_only_related", b.RelatedOnly); ok {
			d.RelatedOnly = v
		}

		d.filterChecked = true
		switch {
		case isSet(b.Where) && b.Filter != nil:
			c.attrError(b.Where, where+": both where and a filter block",
				fmt.Sprintf("keep one: the filter block is at line %d", b.Filter.DefRange.Start.Line))
			d.filterChecked = false
		case isSet(b.Where):
			f, diags := parseFilterText(b.Where)
			c.diags = append(c.diags, prefixDiags(where+": where", diags)...)
			d.Filter, d.filterChecked = f, !diags.HasErrors()
		case b.Filter != nil:
			f, diags := decodeFilter(b.Filter.Body)
			c.diags = append(c.diags, prefixDiags(where+": filter", diags)...)
			d.Filter, d.filterChecked = f, !diags.HasErrors()
		}
		if d.OnlineOnly && (d.Filter != nil || d.RelatedOnly) {
			c.report(b.DefRange, where+": an online_only entity is not downloaded",
				"remove its filter and download_only_related, or online_only")
		}
		out = append(out, d)
	}
	return out
}

// prefixDiags names where a filter's problems sit.
func prefixDiags(where string, diags hcl.Diagnostics) hcl.Diagnostics {
	for _, d := range diags {
		d.Summary = where + ": " + d.Summary
	}
	return diags
}

// mergeEntities unites the declarations of each entity: the user gets a row
// if any of their roles does. See Entity for how each setting merges.
func (c *checker) mergeEntities(decls []entityDecl) []Entity {
	var order []string
	byName := map[string][]entityDecl{}
	for _, d := range decls {
		if _, ok := byName[d.Name]; !ok {
			order = append(order, d.Name)
		}
		byName[d.Name] = append(byName[d.Name], d)
	}
	var out []Entity
	for _, name := range order {
		ds := byName[name]
		e := ds[0].Entity
		for _, d := range ds {
			if d.role != "" {
				e.Roles = append(e.Roles, d.role)
			}
		}
		if len(ds) == 1 {
			out = append(out, e)
			continue
		}
		e.Order = 0
		allFields := false
		var fields []string
		seenField := map[string]bool{}
		conflictFrom := ""
		e.OnlineOnly, e.RelatedOnly = true, ds[0].RelatedOnly
		for _, d := range ds {
			who := "the file's top"
			if d.role != "" {
				who = "role " + short(d.role)
			}
			if d.orderSet && (e.Order == 0 || d.Order < e.Order) {
				e.Order = d.Order
			}
			if d.Fields == nil {
				allFields = true
			}
			for _, f := range d.Fields {
				if !seenField[f] {
					seenField[f] = true
					fields = append(fields, f)
				}
			}
			if d.conflictSet {
				if conflictFrom != "" && d.Conflict != e.Conflict {
					c.report(d.block.DefRange, fmt.Sprintf("entity %s: the user's roles choose different conflict policies (%s, %s)", short(name), e.Conflict, d.Conflict),
						fmt.Sprintf("%s and %s must agree, or only one may set it", conflictFrom, who))
				}
				e.Conflict, conflictFrom = d.Conflict, who
			}
			if d.SyncMode == SyncFull {
				e.SyncMode = SyncFull
			}
			e.OnlineOnly = e.OnlineOnly && d.OnlineOnly
			if d.RelatedOnly != e.RelatedOnly {
				c.report(d.block.DefRange, fmt.Sprintf("entity %s: the user's roles disagree on download_only_related", short(name)),
					"every role that selects the entity must set it the same way")
			}
			if e.ModifiedField == "" {
				e.ModifiedField = d.ModifiedField
			}
		}
		if e.Order == 0 {
			e.Order = ds[0].Order
		}
		if allFields {
			e.Fields = nil
		} else {
			e.Fields = fields
		}
		// The union of the roles' rows: any role without a filter takes
		// every row.
		e.Filter = nil
		unfiltered := false
		var alts []*sdk.Filter
		for _, d := range ds {
			if d.Filter == nil {
				unfiltered = true
				break
			}
			alts = append(alts, d.Filter)
		}
		if !unfiltered {
			e.Filter = sdk.Or(alts...)
		}
		out = append(out, e)
	}
	return out
}

// resolve makes p absolute against dir, the config file's directory.
func resolve(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}
