package remote_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fieldsync/fieldsync/plugins/mock"
	"github.com/fieldsync/fieldsync/plugins/mock/httpapi"
	"github.com/fieldsync/fieldsync/plugins/mock/httpapi/httpwire"
	"github.com/fieldsync/fieldsync/plugins/mock/remote"
	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
	"github.com/fieldsync/fieldsync/sdk/wire"
)

func open(t *testing.T, url string, opts remote.Options) *remote.Connector {
	t.Helper()
	c, err := remote.New(context.Background(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// lastRequest is the newest row of the server's request log.
func lastRequest(t *testing.T, srv *mock.Server) mock.Request {
	t.Helper()
	reqs, _, err := srv.Requests(context.Background(), 0)
	if err != nil || len(reqs) == 0 {
		t.Fatalf("request log: %d rows, %v", len(reqs), err)
	}
	return reqs[len(reqs)-1]
}

// A server that checks tokens refuses a caller without one, or with a
// wrong one, as 401 (a permanent error: the same credentials fail again),
// and names the caller by the token, not by what the caller claims.
func TestTokens(t *testing.T) {
	b := newBackend(t, httpapi.Options{Tokens: map[string]string{"s3cret": "alice"}}, remote.Options{})
	ctx := context.Background()
	tests := []struct {
		name  string
		opts  remote.Options
		allow bool
	}{
		{"no token", remote.Options{User: "alice"}, false},
		{"wrong token", remote.Options{Token: "guess", User: "alice"}, false},
		{"token", remote.Options{Token: "s3cret", User: "mallory"}, true},
		{"token injected by the host", remote.Options{Client: &http.Client{Transport: hostTransport{token: "s3cret"}}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := open(t, b.url, tt.opts).Schema(ctx)
			if !tt.allow {
				if err == nil || sdk.KindOf(err) != sdk.Permanent || !strings.Contains(err.Error(), "HTTP 401") && !strings.Contains(err.Error(), "token") {
					t.Fatalf("Schema without a valid token: %v (kind %s), want a permanent 401", err, sdk.KindOf(err))
				}
				if strings.Contains(err.Error(), "guess") {
					t.Errorf("the error repeats the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r := lastRequest(t, b.srv); r.User != "alice" || r.Op != "schema" {
				t.Errorf("request log: %s by %q, want schema by the token's user alice", r.Op, r.User)
			}
		})
	}
	resp, err := http.Post(b.url+httpwire.PathSchema, httpwire.ContentType, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("raw request without a token: %d, WWW-Authenticate %q; want 401 with a Bearer challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

// Without tokens, the user parameter names the caller.
func TestUserParam(t *testing.T) {
	b := newBackend(t, httpapi.Options{}, remote.Options{})
	if _, err := open(t, b.url, remote.Options{User: "bob"}).Schema(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := lastRequest(t, b.srv); r.User != "bob" {
		t.Errorf("request log names %q, want bob", r.User)
	}
}

// frames builds a streamed body.
func frames(t testing.TB, fs ...any) []byte {
	var out []byte
	var err error
	for i := 0; i < len(fs); i += 2 {
		var msg proto.Message
		if fs[i+1] != nil {
			msg = fs[i+1].(proto.Message)
		}
		if out, err = httpwire.AppendFrame(out, fs[i].(httpwire.FrameType), msg); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func onePage(last bool) *pb.Page {
	p := &sdk.Page{Fields: []string{}, IDs: []string{"a"}, Versions: []string{"1"}, Cursor: []byte{1}, Last: last}
	if last {
		p.Token = []byte{2}
	}
	return wire.PageToPB(p)
}

// TestErrorMapping: what a server, a proxy or the network answers becomes
// the sdk error kind the engine acts on, on a unary call and on a stream.
func TestErrorMapping(t *testing.T) {
	detail := func(kind sdk.ErrorKind, msg string) []byte {
		b, _ := proto.Marshal(&pb.ErrorDetail{Kind: string(kind), Message: msg})
		return b
	}
	tests := []struct {
		name   string
		status int
		ctype  string
		header map[string]string
		body   []byte
		call   string // schema or fetch
		kind   sdk.ErrorKind
		after  time.Duration
		pages  int    // pages a fetch delivers before failing
		msg    string // part of the message
	}{
		{"throttled with Retry-After", 503, httpwire.ContentType, map[string]string{"Retry-After": "7"}, detail(sdk.Retryable, "busy"), "schema", sdk.Retryable, 7 * time.Second, 0, "busy"},
		{"permanent", 400, httpwire.ContentType, nil, detail(sdk.Permanent, "no such entity"), "fetch", sdk.Permanent, 0, 0, "no such entity"},
		{"token expired", 410, httpwire.ContentType, nil, detail(sdk.TokenExpired, "stale token"), "fetch", sdk.TokenExpired, 0, 0, "stale token"},
		{"unsupported", 501, httpwire.ContentType, nil, detail(sdk.Unsupported, "no documents"), "schema", sdk.Unsupported, 0, 0, "no documents"},
		{"detail wins over status", 500, httpwire.ContentType, nil, detail(sdk.Permanent, "bad filter"), "fetch", sdk.Permanent, 0, 0, "bad filter"},
		{"proxy 502 page", 502, "text/html", nil, []byte("<h1>Bad Gateway</h1>"), "schema", sdk.Retryable, 0, 0, "Bad Gateway"},
		{"proxy 429", 429, "text/plain", map[string]string{"Retry-After": "2"}, []byte("slow down"), "fetch", sdk.Retryable, 2 * time.Second, 0, "slow down"},
		{"401 from a gateway", 401, "text/plain", nil, nil, "schema", sdk.Permanent, 0, 0, "401"},
		{"404 from an old server", 404, "text/plain", nil, []byte("404 page not found"), "schema", sdk.Unsupported, 0, 0, "404"},
		{"409 without detail", 409, "", nil, nil, "fetch", sdk.TokenExpired, 0, 0, "409"},
		{"captive portal", 200, "text/html", nil, []byte("<html>log in to the hotel wifi</html>"), "schema", sdk.Retryable, 0, 0, "captive portal"},
		{"error frame mid-stream", 200, httpwire.ContentType, nil, frames(t, httpwire.FrameMessage, onePage(false), httpwire.FrameError, &pb.ErrorDetail{Kind: "retryable", Message: "server shutting down"}), "fetch", sdk.Retryable, 0, 1, "server shutting down"},
		{"stream cut", 200, httpwire.ContentType, nil, frames(t, httpwire.FrameMessage, onePage(false)), "fetch", sdk.Retryable, 0, 1, "connection cut"},
		{"end without the last page", 200, httpwire.ContentType, nil, frames(t, httpwire.FrameMessage, onePage(false), httpwire.FrameEnd, nil), "fetch", sdk.Permanent, 0, 1, "without its last page"},
		{"more without a page", 200, httpwire.ContentType, nil, frames(t, httpwire.FrameMore, nil), "fetch", sdk.Permanent, 0, 0, "no page"},
		{"page after the last", 200, httpwire.ContentType, nil, frames(t, httpwire.FrameMessage, onePage(true), httpwire.FrameMessage, onePage(true), httpwire.FrameEnd, nil), "fetch", sdk.Permanent, 0, 1, "after the last"},
		{"malformed frame", 200, httpwire.ContentType, nil, []byte{7, 0}, "fetch", sdk.Permanent, 0, 0, "malformed"},
		{"malformed page", 200, httpwire.ContentType, nil, append([]byte{1, 2}, 0xff, 0xff), "fetch", sdk.Permanent, 0, 0, "malformed page"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.ctype != "" {
					w.Header().Set("Content-Type", tt.ctype)
				}
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				w.Write(tt.body)
			}))
			defer ts.Close()
			c := open(t, ts.URL, remote.Options{})
			var err error
			pages := 0
			if tt.call == "schema" {
				_, err = c.Schema(context.Background())
			} else {
				err = c.Fetch(context.Background(), sdk.FetchRequest{Entity: "account"}, func(*sdk.Page) error { pages++; return nil })
			}
			var se *sdk.Error
			switch {
			case err == nil:
				t.Fatalf("%s succeeded", tt.call)
			case !errors.As(err, &se):
				t.Fatalf("%s: %v is no *sdk.Error", tt.call, err)
			case se.Kind != tt.kind || se.RetryAfter != tt.after:
				t.Errorf("%s: kind %s, Retry-After %v (%v); want %s, %v", tt.call, se.Kind, se.RetryAfter, err, tt.kind, tt.after)
			case !strings.Contains(err.Error(), tt.msg):
				t.Errorf("%s: %q does not say %q", tt.call, err, tt.msg)
			}
			if pages != tt.pages {
				t.Errorf("%s delivered %d pages before failing, want %d", tt.call, pages, tt.pages)
			}
		})
	}
}

// A server that cannot be reached is a network problem: retry later.
func TestServerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	c := open(t, url, remote.Options{})
	_, err = c.Schema(context.Background())
	if !sdk.IsRetryable(err) {
		t.Errorf("Schema of a server that is down: %v (kind %s), want retryable", err, sdk.KindOf(err))
	}
	// A device loads its connector offline: Info answers without the
	// server, and the documents capability is still found.
	info, err := c.Info(context.Background())
	if err != nil || info.Name != "mock" || !info.Has(sdk.CapDocuments) {
		t.Errorf("Info with the server down: %+v, %v; want the mock's capabilities", info, err)
	}
}

// Info comes from the server when it is reachable, and once.
func TestInfo(t *testing.T) {
	b := newBackend(t, httpapi.Options{}, remote.Options{})
	var calls atomic.Int64
	h := httpapi.Handler(b.srv)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		h.ServeHTTP(w, r)
	}))
	defer ts.Close()
	c := open(t, ts.URL, remote.Options{})
	for range 3 {
		info, err := c.Info(context.Background())
		if err != nil || info.Name != "mock" || info.Version != mock.Version || !info.Has(sdk.CapClientIDs) {
			t.Fatalf("Info: %+v, %v", info, err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("three Info calls made %d requests, want 1", n)
	}
}

// The fault switch of the mock reaches the client as a retryable error,
// through a real status line.
func TestInjectedFault(t *testing.T) {
	b := newBackend(t, httpapi.Options{}, remote.Options{})
	if err := b.srv.SetFaults(context.Background(), mock.Faults{FailRate: 100}); err != nil {
		t.Fatal(err)
	}
	err := open(t, b.url, remote.Options{}).Fetch(context.Background(), sdk.FetchRequest{Entity: "account"}, func(*sdk.Page) error { return nil })
	if !sdk.IsRetryable(err) || !strings.Contains(err.Error(), "injected failure") {
		t.Errorf("fetch with fail_rate 100: %v (kind %s), want the injected retryable failure", err, sdk.KindOf(err))
	}
}

// TestContinuation: a fetch, a listing and a document read larger than one
// response's limit are carried by several requests, and arrive whole.
func TestContinuation(t *testing.T) {
	b := newBackend(t, httpapi.Options{}, remote.Options{})
	ctx := context.Background()
	c := open(t, b.url, remote.Options{PagesPerRequest: 3, BytesPerRequest: 1000})
	_, mark, err := b.srv.Requests(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var owner string
	pages := 0
	err = c.Fetch(ctx, sdk.FetchRequest{Entity: "account", PageSize: 2}, func(p *sdk.Page) error {
		pages++
		for _, id := range p.IDs {
			if seen[id] {
				t.Errorf("id %s delivered twice", id)
			}
			seen[id] = true
			owner = id
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 20 || pages != 10 {
		t.Errorf("fetched %d accounts in %d pages, want 20 in 10", len(seen), pages)
	}
	reqs, _, err := b.srv.Requests(ctx, mark)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 4 { // 3+3+3+1 pages
		t.Errorf("the fetch took %d requests, want 4 of at most 3 pages", len(reqs))
	}

	content := bytes.Repeat([]byte("0123456789"), 450)
	doc, err := b.srv.AddDocument(ctx, "account", owner, "big.txt", "text/plain", bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	_, mark, err = b.srv.Requests(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, 999, 1000, 4499, 4500} {
		var buf bytes.Buffer
		if err := c.ReadDocument(ctx, doc.ID, off, &buf); err != nil {
			t.Fatalf("read from %d: %v", off, err)
		}
		if !bytes.Equal(buf.Bytes(), content[off:]) {
			t.Errorf("read from %d: %d bytes that differ from the %d stored", off, buf.Len(), len(content)-int(off))
		}
	}
	reqs, mark, err = b.srv.Requests(ctx, mark)
	if err != nil {
		t.Fatal(err)
	}
	// 5 reads of 4500, 3501, 3500, 1 and 0 bytes, at most 1000 a request.
	if want := 5 + 4 + 4 + 1 + 1; len(reqs) != want {
		t.Errorf("the reads took %d requests, want %d", len(reqs), want)
	}

	for i := range 6 {
		if _, err := b.srv.AddDocument(ctx, "account", owner, fmt.Sprintf("%d.txt", i), "text/plain", strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
	}
	listed := 0
	err = c.ListDocuments(ctx, sdk.DocumentQuery{Entity: "account", RecordIDs: []string{owner}, PageSize: 1}, func(p *sdk.DocumentPage) error {
		listed += len(p.Documents)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if reqs, _, err = b.srv.Requests(ctx, mark); err != nil {
		t.Fatal(err)
	}
	if listed != 7 || len(reqs) != 3 {
		t.Errorf("listed %d documents in %d requests, want 7 in 3 of at most 3 pages", listed, len(reqs))
	}
	// Requests that read their stream to the end leave the connection
	// fit for the next one: two dozen requests, one connection.
	if n := b.conns.Load(); n != 1 {
		t.Errorf("the requests used %d connections, want 1 (a stream not read to its end cannot be reused)", n)
	}
	// The documents of no rows are none, without asking the server (the
	// empty list would travel as "every row").
	err = c.ListDocuments(ctx, sdk.DocumentQuery{RecordIDs: []string{}}, func(p *sdk.DocumentPage) error {
		if len(p.Documents) != 0 || !p.Last {
			t.Errorf("documents of no rows: %+v", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A fetch response also ends at the byte limit, whatever the page limit:
// with a limit below one page, every page comes in a request of its own.
func TestFetchByteLimit(t *testing.T) {
	b := newBackend(t, httpapi.Options{}, remote.Options{})
	ctx := context.Background()
	c := open(t, b.url, remote.Options{PagesPerRequest: 1000, BytesPerRequest: 1})
	_, mark, err := b.srv.Requests(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := c.Fetch(ctx, sdk.FetchRequest{Entity: "account", PageSize: 5}, func(p *sdk.Page) error {
		n += p.Len()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	reqs, _, err := b.srv.Requests(ctx, mark)
	if err != nil {
		t.Fatal(err)
	}
	if n != 20 || len(reqs) != 4 {
		t.Fatalf("fetched %d accounts in %d requests, want 20 in 4 (one page of 5 each)", n, len(reqs))
	}
}
