package engine

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/core/wasmhost"
	"github.com/fieldsync/fieldsync/core/wasmhost/netpolicy"
	"github.com/fieldsync/fieldsync/plugins/rescocloud"
	"github.com/fieldsync/fieldsync/plugins/rescocloud/emulator"
	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/contracttest"
	"github.com/fieldsync/fieldsync/sdk/subprocess"
)

// Resco Cloud ships as a WASM plugin: the guest reaches the data service
// through the host's network function, allowed the emulator's address and
// nothing else, and the host adds the organization user's Basic
// credentials, which the guest never sees. The same source also runs as a
// subprocess plugin (this test binary with envRescoPlugin set).
const envRescoPlugin = "FIELDSYNC_ENGINE_RESCO_PLUGIN"

var rescoModule = &wasmBuild{pkg: "github.com/fieldsync/fieldsync/plugins/rescocloud/cmd/fieldsync-rescocloud-wasm", file: "rescocloud.wasm"}

func rescoChild() {
	if os.Getenv(envRescoPlugin) == "1" {
		subprocess.Serve(rescocloud.Factory)
		os.Exit(0)
	}
}

// rcOrg is an emulated Resco Cloud organization on loopback.
type rcOrg struct {
	t   testing.TB
	srv *emulator.Server
	hs  *httptest.Server
	dir string
}

func newRCOrg(t testing.TB, seed emulator.SeedOptions) *rcOrg {
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
	if err := srv.Seed(context.Background(), seed); err != nil {
		t.Fatal(err)
	}
	return &rcOrg{t: t, srv: srv, hs: hs, dir: dir}
}

func (o *rcOrg) basic() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(emulator.DefaultUsername+":"+emulator.DefaultPassword))
}

// wasm opens the WASM build allowed to reach allow; the host holds the
// credential, scoped to the emulator.
func (o *rcOrg) wasm(t testing.TB, allow string) *wasmhost.Connector {
	t.Helper()
	rule, err := netpolicy.ParseRule(allow)
	if err != nil {
		t.Fatal(err)
	}
	own, err := netpolicy.ParseRule(o.hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	logger := hclog.NewNullLogger()
	pol := &netpolicy.Policy{Plugin: "rescocloud", Allow: []netpolicy.Rule{rule}, AllowPrivate: true, Logger: logger,
		Credentials: []netpolicy.Credential{{Rule: own, Value: o.basic()}}}
	c, err := wasmhost.Open(context.Background(), wasmhost.Config{
		Path: rescoModule.get(t), Settings: map[string]string{"url": o.hs.URL, "auth": "host"}, Logger: logger, CacheDir: wasmCache(),
		HTTP: wasmhost.NetworkHook(pol), HTTPStream: wasmhost.NetworkStreamHook(pol),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// subprocessSettings are the subprocess build's settings: it signs in
// itself.
func (o *rcOrg) subprocessSettings() map[string]string {
	return map[string]string{"url": o.hs.URL, "auth": "basic", "username": emulator.DefaultUsername,
		"password": emulator.DefaultPassword, "retries": "3", "retry_backoff": "10ms"}
}

func (o *rcOrg) subprocess(t testing.TB) *subprocess.Client {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{envRescoPlugin + "=1"}
	c, err := subprocess.Open(context.Background(), subprocess.Config{Cmd: cmd, Settings: o.subprocessSettings(), Logger: hclog.NewNullLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func (o *rcOrg) exec(sql string, args ...any) {
	o.t.Helper()
	if err := o.srv.Exec(context.Background(), sql, args...); err != nil {
		o.t.Fatalf("server: %s: %v", sql, err)
	}
}

func (o *rcOrg) count(sql string, args ...any) int64 {
	o.t.Helper()
	n, err := o.srv.QueryInt(context.Background(), sql, args...)
	if err != nil {
		o.t.Fatalf("server: %s: %v", sql, err)
	}
	return n
}

func (o *rcOrg) text(sql string, args ...any) string {
	o.t.Helper()
	s, err := o.srv.QueryText(context.Background(), sql, args...)
	if err != nil {
		o.t.Fatalf("server: %s: %v", sql, err)
	}
	return s
}

// device opens a device on the org through conn.
func (o *rcOrg) device(t *testing.T, name string, conn sdk.Connector, entities []EntityConfig) *device {
	t.Helper()
	return openBackendDevice(t, filepath.Join(o.dir, name+".db"), name, conn, entities)
}

type rcBackend struct {
	o    *rcOrg
	open func(t *testing.T) sdk.Connector
}

func (b *rcBackend) Connect(t *testing.T) sdk.Connector { return b.open(t) }

// AddDocument attaches a note with a file to the record, behind the
// connector's back.
func (b *rcBackend) AddDocument(t *testing.T, entity, recordID, name string, content []byte) {
	b.o.exec(`INSERT INTO annotation (annotationid, subject, filename, mimetype, filesize, documentbody, objectid, objectid__type, objecttypecode)
		VALUES (lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-8' || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
		?, ?, 'application/octet-stream', ?, ?, ?, ?, ?)`, name, name, int64(len(content)), content, recordID, entity, entity)
}

func rcValues(i int) map[string]sdk.Value {
	return map[string]sdk.Value{
		"name":              sdk.String(fmt.Sprintf("Contract account %d", i)),
		"numberofemployees": sdk.Int(int64(i)),
		"address1_city":     sdk.String(fmt.Sprintf("City %d", i%7)),
	}
}

// TestContractWASMResco runs the contract suite against the emulator with
// the default (WASM) build.
func TestContractWASMResco(t *testing.T) {
	contracttest.Run(t, contracttest.Config{
		Entity: "account",
		NewBackend: func(t *testing.T) contracttest.Backend {
			o := newRCOrg(t, emulator.SeedOptions{Accounts: 15, Users: 2, Seed: 7})
			return &rcBackend{o: o, open: func(t *testing.T) sdk.Connector { return o.wasm(t, o.hs.URL) }}
		},
		NewValues: rcValues,
	})
}

// TestRescoWASMAllowList: allowed another address only, the guest's first
// request is refused by the host, nothing reaches the emulator, and the
// error says why.
func TestRescoWASMAllowList(t *testing.T) {
	o := newRCOrg(t, emulator.SeedOptions{Accounts: 3, Users: 1, Seed: 5})
	ok := o.wasm(t, o.hs.URL)
	if _, err := ok.Schema(context.Background()); err != nil {
		t.Fatalf("allowed the emulator: %v", err)
	}
	before := o.srv.RequestCount()
	denied := o.wasm(t, "http://127.0.0.1:1")
	_, err := denied.Schema(context.Background())
	if err == nil || !strings.Contains(err.Error(), "allow-list") {
		t.Fatalf("a request outside the allow-list: %v; want the host's refusal", err)
	}
	if got := o.srv.RequestCount(); got != before {
		t.Errorf("the refused plugin reached the emulator: %d requests, before %d", got, before)
	}
}

var rcThree = []EntityConfig{
	{Name: "account", Fields: []string{"name", "numberofemployees", "address1_city", "parentaccountid"}},
	{Name: "contact", Fields: []string{"firstname", "lastname", "parentcustomerid"}},
}

// TestRescoBothWays syncs a device both ways on each transport: the first
// sync brings the org down, device and server edits meet, a device edit of
// a row the server changed meanwhile is a conflict settled by the policy,
// a failed request is retried, and a sync with nothing changed asks one
// question of the service.
func TestRescoBothWays(t *testing.T) {
	for _, tr := range []string{"wasm", "subprocess"} {
		t.Run(tr, func(t *testing.T) {
			o := newRCOrg(t, emulator.SeedOptions{Accounts: 30, ContactsPerAccount: 2, Users: 2, Seed: 11})
			var conn sdk.Connector
			if tr == "wasm" {
				conn = o.wasm(t, o.hs.URL)
			} else {
				conn = o.subprocess(t)
			}
			d := o.device(t, "dev", conn, rcThree)
			lg := d.sync()
			for _, e := range []string{"account", "contact"} {
				if got, want := d.count("SELECT count(*) FROM "+e), o.count("SELECT count(*) FROM "+e); got != want || want == 0 {
					t.Fatalf("first sync: %s: device %d rows, server %d", e, got, want)
				}
				if el := entityLog(lg, e); el.Mode != "full" {
					t.Errorf("first sync: %s %+v", e, el)
				}
			}
			ids := strings.Split(o.text(`SELECT group_concat(accountid, ',') FROM (SELECT accountid FROM account ORDER BY accountid)`), ",")
			devEdited, srvEdited, srvDeleted, both := ids[0], ids[1], ids[2], ids[3]
			const newAccount = "0ff11e00-0000-4000-8000-000000000001"
			d.exec(`UPDATE account SET name = 'Edited on device' WHERE accountid = '` + devEdited + `'`)
			d.exec(`INSERT INTO account (accountid, name, numberofemployees) VALUES ('` + newAccount + `', 'Created offline', 42)`)
			d.exec(`UPDATE account SET name = 'Device wins?' WHERE accountid = '` + both + `'`)
			o.exec(`UPDATE account SET name = 'Edited on server' WHERE accountid = ?`, srvEdited)
			o.exec(`UPDATE account SET address1_city = 'Server city' WHERE accountid = ?`, both)
			o.exec(`DELETE FROM contact WHERE parentcustomerid = ?`, srvDeleted)
			o.exec(`DELETE FROM account WHERE accountid = ?`, srvDeleted)
			o.srv.Faults().FailNext(1, 503)

			lg = d.sync()
			if lg.Result != "ok" || lg.Upload.Created != 1 || lg.Upload.Failed != 0 {
				t.Fatalf("second sync: %s, upload %+v, errors %+v", lg.Result, lg.Upload, lg.Errors)
			}
			if lg.Upload.Conflicts != 1 {
				t.Errorf("upload %+v: want the row edited on both sides counted as a conflict", lg.Upload)
			}
			if n := o.count(`SELECT count(*) FROM account WHERE accountid = ? AND name = 'Edited on device'`, devEdited); n != 1 {
				t.Error("the device's update did not reach the server")
			}
			if n := o.count(`SELECT count(*) FROM account WHERE accountid = ? AND name = 'Created offline'`, newAccount); n != 1 {
				t.Error("the account created offline is not on the server under the device's id")
			}
			if got := d.text(`SELECT name FROM account WHERE accountid = '` + srvEdited + `'`); got != "Edited on server" {
				t.Errorf("the server's edit did not come down: %q", got)
			}
			if n := d.count(`SELECT count(*) FROM account WHERE accountid = '` + srvDeleted + `'`); n != 0 {
				t.Error("the account deleted on the server stayed on the device")
			}
			if n := d.count(`SELECT count(*) FROM contact WHERE parentcustomerid = '` + srvDeleted + `'`); n != 0 {
				t.Errorf("%d contacts deleted on the server stayed on the device", n)
			}
			if got := d.text(`SELECT address1_city FROM account WHERE accountid = '` + both + `'`); got != "Server city" {
				t.Errorf("the conflicted row lost the server's field: city %q", got)
			}
			// Anything the policy kept local goes up now; then nothing moves.
			d.sync()
			lg = d.sync()
			if lg.Upload.Changes != 0 || lg.ChangeCheck == nil || lg.ChangeCheck.Unchanged != 2 {
				t.Errorf("a sync with nothing to do: upload %+v, change check %+v", lg.Upload, lg.ChangeCheck)
			}
			for _, e := range []string{"account", "contact"} {
				dev := d.text(`SELECT group_concat(x, ';') FROM (SELECT ` + pkOf(e) + ` AS x FROM ` + e + ` ORDER BY 1)`)
				srv := o.text(`SELECT group_concat(x, ';') FROM (SELECT ` + pkOf(e) + ` AS x FROM ` + e + ` ORDER BY 1)`)
				if dev != srv {
					t.Errorf("%s: the device's ids differ from the server's", e)
				}
			}
		})
	}
}

func pkOf(entity string) string { return entity + "id" }

// TestRescoNoChangeSync20Entities: twenty entities synced, then a sync with
// nothing changed costs one request: GetMaxRowVersion for all twenty.
func TestRescoNoChangeSync20Entities(t *testing.T) {
	o := newRCOrg(t, emulator.SeedOptions{Accounts: 5, ContactsPerAccount: 1, OpportunitiesPerAccount: 1, NotesPerAccount: 1, RowsPerExtraEntity: 3, Users: 2, Seed: 9})
	d := o.device(t, "dev", o.wasm(t, o.hs.URL), rescoTwenty())
	if lg := d.sync(); lg.Result != "ok" {
		t.Fatalf("first sync: %s %+v", lg.Result, lg.Errors)
	}
	before := o.srv.RequestCount()
	lg := d.sync()
	if got := o.srv.RequestCount() - before; got != 1 {
		t.Errorf("a sync with nothing changed made %d requests, want 1: %+v", got, o.srv.Requests()[before:])
	}
	if lg.ChangeCheck == nil || lg.ChangeCheck.Unchanged != 20 {
		t.Errorf("change check %+v, want 20 unchanged", lg.ChangeCheck)
	}
}

func rescoTwenty() []EntityConfig {
	ents := []EntityConfig{{Name: "account"}, {Name: "contact"}, {Name: "opportunity"}, {Name: "systemuser"}}
	for i := 1; i <= 16; i++ {
		ents = append(ents, EntityConfig{Name: fmt.Sprintf("fs_entity%02d", i)})
	}
	return ents
}
