package contracttest_test

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/contracttest"
)

// memServer is a small, correct in-memory backend implementing the whole
// contract: row versions, tombstones, change tokens and cursors over a
// change sequence, server-side filters, change-id idempotency, conflicts and
// documents. Its bugs switch on one deliberate defect each (see
// broken_test.go), so the tests can show that the suite rejects it.
//
// Every write takes the next sequence number; a row keeps the number of its
// last write, and a deleted row stays as a tombstone. A change token is the
// sequence number a fetch started at: an incremental fetch returns the rows
// written after it. A cursor is that number plus the sort key of the last
// item delivered.
type memServer struct {
	bugs    map[string]bool
	minimal bool // entity "task" offers only push and incremental fetch

	mu      sync.Mutex
	seq     int64
	nextID  int
	tables  map[string]map[string]*memRow
	changes map[string]sdk.ChangeResult // change id -> first outcome
	docs    []memDoc
}

type memRow struct {
	id      string
	seq     int64
	deleted bool
	values  map[string]sdk.Value
}

func (r *memRow) version() string { return fmt.Sprintf("v%d", r.seq) }

func (r *memRow) record() *sdk.Record {
	return &sdk.Record{ID: r.id, Version: r.version(), Values: maps.Clone(r.values)}
}

// newMemServer starts an empty server. variant lists, comma-separated, the
// bugs to switch on, and "minimal" for a server whose entities offer only
// push and incremental fetch.
func newMemServer(variant string) *memServer {
	s := &memServer{bugs: map[string]bool{}, tables: map[string]map[string]*memRow{}, changes: map[string]sdk.ChangeResult{}}
	for _, name := range strings.Split(variant, ",") {
		switch name {
		case "":
		case "minimal":
			s.minimal = true
		default:
			s.bugs[name] = true
		}
	}
	for _, e := range s.schema().Entities {
		s.tables[e.Name] = map[string]*memRow{}
	}
	return s
}

func (s *memServer) bug(name string) bool { return s.bugs[name] }

func (s *memServer) schema() *sdk.Schema {
	full := sdk.EntityCapabilities{Incremental: true, TracksDeletes: true, Push: true, ClientIDs: true, Filter: true, Documents: true}
	if s.minimal {
		full = sdk.EntityCapabilities{Incremental: true, Push: true}
	}
	sch := &sdk.Schema{Entities: []sdk.Entity{
		{
			Name: "account", PrimaryKey: "accountid", Capabilities: full,
			Fields: []sdk.Field{{Name: "name", Type: sdk.TypeString, Required: true, MaxLength: 100}},
		},
		{
			Name: "task", DisplayName: "Task", PrimaryKey: "taskid", Capabilities: full,
			Fields: []sdk.Field{
				{Name: "title", Type: sdk.TypeString, MaxLength: 200},
				{Name: "priority", Type: sdk.TypeInt},
				{Name: "estimate", Type: sdk.TypeDecimal},
				{Name: "score", Type: sdk.TypeFloat},
				{Name: "done", Type: sdk.TypeBool},
				{Name: "due", Type: sdk.TypeDateTime},
				{Name: "owner", Type: sdk.TypeGUID},
				{Name: "category", Type: sdk.TypeChoice, Choices: []sdk.Choice{{Value: 1, Label: "low"}, {Value: 2, Label: "high"}}},
				{Name: "blob", Type: sdk.TypeBinary},
				{Name: "account", Type: sdk.TypeLookup, Target: "account"},
				{Name: "modifiedon", Type: sdk.TypeInt, ReadOnly: true},
			},
			Relations: []sdk.Relationship{{Name: "task_account", Field: "account", Parent: "account"}},
		},
	}}
	if s.bug("bad-schema") {
		sch.Entities[1].Relations[0].Field = "no_such_field"
	}
	return sch
}

// memBackend is one server; each Connect is a device on it.
type memBackend struct{ srv *memServer }

func (b memBackend) Connect(t *testing.T) sdk.Connector { return &memConn{srv: b.srv} }

func (b memBackend) AddDocument(t *testing.T, entity, recordID, name string, content []byte) {
	b.srv.mu.Lock()
	defer b.srv.mu.Unlock()
	b.srv.nextID++
	b.srv.docs = append(b.srv.docs, memDoc{sdk.Document{
		ID: fmt.Sprintf("doc-%d", b.srv.nextID), Entity: entity, RecordID: recordID, Name: name,
		MimeType: "application/octet-stream", Size: int64(len(content)), Version: "1",
	}, content})
}

var _ contracttest.DocumentBackend = memBackend{}

// memConn is one device's connector.
type memConn struct {
	srv    *memServer
	closed atomic.Int32
}

var (
	_ sdk.Connector = (*memConn)(nil)
	_ sdk.Documents = (*memConn)(nil)
)

func (c *memConn) Info(ctx context.Context) (sdk.Info, error) {
	caps := []sdk.Capability{sdk.CapNativeDeletes, sdk.CapDocuments, sdk.CapClientIDs, sdk.CapServerSideFilters}
	if c.srv.minimal {
		caps = nil
	}
	return sdk.Info{Name: "memory", Version: "0.1.0", ProtocolMinor: sdk.ProtocolMinor, Capabilities: caps}, nil
}

func (c *memConn) Schema(ctx context.Context) (*sdk.Schema, error) { return c.srv.schema(), nil }

func (c *memConn) Close(ctx context.Context) error {
	if c.closed.Add(1) > 1 && c.srv.bug("close-panics") {
		panic("memory: closed twice")
	}
	return nil
}

// badInput is the error for a request that will never succeed.
func (c *memConn) badInput(format string, args ...any) *sdk.Error {
	kind := sdk.Permanent
	if c.srv.bug("retryable-bad-input") {
		kind = sdk.Retryable
	}
	return sdk.Errorf(kind, "memory: "+format, args...)
}

// Push applies the changes in order under one lock, answering a change id
// it has seen with its first outcome.
func (c *memConn) Push(ctx context.Context, req sdk.PushRequest) (*sdk.PushResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := &sdk.PushResponse{}
	for _, ch := range req.Changes {
		r, seen := s.changes[ch.ChangeID]
		if !seen || ch.ChangeID == "" || s.bug("ignore-change-ids") {
			r = c.apply(ch)
			r.ChangeID = ch.ChangeID
			if ch.ChangeID != "" {
				s.changes[ch.ChangeID] = r
			}
		}
		if r.Status == sdk.StatusFailed && s.bug("sink-batch") {
			return nil, r.Err
		}
		resp.Results = append(resp.Results, r)
	}
	return resp, nil
}

func (c *memConn) apply(ch sdk.Change) sdk.ChangeResult {
	s := c.srv
	fail := func(err *sdk.Error) sdk.ChangeResult { return sdk.ChangeResult{Status: sdk.StatusFailed, Err: err} }
	ent := s.schema().Entity(ch.Entity)
	if ent == nil {
		return fail(c.badInput("unknown entity %q", ch.Entity))
	}
	table := s.tables[ent.Name]
	if ch.Op == sdk.OpCreate || ch.Op == sdk.OpUpdate {
		for name, v := range ch.Values {
			fd := ent.Field(name)
			switch {
			case fd == nil:
				return fail(c.badInput("%s has no field %q", ent.Name, name))
			case fd.ReadOnly:
				return fail(c.badInput("%s.%s is read-only", ent.Name, name))
			}
			if err := v.CheckType(fd.Type); err != nil {
				return fail(c.badInput("%s.%s: %v", ent.Name, name, err))
			}
		}
	}
	row := table[ch.ID]
	switch ch.Op {
	case sdk.OpCreate:
		for _, fd := range ent.Fields {
			if fd.Required && ch.Values[fd.Name].IsNull() {
				return fail(c.badInput("%s.%s is required", ent.Name, fd.Name))
			}
		}
		id := ch.ID
		if !ent.Capabilities.ClientIDs || id == "" {
			s.nextID++
			id = fmt.Sprintf("mem-%d", s.nextID)
		} else if row != nil {
			return fail(c.badInput("%s %q exists", ent.Name, id))
		}
		row = &memRow{id: id, values: map[string]sdk.Value{}}
		table[id] = row
		c.write(row, ch.Values)
		return sdk.ChangeResult{Status: sdk.StatusApplied, ID: id, Version: row.version()}
	case sdk.OpUpdate:
		if row == nil || row.deleted {
			return sdk.ChangeResult{Status: sdk.StatusConflict, ServerDeleted: true}
		}
		if conflict, ok := c.stale(row, ch); ok {
			return conflict
		}
		c.write(row, ch.Values)
		return sdk.ChangeResult{Status: sdk.StatusApplied, ID: row.id, Version: row.version()}
	case sdk.OpDelete:
		if row == nil || row.deleted {
			return sdk.ChangeResult{Status: sdk.StatusApplied, ID: ch.ID}
		}
		if conflict, ok := c.stale(row, ch); ok {
			return conflict
		}
		s.seq++
		row.seq, row.deleted, row.values = s.seq, true, nil
		return sdk.ChangeResult{Status: sdk.StatusApplied, ID: row.id}
	}
	return fail(c.badInput("invalid operation %d", ch.Op))
}

// stale answers a conflict when the change was made against an older
// version than the row's.
func (c *memConn) stale(row *memRow, ch sdk.Change) (sdk.ChangeResult, bool) {
	if ch.BaseVersion == row.version() || c.srv.bug("no-conflicts") {
		return sdk.ChangeResult{}, false
	}
	cur := row.record()
	if c.srv.bug("stale-current") {
		cur.Version = ch.BaseVersion
	}
	return sdk.ChangeResult{Status: sdk.StatusConflict, Current: cur}, true
}

// write stores values and moves the row to the next sequence number.
func (c *memConn) write(row *memRow, values map[string]sdk.Value) {
	s := c.srv
	maps.Copy(row.values, values)
	if s.bug("static-version") && row.seq != 0 {
		return
	}
	s.seq++
	row.seq = s.seq
	row.values["modifiedon"] = sdk.Int(s.seq)
}
