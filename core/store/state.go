package store

import (
	"context"
	"fmt"
	"time"
)

// Mode is where an entity's download stands.
type Mode string

const (
	// ModeNew: never downloaded, or must be downloaded again from scratch.
	ModeNew Mode = "new"
	// ModeBulk: a first full download into an empty table is under way:
	// rows are appended and the key index is built at the end.
	ModeBulk Mode = "bulk"
	// ModeResync: a full download into a table that has rows is under way:
	// rows are upserted and, at the end, rows the server no longer has are
	// removed.
	ModeResync Mode = "resync"
	// ModeReady: downloaded; the next download is incremental from Token.
	ModeReady Mode = "ready"
)

// State is an entity's sync position.
type State struct {
	Entity   string
	Mode     Mode
	Token    []byte // change token of the last completed download
	Cursor   []byte // resumes the download under way (after a crash)
	LastSync time.Time
}

// State returns entity's sync position.
func (s *Store) State(ctx context.Context, entity string) (State, error) {
	var st State
	err := s.read(ctx, func() (err error) {
		st, err = s.state(entity)
		return err
	})
	return st, err
}

func (s *Store) state(entity string) (State, error) {
	q, err := s.prep("SELECT mode, token, cursor, last_sync_at FROM _fs_entity WHERE entity = ?")
	if err != nil {
		return State{}, err
	}
	defer q.Reset()
	q.BindText(1, entity)
	if !q.Step() {
		if err := q.Err(); err != nil {
			return State{}, err
		}
		return State{}, fmt.Errorf("store: entity %q not set up (EnsureEntity first)", entity)
	}
	st := State{Entity: entity, Mode: Mode(q.ColumnText(0)), Token: q.ColumnBlob(1, nil), Cursor: q.ColumnBlob(2, nil)}
	if q.ColumnType(3) != 0 && q.ColumnInt64(3) != 0 {
		st.LastSync = time.UnixMicro(q.ColumnInt64(3))
	}
	return st, nil
}

// States returns every entity's sync position.
func (s *Store) States(ctx context.Context) ([]State, error) {
	var out []State
	err := s.read(ctx, func() error {
		q, err := s.prep("SELECT entity FROM _fs_entity ORDER BY entity")
		if err != nil {
			return err
		}
		var names []string
		for q.Step() {
			names = append(names, q.ColumnText(0))
		}
		if err := q.Err(); err != nil {
			return err
		}
		q.Reset()
		for _, n := range names {
			st, err := s.state(n)
			if err != nil {
				return err
			}
			out = append(out, st)
		}
		return nil
	})
	return out, err
}

// BeginFull starts a full download of entity: into an empty table it appends
// and indexes at the end (ModeBulk); into a table with rows it upserts and
// removes, at the end, the rows it did not see (ModeResync).
func (s *Store) BeginFull(ctx context.Context, entity string) (State, error) {
	var st State
	err := s.write(ctx, applied, func() error {
		t, err := s.table(entity)
		if err != nil {
			return err
		}
		empty, err := s.isEmpty(t)
		if err != nil {
			return err
		}
		mode := ModeResync
		if empty {
			mode = ModeBulk
			if err := s.db.Exec("DROP INDEX IF EXISTS " + quoteIdent(t.indexName())); err != nil {
				return err
			}
			s.forgetStatements()
			t.indexed = false
		} else {
			if err := s.ensureIndex(t); err != nil {
				return err
			}
			if err := s.exec("DELETE FROM _fs_seen WHERE entity = ?", entity); err != nil {
				return err
			}
		}
		if err := s.exec("UPDATE _fs_entity SET mode = ?, token = NULL, cursor = NULL WHERE entity = ?", string(mode), entity); err != nil {
			return err
		}
		st, err = s.state(entity)
		return err
	})
	return st, err
}

// Reset forgets entity's token and cursor so the next download is a full
// one (used when the backend says the token expired).
func (s *Store) Reset(ctx context.Context, entity string) error {
	return s.write(ctx, applied, func() error {
		return s.exec("UPDATE _fs_entity SET mode = 'new', token = NULL, cursor = NULL WHERE entity = ?", entity)
	})
}

func (s *Store) isEmpty(t *table) (bool, error) {
	q, err := s.prep("SELECT 1 FROM " + quoteIdent(t.name) + " LIMIT 1")
	if err != nil {
		return false, err
	}
	defer q.Reset()
	has := q.Step()
	return !has, q.Err()
}

// ensureIndex builds the table's unique key index if it is missing. Rows
// that arrived twice during a bulk load (the backend sent a row again) are
// reduced to the last copy first.
func (s *Store) ensureIndex(t *table) error {
	if t.indexed {
		return nil
	}
	create := fmt.Sprintf("CREATE UNIQUE INDEX IF NOT EXISTS %s ON %s (%s)", quoteIdent(t.indexName()), quoteIdent(t.name), quoteIdent(t.pk))
	// SQLite's sorter keeps up to cache_size worth of keys in memory before
	// it spills sorted runs to temporary files, and the driver's memory
	// never shrinks: with the full 64 MiB cache, indexing a million rows
	// doubled the process's peak. A small cache for the sort keeps the peak
	// flat whatever the row count (measured: the sort is no slower).
	if err := s.db.Exec(fmt.Sprintf("PRAGMA cache_size=-%d", sortCacheKiB)); err != nil {
		return err
	}
	defer s.db.Exec(fmt.Sprintf("PRAGMA cache_size=-%d", cacheSizeKiB))
	if err := s.db.Exec(create); err != nil {
		dedupe := fmt.Sprintf("DELETE FROM %[1]s WHERE rowid NOT IN (SELECT max(rowid) FROM %[1]s GROUP BY %[2]s)", quoteIdent(t.name), quoteIdent(t.pk))
		if derr := s.db.Exec(dedupe); derr != nil {
			return fmt.Errorf("index %s: %w (and removing duplicates failed: %v)", t.name, err, derr)
		}
		if err := s.db.Exec(create); err != nil {
			return fmt.Errorf("index %s: %w", t.name, err)
		}
	}
	s.forgetStatements()
	t.indexed = true
	return nil
}
