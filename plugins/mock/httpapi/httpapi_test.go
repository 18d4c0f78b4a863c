package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fieldsync/fieldsync/plugins/mock"
	"github.com/fieldsync/fieldsync/plugins/mock/httpapi"
	"github.com/fieldsync/fieldsync/plugins/mock/httpapi/httpwire"
	"github.com/fieldsync/fieldsync/plugins/mock/remote"
	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
)

func newServer(t *testing.T) *mock.Server {
	t.Helper()
	ctx := context.Background()
	srv, err := mock.Create(ctx, filepath.Join(t.TempDir(), "server.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.Seed(ctx, mock.SeedOptions{Accounts: 30, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	return srv
}

func encode(t *testing.T, m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHTTPLayer: requests the HTTP layer refuses itself come back with the
// right status and an ErrorDetail of the right kind, so both plain HTTP
// tools and the remote connector understand them.
func TestHTTPLayer(t *testing.T) {
	ts := httptest.NewServer(httpapi.Handler(newServer(t)))
	defer ts.Close()
	tests := []struct {
		name, method, path, ctype string
		body                      []byte
		code                      int
		kind                      sdk.ErrorKind
		header                    string // a header the answer must carry
	}{
		{"unknown call", "POST", "/v2/fetch", httpwire.ContentType, nil, 404, sdk.Unsupported, ""},
		{"wrong method", "GET", httpwire.PathFetch, "", nil, 405, sdk.Permanent, "Allow"},
		{"garbage body", "POST", httpwire.PathFetch, httpwire.ContentType, []byte{0xff, 0xff, 0xff}, 400, sdk.Permanent, ""},
		{"wrong content type", "POST", httpwire.PathSchema, "application/json", []byte("{}"), 415, sdk.Permanent, ""},
		{"settings from a client", "POST", httpwire.PathInfo, httpwire.ContentType, encode(t, &pb.ConfigureRequest{Settings: map[string]string{"path": "/etc"}}), 400, sdk.Permanent, ""},
		{"bad max_pages", "POST", httpwire.PathFetch + "?max_pages=0", httpwire.ContentType, encode(t, &pb.FetchRequest{Entity: "account"}), 400, sdk.Permanent, ""},
		{"unknown entity", "POST", httpwire.PathFetch, httpwire.ContentType, encode(t, &pb.FetchRequest{Entity: "nope"}), 400, sdk.Permanent, ""},
		{"unknown document", "POST", httpwire.PathReadDocument, httpwire.ContentType, encode(t, &pb.ReadDocumentRequest{Id: "nope"}), 400, sdk.Permanent, ""},
		{"info by GET", "GET", httpwire.PathInfo, "", nil, 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, ts.URL+tt.path, bytes.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.code {
				t.Fatalf("status %d, want %d (%q)", resp.StatusCode, tt.code, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != httpwire.ContentType {
				t.Errorf("Content-Type %q", ct)
			}
			if tt.header != "" && resp.Header.Get(tt.header) == "" {
				t.Errorf("no %s header", tt.header)
			}
			if tt.code == 200 {
				var info pb.InfoResponse
				if err := proto.Unmarshal(body, &info); err != nil || info.Name != "mock" {
					t.Errorf("info: %+v, %v", &info, err)
				}
				return
			}
			var d pb.ErrorDetail
			if err := proto.Unmarshal(body, &d); err != nil || d.Kind != string(tt.kind) || d.Message == "" {
				t.Errorf("ErrorDetail %+v (%v), want kind %s with a message", &d, err, tt.kind)
			}
		})
	}
}

// TestStreamIsFramed reads a fetch body by hand: pages as MESSAGE frames,
// flushed one by one, the stop at max_pages as MORE, the end as END.
func TestStreamIsFramed(t *testing.T) {
	ts := httptest.NewServer(httpapi.Handler(newServer(t)))
	defer ts.Close()
	body := encode(t, &pb.FetchRequest{Entity: "account", PageSize: 10})
	for _, tt := range []struct {
		query string
		pages int
		final httpwire.FrameType
	}{{"", 3, httpwire.FrameEnd}, {"?max_pages=2", 2, httpwire.FrameMore}, {"?max_pages=3", 3, httpwire.FrameEnd}} {
		resp, err := http.Post(ts.URL+httpwire.PathFetch+tt.query, httpwire.ContentType, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r := httpwire.NewReader(resp.Body)
		pages := 0
		var final httpwire.FrameType
		for {
			ft, payload, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if ft == httpwire.FrameMessage {
				var p pb.Page
				if err := proto.Unmarshal(payload, &p); err != nil {
					t.Fatal(err)
				}
				pages++
				continue
			}
			final = ft
		}
		resp.Body.Close()
		if pages != tt.pages || final != tt.final {
			t.Errorf("fetch%s: %d pages then %s, want %d then %s", tt.query, pages, final, tt.pages, tt.final)
		}
	}
}

// TestServeShutdown: Serve answers on the address it returns; when its
// context ends, a fetch in flight ends with a retryable error (an ERROR
// frame, not a silent end) and the server stops listening.
func TestServeShutdown(t *testing.T) {
	srv := newServer(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	addr, err := httpapi.Serve(ctx, "127.0.0.1:0", srv, httpapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := remote.New(ctx, "http://"+addr, remote.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.SetFaults(ctx, mock.Faults{PageDelay: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	pages := 0
	err = c.Fetch(context.Background(), sdk.FetchRequest{Entity: "account", PageSize: 1}, func(*sdk.Page) error {
		if pages++; pages == 2 {
			stop()
		}
		return nil
	})
	if !sdk.IsRetryable(err) || errors.Is(err, context.Canceled) {
		t.Errorf("fetch when the server shut down: %v (kind %s), want a retryable error", err, sdk.KindOf(err))
	}
	t.Logf("fetch when the server shut down: %v", err)
	if pages >= 30 {
		t.Errorf("the fetch ran to its end (%d pages) although the server shut down", pages)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := c.Schema(context.Background())
		var op *net.OpError
		if sdk.IsRetryable(err) && errors.As(err, &op) && op.Op == "dial" {
			break // nobody listens any more
		}
		if time.Now().After(deadline) {
			t.Fatalf("server still answers after shutdown: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
