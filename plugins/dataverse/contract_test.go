package dataverse

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/plugins/dataverse/emulator"
	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/contracttest"
	"github.com/fieldsync/fieldsync/sdk/subprocess"
)

// envPlugin makes the test binary serve the connector as a subprocess
// plugin (go-plugin's helper-process idiom), so the subprocess transport
// runs the very code under test.
const envPlugin = "FIELDSYNC_DATAVERSE_TEST_PLUGIN"

func TestMain(m *testing.M) {
	if os.Getenv(envPlugin) == "1" {
		subprocess.Serve(Factory)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func openSubprocess(t testing.TB, settings map[string]string) *subprocess.Client {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envPlugin+"=1")
	c, err := subprocess.Open(context.Background(), subprocess.Config{Cmd: cmd, Settings: settings, Logger: hclog.NewNullLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// contractBackend is one fresh emulated organization, seeded so the suite
// proves the connector copes with rows it did not create.
type contractBackend struct {
	*testOrg
	open func(t *testing.T, o *testOrg) sdk.Connector
}

func (b *contractBackend) Connect(t *testing.T) sdk.Connector { return b.open(t, b.testOrg) }

var transports = []struct {
	name string
	open func(t *testing.T, o *testOrg) sdk.Connector
}{
	{"inprocess", func(t *testing.T, o *testOrg) sdk.Connector {
		c, err := Factory(context.Background(), o.settings(), hclog.NewNullLogger())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}},
	{"subprocess", func(t *testing.T, o *testOrg) sdk.Connector { return openSubprocess(t, o.settings()) }},
}

// TestContractTDS runs the suite with full reads over TDS (the emulator's
// listener, see tds_test.go), in-process.
func TestContractTDS(t *testing.T) {
	contracttest.Run(t, contracttest.Config{
		Entity: "account",
		NewBackend: func(t *testing.T) contracttest.Backend {
			o := newOrg(t, nil)
			if err := o.srv.Seed(context.Background(), emulator.SeedOptions{Accounts: 15, Users: 2, Seed: 7}); err != nil {
				t.Fatal(err)
			}
			addr := startTDS(t, o)
			return &contractBackend{testOrg: o, open: func(t *testing.T, o *testOrg) sdk.Connector {
				return o.connect(t, map[string]string{"tds": addr, "tds_encrypt": "disable"})
			}}
		},
	})
}

func TestContract(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			contracttest.Run(t, contracttest.Config{
				Entity: "account",
				NewBackend: func(t *testing.T) contracttest.Backend {
					o := newOrg(t, nil)
					if err := o.srv.Seed(context.Background(), emulator.SeedOptions{Accounts: 15, ContactsPerAccount: 1, Users: 2, Seed: 7}); err != nil {
						t.Fatal(err)
					}
					return &contractBackend{testOrg: o, open: tr.open}
				},
			})
		})
	}
}
