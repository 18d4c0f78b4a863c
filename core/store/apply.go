package store

import (
	"context"
	"fmt"

	"github.com/fieldsync/fieldsync/sdk"
)

// PageStats counts what one page did to the local table.
type PageStats struct {
	Upserted  int // rows written (rows whose version did not change are not rewritten)
	Unchanged int // rows skipped because the local copy had the same version
	Deleted   int // rows deleted (from Deletes, and at the end of a resync)
	Conflicts int // rows with local changes, settled by the resolver
	Parked    int // of those, parked for a person
}

// ApplyPage writes one downloaded page of entity in one transaction,
// together with its cursor (and, on the last page, the new change token), so
// a crash anywhere leaves the download resumable from the page after the last
// one committed. Rows with local changes are not overwritten: resolve decides
// each of them, inside the same transaction.
//
// The page must have passed Page.Validate with the entity's field kinds, in
// the order EnsureEntity selected.
func (s *Store) ApplyPage(ctx context.Context, entity string, p *sdk.Page, resolve Resolver) (PageStats, error) {
	var stats PageStats
	err := s.write(ctx, applied, func() error {
		t, err := s.table(entity)
		if err != nil {
			return err
		}
		// Checked here too: a malformed page must be an error, never an
		// index panic in the middle of a transaction.
		if err := p.Validate(t.kinds); err != nil {
			return fmt.Errorf("store: page of %s: %w", entity, err)
		}
		if len(p.Fields) != len(t.fields) {
			return fmt.Errorf("store: page of %s has %d fields, the table %d", entity, len(p.Fields), len(t.fields))
		}
		for j, f := range t.fields {
			if p.Fields[j] != f.Name {
				return fmt.Errorf("store: page of %s has field %q where the table has %q", entity, p.Fields[j], f.Name)
			}
		}
		st, err := s.state(entity)
		if err != nil {
			return err
		}
		pending, err := s.pendingIDs(entity)
		if err != nil {
			return err
		}
		var conflicts []Conflict
		sql := t.upsertSQL
		if st.Mode == ModeBulk {
			sql = t.insertSQL
		} else if err := s.ensureIndex(t); err != nil {
			return err
		}
		ins, err := s.prep(sql)
		if err != nil {
			return err
		}
		nf := len(t.fields)
		for i, id := range p.IDs {
			if pending[id] {
				rec := p.Row(t.kinds, i)
				conflicts = append(conflicts, Conflict{Remote: &rec})
				continue
			}
			ins.BindText(1, id)
			for j := range t.fields {
				if err := bindColumn(ins, j+2, t.fields[j].Type, t.kinds[j], &p.Columns[j], i); err != nil {
					return err
				}
			}
			// A downloaded row always has a version, empty when the backend
			// keeps none: a NULL version means "never on the server" to the
			// capture triggers.
			version := ""
			if i < len(p.Versions) {
				version = p.Versions[i]
			}
			ins.BindText(nf+2, version)
			if err := ins.Exec(); err != nil {
				return fmt.Errorf("store: write %s %s: %w", entity, id, err)
			}
			if s.db.Changes() > 0 {
				stats.Upserted++
			} else {
				stats.Unchanged++
			}
		}
		if err := s.forgetRefreshed(t.name, p); err != nil {
			return err
		}
		if st.Mode == ModeResync {
			for _, id := range p.IDs {
				if err := s.exec("INSERT OR IGNORE INTO _fs_seen (entity, id) VALUES (?, ?)", entity, id); err != nil {
					return err
				}
			}
		}
		for _, id := range p.Deletes {
			if pending[id] {
				conflicts = append(conflicts, Conflict{Remote: nil, RemoteDeleted: true, Change: &Change{ID: id}})
				continue
			}
			if err := s.exec(t.deleteSQL, id); err != nil {
				return err
			}
			stats.Deleted += int(s.db.Changes())
		}
		for _, c := range conflicts {
			id := c.Change.GetID(c.Remote)
			ch, err := s.rowChange(t, id)
			if err != nil {
				return err
			}
			if ch == nil {
				continue
			}
			c.Change = ch
			if ch.State == StateConflict {
				// Already parked for a person: keep the local row, and let
				// the parked conflict show the server's newest row.
				if err := s.refreshParked(t, id, c.Remote); err != nil {
					return err
				}
				continue
			}
			if c.Remote != nil && c.Remote.Version != "" && c.Remote.Version == ch.BaseVersion {
				// The server's row is still the one the local change started
				// from (a full download sends every row): no conflict, the
				// change goes up as it is. The row takes the server's values
				// of the fields the device did not change, which differ only
				// in columns a wider field selection added.
				stats.Unchanged++
				if ch.Op != sdk.OpUpdate || ch.Fields == nil || ch.Values == nil {
					continue
				}
				vals := make(map[string]sdk.Value, len(c.Remote.Values))
				for f, v := range c.Remote.Values {
					vals[f] = v
				}
				for _, f := range ch.Fields {
					if v, ok := ch.Values[f]; ok {
						vals[f] = v
					}
				}
				if err := s.putRow(t, &sdk.Record{ID: id, Version: c.Remote.Version, Values: vals}); err != nil {
					return err
				}
				continue
			}
			out, err := resolve(&t.ent, c)
			if err != nil {
				return fmt.Errorf("resolve conflict on %s %s: %w", entity, id, err)
			}
			parked, err := s.settle(t, c, out)
			if err != nil {
				return err
			}
			stats.Conflicts++
			if parked != 0 {
				stats.Parked++
			}
		}
		if !p.Last {
			return s.exec("UPDATE _fs_entity SET cursor = ? WHERE entity = ?", p.Cursor, entity)
		}
		n, err := s.finish(t, st.Mode)
		stats.Deleted += n
		if err != nil {
			return err
		}
		return s.exec("UPDATE _fs_entity SET mode = 'ready', token = ?, cursor = NULL, last_sync_at = ? WHERE entity = ?", p.Token, nowMicro(), entity)
	})
	return stats, err
}

// GetID is the id a conflict is about: the change's, or the remote row's.
func (c *Change) GetID(remote *sdk.Record) string {
	if c != nil {
		return c.ID
	}
	return remote.ID
}

// finish completes a full download: a bulk load gets its key index, a
// resync drops the rows the server no longer has (but never a row with a
// local change).
func (s *Store) finish(t *table, mode Mode) (deleted int, err error) {
	switch mode {
	case ModeBulk:
		return 0, s.ensureIndex(t)
	case ModeResync:
		err := s.exec(fmt.Sprintf(`DELETE FROM %[1]s WHERE %[2]s NOT IN (SELECT id FROM _fs_seen WHERE entity = ?)
			AND %[2]s NOT IN (SELECT id FROM _fs_outbox WHERE entity = ?)`, quoteIdent(t.name), quoteIdent(t.pk)), t.name, t.name)
		if err != nil {
			return 0, err
		}
		deleted = int(s.db.Changes())
		return deleted, s.exec("DELETE FROM _fs_seen WHERE entity = ?", t.name)
	}
	return 0, nil
}

// refreshParked updates an open conflict with the server's newest row, so a
// person decides against what the server holds now.
func (s *Store) refreshParked(t *table, id string, remote *sdk.Record) error {
	var vals, version string
	if remote != nil {
		var err error
		if vals, err = valuesToJSON(&t.ent, remote.Values, false); err != nil {
			return err
		}
		version = remote.Version
	}
	return s.exec(`UPDATE _fs_conflict SET remote = ?, remote_version = ?, remote_deleted = ?
		WHERE entity = ? AND record_id = ? AND resolved_at IS NULL`, nilIfEmpty(vals), version, remote == nil, t.name, id)
}

// forgetRefreshed drops the rows of page p from _fs_refresh: the download
// brought the server's copy of each (or its delete). A table with no rows
// waiting costs one lookup per page.
func (s *Store) forgetRefreshed(entity string, p *sdk.Page) error {
	n, err := s.count("SELECT count(*) FROM _fs_refresh WHERE entity = ?", entity)
	if err != nil || n == 0 {
		return err
	}
	for _, ids := range [][]string{p.IDs, p.Deletes} {
		for _, id := range ids {
			if err := s.exec("DELETE FROM _fs_refresh WHERE entity = ? AND id = ?", entity, id); err != nil {
				return err
			}
		}
	}
	return nil
}
