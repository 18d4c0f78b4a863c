package mock

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/contracttest"
	"github.com/fieldsync/fieldsync/sdk/subprocess"
)

// envPlugin makes the test binary serve the mock connector as a subprocess
// plugin (go-plugin's helper-process idiom), so the subprocess transport is
// tested on the very code under test without building another binary.
const envPlugin = "FIELDSYNC_MOCK_TEST_PLUGIN"

func TestMain(m *testing.M) {
	if os.Getenv(envPlugin) == "1" {
		subprocess.Serve(Factory)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// transports opens a connector on a server file, one way per transport.
var transports = []struct {
	name string
	open func(t *testing.T, path string) sdk.Connector
}{
	{"inprocess", func(t *testing.T, path string) sdk.Connector {
		c, err := Factory(context.Background(), map[string]string{"path": path, "user": "contract"}, hclog.NewNullLogger())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}},
	{"subprocess", func(t *testing.T, path string) sdk.Connector {
		return openSubprocess(t, path, hclog.NewNullLogger())
	}},
}

func openSubprocess(t testing.TB, path string, logger hclog.Logger) *subprocess.Client {
	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{envPlugin + "=1"}
	c, err := subprocess.Open(context.Background(), subprocess.Config{
		Cmd:      cmd,
		Settings: map[string]string{"path": path, "user": "contract"},
		Logger:   logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// contractBackend is one fresh server file, already holding seeded rows so
// the suite proves it copes with data it did not create.
type contractBackend struct {
	srv  *Server
	open func(t *testing.T, path string) sdk.Connector
}

func (b *contractBackend) Connect(t *testing.T) sdk.Connector { return b.open(t, b.srv.Path()) }

func (b *contractBackend) AddDocument(t *testing.T, entity, recordID, name string, content []byte) {
	if _, err := b.srv.AddDocument(context.Background(), entity, recordID, name, "application/octet-stream", bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
}

func TestContract(t *testing.T) {
	for _, tr := range transports {
		for _, entity := range []string{"account", "opportunity"} {
			t.Run(tr.name+"/"+entity, func(t *testing.T) {
				contracttest.Run(t, contracttest.Config{
					Entity: entity,
					NewBackend: func(t *testing.T) contracttest.Backend {
						ctx := context.Background()
						srv, err := Create(ctx, filepath.Join(t.TempDir(), "server.db"))
						if err != nil {
							t.Fatal(err)
						}
						t.Cleanup(func() { srv.Close() })
						if err := srv.Seed(ctx, SeedOptions{Accounts: 20, ContactsPerAccount: 1, OpportunitiesPerAccount: 1, Seed: 7}); err != nil {
							t.Fatal(err)
						}
						return &contractBackend{srv: srv, open: tr.open}
					},
				})
			})
		}
	}
}

// The suite also passes when the server assigns ids (no client ids).
func TestContractServerIDs(t *testing.T) {
	contracttest.Run(t, contracttest.Config{
		Entity: "account",
		NewBackend: func(t *testing.T) contracttest.Backend {
			path := filepath.Join(t.TempDir(), "server.db")
			srv, err := Create(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			return &contractBackend{srv: srv, open: func(t *testing.T, path string) sdk.Connector {
				c, err := Factory(context.Background(), map[string]string{"path": path, "server_ids": "true"}, nil)
				if err != nil {
					t.Fatal(err)
				}
				return c
			}}
		},
	})
}
