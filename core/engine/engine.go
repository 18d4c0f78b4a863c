// Package engine runs fieldsync's sync cycle on a device: prepare, upload
// the outbox, download every entity, clean up, and write the sync log. It
// drives a connector (any transport) and a local store; it decides order,
// batching, retries and parallelism, and asks conflict policies when a
// local change meets a different server state. It knows nothing of how
// rows are stored (store) or how a backend is reached (connectors).
package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/core/conflict"
	"github.com/fieldsync/fieldsync/core/store"
	"github.com/fieldsync/fieldsync/sdk"
)

// EntityConfig selects an entity for the device and says how to sync it.
type EntityConfig struct {
	Name   string
	Fields []string // nil: every field the backend offers
	// Conflict names the conflict policy; empty means server-wins.
	Conflict string
	// Order sorts the downloads (lower first); ties keep configuration order.
	Order int
	// ModifiedField names the field holding the server's modification time,
	// for last-writer-wins.
	ModifiedField string
	// Filter selects the rows the device gets; nil means every row. The
	// server evaluates it (the connector must list its operators in
	// Info.FilterOps); values are converted to the fields' types first.
	Filter *sdk.Filter
	// SyncMode is SyncIncremental (the default) or SyncFull: read the
	// whole entity at every sync (for entities without change tracking or
	// that must be exact each time).
	SyncMode string
	// RelatedOnly downloads a row only while a parent row it names (through
	// a lookup to another configured entity) is on the device; cleanup
	// removes the orphans.
	RelatedOnly bool
	// OnlineOnly keeps the entity off the device: it is not downloaded (the
	// app reads it online) and a table it had is dropped.
	OnlineOnly bool
}

// Sync modes of an entity.
const (
	SyncIncremental = "incremental"
	SyncFull        = "full"
)

// Options configure an Engine. Store and Connector are required.
type Options struct {
	Store     *store.Store
	Connector sdk.Connector
	Logger    hclog.Logger
	// Entities to sync; empty means every entity the backend offers.
	Entities []EntityConfig

	DownloadThreads int           // entities downloaded at once; default 3
	PageSize        int           // rows per page; default 1000
	UploadBatch     int           // changes per push; default 100
	Retries         int           // attempts at a retryable failure; default 5
	RetryBackoff    time.Duration // first wait between attempts, doubled each time; default 500ms
	MaxBackoff      time.Duration // longest wait between attempts; default 30s

	User, Device, AppVersion string
	// Policies resolves policy names; nil uses conflict.Default.
	Policies *conflict.Registry
	// OnEvent, if set, receives progress events.
	OnEvent func(Event)
	// Documents turns the documents phase on (nil: off); see documents.go.
	Documents *DocumentOptions
}

// Engine syncs one device with one backend. Sync may not run twice at once.
type Engine struct {
	opts    Options
	log     hclog.Logger
	running sync.Mutex
}

// New checks opts and fills in defaults.
func New(opts Options) (*Engine, error) {
	if opts.Store == nil || opts.Connector == nil {
		return nil, errors.New("engine: a store and a connector are required")
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.DownloadThreads <= 0 {
		opts.DownloadThreads = 3
	}
	if opts.PageSize <= 0 {
		opts.PageSize = sdk.DefaultPageSize
	}
	if opts.UploadBatch <= 0 {
		opts.UploadBatch = 100
	}
	if opts.Retries <= 0 {
		opts.Retries = 5
	}
	if opts.RetryBackoff <= 0 {
		opts.RetryBackoff = 500 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	opts.MaxBackoff = max(opts.MaxBackoff, opts.RetryBackoff)
	if opts.Policies == nil {
		opts.Policies = conflict.Default
	}
	if err := prepareDocuments(&opts); err != nil {
		return nil, err
	}
	for _, ec := range opts.Entities {
		if _, err := opts.Policies.Lookup(policyName(ec.Conflict)); err != nil {
			return nil, fmt.Errorf("entity %s: %w", ec.Name, err)
		}
	}
	return &Engine{opts: opts, log: opts.Logger}, nil
}

func policyName(n string) string {
	if n == "" {
		return conflict.ServerWins
	}
	return n
}

// SyncOptions narrow one sync.
type SyncOptions struct {
	// Entities limits the cycle to these entities (a SmartSync); empty
	// means all configured entities. Upload always sends the whole outbox,
	// so no change waits behind a partial sync.
	Entities []string
}

// plan is what prepare worked out for one cycle.
type plan struct {
	info     sdk.Info
	schema   *sdk.Schema
	entities []*entityPlan // download order
	rank     map[string]int
	byName   map[string]*entityPlan
}

type entityPlan struct {
	cfg    EntityConfig
	ent    *sdk.Entity
	fields []string
	kinds  []sdk.Kind
	policy conflict.Policy
	// filter is what the server is asked for: the configured filter with
	// typed values, and for a RelatedOnly entity the link to its parents.
	filter *sdk.Filter
	// parents are the links a RelatedOnly entity's rows need one of.
	parents []store.ParentLink
}

// Sync runs one cycle and returns its log, which is also stored. The error
// is non-nil when the cycle failed (the log says where); a cancelled context
// stops the cycle between pages and batches, keeping what was committed.
func (e *Engine) Sync(ctx context.Context, so SyncOptions) (*Log, error) {
	e.running.Lock()
	defer e.running.Unlock()
	lg := &Log{
		User: e.opts.User, Device: e.opts.Device, AppVersion: e.opts.AppVersion,
		Platform: runtime.GOOS + "/" + runtime.GOARCH, Started: time.Now().UTC(),
	}
	usage, hasUsage := sdk.AsUsageReporter(ctx, e.opts.Connector)
	var before sdk.Usage
	if hasUsage {
		var uerr error
		if before, uerr = usage.Usage(ctx); uerr != nil {
			e.log.Warn("the connector's usage is unknown", "error", uerr)
			hasUsage = false
		}
	}
	err := e.cycle(ctx, so, lg)
	if hasUsage {
		e.noteUsage(ctx, usage, before, lg)
	}
	lg.Ended = time.Now().UTC()
	switch {
	case errors.Is(err, context.Canceled):
		lg.Result = "canceled"
	case err != nil || len(lg.Errors) > 0:
		lg.Result = "failed"
		if err != nil && !hasError(lg, err) {
			lg.addError("sync", "", err)
		}
	default:
		lg.Result = "ok"
	}
	// The log is written even when the cycle was cancelled: a fresh
	// context, bounded, so a cancelled sync still leaves its record.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	start := time.Now()
	if id, werr := e.saveLog(wctx, lg); werr != nil {
		e.log.Error("writing the sync log failed", "error", werr)
	} else {
		lg.ID = id
	}
	lg.Phases = append(lg.Phases, PhaseLog{"finalize", time.Since(start).Milliseconds()})
	if err == nil && lg.Result == "failed" {
		err = fmt.Errorf("sync finished with %d error(s); first: %s", len(lg.Errors), lg.Errors[0].Message)
	}
	return lg, err
}

func (e *Engine) cycle(ctx context.Context, so SyncOptions, lg *Log) error {
	phase := func(name string, fn func() error) error {
		start := time.Now()
		e.emit(Event{Phase: name})
		err := fn()
		lg.Phases = append(lg.Phases, PhaseLog{name, time.Since(start).Milliseconds()})
		e.emit(Event{Phase: name, Done: true, Err: err})
		return err
	}
	var p *plan
	if err := phase("prepare", func() (err error) {
		p, err = e.prepare(ctx, so, lg)
		if p != nil {
			lg.Connector = p.info.Name
		}
		return err
	}); err != nil {
		lg.addError("prepare", "", err)
		return err
	}
	// Upload first, so the server has the device's changes even if a later
	// phase fails. An upload failure does not stop the download: the device
	// still gets the server's changes, and its own wait in the outbox.
	if err := phase("upload", func() error { return e.upload(ctx, p, lg) }); err != nil && ctx.Err() != nil {
		return err
	}
	if err := phase("download", func() error { return e.download(ctx, p, lg) }); err != nil && ctx.Err() != nil {
		return err
	}
	// Cleanup before documents, so the documents of rows that left the
	// device go with them in this same sync.
	cleanErr := phase("cleanup", func() error { return e.cleanup(ctx, p, lg) })
	if cleanErr != nil && ctx.Err() != nil {
		return cleanErr
	}
	if err := e.documentsPhase(ctx, p, lg, phase); err != nil {
		return err
	}
	return cleanErr
}

func (e *Engine) emit(ev Event) {
	if e.opts.OnEvent != nil {
		e.opts.OnEvent(ev)
	}
}

// prepare reads the backend's schema, checks the configuration against it,
// sets up every entity's table (a changed field selection means that entity
// alone is downloaded again) and works out the orders.
func (e *Engine) prepare(ctx context.Context, so SyncOptions, lg *Log) (*plan, error) {
	var info sdk.Info
	if err := e.retry(ctx, "connector info", func() (err error) {
		info, err = e.opts.Connector.Info(ctx)
		return err
	}); err != nil {
		return nil, err
	}
	var schema *sdk.Schema
	if err := e.retry(ctx, "connector schema", func() (err error) {
		schema, err = e.opts.Connector.Schema(ctx)
		return err
	}); err != nil {
		return nil, err
	}
	if err := schema.Validate(); err != nil {
		return nil, err
	}
	cfgs := e.opts.Entities
	if len(cfgs) == 0 {
		for _, ent := range schema.Entities {
			cfgs = append(cfgs, EntityConfig{Name: ent.Name})
		}
	}
	p := &plan{info: info, schema: schema, byName: map[string]*entityPlan{}}
	for i, cfg := range cfgs {
		ent := schema.Entity(cfg.Name)
		if ent == nil {
			return nil, fmt.Errorf("entity %q is configured but the %s backend has no such entity", cfg.Name, info.Name)
		}
		if cfg.Order == 0 {
			cfg.Order = i + 1
		}
		switch cfg.SyncMode {
		case "", SyncIncremental, SyncFull:
		default:
			return nil, fmt.Errorf("entity %s: unknown sync mode %q (want %s or %s)", cfg.Name, cfg.SyncMode, SyncIncremental, SyncFull)
		}
		pol, err := e.opts.Policies.Lookup(policyName(cfg.Conflict))
		if err != nil {
			return nil, fmt.Errorf("entity %s: %w", cfg.Name, err)
		}
		ep := &entityPlan{cfg: cfg, ent: ent, policy: pol, fields: cfg.Fields}
		if ep.fields == nil {
			ep.fields = ent.FieldNames()
		}
		for _, f := range ep.fields {
			fd := ent.Field(f)
			if fd == nil {
				return nil, fmt.Errorf("entity %s: the backend has no field %q", cfg.Name, f)
			}
			ep.kinds = append(ep.kinds, fd.Type.Kind())
		}
		p.byName[cfg.Name] = ep
	}
	if err := scopeFilters(p, cfgs); err != nil {
		return nil, err
	}
	for _, cfg := range cfgs {
		ep := p.byName[cfg.Name]
		if cfg.OnlineOnly {
			delete(p.byName, cfg.Name)
			continue
		}
		if _, err := e.opts.Store.EnsureEntity(ctx, *ep.ent, ep.fields); err != nil {
			return nil, fmt.Errorf("set up %s: %w", cfg.Name, err)
		}
		resync, err := e.opts.Store.SetScope(ctx, cfg.Name, filterSignature(ep.filter))
		if err != nil {
			return nil, fmt.Errorf("set up %s: %w", cfg.Name, err)
		}
		if resync {
			e.log.Info("the entity's filter changed: reading it again", "entity", cfg.Name)
		}
		p.entities = append(p.entities, ep)
	}
	if err := e.dropUnselected(ctx, p, lg); err != nil {
		return nil, err
	}
	sort.SliceStable(p.entities, func(i, j int) bool { return p.entities[i].cfg.Order < p.entities[j].cfg.Order })
	p.rank = dependencyRank(p.entities)
	if len(so.Entities) > 0 {
		var subset []*entityPlan
		for _, name := range so.Entities {
			ep, ok := p.byName[name]
			if !ok {
				return nil, fmt.Errorf("entity %q is not configured for sync", name)
			}
			subset = append(subset, ep)
		}
		sort.SliceStable(subset, func(i, j int) bool { return subset[i].cfg.Order < subset[j].cfg.Order })
		p.entities = subset
	}
	return p, nil
}

// dependencyRank orders entities so that every parent (an entity another
// one references through a lookup or relationship) ranks before its
// children. Entities that reference each other (account's primary contact,
// contact's parent account) form a group that ranks in configuration
// order, the group as a whole after its own parents and before its
// children.
func dependencyRank(eps []*entityPlan) map[string]int {
	order := map[string]int{} // configuration position
	for i, ep := range eps {
		order[ep.ent.Name] = i
	}
	parents := map[string][]string{}
	for _, ep := range eps {
		add := func(p string) {
			if _, ok := order[p]; ok && p != ep.ent.Name {
				parents[ep.ent.Name] = append(parents[ep.ent.Name], p)
			}
		}
		for _, f := range ep.ent.Fields {
			if f.Type == sdk.TypeLookup && f.Target != "" {
				add(f.Target)
			}
		}
		for _, r := range ep.ent.Relations {
			add(r.Parent)
		}
	}
	// reach[a][b]: b is an ancestor of a (a parent, a parent's parent, …).
	reach := map[string]map[string]bool{}
	for _, ep := range eps {
		seen := map[string]bool{}
		stack := append([]string(nil), parents[ep.ent.Name]...)
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if seen[n] {
				continue
			}
			seen[n] = true
			stack = append(stack, parents[n]...)
		}
		reach[ep.ent.Name] = seen
	}
	// An entity goes before another when it is its ancestor and not the
	// other way round; in a group of mutual ancestors, configuration order
	// decides. Placing the smallest remaining entity by that rule each time
	// ranks every group after its parents.
	names := make([]string, 0, len(eps))
	for _, ep := range eps {
		names = append(names, ep.ent.Name)
	}
	rank := map[string]int{}
	placed := map[string]bool{}
	for len(rank) < len(names) {
		for _, n := range names { // configuration order
			if placed[n] {
				continue
			}
			ready := true
			for a := range reach[n] {
				if !placed[a] && !reach[a][n] { // an ancestor outside n's group waits
					ready = false
					break
				}
			}
			if ready {
				for a := range reach[n] {
					// Within a group, an earlier-configured member first.
					if !placed[a] && reach[a][n] && order[a] < order[n] {
						ready = false
						break
					}
				}
			}
			if ready {
				rank[n] = len(rank)
				placed[n] = true
				break
			}
		}
	}
	return rank
}

func (l *Log) addError(phase, entity string, err error) {
	l.Errors = append(l.Errors, ErrorLog{
		Phase: phase, Entity: entity, Message: err.Error(),
		Kind: string(sdk.KindOf(err)), Retryable: sdk.IsRetryable(err),
	})
}

func hasError(l *Log, err error) bool {
	for _, e := range l.Errors {
		if e.Message == err.Error() {
			return true
		}
	}
	return false
}

// retry runs fn until it succeeds, fails for good, or Retries attempts
// failed retryably, waiting a doubling backoff (or the server's
// Retry-After) in between.
func (e *Engine) retry(ctx context.Context, what string, fn func() error) error {
	backoff := e.opts.RetryBackoff
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		if !sdk.IsRetryable(err) || attempt >= e.opts.Retries || ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		e.log.Warn("retrying", "call", what, "attempt", attempt, "error", err)
		if err := sleep(ctx, retryWait(err, backoff)); err != nil {
			return err
		}
		backoff = min(2*backoff, e.opts.MaxBackoff)
	}
}
