package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/fieldsync/fieldsync/sdk"
)

// Change states in the outbox; see the package doc.
const (
	StatePending  = "pending"
	StateInflight = "inflight"
	StateConflict = "conflict"
	StateFailed   = "failed"
)

// Change is one local change waiting in the outbox.
type Change struct {
	Seq         int64
	Entity      string
	ID          string
	Op          sdk.Op
	ChangeID    string
	BaseVersion string
	// Base holds the row's values when the change began (updates and
	// deletes), for three-way merges.
	Base map[string]sdk.Value
	// Fields lists the fields the device changed; nil means all of them
	// (creates, and rows re-created after a delete).
	Fields    []string
	State     string
	Attempts  int
	LastError string
	CreatedAt time.Time
	UpdatedAt time.Time
	// Values are the row's current local values (LoadValues fills them);
	// nil when the row is gone locally.
	Values map[string]sdk.Value
}

func parseOp(s string) sdk.Op {
	switch s {
	case "create":
		return sdk.OpCreate
	case "update":
		return sdk.OpUpdate
	case "delete":
		return sdk.OpDelete
	}
	return 0
}

const changeCols = "seq, entity, id, op, change_id, base_version, base, fields, state, attempts, last_error, created_at, updated_at"

func (s *Store) scanChange(q *sqlite3.Stmt) (*Change, error) {
	c := &Change{
		Seq: q.ColumnInt64(0), Entity: q.ColumnText(1), ID: q.ColumnText(2), Op: parseOp(q.ColumnText(3)),
		ChangeID: q.ColumnText(4), BaseVersion: q.ColumnText(5), State: q.ColumnText(8),
		Attempts: q.ColumnInt(9), LastError: q.ColumnText(10),
		CreatedAt: time.UnixMicro(q.ColumnInt64(11)), UpdatedAt: time.UnixMicro(q.ColumnInt64(12)),
	}
	if f := q.ColumnText(7); f != "*" {
		c.Fields = []string{}
		for _, name := range strings.Split(f, ",") {
			if name != "" {
				c.Fields = append(c.Fields, name)
			}
		}
	}
	if t, ok := s.ents[c.Entity]; ok {
		base, err := valuesFromJSON(&t.ent, q.ColumnText(6), true)
		if err != nil {
			return nil, fmt.Errorf("outbox change %d: %w", c.Seq, err)
		}
		c.Base = base
	}
	return c, nil
}

// Outbox lists the changes to upload (pending and inflight), oldest first.
// Changes of entities not set up by EnsureEntity are left out.
func (s *Store) Outbox(ctx context.Context) ([]*Change, error) {
	return s.changes(ctx, "state IN ('pending', 'inflight')")
}

// Parked lists the changes waiting for a person: conflicts and permanent
// failures.
func (s *Store) Parked(ctx context.Context) ([]*Change, error) {
	return s.changes(ctx, "state IN ('conflict', 'failed')")
}

func (s *Store) changes(ctx context.Context, where string) ([]*Change, error) {
	var out []*Change
	err := s.read(ctx, func() error {
		q, err := s.prep("SELECT " + changeCols + " FROM _fs_outbox WHERE " + where + " ORDER BY seq")
		if err != nil {
			return err
		}
		defer q.Reset()
		for q.Step() {
			if _, ok := s.ents[q.ColumnText(1)]; !ok {
				continue
			}
			c, err := s.scanChange(q)
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return q.Err()
	})
	return out, err
}

// PendingCount counts changes by state.
func (s *Store) PendingCount(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	err := s.read(ctx, func() error {
		q, err := s.prep("SELECT state, count(*) FROM _fs_outbox GROUP BY state")
		if err != nil {
			return err
		}
		defer q.Reset()
		for q.Step() {
			out[q.ColumnText(0)] = q.ColumnInt(1)
		}
		return q.Err()
	})
	return out, err
}

// LoadValues reads the current local values of each change's row.
func (s *Store) LoadValues(ctx context.Context, changes []*Change) error {
	return s.read(ctx, func() error {
		for _, c := range changes {
			t, err := s.table(c.Entity)
			if err != nil {
				return err
			}
			rec, err := s.readRow(t, c.ID)
			if err != nil {
				return err
			}
			c.Values = nil
			if rec != nil {
				c.Values = rec.Values
			}
		}
		return nil
	})
}

// Row returns a local row, or nil when it does not exist.
func (s *Store) Row(ctx context.Context, entity, id string) (*sdk.Record, error) {
	var rec *sdk.Record
	err := s.read(ctx, func() error {
		t, err := s.table(entity)
		if err != nil {
			return err
		}
		rec, err = s.readRow(t, id)
		return err
	})
	return rec, err
}

func (s *Store) readRow(t *table, id string) (*sdk.Record, error) {
	q, err := s.prep(t.selectSQL)
	if err != nil {
		return nil, err
	}
	defer q.Reset()
	q.BindText(1, id)
	if !q.Step() {
		return nil, q.Err()
	}
	rec := &sdk.Record{ID: q.ColumnText(0), Version: q.ColumnText(len(t.fields) + 1), Values: make(map[string]sdk.Value, len(t.fields))}
	for j, f := range t.fields {
		v, err := columnValue(q, j+1, f)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", t.name, id, err)
		}
		rec.Values[f.Name] = v
	}
	return rec, nil
}

// pendingIDs returns the ids of entity's rows with a change in the outbox
// in any state, or nil when there is none (the common case, checked with one
// cheap query per page).
func (s *Store) pendingIDs(entity string) (map[string]bool, error) {
	q, err := s.prep("SELECT id FROM _fs_outbox WHERE entity = ?")
	if err != nil {
		return nil, err
	}
	defer q.Reset()
	q.BindText(1, entity)
	var out map[string]bool
	for q.Step() {
		if out == nil {
			out = map[string]bool{}
		}
		out[q.ColumnText(0)] = true
	}
	return out, q.Err()
}

// rowChange returns the combined effect of every outbox change of a row
// (usually one): the oldest change's base, the union of changed fields, the
// net operation, and the row's current values.
func (s *Store) rowChange(t *table, id string) (*Change, error) {
	q, err := s.prep("SELECT " + changeCols + " FROM _fs_outbox WHERE entity = ? AND id = ? ORDER BY seq")
	if err != nil {
		return nil, err
	}
	q.BindText(1, t.name)
	q.BindText(2, id)
	var all []*Change
	for q.Step() {
		c, err := s.scanChange(q)
		if err != nil {
			q.Reset()
			return nil, err
		}
		all = append(all, c)
	}
	err = q.Err()
	q.Reset()
	if err != nil || len(all) == 0 {
		return nil, err
	}
	c := *all[0]
	last := all[len(all)-1]
	c.ChangeID, c.State, c.UpdatedAt = last.ChangeID, last.State, last.UpdatedAt
	switch {
	case last.Op == sdk.OpDelete:
		c.Op = sdk.OpDelete
	case c.Op == sdk.OpCreate:
	default:
		c.Op = sdk.OpUpdate
	}
	for _, o := range all[1:] {
		if c.Fields == nil || o.Fields == nil {
			c.Fields = nil
			continue
		}
		for _, f := range o.Fields {
			if !contains(c.Fields, f) {
				c.Fields = append(c.Fields, f)
			}
		}
	}
	rec, err := s.readRow(t, id)
	if err != nil {
		return nil, err
	}
	if rec != nil {
		c.Values = rec.Values
	}
	return &c, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Refresh re-reads changes from the outbox (an earlier batch's answer may
// have renamed a row or moved its base version) with their rows' current
// values. Changes no longer waiting (settled meanwhile) are left out.
func (s *Store) Refresh(ctx context.Context, changes []*Change) ([]*Change, error) {
	var out []*Change
	err := s.read(ctx, func() error {
		q, err := s.prep("SELECT " + changeCols + " FROM _fs_outbox WHERE seq = ? AND state IN ('pending', 'inflight')")
		if err != nil {
			return err
		}
		for _, old := range changes {
			q.Reset()
			q.BindInt64(1, old.Seq)
			if !q.Step() {
				if err := q.Err(); err != nil {
					return err
				}
				continue
			}
			c, err := s.scanChange(q)
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		q.Reset()
		for _, c := range out {
			t, err := s.table(c.Entity)
			if err != nil {
				return err
			}
			rec, err := s.readRow(t, c.ID)
			if err != nil {
				return err
			}
			if rec != nil {
				c.Values = rec.Values
			}
		}
		return nil
	})
	return out, err
}
