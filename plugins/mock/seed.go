package mock

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

// SeedOptions say how much data Seed makes. Counts add to what is there.
type SeedOptions struct {
	Accounts                int
	ContactsPerAccount      int
	OpportunitiesPerAccount int
	// Seed makes the data deterministic: the same seed on an empty file
	// gives the same rows, ids included.
	Seed int64
	// BatchSize is the rows per write transaction when a table already has
	// rows (default 10,000). An empty table is loaded in one transaction.
	BatchSize int
}

// bulkThreshold is the row count from which a load into an empty table
// drops the table's indexes and triggers and rebuilds them after (see
// MEASUREMENTS: appending and then building the index is ~4× faster than
// inserting through it with random GUID keys).
const bulkThreshold = 10_000

// Seed fills the default model with realistic rows: accounts with names,
// cities, emails…, and per account the given numbers of contacts and
// opportunities pointing at it. Ids are random GUIDs (from Seed).
func (s *Server) Seed(ctx context.Context, o SeedOptions) error {
	if o.Accounts < 0 || o.ContactsPerAccount < 0 || o.OpportunitiesPerAccount < 0 {
		return sdk.Errorf(sdk.Permanent, "mock: seed counts must not be negative")
	}
	seed := uint64(o.Seed)
	ids, err := s.seed(ctx, "account", o.Accounts, seed, nil, o.BatchSize, true)
	if err != nil {
		return err
	}
	child := func(per int) parentFunc {
		return func(row int) string { return formatGUID(ids[row/per]) }
	}
	if o.ContactsPerAccount > 0 && len(ids) > 0 {
		_, err := s.seed(ctx, "contact", len(ids)*o.ContactsPerAccount, seed+1,
			map[string]parentFunc{"parentaccountid": child(o.ContactsPerAccount)}, o.BatchSize, false)
		if err != nil {
			return err
		}
	}
	if o.OpportunitiesPerAccount > 0 && len(ids) > 0 {
		_, err := s.seed(ctx, "opportunity", len(ids)*o.OpportunitiesPerAccount, seed+2,
			map[string]parentFunc{"accountid": child(o.OpportunitiesPerAccount)}, o.BatchSize, false)
		if err != nil {
			return err
		}
	}
	return nil
}

// SeedEntity adds n generated rows to any entity; lookups point at random
// existing rows of their targets (null when a target has none).
func (s *Server) SeedEntity(ctx context.Context, entityName string, n int, seed int64) error {
	c, _, snap, err := s.begin(ctx)
	if err != nil {
		return err
	}
	e := snap.entities[entityName]
	if e == nil {
		s.db.put(c)
		return sdk.Errorf(sdk.Permanent, "mock: unknown entity %q", entityName)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	parents := map[string]parentFunc{}
	for _, f := range e.Fields {
		t := snap.entities[f.Target]
		if f.Type != sdk.TypeLookup || t == nil {
			continue
		}
		var ids []string
		st, err := c.prep(fmt.Sprintf("SELECT %s FROM %s ORDER BY rowid", t.pk, t.table))
		if err != nil {
			s.db.put(c)
			return sqlErr(ctx, "seed "+entityName, err)
		}
		for st.Step() {
			ids = append(ids, st.ColumnText(0))
		}
		if err := st.Reset(); err != nil {
			s.db.put(c)
			return sqlErr(ctx, "seed "+entityName, err)
		}
		if len(ids) > 0 {
			parents[f.Name] = func(int) string { return ids[rng.IntN(len(ids))] }
		}
	}
	s.db.put(c)
	_, err = s.seed(ctx, entityName, n, uint64(seed), parents, 0, false)
	return err
}

// seed inserts n generated rows into an entity and returns their ids if
// keep is set.
func (s *Server) seed(ctx context.Context, entityName string, n int, seed uint64, parents map[string]parentFunc, batch int, keep bool) ([][16]byte, error) {
	if n == 0 {
		return nil, nil
	}
	if batch <= 0 {
		batch = 10_000
	}
	started := time.Now()
	c, _, snap, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer s.db.put(c)
	e := snap.entities[entityName]
	if e == nil {
		return nil, sdk.Errorf(sdk.Permanent, "mock: seed: no entity %q (seed the default model, or define it)", entityName)
	}
	gen := newRowGen(e, seed, parents)
	idRNG := rand.New(rand.NewPCG(seed, 0x51ed))
	var ids [][16]byte
	if keep {
		ids = make([][16]byte, 0, n)
	}

	var cols, params strings.Builder
	fmt.Fprintf(&cols, "%s, _version", e.pk)
	params.WriteString("?1, ?2")
	for i, f := range e.Fields {
		fmt.Fprintf(&cols, ", %s", quote(f.Name))
		fmt.Fprintf(&params, ", ?%d", i+3)
	}
	insert := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", e.table, cols.String(), params.String())

	// A bigger page cache for the load; the pool's default is restored after.
	if err := c.db.Exec(`PRAGMA cache_size=-65536`); err != nil {
		return nil, sqlErr(ctx, "seed "+entityName, err)
	}
	defer c.db.Exec(fmt.Sprintf(`PRAGMA cache_size=-%d`, cacheSizeKiB))

	done, bulk := 0, false
	var idBuf []byte
	for done < n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		err := c.withTx(func() error {
			// Decided inside the write transaction, so no other writer can
			// add a row between the check and the load.
			if done == 0 && n >= bulkThreshold {
				empty, _, err := c.queryInt(fmt.Sprintf("SELECT NOT EXISTS (SELECT 1 FROM %s)", e.table))
				if err != nil {
					return err
				}
				bulk = empty == 1
			}
			var clock int64
			end := min(done+batch, n)
			if bulk {
				end = n
				// Transactional DDL: other connections see the table with its
				// indexes and triggers before this commit and after it, never
				// without them.
				for _, name := range triggerNames(&e.Entity) {
					if err := c.db.Exec("DROP TRIGGER IF EXISTS " + quote(name)); err != nil {
						return err
					}
				}
				for _, name := range indexNames(&e.Entity) {
					if err := c.db.Exec("DROP INDEX IF EXISTS " + quote(name)); err != nil {
						return err
					}
				}
				var err error
				if clock, _, err = c.queryInt(`SELECT version FROM _clock`); err != nil {
					return err
				}
			}
			st, err := c.prep(insert)
			if err != nil {
				return err
			}
			for i := done; i < end; i++ {
				if i%1024 == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
				}
				id := randomID(idRNG)
				id[6], id[8] = id[6]&0x0f|0x40, id[8]&0x3f|0x80 // as appendGUID writes it
				idBuf = appendGUID(idBuf[:0], id)
				if keep {
					ids = append(ids, id)
				}
				if err := st.BindRawText(1, idBuf); err != nil {
					return err
				}
				if bulk { // the versions the triggers would have given, in one go
					err = st.BindInt64(2, clock+int64(i-done)+1)
				} else {
					err = st.BindNull(2)
				}
				if err != nil {
					return err
				}
				if err := gen.bind(st, 3); err != nil {
					return err
				}
				if err := st.Exec(); err != nil {
					return fmt.Errorf("insert row %d: %w", i, err)
				}
			}
			if bulk {
				if err := c.exec(`UPDATE _clock SET version = ?`, clock+int64(end-done)); err != nil {
					return err
				}
				for _, ddl := range indexDDL(&e.Entity) {
					if err := c.db.Exec(ddl); err != nil {
						return fmt.Errorf("build index: %w", err)
					}
				}
				if err := c.db.Exec(triggerDDL(&e.Entity)); err != nil {
					return fmt.Errorf("restore triggers: %w", err)
				}
			}
			done = end
			return nil
		})
		if err != nil {
			return nil, sqlErr(ctx, "seed "+entityName, err)
		}
	}
	if bulk {
		// The load went through the WAL; fold it back so the file is compact
		// (best effort: a reader may hold it).
		c.db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	}
	s.log.Info("seeded", "entity", entityName, "rows", n, "bulk", bulk, "elapsed", time.Since(started))
	return ids, nil
}
