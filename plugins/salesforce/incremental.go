package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

// Incremental fetches.
//
//  1. queryAll of SystemModstamp >= hwm - overlap ORDER BY SystemModstamp,
//     Id: rows with IsDeleted = true (still in the recycle bin) are
//     deletes, the others upserts; rows the token lists as sent with the
//     same stamp are skipped (token.go). A cursor resumes by keyset on
//     (SystemModstamp, Id).
//  2. Filtered entities: step 1 selects no fields and ignores the filter;
//     the changed ids are read again, requeryBatch at a time, with
//     "Id IN (…) AND (filter)". Those returned are upserts with their
//     current values; the rest changed and no longer match (or never did),
//     and are sent as deletes, so the device drops what left its data set
//     (a delete of a row it does not hold is a no-op).
//  3. Deletes the recycle bin no longer holds (emptied, hard-deleted, or
//     older than its 15 days) come from GET sobjects/{X}/deleted/?start=&end=
//     in windows of at most 15 days, minute granularity. If its
//     earliestDateAvailable is after the token's high-water mark, deletes
//     may have been lost: the fetch fails as TokenExpired and the engine
//     reads that entity (only) in full. Ids the window lists that queryAll
//     still shows deleted were handled in step 1 and are skipped.

// requeryBatch is how many ids one "Id IN (…)" names: 200 ids of 20 bytes
// keep the query's URL near 5 KB.
const requeryBatch = 200

// deletedWindow is the longest span one deleted/ call may cover.
const deletedWindow = 15 * 24 * time.Hour

func (f *fetcher) incremental(ctx context.Context, rawToken, rawCursor []byte) error {
	o := f.s.o
	tok, oldSeen, err := decodeToken(rawToken, o.name, f.s.tokenSig)
	if err != nil {
		return err
	}
	if !o.hasStamp {
		return sdk.Errorf(sdk.TokenExpired, "salesforce: fetch %s: the object has no SystemModstamp, so it has no incremental reads", o.name)
	}
	oldFloor := tok.HWM - f.overlap
	mode := modeIncremental
	var hwm, lastStamp, delStart int64
	var lastID string
	var delSkip int
	newSeen := seenSet{}
	if rawCursor != nil {
		cur, s, err := decodeCursor(rawCursor, o.name, f.s.cursorSig)
		if err != nil {
			return err
		}
		if cur.Mode == modeFull {
			return sdk.Errorf(sdk.Permanent, "salesforce: fetch %s: the cursor belongs to a full fetch", o.name)
		}
		mode, hwm, lastID, lastStamp, newSeen, delStart, delSkip = cur.Mode, cur.HWM, cur.LastID, cur.LastStamp, s, cur.DelStart, cur.DelSkip
	}
	cursor := func() []byte {
		return encode(kindCursor, fetchCursor{Sig: f.s.cursorSig, Mode: mode, HWM: hwm, LastID: lastID, LastStamp: lastStamp, Seen: newSeen.list(), DelStart: delStart, DelSkip: delSkip})
	}

	if mode == modeIncremental {
		cond := []string{"SystemModstamp >= " + soqlTime(oldFloor)}
		if lastID != "" {
			t := soqlTime(lastStamp)
			cond = append(cond, "(SystemModstamp > "+t+" OR (SystemModstamp = "+t+" AND Id > '"+lastID+"'))")
		}
		withFields := !f.s.filtered && !f.s.idsOnly
		q := "SELECT " + f.selectList([]string{"IsDeleted"}, withFields) + " FROM " + o.name + whereClause(cond) + " ORDER BY SystemModstamp, Id"
		err := f.c.queryPages(ctx, q, true, "incremental fetch "+o.name, func(hdr http.Header, p *queryPage) error {
			if hwm == 0 {
				hwm = serverTime(hdr)
			}
			recs := p.Records
			for len(recs) > 0 {
				n := min(len(recs), f.s.pageSize-f.b.Len(), requeryBatch)
				if err := f.changes(ctx, recs[:n], oldSeen, newSeen, hwm-f.overlap, &lastStamp, &lastID); err != nil {
					return err
				}
				recs = recs[n:]
				if f.b.Len() >= f.s.pageSize {
					if err := f.emit(ctx, cursor(), nil); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if hwm == 0 {
			hwm = time.Now().UnixMilli()
		}
		mode, delStart, delSkip = modeDeleted, 0, 0
	}

	if f.c.replicateable(o.name) {
		if err := f.purged(ctx, tok.HWM, oldFloor, hwm, oldSeen, newSeen, &delStart, &delSkip, cursor); err != nil {
			return err
		}
	}
	next := encode(kindToken, changeToken{Entity: o.name, Sig: f.s.tokenSig, HWM: hwm, Seen: newSeen.list()})
	return f.emit(ctx, nil, next)
}

// changes adds a group of queryAll rows to the page: deletes, upserts
// (re-read through the filter for filtered entities), nothing for rows the
// old token lists as sent.
func (f *fetcher) changes(ctx context.Context, recs []map[string]json.RawMessage, oldSeen, newSeen seenSet, newFloor int64, lastStamp *int64, lastID *string) error {
	o := f.s.o
	type change struct {
		rec   map[string]json.RawMessage
		id    string
		stamp int64
		del   bool
		skip  bool
	}
	group := make([]change, 0, len(recs))
	var requery []string
	for _, r := range recs {
		id, err := recordID(r)
		if err != nil {
			return fmt.Errorf("salesforce: incremental fetch %s: %w", o.name, err)
		}
		stamp, err := recordStamp(r)
		if err != nil {
			return fmt.Errorf("salesforce: incremental fetch %s: row %s: %w", o.name, id, err)
		}
		del, err := recordDeleted(r)
		if err != nil {
			return fmt.Errorf("salesforce: incremental fetch %s: row %s: %w", o.name, id, err)
		}
		if *lastID != "" && (stamp < *lastStamp || stamp == *lastStamp && id <= *lastID) {
			return sdk.Errorf(sdk.Retryable, "salesforce: incremental fetch %s: the server's rows are not in (SystemModstamp, Id) order", o.name)
		}
		*lastStamp, *lastID = stamp, id
		e := seenEntry{id: id, stamp: stamp, deleted: del}
		ch := change{rec: r, id: id, stamp: stamp, del: del}
		if old, ok := oldSeen[id]; ok && old == e {
			ch.skip = true
		}
		newSeen.add(e, newFloor)
		if !ch.skip && !del && f.s.filtered {
			requery = append(requery, id)
		}
		group = append(group, ch)
	}
	var current map[string]map[string]json.RawMessage
	if len(requery) > 0 {
		var err error
		if current, err = f.reread(ctx, requery); err != nil {
			return err
		}
	}
	for _, ch := range group {
		switch {
		case ch.skip:
		case ch.del:
			f.b.Delete(ch.id)
		case f.s.filtered:
			r, ok := current[ch.id]
			if !ok {
				f.b.Delete(ch.id) // changed and outside the filter now
				continue
			}
			if err := f.upsert(r, ch.id); err != nil {
				return err
			}
		default:
			if err := f.upsert(ch.rec, ch.id); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *fetcher) upsert(r map[string]json.RawMessage, id string) error {
	stamp, err := recordStamp(r)
	if err != nil {
		return fmt.Errorf("salesforce: incremental fetch %s: row %s: %w", f.s.o.name, id, err)
	}
	var vals []sdk.Value
	if !f.s.idsOnly {
		if vals, err = f.values(r, id); err != nil {
			return err
		}
	}
	f.b.Add(id, version(stamp), vals...)
	return nil
}

// reread reads ids through the filter: the rows returned match it now.
func (f *fetcher) reread(ctx context.Context, ids []string) (map[string]map[string]json.RawMessage, error) {
	o := f.s.o
	q := "SELECT " + f.selectList(nil, !f.s.idsOnly) + " FROM " + o.name + " WHERE Id IN (" + quoteIDs(ids) + ") AND (" + f.s.where + ")"
	out := make(map[string]map[string]json.RawMessage, len(ids))
	err := f.c.queryPages(ctx, q, false, "re-read of changed "+o.name+" rows", func(_ http.Header, p *queryPage) error {
		for _, r := range p.Records {
			id, err := recordID(r)
			if err != nil {
				return fmt.Errorf("salesforce: re-read %s: %w", o.name, err)
			}
			out[id] = r
		}
		return nil
	})
	return out, err
}

// quoteIDs writes 'a','b',… of ids already checked by validID.
func quoteIDs(ids []string) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("'" + id + "'")
	}
	return b.String()
}

// deletedDoc is GET sobjects/{X}/deleted/.
type deletedDoc struct {
	DeletedRecords []struct {
		ID          string `json:"id"`
		DeletedDate string `json:"deletedDate"`
	} `json:"deletedRecords"`
	EarliestDateAvailable string `json:"earliestDateAvailable"`
	LatestDateCovered     string `json:"latestDateCovered"`
}

// deletedRecord is one entry of a deleted/ answer.
type deletedRecord struct {
	id   string
	date int64 // deletedDate, Unix ms
}

// parseDeleted reads a deleted/ answer: the records (checked, sorted by id,
// unique) and earliestDateAvailable.
func parseDeleted(body []byte) (recs []deletedRecord, earliest time.Time, err error) {
	var doc deletedDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, time.Time{}, fmt.Errorf("deleted/ answer is not a deleted-records document: %w", err)
	}
	if doc.EarliestDateAvailable != "" {
		if earliest, err = parseSFTime(doc.EarliestDateAvailable); err != nil {
			return nil, time.Time{}, fmt.Errorf("deleted/ answer's earliestDateAvailable: %w", err)
		}
	}
	for _, r := range doc.DeletedRecords {
		if !validID(r.ID) {
			return nil, time.Time{}, fmt.Errorf("deleted/ answer lists id %q", truncate(r.ID, 40))
		}
		t, err := parseSFTime(r.DeletedDate)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("deleted/ answer's deletedDate of %s: %w", r.ID, err)
		}
		recs = append(recs, deletedRecord{id: r.ID, date: max(t.UnixMilli(), 0)})
	}
	slices.SortFunc(recs, func(a, b deletedRecord) int { return strings.Compare(a.id, b.id) })
	recs = slices.CompactFunc(recs, func(a, b deletedRecord) bool { return a.id == b.id })
	return recs, earliest, nil
}

func parseSFTime(s string) (time.Time, error) {
	for _, layout := range dateTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date-time", truncate(s, 40))
}

// purged sends the deletes of the deleted/ windows from floor to hwm that
// step 1 could not see (see the top of the file).
func (f *fetcher) purged(ctx context.Context, lastSync, floor, hwm int64, oldSeen, newSeen seenSet, delStart *int64, delSkip *int, cursor func() []byte) error {
	o := f.s.o
	start := time.UnixMilli(floor).UTC().Truncate(time.Minute)
	end := time.UnixMilli(hwm).UTC().Truncate(time.Minute)
	if *delStart != 0 {
		start = time.UnixMilli(*delStart).UTC()
	}
	for start.Before(end) {
		wEnd := start.Add(deletedWindow)
		if wEnd.After(end) {
			wEnd = end
		}
		*delStart = start.UnixMilli()
		path := f.c.force.dataPath("sobjects/" + o.name + "/deleted/?start=" + url.QueryEscape(start.Format(time.RFC3339)) + "&end=" + url.QueryEscape(wEnd.Format(time.RFC3339)))
		what := "deleted records of " + o.name
		resp, err := f.c.force.rest(ctx, call{Method: http.MethodGet, Path: path, What: what})
		if err != nil {
			return err
		}
		ids, earliest, err := parseDeleted(resp.Body)
		if err != nil {
			return sdk.Errorf(sdk.Retryable, "salesforce: %s: %v", what, err)
		}
		if !earliest.IsZero() && earliest.UnixMilli() > lastSync {
			return sdk.Errorf(sdk.TokenExpired, "salesforce: fetch %s: deleted records are kept only since %s, after the last sync (%s); the entity must be read in full", o.name, earliest.UTC().Format(time.RFC3339), time.UnixMilli(lastSync).UTC().Format(time.RFC3339))
		}
		if *delSkip > len(ids) {
			return sdk.Errorf(sdk.Permanent, "salesforce: fetch %s: the cursor does not fit the deleted records window", o.name)
		}
		ids = ids[*delSkip:]
		for len(ids) > 0 {
			n := min(len(ids), f.s.pageSize-f.b.Len(), requeryBatch)
			if err := f.purgedGroup(ctx, ids[:n], oldSeen, newSeen, hwm-f.overlap); err != nil {
				return err
			}
			ids = ids[n:]
			*delSkip += n
			if f.b.Len() >= f.s.pageSize {
				if err := f.emit(ctx, cursor(), nil); err != nil {
					return err
				}
			}
		}
		start, *delSkip = wEnd, 0
	}
	*delStart = end.UnixMilli()
	return nil
}

// purgedGroup sends as deletes the ids queryAll no longer knows: those it
// still shows (deleted in the recycle bin, or restored) were step 1's.
func (f *fetcher) purgedGroup(ctx context.Context, recs []deletedRecord, oldSeen, newSeen seenSet, newFloor int64) error {
	o := f.s.o
	known := map[string]bool{}
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.id
	}
	q := "SELECT Id FROM " + o.name + " WHERE Id IN (" + quoteIDs(ids) + ")"
	err := f.c.queryPages(ctx, q, true, "recycle bin check of "+o.name, func(_ http.Header, p *queryPage) error {
		for _, r := range p.Records {
			id, err := recordID(r)
			if err != nil {
				return fmt.Errorf("salesforce: recycle bin check of %s: %w", o.name, err)
			}
			known[id] = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range recs {
		if known[r.id] {
			continue
		}
		// Windows overlap by the overlap setting: a purged id already sent
		// is in the old token.
		e := seenEntry{id: r.id, stamp: r.date, deleted: true}
		newSeen.add(e, newFloor)
		if oldSeen[r.id].deleted {
			continue
		}
		f.b.Delete(r.id)
	}
	return nil
}
