package engine

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/core/conflict"
	"github.com/fieldsync/fieldsync/core/wasmhost"
	"github.com/fieldsync/fieldsync/core/wasmhost/netpolicy"
	"github.com/fieldsync/fieldsync/plugins/mock"
	"github.com/fieldsync/fieldsync/plugins/mock/httpapi"
	"github.com/fieldsync/fieldsync/plugins/mock/remote"
	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/contracttest"
)

// The mock as a WASM plugin: the guest cannot open the server's SQLite file
// (wasip1 has no file locking, and the sandbox mounts nothing), so it reaches
// the mock server through its HTTP API, by the host's network function,
// under an allow-list naming only the test server's address.

// wasmBuild is one module the tests build once per run, into a directory
// TestMain removes.
type wasmBuild struct {
	pkg, file string
	once      sync.Once
	path      string
	err       error
}

var (
	mockModule   = &wasmBuild{pkg: "github.com/fieldsync/fieldsync/plugins/mock/cmd/fieldsync-mock-wasm", file: "mock.wasm"}
	policyModule = &wasmBuild{pkg: "github.com/fieldsync/fieldsync/sdk/examples/numbersmax/wasm", file: "numbers-max.wasm"}
)

// get builds the module (once per run; the Go build cache makes later runs
// a link) and returns its path.
func (w *wasmBuild) get(t testing.TB) string {
	t.Helper()
	w.once.Do(func() {
		dir, err := os.MkdirTemp("", "fieldsync-engine-wasm-")
		if err != nil {
			w.err = err
			return
		}
		w.path = filepath.Join(dir, w.file)
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-ldflags=-s -w", "-o", w.path, w.pkg)
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if out, err := cmd.CombinedOutput(); err != nil {
			w.err = fmt.Errorf("build %s: %v\n%s", w.pkg, err, out)
		}
	})
	if w.err != nil {
		t.Fatal(w.err)
	}
	return w.path
}

// wasmCache is the compilation cache the tests share, so only the first
// Open of a machine compiles the module.
func wasmCache() string { return filepath.Join(os.TempDir(), "fieldsync-test-wazero-cache") }

// serveMock puts the mock server's HTTP API in front of srv on 127.0.0.1.
func serveMock(t testing.TB, srv *mock.Server, opts httpapi.Options) string {
	t.Helper()
	ts := httptest.NewServer(httpapi.Handler(srv, opts))
	t.Cleanup(ts.Close)
	return ts.URL
}

// openMockWASM opens the WASM mock against the server at url, allowed to
// reach that address and nothing else; credentials, if any, come from the
// host.
func openMockWASM(t testing.TB, url string, creds []netpolicy.Credential, logger hclog.Logger) *wasmhost.Connector {
	t.Helper()
	rule, err := netpolicy.ParseRule(url)
	if err != nil {
		t.Fatal(err)
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	pol := &netpolicy.Policy{Plugin: "mock", Allow: []netpolicy.Rule{rule}, AllowPrivate: true, Credentials: creds, Logger: logger}
	c, err := wasmhost.Open(context.Background(), wasmhost.Config{
		Path: mockModule.get(t), Settings: map[string]string{"url": url}, Logger: logger, CacheDir: wasmCache(),
		HTTP: wasmhost.NetworkHook(pol), HTTPStream: wasmhost.NetworkStreamHook(pol),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func TestContractWASMMock(t *testing.T) {
	contracttest.Run(t, contracttest.Config{
		Entity: "account",
		NewBackend: func(t *testing.T) contracttest.Backend {
			srv, err := mock.Create(context.Background(), filepath.Join(t.TempDir(), "server.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			url := serveMock(t, srv, httpapi.Options{})
			return &wasmBackend{srv: srv, url: url}
		},
	})
}

type wasmBackend struct {
	srv *mock.Server
	url string
}

func (b *wasmBackend) Connect(t *testing.T) sdk.Connector { return openMockWASM(t, b.url, nil, nil) }

func (b *wasmBackend) AddDocument(t *testing.T, entity, recordID, name string, content []byte) {
	if _, err := b.srv.AddDocument(context.Background(), entity, recordID, name, "application/octet-stream", bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
}

// A device syncs both ways through the WASM mock, and the host injects the
// server's credential: the guest never holds it.
func TestSyncThroughWASMMock(t *testing.T) {
	w := newWorld(t, 20)
	url := serveMock(t, w.srv, httpapi.Options{Tokens: map[string]string{"s3cret-token": "alice"}})
	rule, _ := netpolicy.ParseRule(url)
	conn := openMockWASM(t, url, []netpolicy.Credential{{Rule: rule, Value: "Bearer s3cret-token"}}, nil)
	d := w.device("alice", allThree, func(o *Options) {
		o.Connector.Close(context.Background())
		o.Connector = conn
	})
	d.sync()
	for _, e := range []string{"account", "contact", "opportunity"} {
		if got, want := d.count("SELECT count(*) FROM "+e), w.count("SELECT count(*) FROM "+e); got != want {
			t.Fatalf("%s: device %d rows, server %d", e, got, want)
		}
	}
	d.exec("UPDATE account SET city = 'Via WASM' WHERE rowid = 1")
	w.exec("UPDATE contact SET lastname = 'Server side' WHERE rowid = 1")
	lg := d.sync()
	if lg.Upload.Updated != 1 {
		t.Fatalf("upload %+v", lg.Upload)
	}
	if n := w.count("SELECT count(*) FROM account WHERE city = 'Via WASM'"); n != 1 {
		t.Fatal("the device's edit did not reach the server through the WASM plugin")
	}
	if n := d.count("SELECT count(*) FROM contact WHERE lastname = 'Server side'"); n != 1 {
		t.Fatal("the server's edit did not reach the device through the WASM plugin")
	}
	reqs, _, err := w.srv.Requests(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		if r.User != "alice" {
			t.Fatalf("a request reached the server as %q: the host's credential was not used", r.User)
		}
	}
}

// A conflict policy shipped as WASM settles a real sync's conflict: the
// larger number wins, the device's text wins, and a won deal stays won.
func TestWASMPolicyThroughASync(t *testing.T) {
	pol, err := wasmhost.OpenPolicy(context.Background(), wasmhost.Config{Path: policyModule.get(t), CacheDir: wasmCache()})
	if err != nil {
		t.Fatal(err)
	}
	defer pol.Close(context.Background())
	reg := conflict.NewRegistry()
	if err := reg.Register(pol); err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, 5)
	d := w.device("dev", []EntityConfig{{Name: "account"}, {Name: "opportunity", Conflict: "numbers-max"}},
		func(o *Options) { o.Policies = reg })
	d.sync()
	id := d.text("SELECT opportunityid FROM opportunity ORDER BY opportunityid LIMIT 1")
	d.exec("UPDATE opportunity SET name = 'Device deal', probability = 80, statecode = 0 WHERE opportunityid = '" + id + "'")
	w.exec("UPDATE opportunity SET name = 'Server deal', probability = 60, statecode = 1 WHERE opportunityid = '" + id + "'")
	lg := d.sync()
	if lg.Upload.Conflicts != 1 {
		t.Fatalf("upload %+v errors %+v", lg.Upload, lg.Errors)
	}
	got := w.text("SELECT name || '/' || probability || '/' || statecode FROM opportunity WHERE opportunityid = '" + id + "'")
	if got != "Device deal/80/1" {
		t.Fatalf("server holds %s, want Device deal/80/1 (device's text, larger number, won stays won)", got)
	}
	if dev := d.text("SELECT name || '/' || probability || '/' || statecode FROM opportunity WHERE opportunityid = '" + id + "'"); dev != got {
		t.Fatalf("device holds %s, server %s", dev, got)
	}
}

// A connector that forwards pages still encoded (what the mock does inside
// a WASM guest) also works when the engine calls it directly.
func TestEncodedPagesInProcess(t *testing.T) {
	w := newWorld(t, 30)
	url := serveMock(t, w.srv, httpapi.Options{})
	conn, err := remote.New(context.Background(), url, remote.Options{ForwardEncoded: true})
	if err != nil {
		t.Fatal(err)
	}
	d := w.device("dev", allThree, func(o *Options) {
		o.Connector.Close(context.Background())
		o.Connector = conn
	})
	d.sync()
	for _, e := range []string{"account", "contact", "opportunity"} {
		if got, want := d.count("SELECT count(*) FROM "+e), w.count("SELECT count(*) FROM "+e); got != want {
			t.Fatalf("%s: device %d rows, server %d", e, got, want)
		}
	}
}
