package dataverse

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/fieldsync/fieldsync/sdk"
)

// CheckChanges answers whether entities changed since their tokens in one
// request: a $batch with one GET {set}/$count?$deltatoken=… per probe, the
// documented form that returns only the number of changes (PROTOCOLS.md).
// A count above zero, an error, an expired token, or a token that took no
// delta link all answer true: the fetch that follows finds out exactly
// (and reports an expiry as TokenExpired). A keyed token's link counts
// changes outside the filter too, so it may answer true for nothing the
// device holds; never false for a change it needs.
func (c *Connector) CheckChanges(ctx context.Context, probes []sdk.ChangeProbe) ([]bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dataverse: check changes: %w", err)
	}
	m, err := c.loadModel(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(probes))
	var at []int
	var groups []batchGroup
	for i, p := range probes {
		out[i] = true
		e := m.byName[p.Entity]
		if e == nil {
			return nil, sdk.Errorf(sdk.Permanent, "dataverse: check changes: unknown entity %q", p.Entity)
		}
		var t changeToken
		if !decodeOpaque(kindToken, p.Token, &t) || t.Entity != e.name || t.Mode == modeNone || t.Link == "" {
			continue
		}
		dt := deltaTokenOf(t.Link)
		if dt == "" {
			continue
		}
		at = append(at, i)
		groups = append(groups, batchGroup{Ops: []batchOp{{Method: http.MethodGet,
			URL: e.set + "/$count?$deltatoken=" + queryEscape(dt), Header: http.Header{"Accept": {"text/plain"}}}}})
	}
	for start := 0; start < len(groups); start += maxBatchRequests {
		end := min(start+maxBatchRequests, len(groups))
		res, err := c.sendBatch(ctx, fmt.Sprintf("change check of %d entities", end-start), groups[start:end], true)
		if err != nil {
			return nil, err
		}
		for k := start; k < end; k++ {
			if k-start >= len(res) || len(res[k-start].Results) != 1 {
				continue
			}
			r := res[k-start].Results[0]
			if r.Status != http.StatusOK {
				continue
			}
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(string(r.Body), "\ufeff")), 10, 64)
			if err == nil && n == 0 {
				out[at[k]] = false
			}
		}
	}
	return out, nil
}

// deltaTokenOf returns the $deltatoken of a delta link, decoded.
func deltaTokenOf(link string) string {
	_, query, ok := strings.Cut(link, "?")
	if !ok {
		return ""
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return ""
	}
	return q.Get("$deltatoken")
}

// Usage reports requests, retries and throttled time since the connector
// was opened, and per entity whether its last full read went over the Web
// API ("webapi") or TDS ("tds").
func (c *Connector) Usage(ctx context.Context) (sdk.Usage, error) {
	if err := ctx.Err(); err != nil {
		return sdk.Usage{}, fmt.Errorf("dataverse: usage: %w", err)
	}
	req, retries, throttled := c.http.usage()
	if c.tds != nil {
		req += c.tds.queries.Load()
	}
	c.pathsMu.Lock()
	paths := maps.Clone(c.paths)
	c.pathsMu.Unlock()
	return sdk.Usage{Requests: req, Retries: retries, ThrottledMs: throttled, Paths: paths}, nil
}
