package emulator

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSeed(t *testing.T) {
	ctx := context.Background()
	st, err := OpenStore(ctx, filepath.Join(t.TempDir(), "s.db"), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	opts := SeedOptions{Accounts: 200, ContactsPerAccount: 2, OpportunitiesPerAccount: 1, AnnotationsPerAccount: 2, Seed: 42}
	if err := st.Seed(ctx, opts); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		entity string
		want   int64
	}{{"account", 200}, {"contact", 400}, {"opportunity", 200}, {"annotation", 400}, {"systemuser", 10}} {
		n, err := st.Count(ctx, c.entity)
		if err != nil || n != c.want {
			t.Errorf("%s: %d rows (%v), want %d", c.entity, n, err, c.want)
		}
	}
	// Versions are unique and the clock is their maximum.
	v, _ := st.Version(ctx)
	max, _ := st.QueryInt(ctx, `SELECT max(versionnumber) FROM annotation`)
	if v != max {
		t.Errorf("clock %d, highest version %d", v, max)
	}
	dup, _ := st.QueryInt(ctx, `SELECT count(*) - count(DISTINCT versionnumber) FROM (SELECT versionnumber FROM account UNION ALL SELECT versionnumber FROM contact)`)
	if dup != 0 {
		t.Errorf("%d duplicate versions", dup)
	}
	// Triggers are back: a plain-SQL edit moves the clock.
	if err := st.Exec(ctx, `UPDATE account SET name = 'x' WHERE accountid = (SELECT min(accountid) FROM account)`); err != nil {
		t.Fatal(err)
	}
	if v2, _ := st.Version(ctx); v2 != v+1 {
		t.Errorf("clock %d after an edit, want %d", v2, v+1)
	}
	// Deterministic: the same seed on a new file gives the same ids.
	st2, err := OpenStore(ctx, filepath.Join(t.TempDir(), "s2.db"), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if err := st2.Seed(ctx, opts); err != nil {
		t.Fatal(err)
	}
	// (In generation order: the version; account has no rowid.)
	a, _ := st.QueryText(ctx, `SELECT group_concat(accountid) FROM (SELECT accountid FROM account ORDER BY versionnumber LIMIT 5)`)
	b, _ := st2.QueryText(ctx, `SELECT group_concat(accountid) FROM (SELECT accountid FROM account ORDER BY versionnumber LIMIT 5)`)
	if a != b || a == "" {
		t.Errorf("seeded ids differ: %s vs %s", a, b)
	}
}

// TestSeedMillion checks the promise in Store.Seed's doc: a million
// accounts load well under a minute. Set EMULATOR_SEED_ACCOUNTS to run it.
func TestSeedMillion(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("EMULATOR_SEED_ACCOUNTS"))
	if n == 0 {
		t.Skip("set EMULATOR_SEED_ACCOUNTS=1000000 to run")
	}
	ctx := context.Background()
	st, err := OpenStore(ctx, filepath.Join(t.TempDir(), "m.db"), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Now()
	if err := st.Seed(ctx, SeedOptions{Accounts: n, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d accounts in %v", n, time.Since(start))
}

// TestLayout: entity tables are clustered on their key (WITHOUT ROWID),
// but for annotation (streamed blobs need a rowid), and a file of the old
// layout is refused with a clear error rather than read.
func TestLayout(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "l.db")
	st, err := OpenStore(ctx, path, 2)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int64{"account": 1, "contact": 1, "systemuser": 1, "annotation": 0} {
		wr, err := st.QueryInt(ctx, `SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?1`, name)
		if err != nil || wr != want {
			t.Errorf("%s: without rowid %d (%v), want %d", name, wr, err, want)
		}
	}
	if _, err := st.ExecArgs(ctx, `UPDATE _meta SET value = 1 WHERE key = 'layout'`); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, err := OpenStore(ctx, path, 2); err == nil || !strings.Contains(err.Error(), "older emulator") || !strings.Contains(err.Error(), "create it again") {
		t.Errorf("opening a layout 1 file: %v", err)
	}
}
