package rescocloud

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/plugins/rescocloud/emulator"
	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/contracttest"
	"github.com/fieldsync/fieldsync/sdk/subprocess"
)

// envPlugin makes the test binary serve the connector as a subprocess
// plugin (go-plugin's helper-process idiom), so the subprocess transport
// runs the very code under test.
const envPlugin = "FIELDSYNC_RESCOCLOUD_TEST_PLUGIN"

func TestMain(m *testing.M) {
	if os.Getenv(envPlugin) == "1" {
		subprocess.Serve(Factory)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// emulatedOrg is one fresh emulated organization behind an httptest server.
type emulatedOrg struct {
	srv *emulator.Server
	url string
}

func newEmulatedOrg(t *testing.T) *emulatedOrg {
	t.Helper()
	srv, err := emulator.New(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		_ = srv.Close()
	})
	return &emulatedOrg{srv: srv, url: hs.URL}
}

func (o *emulatedOrg) settings() map[string]string {
	return map[string]string{
		"url": o.url, "username": emulator.DefaultUsername, "password": emulator.DefaultPassword,
		"retry_backoff": "10ms",
	}
}

type contractBackend struct {
	org  *emulatedOrg
	open func(t *testing.T, o *emulatedOrg) sdk.Connector
}

func (b *contractBackend) Connect(t *testing.T) sdk.Connector { return b.open(t, b.org) }

// AddDocument attaches a document behind the suite's connectors: a
// separate in-process connector uploads it (CreateMultiple of an
// annotation with documentbody), so WriteDocument is exercised end to end.
func (b *contractBackend) AddDocument(t *testing.T, entity, recordID, name string, content []byte) {
	t.Helper()
	c, err := Factory(context.Background(), b.org.settings(), hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	doc := sdk.Document{Entity: entity, RecordID: recordID, Name: name, MimeType: "application/octet-stream", Size: int64(len(content))}
	got, err := c.(*Connector).WriteDocument(context.Background(), doc, bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID == "" || got.Size != int64(len(content)) {
		t.Fatalf("uploaded document %+v", got)
	}
}

var transports = []struct {
	name string
	open func(t *testing.T, o *emulatedOrg) sdk.Connector
}{
	{"inprocess", func(t *testing.T, o *emulatedOrg) sdk.Connector {
		c, err := Factory(context.Background(), o.settings(), hclog.NewNullLogger())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}},
	{"subprocess", func(t *testing.T, o *emulatedOrg) sdk.Connector {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), envPlugin+"=1")
		c, err := subprocess.Open(context.Background(), subprocess.Config{Cmd: cmd, Settings: o.settings(), Logger: hclog.NewNullLogger()})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}},
}

// owner is the signed-in user of the newest emulated organization: the
// emulator's account requires ownerid (a polymorphic lookup the suite cannot
// fill by itself), and subtests run one at a time, each on the backend it
// just made.
var owner atomic.Value

func accountValues(i int) map[string]sdk.Value {
	return map[string]sdk.Value{
		"name":              sdk.String(fmt.Sprintf("Account %d", i)),
		"accountnumber":     sdk.String(fmt.Sprintf("AN-%d", i)),
		"numberofemployees": sdk.Int(int64(i % 100000)),
		"revenue":           sdk.String(fmt.Sprintf("%d.25", i)),
		"donotemail":        sdk.Bool(i%2 == 0),
		"ownerid":           sdk.String(owner.Load().(string)),
	}
}

func TestContract(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			contracttest.Run(t, contracttest.Config{
				Entity:    "account",
				NewValues: accountValues,
				NewBackend: func(t *testing.T) contracttest.Backend {
					org := newEmulatedOrg(t)
					if err := org.srv.Seed(context.Background(), emulator.SeedOptions{Accounts: 15, ContactsPerAccount: 1, NotesPerAccount: 1, Users: 2, Seed: 7}); err != nil {
						t.Fatal(err)
					}
					c, err := Factory(context.Background(), org.settings(), hclog.NewNullLogger())
					if err != nil {
						t.Fatal(err)
					}
					who, err := c.(*Connector).WhoAmI(context.Background())
					if err != nil {
						t.Fatal(err)
					}
					owner.Store(who.UserId)
					return &contractBackend{org: org, open: tr.open}
				},
			})
		})
	}
}
