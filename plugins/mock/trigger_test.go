package mock

import (
	"context"
	"strconv"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
	"github.com/ncruces/go-sqlite3"
)

// Plain-SQL edits, as an admin makes them with the sqlite3 shell, show up in
// the next incremental fetch.
func TestTriggersTrackPlainSQL(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name        string
		sql         string // %s: an existing account id
		wantRows    int
		wantDeletes int
	}{
		{"insert without id or version", "INSERT INTO account (name, city) VALUES ('Plain', 'Brno')", 1, 0},
		{"update", "UPDATE account SET city = 'Trnava' WHERE accountid = '%s'", 1, 0},
		{"update to the same value", "UPDATE account SET city = city WHERE accountid = '%s'", 1, 0},
		{"update of many rows", "UPDATE account SET active = 1", 5, 0},
		{"delete", "DELETE FROM account WHERE accountid = '%s'", 0, 1},
		{"delete and re-insert the same id", "DELETE FROM account WHERE accountid = '%[1]s'; INSERT INTO account (accountid, name) VALUES ('%[1]s', 'Back')", 1, 0},
		{"change of key", "UPDATE account SET accountid = '00000000-0000-4000-8000-000000000001' WHERE accountid = '%s'", 1, 1},
		{"insert with a stale version", "INSERT INTO account (name, _version) VALUES ('Stale', 1)", 1, 0},
		{"replace", "REPLACE INTO account (accountid, name) VALUES ('%s', 'Replaced')", 1, 0},
		{"edit of another entity", "UPDATE contact SET lastname = 'X'", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := newServer(t)
			must(t, s.Seed(ctx, SeedOptions{Accounts: 5, ContactsPerAccount: 1, Seed: 9}))
			c := newConnector(t, path, "dev")
			full := fetchAll(t, c, sdk.FetchRequest{Entity: "account"})
			id := full.order[2]
			sql := tt.sql
			if containsVerb(sql) {
				sql = sprintf(sql, id)
			}
			must(t, s.Exec(ctx, sql))
			r := fetchAll(t, c, sdk.FetchRequest{Entity: "account", Token: full.token})
			if len(r.rows) != tt.wantRows || len(r.deletes) != tt.wantDeletes {
				t.Fatalf("got %d rows, %d deletes; want %d, %d", len(r.rows), len(r.deletes), tt.wantRows, tt.wantDeletes)
			}
			for _, rec := range r.rows {
				if !isGUID(rec.ID) {
					t.Errorf("id %q is not a GUID", rec.ID)
				}
				v, err := strconv.ParseInt(rec.Version, 10, 64)
				if err != nil || v <= mustVersionOf(t, full.token, s) {
					t.Errorf("version %q not above the token", rec.Version)
				}
			}
			// And nothing comes twice.
			r2 := fetchAll(t, c, sdk.FetchRequest{Entity: "account", Token: r.token})
			if len(r2.rows)+len(r2.deletes) != 0 {
				t.Errorf("second incremental: %d rows, %d deletes", len(r2.rows), len(r2.deletes))
			}
		})
	}
}

func mustVersionOf(t *testing.T, token []byte, s *Server) int64 {
	c, err := s.parse(token)
	if err != nil {
		t.Fatal(err)
	}
	return c.high
}

// Every write moves the clock exactly once and versions stay unique, with
// recursive_triggers on or off.
func TestVersionsUniqueAndMonotonic(t *testing.T) {
	for _, recursive := range []string{"OFF", "ON"} {
		t.Run("recursive_triggers="+recursive, func(t *testing.T) {
			s, path := newServer(t)
			ctx := context.Background()
			db, err := sqlite3.Open(path)
			must(t, err)
			defer db.Close()
			must(t, db.BusyTimeout(5e9))
			must(t, db.Exec("PRAGMA recursive_triggers="+recursive))
			before, _ := s.Version(ctx)
			must(t, db.Exec(`INSERT INTO account (name) VALUES ('a'), ('b'), ('c')`))
			must(t, db.Exec(`UPDATE account SET city = 'x'`))
			must(t, db.Exec(`DELETE FROM account WHERE name = 'a'`))
			after, _ := s.Version(ctx)
			if after-before != 3+3+1 {
				t.Errorf("clock moved %d for 7 writes", after-before)
			}
			n, err := s.QueryInt(ctx, `SELECT count(DISTINCT _version) FROM account`)
			must(t, err)
			if n != 2 {
				t.Errorf("%d distinct versions for 2 rows", n)
			}
			mx, _ := s.QueryInt(ctx, `SELECT max(_version) FROM account`)
			ts, _ := s.QueryInt(ctx, `SELECT max(version) FROM _tombstone`)
			if mx > after || ts != after {
				t.Errorf("max row version %d, tombstone %d, clock %d", mx, ts, after)
			}
		})
	}
}

// A hand-set version above the clock is kept and moves the clock up.
func TestExplicitVersionAdvancesClock(t *testing.T) {
	s, _ := newServer(t)
	ctx := context.Background()
	must(t, s.Exec(ctx, `INSERT INTO account (name, _version) VALUES ('big', 1000)`))
	v, _ := s.Version(ctx)
	if v != 1000 {
		t.Fatalf("clock %d after an insert at version 1000", v)
	}
	must(t, s.Exec(ctx, `INSERT INTO account (name) VALUES ('next')`))
	n, _ := s.QueryInt(ctx, `SELECT _version FROM account WHERE name = 'next'`)
	if n != 1001 {
		t.Fatalf("next version %d", n)
	}
	must(t, s.Exec(ctx, `UPDATE account SET _version = 5000 WHERE name = 'next'`))
	if v, _ := s.Version(ctx); v != 5000 {
		t.Fatalf("clock %d after a hand-set version 5000", v)
	}
	// A garbage version is replaced.
	must(t, s.Exec(ctx, `INSERT INTO account (name, _version) VALUES ('junk', 'abc')`))
	n, _ = s.QueryInt(ctx, `SELECT _version FROM account WHERE name = 'junk'`)
	if n != 5001 {
		t.Fatalf("junk version became %d", n)
	}
}

func TestDefaultGUIDs(t *testing.T) {
	s, _ := newServer(t)
	ctx := context.Background()
	must(t, s.Exec(ctx, `INSERT INTO account (name) VALUES ('a'), ('b')`))
	c, err := s.db.get(ctx)
	must(t, err)
	defer s.db.put(c)
	st, err := c.prep(`SELECT accountid FROM account`)
	must(t, err)
	seen := map[string]bool{}
	for st.Step() {
		id := st.ColumnText(0)
		if !isGUID(id) || id[14] != '4' || !containsByte("89ab", id[19]) || id != lower(id) {
			t.Errorf("default id %q is not a lower-case v4 GUID", id)
		}
		seen[id] = true
	}
	st.Reset()
	if len(seen) != 2 {
		t.Errorf("ids not unique: %v", seen)
	}
}
