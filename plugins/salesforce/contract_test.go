package salesforce

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/plugins/salesforce/emulator"
	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/contracttest"
	"github.com/fieldsync/fieldsync/sdk/subprocess"
)

// envPlugin makes the test binary serve the connector as a subprocess
// plugin, so the subprocess transport runs the very code under test.
const envPlugin = "FIELDSYNC_SALESFORCE_TEST_PLUGIN"

func TestMain(m *testing.M) {
	if os.Getenv(envPlugin) == "1" {
		subprocess.Serve(Factory)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// emuOrg is one emulated org on loopback.
type emuOrg struct {
	srv *emulator.Server
	hs  *httptest.Server
}

func newEmuOrg(t *testing.T, o emulator.Options, seed emulator.SeedOptions) *emuOrg {
	t.Helper()
	o.Path = filepath.Join(t.TempDir(), "org.db")
	srv, err := emulator.New(o)
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
	return &emuOrg{srv: srv, hs: hs}
}

func (o *emuOrg) settings() map[string]string {
	return map[string]string{
		"login_url": o.hs.URL, "grant": "password",
		"client_id": emulator.DefaultClientID, "client_secret": emulator.DefaultClientSecret,
		"username": emulator.DefaultUsername, "password": emulator.DefaultPassword,
		"retries": "3", "retry_backoff": "10ms",
	}
}

// AddDocument attaches a file to a record the way a Salesforce user does:
// a ContentVersion published to the record.
func (o *emuOrg) AddDocument(t *testing.T, entity, recordID, name string, content []byte) {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "client_id": {emulator.DefaultClientID},
		"client_secret": {emulator.DefaultClientSecret}, "username": {emulator.DefaultUsername}, "password": {emulator.DefaultPassword}}
	resp, err := http.PostForm(o.hs.URL+"/services/oauth2/token", form)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	body, _ := json.Marshal(map[string]any{"Title": name, "PathOnClient": name,
		"VersionData": base64.StdEncoding.EncodeToString(content), "FirstPublishLocationId": recordID})
	req, _ := http.NewRequest("POST", o.hs.URL+"/services/data/v60.0/sobjects/ContentVersion", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("add document: %d %s", resp.StatusCode, b)
	}
}

type contractBackend struct {
	*emuOrg
	open func(t *testing.T, o *emuOrg) sdk.Connector
}

func (b *contractBackend) Connect(t *testing.T) sdk.Connector { return b.open(t, b.emuOrg) }

var transports = []struct {
	name string
	open func(t *testing.T, o *emuOrg) sdk.Connector
}{
	{"inprocess", func(t *testing.T, o *emuOrg) sdk.Connector {
		c, err := Factory(context.Background(), o.settings(), hclog.NewNullLogger())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}},
	{"subprocess", func(t *testing.T, o *emuOrg) sdk.Connector {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), envPlugin+"=1")
		c, err := subprocess.Open(context.Background(), subprocess.Config{Cmd: cmd, Settings: o.settings(), Logger: hclog.NewNullLogger()})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}},
}

// TestContract runs the contract suite against the emulator on Account, in
// process and over the subprocess transport (the WASM transport's run is
// in core/engine, which hosts the sandbox).
func TestContract(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			contracttest.Run(t, contracttest.Config{
				Entity: "Account",
				NewBackend: func(t *testing.T) contracttest.Backend {
					o := newEmuOrg(t, emulator.Options{}, emulator.SeedOptions{Accounts: 15, Users: 2, Seed: 7})
					return &contractBackend{emuOrg: o, open: tr.open}
				},
				NewValues: func(i int) map[string]sdk.Value {
					return map[string]sdk.Value{
						"Name":              sdk.String(fmt.Sprintf("Contract account %d", i)),
						"NumberOfEmployees": sdk.Int(int64(i)),
						"BillingCity":       sdk.String(fmt.Sprintf("City %d", i%7)),
					}
				},
			})
		})
	}
}
