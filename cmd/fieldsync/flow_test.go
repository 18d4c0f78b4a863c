package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3"

	"github.com/fieldsync/fieldsync/core/engine"
	"github.com/fieldsync/fieldsync/plugins/mock"
)

// sqlExec runs plain SQL on a SQLite file, as a host app or an admin would.
func sqlExec(t *testing.T, path, sql string) {
	t.Helper()
	db, err := sqlite3.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.BusyTimeout(5e9); err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(sql); err != nil {
		t.Fatalf("%s: %s: %v", path, sql, err)
	}
}

// sqlText returns the first column of the first row of a query.
func sqlText(t *testing.T, path, sql string) string {
	t.Helper()
	f, err := openSQL(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := f.value(sql)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func decode[T any](t *testing.T, what, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%s is not valid JSON: %v\n%s", what, err, s)
	}
	return v
}

// TestFlow walks a user through init, sync, status, a parked conflict
// resolved by hand with a merged record, and the sync logs.
func TestFlow(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, DefaultConfig)
	c := []string{"--config", cfg}

	out := ok(t, "init", dir, "--records", "50", "--user", "alice", "--device", "alice-laptop")
	for _, want := range []string{"Wrote " + cfg, "50 accounts, 100 contacts, 50 opportunities", "--config " + cfg + " sync", "--name bob.hcl"} {
		if !strings.Contains(out, want) {
			t.Errorf("init output lacks %q:\n%s", want, out)
		}
	}
	fails(t, "already exists; pass --force", "init", dir)
	ok(t, "init", dir, "--force", "--records", "50", "--user", "alice", "--device", "alice-laptop")

	// Accounts are settled by a person; the other entities sync as usual.
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("\nentity \"account\" {\n  conflict = \"manual\"\n}\nentity \"contact\" {}\nentity \"opportunity\" {}\n")
	f.Close()

	t.Run("status before the first sync", func(t *testing.T) {
		fails(t, "does not exist yet", append(c, "status")...)
	})

	out = ok(t, append(c, "sync")...)
	for _, want := range []string{"Sync ok", "account", "contact", "opportunity", "Upload: nothing to send"} {
		if !strings.Contains(out, want) {
			t.Errorf("sync summary lacks %q:\n%s", want, out)
		}
	}

	t.Run("sync --json", func(t *testing.T) {
		lg := decode[engine.Log](t, "sync --json", ok(t, append(c, "sync", "--json")...))
		if lg.Result != "ok" || len(lg.Entities) != 3 || lg.User != "alice" || lg.Device != "alice-laptop" {
			t.Errorf("sync log: result %q, %d entities, user %q, device %q", lg.Result, len(lg.Entities), lg.User, lg.Device)
		}
		for _, e := range lg.Entities {
			if e.Mode != "unchanged" {
				t.Errorf("second sync of %s was %s, want unchanged (the batch change check found nothing)", e.Name, e.Mode)
			}
		}
	})

	t.Run("sync --entity", func(t *testing.T) {
		lg := decode[engine.Log](t, "sync --json", ok(t, append(c, "sync", "--json", "--entity", "contact")...))
		if len(lg.Entities) != 1 || lg.Entities[0].Name != "contact" {
			t.Errorf("sync --entity contact synced %+v", lg.Entities)
		}
		fails(t, `entity "nope" is not configured`, append(c, "sync", "--entity", "nope")...)
	})

	// The device and the admin change the same account's name.
	store := filepath.Join(dir, "device.db")
	id := sqlText(t, store, "SELECT accountid FROM account ORDER BY accountid LIMIT 1")
	sqlExec(t, store, "UPDATE account SET name = 'Device name', city = 'Oslo' WHERE accountid = '"+id+"'")
	ctx := context.Background()
	srv, err := mock.OpenServer(ctx, filepath.Join(dir, serverFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Exec(ctx, "UPDATE account SET name = 'Server name' WHERE accountid = '"+id+"'"); err != nil {
		t.Fatal(err)
	}
	srv.Close()

	status := decode[statusReport](t, "status --json", ok(t, append(c, "status", "--json")...))
	if status.PendingTotal != 1 || status.Pending["pending"] != 1 || status.OpenConflicts != 0 || len(status.Entities) != 3 {
		t.Errorf("status before the sync: %+v", status)
	}

	out = ok(t, append(c, "sync")...)
	if !strings.Contains(out, "1 parked") || !strings.Contains(out, "conflicts list") {
		t.Errorf("sync does not report the parked conflict:\n%s", out)
	}
	if out := ok(t, append(c, "status")...); !strings.Contains(out, "Open conflicts: 1") {
		t.Errorf("status does not count the open conflict:\n%s", out)
	}

	list := decode[[]conflictJSON](t, "conflicts list --json", ok(t, append(c, "conflicts", "list", "--json")...))
	if len(list) != 1 || list[0].RecordID != id || list[0].Local["name"] != "Device name" || list[0].Remote["name"] != "Server name" {
		t.Fatalf("conflicts list: %+v", list)
	}
	cid := "1"
	out = ok(t, append(c, "conflicts", "show", cid)...)
	for _, want := range []string{`"Device name"`, `"Server name"`, "device+server", "resolve 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("conflicts show lacks %q:\n%s", want, out)
		}
	}
	show := decode[conflictJSON](t, "conflicts show --json", ok(t, append(c, "conflicts", "show", cid, "--json")...))
	if show.Policy != "manual" || show.Base["name"] == nil {
		t.Errorf("conflicts show --json: %+v", show)
	}

	t.Run("bad resolutions", func(t *testing.T) {
		fails(t, "say how to resolve it", append(c, "conflicts", "resolve", cid)...)
		fails(t, "neither local nor server", append(c, "conflicts", "resolve", cid, "--take", "both")...)
		fails(t, `has no field "nope"`, append(c, "conflicts", "resolve", cid, "--set", "nope=1")...)
		fails(t, "is not a whole number", append(c, "conflicts", "resolve", cid, "--set", "employees=many")...)
		fails(t, "there is no conflict 99", append(c, "conflicts", "resolve", "99", "--take", "local")...)
	})

	// A merged record: the server's values with a name typed by hand, and
	// a choice given by its label.
	out = ok(t, append(c, "conflicts", "resolve", cid, "--set", "name=Agreed name", "--set", "industrycode=Retail")...)
	if !strings.Contains(out, "kept a merged record") {
		t.Errorf("resolve output: %s", out)
	}
	fails(t, "already resolved", append(c, "conflicts", "resolve", cid, "--take", "local")...)
	if out := ok(t, append(c, "conflicts", "list")...); !strings.Contains(out, "No open conflicts") {
		t.Errorf("conflicts list after resolving: %s", out)
	}
	ok(t, append(c, "sync")...)
	got := sqlText(t, filepath.Join(dir, serverFile), "SELECT name || '|' || industrycode || '|' || city FROM account WHERE accountid = '"+id+"'")
	if want := "Agreed name|10|" + sqlText(t, store, "SELECT city FROM account WHERE accountid = '"+id+"'"); got != want {
		t.Errorf("server after the resolution: %q, want %q", got, want)
	}

	t.Run("log", func(t *testing.T) {
		out := ok(t, append(c, "log", "list")...)
		if !strings.Contains(out, "RESULT") || strings.Count(out, " ok ") < 5 {
			t.Errorf("log list:\n%s", out)
		}
		logs := decode[[]engine.Log](t, "log list --json", ok(t, append(c, "log", "list", "--json", "--limit", "2")...))
		if len(logs) != 2 {
			t.Errorf("log list --limit 2 gave %d logs", len(logs))
		}
		out = ok(t, append(c, "log", "show", "1")...)
		for _, want := range []string{"Sync log #1 · ok", "user alice", "Phases: prepare", "full", "Upload: nothing to send"} {
			if !strings.Contains(out, want) {
				t.Errorf("log show lacks %q:\n%s", want, out)
			}
		}
		lg := decode[engine.Log](t, "log show --json", ok(t, append(c, "log", "show", "--json")...))
		if lg.Result != "ok" || lg.Upload.Changes != 1 {
			t.Errorf("newest log: result %q, %d changes sent", lg.Result, lg.Upload.Changes)
		}
		fails(t, "there is no sync log 999", append(c, "log", "show", "999")...)
		fails(t, `"x" is not a sync log id`, append(c, "log", "show", "x")...)
	})

	t.Run("second device joins the server", func(t *testing.T) {
		out := ok(t, "init", dir, "--name", "bob.hcl", "--store", "bob.db", "--user", "bob", "--device", "bob-laptop")
		if !strings.Contains(out, "Joined the existing mock server") {
			t.Errorf("init of a second device:\n%s", out)
		}
		ok(t, "--config", filepath.Join(dir, "bob.hcl"), "sync")
		if got := sqlText(t, filepath.Join(dir, "bob.db"), "SELECT name FROM account WHERE accountid = '"+id+"'"); got != "Agreed name" {
			t.Errorf("bob has name %q, want the resolved one", got)
		}
	})
}

// TestSyncFailureExitsNonZero: a backend that cannot be reached fails the
// sync with one sentence.
func TestSyncFailureExitsNonZero(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "f.hcl")
	src := `store = "d.db"
user = "u"
device = "d"
backend "mock" {
  settings = { path = "missing.db" }
}
`
	if err := os.WriteFile(cfg, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	fails(t, `cannot start the built-in connector "mock"`, "--config", cfg, "sync")

	src = strings.Replace(src, `backend "mock"`, `backend "nope"`, 1)
	os.WriteFile(cfg, []byte(src), 0o644)
	fails(t, "unknown connector", "--config", cfg, "sync")
}
