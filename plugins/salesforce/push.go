package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/fieldsync/fieldsync/plugins/salesforce/soql"
	"github.com/fieldsync/fieldsync/sdk"
)

// Push: idempotency and conflicts.
//
// Salesforce assigns ids (ClientIDs false), and a composite write whose
// answer is lost leaves the engine not knowing whether it happened; it
// sends the batch again with the same change ids. So every write leaves a
// trace a retry can find, and a push goes in three rounds of composite
// requests (each composite one API call, carrying five subrequests of up
// to 200 records or ids):
//
//  1. Look-up: for updates and deletes, the rows by Id (all fields,
//     SystemModstamp, the change id field); for creates, the rows already
//     carrying the change's trace.
//  2. Write: creates, updates and deletes in request order, grouped into
//     sObject Collections subrequests.
//  3. Read-back: SystemModstamp of the rows written, which is the version a
//     fetch will show (collections answer ids only).
//
// Creates, by what the object has (describe):
//   - the external id field (external_id_field, externalId=true): upsert
//     PATCH composite/sobjects/{X}/{field} with the change's temporary id as
//     the external id. A retry finds the row in round 1 and answers it
//     without writing again (so its version does not move); should two
//     pushes race, the upsert still matches the same row. A reference to a
//     parent created in the same push goes as "<relationshipName>":
//     {"<field>": "<parent temp id>"}, which the server resolves after the
//     parent's subrequest ran.
//   - else the change id field (change_id_field): POST composite/sobjects
//     with the change id written into that field; round 1 looks for rows
//     already carrying the change id (one query per 200 creates). A later
//     update of the row overwrites the field, but the engine sends no
//     update of a row before its create's outcome is known.
//   - neither: the create fails as Permanent. Creating without a trace
//     risks a duplicate row on every retry.
//
// Updates and deletes carry the row's version (SystemModstamp in ms) as
// BaseVersion. Round 1 compares it with the row's stamp:
//   - equal: written (updates also write the change id field);
//   - moved, and the change id field holds this change id: this change's
//     own earlier write (a retry); answered applied with the row's current
//     version, not written again;
//   - moved otherwise: a conflict carrying the server's row;
//   - row gone: a conflict with ServerDeleted for an update, applied for a
//     delete (deleting is idempotent).
//
// Between round 1 and round 2 another writer may still change a row
// (sObject Collections take no per-record precondition); that window is a
// few hundred milliseconds, and the other writer's change is then
// overwritten as with any last-writer-wins update. Collections run with
// allOrNone false, so one record's error fails that change alone; error
// codes that pass with time (UNABLE_TO_LOCK_ROW, SERVER_UNAVAILABLE, …)
// are Retryable, the rest Permanent.

// pending is one change on its way through the rounds.
type pending struct {
	i      int // index in the request
	ch     sdk.Change
	o      *object
	record map[string]any // the collection record to write
	base   int64          // BaseVersion in ms; -1 when none was given
	kind   string         // write kind, see writeKey
	refs   []string       // temp ids of creates of this push the record references
	idRefs []*pending     // those creates whose server id must be put in before sending
	id     string         // server id once known
}

// Write kinds: one collection subrequest holds one kind of one object.
const (
	writeUpsert = "upsert" // PATCH composite/sobjects/{X}/{ext}
	writeCreate = "create" // POST composite/sobjects
	writeUpdate = "update" // PATCH composite/sobjects
	writeDelete = "delete" // DELETE composite/sobjects?ids=
)

// Push implements sdk.Connector.
func (c *Connector) Push(ctx context.Context, req sdk.PushRequest) (*sdk.PushResponse, error) {
	if err := c.usable(ctx, "push"); err != nil {
		return nil, err
	}
	m, err := c.loadModel(ctx)
	if err != nil {
		return nil, err
	}
	res := make([]sdk.ChangeResult, len(req.Changes))
	for i, ch := range req.Changes {
		res[i].ChangeID = ch.ChangeID
	}
	fail := func(i int, err *sdk.Error) {
		res[i] = sdk.ChangeResult{ChangeID: req.Changes[i].ChangeID, Status: sdk.StatusFailed, Err: err}
	}

	// Temp ids of creates, for references between changes of this push.
	temps := map[string]*pending{}
	var ps []*pending
	for i, ch := range req.Changes {
		p, perr := c.prepare(m, i, ch, temps)
		if perr != nil {
			fail(i, perr)
			continue
		}
		if ch.Op == sdk.OpCreate {
			temps[ch.ID] = p
		}
		ps = append(ps, p)
	}

	// Round 1: look-ups.
	rows, err := c.lookup(ctx, ps)
	if err != nil {
		return nil, err
	}
	var writes []*pending
	for _, p := range ps {
		if p.kind == "" {
			continue
		}
		r := rows.of(p)
		switch p.ch.Op {
		case sdk.OpCreate:
			if r != nil {
				res[p.i] = sdk.ChangeResult{ChangeID: p.ch.ChangeID, Status: sdk.StatusApplied, ID: r.id, Version: version(r.stamp)}
				p.id, p.kind = r.id, ""
				continue
			}
		case sdk.OpUpdate, sdk.OpDelete:
			switch {
			case r == nil && p.ch.Op == sdk.OpDelete:
				res[p.i] = sdk.ChangeResult{ChangeID: p.ch.ChangeID, Status: sdk.StatusApplied, ID: p.ch.ID}
				continue
			case r == nil:
				res[p.i] = sdk.ChangeResult{ChangeID: p.ch.ChangeID, Status: sdk.StatusConflict, ServerDeleted: true}
				continue
			case p.base >= 0 && r.stamp != p.base:
				if p.ch.Op == sdk.OpUpdate && p.o.changeID && r.changeID == p.ch.ChangeID {
					res[p.i] = sdk.ChangeResult{ChangeID: p.ch.ChangeID, Status: sdk.StatusApplied, ID: r.id, Version: version(r.stamp)}
					continue
				}
				cur, err := c.current(p.o, r)
				if err != nil {
					fail(p.i, sdk.Errorf(sdk.Retryable, "salesforce: %s of %s %s: reading the server's row: %v", p.ch.Op, p.o.name, p.ch.ID, err))
					continue
				}
				res[p.i] = sdk.ChangeResult{ChangeID: p.ch.ChangeID, Status: sdk.StatusConflict, Current: cur}
				continue
			}
		}
		writes = append(writes, p)
	}

	// Round 2: writes. A reference to a create of this push that has not
	// been written (it failed, or was found) is resolved to its id or fails.
	if err := c.write(ctx, writes, temps, res); err != nil {
		return nil, err
	}

	// Round 3: versions of what was written.
	if err := c.readBack(ctx, writes, res); err != nil {
		return nil, err
	}
	return &sdk.PushResponse{Results: res}, nil
}

// prepare checks a change and builds its collection record.
func (c *Connector) prepare(m *model, i int, ch sdk.Change, temps map[string]*pending) (*pending, *sdk.Error) {
	what := fmt.Sprintf("%s of %s %q", ch.Op, ch.Entity, ch.ID)
	o := m.objects[ch.Entity]
	if o == nil {
		return nil, sdk.Errorf(sdk.Permanent, "salesforce: %s: unknown entity %q", what, ch.Entity)
	}
	if !o.entity.Capabilities.Push {
		return nil, sdk.Errorf(sdk.Permanent, "salesforce: %s: the object takes no writes", what)
	}
	p := &pending{i: i, ch: ch, o: o, base: -1}
	switch ch.Op {
	case sdk.OpCreate:
		switch {
		case !o.createable:
			return nil, sdk.Errorf(sdk.Permanent, "salesforce: %s: the object is not createable for this user", what)
		case o.extID:
			p.kind = writeUpsert
		case o.changeID:
			p.kind = writeCreate
		default:
			return nil, sdk.Errorf(sdk.Permanent, "salesforce: %s: the object has neither the external id field %s (externalId) nor the change id field %s, so a create could not be found again after a lost answer and a retry would duplicate the row; add one of them to the object", what, c.cfg.externalID, c.cfg.changeIDField)
		}
		if ch.ID == "" || len(ch.ID) > 255 {
			return nil, sdk.Errorf(sdk.Permanent, "salesforce: %s: a create needs a temporary id of 1 to 255 characters", what)
		}
		if temps[ch.ID] != nil {
			return nil, sdk.Errorf(sdk.Permanent, "salesforce: %s: temporary id %q is used by an earlier create of this push", what, ch.ID)
		}
	case sdk.OpUpdate, sdk.OpDelete:
		if !validID(ch.ID) {
			return nil, sdk.Errorf(sdk.Permanent, "salesforce: %s: %q is not a Salesforce id", what, ch.ID)
		}
		if ch.Op == sdk.OpDelete && !o.deletable {
			return nil, sdk.Errorf(sdk.Permanent, "salesforce: %s: the object is not deletable for this user", what)
		}
		p.kind = writeUpdate
		if ch.Op == sdk.OpDelete {
			p.kind = writeDelete
		}
		if ch.BaseVersion != "" {
			b, err := strconv.ParseInt(ch.BaseVersion, 10, 64)
			if err != nil || b < 0 {
				return nil, sdk.Errorf(sdk.Permanent, "salesforce: %s: base version %q is not one of ours", what, truncate(ch.BaseVersion, 40))
			}
			p.base = b
		}
	default:
		return nil, sdk.Errorf(sdk.Permanent, "salesforce: change %q has invalid op %d", ch.ChangeID, ch.Op)
	}
	if ch.Op == sdk.OpDelete {
		return p, nil
	}
	rec := map[string]any{"attributes": map[string]string{"type": o.name}}
	for name, v := range ch.Values {
		f := o.fields[name]
		switch {
		case f == nil:
			return nil, sdk.Errorf(sdk.Permanent, "salesforce: %s: unknown field %q", what, name)
		case name == c.cfg.externalID || name == c.cfg.changeIDField:
			return nil, sdk.Errorf(sdk.Permanent, "salesforce: %s: field %s is the connector's own and cannot be written", what, name)
		case ch.Op == sdk.OpCreate && !f.createable, ch.Op == sdk.OpUpdate && !f.updateable:
			return nil, sdk.Errorf(sdk.Permanent, "salesforce: %s: field %s is read-only for a %s", what, name, ch.Op)
		}
		if f.typ == sdk.TypeLookup && v.Kind() == sdk.KindString {
			if parent := temps[v.Str()]; parent != nil {
				p.refs = append(p.refs, v.Str())
				if parent.kind == writeUpsert && f.relName != "" {
					rec[f.relName] = map[string]string{c.cfg.externalID: v.Str()}
				} else {
					rec[name] = v.Str() // replaced by the parent's id once it is written
					p.idRefs = append(p.idRefs, parent)
				}
				continue
			}
		}
		jv, err := encodeValue(f, v)
		if err != nil {
			return nil, sdk.Errorf(sdk.Permanent, "salesforce: %s: field %s: %v", what, name, err)
		}
		rec[name] = jv
	}
	switch ch.Op {
	case sdk.OpCreate:
		if o.extID {
			rec[c.cfg.externalID] = ch.ID
		}
	case sdk.OpUpdate:
		rec["Id"] = ch.ID
	}
	if o.changeID {
		rec[c.cfg.changeIDField] = ch.ChangeID
	}
	p.record = rec
	return p, nil
}

// serverRow is a row found in round 1.
type serverRow struct {
	id       string
	stamp    int64
	changeID string
	raw      map[string]json.RawMessage
}

// lookups holds round 1's answers.
type lookups struct {
	byID, byExt, byChange map[string]map[string]*serverRow // object → key → row
}

func (l *lookups) of(p *pending) *serverRow {
	switch p.ch.Op {
	case sdk.OpCreate:
		if p.kind == writeUpsert {
			return l.byExt[p.o.name][p.ch.ID]
		}
		return l.byChange[p.o.name][p.ch.ChangeID]
	}
	return l.byID[p.o.name][p.ch.ID]
}

// lookup runs round 1: queries of at most 200 keys, five per composite.
func (c *Connector) lookup(ctx context.Context, ps []*pending) (*lookups, error) {
	l := &lookups{byID: map[string]map[string]*serverRow{}, byExt: map[string]map[string]*serverRow{}, byChange: map[string]map[string]*serverRow{}}
	type group struct {
		o    *object
		by   string // "Id", the external id field or the change id field
		keys []string
		into map[string]map[string]*serverRow
	}
	var groups []*group
	index := map[string]*group{}
	for _, p := range ps {
		var g *group
		key, by, into := p.ch.ID, "Id", l.byID
		if p.ch.Op == sdk.OpCreate {
			if p.kind == writeUpsert {
				by, into = c.cfg.externalID, l.byExt
			} else {
				key, by, into = p.ch.ChangeID, c.cfg.changeIDField, l.byChange
			}
		}
		gk := p.o.name + "\x00" + by
		if g = index[gk]; g == nil || len(g.keys) == maxCollection {
			g = &group{o: p.o, by: by, into: into}
			index[gk] = g
			groups = append(groups, g)
		}
		g.keys = append(g.keys, key)
	}
	qs := make([]string, len(groups))
	for i, g := range groups {
		fields := []string{"Id", "SystemModstamp"}
		if g.o.changeID {
			fields = append(fields, c.cfg.changeIDField)
		}
		if g.by != "Id" && g.by != c.cfg.changeIDField {
			fields = append(fields, g.by) // the key the rows are matched back by
		}
		if g.by == "Id" {
			// Conflicts answer the server's row: read it all now.
			for _, f := range g.o.entity.Fields {
				if f.Name != "SystemModstamp" && f.Name != c.cfg.changeIDField {
					fields = append(fields, f.Name)
				}
			}
		}
		var cond string
		if g.by == "Id" {
			cond = "Id IN (" + quoteIDs(g.keys) + ")"
		} else {
			vals := make([]sdk.Value, len(g.keys))
			for k, key := range g.keys {
				vals[k] = sdk.String(key)
			}
			probe := &sdk.Entity{Name: g.o.name, PrimaryKey: "Id", Fields: []sdk.Field{{Name: g.by, Type: sdk.TypeString}}}
			w, err := soql.Where(sdk.Cmp(g.by, sdk.OpIn, vals...), nil, probe, soql.UserContext{})
			if err != nil {
				return nil, fmt.Errorf("salesforce: push look-up of %s: %w", g.o.name, err)
			}
			cond = w
		}
		qs[i] = "SELECT " + strings.Join(fields, ", ") + " FROM " + g.o.name + " WHERE " + cond
	}
	err := c.runQueries(ctx, qs, "push look-up", func(i int, page *queryPage) error {
		g := groups[i]
		if g.into[g.o.name] == nil {
			g.into[g.o.name] = map[string]*serverRow{}
		}
		for _, r := range page.Records {
			id, err := recordID(r)
			if err != nil {
				return sdk.Errorf(sdk.Retryable, "salesforce: push look-up of %s: %v", g.o.name, err)
			}
			stamp, err := recordStamp(r)
			if err != nil {
				return sdk.Errorf(sdk.Retryable, "salesforce: push look-up of %s: row %s: %v", g.o.name, id, err)
			}
			row := &serverRow{id: id, stamp: stamp, raw: r}
			if g.o.changeID {
				_ = json.Unmarshal(r[c.cfg.changeIDField], &row.changeID)
			}
			key := id
			if g.by != "Id" {
				if err := json.Unmarshal(r[g.by], &key); err != nil {
					return sdk.Errorf(sdk.Retryable, "salesforce: push look-up of %s: row %s has no %s", g.o.name, id, g.by)
				}
			}
			g.into[g.o.name][key] = row
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// current turns a looked-up row into a conflict's Current record.
func (c *Connector) current(o *object, r *serverRow) (*sdk.Record, error) {
	rec := &sdk.Record{ID: r.id, Version: version(r.stamp), Values: map[string]sdk.Value{}}
	for _, f := range o.entity.Fields {
		fd := o.fields[f.Name]
		v, err := decodeValue(fd.sfType, fd.typ, r.raw[f.Name])
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", f.Name, err)
		}
		rec.Values[f.Name] = v
	}
	return rec, nil
}

// write runs round 2: collections in request order, five per composite.
func (c *Connector) write(ctx context.Context, writes []*pending, temps map[string]*pending, res []sdk.ChangeResult) error {
	type batch struct {
		kind string
		o    *object
		ps   []*pending
	}
	var batches []*batch
	var cur *batch
	inBatch := map[string]bool{} // temp ids created in cur
	for _, p := range writes {
		split := cur == nil || cur.kind != p.kind || cur.o != p.o || len(cur.ps) == maxCollection
		for _, ref := range p.refs {
			split = split || inBatch[ref] // a parent must be written by an earlier subrequest
		}
		if split {
			cur = &batch{kind: p.kind, o: p.o}
			batches = append(batches, cur)
			clear(inBatch)
		}
		cur.ps = append(cur.ps, p)
		if p.ch.Op == sdk.OpCreate {
			inBatch[p.ch.ID] = true
		}
	}
	for start := 0; start < len(batches); {
		// Up to five subrequests, but a batch that needs the id of a
		// create in this same composite waits for the next one.
		end := start
		members := map[*pending]bool{}
	fill:
		for end < len(batches) && end-start < maxSubrequests {
			for _, p := range batches[end].ps {
				for _, parent := range p.idRefs {
					if members[parent] {
						break fill
					}
				}
			}
			for _, p := range batches[end].ps {
				members[p] = true
			}
			end++
		}
		group := batches[start:end]
		start = end
		subs := make([]subrequest, 0, len(group))
		sent := make([]*batch, 0, len(group))
		for k, b := range group {
			// References to parents of this push whose create did not
			// go through a relationship: substitute the id now known.
			var records []map[string]any
			var keep []*pending
			for _, p := range b.ps {
				if err := resolveRefs(p, temps); err != nil {
					res[p.i] = sdk.ChangeResult{ChangeID: p.ch.ChangeID, Status: sdk.StatusFailed, Err: err}
					p.kind = ""
					continue
				}
				keep = append(keep, p)
				records = append(records, p.record)
			}
			b.ps = keep
			if len(keep) == 0 {
				continue
			}
			ref := fmt.Sprintf("w%d", k)
			base := "/" + c.force.dataPath("composite/sobjects")
			switch b.kind {
			case writeUpsert:
				subs = append(subs, subrequest{Method: http.MethodPatch, URL: base + "/" + b.o.name + "/" + c.cfg.externalID, ReferenceID: ref, Body: collectionBody{Records: records}})
			case writeCreate:
				subs = append(subs, subrequest{Method: http.MethodPost, URL: base, ReferenceID: ref, Body: collectionBody{Records: records}})
			case writeUpdate:
				subs = append(subs, subrequest{Method: http.MethodPatch, URL: base, ReferenceID: ref, Body: collectionBody{Records: records}})
			case writeDelete:
				ids := make([]string, len(keep))
				for j, p := range keep {
					ids[j] = p.ch.ID
				}
				subs = append(subs, subrequest{Method: http.MethodDelete, URL: base + "?ids=" + strings.Join(ids, ",") + "&allOrNone=false", ReferenceID: ref})
			}
			sent = append(sent, b)
		}
		if len(subs) == 0 {
			continue
		}
		answers, err := c.composite(ctx, subs, "push")
		if err != nil {
			return err
		}
		for k, a := range answers {
			c.settle(sent[k].kind, sent[k].o, sent[k].ps, a, res)
		}
	}
	return nil
}

// resolveRefs puts the server id of a parent created earlier in this push
// into a record that references it by temporary id without a relationship.
func resolveRefs(p *pending, temps map[string]*pending) *sdk.Error {
	for name, v := range p.record {
		s, ok := v.(string)
		if !ok || name == "Id" || name == "attributes" {
			continue
		}
		parent := temps[s]
		if parent == nil || !contains(p.refs, s) {
			continue
		}
		if parent.id == "" {
			return sdk.Errorf(sdk.Retryable, "salesforce: %s of %s: field %s references row %q created in this push, whose create did not succeed", p.ch.Op, p.o.name, name, s)
		}
		p.record[name] = parent.id
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

// settle reads one collection answer into the changes' results.
func (c *Connector) settle(kind string, o *object, ps []*pending, a subresponse, res []sdk.ChangeResult) {
	failAll := func(err *sdk.Error) {
		for _, p := range ps {
			res[p.i] = sdk.ChangeResult{ChangeID: p.ch.ChangeID, Status: sdk.StatusFailed, Err: err}
			p.kind = ""
		}
	}
	what := kind + " of " + o.name
	if a.Status < 200 || a.Status > 299 {
		failAll(parseAPIError(a.Status, a.Body, what).sdkError())
		return
	}
	results, err := parseCollectionResults(a.Body, len(ps))
	if err != nil {
		failAll(sdk.Errorf(sdk.Retryable, "salesforce: %s: %v", what, err))
		return
	}
	for j, p := range ps {
		r := results[j]
		switch {
		case r.Success && kind == writeDelete:
			res[p.i] = sdk.ChangeResult{ChangeID: p.ch.ChangeID, Status: sdk.StatusApplied, ID: p.ch.ID}
			p.kind = ""
		case r.Success:
			id := r.ID
			if id == "" {
				id = p.ch.ID
			}
			if !validID(id) {
				res[p.i] = sdk.ChangeResult{ChangeID: p.ch.ChangeID, Status: sdk.StatusFailed, Err: sdk.Errorf(sdk.Retryable, "salesforce: %s: the server answered no id", what)}
				p.kind = ""
				continue
			}
			p.id = id
		case kind == writeDelete && gone(r.Errors):
			res[p.i] = sdk.ChangeResult{ChangeID: p.ch.ChangeID, Status: sdk.StatusApplied, ID: p.ch.ID}
			p.kind = ""
		case kind == writeUpdate && gone(r.Errors):
			res[p.i] = sdk.ChangeResult{ChangeID: p.ch.ChangeID, Status: sdk.StatusConflict, ServerDeleted: true}
			p.kind = ""
		default:
			res[p.i] = sdk.ChangeResult{ChangeID: p.ch.ChangeID, Status: sdk.StatusFailed, Err: recordError(fmt.Sprintf("%s of %s %q", p.ch.Op, o.name, p.ch.ID), r.Errors)}
			p.kind = ""
		}
	}
}

// gone reports errors that say the row no longer exists.
func gone(errs []sfError) bool {
	for _, e := range errs {
		switch e.code() {
		case "ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY", "NOT_FOUND":
			return true
		}
	}
	return false
}

// readBack runs round 3: the SystemModstamp of every written row.
func (c *Connector) readBack(ctx context.Context, writes []*pending, res []sdk.ChangeResult) error {
	type group struct {
		o   *object
		ids []string
	}
	var groups []*group
	byObj := map[*object]*group{}
	var done []*pending
	for _, p := range writes {
		if p.kind == "" || p.id == "" {
			continue
		}
		g := byObj[p.o]
		if g == nil || len(g.ids) == maxCollection {
			g = &group{o: p.o}
			byObj[p.o] = g
			groups = append(groups, g)
		}
		g.ids = append(g.ids, p.id)
		done = append(done, p)
	}
	stamps := map[string]int64{}
	qs := make([]string, len(groups))
	for i, g := range groups {
		qs[i] = "SELECT Id, SystemModstamp FROM " + g.o.name + " WHERE Id IN (" + quoteIDs(g.ids) + ")"
	}
	err := c.runQueries(ctx, qs, "push read-back", func(i int, page *queryPage) error {
		for _, r := range page.Records {
			id, err := recordID(r)
			if err != nil {
				return sdk.Errorf(sdk.Retryable, "salesforce: push read-back: %v", err)
			}
			st, err := recordStamp(r)
			if err != nil {
				return sdk.Errorf(sdk.Retryable, "salesforce: push read-back: row %s: %v", id, err)
			}
			stamps[id] = st
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range done {
		ver := ""
		if st, ok := stamps[p.id]; ok {
			ver = version(st)
		}
		res[p.i] = sdk.ChangeResult{ChangeID: p.ch.ChangeID, Status: sdk.StatusApplied, ID: p.id, Version: ver}
	}
	return nil
}
