package rescocloud

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/fieldsync/fieldsync/plugins/rescocloud/wire"
	"github.com/fieldsync/fieldsync/sdk"
)

// Push sends the changes in request order as CreateMultiple,
// UpdateMultiple and DeleteMultiple calls: each run of consecutive changes
// of one entity and one operation is one call (up to batch_size records;
// a run also ends where a row repeats, so two updates of one row go in
// order). Every record carries its change id as RequestId, which the
// service answers with its first outcome, so a retried batch applies
// nothing twice. A change the connector can tell is bad (unknown entity or
// field, wrong type, read-only field, malformed id or version) fails alone
// before anything is sent.
func (c *Connector) Push(ctx context.Context, req sdk.PushRequest) (*sdk.PushResponse, error) {
	if err := c.check(ctx, "push"); err != nil {
		return nil, err
	}
	m, err := c.loadModel(ctx)
	if err != nil {
		return nil, err
	}
	results := make([]sdk.ChangeResult, len(req.Changes))
	var batch []int
	var recs []wire.WriteRecord
	ids := map[string]bool{}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := c.sendBatch(ctx, m, req.Changes, batch, recs, results)
		batch, recs = batch[:0], recs[:0]
		clear(ids)
		return err
	}
	for i := range req.Changes {
		ch := &req.Changes[i]
		results[i].ChangeID = ch.ChangeID
		rec, err := c.prepare(m, ch)
		if err != nil {
			results[i].Status = sdk.StatusFailed
			results[i].ID = ch.ID
			results[i].Err = sdk.Errorf(sdk.Permanent, "rescocloud: %s %s %s: %v", ch.Op, ch.Entity, ch.ID, err)
			continue
		}
		if len(batch) > 0 {
			first := &req.Changes[batch[0]]
			if first.Entity != ch.Entity || first.Op != ch.Op || len(batch) >= c.cfg.BatchSize || ids[strings.ToLower(rec.Id)] {
				if err := flush(); err != nil {
					return nil, err
				}
			}
		}
		batch = append(batch, i)
		recs = append(recs, rec)
		ids[strings.ToLower(rec.Id)] = true
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return &sdk.PushResponse{Results: results}, nil
}

// prepare checks a change and renders its record.
func (c *Connector) prepare(m *model, ch *sdk.Change) (wire.WriteRecord, error) {
	em, err := m.entity(ch.Entity)
	if err != nil {
		return wire.WriteRecord{}, errors.New("unknown entity")
	}
	if ch.ChangeID == "" || len(ch.ChangeID) > 128 {
		return wire.WriteRecord{}, errors.New("a change needs a change id of 1 to 128 bytes")
	}
	rec := wire.WriteRecord{Id: ch.ID, RequestId: ch.ChangeID}
	switch ch.Op {
	case sdk.OpCreate:
		if rec.Id == "" {
			rec.Id = newGUID()
		}
	case sdk.OpUpdate, sdk.OpDelete:
		if ch.BaseVersion != "" {
			v, err := strconv.ParseInt(ch.BaseVersion, 10, 64)
			if err != nil || v <= 0 {
				return wire.WriteRecord{}, fmt.Errorf("base version %q is not a row version of this service", ch.BaseVersion)
			}
			rec.RowVersion = &v
		}
	default:
		return wire.WriteRecord{}, fmt.Errorf("unknown operation %d", ch.Op)
	}
	if !sdk.IsGUID(rec.Id) {
		return wire.WriteRecord{}, fmt.Errorf("id %q is not a GUID", rec.Id)
	}
	rec.Id = strings.ToLower(rec.Id)
	if ch.Op == sdk.OpDelete {
		if len(ch.Values) > 0 {
			return wire.WriteRecord{}, errors.New("a delete carries no values")
		}
		return rec, nil
	}
	rec.Attributes = make(map[string]json.RawMessage, len(ch.Values))
	for name, v := range ch.Values {
		f := em.sdk.Field(name)
		if f == nil {
			return wire.WriteRecord{}, fmt.Errorf("unknown field %q", name)
		}
		if f.ReadOnly {
			return wire.WriteRecord{}, fmt.Errorf("field %q is read-only", name)
		}
		raw, err := encodeValue(f, em.attrs[name], em.targets[name], v)
		if err != nil {
			return wire.WriteRecord{}, fmt.Errorf("field %q: %v", name, err)
		}
		rec.Attributes[name] = raw
	}
	return rec, nil
}

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// sendBatch sends one *Multiple call for changes[idx] and fills their
// results. An error means the outcome is unknown.
func (c *Connector) sendBatch(ctx context.Context, m *model, changes []sdk.Change, idx []int, recs []wire.WriteRecord, results []sdk.ChangeResult) error {
	first := &changes[idx[0]]
	path := map[sdk.Op]string{sdk.OpCreate: wire.PathCreateMultiple, sdk.OpUpdate: wire.PathUpdateMultiple, sdk.OpDelete: wire.PathDeleteMultiple}[first.Op]
	what := fmt.Sprintf("%s %s (%d records)", path, first.Entity, len(recs))
	body, err := json.Marshal(wire.WriteRequest{Entity: first.Entity, Records: recs})
	if err != nil {
		return sdk.Errorf(sdk.Permanent, "rescocloud: %s: %v", what, err)
	}
	resp, err := c.http.postJSON(ctx, path, what, body)
	if err != nil {
		if sdk.KindOf(err) == sdk.Permanent && ctx.Err() == nil && !errors.Is(err, context.Canceled) {
			// The service refused the whole call (a bad request): nothing
			// was applied, and sending it again fails the same way.
			for k, i := range idx {
				results[i].Status, results[i].ID = sdk.StatusFailed, recs[k].Id
				results[i].Err = &sdk.Error{Kind: sdk.Permanent, Message: err.Error(), Err: err}
			}
			return nil
		}
		return err
	}
	wr, err := wire.DecodeWrite(resp.Body, len(recs))
	resp.Body.Close()
	if err != nil {
		// The call reached the service; its outcome is unknown. A retry
		// with the same request ids is answered with the first outcomes.
		return &sdk.Error{Kind: sdk.Retryable, Message: fmt.Sprintf("rescocloud: %s: bad answer from the service: %v", what, err), Err: err}
	}
	em := m.entities[first.Entity]
	var conflicts []int // positions in idx
	for k, i := range idx {
		res := &wr.Results[k]
		r := &results[i]
		r.ID = recs[k].Id
		if res.Error == nil {
			r.Status = sdk.StatusApplied
			r.ID = strings.ToLower(res.Id)
			if first.Op != sdk.OpDelete {
				r.Version = strconv.FormatInt(res.RowVersion, 10)
			}
			continue
		}
		e := res.Error
		switch {
		case e.Code == wire.CodeConcurrencyVersionMismatch:
			r.Status = sdk.StatusConflict
			conflicts = append(conflicts, k)
		case e.Code == wire.CodeRecordNotFound && first.Op == sdk.OpDelete:
			// The row is gone, which is what the delete wanted.
			r.Status = sdk.StatusApplied
		case e.Code == wire.CodeRecordNotFound:
			r.Status, r.ServerDeleted = sdk.StatusConflict, true
		default:
			kind := sdk.Permanent
			if e.Code == wire.CodeTooManyRequests || e.Code == wire.CodeServerError {
				kind = sdk.Retryable
			}
			r.Status = sdk.StatusFailed
			r.Err = &sdk.Error{Kind: kind, Message: fmt.Sprintf("rescocloud: %s %s %s: %s: %s", first.Op, first.Entity, recs[k].Id, e.Code, e.Message)}
		}
	}
	if len(conflicts) == 0 {
		return nil
	}
	want := make([]string, len(conflicts))
	for j, k := range conflicts {
		want[j] = recs[k].Id
	}
	current, err := c.currentRows(ctx, m, em, want)
	if err != nil {
		return err
	}
	for _, k := range conflicts {
		r := &results[idx[k]]
		if rec, ok := current[recs[k].Id]; ok {
			r.Current = rec
		} else {
			r.ServerDeleted = true
		}
	}
	return nil
}

// currentRows reads rows by id (all fields), for conflicts: one Fetch per
// page of ids.
func (c *Connector) currentRows(ctx context.Context, m *model, em *entityModel, ids []string) (map[string]*sdk.Record, error) {
	out := make(map[string]*sdk.Record, len(ids))
	fields := em.sdk.FieldNames()
	p := &fetchPlan{m: m, em: em, fields: fields, attrs: append([]string{em.sdk.PrimaryKey}, fields...)}
	for start := 0; start < len(ids); start += binaryPageSize {
		chunk := ids[start:min(start+binaryPageSize, len(ids))]
		vals := make([]sdk.Value, len(chunk))
		for i, id := range chunk {
			vals[i] = sdk.String(id)
		}
		fr, err := c.fetchPage(ctx, p, p.attrs, &sdk.Filter{Op: sdk.OpIn, Field: em.sdk.PrimaryKey, Values: vals}, len(chunk), 1, "")
		if err != nil {
			return nil, err
		}
		for i := range fr.Entities {
			rec := &fr.Entities[i]
			v, err := recordValues(em, fields, rec)
			if err != nil {
				return nil, badAnswer("Fetch "+em.sdk.Name, err)
			}
			r := &sdk.Record{ID: strings.ToLower(rec.Id), Version: strconv.FormatInt(rec.RowVersion, 10), Values: make(map[string]sdk.Value, len(fields))}
			for j, f := range fields {
				r.Values[f] = v[j]
			}
			out[r.ID] = r
		}
	}
	return out, nil
}
