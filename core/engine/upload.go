package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/fieldsync/fieldsync/core/store"
	"github.com/fieldsync/fieldsync/sdk"
)

// upload sends the outbox: parents before children (so a child created
// against a parent created offline goes after it, with the parent's server
// id), deletes children first, one entity per batch, each batch marked
// inflight before it leaves so a crash resends it with the same change ids.
func (e *Engine) upload(ctx context.Context, p *plan, lg *Log) error {
	start := time.Now()
	defer func() { lg.Upload.Ms = time.Since(start).Milliseconds() }()
	// A conflict settled for the device (device-wins, a merge) queues its
	// result again; a second round sends it in this same sync. Two more
	// rounds at most: a row that conflicts again waits for the next sync.
	for round := 0; round < 3; round++ {
		conflicts := lg.Upload.Conflicts - lg.Upload.Parked
		if err := e.uploadRound(ctx, p, lg); err != nil {
			return err
		}
		if lg.Upload.Conflicts-lg.Upload.Parked == conflicts {
			return nil
		}
	}
	return nil
}

// uploadRound sends what the outbox holds now.
func (e *Engine) uploadRound(ctx context.Context, p *plan, lg *Log) error {
	all, err := e.opts.Store.Outbox(ctx)
	if err != nil {
		lg.addError("upload", "", err)
		return err
	}
	var changes []*store.Change
	for _, c := range all {
		if _, ok := p.byName[c.Entity]; ok {
			changes = append(changes, c)
		}
	}
	lg.Upload.Changes += len(changes)
	e.emit(Event{Phase: "upload", Total: lg.Upload.Changes})
	sort.SliceStable(changes, func(i, j int) bool {
		return uploadKey(p, changes[i]).less(uploadKey(p, changes[j]))
	})
	done := lg.Upload.Changes - len(changes)
	for len(changes) > 0 {
		n := 1
		for n < len(changes) && n < e.opts.UploadBatch && changes[n].Entity == changes[0].Entity &&
			(changes[n].Op == sdk.OpDelete) == (changes[0].Op == sdk.OpDelete) && !sameRow(changes[:n], changes[n]) {
			n++
		}
		batch := changes[:n]
		changes = changes[n:]
		if err := e.sendBatch(ctx, p, batch, lg); err != nil {
			lg.addError("upload", batch[0].Entity, err)
			return err
		}
		done += len(batch)
		e.emit(Event{Phase: "upload", Records: done, Total: lg.Upload.Changes})
	}
	return nil
}

// uploadKey orders changes: creates and updates by rising dependency rank
// (parents first), then deletes by falling rank (children first); within a
// group, in the order they were made.
type key struct {
	group, rank int
	seq         int64
}

func uploadKey(p *plan, c *store.Change) key {
	r := p.rank[c.Entity]
	if c.Op == sdk.OpDelete {
		return key{1, -r, c.Seq}
	}
	return key{0, r, c.Seq}
}

func (a key) less(b key) bool {
	if a.group != b.group {
		return a.group < b.group
	}
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.seq < b.seq
}

// sameRow reports whether c changes a row already in the batch: a second
// change of a row waits for the next batch, which is built after the first
// one's answer (it needs the version that answer carries).
func sameRow(batch []*store.Change, c *store.Change) bool {
	for _, b := range batch {
		if b.ID == c.ID {
			return true
		}
	}
	return false
}

// sendBatch pushes one batch, retrying what failed retryably with the same
// change ids and a doubling backoff.
func (e *Engine) sendBatch(ctx context.Context, p *plan, batch []*store.Change, lg *Log) error {
	ep := p.byName[batch[0].Entity]
	batch, err := e.opts.Store.Refresh(ctx, batch)
	if err != nil || len(batch) == 0 {
		return err
	}
	if err := e.opts.Store.MarkInflight(ctx, batch); err != nil {
		return err
	}
	lg.Upload.Batches++
	backoff := e.opts.RetryBackoff
	for attempt := 1; ; attempt++ {
		req := sdk.PushRequest{Changes: make([]sdk.Change, len(batch))}
		for i, c := range batch {
			req.Changes[i] = toSDKChange(ep, c)
		}
		lg.Upload.Calls++
		resp, err := e.opts.Connector.Push(ctx, req)
		if err != nil {
			if nerr := e.opts.Store.NoteAttempt(ctx, batch, err); nerr != nil {
				return nerr
			}
			if !sdk.IsRetryable(err) || attempt >= e.opts.Retries {
				return fmt.Errorf("push %d %s changes: %w", len(batch), ep.ent.Name, err)
			}
			lg.Upload.Retried++
			e.log.Warn("push failed; retrying", "entity", ep.ent.Name, "attempt", attempt, "error", err)
			if err := sleep(ctx, retryWait(err, backoff)); err != nil {
				return err
			}
			backoff = min(2*backoff, e.opts.MaxBackoff)
			continue
		}
		stats, err := e.opts.Store.ApplyResults(ctx, batch, resp.Results, ep.resolver())
		if err != nil {
			return err
		}
		lg.Upload.Created += stats.Created
		lg.Upload.Updated += stats.Updated
		lg.Upload.Deleted += stats.Deleted
		lg.Upload.Conflicts += stats.Conflicts
		lg.Upload.Parked += stats.Parked
		lg.Upload.Failed += stats.Failed
		for i, r := range resp.Results {
			if r.Status == sdk.StatusFailed && !sdk.IsRetryable(r.Err) {
				lg.Errors = append(lg.Errors, ErrorLog{Phase: "upload", Entity: ep.ent.Name,
					Message: fmt.Sprintf("%s %s %s: %v", batch[i].Op, ep.ent.Name, batch[i].ID, r.Err), Kind: string(sdk.Permanent)})
			}
		}
		var again []*store.Change
		for i, r := range resp.Results {
			if r.Status == sdk.StatusFailed && sdk.IsRetryable(r.Err) {
				again = append(again, batch[i])
			}
		}
		if len(again) == 0 {
			return nil
		}
		if attempt >= e.opts.Retries {
			return fmt.Errorf("push %s: %d change(s) still failing after %d attempts: %v", ep.ent.Name, len(again), attempt, resp.Results[indexOf(batch, again[0])].Err)
		}
		lg.Upload.Retried += len(again)
		batch = again
		if err := sleep(ctx, backoff); err != nil {
			return err
		}
		backoff = min(2*backoff, e.opts.MaxBackoff)
	}
}

func indexOf(batch []*store.Change, c *store.Change) int {
	for i, b := range batch {
		if b == c {
			return i
		}
	}
	return 0
}

// toSDKChange builds what the connector receives: a create carries every set
// field, an update the changed ones, a delete none; read-only fields never go.
func toSDKChange(ep *entityPlan, c *store.Change) sdk.Change {
	out := sdk.Change{ChangeID: c.ChangeID, Op: c.Op, Entity: c.Entity, ID: c.ID, BaseVersion: c.BaseVersion}
	if c.Op == sdk.OpDelete || c.Values == nil {
		if c.Values == nil {
			out.Op = sdk.OpDelete
		}
		return out
	}
	out.Values = map[string]sdk.Value{}
	send := c.Fields
	if out.Op == sdk.OpCreate || send == nil {
		send = ep.fields
	}
	for _, f := range send {
		fd := ep.ent.Field(f)
		if fd == nil || fd.ReadOnly {
			continue
		}
		v, ok := c.Values[f]
		if !ok || (out.Op == sdk.OpCreate && v.IsNull()) {
			continue
		}
		out.Values[f] = v
	}
	return out
}

// retryWait honours a server's Retry-After when it is longer than our backoff.
func retryWait(err error, backoff time.Duration) time.Duration {
	var se *sdk.Error
	if errors.As(err, &se) && se.RetryAfter > backoff {
		return se.RetryAfter
	}
	return backoff
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
