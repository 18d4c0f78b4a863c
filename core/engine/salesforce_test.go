package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/plugins/salesforce"
	"github.com/fieldsync/fieldsync/plugins/salesforce/emulator"
	"github.com/fieldsync/fieldsync/sdk/subprocess"
)

// The Salesforce tests sync a device with the Salesforce emulator on
// loopback through the connector running as a subprocess plugin (this test
// binary re-run with envSalesforcePlugin set), as the Dataverse tests do.
// Changes "on the server" are made through the emulator's REST API by
// another user's session, so they move SystemModstamp and the recycle bin
// exactly as an API write does.
const (
	envSalesforcePlugin = "FIELDSYNC_ENGINE_SALESFORCE_PLUGIN"
)

// salesforceChild is called from TestMain: the plugin process or the kill
// child does its job and exits.
func salesforceChild() {
	if os.Getenv(envSalesforcePlugin) == "1" {
		subprocess.Serve(salesforce.Factory)
		os.Exit(0)
	}
}

func openSalesforcePlugin(ctx context.Context, settings map[string]string) (*subprocess.Client, error) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{envSalesforcePlugin + "=1"}
	return subprocess.Open(ctx, subprocess.Config{Cmd: cmd, Settings: settings, Logger: hclog.NewNullLogger()})
}

// sfOrg is an emulated Salesforce org on loopback.
type sfOrg struct {
	t   *testing.T
	srv *emulator.Server
	hs  *httptest.Server
	dir string
	sid string // the "other user's" session for server-side changes
}

func newSFOrg(t *testing.T, seed emulator.SeedOptions) *sfOrg {
	t.Helper()
	dir := t.TempDir()
	srv, err := emulator.New(emulator.Options{Path: filepath.Join(dir, "org.db")})
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
	return &sfOrg{t: t, srv: srv, hs: hs, dir: dir}
}

func (o *sfOrg) settings() map[string]string {
	return map[string]string{
		"login_url":     o.hs.URL,
		"grant":         "password",
		"client_id":     emulator.DefaultClientID,
		"client_secret": emulator.DefaultClientSecret,
		"username":      emulator.DefaultUsername,
		"password":      emulator.DefaultPassword,
		"retries":       "3",
		"retry_backoff": "10ms",
	}
}

// device opens a device syncing with the org through the plugin.
func (o *sfOrg) device(name string, entities []EntityConfig, mod ...func(*Options)) *device {
	o.t.Helper()
	conn, err := openSalesforcePlugin(context.Background(), o.settings())
	if err != nil {
		o.t.Fatal(err)
	}
	o.t.Cleanup(func() { conn.Close(context.Background()) })
	return openBackendDevice(o.t, filepath.Join(o.dir, name+".db"), name, conn, entities, mod...)
}

// api makes one REST call as the org's other user and decodes the JSON
// answer into out (when not nil). It fails the test on a status >= 300.
func (o *sfOrg) api(method, path string, body any, out any) {
	o.t.Helper()
	if err := o.tryAPI(method, path, body, out); err != nil {
		o.t.Fatal(err)
	}
}

func (o *sfOrg) tryAPI(method, path string, body any, out any) error {
	if o.sid == "" {
		form := url.Values{"grant_type": {"password"}, "client_id": {emulator.DefaultClientID},
			"client_secret": {emulator.DefaultClientSecret}, "username": {emulator.DefaultUsername}, "password": {emulator.DefaultPassword}}
		resp, err := http.PostForm(o.hs.URL+"/services/oauth2/token", form)
		if err != nil {
			return err
		}
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		err = json.NewDecoder(resp.Body).Decode(&tok)
		resp.Body.Close()
		if err != nil || tok.AccessToken == "" {
			return fmt.Errorf("sign in: %v (status %d)", err, resp.StatusCode)
		}
		o.sid = tok.AccessToken
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, o.hs.URL+"/services/data/v60.0/"+path, rd)
	req.Header.Set("Authorization", "Bearer "+o.sid)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// query runs SOQL as the other user and returns the records.
func (o *sfOrg) query(soql string) []map[string]any {
	o.t.Helper()
	var all []map[string]any
	path := "query?q=" + url.QueryEscape(soql)
	for {
		var page struct {
			Done           bool             `json:"done"`
			NextRecordsURL string           `json:"nextRecordsUrl"`
			Records        []map[string]any `json:"records"`
		}
		o.api("GET", path, nil, &page)
		all = append(all, page.Records...)
		if page.Done || page.NextRecordsURL == "" {
			return all
		}
		path = strings.TrimPrefix(page.NextRecordsURL, "/services/data/v60.0/")
	}
}

func (o *sfOrg) count(soql string) int {
	o.t.Helper()
	var r struct {
		TotalSize int `json:"totalSize"`
	}
	o.api("GET", "query?q="+url.QueryEscape(soql), nil, &r)
	return r.TotalSize
}

// ids lists Ids of a SOQL query's rows in order.
func (o *sfOrg) ids(soql string) []string {
	var out []string
	for _, r := range o.query(soql) {
		out = append(out, r["Id"].(string))
	}
	return out
}

// sfRows renders rows as "Id|f1|f2" lines in Id order, from the server
// (SOQL) or the device (SQL), so the two compare as text.
func sfServerRows(o *sfOrg, object string, fields ...string) string {
	var b strings.Builder
	for _, r := range o.query("SELECT Id, " + strings.Join(fields, ", ") + " FROM " + object + " ORDER BY Id") {
		b.WriteString(fmt.Sprint(r["Id"]))
		for _, f := range fields {
			v := r[f]
			if v == nil {
				v = ""
			}
			fmt.Fprintf(&b, "|%v", v)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func sfDeviceRows(d *device, object string, fields ...string) string {
	cols := []string{"Id"}
	for _, f := range fields {
		cols = append(cols, "coalesce("+f+", '')")
	}
	return d.text("SELECT coalesce(group_concat(line, char(10)) || char(10), '') FROM (SELECT " + strings.Join(cols, " || '|' || ") +
		" AS line FROM " + object + " ORDER BY Id COLLATE BINARY)")
}

func sfSameRows(t *testing.T, o *sfOrg, d *device, object string, fields ...string) {
	t.Helper()
	srv, dev := sfServerRows(o, object, fields...), sfDeviceRows(d, object, fields...)
	if srv != dev {
		t.Errorf("%s: the device's rows differ from the server's\ndevice: %.600s\nserver: %.600s", object, dev, srv)
	}
}

var sfThree = []EntityConfig{
	{Name: "Account", Fields: []string{"Name", "NumberOfEmployees", "BillingCity", "ParentId"}},
	{Name: "Contact", Fields: []string{"FirstName", "LastName", "AccountId"}},
	{Name: "Opportunity", Fields: []string{"Name", "StageName", "CloseDate", "AccountId"}},
}

// TestSalesforceBothWays: a first sync brings the seeded org down; a device
// update, an account with a contact created offline, a server update and a
// server delete (cascading to children) all meet in the second sync; a
// third has nothing to move.
func TestSalesforceBothWays(t *testing.T) {
	o := newSFOrg(t, emulator.SeedOptions{Accounts: 30, ContactsPerAccount: 2, OpportunitiesPerAccount: 1, Users: 2, Seed: 11})
	d := o.device("dev", sfThree, func(opts *Options) { opts.PageSize = 25 })
	if pid := d.conn.(*subprocess.Client).Pid(); pid == 0 || pid == os.Getpid() {
		t.Fatalf("the connector is not in a plugin process (pid %d)", pid)
	}
	lg := d.sync()
	if lg.Result != "ok" {
		t.Fatalf("first sync: %s %+v", lg.Result, lg.Errors)
	}
	for _, e := range []string{"Account", "Contact", "Opportunity"} {
		got, want := d.count("SELECT count(*) FROM "+e), o.count("SELECT COUNT() FROM "+e)
		if int(got) != want || want == 0 {
			t.Fatalf("first sync: %s: device has %d rows, server %d", e, got, want)
		}
		if el := entityLog(lg, e); el.Mode != "full" || el.Received != want {
			t.Errorf("first sync: %s log %+v, want a full read of %d rows", e, el, want)
		}
	}
	sfSameRows(t, o, d, "Account", "Name", "NumberOfEmployees", "BillingCity")
	sfSameRows(t, o, d, "Contact", "LastName", "AccountId")

	ids := o.ids("SELECT Id FROM Account ORDER BY Id")
	devEdited, srvEdited, srvDeleted := ids[0], ids[1], ids[2]
	d.exec(`UPDATE Account SET Name = 'Edited on device', NumberOfEmployees = 7 WHERE Id = '` + devEdited + `'`)
	d.exec(`INSERT INTO Account (Name, NumberOfEmployees) VALUES ('Created offline', 42)`)
	tmp := d.text(`SELECT Id FROM Account WHERE Name = 'Created offline'`)
	d.exec(`INSERT INTO Contact (FirstName, LastName, AccountId) VALUES ('Olga', 'Offline', '` + tmp + `')`)
	o.api("PATCH", "sobjects/Account/"+srvEdited, map[string]any{"Name": "Edited on server"}, nil)
	deletedContacts := o.count("SELECT COUNT() FROM Contact WHERE AccountId = '" + srvDeleted + "'")
	o.api("DELETE", "sobjects/Account/"+srvDeleted, nil, nil)

	lg = d.sync()
	if lg.Result != "ok" || lg.Upload.Created != 2 || lg.Upload.Updated != 1 || lg.Upload.Conflicts != 0 || lg.Upload.Failed != 0 {
		t.Fatalf("second sync: result %s, upload %+v, errors %+v", lg.Result, lg.Upload, lg.Errors)
	}
	if n := o.count("SELECT COUNT() FROM Account WHERE Id = '" + devEdited + "' AND Name = 'Edited on device' AND NumberOfEmployees = 7"); n != 1 {
		t.Error("the device's update did not reach the server")
	}
	newID := d.text(`SELECT Id FROM Account WHERE Name = 'Created offline'`)
	if newID == tmp || !strings.HasPrefix(newID, "001") {
		t.Errorf("the offline account keeps id %q on the device (temporary %q); want the server's 001 id", newID, tmp)
	}
	if n := o.count("SELECT COUNT() FROM Contact WHERE LastName = 'Offline' AND AccountId = '" + newID + "'"); n != 1 {
		t.Errorf("the contact created offline is not on the server under its new account %s", newID)
	}
	if got := d.text(`SELECT AccountId FROM Contact WHERE LastName = 'Offline'`); got != newID {
		t.Errorf("the device's offline contact points at %q, want the account's server id %q", got, newID)
	}
	if got := d.text(`SELECT Name FROM Account WHERE Id = '` + srvEdited + `'`); got != "Edited on server" {
		t.Errorf("the server's edit did not come down: %q", got)
	}
	if n := d.count(`SELECT count(*) FROM Account WHERE Id = '` + srvDeleted + `'`); n != 0 {
		t.Error("the account deleted on the server stayed on the device")
	}
	if n := d.count(`SELECT count(*) FROM Contact WHERE AccountId = '` + srvDeleted + `'`); n != 0 || deletedContacts == 0 {
		t.Errorf("%d of the %d contacts deleted with their account stayed on the device", n, deletedContacts)
	}
	if el := entityLog(lg, "Account"); el.Mode != "incremental" || el.Deleted != 1 {
		t.Errorf("account download %+v, want incremental with 1 delete", el)
	}
	if n := d.count("SELECT count(*) FROM _fs_outbox"); n != 0 {
		t.Errorf("%d changes left in the outbox", n)
	}
	sfSameRows(t, o, d, "Account", "Name", "NumberOfEmployees", "BillingCity")
	sfSameRows(t, o, d, "Contact", "FirstName", "LastName", "AccountId")
	sfSameRows(t, o, d, "Opportunity", "Name", "StageName", "AccountId")

	lg = d.sync()
	if lg.Upload.Changes != 0 || lg.Result != "ok" {
		t.Errorf("a sync with nothing to do: %s, upload %+v", lg.Result, lg.Upload)
	}
	for _, e := range []string{"Account", "Contact", "Opportunity"} {
		if el := entityLog(lg, e); el.Received != 0 || el.Deleted != 0 {
			t.Errorf("a sync with nothing changed: %s log %+v", e, el)
		}
	}
}

// TestSalesforceConflict: the device and the server edit the same account;
// the upload meets the server's newer row and the default policy settles
// it, with the conflict in the log and no change left behind.
func TestSalesforceConflict(t *testing.T) {
	o := newSFOrg(t, emulator.SeedOptions{Accounts: 5, Users: 1, Seed: 12})
	d := o.device("dev", sfThree[:1])
	d.sync()
	id := o.ids("SELECT Id FROM Account ORDER BY Id")[0]
	d.exec(`UPDATE Account SET Name = 'Device name' WHERE Id = '` + id + `'`)
	time.Sleep(5 * time.Millisecond) // a later stamp than the device's base version
	o.api("PATCH", "sobjects/Account/"+id, map[string]any{"Name": "Server name", "BillingCity": "Brno"}, nil)
	lg := d.sync()
	if lg.Upload.Conflicts != 1 {
		t.Fatalf("upload %+v, errors %+v; want 1 conflict", lg.Upload, lg.Errors)
	}
	if n := d.count("SELECT count(*) FROM _fs_outbox"); n != 0 {
		// A keep-local outcome requeues; one more sync sends it.
		lg = d.sync()
		if n := d.count("SELECT count(*) FROM _fs_outbox"); n != 0 {
			t.Fatalf("%d changes left after the conflict was settled: %+v", n, lg.Upload)
		}
	}
	sfSameRows(t, o, d, "Account", "Name", "BillingCity")
}

// TestSalesforceDeletedAndExpiredLog: deletes come down from the recycle
// bin; once the server's delete log no longer reaches back to the last
// sync, the object is read in full again, which also drops rows deleted
// meanwhile.
func TestSalesforceDeletedAndExpiredLog(t *testing.T) {
	o := newSFOrg(t, emulator.SeedOptions{Accounts: 8, ContactsPerAccount: 1, Users: 1, Seed: 13})
	d := o.device("dev", sfThree[:2])
	d.sync()
	ids := o.ids("SELECT Id FROM Contact ORDER BY Id")
	o.api("DELETE", "sobjects/Contact/"+ids[0], nil, nil)
	lg := d.sync()
	if el := entityLog(lg, "Contact"); el.Mode != "incremental" || el.Deleted != 1 {
		t.Fatalf("contact download %+v, want incremental with 1 delete", el)
	}
	// Another delete, and then the recycle bin is emptied past the last
	// sync: the delete cannot be seen any more, so the object is re-read.
	o.api("DELETE", "sobjects/Contact/"+ids[1], nil, nil)
	time.Sleep(10 * time.Millisecond)
	if err := o.srv.PurgeDeleted(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	lg = d.sync()
	if lg.Result != "ok" {
		t.Fatalf("sync after the purge: %s %+v", lg.Result, lg.Errors)
	}
	if el := entityLog(lg, "Contact"); el.Mode != "resync" {
		t.Errorf("contact download after the delete log moved past the last sync: %+v, want a full re-read", el)
	}
	// The purge emptied the whole org's recycle bin, so the accounts' log
	// moved too: they are re-read, and being unchanged, none is rewritten.
	if el := entityLog(lg, "Account"); el.Mode != "resync" || el.Upserted != 0 || el.Deleted != 0 {
		t.Errorf("account download %+v: want a re-read that finds every account unchanged", el)
	}
	if n := d.count(`SELECT count(*) FROM Contact WHERE Id IN ('` + ids[0] + `', '` + ids[1] + `')`); n != 0 {
		t.Errorf("%d deleted contacts stayed on the device", n)
	}
	sfSameRows(t, o, d, "Contact", "LastName", "AccountId")
}

// TestSalesforceRequestLimit: an org out of daily API requests stops the
// sync with a message that says so and keeps the device's changes; once
// the limit allows, the next sync sends them.
func TestSalesforceRequestLimit(t *testing.T) {
	o := newSFOrg(t, emulator.SeedOptions{Accounts: 5, Users: 1, Seed: 14})
	d := o.device("dev", sfThree[:1])
	d.sync()
	d.exec(`UPDATE Account SET Name = 'Waiting for the limit' WHERE Id = (SELECT min(Id) FROM Account)`)
	o.srv.SetDailyLimit(int(o.srv.APICalls()))
	lg, err := d.eng.Sync(context.Background(), SyncOptions{})
	if err == nil && lg.Result == "ok" {
		t.Fatalf("a sync over the daily limit succeeded: %+v", lg)
	}
	msg := fmt.Sprint(err)
	if lg != nil {
		msg += fmt.Sprint(lg.Errors)
	}
	if !strings.Contains(strings.ToLower(msg), "limit") {
		t.Errorf("the failure does not say the API limit is reached: %s", msg)
	}
	if n := d.count("SELECT count(*) FROM _fs_outbox"); n != 1 {
		t.Fatalf("the outbox holds %d changes after the refused sync, want 1", n)
	}
	o.srv.SetDailyLimit(1_000_000)
	lg = d.sync()
	if lg.Result != "ok" || lg.Upload.Updated != 1 {
		t.Fatalf("the sync after the limit was raised: %s, upload %+v, errors %+v", lg.Result, lg.Upload, lg.Errors)
	}
	if n := o.count("SELECT COUNT() FROM Account WHERE Name = 'Waiting for the limit'"); n != 1 {
		t.Error("the kept change did not reach the server")
	}
}

var sfKillEntities = []EntityConfig{{Name: "Account", Fields: []string{"Name", "NumberOfEmployees"}}}

// killAfterPush runs the kill child on the device file dev.
func (o *sfOrg) killAfterPush(dev string, batch, n int) {
	o.t.Helper()
	killAfterPush(o.t, killSpec{Plugin: "salesforce", Settings: o.settings(), Dev: dev, Entities: sfKillEntities, Batch: batch, Die: n})
}

// TestSalesforceKillMidUpload: 250 accounts created offline upload in
// batches of 20; the device is killed right after the server applied a
// batch, twice. Salesforce assigns ids, so what keeps a resent create from
// duplicating is the external id (the device's temporary id) the upsert
// carries: after a clean sync the server holds exactly 250.
func TestSalesforceKillMidUpload(t *testing.T) {
	const n, batch = 250, 20
	o := newSFOrg(t, emulator.SeedOptions{Accounts: 5, Users: 1, Seed: 15})
	dev := filepath.Join(o.dir, "dev.db")
	d := o.device("dev", sfKillEntities)
	d.sync()
	d.exec(fmt.Sprintf(`WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < %d)
		INSERT INTO Account (Name, NumberOfEmployees) SELECT printf('Crash %%03d', n), n FROM i`, n))
	d.app.Close()
	d.conn.Close(context.Background())
	d.store.Close()

	crash := "SELECT COUNT() FROM Account WHERE Name LIKE 'Crash %'"
	o.killAfterPush(dev, batch, 3)
	if got := o.count(crash); got != 3*batch {
		t.Fatalf("after the child died after its 3rd push the server has %d new accounts, want %d", got, 3*batch)
	}
	o.killAfterPush(dev, batch, 2)
	afterSecond := o.count(crash)
	if afterSecond <= 3*batch || afterSecond >= n {
		t.Fatalf("after the second kill the server has %d new accounts, want between %d and %d", afterSecond, 3*batch, n)
	}
	d2 := o.device("dev", sfKillEntities)
	lg := d2.sync()
	t.Logf("server after kill 1: %d, after kill 2: %d; the clean sync: upload %+v", 3*batch, afterSecond, lg.Upload)
	names := map[string]int{}
	for _, r := range o.query("SELECT Name FROM Account WHERE Name LIKE 'Crash %'") {
		names[r["Name"].(string)]++
	}
	if len(names) != n {
		t.Errorf("the server has %d distinct offline accounts, want %d", len(names), n)
	}
	for name, k := range names {
		if k != 1 {
			t.Errorf("%q is on the server %d times", name, k)
		}
	}
	if got := d2.count(`SELECT count(*) FROM Account WHERE Name LIKE 'Crash %'`); got != n {
		t.Errorf("the device has %d offline accounts, want %d", got, n)
	}
	if got := d2.count("SELECT count(*) FROM _fs_outbox"); got != 0 {
		t.Errorf("%d changes left in the outbox", got)
	}
	if lg.Upload.Failed != 0 || lg.Upload.Conflicts != 0 {
		t.Errorf("the clean sync's upload %+v: resent creates must be answered applied", lg.Upload)
	}
	sfSameRows(t, o, d2, "Account", "Name", "NumberOfEmployees")
}
