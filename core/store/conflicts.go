package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

// ParkedConflict is a conflict waiting for (or settled by) a person.
type ParkedConflict struct {
	ID            int64
	Entity        string
	RecordID      string
	LocalOp       string
	Base          map[string]sdk.Value
	Local         map[string]sdk.Value // nil when the device deleted the row
	Remote        map[string]sdk.Value // nil when the server deleted the row
	RemoteVersion string
	RemoteDeleted bool
	Policy        string
	CreatedAt     time.Time
	ResolvedAt    time.Time // zero while open
	Resolution    string
}

// ErrNoConflict is returned for a conflict id that does not exist.
var ErrNoConflict = errors.New("no such conflict")

// Conflicts lists parked conflicts, open ones only unless all is set.
func (s *Store) Conflicts(ctx context.Context, all bool) ([]ParkedConflict, error) {
	where := "resolved_at IS NULL"
	if all {
		where = "1"
	}
	var out []ParkedConflict
	err := s.read(ctx, func() error {
		var err error
		out, err = s.conflicts(where)
		return err
	})
	return out, err
}

// ConflictByID returns one conflict.
func (s *Store) ConflictByID(ctx context.Context, id int64) (*ParkedConflict, error) {
	var out []ParkedConflict
	err := s.read(ctx, func() error {
		var err error
		out, err = s.conflicts("id = ?", id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("conflict %d: %w", id, ErrNoConflict)
	}
	return &out[0], nil
}

// conflicts lists the conflicts matching where, with args bound to its
// parameters (never spliced into the text: each distinct text is a cached
// statement).
func (s *Store) conflicts(where string, args ...any) ([]ParkedConflict, error) {
	q, err := s.prep(`SELECT id, entity, record_id, local_op, base, local, remote, remote_version, remote_deleted, policy,
		created_at, resolved_at, resolution FROM _fs_conflict WHERE ` + where + ` ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer q.Reset()
	if err := bindArgs(q, args...); err != nil {
		return nil, err
	}
	var out []ParkedConflict
	for q.Step() {
		c := ParkedConflict{
			ID: q.ColumnInt64(0), Entity: q.ColumnText(1), RecordID: q.ColumnText(2), LocalOp: q.ColumnText(3),
			RemoteVersion: q.ColumnText(7), RemoteDeleted: q.ColumnBool(8), Policy: q.ColumnText(9),
			CreatedAt: time.UnixMicro(q.ColumnInt64(10)), Resolution: q.ColumnText(12),
		}
		if q.ColumnInt64(11) != 0 {
			c.ResolvedAt = time.UnixMicro(q.ColumnInt64(11))
		}
		if t, ok := s.ents[c.Entity]; ok {
			var errs [3]error
			c.Base, errs[0] = valuesFromJSON(&t.ent, q.ColumnText(4), false)
			c.Local, errs[1] = valuesFromJSON(&t.ent, q.ColumnText(5), false)
			c.Remote, errs[2] = valuesFromJSON(&t.ent, q.ColumnText(6), false)
			if err := errors.Join(errs[:]...); err != nil {
				return nil, fmt.Errorf("conflict %d: %w", c.ID, err)
			}
		}
		out = append(out, c)
	}
	return out, q.Err()
}

// ResolveConflict settles a parked conflict as a person decided: KeepLocal
// (the device's row is sent again, against the server's version), KeepRemote
// (the server's row replaces the device's) or Merged (Values replace the
// device's row and are sent). The result reaches the server on the next sync.
func (s *Store) ResolveConflict(ctx context.Context, id int64, out Outcome) error {
	if out.Kind == Park {
		return errors.New("store: a resolution cannot park the conflict again")
	}
	pc, err := s.ConflictByID(ctx, id)
	if err != nil {
		return err
	}
	if !pc.ResolvedAt.IsZero() {
		return fmt.Errorf("conflict %d was already resolved (%s)", id, pc.Resolution)
	}
	return s.write(ctx, applied, func() error {
		// Checked again under the write lock: another caller (the CLI and
		// the dashboard) may have resolved it since.
		q, err := s.prep("SELECT resolved_at IS NOT NULL FROM _fs_conflict WHERE id = ?")
		if err != nil {
			return err
		}
		q.BindInt64(1, id)
		resolved := q.Step() && q.ColumnBool(0)
		err = q.Err()
		q.Reset()
		if err != nil {
			return err
		}
		if resolved {
			return fmt.Errorf("conflict %d was already resolved", id)
		}
		t, err := s.table(pc.Entity)
		if err != nil {
			return err
		}
		ch, err := s.rowChange(t, pc.RecordID)
		if err != nil {
			return err
		}
		if ch == nil {
			return fmt.Errorf("conflict %d: the local change of %s %s is gone", id, pc.Entity, pc.RecordID)
		}
		c := Conflict{Change: ch, RemoteDeleted: pc.RemoteDeleted}
		if !pc.RemoteDeleted {
			c.Remote = &sdk.Record{ID: pc.RecordID, Version: pc.RemoteVersion, Values: pc.Remote}
		}
		if out.Kind == Merged {
			if err := checkValues(&t.ent, out.Values); err != nil {
				return fmt.Errorf("conflict %d: %w", id, err)
			}
		}
		if _, err := s.settle(t, c, out); err != nil {
			return err
		}
		how := map[OutcomeKind]string{KeepLocal: "local", KeepRemote: "server", Merged: "merged"}[out.Kind]
		if out.Reason != "" {
			how += ": " + out.Reason
		}
		return s.exec("UPDATE _fs_conflict SET resolved_at = ?, resolution = ? WHERE id = ?", nowMicro(), how, id)
	})
}

// checkValues refuses values that do not fit the entity's fields.
func checkValues(ent *sdk.Entity, vals map[string]sdk.Value) error {
	for name, v := range vals {
		f := ent.Field(name)
		if f == nil {
			return fmt.Errorf("%s has no field %q", ent.Name, name)
		}
		if err := v.CheckType(f.Type); err != nil {
			return fmt.Errorf("field %s: %w", name, err)
		}
	}
	return nil
}
