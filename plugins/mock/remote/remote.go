// Package remote is the mock connector that reaches its server over HTTP
// (the API of package httpapi, spoken through package wire) instead of
// opening the SQLite file. It is the mock's WASM build, whose guest has no
// files and no sockets, only the host's HTTP function; natively it is a
// connector for `fieldsync emulator mock` or any mock server across a
// network. It owns the client side of the protocol and must stay free of
// SQLite and of package mock, so it builds for GOOS=wasip1.
//
// # Credentials
//
// Normally the connector holds none. In a WASM guest the host's HTTP
// function adds the Authorization header from the host's configuration to
// requests it allows, so a secret never enters the sandbox (nor a memory
// dump of it, nor a log line it writes). The token setting exists for
// native use and tests; when both are present the host's header wins,
// since the host sets it last.
package remote

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/protobuf/proto"

	"github.com/fieldsync/fieldsync/plugins/mock/httpapi/httpwire"
	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
	"github.com/fieldsync/fieldsync/sdk/wire"
)

// Defaults of the per-response limits; see Options.
//
// A response of a fetch ends after the page that reaches either limit, so a
// WASM guest, which receives a response whole, holds at most 8 MiB and a
// page: within the host's default 16 MiB response cap. Measured through the
// WASM mock at 300k rows, 64 pages a response instead of 16 gave 20% more
// records/s; the page limit is now high enough that the byte limit decides.
const (
	DefaultPagesPerRequest = 256
	DefaultBytesPerRequest = 8 << 20
)

// maxErrorBody bounds how much of a failed response is read for its error.
const maxErrorBody = 64 << 10

// Connector is the sdk.Connector and sdk.Documents of a mock server behind
// its HTTP API. It is safe for concurrent use: it keeps no state per call
// beyond the server's Info, fetched once.
type Connector struct {
	base   *url.URL
	client *http.Client
	opts   Options
	log    hclog.Logger
	closed atomic.Bool

	infoMu sync.Mutex
	info   *sdk.Info
}

var (
	_ sdk.Connector = (*Connector)(nil)
	_ sdk.Documents = (*Connector)(nil)
	_ sdk.Factory   = Factory
)

// Options configure New. The zero value is fine.
type Options struct {
	// Client makes the requests (nil: the one SetHTTPClient provides, else
	// http.DefaultClient). In a WASM guest it is the client whose transport
	// is the host's HTTP function.
	Client *http.Client
	// Token, when set, goes out as "Authorization: Bearer TOKEN". Leave it
	// empty where the host injects credentials (see the package comment).
	Token string
	// User names the caller in the server's request log when the server
	// does not check tokens.
	User string
	// PagesPerRequest is how many pages of a fetch or a document listing
	// one response carries at most (default DefaultPagesPerRequest); the
	// connector continues from the last page's cursor in a new request.
	// It bounds a response, which a WASM host receives whole.
	PagesPerRequest int
	// BytesPerRequest is how many bytes one response carries at most
	// (default DefaultBytesPerRequest), for the same reason: of a document's
	// content when reading one, of encoded pages when fetching.
	BytesPerRequest int64
	// Logger receives a debug line per request (nil: none); no header is
	// logged.
	Logger hclog.Logger
	// ForwardEncoded hands fetched pages on still encoded (sdk.Page.Encoded)
	// instead of decoding every value; only for a connector whose pages go
	// straight to a transport (the WASM build, see ForwardEncodedPages).
	ForwardEncoded bool
}

var forwardEncoded atomic.Bool

// ForwardEncodedPages makes Factory's connectors forward fetched pages
// encoded. The WASM build calls it: there the pages go straight to the
// guest SDK, which passes the bytes to the host, and decoding and encoding
// every value inside the guest would be most of a fetch's cost.
func ForwardEncodedPages() { forwardEncoded.Store(true) }

var clientHook atomic.Pointer[func() *http.Client]

// SetHTTPClient makes Factory take its client from f (nil: back to
// http.DefaultClient). The WASM build calls it with the guest SDK's client,
// whose transport is the host's HTTP function; it is a hook rather than a
// setting because a *http.Client cannot travel in the host's settings.
func SetHTTPClient(f func() *http.Client) {
	if f == nil {
		clientHook.Store(nil)
		return
	}
	clientHook.Store(&f)
}

func hookedClient() *http.Client {
	if f := clientHook.Load(); f != nil {
		if c := (*f)(); c != nil {
			return c
		}
	}
	return http.DefaultClient
}

// New returns a connector for the mock server's HTTP API at baseURL (for
// example http://127.0.0.1:8081, or with a path prefix the API is mounted
// under). It does not contact the server: a device opens its connector
// offline, and the first call that needs the network says whether it is
// there.
func New(ctx context.Context, baseURL string, opts Options) (*Connector, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		return nil, sdk.Errorf(sdk.Permanent, "mock remote: url %q: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, sdk.Errorf(sdk.Permanent, "mock remote: url %q is not an http(s) URL with a host", baseURL)
	}
	if u.User != nil {
		// A password in the URL would sit in the guest's memory and in
		// every log line that prints the URL.
		return nil, sdk.Errorf(sdk.Permanent, "mock remote: url %q carries credentials; use the token setting or let the host inject them", u.Redacted())
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	if opts.Client == nil {
		opts.Client = hookedClient()
	}
	if opts.PagesPerRequest <= 0 {
		opts.PagesPerRequest = DefaultPagesPerRequest
	}
	if opts.BytesPerRequest <= 0 {
		opts.BytesPerRequest = DefaultBytesPerRequest
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	return &Connector{base: u, client: opts.Client, opts: opts, log: opts.Logger.Named("mock-remote")}, nil
}

// Factory is the remote mock's sdk.Factory. Settings:
//
//	url        base URL of the mock server's HTTP API (required)
//	token      bearer token (optional; where the host injects credentials,
//	           leave it out so the plugin never holds the secret)
//	user       the caller's name in the request log (optional)
//	max_pages  fetch and listing pages per response (default 16)
//	max_bytes  document bytes per response (default 4 MiB)
func Factory(ctx context.Context, settings map[string]string, logger hclog.Logger) (sdk.Connector, error) {
	if settings["url"] == "" {
		return nil, sdk.Errorf(sdk.Permanent, "mock remote: setting \"url\" (the mock server's HTTP API) is required")
	}
	opts := Options{Token: settings["token"], User: settings["user"], Logger: logger, ForwardEncoded: forwardEncoded.Load()}
	if v, ok := settings["max_pages"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 {
			return nil, sdk.Errorf(sdk.Permanent, "mock remote: setting \"max_pages\" = %q is not a positive number", v)
		}
		opts.PagesPerRequest = n
	}
	if v, ok := settings["max_bytes"]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 1 {
			return nil, sdk.Errorf(sdk.Permanent, "mock remote: setting \"max_bytes\" = %q is not a positive number", v)
		}
		opts.BytesPerRequest = n
	}
	return New(ctx, settings["url"], opts)
}

// offlineInfo is what Info says while the server cannot be reached: the
// capabilities every mock server's HTTP API offers (it always accepts
// client ids; a call a server lacks still fails as Unsupported). Without it
// a device could not even load its connector offline, since the transports
// ask for Info when they open a plugin.
var offlineInfo = sdk.Info{
	Name:          "mock",
	ProtocolMinor: sdk.ProtocolMinor,
	Capabilities:  []sdk.Capability{sdk.CapDocuments, sdk.CapNativeDeletes, sdk.CapServerSideFilters, sdk.CapClientIDs},
}

// Info asks the server once and keeps its answer: the capabilities are the
// server's. While the server is unreachable (a retryable failure) it
// answers offlineInfo and keeps nothing, so the next call asks again; any
// other failure is returned.
func (c *Connector) Info(ctx context.Context) (sdk.Info, error) {
	c.infoMu.Lock()
	defer c.infoMu.Unlock()
	if c.info != nil {
		return *c.info, nil
	}
	var out pb.InfoResponse
	req := &pb.ConfigureRequest{HostProtocolMinor: sdk.ProtocolMinor}
	if err := c.unary(ctx, "info", httpwire.PathInfo, req, &out); err != nil {
		if sdk.IsRetryable(err) {
			c.log.Debug("server unreachable; answering Info offline", "error", err)
			info := offlineInfo
			info.Capabilities = slices.Clone(offlineInfo.Capabilities)
			return info, nil
		}
		return sdk.Info{}, err
	}
	info := wire.InfoFromPB(&out)
	// The HTTP API has no document upload and no batch change check,
	// whatever the server offers.
	info.Capabilities = slices.DeleteFunc(info.Capabilities, func(c sdk.Capability) bool {
		return c == sdk.CapWriteDocuments || c == sdk.CapBatchChangeCheck
	})
	c.info = &info
	return info, nil
}

// Schema asks the server for its entities.
func (c *Connector) Schema(ctx context.Context) (*sdk.Schema, error) {
	var out pb.SchemaResponse
	if err := c.unary(ctx, "schema", httpwire.PathSchema, &pb.Empty{}, &out); err != nil {
		return nil, err
	}
	s, err := wire.SchemaFromPB(&out)
	if err != nil {
		return nil, sdk.Errorf(sdk.Permanent, "mock remote: schema: %w", err)
	}
	return s, nil
}

// Push sends one batch in one request. An error means its outcome is
// unknown (a dropped connection may follow a commit); the server's change
// ids make the core's retry of the same batch safe.
func (c *Connector) Push(ctx context.Context, req sdk.PushRequest) (*sdk.PushResponse, error) {
	var out pb.PushResponse
	if err := c.unary(ctx, "push", httpwire.PathPush, wire.PushToPB(req), &out); err != nil {
		return nil, err
	}
	res, err := wire.PushResultFromPB(&out, len(req.Changes))
	if err != nil {
		return nil, sdk.Errorf(sdk.Permanent, "mock remote: push: %w", err)
	}
	return res, nil
}

// Close marks the connector closed. The HTTP client is not the
// connector's (it is shared, or the host's), so there is nothing to free.
func (c *Connector) Close(context.Context) error {
	c.closed.Store(true)
	return nil
}

// unary makes one request whose answer is one message.
func (c *Connector) unary(ctx context.Context, call, path string, in, out proto.Message) error {
	resp, err := c.post(ctx, call, path, nil, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, httpwire.MaxFrame+1))
	if err != nil {
		return c.netErr(ctx, call, "read the answer", err)
	}
	if len(body) > httpwire.MaxFrame {
		return sdk.Errorf(sdk.Permanent, "mock remote: %s: answer exceeds %d bytes", call, httpwire.MaxFrame)
	}
	if err := proto.Unmarshal(body, out); err != nil {
		return sdk.Errorf(sdk.Permanent, "mock remote: %s: malformed answer: %w", call, err)
	}
	return nil
}

// post sends in to path and returns a 200 response of the protocol's
// content type; any other answer becomes the sdk error it carries.
func (c *Connector) post(ctx context.Context, call, path string, query url.Values, in proto.Message) (*http.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("mock remote: %s: %w", call, err)
	}
	if c.closed.Load() {
		return nil, sdk.Errorf(sdk.Permanent, "mock remote: %s after Close", call)
	}
	body, err := proto.Marshal(in)
	if err != nil {
		return nil, sdk.Errorf(sdk.Permanent, "mock remote: %s: encode request: %w", call, err)
	}
	u := *c.base
	u.Path += path
	if c.opts.User != "" {
		if query == nil {
			query = url.Values{}
		}
		query.Set(httpwire.ParamUser, c.opts.User)
	}
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, sdk.Errorf(sdk.Permanent, "mock remote: %s: %w", call, err)
	}
	req.Header.Set("Content-Type", httpwire.ContentType)
	req.Header.Set("Accept", httpwire.ContentType)
	if c.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.opts.Token)
	}
	started := time.Now()
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, c.netErr(ctx, call, "request", err)
	}
	c.log.Debug("request", "call", call, "path", u.Path, "status", resp.StatusCode, "ms", time.Since(started).Milliseconds())
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, responseError(call, resp, time.Now())
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != httpwire.ContentType {
		resp.Body.Close()
		// A captive portal or a proxy answers 200 with a page of its own:
		// the server is not really reachable yet.
		return nil, sdk.Errorf(sdk.Retryable, "mock remote: %s: answer is %q, not %s (a proxy or captive portal in the way?)",
			call, resp.Header.Get("Content-Type"), httpwire.ContentType)
	}
	return resp, nil
}

// responseError turns a failed response into its sdk error: the
// ErrorDetail the server sent, or the status alone when the answer came
// from something else (a proxy's 502).
func responseError(call string, resp *http.Response, now time.Time) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody)) // a partial body still has a status
	var detail *pb.ErrorDetail
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == httpwire.ContentType {
		var d pb.ErrorDetail
		if proto.Unmarshal(body, &d) == nil {
			detail = &d
		}
		body = nil // binary: no excerpt
	}
	return httpwire.ErrorOf("mock remote: "+call, resp.StatusCode, resp.Header, detail, body, now)
}

// netErr classifies a failure to talk to the server: the caller's own
// cancellation stays a context error (errors.Is(err, context.Canceled)
// holds, as the contract asks); anything else, a client timeout included,
// is a network problem worth retrying.
func (c *Connector) netErr(ctx context.Context, call, what string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("mock remote: %s: %w", call, ctxErr)
	}
	return &sdk.Error{Kind: sdk.Retryable, Message: fmt.Sprintf("mock remote: %s: %s: %v", call, what, err), Err: err}
}
