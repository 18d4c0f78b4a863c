package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"

	"google.golang.org/protobuf/proto"

	"github.com/fieldsync/fieldsync/core/store"
	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/wire"
)

// The device's scope: which rows of which entities it holds. The server
// filters (rows outside a filter never leave it); the engine works out what
// to ask for, notices when the configuration changed what it should hold,
// and removes what left.

// scopeFilters works out each entity's server filter: the configured one,
// with values converted to the fields' types, and for an entity downloaded
// only for its parents, the condition that a parent it names is on the
// device. A filter the connector cannot express is refused here, before
// anything moves: never widened.
func scopeFilters(p *plan, cfgs []EntityConfig) error {
	for _, cfg := range cfgs {
		ep := p.byName[cfg.Name]
		if cfg.Filter == nil {
			continue
		}
		f, err := cfg.Filter.Coerce(p.schema, ep.ent)
		if err != nil {
			return fmt.Errorf("entity %s: filter: %w", cfg.Name, err)
		}
		ep.filter = f
	}
	done := map[string]bool{}
	var compose func(ep *entityPlan, depth int) error
	compose = func(ep *entityPlan, depth int) error {
		if done[ep.ent.Name] || !ep.cfg.RelatedOnly {
			return nil
		}
		if depth > 8 {
			return fmt.Errorf("entity %s: download_only_related parents are nested too deeply (a cycle?)", ep.ent.Name)
		}
		var alts []*sdk.Filter
		for _, fd := range ep.ent.Fields {
			if fd.Type != sdk.TypeLookup || fd.Target == "" || fd.Target == ep.ent.Name {
				continue
			}
			parent := p.byName[fd.Target]
			if parent == nil || parent.cfg.OnlineOnly {
				continue
			}
			if !contains(ep.fields, fd.Name) {
				return fmt.Errorf("entity %s: download_only_related needs the lookup %s among its fields", ep.ent.Name, fd.Name)
			}
			if err := compose(parent, depth+1); err != nil {
				return err
			}
			cond := parent.filter
			if cond == nil {
				cond = sdk.Cmp(parent.ent.PrimaryKey, sdk.OpNotNull)
			}
			alts = append(alts, sdk.Link(fd.Name, cond))
			ep.parents = append(ep.parents, store.ParentLink{Lookup: fd.Name, Parent: parent.ent.Name})
		}
		if len(alts) == 0 {
			return fmt.Errorf("entity %s is download_only_related, but none of its lookups names an entity the device syncs", ep.ent.Name)
		}
		related := alts[0]
		if len(alts) > 1 {
			related = sdk.Or(alts...)
		}
		if ep.filter != nil {
			ep.filter = sdk.And(ep.filter, related)
		} else {
			ep.filter = related
		}
		done[ep.ent.Name] = true
		return nil
	}
	for _, cfg := range cfgs {
		if err := compose(p.byName[cfg.Name], 0); err != nil {
			return err
		}
	}
	for _, cfg := range cfgs {
		ep := p.byName[cfg.Name]
		if ep.filter == nil || cfg.OnlineOnly {
			continue
		}
		if !p.info.Has(sdk.CapServerSideFilters) {
			return fmt.Errorf("entity %s has a filter, but the %s connector cannot filter on its server; the filter is refused rather than ignored", cfg.Name, p.info.Name)
		}
		if op, ok := sdk.SupportsFilter(p.info.FilterOps, ep.filter); !ok {
			return fmt.Errorf("entity %s: the %s connector cannot express the filter operator %q; the filter is refused rather than widened", cfg.Name, p.info.Name, op)
		}
		if err := ep.filter.Check(p.schema, ep.ent); err != nil {
			return fmt.Errorf("entity %s: %w", cfg.Name, err)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// filterSignature identifies a filter, so a changed one is noticed: the
// deterministic encoding of its protocol form, hashed. "" means no filter.
func filterSignature(f *sdk.Filter) string {
	if f == nil {
		return ""
	}
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(wire.FilterToPB(f))
	if err != nil {
		return "unencodable"
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:16])
}

// dropUnselected drops the tables of entities the device holds but the
// configuration no longer selects (removed, or made online-only). One with
// local changes not yet uploaded stays until they are.
func (e *Engine) dropUnselected(ctx context.Context, p *plan, lg *Log) error {
	states, err := e.opts.Store.States(ctx)
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, ep := range p.entities {
		keep[ep.ent.Name] = true
	}
	for _, st := range states {
		if keep[st.Entity] {
			continue
		}
		dropped, pending, err := e.opts.Store.DropEntity(ctx, st.Entity)
		if err != nil {
			return fmt.Errorf("drop %s: %w", st.Entity, err)
		}
		if dropped {
			e.log.Info("the configuration no longer selects the entity: its table was dropped", "entity", st.Entity)
			lg.Cleanup.Dropped = append(lg.Cleanup.Dropped, st.Entity)
		} else {
			e.log.Warn("the configuration no longer selects the entity, but it has local changes: it is dropped once they are uploaded", "entity", st.Entity, "pending", pending)
		}
	}
	return nil
}

// checkMembership removes the rows of an entity whose filter can stop
// matching without the row changing (Filter.Volatile: relative dates, team
// membership, a parent's change): it reads the ids that match now, with no
// values, and removes the rest.
func (e *Engine) checkMembership(ctx context.Context, ep *entityPlan, lg *Log) error {
	name := ep.ent.Name
	if err := e.opts.Store.BeginMembership(ctx, name); err != nil {
		return err
	}
	req := sdk.FetchRequest{Entity: name, Filter: ep.filter, IDsOnly: true, PageSize: sdk.MaxPageSize}
	err := e.retry(ctx, "membership check of "+name, func() error {
		return e.opts.Connector.Fetch(ctx, req, func(pg *sdk.Page) error {
			return e.opts.Store.MarkMember(ctx, name, pg.IDs)
		})
	})
	if err != nil {
		return err
	}
	removed, kept, err := e.opts.Store.EndMembership(ctx, name)
	if err != nil {
		return err
	}
	if removed+kept > 0 {
		lg.noteRemoved(name, "filter", removed, kept)
	}
	return nil
}

// cleanScope removes what left the device's scope after the downloads:
// rows of entities read incrementally that no longer match a volatile
// filter, then orphans, parents before children so a removal cascades.
func (e *Engine) cleanScope(ctx context.Context, p *plan, lg *Log) error {
	eps := append([]*entityPlan(nil), p.entities...)
	sort.SliceStable(eps, func(i, j int) bool { return p.rank[eps[i].ent.Name] < p.rank[eps[j].ent.Name] })
	incremental := map[string]bool{}
	for _, el := range lg.Entities {
		incremental[el.Name] = (el.Mode == "incremental" || el.Mode == "unchanged") && el.Error == ""
	}
	var first error
	for _, ep := range eps {
		if ep.filter.Volatile() && incremental[ep.ent.Name] {
			if err := e.checkMembership(ctx, ep, lg); err != nil {
				lg.addError("cleanup", ep.ent.Name, err)
				if first == nil {
					first = err
				}
			}
		}
	}
	if err := e.removeOrphans(ctx, eps, lg); err != nil && first == nil {
		first = err
	}
	return first
}

// removeOrphans removes the rows of RelatedOnly entities whose parents all
// left the device; eps are in dependency order.
func (e *Engine) removeOrphans(ctx context.Context, eps []*entityPlan, lg *Log) error {
	for _, ep := range eps {
		if len(ep.parents) == 0 {
			continue
		}
		removed, kept, err := e.opts.Store.DeleteOrphans(ctx, ep.ent.Name, ep.parents)
		if err != nil {
			err = fmt.Errorf("remove orphans of %s: %w", ep.ent.Name, err)
			lg.addError("cleanup", ep.ent.Name, err)
			return err
		}
		if removed+kept > 0 {
			lg.noteRemoved(ep.ent.Name, "orphan", removed, kept)
		}
	}
	return nil
}

func (l *Log) noteRemoved(entity, reason string, removed, kept int) {
	l.Cleanup.Removed = append(l.Cleanup.Removed, RemovedLog{Entity: entity, Reason: reason, Removed: removed, Kept: kept})
}

// noteUsage records what the connector spent on its backend during the
// sync, and how it read each entity.
func (e *Engine) noteUsage(ctx context.Context, u sdk.UsageReporter, before sdk.Usage, lg *Log) {
	after, err := u.Usage(context.WithoutCancel(ctx))
	if err != nil {
		e.log.Warn("the connector's usage is unknown", "error", err)
		return
	}
	lg.Backend = &BackendLog{
		Requests:    after.Requests - before.Requests,
		ThrottledMs: after.ThrottledMs - before.ThrottledMs,
		Retries:     after.Retries - before.Retries,
	}
	for i := range lg.Entities {
		if p, ok := after.Paths[lg.Entities[i].Name]; ok && lg.Entities[i].Mode != "unchanged" {
			lg.Entities[i].Path = p
		}
	}
}
