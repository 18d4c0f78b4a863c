package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fieldsync/fieldsync/core/store"
	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/wire"
)

// download brings every planned entity up to date, DownloadThreads at a
// time, starting them in configured order. Fetching and decoding run in
// parallel; the store serialises the writes (SQLite has one writer).
func (e *Engine) download(ctx context.Context, p *plan, lg *Log) error {
	logs := make([]EntityLog, len(p.entities))
	errs := make([]error, len(p.entities))
	skip := e.unchanged(ctx, p, lg)
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(e.opts.DownloadThreads, len(p.entities)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if skip[i] {
					logs[i] = EntityLog{Name: p.entities[i].ent.Name, Mode: "unchanged"}
					e.emit(Event{Phase: "download", Entity: logs[i].Name, Done: true})
					continue
				}
				logs[i], errs[i] = e.downloadEntity(ctx, p.entities[i])
			}
		}()
	}
feed:
	for i := range p.entities {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	var first error
	for i, err := range errs {
		if logs[i].Name == "" {
			logs[i].Name = p.entities[i].ent.Name
		}
		if err != nil {
			logs[i].Error = err.Error()
			lg.addError("download", logs[i].Name, err)
			if first == nil {
				first = err
			}
		}
	}
	lg.Entities = append(lg.Entities, logs...)
	lg.Hints = append(lg.Hints, hints(e.opts, logs)...)
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// downloadEntity runs one entity's fetch to its end: a full read when the
// entity is new, a resumed one after a crash, else an incremental one. A
// retryable failure resumes from the last committed page; an expired token
// starts a full read of this entity alone.
func (e *Engine) downloadEntity(ctx context.Context, ep *entityPlan) (el EntityLog, err error) {
	name := ep.ent.Name
	el.Name = name
	start := time.Now()
	defer func() {
		el.Ms = time.Since(start).Milliseconds()
		if el.Received > 0 {
			el.MsPerRecord = float64(time.Since(start).Microseconds()) / 1000 / float64(el.Received)
		}
	}()
	st, err := e.opts.Store.State(ctx, name)
	if err != nil {
		return el, err
	}
	backoff := e.opts.RetryBackoff
	resynced := false
	for attempt := 1; ; attempt++ {
		switch {
		case st.Mode == store.ModeNew:
			if st, err = e.opts.Store.BeginFull(ctx, name); err != nil {
				return el, err
			}
			if el.Mode == "" {
				el.Mode = "full"
			}
		case st.Mode != store.ModeReady && el.Mode == "":
			el.Mode = "resume"
		case el.Mode == "":
			el.Mode = "incremental"
		}
		if st.Mode == store.ModeReady && ep.cfg.SyncMode == SyncFull {
			// Always full: read the whole entity again; rows it no
			// longer has are removed at the end.
			if st, err = e.opts.Store.BeginFull(ctx, name); err != nil {
				return el, err
			}
			if el.Mode == "" {
				el.Mode = "full"
			}
		}
		req := sdk.FetchRequest{Entity: name, Fields: ep.fields, Filter: ep.filter, Cursor: st.Cursor, PageSize: e.opts.PageSize}
		if st.Mode == store.ModeReady {
			req.Token = st.Token
		}
		el.Calls++
		// The connector reads the next page while the store writes this one.
		err = sdk.Pipeline(ctx, func(ctx context.Context, emit sdk.FetchFunc) error {
			return e.opts.Connector.Fetch(ctx, req, emit)
		}, func(pg *sdk.Page) error {
			if err := conform(pg, ep); err != nil {
				return sdk.Errorf(sdk.Permanent, "%s page %d: %v", name, el.Pages+1, err)
			}
			stats, err := e.opts.Store.ApplyPage(ctx, name, pg, ep.resolver())
			if err != nil {
				return fmt.Errorf("%s page %d: %w", name, el.Pages+1, err)
			}
			el.Pages++
			el.Received += pg.Len() + len(pg.Deletes)
			el.Upserted += stats.Upserted
			el.Unchanged += stats.Unchanged
			el.Deleted += stats.Deleted
			el.Conflicts += stats.Conflicts
			el.Parked += stats.Parked
			el.Bytes += pageBytes(pg)
			e.emit(Event{Phase: "download", Entity: name, Records: el.Received, Pages: el.Pages})
			return nil
		})
		switch {
		case err == nil:
			e.emit(Event{Phase: "download", Entity: name, Records: el.Received, Pages: el.Pages, Done: true})
			return el, nil
		case ctx.Err() != nil:
			return el, ctx.Err()
		case errors.Is(err, sdk.ErrTokenExpired) && !resynced:
			e.log.Info("change token expired; downloading the entity again", "entity", name)
			resynced, el.Mode = true, "resync"
			if err := e.opts.Store.Reset(ctx, name); err != nil {
				return el, err
			}
		case sdk.IsRetryable(err) && attempt < e.opts.Retries:
			e.log.Warn("download failed; resuming", "entity", name, "attempt", attempt, "error", err)
			if err := sleep(ctx, retryWait(err, backoff)); err != nil {
				return el, err
			}
			backoff = min(2*backoff, e.opts.MaxBackoff)
		default:
			e.emit(Event{Phase: "download", Entity: name, Records: el.Received, Pages: el.Pages, Done: true, Err: err})
			return el, err
		}
		if st, err = e.opts.Store.State(ctx, name); err != nil {
			return el, err
		}
	}
}

// conform checks a page from the connector against the fields the engine
// asked for, putting its columns in that order if the connector used
// another, so a bad page is an error and never reaches the store.
func conform(pg *sdk.Page, ep *entityPlan) error {
	if pg.Encoded != nil {
		// A connector forwarded the page as its server sent it (see
		// sdk.Page.Encoded): decode it here like any transport would.
		m, err := wire.PageMessage(pg)
		if err != nil {
			return err
		}
		dec, err := wire.PageFromPB(m)
		if err != nil {
			return err
		}
		*pg = *dec
	}
	if len(pg.Fields) != len(ep.fields) {
		return fmt.Errorf("page has fields %v, asked for %v", pg.Fields, ep.fields)
	}
	same := true
	for i, f := range pg.Fields {
		if f != ep.fields[i] {
			same = false
			break
		}
	}
	if !same {
		at := make(map[string]int, len(pg.Fields))
		for i, f := range pg.Fields {
			at[f] = i
		}
		cols := make([]sdk.Column, len(ep.fields))
		for i, f := range ep.fields {
			j, ok := at[f]
			if !ok {
				return fmt.Errorf("page lacks field %q", f)
			}
			cols[i] = pg.Columns[j]
		}
		pg.Columns, pg.Fields = cols, ep.fields
	}
	return pg.Validate(ep.kinds)
}

// pageBytes estimates a page's payload: text and binary lengths, eight
// bytes a number.
func pageBytes(pg *sdk.Page) int64 {
	var n int64
	for i := range pg.IDs {
		n += int64(len(pg.IDs[i]))
	}
	for i := range pg.Versions {
		n += int64(len(pg.Versions[i]))
	}
	for _, d := range pg.Deletes {
		n += int64(len(d))
	}
	for j := range pg.Columns {
		c := &pg.Columns[j]
		for _, s := range c.Strings {
			n += int64(len(s))
		}
		for _, b := range c.Binary {
			n += int64(len(b))
		}
		n += int64(8*(len(c.Ints)+len(c.Floats)) + len(c.Bools))
	}
	return n
}

// hints point at settings that look wrong for what a sync saw.
func hints(o Options, logs []EntityLog) []string {
	var out []string
	for _, l := range logs {
		if l.Pages >= 50 && o.PageSize < sdk.DefaultPageSize {
			out = append(out, fmt.Sprintf("%s took %d pages of %d rows: a page_size of %d or more needs fewer round trips", l.Name, l.Pages, o.PageSize, sdk.DefaultPageSize))
		}
	}
	slow := 0
	for _, l := range logs {
		if l.Ms > 5000 {
			slow++
		}
	}
	if slow > 1 && o.DownloadThreads < 2 {
		out = append(out, fmt.Sprintf("%d entities took over 5 s each with download_threads = %d: more threads would overlap them", slow, o.DownloadThreads))
	}
	return out
}

// unchanged asks a connector with a batch change check, in one call, which
// of the entities ready for an incremental fetch changed since their
// tokens, and marks the others to skip. Without the capability, or when the
// check fails, nothing is skipped: every entity is fetched.
func (e *Engine) unchanged(ctx context.Context, p *plan, lg *Log) []bool {
	skip := make([]bool, len(p.entities))
	cc, ok := sdk.AsChangeChecker(ctx, e.opts.Connector)
	if !ok {
		return skip
	}
	var probes []sdk.ChangeProbe
	var at []int
	for i, ep := range p.entities {
		if ep.cfg.SyncMode == SyncFull {
			continue
		}
		st, err := e.opts.Store.State(ctx, ep.ent.Name)
		if err != nil || st.Mode != store.ModeReady || len(st.Token) == 0 {
			continue
		}
		probes = append(probes, sdk.ChangeProbe{Entity: ep.ent.Name, Token: st.Token})
		at = append(at, i)
	}
	if len(probes) == 0 {
		return skip
	}
	var changed []bool
	err := e.retry(ctx, "change check", func() (err error) {
		changed, err = cc.CheckChanges(ctx, probes)
		return err
	})
	lg.ChangeCheck = &ChangeCheckLog{Entities: len(probes)}
	if err != nil || len(changed) != len(probes) {
		e.log.Warn("the batch change check failed; fetching every entity", "error", err)
		lg.ChangeCheck.Error = fmt.Sprint(err)
		return skip
	}
	for k, c := range changed {
		if !c {
			skip[at[k]] = true
			lg.ChangeCheck.Unchanged++
		}
	}
	return skip
}
