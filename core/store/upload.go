package store

import (
	"context"
	"fmt"

	"github.com/fieldsync/fieldsync/sdk"
)

// MarkInflight freezes changes before they are handed to the backend: from
// now on a new local edit of those rows becomes a new change behind them,
// and after a crash they are sent again with the same change ids.
func (s *Store) MarkInflight(ctx context.Context, changes []*Change) error {
	return s.write(ctx, applied, func() error {
		for _, c := range changes {
			if err := s.exec("UPDATE _fs_outbox SET state = 'inflight', updated_at = ? WHERE seq = ? AND state IN ('pending', 'inflight')", nowMicro(), c.Seq); err != nil {
				return err
			}
			c.State = StateInflight
		}
		return nil
	})
}

// UploadStats counts what one batch's answers did.
type UploadStats struct {
	Created, Updated, Deleted int
	Conflicts, Parked         int
	Retryable, Failed         int
}

// ApplyResults records the backend's answers to a batch, in one
// transaction: applied changes leave the outbox and their rows take the new
// version (and the server's id, when it assigned one: the row, references to
// it from other tables, and later changes of it are renamed); conflicts go to
// resolve; retryable failures stay inflight for the next attempt with the
// same change id; permanent failures are parked with the server's message.
func (s *Store) ApplyResults(ctx context.Context, batch []*Change, results []sdk.ChangeResult, resolve Resolver) (UploadStats, error) {
	var stats UploadStats
	if len(results) != len(batch) {
		return stats, fmt.Errorf("store: %d results for %d changes", len(results), len(batch))
	}
	err := s.write(ctx, applied, func() error {
		for i, c := range batch {
			r := results[i]
			t, err := s.table(c.Entity)
			if err != nil {
				return err
			}
			switch r.Status {
			case sdk.StatusApplied:
				if err := s.applied(t, c, r); err != nil {
					return err
				}
				switch c.Op {
				case sdk.OpCreate:
					stats.Created++
				case sdk.OpUpdate:
					stats.Updated++
				case sdk.OpDelete:
					stats.Deleted++
				}
			case sdk.StatusConflict:
				ch, err := s.rowChange(t, c.ID)
				if err != nil {
					return err
				}
				if ch == nil {
					continue
				}
				conflict := Conflict{Change: ch, Remote: r.Current, RemoteDeleted: r.ServerDeleted || r.Current == nil}
				out, err := resolve(&t.ent, conflict)
				if err != nil {
					return fmt.Errorf("resolve conflict on %s %s: %w", c.Entity, c.ID, err)
				}
				parked, err := s.settle(t, conflict, out)
				if err != nil {
					return err
				}
				stats.Conflicts++
				if parked != 0 {
					stats.Parked++
				}
			default:
				msg := "failed without a reason"
				if r.Err != nil {
					msg = r.Err.Error()
				}
				state := StateInflight
				// r.Err may be a nil *sdk.Error: as an error interface it is
				// not nil, and IsRetryable would dereference it.
				if r.Status == sdk.StatusFailed && r.Err != nil && sdk.IsRetryable(r.Err) {
					stats.Retryable++
				} else {
					state = StateFailed
					stats.Failed++
				}
				if err := s.exec("UPDATE _fs_outbox SET state = ?, attempts = attempts + 1, last_error = ?, updated_at = ? WHERE seq = ?",
					state, msg, nowMicro(), c.Seq); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return stats, err
}

// NoteAttempt records a failed attempt at a whole batch (the backend did not
// answer): the changes stay inflight with the error.
func (s *Store) NoteAttempt(ctx context.Context, batch []*Change, cause error) error {
	return s.write(ctx, applied, func() error {
		for _, c := range batch {
			if err := s.exec("UPDATE _fs_outbox SET attempts = attempts + 1, last_error = ?, updated_at = ? WHERE seq = ?", cause.Error(), nowMicro(), c.Seq); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) applied(t *table, c *Change, r sdk.ChangeResult) error {
	if err := s.exec("DELETE FROM _fs_outbox WHERE seq = ?", c.Seq); err != nil {
		return err
	}
	if c.Op == sdk.OpDelete {
		return nil
	}
	id := c.ID
	if r.ID != "" && r.ID != c.ID {
		if err := s.rename(t, c.ID, r.ID); err != nil {
			return err
		}
		id = r.ID
	}
	if err := s.setVersion(t, id, r.Version); err != nil {
		return err
	}
	if err := s.exec("INSERT OR IGNORE INTO _fs_refresh (entity, id) VALUES (?, ?)", t.name, id); err != nil {
		return err
	}
	// Later changes of the row were captured against the old version.
	return s.exec("UPDATE _fs_outbox SET base_version = ? WHERE entity = ? AND id = ?", nilIfEmpty(r.Version), t.name, id)
}

// rename gives a row created offline the id the server assigned, and points
// every reference to it there, so children created against it upload with
// the server's id.
func (s *Store) rename(t *table, from, to string) error {
	// A download that ran between the push and this answer (an answer lost
	// and the change sent again) may already hold the server's copy of the
	// row: the device's row, with its later edits, replaces it.
	if err := s.exec(t.deleteSQL, to); err != nil {
		return fmt.Errorf("rename %s %s: %w", t.name, from, err)
	}
	if err := s.exec(fmt.Sprintf("UPDATE %s SET %s = ? WHERE %s = ?", quoteIdent(t.name), quoteIdent(t.pk), quoteIdent(t.pk)), to, from); err != nil {
		return fmt.Errorf("rename %s %s: %w", t.name, from, err)
	}
	if err := s.exec("UPDATE _fs_outbox SET id = ? WHERE entity = ? AND id = ?", to, t.name, from); err != nil {
		return err
	}
	if err := s.exec("UPDATE _fs_document SET record_id = ? WHERE entity = ? AND record_id = ?", to, t.name, from); err != nil {
		return err
	}
	for _, other := range s.ents {
		for _, f := range other.fields {
			if f.Type == sdk.TypeLookup && f.Target == t.name {
				if err := s.exec(fmt.Sprintf("UPDATE %s SET %s = ? WHERE %s = ?", quoteIdent(other.name), quoteIdent(f.Name), quoteIdent(f.Name)), to, from); err != nil {
					return fmt.Errorf("point %s.%s at %s: %w", other.name, f.Name, to, err)
				}
			}
		}
	}
	return nil
}
