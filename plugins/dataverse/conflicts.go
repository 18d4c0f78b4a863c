package dataverse

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/fieldsync/fieldsync/sdk"
)

// settle answers the changes whose outcome needs the server's current row
// (see Push): it reads those rows in one $batch of GETs and decides.
func (c *Connector) settle(ctx context.Context, m *model, ops []*pushOp, follow []int, results []sdk.ChangeResult) error {
	for start := 0; start < len(follow); start += maxBatchRequests {
		chunk := follow[start:min(start+maxBatchRequests, len(follow))]
		groups := make([]batchGroup, len(chunk))
		for k, i := range chunk {
			groups[k] = batchGroup{Ops: []batchOp{rowRequest(ops[i].e, ops[i].id)}}
		}
		res, err := c.sendBatch(ctx, fmt.Sprintf("read %d rows for the push's answers", len(chunk)), groups, true)
		if err != nil {
			return err
		}
		for k, i := range chunk {
			op, out := ops[i], &results[i]
			if k >= len(res) || len(res[k].Results) != 1 {
				out.Status, out.Err = sdk.StatusFailed, sdk.Errorf(sdk.Retryable, "dataverse: %s %s %s: the row could not be read to answer the change", op.ch.Op, op.e.name, op.id)
				continue
			}
			r := res[k].Results[0]
			var row *sdk.Record
			switch {
			case r.Status == http.StatusOK:
				rec, err := decodeEntity(r.Body, op.e)
				if err != nil {
					out.Status, out.Err = sdk.StatusFailed, sdk.Errorf(sdk.Retryable, "dataverse: %s %s %s: reading the row: %v", op.ch.Op, op.e.name, op.id, err)
					continue
				}
				row = &rec
			case r.Status == http.StatusNotFound:
			default:
				e := parseAPIError(r.Status, r.Body, "read "+op.e.name+" "+op.id)
				out.Status, out.Err = sdk.StatusFailed, &sdk.Error{Kind: sdk.Retryable, Message: e.Error(), Err: e}
				continue
			}
			decide(op, row, out)
		}
	}
	return nil
}

// decide answers a change from the row the server holds now (nil: none).
func decide(op *pushOp, row *sdk.Record, out *sdk.ChangeResult) {
	applied := func(version string) {
		out.Status, out.ID, out.Version, out.Err = sdk.StatusApplied, op.id, version, nil
	}
	conflict := func() {
		out.Status, out.Current, out.ServerDeleted, out.Err = sdk.StatusConflict, row, row == nil, nil
	}
	switch {
	case op.state == stateVersion:
		version := ""
		if row != nil {
			version = row.Version
		}
		applied(version)
	case op.ch.Op == sdk.OpDelete:
		if row == nil {
			applied("")
		} else {
			conflict()
		}
	case row == nil && op.state == stateExists:
		out.Status, out.Err = sdk.StatusFailed, sdk.Errorf(sdk.Permanent, "dataverse: create %s %s: the service says the key exists, but the row cannot be read (another table, or no access)", op.e.name, op.id)
	case row == nil:
		conflict()
	case holds(op, row):
		applied(row.Version)
	default:
		conflict()
	}
}

// holds reports whether row already has every value the change writes:
// then a refused create or update was applied before (a resend), or the
// server came to the same values; either way nothing is lost by answering
// applied.
func holds(op *pushOp, row *sdk.Record) bool {
	for name, want := range op.ch.Values {
		if name == op.e.pk {
			continue
		}
		f := op.e.byName[name]
		if f == nil {
			return false
		}
		if !sameValue(f.typ, want, row.Values[name]) {
			return false
		}
	}
	return true
}

// rowRequest reads one row with every field.
func rowRequest(e *entity, id string) batchOp {
	sel := []string{e.pk}
	for _, f := range e.fields {
		sel = append(sel, f.json)
	}
	return batchOp{Method: http.MethodGet, URL: e.set + "(" + id + ")?$select=" + queryEscape(strings.Join(sel, ",")),
		Header: http.Header{"Accept": {"application/json"}}}
}

// decodeEntity reads a single-entity JSON body into a record of every
// field the body holds.
func decodeEntity(body []byte, e *entity) (sdk.Record, error) {
	slots := make(map[string]int, len(e.fields))
	for i, f := range e.fields {
		slots[f.json] = i
	}
	vals := make([]sdk.Value, len(e.fields))
	col := &collection{}
	col.dec = newDecoder(bytes.NewReader(body))
	it, err := col.readItem(e, slots, e.fields, vals)
	if err != nil {
		return sdk.Record{}, err
	}
	rec := sdk.Record{ID: it.id, Version: it.etag, Values: make(map[string]sdk.Value, len(e.fields))}
	for i, f := range e.fields {
		rec.Values[f.name] = vals[i]
	}
	return rec, nil
}
