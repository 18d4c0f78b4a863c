package dataverse

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/fieldsync/fieldsync/sdk"
)

// Filtered entities and TDS reads: keeping a delta link without change
// tracking's help.
//
// The Web API refuses $filter together with Prefer: odata.track-changes
// (PROTOCOLS.md), and a TDS query yields no delta link at all. So a full
// read of a filtered entity, or one over TDS, goes in two steps:
//
//  1. bootstrap: GET {set}?$select={key} with Prefer: odata.track-changes,
//     odata.maxpagesize=5000, following @odata.nextLink to the page that
//     carries @odata.deltaLink. The delta link is only on the last page,
//     so this walks every key of the table; it costs one request per 5000
//     rows of a few dozen bytes each, against the full read's every field.
//     Nothing is kept but the link. It completes BEFORE step 2 starts.
//  2. the filtered read (plain GET with $filter, no tracking) or the TDS
//     key-range read, of the rows as they are now.
//
// Every change after the delta link's version therefore also comes through
// the link: a change made during step 2 arrives twice at worst (once in the
// read, once in the next delta), which is harmless; none is missed, as the
// link's version is no later than the first row step 2 reads. (The service
// does not document whether a paged delta read takes its version at the
// first request or the last; both are before step 2.)
//
// The token then holds that key-only link ("keyed" mode). An incremental
// fetch follows it and gets, per page, the ids of the rows changed since
// and the ids deleted. Deleted ids are sent as deletes. The changed ids are
// read again in groups of requeryBatch with
//
//	$filter=(<the entity's filter>) and (<key> eq id1 or <key> eq id2 …)
//
// Those the server returns still match the filter now: they are upserts
// with their current values. Every other changed id did not match when it
// was read again — it left the filter, or never was in it — and is sent as
// a delete (a delete of a row the device does not hold is a no-op). So
// after an incremental fetch the device holds, of the rows that changed,
// exactly those matching the filter, and of the rows that did not change,
// those that matched before: nothing outside the filter stays. Filters
// whose match can change without the row changing (relative dates, user
// operators, links) are the engine's to recheck (sdk.Filter.Volatile).
//
// A re-read happens after the delta page that named the ids was received,
// so after the new delta link's version: a change to such a row after its
// re-read shows up in the next delta.

// requeryBatch is how many ids one re-read names: ~50 bytes of $filter
// each, so a request line stays under 6 KB.
const requeryBatch = 100

// bootstrap takes a key-only delta link of e, walking its pages; see above.
func (c *Connector) bootstrap(ctx context.Context, e *entity) (string, error) {
	link := e.set + "?$select=" + queryEscape(e.pk)
	for page := 1; ; page++ {
		what := "delta link bootstrap of " + e.name + " page " + strconv.Itoa(page)
		resp, err := c.http.do(ctx, request{Method: http.MethodGet, URL: link, What: what,
			Header: http.Header{"Prefer": {prefer(true, bootstrapPageSize)}}})
		if err != nil {
			return "", err
		}
		next, delta, err := skipCollection(resp)
		if err != nil {
			return "", bodyError(ctx, what, err)
		}
		switch {
		case delta != "":
			return c.http.relative(delta)
		case next != "":
			if link, err = c.http.relative(next); err != nil {
				return "", err
			}
		default:
			return "", sdk.Errorf(sdk.Permanent, "dataverse: %s: the service gave no delta link; is change tracking enabled for the table?", what)
		}
	}
}

// skipCollection reads a collection response to its end for its links.
// The rows are not looked at: each top-level value (the value array
// included, at most a page) is scanned whole by the decoder, which is
// several times cheaper than walking it token by token.
func skipCollection(resp *http.Response) (next, delta string, err error) {
	defer resp.Body.Close()
	dec := newDecoder(resp.Body)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", "", fmt.Errorf("%w: expected an object (%v)", errMalformed, err)
	}
	var raw json.RawMessage
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", "", err
		}
		key, ok := tok.(string)
		if !ok {
			return "", "", fmt.Errorf("%w: expected a property name, got %v", errMalformed, tok)
		}
		switch key {
		case "@odata.nextLink", "@odata.deltaLink":
			var link string
			if err := dec.Decode(&link); err != nil {
				return "", "", fmt.Errorf("%w: %s is not a string", errMalformed, key)
			}
			if key == "@odata.nextLink" {
				next = link
			} else {
				delta = link
			}
		default:
			if err := dec.Decode(&raw); err != nil {
				return "", "", err
			}
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return "", "", fmt.Errorf("%w: the object does not end (%v)", errMalformed, err)
	}
	return next, delta, nil
}

// resolveKeyed makes the page of one chunk of a keyed delta: the changed
// ids that still match the filter as upserts with their current values,
// the other changed ids and the deleted ones as deletes.
func (c *Connector) resolveKeyed(ctx context.Context, p *fetchPlan, changed, deleted []string) (*sdk.Page, error) {
	b := sdk.NewPageBuilder(p.names, p.types)
	found := make(map[string]bool, len(changed))
	wanted := make(map[string]bool, len(changed))
	for _, id := range changed {
		wanted[id] = true
	}
	vals := make([]sdk.Value, len(p.fields))
	for start := 0; start < len(changed); start += requeryBatch {
		chunk := changed[start:min(start+requeryBatch, len(changed))]
		var keys strings.Builder
		keys.WriteByte('(')
		for i, id := range chunk {
			g, err := canonicalGUID(id)
			if err != nil {
				return nil, sdk.Errorf(sdk.Permanent, "dataverse: incremental fetch %s: the service named a changed row %q that is not a GUID", p.e.name, id)
			}
			if i > 0 {
				keys.WriteString(" or ")
			}
			keys.WriteString(p.e.pk + " eq " + g)
		}
		keys.WriteByte(')')
		filter := keys.String()
		if p.filter != "" {
			filter = "(" + p.filter + ") and " + filter
		}
		link := p.e.set + "?$select=" + queryEscape(p.sel) + "&$filter=" + queryEscape(filter)
		for page := 1; link != ""; page++ {
			what := "incremental fetch " + p.e.name + ": re-read of changed rows"
			resp, err := c.http.do(ctx, request{Method: http.MethodGet, URL: link, What: what,
				Header: http.Header{"Prefer": {prefer(false, requeryBatch)}}})
			if err != nil {
				return nil, err
			}
			next, err := func() (string, error) {
				defer resp.Body.Close()
				col, err := openCollection(resp.Body)
				if err != nil {
					return "", err
				}
				for {
					more, err := col.more()
					if err != nil {
						return "", err
					}
					if !more {
						return col.nextLink, nil
					}
					it, err := col.readItem(p.e, p.slots, p.fields, vals)
					if err != nil {
						return "", err
					}
					if it.deleted || found[it.id] || !wanted[it.id] || !p.keep(it.id, vals) {
						continue
					}
					found[it.id] = true
					b.Add(it.id, it.etag, vals[:len(p.names)]...)
				}
			}()
			if err != nil {
				return nil, bodyError(ctx, what, err)
			}
			link = ""
			if next != "" {
				if link, err = c.http.relative(next); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, id := range changed {
		if !found[id] {
			b.Delete(id)
			found[id] = true
		}
	}
	for _, id := range deleted {
		if !found[id] {
			b.Delete(id)
			found[id] = true
		}
	}
	return b.Page(), nil
}
