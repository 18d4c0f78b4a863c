package store

import (
	"fmt"
	"strings"

	"github.com/fieldsync/fieldsync/sdk"
)

// OutcomeKind is how a conflict was settled.
type OutcomeKind uint8

const (
	// KeepRemote: the server's row replaces the local one (or the local
	// row is deleted when the server deleted it); the local change is dropped.
	KeepRemote OutcomeKind = iota + 1
	// KeepLocal: the local row stays and is sent again against the
	// server's current version (Push lists the fields to send; a local
	// delete is sent as a delete, a row the server deleted as a create).
	KeepLocal
	// Merged: Values replace the local row and the fields in Push are sent.
	Merged
	// Park: nothing changes; the conflict waits for a person.
	Park
)

// Outcome is a conflict policy's decision, as the store applies it.
type Outcome struct {
	Kind   OutcomeKind
	Values map[string]sdk.Value // Merged: the whole record to keep
	Push   []string             // KeepLocal, Merged: fields to send; nil sends all
	Policy string               // the policy's name, for the conflict table
	Reason string
}

// Conflict is one row whose local change met a different server state.
type Conflict struct {
	Change        *Change     // the local change (combined), with current values
	Remote        *sdk.Record // the server's row; nil when deleted there
	RemoteDeleted bool
}

// Resolver decides a conflict. It runs inside the store's transaction, so
// it must not call the store.
type Resolver func(entity *sdk.Entity, c Conflict) (Outcome, error)

// settle applies a decision to one row, inside a write transaction of kind
// applied.
func (s *Store) settle(t *table, c Conflict, out Outcome) (parked int64, err error) {
	id := c.Change.ID
	switch out.Kind {
	case KeepRemote, KeepLocal, Merged:
		// A conflict parked earlier for the row is settled with it (a
		// person's ResolveConflict then records its own resolution).
		how := out.Policy
		if out.Reason != "" {
			how += ": " + out.Reason
		}
		if err := s.exec("UPDATE _fs_conflict SET resolved_at = ?, resolution = ? WHERE entity = ? AND record_id = ? AND resolved_at IS NULL",
			nowMicro(), how, t.name, id); err != nil {
			return 0, err
		}
	}
	switch out.Kind {
	case KeepRemote:
		if c.Remote == nil {
			if err := s.exec(t.deleteSQL, id); err != nil {
				return 0, err
			}
		} else if err := s.putRow(t, c.Remote); err != nil {
			return 0, err
		}
		return 0, s.exec("DELETE FROM _fs_outbox WHERE entity = ? AND id = ?", t.name, id)
	case KeepLocal, Merged:
		version := ""
		if c.Remote != nil {
			version = c.Remote.Version
		}
		// The row takes the server's version; a row the server deleted
		// gets none (NULL), like a row created on the device, so a local
		// delete of it later sends nothing.
		var rowVersion any
		if c.Remote != nil {
			rowVersion = version
		}
		if out.Kind == Merged {
			rec := &sdk.Record{ID: id, Version: version, Values: out.Values}
			if err := s.putRow(t, rec); err != nil {
				return 0, err
			}
		}
		if out.Kind == Merged || c.Change.Values != nil {
			if err := s.setVersion(t, id, rowVersion); err != nil {
				return 0, err
			}
		}
		// A merge keeps a row even where the device had deleted it.
		op := "update"
		switch {
		case out.Kind == KeepLocal && c.Change.Values == nil:
			op = "delete"
		case c.Remote == nil:
			op = "create"
		}
		if out.Kind == Merged && out.Push != nil && len(out.Push) == 0 {
			// The merge equals the server's row: nothing left to send.
			return 0, s.exec("DELETE FROM _fs_outbox WHERE entity = ? AND id = ?", t.name, id)
		}
		return 0, s.requeue(t, id, op, version, c.Remote, out.Push)
	case Park:
		local, err := valuesToJSON(&t.ent, c.Change.Values, false)
		if err != nil {
			return 0, err
		}
		base, err := valuesToJSON(&t.ent, c.Change.Base, false)
		if err != nil {
			return 0, err
		}
		var remote, remoteVersion string
		if c.Remote != nil {
			if remote, err = valuesToJSON(&t.ent, c.Remote.Values, false); err != nil {
				return 0, err
			}
			remoteVersion = c.Remote.Version
		}
		// A row has one open conflict at most: parking it again (a local
		// edit of a parked row, uploaded, met the server again) refreshes it.
		q, err := s.prep("SELECT id FROM _fs_conflict WHERE entity = ? AND record_id = ? AND resolved_at IS NULL")
		if err != nil {
			return 0, err
		}
		q.BindText(1, t.name)
		q.BindText(2, id)
		if q.Step() {
			parked = q.ColumnInt64(0)
		}
		err = q.Err()
		q.Reset()
		if err != nil {
			return 0, err
		}
		if parked != 0 {
			err = s.exec(`UPDATE _fs_conflict SET local_op = ?, base = ?, local = ?, remote = ?, remote_version = ?, remote_deleted = ?, policy = ?
				WHERE id = ?`, c.Change.Op.String(), nilIfEmpty(base), nilIfEmpty(local), nilIfEmpty(remote), remoteVersion, c.Remote == nil, out.Policy, parked)
		} else {
			err = s.exec(`INSERT INTO _fs_conflict (entity, record_id, local_op, base, local, remote, remote_version, remote_deleted, policy, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, t.name, id, c.Change.Op.String(), nilIfEmpty(base), nilIfEmpty(local),
				nilIfEmpty(remote), remoteVersion, c.Remote == nil, out.Policy, nowMicro())
			parked = s.db.LastInsertRowID()
		}
		if err != nil {
			return 0, err
		}
		return parked, s.exec("UPDATE _fs_outbox SET state = 'conflict', updated_at = ? WHERE entity = ? AND id = ?", nowMicro(), t.name, id)
	}
	return 0, fmt.Errorf("store: unknown conflict outcome %d", out.Kind)
}

// requeue replaces a row's outbox changes with one pending change against
// the server's current version, under a new change id (the old one may be
// spent on the server with a conflict outcome).
func (s *Store) requeue(t *table, id, op, baseVersion string, remote *sdk.Record, push []string) error {
	fields := "*"
	if push != nil && op == "update" {
		fields = "," + strings.Join(push, ",") + ","
	}
	base := ""
	if remote != nil {
		var err error
		base, err = valuesToJSON(&t.ent, remote.Values, true)
		if err != nil {
			return err
		}
	}
	if err := s.exec("DELETE FROM _fs_outbox WHERE entity = ? AND id = ?", t.name, id); err != nil {
		return err
	}
	now := nowMicro()
	return s.exec(`INSERT INTO _fs_outbox (entity, id, op, change_id, base_version, base, fields, state, created_at, updated_at)
		VALUES (?, ?, ?, lower(hex(randomblob(16))), ?, ?, ?, 'pending', ?, ?)`,
		t.name, id, op, nilIfEmpty(baseVersion), nilIfEmpty(base), fields, now, now)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// putRow writes a whole server row, whether or not it exists locally and
// whether or not the key index exists yet.
func (s *Store) putRow(t *table, rec *sdk.Record) error {
	q, err := s.prep(t.deleteSQL)
	if err != nil {
		return err
	}
	q.BindText(1, rec.ID)
	if err := q.Exec(); err != nil {
		return err
	}
	ins, err := s.prep(t.insertSQL)
	if err != nil {
		return err
	}
	ins.BindText(1, rec.ID)
	for j, f := range t.fields {
		if err := bindValue(ins, j+2, f.Type, rec.Values[f.Name]); err != nil {
			return err
		}
	}
	ins.BindText(len(t.fields)+2, rec.Version)
	return ins.Exec()
}

// setVersion sets a row's version: a string (empty when the backend keeps
// no versions) for a row the server has, nil for one it does not have (the
// capture triggers treat a NULL version as "never uploaded").
func (s *Store) setVersion(t *table, id string, version any) error {
	return s.exec(fmt.Sprintf("UPDATE %s SET _fs_version = ? WHERE %s = ?", quoteIdent(t.name), quoteIdent(t.pk)), version, id)
}
