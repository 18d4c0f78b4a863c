package store

import (
	"context"
	"fmt"
	"strings"
)

// What the device holds is the configuration's scope: the entities, fields
// and filters its user's roles select. These methods follow a change of
// scope with the smallest correct action, and remove rows that left it.
// None of them removes a row with a pending local change: that change is
// uploaded (or settled by its conflict policy) first, and a later sync
// removes the row if it is still outside.

// migrateScope adds the column scope needs to a store laid out before it.
func (s *Store) migrateScope() error {
	have, err := s.columns("_fs_entity")
	if err != nil {
		return err
	}
	if !have["scope"] {
		return s.db.Exec(`ALTER TABLE _fs_entity ADD COLUMN scope TEXT NOT NULL DEFAULT ''`)
	}
	return nil
}

// SetScope records the signature of what selects entity's rows (its
// filter, as the engine renders it). A new signature on an entity already
// downloaded means its rows must be read again: the entity alone goes back
// to a full read, which keeps the rows that still match and, at its end,
// removes those that no longer do. It reports whether that happened.
func (s *Store) SetScope(ctx context.Context, entity, sig string) (resync bool, err error) {
	err = s.write(ctx, local, func() error {
		q, err := s.prep("SELECT scope, mode FROM _fs_entity WHERE entity = ?")
		if err != nil {
			return err
		}
		q.BindText(1, entity)
		if !q.Step() {
			if err := q.Err(); err != nil {
				return err
			}
			return fmt.Errorf("store: entity %q not set up (EnsureEntity first)", entity)
		}
		old, mode := q.ColumnText(0), Mode(q.ColumnText(1))
		q.Reset()
		if old == sig {
			return nil
		}
		if mode != ModeNew {
			resync = true
			return s.exec("UPDATE _fs_entity SET scope = ?, mode = 'new', token = NULL, cursor = NULL WHERE entity = ?", sig, entity)
		}
		return s.exec("UPDATE _fs_entity SET scope = ? WHERE entity = ?", sig, entity)
	})
	return resync, err
}

// DropEntity removes an entity the configuration no longer selects: its
// table and its sync state. An entity with pending local changes is kept
// (dropped is false, pending says how many) until they are uploaded.
func (s *Store) DropEntity(ctx context.Context, entity string) (dropped bool, pending int, err error) {
	err = s.write(ctx, applied, func() error {
		q, err := s.prep("SELECT count(*) FROM _fs_outbox WHERE entity = ?")
		if err != nil {
			return err
		}
		q.BindText(1, entity)
		q.Step()
		pending = q.ColumnInt(0)
		q.Reset()
		if pending > 0 {
			return nil
		}
		t, terr := s.table(entity)
		name := entity
		if terr == nil {
			name = t.name
		}
		if err := checkName("entity", name); err != nil {
			return err
		}
		if err := s.db.Exec("DROP TABLE IF EXISTS " + quoteIdent(name)); err != nil {
			return err
		}
		s.forgetStatements()
		for _, sql := range []string{
			"DELETE FROM _fs_entity WHERE entity = ?",
			"DELETE FROM _fs_seen WHERE entity = ?",
			"DELETE FROM _fs_refresh WHERE entity = ?",
			"DELETE FROM _fs_conflict WHERE entity = ? AND resolved_at IS NULL",
		} {
			if err := s.exec(sql, name); err != nil {
				return err
			}
		}
		dropped = true
		return nil
	})
	if err == nil && dropped {
		s.mu.Lock()
		delete(s.ents, entity)
		s.mu.Unlock()
	}
	return dropped, pending, err
}

// BeginMembership starts a membership check of entity, a ready entity's
// read of the ids that match its filter now: MarkMember records them, and
// EndMembership removes the rows that were not among them.
func (s *Store) BeginMembership(ctx context.Context, entity string) error {
	return s.write(ctx, applied, func() error {
		st, err := s.state(entity)
		if err != nil {
			return err
		}
		if st.Mode != ModeReady {
			return fmt.Errorf("store: membership check of %s while its download is %s", entity, st.Mode)
		}
		return s.exec("DELETE FROM _fs_seen WHERE entity = ?", entity)
	})
}

// MarkMember records ids as matching entity's filter.
func (s *Store) MarkMember(ctx context.Context, entity string, ids []string) error {
	return s.write(ctx, applied, func() error {
		for _, id := range ids {
			if err := s.exec("INSERT OR IGNORE INTO _fs_seen (entity, id) VALUES (?, ?)", entity, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// EndMembership removes entity's rows that the check did not mark, except
// rows with pending local changes (kept counts those), and forgets the marks.
func (s *Store) EndMembership(ctx context.Context, entity string) (removed, kept int, err error) {
	err = s.write(ctx, applied, func() error {
		t, err := s.table(entity)
		if err != nil {
			return err
		}
		outside := fmt.Sprintf(`%[1]s NOT IN (SELECT id FROM _fs_seen WHERE entity = ?)`, quoteIdent(t.pk))
		if kept, err = s.count(fmt.Sprintf(`SELECT count(*) FROM %s WHERE %s AND %s IN (SELECT id FROM _fs_outbox WHERE entity = ?)`,
			quoteIdent(t.name), outside, quoteIdent(t.pk)), t.name, t.name); err != nil {
			return err
		}
		if err := s.exec(fmt.Sprintf(`DELETE FROM %s WHERE %s AND %s NOT IN (SELECT id FROM _fs_outbox WHERE entity = ?)`,
			quoteIdent(t.name), outside, quoteIdent(t.pk)), t.name, t.name); err != nil {
			return err
		}
		removed = int(s.db.Changes())
		return s.exec("DELETE FROM _fs_seen WHERE entity = ?", t.name)
	})
	return removed, kept, err
}

// ParentLink is a lookup of a child entity and the parent entity it names.
type ParentLink struct {
	Lookup, Parent string
}

// DeleteOrphans removes child rows none of whose links names a parent row
// on the device (a null lookup names none), except rows with pending local
// changes (kept counts those). It serves entities downloaded only for
// their parents.
func (s *Store) DeleteOrphans(ctx context.Context, child string, links []ParentLink) (removed, kept int, err error) {
	if len(links) == 0 {
		return 0, 0, nil
	}
	err = s.write(ctx, applied, func() error {
		t, err := s.table(child)
		if err != nil {
			return err
		}
		var conds []string
		for _, l := range links {
			p, err := s.table(l.Parent)
			if err != nil {
				return err
			}
			if !t.hasField(l.Lookup) {
				return fmt.Errorf("store: %s has no synced field %q", child, l.Lookup)
			}
			conds = append(conds, fmt.Sprintf("%s IN (SELECT %s FROM %s)", quoteIdent(l.Lookup), quoteIdent(p.pk), quoteIdent(p.name)))
		}
		orphan := "NOT (" + strings.Join(conds, " OR ") + ")"
		pending := fmt.Sprintf("%s IN (SELECT id FROM _fs_outbox WHERE entity = ?)", quoteIdent(t.pk))
		if kept, err = s.count(fmt.Sprintf("SELECT count(*) FROM %s WHERE %s AND %s", quoteIdent(t.name), orphan, pending), t.name); err != nil {
			return err
		}
		if err := s.exec(fmt.Sprintf("DELETE FROM %s WHERE %s AND NOT %s", quoteIdent(t.name), orphan, pending), t.name); err != nil {
			return err
		}
		removed = int(s.db.Changes())
		return nil
	})
	return removed, kept, err
}

// count runs a count query.
func (s *Store) count(sql string, args ...any) (int, error) {
	q, err := s.prep(sql)
	if err != nil {
		return 0, err
	}
	defer q.Reset()
	if err := bindArgs(q, args...); err != nil {
		return 0, err
	}
	if !q.Step() {
		return 0, q.Err()
	}
	return q.ColumnInt(0), nil
}

func (t *table) hasField(name string) bool {
	for _, f := range t.fields {
		if f.Name == name {
			return true
		}
	}
	return false
}
