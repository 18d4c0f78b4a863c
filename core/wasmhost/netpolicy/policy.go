package netpolicy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Defaults for the zero values of Policy's limits.
const (
	DefaultMaxResponse  = 16 << 20
	DefaultTimeout      = 30 * time.Second
	DefaultMaxRedirects = 5
)

// maxResponseHeader bounds the response's header block; net/http's default
// (10 MB) is more than any API needs.
const maxResponseHeader = 1 << 20

// Credential is a header the host adds to a plugin's requests, so that the
// plugin can call an API without ever holding its secret.
type Credential struct {
	// Rule says where the credential may be sent, matched like an
	// allow-list entry. It is sent only to destinations that match it, and
	// on a redirect only while the chain stays on the origin (scheme, host,
	// port) the plugin asked for: a server, even an allowed one, must not be
	// able to forward a secret elsewhere by redirecting.
	Rule Rule
	// Header is the header's name; empty means "Authorization".
	Header string
	// Value is the header's value, e.g. "Bearer …" or "Basic …". It is never
	// logged, never put in an error, and never visible to the plugin.
	Value string
}

// Resolver resolves host names; *net.Resolver satisfies it. Tests inject
// their own to simulate public and private answers.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Policy is one plugin's network policy, and the client that enforces it.
//
// Set the fields, then call Do (or Validate first, at configuration time);
// the fields are read once, on first use, and later changes are ignored.
// Do is safe for concurrent use: a plugin's instances share one Policy and
// its pool of connections. A Policy must not be copied after first use.
type Policy struct {
	// Plugin names the plugin in logs and errors.
	Plugin string
	// Allow is the allow-list; empty means nothing is reachable.
	Allow []Rule
	// AllowPrivate permits loopback, private, link-local, unspecified, CGNAT
	// and other non-public addresses (checked after DNS resolution). An
	// emulator on 127.0.0.1 needs it; it is off by default because with it a
	// plugin can reach the host's own services and the local network.
	// Multicast and broadcast are refused regardless.
	AllowPrivate bool
	// MaxResponse caps a response body in bytes (default 16 MiB). A larger
	// body is an error; at most MaxResponse+1 bytes of it are ever read.
	MaxResponse int64
	// Timeout bounds the whole exchange: resolution, connection, every
	// redirect hop and reading the body (default 30 s).
	Timeout time.Duration
	// MaxRedirects caps the redirects followed (default 5). A negative value
	// means redirects are not followed: the 3xx response goes back to the
	// plugin as is.
	MaxRedirects int
	// Credentials are injected into matching requests; for one header name
	// the first matching credential wins.
	Credentials []Credential
	// Logger receives every refusal (Warn) and failure (Debug); default: none.
	Logger hclog.Logger
	// Resolver resolves host names (default net.DefaultResolver).
	Resolver Resolver
	// RootCAs, if set, replaces the system roots for verifying servers (a
	// private CA, or an emulator's self-signed certificate). Certificates are
	// always verified against the host name.
	RootCAs *x509.CertPool

	once sync.Once
	st   *state
	err  error
}

// state is a Policy's checked configuration, fixed at first use.
type state struct {
	plugin       string
	allow        []Rule
	allowPrivate bool
	maxResponse  int64
	timeout      time.Duration
	maxRedirects int
	creds        []credential
	credNames    []string // canonical header names of all credentials
	log          hclog.Logger
	resolver     Resolver
	dialer       *net.Dialer
	transport    *http.Transport
}

type credential struct {
	rule  Rule
	name  string // canonical header name
	value string
}

// Validate checks the policy's configuration (rules, credentials, limits).
// Do reports the same error; calling Validate when a plugin is loaded
// surfaces a bad configuration before the plugin runs.
func (p *Policy) Validate() error {
	_, err := p.state()
	return err
}

// CloseIdleConnections closes the pooled keep-alive connections, for when the
// plugin is unloaded.
func (p *Policy) CloseIdleConnections() {
	if st, err := p.state(); err == nil {
		st.transport.CloseIdleConnections()
	}
}

func (p *Policy) state() (*state, error) {
	p.once.Do(func() { p.st, p.err = p.build() })
	return p.st, p.err
}

func (p *Policy) build() (*state, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	st := &state{
		plugin:       p.Plugin,
		allowPrivate: p.AllowPrivate,
		maxResponse:  p.MaxResponse,
		timeout:      p.Timeout,
		maxRedirects: p.MaxRedirects,
		log:          p.Logger,
		resolver:     p.Resolver,
	}
	for i, r := range p.Allow {
		n, err := r.normalize()
		if err != nil {
			bad("allow-list entry %d: %v", i+1, err)
			continue
		}
		st.allow = append(st.allow, n)
	}
	seen := map[string]bool{}
	for i, c := range p.Credentials {
		// The value is a secret: messages name the rule and header only.
		n, err := c.Rule.normalize()
		if err != nil {
			bad("credential %d: %v", i+1, err)
			continue
		}
		name := c.Header
		if name == "" {
			name = "Authorization"
		}
		if !validHeaderName(name) {
			bad("credential %d for %s: %q is not a valid header name", i+1, n, name)
			continue
		}
		name = http.CanonicalHeaderKey(name)
		if forbiddenHeader[name] {
			bad("credential %d for %s: header %s is managed by the HTTP client and cannot carry a credential", i+1, n, name)
			continue
		}
		if c.Value == "" {
			bad("credential %d for %s: the %s value is empty", i+1, n, name)
			continue
		}
		if strings.ContainsAny(c.Value, "\r\n\x00") {
			bad("credential %d for %s: the %s value contains a line break or NUL", i+1, n, name)
			continue
		}
		st.creds = append(st.creds, credential{rule: n, name: name, value: c.Value})
		if !seen[name] {
			seen[name] = true
			st.credNames = append(st.credNames, name)
		}
	}
	switch {
	case st.maxResponse == 0:
		st.maxResponse = DefaultMaxResponse
	case st.maxResponse < 0:
		bad("MaxResponse %d is negative", st.maxResponse)
	}
	switch {
	case st.timeout == 0:
		st.timeout = DefaultTimeout
	case st.timeout < 0:
		bad("Timeout %s is negative", st.timeout)
	}
	if st.maxRedirects == 0 {
		st.maxRedirects = DefaultMaxRedirects
	}
	if st.log == nil {
		st.log = hclog.NewNullLogger()
	}
	if st.resolver == nil {
		st.resolver = net.DefaultResolver
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("plugin %q: network policy: %w", p.Plugin, err)
	}
	st.dialer = &net.Dialer{
		Timeout:   st.timeout,
		KeepAlive: 30 * time.Second,
		Control:   st.controlDial,
	}
	st.transport = &http.Transport{
		// No proxy, whatever the environment says: a proxy resolves names
		// itself, so the address checks would be meaningless.
		Proxy:                  nil,
		DialContext:            st.dialPinned,
		ForceAttemptHTTP2:      true,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: p.RootCAs},
		TLSHandshakeTimeout:    10 * time.Second,
		MaxIdleConns:           32,
		MaxIdleConnsPerHost:    8,
		IdleConnTimeout:        90 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: maxResponseHeader,
	}
	return st, nil
}

// Do performs one HTTP request for the plugin, enforcing the policy: see the
// package documentation. It returns the final response (after redirects)
// with its whole body, or an *Error saying, in a sentence naming the plugin
// and the URL, why the request was refused or failed. A non-2xx status is a
// response, not an error.
func (p *Policy) Do(ctx context.Context, method, rawURL string, header http.Header, body []byte) (status int, respHeader http.Header, respBody []byte, err error) {
	st, err := p.state()
	if err != nil {
		return 0, nil, nil, err
	}
	resp, rb, err := st.open(ctx, method, rawURL, header, body)
	if err != nil {
		return 0, nil, nil, err
	}
	defer rb.Close()
	var buf bytes.Buffer
	if resp.ContentLength > 0 && rb.method != http.MethodHead {
		buf.Grow(int(resp.ContentLength))
	}
	if _, err := buf.ReadFrom(rb); err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, buf.Bytes(), nil
}

// Open is Do with a streamed body: it performs the request under the same
// checks (allow-list on every hop, checked addresses, credentials) and
// returns once the final response's header has arrived. The body is read
// as the caller goes; it enforces MaxResponse as it is read (a Read past
// the cap fails with an *Error of kind ErrResponseTooLarge, and at most
// MaxResponse+1 bytes are ever read from the server), and Timeout covers
// the whole exchange, reading the body included. The caller must close the
// body, which also releases the request's timer. Errors from the body's
// Read are *Error values like Do's.
func (p *Policy) Open(ctx context.Context, method, rawURL string, header http.Header, body []byte) (status int, respHeader http.Header, respBody io.ReadCloser, err error) {
	st, err := p.state()
	if err != nil {
		return 0, nil, nil, err
	}
	resp, rb, err := st.open(ctx, method, rawURL, header, body)
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, rb, nil
}

// errDeadline is the cause of our own timeout, to tell it from the caller's
// cancellation.
var errDeadline = errors.New("netpolicy: request deadline")

// hop is one checked request target.
type hop struct {
	u        *url.URL // what is sent: normalised host, no user info or fragment
	scheme   string
	host     string // normalised: lower-case name or canonical IP
	port     int
	redacted string // scheme://host:port/path, safe to log
}

func (h hop) sameOrigin(o hop) bool {
	return h.scheme == o.scheme && h.host == o.host && h.port == o.port
}

// open performs the request and returns the final response with its body
// wrapped in a limitedBody, which owns the exchange's timeout: on success the
// caller must close it; on failure everything is released already.
func (st *state) open(ctx context.Context, method, rawURL string, header http.Header, body []byte) (_ *http.Response, _ *limitedBody, err error) {
	if method == "" {
		method = http.MethodGet
	}
	ctx, cancel := context.WithTimeoutCause(ctx, st.timeout, errDeadline)
	defer func() {
		if err != nil {
			cancel()
		}
	}()

	e := &Error{Plugin: st.plugin, Method: method}
	first, reason, kind := st.parse(rawURL)
	if kind != nil {
		e.URL = redactRaw(rawURL)
		if first.redacted != "" {
			e.URL = first.redacted
		}
		return st.fail(e, reason, kind, nil)
	}
	e.URL = first.redacted
	if method == http.MethodConnect || !validToken(method) {
		return st.fail(e, fmt.Sprintf("method %q is not allowed", method), ErrInvalidRequest, nil)
	}
	if reason, kind := st.allowed(first); kind != nil {
		return st.fail(e, reason, kind, nil)
	}
	base := sanitize(header)

	cur := first
	for redirects := 0; ; redirects++ {
		addrs, reason, kind, cause := st.resolve(ctx, cur)
		if reason != "" {
			if redirects > 0 {
				reason = fmt.Sprintf("redirect to %s %s: %s", cur.redacted, redirectVerb(kind), reason)
			}
			return st.fail(e, reason, kind, cause)
		}
		resp, err := st.roundTrip(ctx, method, cur, addrs, st.hopHeader(base, cur, first), body)
		if err != nil {
			reason, kind, cause := st.networkError(ctx, err)
			if redirects > 0 {
				reason = fmt.Sprintf("redirect to %s %s: %s", cur.redacted, redirectVerb(kind), reason)
			}
			return st.fail(e, reason, kind, cause)
		}

		loc := resp.Header.Get("Location")
		if !isRedirect(resp.StatusCode) || loc == "" || st.maxRedirects < 0 {
			return st.limitBody(ctx, cancel, e, method, resp)
		}
		// Let the connection be reused, but never read much of a body
		// nobody will see.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if redirects >= st.maxRedirects {
			return st.fail(e, fmt.Sprintf("stopped after %d redirects (the limit)", st.maxRedirects), ErrTooManyRedirects, nil)
		}
		nu, err := cur.u.Parse(loc)
		if err != nil {
			return st.fail(e, fmt.Sprintf("redirect from %s has an invalid Location %s", cur.redacted, redactRaw(loc)), ErrInvalidRequest, nil)
		}
		next, reason, kind := st.parse(nu.String())
		if kind == nil {
			reason, kind = st.allowed(next)
		}
		if kind != nil {
			e.Redirect = next.redacted
			if e.Redirect == "" {
				e.Redirect = redactRaw(nu.String())
			}
			return st.fail(e, fmt.Sprintf("redirect to %s %s: %s", e.Redirect, redirectVerb(kind), reason), kind, nil)
		}
		method, body = redirectMethod(resp.StatusCode, method, body, base)
		st.log.Debug("following redirect", "plugin", st.plugin, "from", cur.redacted, "to", next.redacted, "status", resp.StatusCode)
		cur = next
		e.Redirect = cur.redacted
	}
}

func redirectVerb(kind error) string {
	if kind == nil || kind == ErrTimeout {
		return "failed"
	}
	return "not allowed"
}

// fail logs and returns the error. Refusals are logged at Warn, so that an
// admin sees what a plugin tried; failures (the network's or the server's)
// at Debug, since the plugin gets the error and usually reports it itself.
func (st *state) fail(e *Error, reason string, kind, cause error) (*http.Response, *limitedBody, error) {
	e.Reason, e.kind, e.cause = reason, kind, cause
	args := []any{"plugin", e.Plugin, "method", e.Method, "url", e.URL}
	if e.Redirect != "" {
		args = append(args, "redirect", e.Redirect)
	}
	args = append(args, "reason", reason)
	if e.Refused() {
		st.log.Warn("refused a plugin's HTTP request", args...)
	} else {
		st.log.Debug("a plugin's HTTP request failed", args...)
	}
	return nil, nil, e
}

// parse checks the form of a URL and normalises it. On failure, hop.redacted
// is set if the URL parsed far enough to name it safely.
func (st *state) parse(raw string) (hop, string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return hop{}, "the URL is not valid", ErrInvalidRequest
	}
	scheme := strings.ToLower(u.Scheme)
	if u.Opaque != "" || u.Host == "" {
		return hop{}, "the URL is not an absolute http or https URL with a host", ErrInvalidRequest
	}
	h := hop{scheme: scheme}
	if scheme != "http" && scheme != "https" {
		return hop{}, fmt.Sprintf("scheme %q is not supported; only http and https are", u.Scheme), ErrNotAllowed
	}
	h.port = defaultPort(scheme)
	explicitPort := false
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return hop{}, fmt.Sprintf("port %q is not in 1..65535", p), ErrInvalidRequest
		}
		h.port, explicitPort = n, true
	}
	host, err := normalizeHost(u.Hostname())
	if err != nil {
		return hop{}, err.Error(), ErrInvalidRequest
	}
	h.host = host
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	h.redacted = scheme + "://" + net.JoinHostPort(host, strconv.Itoa(h.port)) + path
	if u.User != nil {
		// Refused rather than stripped: a plugin putting a password in a URL
		// is doing something the admin should hear about, and credentials
		// are the host's to inject.
		return h, "the URL contains user information (user:password@); credentials are injected by the host, never sent in a URL", ErrInvalidRequest
	}
	// Keep the plugin's choice of an explicit port in the Host header: some
	// request signatures cover it.
	hostport := host
	if strings.Contains(host, ":") {
		hostport = "[" + host + "]"
	}
	if explicitPort {
		hostport = net.JoinHostPort(host, strconv.Itoa(h.port))
	}
	h.u = &url.URL{Scheme: scheme, Host: hostport, Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery, ForceQuery: u.ForceQuery}
	return h, "", nil
}

// allowed checks a target against the allow-list and, if it is refused,
// says as precisely as it can why.
func (st *state) allowed(h hop) (string, error) {
	if len(st.allow) == 0 {
		return fmt.Sprintf("host %s is not on the allow-list (the plugin's allow-list is empty)", h.host), ErrNotAllowed
	}
	hostKnown, schemeKnown := false, false
	for _, r := range st.allow {
		if r.matches(h.scheme, h.host, h.port) {
			return "", nil
		}
		if r.matchesHost(h.host) {
			hostKnown = true
			schemeKnown = schemeKnown || r.Scheme == h.scheme
		}
	}
	switch {
	case schemeKnown:
		return fmt.Sprintf("port %d is not on the allow-list for %s://%s", h.port, h.scheme, h.host), ErrNotAllowed
	case hostKnown:
		return fmt.Sprintf("scheme %s is not on the allow-list for %s", h.scheme, h.host), ErrNotAllowed
	}
	return fmt.Sprintf("host %s is not on the allow-list", h.host), ErrNotAllowed
}

// resolve finds the addresses of a target and checks every one of them. All
// must pass: a name answering one public and one private address would
// otherwise reach the private one whenever the dial picks it. An empty
// reason means the addresses may be dialled.
func (st *state) resolve(ctx context.Context, h hop) (addrs []netip.Addr, reason string, kind, cause error) {
	if a, err := netip.ParseAddr(h.host); err == nil {
		c := classify(a)
		if c.never || (!c.public() && !st.allowPrivate) {
			return nil, fmt.Sprintf("%s is %s %s address%s", a, article(c.what), c.what, st.privateHint(c)), ErrPrivateAddress, nil
		}
		return []netip.Addr{a}, "", nil, nil
	}
	ips, err := st.resolver.LookupIPAddr(ctx, h.host)
	if err != nil {
		if ctx.Err() != nil {
			reason, kind, cause := st.networkError(ctx, err)
			return nil, reason, kind, cause
		}
		return nil, fmt.Sprintf("cannot resolve %s: %v", h.host, err), nil, err
	}
	seen := map[netip.Addr]bool{}
	for _, ip := range ips {
		a, ok := netip.AddrFromSlice(ip.IP)
		if !ok {
			continue
		}
		a = a.Unmap().WithZone(ip.Zone)
		if seen[a] {
			continue
		}
		seen[a] = true
		c := classify(a)
		if c.never || (!c.public() && !st.allowPrivate) {
			return nil, fmt.Sprintf("%s resolves to %s %s address %s%s", h.host, article(c.what), c.what, a, st.privateHint(c)), ErrPrivateAddress, nil
		}
		addrs = append(addrs, a)
	}
	if len(addrs) == 0 {
		return nil, fmt.Sprintf("%s resolves to no address", h.host), nil, nil
	}
	return addrs, "", nil, nil
}

func (st *state) privateHint(c addrClass) string {
	if c.never {
		return ", which is never allowed"
	}
	return " and private addresses are not allowed for this plugin"
}

// networkError turns a transport error into a reason, telling our timeout
// from the caller's cancellation and from the network's failures.
func (st *state) networkError(ctx context.Context, err error) (string, error, error) {
	if ctx.Err() != nil {
		if context.Cause(ctx) == errDeadline {
			return fmt.Sprintf("timed out after %s", st.timeout), ErrTimeout, nil
		}
		return fmt.Sprintf("canceled (%v)", context.Cause(ctx)), nil, context.Cause(ctx)
	}
	var dr *dialRefusal
	if errors.As(err, &dr) {
		return dr.reason, ErrPrivateAddress, nil
	}
	return err.Error(), nil, err
}

// roundTrip sends one request to one checked hop, pinned to its checked
// addresses. Redirects are never followed here.
func (st *state) roundTrip(ctx context.Context, method string, h hop, addrs []netip.Addr, header http.Header, body []byte) (*http.Response, error) {
	pin := &pinned{host: h.host, port: h.port, addrs: addrs}
	pin.deadline, _ = ctx.Deadline()
	var rb io.Reader
	if body != nil {
		rb = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.WithValue(ctx, pinKey{}, pin), method, h.u.String(), rb)
	if err != nil {
		return nil, err
	}
	req.Header = header
	return st.transport.RoundTrip(req)
}

// limitBody checks the final response's announced length and wraps its
// body so that reading it never takes more than MaxResponse+1 bytes, so that
// an endless or huge body costs at most the cap.
func (st *state) limitBody(ctx context.Context, cancel context.CancelFunc, e *Error, method string, resp *http.Response) (*http.Response, *limitedBody, error) {
	if method != http.MethodHead && resp.ContentLength > st.maxResponse {
		resp.Body.Close()
		return st.fail(e, fmt.Sprintf("%s (the server announced %d bytes)", st.tooLarge(), resp.ContentLength), ErrResponseTooLarge, nil)
	}
	return resp, &limitedBody{st: st, ctx: ctx, cancel: cancel, e: e, method: method, body: resp.Body}, nil
}

func (st *state) tooLarge() string {
	return fmt.Sprintf("response larger than %s", formatBytes(st.maxResponse))
}

// limitedBody is the final response's body as Open returns it: it reads at
// most MaxResponse+1 bytes, fails once the body is larger than MaxResponse,
// turns read errors into *Error values (logged like any other failure), and
// releases the exchange's timeout when closed.
type limitedBody struct {
	st     *state
	ctx    context.Context
	cancel context.CancelFunc
	e      *Error
	method string
	body   io.ReadCloser
	n      int64 // bytes read so far
	err    error // sticky: the first error (io.EOF included)
	closed bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.closed {
		return 0, errors.New("netpolicy: read from a closed response body")
	}
	if len(p) == 0 {
		return 0, nil
	}
	// Never ask for more than one byte past the cap.
	if room := b.st.maxResponse + 1 - b.n; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := b.body.Read(p)
	b.n += int64(n)
	if b.n > b.st.maxResponse {
		over := int(b.n - b.st.maxResponse)
		_, _, b.err = b.st.fail(b.e, b.st.tooLarge(), ErrResponseTooLarge, nil)
		return n - over, b.err
	}
	switch {
	case err == io.EOF:
		b.err = io.EOF
	case err != nil:
		reason, kind, cause := b.st.networkError(b.ctx, err)
		if kind == nil {
			reason = "reading the response: " + reason
		}
		_, _, b.err = b.st.fail(b.e, reason, kind, cause)
	}
	return n, b.err
}

func (b *limitedBody) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	err := b.body.Close()
	b.cancel()
	return err
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// redirectMethod follows the Fetch standard: 303 turns anything but HEAD
// into a GET, 301 and 302 turn a POST into a GET, and 307 and 308 keep the
// method and body. When the body is dropped so are the headers describing
// it.
func redirectMethod(code int, method string, body []byte, header http.Header) (string, []byte) {
	toGet := (code == http.StatusSeeOther && method != http.MethodGet && method != http.MethodHead) ||
		((code == http.StatusMovedPermanently || code == http.StatusFound) && method == http.MethodPost)
	if !toGet {
		return method, body
	}
	for _, h := range []string{"Content-Type", "Content-Encoding", "Content-Language", "Content-Location"} {
		header.Del(h)
	}
	return http.MethodGet, nil
}

// forbiddenHeader lists headers a plugin may not set: the HTTP client
// manages them, and some (Host) would let a plugin address a different
// virtual host than the allow-list checked.
var forbiddenHeader = map[string]bool{
	"Host": true, "Connection": true, "Proxy-Connection": true, "Keep-Alive": true,
	"Proxy-Authorization": true, "Proxy-Authenticate": true, "Te": true, "Trailer": true,
	"Transfer-Encoding": true, "Upgrade": true, "Content-Length": true,
}

// sensitiveHeader lists headers that must not follow a redirect to another
// origin, as browsers and net/http do.
var sensitiveHeader = []string{"Authorization", "Cookie", "Cookie2", "Www-Authenticate"}

// sanitize copies the plugin's headers with canonical names (so that a
// lower-case "authorization" is recognised and dropped like any other),
// leaving out the ones a plugin may not set.
func sanitize(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		ck := http.CanonicalHeaderKey(k)
		if forbiddenHeader[ck] {
			continue
		}
		out[ck] = append(out[ck], vs...)
	}
	return out
}

// hopHeader builds one hop's headers. On the plugin's own origin, matching
// credentials replace any header of the same name from the plugin. Once a
// redirect leaves that origin, no credential is sent and the plugin's
// sensitive headers are dropped too.
func (st *state) hopHeader(base http.Header, h, first hop) http.Header {
	out := base.Clone()
	if !h.sameOrigin(first) {
		for _, n := range sensitiveHeader {
			delete(out, n)
		}
		for _, n := range st.credNames {
			delete(out, n)
		}
		return out
	}
	done := map[string]bool{}
	for _, c := range st.creds {
		if done[c.name] || !c.rule.matches(h.scheme, h.host, h.port) {
			continue
		}
		done[c.name] = true
		out[c.name] = []string{c.value}
	}
	return out
}

// validToken reports whether s is an RFC 9110 token (a method or header
// name).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || c <= ' ' || strings.IndexByte("\"(),/:;<=>?@[\\]{}\x7f", c) >= 0 {
			return false
		}
	}
	return true
}

func validHeaderName(s string) bool { return validToken(s) }
