package dataverse

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/fieldsync/fieldsync/sdk"
)

// Push applies changes in $batch requests of at most 1000 operations, with
// Prefer: odata.continue-on-error so one failure does not stop the rest.
// Each change is its own change set, except creates that reference a
// create earlier in the same push: those share one change set, the child
// binding its parent as $n (the parent's Content-ID), so a failed parent
// takes its children with it instead of leaving orphans.
//
// Idempotency (the core resends a batch whose outcome it did not learn,
// with the same change ids, and the Web API keeps no change ids):
//
//   - a create carries the client-chosen GUID as its key, so a resend
//     cannot make a second row: the service refuses it as a duplicate key.
//     The connector then reads the row and compares it with the change's
//     values: equal means the first send was applied (answered applied,
//     with the row's version); different means someone changed the row
//     since, answered as a conflict carrying the server's row;
//   - an update is a PATCH with If-Match: the change's base version. A
//     resend after it was applied fails (412: the version moved); the
//     connector reads the row, and when the row holds the change's values
//     the change is answered applied with the current version, else as a
//     conflict with the server's row (what a stale update is anyway);
//   - a delete is a DELETE with If-Match; a resend finds no row (404),
//     answered applied. A 412 with the row still there is a conflict.
//
// Updates and deletes without a base version send If-Match: * (an update
// must not create a row the server deleted; PATCH alone would upsert).
func (c *Connector) Push(ctx context.Context, req sdk.PushRequest) (*sdk.PushResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dataverse: push: %w", err)
	}
	if c.closed.Load() {
		return nil, sdk.Errorf(sdk.Permanent, "dataverse: push: the connector is closed")
	}
	m, err := c.loadModel(ctx)
	if err != nil {
		return nil, err
	}
	n := len(req.Changes)
	results := make([]sdk.ChangeResult, n)
	ops := make([]*pushOp, n)
	var pending []int
	for i, ch := range req.Changes {
		results[i].ChangeID = ch.ChangeID
		op, perr := prepare(m, ch)
		if perr != nil {
			results[i].Status, results[i].Err = sdk.StatusFailed, perr
			continue
		}
		ops[i] = op
		pending = append(pending, i)
	}
	var follow []int // changes needing the server's row to be answered
	isolate := map[int]bool{}
	// Rounds: a failed change set rolls back all of its changes; the ones
	// that were not at fault go again in the next round.
	for round := 0; len(pending) > 0 && round < 4; round++ {
		var again []int
		for start := 0; start < len(pending); {
			groups, members, used := c.group(ops, pending[start:], isolate)
			start += used
			res, err := c.sendBatch(ctx, fmt.Sprintf("push of %d changes", used), groups, true)
			if err != nil {
				if sdk.KindOf(err) == sdk.Permanent {
					// The service refused the batch as a whole: the same
					// request fails again, so each change says why.
					for _, g := range members {
						for _, i := range g {
							results[i].Status, results[i].Err = sdk.StatusFailed, sdk.Errorf(sdk.Permanent, "%v", err)
						}
					}
					continue
				}
				return nil, err
			}
			for gi, g := range members {
				if gi >= len(res) {
					again = append(again, g...) // the service stopped before it
					continue
				}
				r := res[gi]
				if len(r.Results) == len(g) && allOK(r.Results) {
					for k, i := range g {
						if !c.applied(ops[i], r.Results[k], &results[i]) {
							follow = append(follow, i)
						}
					}
					continue
				}
				guilty := -1
				if len(g) == 1 {
					guilty = g[0]
				} else {
					for k, i := range g {
						for _, or := range r.Results {
							if or.ContentID == ops[i].contentID && failed(or.Status) {
								guilty = g[k]
							}
						}
					}
				}
				if guilty < 0 {
					// A change set failed without saying which change: send
					// its changes alone next time.
					for _, i := range g {
						isolate[i] = true
					}
					again = append(again, g...)
					continue
				}
				var fr opResult
				for _, or := range r.Results {
					if failed(or.Status) {
						fr = or
						break
					}
				}
				if c.refused(ops[guilty], fr, &results[guilty]) {
					follow = append(follow, guilty)
				}
				for _, i := range g {
					if i != guilty {
						again = append(again, i)
					}
				}
			}
		}
		pending = again
	}
	for _, i := range pending {
		results[i].Status = sdk.StatusFailed
		results[i].Err = sdk.Errorf(sdk.Retryable, "dataverse: %s %s %s: not applied: the change set kept failing on other changes", ops[i].ch.Op, ops[i].ch.Entity, ops[i].ch.ID)
	}
	if len(follow) > 0 {
		if err := c.settle(ctx, m, ops, follow, results); err != nil {
			return nil, err
		}
	}
	return &sdk.PushResponse{Results: results}, nil
}

// pushOp is a change made ready to send.
type pushOp struct {
	ch        sdk.Change
	e         *entity
	id        string
	body      map[string]json.RawMessage // create/update: JSON properties
	refs      map[string]string          // property → id of a row created in this push
	contentID int                        // in the batch it goes in; 0 before
	state     opState                    // what the answer needs: see settle
}

type opState uint8

const (
	stateNone       opState = iota
	stateVersion            // applied, but the answer carried no version
	stateExists             // create refused: the key exists
	stateStale              // update or delete refused: the version moved
	stateGoneUpdate         // update of a row the server does not have
)

// prepare checks a change against the model and renders its body; what it
// refuses fails as Permanent with no request sent.
func prepare(m *model, ch sdk.Change) (*pushOp, *sdk.Error) {
	e := m.byName[ch.Entity]
	if e == nil {
		return nil, sdk.Errorf(sdk.Permanent, "dataverse: push: unknown entity %q", ch.Entity)
	}
	if ch.Op != sdk.OpCreate && ch.Op != sdk.OpUpdate && ch.Op != sdk.OpDelete {
		return nil, sdk.Errorf(sdk.Permanent, "dataverse: push %s %s: invalid operation %d", e.name, ch.ID, ch.Op)
	}
	id, err := canonicalGUID(ch.ID)
	if err != nil {
		what := "id"
		if ch.Op == sdk.OpCreate {
			what = "client-chosen id (the connector needs GUID ids: entity capability ClientIDs)"
		}
		return nil, sdk.Errorf(sdk.Permanent, "dataverse: push %s %s: the %s is not a GUID: %v", ch.Op, e.name, what, err)
	}
	op := &pushOp{ch: ch, e: e, id: id}
	if ch.Op == sdk.OpDelete {
		return op, nil
	}
	op.body = map[string]json.RawMessage{}
	if ch.Op == sdk.OpCreate {
		op.body[e.pk], _ = json.Marshal(id)
	}
	for name, v := range ch.Values {
		if name == e.pk {
			if v.Kind() != sdk.KindString || !strings.EqualFold(v.Str(), id) {
				return nil, sdk.Errorf(sdk.Permanent, "dataverse: push %s %s %s: the key %s cannot be changed", ch.Op, e.name, id, name)
			}
			continue
		}
		f := e.byName[name]
		if f == nil {
			return nil, sdk.Errorf(sdk.Permanent, "dataverse: push %s %s %s: unknown field %q", ch.Op, e.name, id, name)
		}
		if f.readOnly {
			return nil, sdk.Errorf(sdk.Permanent, "dataverse: push %s %s %s: field %q %v (the server sets it)", ch.Op, e.name, id, name, errReadOnly)
		}
		raw, err := encodeValue(f, v)
		if err != nil {
			return nil, sdk.Errorf(sdk.Permanent, "dataverse: push %s %s %s: field %q: %v", ch.Op, e.name, id, name, err)
		}
		if f.typ != sdk.TypeLookup {
			op.body[f.json] = raw
			continue
		}
		// A lookup is written through its navigation property:
		// "nav@odata.bind": "/set(id)" (or null to clear it).
		t := f.targets[0]
		key := t.nav + "@odata.bind"
		if v.IsNull() {
			op.body[key] = json.RawMessage("null")
			continue
		}
		var target string
		_ = json.Unmarshal(raw, &target)
		op.body[key], _ = json.Marshal("/" + m.byName[t.entity].set + "(" + target + ")")
		if op.refs == nil {
			op.refs = map[string]string{}
		}
		op.refs[key] = t.entity + "/" + target
	}
	return op, nil
}

// group packs pending changes (indexes into ops) into batch groups of at
// most maxBatchRequests requests, and says how many of pending it took.
// A create referencing an earlier create of the same batch joins its
// change set; isolated changes never share one.
func (c *Connector) group(ops []*pushOp, pending []int, isolate map[int]bool) ([]batchGroup, [][]int, int) {
	used := min(len(pending), maxBatchRequests)
	take := pending[:used]
	created := map[string]int{} // "entity/id" → position in take
	parent := make([]int, len(take))
	for k := range parent {
		parent[k] = k
	}
	root := func(k int) int {
		for parent[k] != k {
			parent[k] = parent[parent[k]]
			k = parent[k]
		}
		return k
	}
	for k, i := range take {
		op := ops[i]
		if op.ch.Op == sdk.OpCreate && !isolate[i] {
			for _, ref := range op.refs {
				if j, ok := created[ref]; ok {
					parent[root(k)] = root(j)
				}
			}
			created[op.e.name+"/"+op.id] = k
		}
	}
	var groups []batchGroup
	var members [][]int
	at := map[int]int{} // root → group index
	contentID := 0
	byKey := map[string]int{} // "entity/id" → Content-ID in this batch
	for k, i := range take {
		r := root(k)
		gi, ok := at[r]
		if !ok {
			gi = len(groups)
			at[r] = gi
			groups = append(groups, batchGroup{ChangeSet: true})
			members = append(members, nil)
		}
		contentID++
		op := ops[i]
		op.contentID = contentID
		groups[gi].Ops = append(groups[gi].Ops, c.request(op, byKey, members[gi], ops))
		groups[gi].IDs = append(groups[gi].IDs, contentID)
		members[gi] = append(members[gi], i)
		if op.ch.Op == sdk.OpCreate {
			byKey[op.e.name+"/"+op.id] = contentID
		}
	}
	return groups, members, used
}

// request renders one change as a batch request. References to a create
// of the same change set become $n.
func (c *Connector) request(op *pushOp, byKey map[string]int, sameSet []int, ops []*pushOp) batchOp {
	e := op.e
	h := http.Header{}
	switch op.ch.Op {
	case sdk.OpDelete:
		h.Set("If-Match", ifMatch(op.ch.BaseVersion))
		return batchOp{Method: http.MethodDelete, URL: e.set + "(" + op.id + ")", Header: h}
	}
	body := op.body
	if len(op.refs) > 0 {
		inSet := map[string]bool{}
		for _, j := range sameSet {
			inSet[ops[j].e.name+"/"+ops[j].id] = true
		}
		body = make(map[string]json.RawMessage, len(op.body))
		for k, v := range op.body {
			body[k] = v
		}
		for key, ref := range op.refs {
			if n, ok := byKey[ref]; ok && inSet[ref] {
				body[key], _ = json.Marshal("$" + strconv.Itoa(n))
			}
		}
	}
	h.Set("Content-Type", "application/json")
	h.Set("Prefer", "return=representation")
	raw := marshalSorted(body, e.pk)
	if op.ch.Op == sdk.OpCreate {
		return batchOp{Method: http.MethodPost, URL: e.set + "?$select=" + queryEscape(e.pk), Header: h, Body: raw}
	}
	h.Set("If-Match", ifMatch(op.ch.BaseVersion))
	return batchOp{Method: http.MethodPatch, URL: e.set + "(" + op.id + ")?$select=" + queryEscape(e.pk), Header: h, Body: raw}
}

// ifMatch is the If-Match value of a base version: the ETag as fetched
// (W/"123"), a bare version quoted as a weak ETag, or * when there is none.
func ifMatch(v string) string {
	switch {
	case v == "":
		return "*"
	case strings.HasPrefix(v, `W/"`) || strings.HasPrefix(v, `"`):
		return v
	}
	return `W/"` + v + `"`
}

// marshalSorted writes a JSON object with first, then the other keys in
// order, so request bodies are stable (golden tests, logs).
func marshalSorted(m map[string]json.RawMessage, first string) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != first {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if _, ok := m[first]; ok {
		keys = append([]string{first}, keys...)
	}
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(m[k])
	}
	b.WriteByte('}')
	return b.Bytes()
}

func failed(status int) bool { return status >= 400 }

func allOK(rs []opResult) bool {
	for _, r := range rs {
		if failed(r.Status) {
			return false
		}
	}
	return true
}

// applied records a successful answer; false when the answer carried no
// version, which settle then reads.
func (c *Connector) applied(op *pushOp, r opResult, res *sdk.ChangeResult) bool {
	res.Status, res.ID = sdk.StatusApplied, op.id
	if op.ch.Op == sdk.OpDelete {
		return true
	}
	if v := etagOf(r); v != "" {
		res.Version = v
		return true
	}
	op.state = stateVersion
	return false
}

// etagOf reads a version from a write's answer: @odata.etag of the
// returned representation, else the ETag header.
func etagOf(r opResult) string {
	if len(r.Body) > 0 {
		var doc struct {
			ETag string `json:"@odata.etag"`
		}
		if json.Unmarshal(r.Body, &doc) == nil && doc.ETag != "" {
			return doc.ETag
		}
	}
	return r.Header.Get("ETag")
}

// refused records a failed answer; true when settle must read the row to
// tell what happened.
func (c *Connector) refused(op *pushOp, r opResult, res *sdk.ChangeResult) bool {
	e := parseAPIError(r.Status, r.Body, fmt.Sprintf("%s %s %s", op.ch.Op, op.e.name, op.id))
	switch op.ch.Op {
	case sdk.OpCreate:
		if duplicateKey(e) {
			op.state = stateExists
			return true
		}
	case sdk.OpUpdate:
		switch r.Status {
		case http.StatusPreconditionFailed:
			op.state = stateStale
			return true
		case http.StatusNotFound:
			res.Status, res.ServerDeleted = sdk.StatusConflict, true
			return false
		}
	case sdk.OpDelete:
		switch r.Status {
		case http.StatusPreconditionFailed:
			op.state = stateStale
			return true
		case http.StatusNotFound:
			res.Status, res.ID = sdk.StatusApplied, op.id // deleting is idempotent
			return false
		}
	}
	res.Status, res.Err = sdk.StatusFailed, e.sdkError()
	if res.Err.Kind == sdk.TokenExpired {
		res.Err.Kind = sdk.Permanent
	}
	return false
}

// duplicateKey recognizes the answer to a create whose key exists. The
// service's exact answer is not in our sources (PROTOCOLS.md says only
// that a client-chosen key is accepted); Dataverse answers 412 with code
// 0x80040237 "A record with matching key values already exists." where
// observed, other stacks 409. All are matched here, in one place.
func duplicateKey(e *apiError) bool {
	if e.Status == http.StatusConflict || e.Status == http.StatusPreconditionFailed {
		return true
	}
	m := strings.ToLower(e.Message)
	return e.Code == "0x80040237" || strings.Contains(m, "already exists") || strings.Contains(m, "duplicate key") ||
		strings.Contains(m, "matching key")
}
