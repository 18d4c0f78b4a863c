package remote_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/fieldsync/fieldsync/plugins/mock"
	"github.com/fieldsync/fieldsync/plugins/mock/httpapi"
	"github.com/fieldsync/fieldsync/plugins/mock/remote"
	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/contracttest"
)

// backend is one fresh mock server file behind its HTTP API, for one
// subtest: the in-process, native shape of what the WASM build talks to.
type backend struct {
	srv   *mock.Server
	url   string
	opts  remote.Options
	conns atomic.Int64 // connections the server accepted
}

func newBackend(t *testing.T, api httpapi.Options, opts remote.Options) *backend {
	t.Helper()
	ctx := context.Background()
	srv, err := mock.Create(ctx, filepath.Join(t.TempDir(), "server.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.Seed(ctx, mock.SeedOptions{Accounts: 20, ContactsPerAccount: 1, OpportunitiesPerAccount: 1, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	b := &backend{srv: srv, opts: opts}
	ts := httptest.NewUnstartedServer(httpapi.Handler(srv, api))
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			b.conns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close) // before srv.Close: cleanups run last-in first-out
	b.url = ts.URL
	return b
}

func (b *backend) Connect(t *testing.T) sdk.Connector {
	c, err := remote.New(context.Background(), b.url, b.opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (b *backend) AddDocument(t *testing.T, entity, recordID, name string, content []byte) {
	if _, err := b.srv.AddDocument(context.Background(), entity, recordID, name, "application/octet-stream", bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
}

// TestContract runs the whole suite through HTTP. The account run asks for
// two pages and 7,000 document bytes per response, so nearly every fetch,
// listing and read continues across requests (what a WASM guest, whose host
// hands it whole responses, does); the opportunity run uses the defaults.
func TestContract(t *testing.T) {
	tests := []struct {
		entity string
		opts   remote.Options
	}{
		{"account", remote.Options{User: "contract", PagesPerRequest: 2, BytesPerRequest: 7000}},
		{"opportunity", remote.Options{User: "contract"}},
	}
	for _, tt := range tests {
		t.Run(tt.entity, func(t *testing.T) {
			t.Parallel()
			contracttest.Run(t, contracttest.Config{
				Entity: tt.entity,
				NewBackend: func(t *testing.T) contracttest.Backend {
					return newBackend(t, httpapi.Options{}, tt.opts)
				},
			})
		})
	}
}

// hostTransport plays the WASM host's HTTP function: it adds the
// credentials from the host's configuration to every request the guest
// makes, so the guest itself never holds them.
type hostTransport struct{ token string }

func (h hostTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+h.token)
	return http.DefaultTransport.RoundTrip(r)
}

// The suite passes with credentials injected by the host: no token in the
// connector, the server checking tokens (TestTokens shows it checks them).
func TestContractHostInjectsCredentials(t *testing.T) {
	client := &http.Client{Transport: hostTransport{token: "host-secret"}}
	contracttest.Run(t, contracttest.Config{
		Entity: "account",
		NewBackend: func(t *testing.T) contracttest.Backend {
			return newBackend(t, httpapi.Options{Tokens: map[string]string{"host-secret": "device-7"}}, remote.Options{Client: client})
		},
	})
}
