package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/plugins/mock"
)

func serverIDs(o *Options) {
	c, err := mock.Factory(context.Background(), map[string]string{"path": o.Connector.(*mock.Connector).Server().Path(), "server_ids": "true"}, nil)
	if err != nil {
		panic(err)
	}
	o.Connector.Close(context.Background())
	o.Connector = c
}

// A parent and its children created offline reach a server that assigns
// ids: parents go first, children carry the parent's new id, and the device
// renames its rows to the server's ids. The host app inserts the child
// before the parent, so the outbox's own order is wrong on purpose.
func TestOfflineParentsBeforeChildren(t *testing.T) {
	w := newWorld(t, 3)
	d := w.device("dev", allThree, serverIDs)
	d.sync()
	const tmp = "aaaaaaaa-0000-4000-8000-000000000001"
	d.exec("INSERT INTO contact (contactid, parentaccountid, firstname, lastname) VALUES ('cccccccc-0000-4000-8000-000000000001', '" + tmp + "', 'Ada', 'Offline')")
	d.exec("INSERT INTO opportunity (opportunityid, accountid, name) VALUES ('dddddddd-0000-4000-8000-000000000001', '" + tmp + "', 'Offline deal')")
	d.exec("INSERT INTO account (accountid, name) VALUES ('" + tmp + "', 'Made offline')")
	lg := d.sync()
	if lg.Upload.Created != 3 || lg.Upload.Failed != 0 {
		t.Fatalf("upload %+v errors %+v", lg.Upload, lg.Errors)
	}
	srvID := w.text("SELECT accountid FROM account WHERE name = 'Made offline'")
	if srvID == "" || srvID == tmp {
		t.Fatalf("server id %q: the server should have assigned its own", srvID)
	}
	if got := w.text("SELECT parentaccountid FROM contact WHERE lastname = 'Offline'"); got != srvID {
		t.Fatalf("server contact points at %q, want %q", got, srvID)
	}
	if got := w.text("SELECT accountid FROM opportunity WHERE name = 'Offline deal'"); got != srvID {
		t.Fatalf("server opportunity points at %q, want %q", got, srvID)
	}
	if got := d.text("SELECT accountid FROM account WHERE name = 'Made offline'"); got != srvID {
		t.Fatalf("device account id %q, want the server's %q", got, srvID)
	}
	if got := d.text("SELECT parentaccountid FROM contact WHERE lastname = 'Offline'"); got != srvID {
		t.Fatalf("device contact points at %q, want %q", got, srvID)
	}
	// Nothing was created twice by the following download.
	if n := d.count("SELECT count(*) FROM account WHERE name = 'Made offline'"); n != 1 {
		t.Fatalf("%d copies of the account on the device", n)
	}
	if n := d.count("SELECT count(*) FROM contact WHERE lastname = 'Offline'"); n != 1 {
		t.Fatalf("%d copies of the contact on the device", n)
	}
}

func TestDeletesBothWays(t *testing.T) {
	w := newWorld(t, 5)
	d := w.device("dev", allThree)
	d.sync()
	mine := d.text("SELECT contactid FROM contact ORDER BY contactid LIMIT 1")
	theirs := d.text("SELECT contactid FROM contact ORDER BY contactid DESC LIMIT 1")
	d.exec("DELETE FROM contact WHERE contactid = '" + mine + "'")
	w.exec("DELETE FROM contact WHERE contactid = '" + theirs + "'")
	lg := d.sync()
	if lg.Upload.Deleted != 1 {
		t.Fatalf("upload %+v", lg.Upload)
	}
	if n := w.count("SELECT count(*) FROM contact WHERE contactid = '" + mine + "'"); n != 0 {
		t.Fatal("the device's delete did not reach the server")
	}
	if n := d.count("SELECT count(*) FROM contact WHERE contactid = '" + theirs + "'"); n != 0 {
		t.Fatal("the server's delete did not reach the device")
	}
	if got, want := d.count("SELECT count(*) FROM contact"), w.count("SELECT count(*) FROM contact"); got != want {
		t.Fatalf("device %d contacts, server %d", got, want)
	}
}

func TestRepeatedEditsUploadOnce(t *testing.T) {
	w := newWorld(t, 3)
	d := w.device("dev", allThree)
	d.sync()
	id := d.text("SELECT accountid FROM account LIMIT 1")
	for _, city := range []string{"A", "B", "C", "D"} {
		d.exec("UPDATE account SET city = '" + city + "' WHERE accountid = '" + id + "'")
	}
	d.exec("UPDATE account SET name = 'Final' WHERE accountid = '" + id + "'")
	if n := d.count("SELECT count(*) FROM _fs_outbox"); n != 1 {
		t.Fatalf("%d pending changes, want 1 coalesced", n)
	}
	before, _ := w.srv.Version(context.Background())
	lg := d.sync()
	after, _ := w.srv.Version(context.Background())
	if lg.Upload.Updated != 1 || lg.Upload.Calls != 1 || after-before != 1 {
		t.Fatalf("upload %+v, server versions moved by %d; want one update", lg.Upload, after-before)
	}
	if got := w.text("SELECT city || '/' || name FROM account WHERE accountid = '" + id + "'"); got != "D/Final" {
		t.Fatalf("server has %q", got)
	}
}

func TestExpiredTokenResyncsOneEntity(t *testing.T) {
	w := newWorld(t, 10)
	d := w.device("dev", allThree)
	d.sync()
	gone := d.text("SELECT accountid FROM account ORDER BY accountid LIMIT 1")
	w.exec("DELETE FROM opportunity WHERE accountid = '" + gone + "'")
	w.exec("DELETE FROM contact WHERE parentaccountid = '" + gone + "'")
	w.exec("DELETE FROM account WHERE accountid = '" + gone + "'")
	if _, err := w.srv.PurgeTombstones(context.Background()); err != nil {
		t.Fatal(err)
	}
	lg := d.sync()
	modes := map[string]string{}
	for _, e := range lg.Entities {
		modes[e.Name] = e.Mode
	}
	if modes["account"] != "resync" {
		t.Fatalf("modes %v: account should resync after its token expired", modes)
	}
	if n := d.count("SELECT count(*) FROM account WHERE accountid = '" + gone + "'"); n != 0 {
		t.Fatal("a row deleted while the token expired survived the resync")
	}
	for _, e := range []string{"account", "contact", "opportunity"} {
		if got, want := d.count("SELECT count(*) FROM "+e), w.count("SELECT count(*) FROM "+e); got != want {
			t.Fatalf("%s: device %d, server %d", e, got, want)
		}
	}
}

func TestRetriesThroughFaults(t *testing.T) {
	w := newWorld(t, 30)
	d := w.device("dev", allThree, func(o *Options) { o.Retries = 30; o.PageSize = 10; o.MaxBackoff = 4 * time.Millisecond })
	d.sync()
	d.exec("UPDATE account SET city = 'Flaky'")
	if err := w.srv.SetFaults(context.Background(), mock.Faults{FailRate: 40}); err != nil {
		t.Fatal(err)
	}
	w.exec("UPDATE contact SET lastname = 'Changed'")
	lg := d.sync()
	if err := w.srv.SetFaults(context.Background(), mock.Faults{}); err != nil {
		t.Fatal(err)
	}
	if lg.Result != "ok" {
		t.Fatalf("result %s: %+v", lg.Result, lg.Errors)
	}
	if n := w.count("SELECT count(*) FROM account WHERE city = 'Flaky'"); n != 30 {
		t.Fatalf("%d accounts updated on the server, want 30", n)
	}
	if n := d.count("SELECT count(*) FROM contact WHERE lastname = 'Changed'"); n != 60 {
		t.Fatalf("%d contacts changed on the device, want 60", n)
	}
}

func TestSyncLogIsStored(t *testing.T) {
	w := newWorld(t, 5)
	d := w.device("dev", allThree)
	lg := d.sync()
	logs, err := d.store.SyncLogs(context.Background(), 10)
	if err != nil || len(logs) != 1 || logs[0].ID != lg.ID || logs[0].Result != "ok" {
		t.Fatalf("logs %+v %v", logs, err)
	}
	for _, want := range []string{`"user":"dev"`, `"name":"account"`, `"phases"`, `"upload"`, `"ms_per_record"`} {
		if !strings.Contains(logs[0].JSON, want) {
			t.Errorf("stored log lacks %s", want)
		}
	}
	var phases []string
	for _, p := range lg.Phases {
		phases = append(phases, p.Name)
	}
	if got := strings.Join(phases, ","); got != "prepare,upload,download,cleanup,finalize" {
		t.Fatalf("phases %s", got)
	}
}

func TestCancelStopsCleanly(t *testing.T) {
	w := newWorld(t, 200)
	d := w.device("dev", allThree, func(o *Options) { o.PageSize = 10 })
	ctx, cancel := context.WithCancel(context.Background())
	pages := 0
	d.eng.opts.OnEvent = func(ev Event) {
		if ev.Phase == "download" && ev.Pages > 0 {
			pages++
			if pages == 5 {
				cancel()
			}
		}
	}
	lg, err := d.eng.Sync(ctx, SyncOptions{})
	if err == nil || lg.Result != "canceled" {
		t.Fatalf("result %s err %v", lg.Result, err)
	}
	d.eng.opts.OnEvent = nil
	lg = d.sync()
	for _, e := range []string{"account", "contact", "opportunity"} {
		if got, want := d.count("SELECT count(*) FROM "+e), w.count("SELECT count(*) FROM "+e); got != want {
			t.Fatalf("%s: device %d, server %d after resuming", e, got, want)
		}
	}
}
