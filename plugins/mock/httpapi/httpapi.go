// Package httpapi serves a mock server over HTTP: the sdk.Connector contract
// as the calls of package wire, so a client that cannot open the server's
// SQLite file (above all the mock connector built for WASM, which reaches
// the network only through its host) works on the same data as every other
// device. It owns the HTTP side alone: routing, the caller's identity,
// framing and flushing. What a call does is mock.Connector's; this package
// must not reach into the server file itself.
package httpapi

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/protobuf/proto"

	"github.com/fieldsync/fieldsync/plugins/mock"
	"github.com/fieldsync/fieldsync/plugins/mock/httpapi/httpwire"
	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
	"github.com/fieldsync/fieldsync/sdk/wire"
)

// Options configure Handler and Serve. The zero value serves anyone, naming
// the caller by the user query parameter.
type Options struct {
	// Tokens maps bearer tokens to the users they name. When set, every
	// call needs "Authorization: Bearer TOKEN" with a token listed here
	// (401 otherwise) and the token, not the user parameter, names the
	// caller. Tests use it to prove that the WASM host injects credentials
	// the guest never held.
	Tokens map[string]string
	// Logger receives a line per failed call (nil: none). Tokens are never
	// logged.
	Logger hclog.Logger
	// MaxRequestBytes bounds a request body (default 64 MiB, the frame
	// limit): a push batch is the largest request there is.
	MaxRequestBytes int64
}

// Handler serves srv's connector contract over HTTP; see package wire for
// the calls, the framing and the errors. Every request gets a connector of
// its own for its caller (they share the server's connections), so the
// request log names who asked.
func Handler(srv *mock.Server, opts ...Options) http.Handler {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.MaxRequestBytes <= 0 {
		o.MaxRequestBytes = httpwire.MaxFrame
	}
	if o.Tokens != nil {
		o.Tokens = maps.Clone(o.Tokens) // the caller's map may change under us
	}
	return &handler{srv: srv, opts: o, log: o.Logger.Named("mock-http")}
}

type handler struct {
	srv  *mock.Server
	opts Options
	log  hclog.Logger
}

// call is one routed request: which method answers it and how.
type call struct {
	name    string
	methods []string
	serve   func(h *handler, w http.ResponseWriter, r *http.Request, c *mock.Connector) error
}

var routes = map[string]call{
	httpwire.PathInfo:          {"info", []string{http.MethodGet, http.MethodPost}, (*handler).info},
	httpwire.PathSchema:        {"schema", []string{http.MethodPost}, (*handler).schema},
	httpwire.PathFetch:         {"fetch", []string{http.MethodPost}, (*handler).fetch},
	httpwire.PathPush:          {"push", []string{http.MethodPost}, (*handler).push},
	httpwire.PathListDocuments: {"list documents", []string{http.MethodPost}, (*handler).listDocuments},
	httpwire.PathReadDocument:  {"read document", []string{http.MethodPost}, (*handler).readDocument},
}

// httpError is a failure of the HTTP layer itself (unknown path, wrong
// method, no token), with a status of its own rather than the kind's.
type httpError struct {
	code   int
	kind   sdk.ErrorKind
	msg    string
	header map[string]string
}

func (e *httpError) Error() string { return e.msg }

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, ok := routes[r.URL.Path]
	if !ok {
		h.fail(w, r, "route", &httpError{code: http.StatusNotFound, kind: sdk.Unsupported,
			msg: fmt.Sprintf("mock http: no call %s (this server speaks protocol v%d)", r.URL.Path, sdk.ProtocolMajor)})
		return
	}
	if !slices.Contains(rt.methods, r.Method) {
		h.fail(w, r, rt.name, &httpError{code: http.StatusMethodNotAllowed, kind: sdk.Permanent,
			msg:    fmt.Sprintf("mock http: %s takes %s, not %s", r.URL.Path, strings.Join(rt.methods, " or "), r.Method),
			header: map[string]string{"Allow": strings.Join(rt.methods, ", ")}})
		return
	}
	user, err := h.caller(r)
	if err != nil {
		h.fail(w, r, rt.name, err)
		return
	}
	if err := rt.serve(h, w, r, h.srv.Connector(user)); err != nil {
		h.fail(w, r, rt.name, err)
	}
}

// caller names who makes the request: the user of its bearer token when the
// server checks tokens, the user query parameter otherwise. Tokens are
// compared in constant time, so response timing does not reveal how much
// of a guess was right.
func (h *handler) caller(r *http.Request) (string, error) {
	if h.opts.Tokens == nil {
		return r.URL.Query().Get(httpwire.ParamUser), nil
	}
	unauthorized := func(msg string) error {
		return &httpError{code: http.StatusUnauthorized, kind: sdk.Permanent, msg: "mock http: " + msg,
			header: map[string]string{"WWW-Authenticate": `Bearer realm="fieldsync-mock"`}}
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", unauthorized("this server needs an Authorization: Bearer token")
	}
	token = strings.TrimSpace(token)
	user, found := "", false
	for t, u := range h.opts.Tokens {
		if subtle.ConstantTimeCompare([]byte(t), []byte(token)) == 1 {
			user, found = u, true
		}
	}
	if !found {
		return "", unauthorized("the bearer token is not one this server knows")
	}
	return user, nil
}

// fail answers a call that failed before its body began: the status of the
// error's kind (or the HTTP layer's own), Retry-After when the connector
// asked for a pause, and an ErrorDetail body.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, name string, err error) {
	code, detail, after := httpwire.Status(err)
	var he *httpError
	if errors.As(err, &he) {
		code, detail.Kind = he.code, string(he.kind)
		for k, v := range he.header {
			w.Header().Set(k, v)
		}
	}
	if after > 0 {
		w.Header().Set("Retry-After", httpwire.RetryAfterHeader(after))
	}
	h.log.Debug("call failed", "call", name, "path", r.URL.Path, "status", code, "kind", detail.Kind, "error", err)
	body, merr := proto.Marshal(detail)
	if merr != nil { // an ErrorDetail of two strings always encodes
		body = nil
	}
	w.Header().Set("Content-Type", httpwire.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write(body) // the client may be gone; nothing else to tell it
}

// decode reads the request body, bounded, into msg. An empty body is the
// empty message.
func (h *handler) decode(w http.ResponseWriter, r *http.Request, msg proto.Message) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, httpwire.ContentType) {
		return &httpError{code: http.StatusUnsupportedMediaType, kind: sdk.Permanent,
			msg: fmt.Sprintf("mock http: request body is %s; send %s", ct, httpwire.ContentType)}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxRequestBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &httpError{code: http.StatusRequestEntityTooLarge, kind: sdk.Permanent,
				msg: fmt.Sprintf("mock http: request body exceeds %d bytes", tooBig.Limit)}
		}
		return sdk.Errorf(sdk.Retryable, "mock http: read request body: %w", err)
	}
	if err := proto.Unmarshal(body, msg); err != nil {
		return sdk.Errorf(sdk.Permanent, "mock http: malformed %s: %w", msg.ProtoReflect().Descriptor().Name(), err)
	}
	return nil
}

// reply answers a unary call with msg.
func reply(w http.ResponseWriter, msg proto.Message) error {
	body, err := proto.Marshal(msg)
	if err != nil {
		return fmt.Errorf("mock http: encode %s: %w", msg.ProtoReflect().Descriptor().Name(), err)
	}
	w.Header().Set("Content-Type", httpwire.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body) // a client that hung up has no use for an error
	return nil
}

func (h *handler) info(w http.ResponseWriter, r *http.Request, c *mock.Connector) error {
	var req pb.ConfigureRequest
	if r.Method == http.MethodPost {
		if err := h.decode(w, r, &req); err != nil {
			return err
		}
	}
	if len(req.Settings) > 0 {
		// Settings are the server's (its file, its faults); a client that
		// sends some expects an effect it would not get.
		return sdk.Errorf(sdk.Permanent, "mock http: the server takes no settings from its clients (got %d)", len(req.Settings))
	}
	info, err := c.Info(r.Context())
	if err != nil {
		return err
	}
	return reply(w, wire.InfoToPB(info))
}

func (h *handler) schema(w http.ResponseWriter, r *http.Request, c *mock.Connector) error {
	if err := h.decode(w, r, &pb.Empty{}); err != nil {
		return err
	}
	s, err := c.Schema(r.Context())
	if err != nil {
		return err
	}
	return reply(w, wire.SchemaToPB(s))
}

func (h *handler) push(w http.ResponseWriter, r *http.Request, c *mock.Connector) error {
	var req pb.PushRequest
	if err := h.decode(w, r, &req); err != nil {
		return err
	}
	res, err := c.Push(r.Context(), wire.PushFromPB(&req))
	if err != nil {
		return err
	}
	return reply(w, wire.PushResultToPB(res))
}
