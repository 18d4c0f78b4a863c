package engine

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/plugins/dataverse"
	"github.com/fieldsync/fieldsync/plugins/dataverse/emulator"
	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/subprocess"
)

// The Dataverse tests sync a device (store and engine) with the Dataverse
// emulator, served over httptest on loopback, through the connector running
// as a subprocess plugin: this test binary re-run with envDataversePlugin
// set, which TestMain turns into subprocess.Serve(dataverse.Factory). So
// every call crosses the same gRPC transport a shipped plugin does.
const (
	envDataversePlugin = "FIELDSYNC_ENGINE_DATAVERSE_PLUGIN"
)

// dataverseChild is called first in TestMain: in a process started as the
// plugin or as the kill child it does that job and exits; otherwise it
// returns at once. The plugin check comes first: the kill child's plugin
// inherits the kill child's environment.
func dataverseChild() {
	if os.Getenv(envDataversePlugin) == "1" {
		subprocess.Serve(dataverse.Factory)
		os.Exit(0)
	}
}

// openDataversePlugin starts the connector as a subprocess plugin.
func openDataversePlugin(ctx context.Context, settings map[string]string) (*subprocess.Client, error) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{envDataversePlugin + "=1"} // Open puts the host's environment before it
	return subprocess.Open(ctx, subprocess.Config{Cmd: cmd, Settings: settings, Logger: hclog.NewNullLogger()})
}

// dvOrg is an emulated Dataverse organization on loopback.
type dvOrg struct {
	t   *testing.T
	srv *emulator.Server
	hs  *httptest.Server
	dir string
}

func newDVOrg(t *testing.T, seed emulator.SeedOptions) *dvOrg {
	t.Helper()
	dir := t.TempDir()
	srv, err := emulator.New(emulator.Options{Path: filepath.Join(dir, "org.db"), Tenant: "tenant1"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	if seed.Accounts > 0 {
		if err := srv.Seed(context.Background(), seed); err != nil {
			t.Fatal(err)
		}
	}
	return &dvOrg{t: t, srv: srv, hs: hs, dir: dir}
}

// settings are the connector's settings for the organization.
func (o *dvOrg) settings() map[string]string {
	return map[string]string{
		"url":           o.hs.URL,
		"tenant":        "tenant1",
		"client_id":     emulator.DefaultClientID,
		"client_secret": emulator.DefaultClientSecret,
		"token_url":     o.hs.URL + "/tenant1/oauth2/v2.0/token",
		"retries":       "3",
		"retry_backoff": "10ms",
	}
}

// device opens a device syncing with the organization through the plugin:
// the same device type as the mock tests use, so exec, count and text work
// alike.
func (o *dvOrg) device(name string, entities []EntityConfig, mod ...func(*Options)) *device {
	o.t.Helper()
	conn, err := openDataversePlugin(context.Background(), o.settings())
	if err != nil {
		o.t.Fatal(err)
	}
	o.t.Cleanup(func() { conn.Close(context.Background()) })
	return openBackendDevice(o.t, filepath.Join(o.dir, name+".db"), name, conn, entities, mod...)
}

func (o *dvOrg) exec(sql string) {
	o.t.Helper()
	if err := o.srv.Store().Exec(context.Background(), sql); err != nil {
		o.t.Fatalf("%s: %v", sql, err)
	}
}

func (o *dvOrg) count(sql string) int64 {
	o.t.Helper()
	n, err := o.srv.Store().QueryInt(context.Background(), sql)
	if err != nil {
		o.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func (o *dvOrg) text(sql string) string {
	o.t.Helper()
	s, err := o.srv.Store().QueryText(context.Background(), sql)
	if err != nil {
		o.t.Fatalf("%s: %v", sql, err)
	}
	return s
}

// apiRequests splits the logged requests after id into Web API requests
// and the others (token endpoint, admin).
func (o *dvOrg) apiRequests(after int64) (api, other []emulator.Request) {
	for _, r := range o.srv.Requests(after) {
		if strings.HasPrefix(r.Path, emulator.APIPath) {
			api = append(api, r)
		} else {
			other = append(other, r)
		}
	}
	return api, other
}

// dvLookups are the lookup fields the tests compare: the sdk (and device
// column) name is the logical name, the server keeps _<name>_value.
var dvLookups = map[string]bool{"parentcustomerid": true, "parentaccountid": true, "primarycontactid": true, "ownerid": true}

// dvRowsSQL is a query giving an entity's rows as one string: the key, the
// given fields and the row version, ordered by key. On the device the
// version is the ETag the connector reported (W/"123"); it is compared as
// the bare number the server keeps.
func dvRowsSQL(entity string, fields []string, server bool) string {
	parts := []string{entity + "id"}
	for _, f := range fields {
		col := f
		if server && dvLookups[f] {
			col = "_" + f + "_value"
		}
		parts = append(parts, "coalesce("+col+", '')")
	}
	if server {
		parts = append(parts, "versionnumber")
	} else {
		parts = append(parts, `replace(replace(coalesce(_fs_version, ''), 'W/', ''), '"', '')`)
	}
	return fmt.Sprintf("SELECT coalesce(group_concat(%s, ',' ORDER BY %sid), '') FROM %s", strings.Join(parts, " || '|' || "), entity, entity)
}

// sameRows fails unless the device holds exactly the server's rows of
// entity (keys, versions and the given fields).
func sameRows(t *testing.T, o *dvOrg, d *device, entity string, fields ...string) {
	t.Helper()
	got, want := d.text(dvRowsSQL(entity, fields, false)), o.text(dvRowsSQL(entity, fields, true))
	if got != want {
		dn, sn := d.count("SELECT count(*) FROM "+entity), o.count("SELECT count(*) FROM "+entity)
		t.Errorf("%s: the device's rows (%d) differ from the server's (%d)\ndevice: %.600s\nserver: %.600s", entity, dn, sn, got, want)
	}
}

// dvThree is the natural order. account.primarycontactid and
// contact.parentcustomerid make a cycle, which configuration order breaks:
// accounts upload before contacts (TestDataverseOfflineParentChildUploadOrder).
var dvThree = []EntityConfig{{Name: "account"}, {Name: "contact"}, {Name: "opportunity"}}

// TestDataverseBothWays: a first sync downloads the organization; device
// edits (plain SQL: an update, a new account and a contact under it) go up,
// server edits and deletes (plain SQL on the emulator) come down, and both
// sides end with the same rows.
func TestDataverseBothWays(t *testing.T) {
	o := newDVOrg(t, emulator.SeedOptions{Accounts: 30, ContactsPerAccount: 2, OpportunitiesPerAccount: 1, Users: 3, Seed: 11})
	d := o.device("dev", dvThree, func(opts *Options) { opts.PageSize = 25 })
	if pid := d.conn.(*subprocess.Client).Pid(); pid == 0 || pid == os.Getpid() {
		t.Fatalf("the connector is not in a plugin process (pid %d, ours %d)", pid, os.Getpid())
	}
	lg := d.sync()
	for _, e := range []string{"account", "contact", "opportunity"} {
		got, want := d.count("SELECT count(*) FROM "+e), o.count("SELECT count(*) FROM "+e)
		if got != want || want == 0 {
			t.Fatalf("first sync: %s: device has %d rows, server %d", e, got, want)
		}
		if el := entityLog(lg, e); el.Mode != "full" || el.Received != int(want) || (e == "contact" && el.Pages < 3) {
			t.Errorf("first sync: %s log %+v, want a full read of %d rows in pages of 25", e, el, want)
		}
	}
	sameRows(t, o, d, "account", "name", "numberofemployees", "primarycontactid", "ownerid")
	sameRows(t, o, d, "contact", "lastname", "parentcustomerid")
	sameRows(t, o, d, "opportunity", "name", "parentaccountid")

	ids := strings.Split(o.text(`SELECT group_concat(accountid, ',' ORDER BY accountid) FROM account`), ",")
	devEdited, srvEdited, srvDeleted := ids[0], ids[1], ids[2]
	const newAccount, newContact = "0ff11e00-0000-4000-8000-000000000001", "0ff11e00-0000-4000-8000-000000000002"
	// The device: a plain-SQL update, and a parent with a child created offline.
	d.exec(`UPDATE account SET name = 'Edited on device', numberofemployees = 7 WHERE accountid = '` + devEdited + `'`)
	d.exec(`INSERT INTO account (accountid, name, numberofemployees) VALUES ('` + newAccount + `', 'Created offline', 42)`)
	d.exec(`INSERT INTO contact (contactid, firstname, lastname, parentcustomerid) VALUES ('` + newContact + `', 'Olga', 'Offline', '` + newAccount + `')`)
	// The server: an edit, and a delete of an account with its children
	// (plain SQL does not cascade, so the children go first).
	o.exec(`UPDATE account SET name = 'Edited on server' WHERE accountid = '` + srvEdited + `'`)
	deletedContacts := o.count(`SELECT count(*) FROM contact WHERE _parentcustomerid_value = '` + srvDeleted + `'`)
	deletedOpps := o.count(`SELECT count(*) FROM opportunity WHERE _parentaccountid_value = '` + srvDeleted + `'`)
	o.exec(`DELETE FROM contact WHERE _parentcustomerid_value = '` + srvDeleted + `';
		DELETE FROM opportunity WHERE _parentaccountid_value = '` + srvDeleted + `';
		UPDATE account SET _primarycontactid_value = NULL WHERE accountid = '` + srvDeleted + `';
		DELETE FROM account WHERE accountid = '` + srvDeleted + `'`)

	lg = d.sync()
	if lg.Result != "ok" || lg.Upload.Created != 2 || lg.Upload.Updated != 1 || lg.Upload.Conflicts != 0 || lg.Upload.Failed != 0 {
		t.Fatalf("second sync: result %s, upload %+v, errors %+v", lg.Result, lg.Upload, lg.Errors)
	}
	if n := o.count(`SELECT count(*) FROM account WHERE accountid = '` + devEdited + `' AND name = 'Edited on device' AND numberofemployees = 7`); n != 1 {
		t.Error("the device's update did not reach the server")
	}
	if n := o.count(`SELECT count(*) FROM account WHERE accountid = '` + newAccount + `' AND name = 'Created offline' AND numberofemployees = 42`); n != 1 {
		t.Error("the account created offline is not on the server under the device's id")
	}
	if n := o.count(`SELECT count(*) FROM contact WHERE contactid = '` + newContact + `' AND lastname = 'Offline'
		AND _parentcustomerid_value = '` + newAccount + `' AND parentcustomeridtype = 'account'`); n != 1 {
		t.Errorf("the contact created offline is not on the server under its new account (contact rows: %s)",
			o.text(`SELECT group_concat(contactid || ' ' || coalesce(_parentcustomerid_value, 'null')) FROM contact WHERE lastname = 'Offline'`))
	}
	if got := d.text(`SELECT name FROM account WHERE accountid = '` + srvEdited + `'`); got != "Edited on server" {
		t.Errorf("the server's edit did not come down: name %q", got)
	}
	if n := d.count(`SELECT count(*) FROM account WHERE accountid = '` + srvDeleted + `'`); n != 0 {
		t.Error("the account deleted on the server stayed on the device")
	}
	if n := d.count(`SELECT count(*) FROM contact WHERE parentcustomerid = '` + srvDeleted + `'`); n != 0 {
		t.Errorf("%d contacts deleted on the server stayed on the device", n)
	}
	if el := entityLog(lg, "account"); el.Mode != "incremental" || el.Deleted != 1 {
		t.Errorf("account download %+v, want incremental with 1 delete", el)
	}
	if el := entityLog(lg, "contact"); el.Deleted != int(deletedContacts) {
		t.Errorf("contact download %+v, want %d deletes", el, deletedContacts)
	}
	if el := entityLog(lg, "opportunity"); el.Deleted != int(deletedOpps) {
		t.Errorf("opportunity download %+v, want %d deletes", el, deletedOpps)
	}
	if n := d.count("SELECT count(*) FROM _fs_outbox"); n != 0 {
		t.Errorf("%d changes left in the outbox", n)
	}
	sameRows(t, o, d, "account", "name", "numberofemployees", "primarycontactid")
	sameRows(t, o, d, "contact", "firstname", "lastname", "parentcustomerid")
	sameRows(t, o, d, "opportunity", "name", "parentaccountid")

	// A third sync has nothing to move.
	lg = d.sync()
	if lg.Upload.Changes != 0 || lg.ChangeCheck == nil || lg.ChangeCheck.Unchanged != 3 {
		t.Errorf("a sync with nothing to do: upload %+v, change check %+v", lg.Upload, lg.ChangeCheck)
	}
}

// TestDataverseOfflineParentChildUploadOrder: an account and a contact
// under it, both created offline, configured in the natural order (account
// first). The upload must send the account before the contact, though the
// two reference each other (account.primarycontactid,
// contact.parentcustomerid): configuration order breaks the cycle. (It
// failed once: the entity configured first ranked last, the contact went
// first and the service refused it, 404, permanently.)
func TestDataverseOfflineParentChildUploadOrder(t *testing.T) {
	o := newDVOrg(t, emulator.SeedOptions{Accounts: 2, ContactsPerAccount: 1, Users: 1, Seed: 3})
	d := o.device("dev", []EntityConfig{{Name: "account"}, {Name: "contact"}})
	d.sync()
	const acc, con = "0ff11e00-0000-4000-8000-0000000000a2", "0ff11e00-0000-4000-8000-0000000000c2"
	d.exec(`INSERT INTO account (accountid, name) VALUES ('` + acc + `', 'Parent offline')`)
	d.exec(`INSERT INTO contact (contactid, lastname, parentcustomerid) VALUES ('` + con + `', 'Child offline', '` + acc + `')`)
	lg, err := d.eng.Sync(context.Background(), SyncOptions{})
	if err != nil || lg.Upload.Created != 2 {
		t.Errorf("upload of a parent and a child created offline: %v; upload %+v", err, lg.Upload)
	}
	if n := o.count(`SELECT count(*) FROM contact WHERE contactid = '` + con + `' AND _parentcustomerid_value = '` + acc + `'`); n != 1 {
		t.Errorf("the child is not on the server under its parent")
	}
}

// TestDataverseServerFieldsOfDeviceCreates: the server fills in fields of a
// row the device created (owner, business unit, created on, a contact's
// full name). The create's answer carries only the new version; the next
// download must take the server's copy at that same version anyway (the
// store's _fs_refresh), or the device never gets those fields until the
// server row changes again.
func TestDataverseServerFieldsOfDeviceCreates(t *testing.T) {
	o := newDVOrg(t, emulator.SeedOptions{Accounts: 2, ContactsPerAccount: 1, Users: 1, Seed: 2})
	d := o.device("dev", dvThree[:2])
	d.sync()
	const acc, con = "0ff11e00-0000-4000-8000-0000000000a1", "0ff11e00-0000-4000-8000-0000000000c1"
	d.exec(`INSERT INTO account (accountid, name) VALUES ('` + acc + `', 'Created offline')`)
	d.exec(`INSERT INTO contact (contactid, firstname, lastname, parentcustomerid) VALUES ('` + con + `', 'Olga', 'Offline', '` + acc + `')`)
	d.sync()
	d.sync()
	// Fields the server fills in on a create: the device has none of them.
	for _, c := range []struct{ entity, id, field, column string }{
		{"account", acc, "ownerid", "_ownerid_value"},
		{"account", acc, "owningbusinessunit", "_owningbusinessunit_value"},
		{"account", acc, "statecode", "statecode"},
		{"account", acc, "createdon", "createdon"},
		{"contact", con, "fullname", "fullname"},
		{"contact", con, "ownerid", "_ownerid_value"},
	} {
		where := " FROM " + c.entity + " WHERE " + c.entity + "id = '" + c.id + "'"
		srv := o.text("SELECT coalesce(" + c.column + ", '')" + where)
		dev := d.text("SELECT coalesce(" + c.field + ", '')" + where)
		if srv != "" && dev == "" {
			t.Errorf("%s created offline: the server has %s = %q, the device still has NULL after two syncs", c.entity, c.field, srv)
		}
	}
}

// TestDataverseConflict412: the device and the server edit the same
// account; the upload's If-Match meets the moved version (412), the
// conflict policy decides, and both sides end as the policy says.
func TestDataverseConflict412(t *testing.T) {
	for _, tt := range []struct {
		policy         string
		deviceSetsName bool
		name, city     string // what both sides hold afterwards; "" city: the seeded one
	}{
		{"server-wins", true, "ServerName", ""},
		{"device-wins", true, "DeviceName", "DeviceCity"},
		{"merge", false, "ServerName", "DeviceCity"},
	} {
		t.Run(tt.policy, func(t *testing.T) {
			o := newDVOrg(t, emulator.SeedOptions{Accounts: 5, Users: 1, Seed: 4})
			d := o.device("dev", []EntityConfig{{Name: "account", Conflict: tt.policy}})
			d.sync()
			id := d.text(`SELECT accountid FROM account ORDER BY accountid LIMIT 1`)
			where := ` WHERE accountid = '` + id + `'`
			seededCity := o.text(`SELECT address1_city FROM account` + where)
			baseVersion := o.count(`SELECT versionnumber FROM account` + where)
			set := "address1_city = 'DeviceCity'"
			if tt.deviceSetsName {
				set += ", name = 'DeviceName'"
			}
			d.exec(`UPDATE account SET ` + set + where)
			o.exec(`UPDATE account SET name = 'ServerName'` + where)
			if v := o.count(`SELECT versionnumber FROM account` + where); v <= baseVersion {
				t.Fatalf("the server's plain-SQL edit did not move the version (%d → %d)", baseVersion, v)
			}
			lg := d.sync()
			if lg.Upload.Conflicts != 1 || lg.Upload.Parked != 0 || lg.Upload.Failed != 0 {
				t.Fatalf("upload %+v (errors %+v), want one conflict settled by %s", lg.Upload, lg.Errors, tt.policy)
			}
			d.sync()
			wantCity := tt.city
			if wantCity == "" {
				wantCity = seededCity
			}
			if got := o.text(`SELECT name || '/' || coalesce(address1_city, '') FROM account` + where); got != tt.name+"/"+wantCity {
				t.Errorf("server holds %q, want %q", got, tt.name+"/"+wantCity)
			}
			if got := d.text(`SELECT name || '/' || coalesce(address1_city, '') FROM account` + where); got != tt.name+"/"+wantCity {
				t.Errorf("device holds %q, want %q", got, tt.name+"/"+wantCity)
			}
			if n := d.count("SELECT count(*) FROM _fs_outbox"); n != 0 {
				t.Errorf("%d changes left in the outbox", n)
			}
			sameRows(t, o, d, "account", "name", "address1_city")
		})
	}
}

// TestDataverseThrottled: the emulator answers 429 with Retry-After: 1;
// the connector waits it out, the sync succeeds, and the sync log's backend
// usage shows the throttled time and every request the server saw.
func TestDataverseThrottled(t *testing.T) {
	o := newDVOrg(t, emulator.SeedOptions{Accounts: 10, ContactsPerAccount: 1, Users: 1, Seed: 5})
	d := o.device("dev", dvThree[:2])
	o.srv.SetFaults(emulator.Faults{Force429: 2, RetryAfter: 1})
	before := o.srv.LastRequestID()
	start := time.Now()
	lg := d.sync()
	elapsed := time.Since(start)
	api, _ := o.apiRequests(before)
	throttled := 0
	for _, r := range api {
		if r.Status == 429 {
			throttled++
		}
	}
	if throttled != 2 || o.srv.Faults().Force429 != 0 {
		t.Errorf("the emulator answered %d requests with 429, want 2", throttled)
	}
	if lg.Result != "ok" {
		t.Fatalf("result %s: %+v", lg.Result, lg.Errors)
	}
	for _, e := range []string{"account", "contact"} {
		if got, want := d.count("SELECT count(*) FROM "+e), o.count("SELECT count(*) FROM "+e); got != want {
			t.Errorf("%s: device %d rows, server %d", e, got, want)
		}
	}
	b := lg.Backend
	if b == nil {
		t.Fatal("the sync log has no backend usage")
	}
	t.Logf("backend %+v; the server logged %d Web API requests; the sync took %v", *b, len(api), elapsed.Round(time.Millisecond))
	if b.ThrottledMs < 1900 || elapsed < 2*time.Second {
		t.Errorf("throttled %d ms (sync %v), want the two Retry-After: 1 waited out", b.ThrottledMs, elapsed)
	}
	if b.Retries < 2 {
		t.Errorf("retries %d, want at least the 2 throttled requests", b.Retries)
	}
	if b.Requests != int64(len(api)) {
		t.Errorf("the log counts %d backend requests, the server answered %d Web API requests", b.Requests, len(api))
	}
}

// TestDataverseExpiredDeltaToken: after the server expires every delta
// token, the next sync reads each entity again (mode resync); a delete
// whose tombstone is gone reaches the device through that re-read.
func TestDataverseExpiredDeltaToken(t *testing.T) {
	o := newDVOrg(t, emulator.SeedOptions{Accounts: 20, ContactsPerAccount: 2, OpportunitiesPerAccount: 1, Users: 2, Seed: 6})
	d := o.device("dev", dvThree)
	d.sync()
	ctx := context.Background()
	gone := o.text(`SELECT contactid FROM contact ORDER BY contactid LIMIT 1`)
	o.exec(`UPDATE account SET _primarycontactid_value = NULL WHERE _primarycontactid_value = '` + gone + `'; DELETE FROM contact WHERE contactid = '` + gone + `'`)
	if _, err := o.srv.Store().PurgeTombstones(ctx); err != nil { // the delete leaves no trace
		t.Fatal(err)
	}
	if err := o.srv.ExpireDeltaTokens(ctx); err != nil {
		t.Fatal(err)
	}
	o.exec(`UPDATE account SET name = 'After expiry' WHERE accountid = (SELECT min(accountid) FROM account)`)
	lg := d.sync()
	if lg.Result != "ok" {
		t.Fatalf("result %s: %+v", lg.Result, lg.Errors)
	}
	if lg.ChangeCheck == nil || lg.ChangeCheck.Entities != 3 || lg.ChangeCheck.Unchanged != 0 {
		t.Errorf("change check %+v: expired tokens must count as changed", lg.ChangeCheck)
	}
	for _, e := range []string{"account", "contact", "opportunity"} {
		el := entityLog(lg, e)
		want := o.count("SELECT count(*) FROM " + e)
		if el.Mode != "resync" || el.Received != int(want) {
			t.Errorf("%s: %+v, want mode resync reading all %d rows", e, el, want)
		}
		if got := d.count("SELECT count(*) FROM " + e); got != want {
			t.Errorf("%s: device %d rows, server %d", e, got, want)
		}
	}
	if n := d.count(`SELECT count(*) FROM contact WHERE contactid = '` + gone + `'`); n != 0 {
		t.Error("the contact deleted before the expiry stayed on the device")
	}
	if n := d.count(`SELECT count(*) FROM account WHERE name = 'After expiry'`); n != 1 {
		t.Error("the edit made after the expiry did not come down")
	}
	sameRows(t, o, d, "account", "name")
	sameRows(t, o, d, "contact", "lastname", "parentcustomerid")
	sameRows(t, o, d, "opportunity", "name")
	// The new tokens work: the next sync is incremental again.
	lg = d.sync()
	if lg.ChangeCheck == nil || lg.ChangeCheck.Unchanged != 3 {
		t.Errorf("the sync after the resync: change check %+v, want 3 unchanged", lg.ChangeCheck)
	}
}

var dvKillEntities = []EntityConfig{{Name: "account"}}

// killAfterPush runs the kill child on the device file dev.
func (o *dvOrg) killAfterPush(dev string, batch, n int) {
	o.t.Helper()
	killAfterPush(o.t, killSpec{Plugin: "dataverse", Settings: o.settings(), Dev: dev, Entities: dvKillEntities, Batch: batch, Die: n})
}

// TestDataverseKillMidUpload: a device with 250 accounts created offline
// uploads them in batches of 20 and is killed with SIGKILL right after a
// batch was applied by the server, twice; a clean sync afterwards leaves
// exactly 250 new accounts on the server (resent creates carry the same
// client GUIDs) and the device in step with it.
func TestDataverseKillMidUpload(t *testing.T) {
	const n, batch = 250, 20
	o := newDVOrg(t, emulator.SeedOptions{Accounts: 5, Users: 1, Seed: 7})
	dev := filepath.Join(o.dir, "dev.db")
	d := o.device("dev", dvKillEntities)
	d.sync()
	d.exec(fmt.Sprintf(`WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < %d)
		INSERT INTO account (name, numberofemployees) SELECT printf('Crash %%03d', n), n FROM i`, n))
	if got := d.count(`SELECT count(*) FROM _fs_outbox WHERE op = 'create'`); got != n {
		t.Fatalf("outbox holds %d creates, want %d", got, n)
	}
	// The child takes over the device file.
	d.app.Close()
	d.conn.Close(context.Background())
	d.store.Close()

	crash := `SELECT count(*) FROM account WHERE name LIKE 'Crash %'`
	o.killAfterPush(dev, batch, 3)
	if got := o.count(crash); got != 3*batch {
		t.Fatalf("after the child died after its 3rd push the server has %d new accounts, want %d", got, 3*batch)
	}
	// The second child first resends the batch the first never heard back
	// about, then dies after the next one.
	o.killAfterPush(dev, batch, 2)
	afterSecond := o.count(crash)
	if afterSecond <= 3*batch || afterSecond >= n {
		t.Fatalf("after the second kill the server has %d new accounts, want between %d and %d", afterSecond, 3*batch, n)
	}
	if dup := o.count(`SELECT count(*) - count(DISTINCT name) FROM account WHERE name LIKE 'Crash %'`); dup != 0 {
		t.Fatalf("%d duplicates on the server after the kills", dup)
	}

	d2 := o.device("dev", dvKillEntities)
	lg := d2.sync()
	t.Logf("server after kill 1: %d, after kill 2: %d; the clean sync: upload %+v", 3*batch, afterSecond, lg.Upload)
	if got := o.count(crash); got != n {
		t.Errorf("the server has %d offline accounts, want exactly %d", got, n)
	}
	if got := o.count(`SELECT count(DISTINCT name) FROM account WHERE name LIKE 'Crash %'`); got != n {
		t.Errorf("the server has %d distinct offline accounts, want %d", got, n)
	}
	if got := d2.count(crash); got != n {
		t.Errorf("the device has %d offline accounts, want %d", got, n)
	}
	if got := d2.count("SELECT count(*) FROM _fs_outbox"); got != 0 {
		t.Errorf("%d changes left in the outbox", got)
	}
	if lg.Upload.Failed != 0 || lg.Upload.Conflicts != 0 {
		t.Errorf("the clean sync's upload %+v: resent creates must be answered applied", lg.Upload)
	}
	sameRows(t, o, d2, "account", "name", "numberofemployees")
}

// TestDataverseFilteredRole: an entity with a server-side filter gets
// exactly the matching rows; a server edit that takes a row out of the
// filter removes it from the device, one that brings a row in adds it.
func TestDataverseFilteredRole(t *testing.T) {
	o := newDVOrg(t, emulator.SeedOptions{Accounts: 40, Users: 2, Seed: 8})
	big := sdk.Cmp("numberofemployees", sdk.OpGt, sdk.Int(2500))
	d := o.device("dev", []EntityConfig{{Name: "account", Filter: big}})
	d.sync()
	matching := `SELECT count(*) FROM account WHERE numberofemployees > 2500`
	want := o.count(matching)
	if got := d.count(`SELECT count(*) FROM account`); got != want || want == 0 || want == o.count(`SELECT count(*) FROM account`) {
		t.Fatalf("first sync: the device has %d accounts, %d of the server's %d match", got, want, o.count(`SELECT count(*) FROM account`))
	}
	if n := d.count(`SELECT count(*) FROM account WHERE numberofemployees <= 2500`); n != 0 {
		t.Fatalf("%d accounts outside the filter came down", n)
	}
	leaves := o.text(`SELECT min(accountid) FROM account WHERE numberofemployees > 2500`)
	enters := o.text(`SELECT min(accountid) FROM account WHERE numberofemployees <= 2500`)
	staysIn := o.text(`SELECT max(accountid) FROM account WHERE numberofemployees > 2500`)
	staysOut := o.text(`SELECT max(accountid) FROM account WHERE numberofemployees <= 2500`)
	o.exec(`UPDATE account SET numberofemployees = 10 WHERE accountid = '` + leaves + `';
		UPDATE account SET numberofemployees = 4000 WHERE accountid = '` + enters + `';
		UPDATE account SET name = 'Still big' WHERE accountid = '` + staysIn + `';
		UPDATE account SET name = 'Still small' WHERE accountid = '` + staysOut + `'`)
	lg := d.sync()
	if lg.Result != "ok" {
		t.Fatalf("result %s: %+v", lg.Result, lg.Errors)
	}
	if n := d.count(`SELECT count(*) FROM account WHERE accountid = '` + leaves + `'`); n != 0 {
		t.Error("the account that left the filter stayed on the device")
	}
	if n := d.count(`SELECT count(*) FROM account WHERE accountid = '` + enters + `' AND numberofemployees = 4000`); n != 1 {
		t.Error("the account that entered the filter did not come down")
	}
	if n := d.count(`SELECT count(*) FROM account WHERE accountid = '` + staysIn + `' AND name = 'Still big'`); n != 1 {
		t.Error("the edit of an account within the filter did not come down")
	}
	if n := d.count(`SELECT count(*) FROM account WHERE accountid = '` + staysOut + `'`); n != 0 {
		t.Error("an edited account outside the filter came down")
	}
	if got, want := d.count(`SELECT count(*) FROM account`), o.count(matching); got != want {
		t.Errorf("after the edits the device has %d accounts, %d match", got, want)
	}
	if el := entityLog(lg, "account"); el.Mode != "incremental" {
		t.Errorf("account download %+v, want incremental", el)
	}
	got := d.text(dvRowsSQL("account", []string{"name", "numberofemployees"}, false))
	srv := o.text(strings.Replace(dvRowsSQL("account", []string{"name", "numberofemployees"}, true), "FROM account", "FROM account WHERE numberofemployees > 2500", 1))
	if got != srv {
		t.Errorf("the device's accounts differ from the server's matching ones\ndevice: %.400s\nserver: %.400s", got, srv)
	}
}

// TestDataverseNoChangeSync20Entities: twenty entities synced, then a sync
// with nothing changed costs one request to the service: the $batch change
// check of all twenty.
func TestDataverseNoChangeSync20Entities(t *testing.T) {
	o := newDVOrg(t, emulator.SeedOptions{Accounts: 10, ContactsPerAccount: 1, OpportunitiesPerAccount: 1, AnnotationsPerAccount: 1, Users: 2, Seed: 9})
	ctx := context.Background()
	// Rows in a few custom tables too, so not every entity is empty.
	o.exec(`INSERT INTO fs_workorder (fs_workorderid, fs_name, fs_quantity, _fs_accountid_value)
		SELECT lower(substr(accountid, 1, 24) || '00000000000' || '1'), 'WO ' || name, 3, accountid FROM account;
		INSERT INTO fs_visit (fs_visitid, fs_name, fs_quantity) VALUES ('f0000000-0000-4000-8000-000000000001', 'Visit', 1)`)
	probe, err := openDataversePlugin(ctx, o.settings())
	if err != nil {
		t.Fatal(err)
	}
	schema, err := probe.Schema(ctx)
	probe.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var cfg []EntityConfig
	var names []string
	for _, e := range schema.Entities {
		if e.Capabilities.Incremental {
			cfg = append(cfg, EntityConfig{Name: e.Name})
			names = append(names, e.Name)
		}
	}
	if len(cfg) != 20 {
		t.Fatalf("the connector offers %d entities with change tracking, want 20: %v", len(cfg), names)
	}
	d := o.device("dev", cfg)
	lg := d.sync()
	for _, e := range names {
		if got, want := d.count("SELECT count(*) FROM "+e), o.count("SELECT count(*) FROM "+e); got != want {
			t.Errorf("first sync: %s: device %d rows, server %d", e, got, want)
		}
	}
	if n := d.count(`SELECT count(*) FROM fs_workorder WHERE fs_accountid IN (SELECT accountid FROM account)`); n != 10 {
		t.Errorf("%d work orders point at an account on the device, want 10", n)
	}
	before := o.srv.LastRequestID()
	lg = d.sync()
	api, other := o.apiRequests(before)
	var what []string
	for _, r := range append(api, other...) {
		what = append(what, fmt.Sprintf("%s %s → %d (parts %d)", r.Method, r.Path, r.Status, r.Parts))
	}
	t.Logf("no-change sync of %d entities: %d Web API request(s), %d other: %v", len(names), len(api), len(other), what)
	if len(api) > 2 || len(api) == 0 {
		t.Errorf("the no-change sync made %d Web API requests, want at most 2", len(api))
	}
	if len(api) >= 1 && (!strings.HasSuffix(api[0].Path, "$batch") || api[0].Parts != 20) {
		t.Errorf("the change check was %+v, want one $batch of 20 parts", api[0])
	}
	if cc := lg.ChangeCheck; cc == nil || cc.Entities != 20 || cc.Unchanged != 20 {
		t.Errorf("change check %+v, want 20 entities, 20 unchanged", lg.ChangeCheck)
	}
	for _, el := range lg.Entities {
		if el.Mode != "unchanged" {
			t.Errorf("%s: mode %q, want unchanged", el.Name, el.Mode)
		}
	}
	if lg.Backend == nil || lg.Backend.Requests != int64(len(api)) {
		t.Errorf("backend usage %+v, the server saw %d Web API requests", lg.Backend, len(api))
	}
}
