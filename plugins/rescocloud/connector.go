package rescocloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/plugins/rescocloud/wire"
	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/fetchxml"
)

// Name is the connector's name in Info.
const Name = "rescocloud"

// Version is the connector's version in Info.
const Version = "0.1.0"

// Defaults and bounds of the settings.
const (
	DefaultPageSize     = 5000
	DefaultBatchSize    = 1000
	DefaultRetries      = 5
	DefaultRetryBackoff = 500 * time.Millisecond
	// MaxThrottleWait caps one 429 wait, whatever Retry-After says.
	MaxThrottleWait = 5 * time.Minute
	// maxBackoff caps the wait between retries of a failed request.
	maxBackoff = 30 * time.Second
	// binaryPageSize bounds a page that carries binary columns (document
	// bodies can be megabytes each).
	binaryPageSize = 50
)

// Auth modes of the "auth" setting.
const (
	AuthHost   = "host"   // the host adds Authorization (the WASM build)
	AuthBasic  = "basic"  // Authorization: Basic from username/password
	AuthBearer = "bearer" // OAuth token from token_url, password or client_credentials grant
)

var (
	clientHook      atomic.Pointer[func() *http.Client]
	hostAuthOnlyVal atomic.Bool
)

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

// RequireHostAuth makes Factory refuse any auth mode but "host" and any
// credential setting: the WASM build calls it, so a guest never holds a
// password or client secret (the host injects the Authorization header).
func RequireHostAuth() { hostAuthOnlyVal.Store(true) }

func hookedClient() *http.Client {
	if f := clientHook.Load(); f != nil {
		if c := (*f)(); c != nil {
			return c
		}
	}
	return http.DefaultClient
}

// Config configures a Connector. Factory builds one from settings.
type Config struct {
	// URL is the organization's base URL (https://{org}.app.resco.net); the
	// data service is under /rest/v1/data/.
	URL string
	// Auth is AuthHost, AuthBasic or AuthBearer.
	Auth string
	// Username and Password: basic auth, or the OAuth password grant.
	Username, Password string
	// ClientID and ClientSecret: the OAuth client (bearer).
	ClientID, ClientSecret string
	// TokenURL is the OAuth token endpoint (default {URL}/oauth/token).
	TokenURL string
	// PageSize is the largest FetchXML page (≤ 5000).
	PageSize int
	// BatchSize is the most records of one *Multiple call (≤ 1000).
	BatchSize int
	// Retries is how many times a failed request is sent again.
	Retries int
	// RetryBackoff is the first wait before a retry; it doubles each time.
	RetryBackoff time.Duration
	// Client makes the requests (nil: the SetHTTPClient hook, else
	// http.DefaultClient).
	Client *http.Client
	// Logger receives the connector's logs (nil: none).
	Logger hclog.Logger
}

// Factory opens a connector from the host's settings: url (required), auth
// (host|basic|bearer; default: basic with username, bearer with client_id,
// else host), username, password, client_id, client_secret, token_url,
// page_size (≤ 5000, default 5000), batch_size (≤ 1000, default 1000),
// retries (default 5), retry_backoff (a Go duration, default 500ms).
func Factory(ctx context.Context, settings map[string]string, logger hclog.Logger) (sdk.Connector, error) {
	cfg, err := ParseSettings(settings)
	if err != nil {
		return nil, err
	}
	cfg.Logger = logger
	return New(ctx, cfg)
}

var knownSettings = map[string]bool{
	"url": true, "auth": true, "username": true, "password": true, "client_id": true,
	"client_secret": true, "token_url": true, "page_size": true, "batch_size": true,
	"retries": true, "retry_backoff": true,
}

// ParseSettings reads Factory's settings into a Config. Errors name the
// setting, never its value (which may be a secret).
func ParseSettings(s map[string]string) (Config, error) {
	cfg := Config{
		URL: strings.TrimSpace(s["url"]), Auth: strings.ToLower(strings.TrimSpace(s["auth"])),
		Username: s["username"], Password: s["password"],
		ClientID: s["client_id"], ClientSecret: s["client_secret"],
		TokenURL: strings.TrimSpace(s["token_url"]),
	}
	for k := range s {
		if !knownSettings[k] {
			return Config{}, sdk.Errorf(sdk.Permanent, "rescocloud: unknown setting %q", k)
		}
	}
	var err error
	if cfg.PageSize, err = intSetting(s, "page_size", DefaultPageSize, 1, wire.MaxFetchCount); err != nil {
		return Config{}, err
	}
	if cfg.BatchSize, err = intSetting(s, "batch_size", DefaultBatchSize, 1, wire.MaxBatch); err != nil {
		return Config{}, err
	}
	if cfg.Retries, err = intSetting(s, "retries", DefaultRetries, 0, 20); err != nil {
		return Config{}, err
	}
	cfg.RetryBackoff = DefaultRetryBackoff
	if v := strings.TrimSpace(s["retry_backoff"]); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > time.Minute {
			return Config{}, sdk.Errorf(sdk.Permanent, "rescocloud: setting retry_backoff must be a duration between 0 and 1m (like 500ms)")
		}
		cfg.RetryBackoff = d
	}
	return cfg, nil
}

func intSetting(s map[string]string, name string, def, lo, hi int) (int, error) {
	v := strings.TrimSpace(s[name])
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, sdk.Errorf(sdk.Permanent, "rescocloud: setting %s must be an integer from %d to %d", name, lo, hi)
	}
	return n, nil
}

// Connector is the Resco Cloud connector. It is safe for concurrent use.
type Connector struct {
	cfg    Config
	log    hclog.Logger
	http   *httpClient
	closed atomic.Bool

	mu     sync.Mutex
	model  *model // schema, loaded once
	whoAmI *wire.WhoAmIResponse
}

var (
	_ sdk.Connector      = (*Connector)(nil)
	_ sdk.ChangeChecker  = (*Connector)(nil)
	_ sdk.UsageReporter  = (*Connector)(nil)
	_ sdk.Documents      = (*Connector)(nil)
	_ sdk.DocumentWriter = (*Connector)(nil)
)

// New checks cfg and opens a connector. It makes no request: the first
// call that needs the service authenticates and reads WhoAmI and Metadata.
func New(ctx context.Context, cfg Config) (*Connector, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	base, err := baseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Auth == "" {
		switch {
		case cfg.ClientID != "":
			cfg.Auth = AuthBearer
		case cfg.Username != "":
			cfg.Auth = AuthBasic
		default:
			cfg.Auth = AuthHost
		}
	}
	if hostAuthOnlyVal.Load() {
		if cfg.Auth != AuthHost || cfg.Password != "" || cfg.ClientSecret != "" {
			return nil, sdk.Errorf(sdk.Permanent, "rescocloud: this build takes no credentials (auth must be %q): the host adds the Authorization header", AuthHost)
		}
	}
	var auth authorizer
	switch cfg.Auth {
	case AuthHost:
		auth = noAuth{}
	case AuthBasic:
		if cfg.Username == "" || cfg.Password == "" {
			return nil, sdk.Errorf(sdk.Permanent, "rescocloud: auth %q needs the username and password settings", AuthBasic)
		}
		auth = basicAuth{user: cfg.Username, pass: cfg.Password}
	case AuthBearer:
		tokenURL := cfg.TokenURL
		if tokenURL == "" {
			tokenURL = base.String() + wire.TokenPath
		} else if u, err := url.Parse(tokenURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, sdk.Errorf(sdk.Permanent, "rescocloud: setting token_url must be an absolute http(s) URL")
		}
		ts, err := newTokenSource(tokenURL, cfg)
		if err != nil {
			return nil, err
		}
		auth = ts
	default:
		return nil, sdk.Errorf(sdk.Permanent, "rescocloud: setting auth must be %q, %q or %q", AuthHost, AuthBasic, AuthBearer)
	}
	if cfg.PageSize <= 0 || cfg.PageSize > wire.MaxFetchCount {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.BatchSize <= 0 || cfg.BatchSize > wire.MaxBatch {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.Retries < 0 {
		cfg.Retries = 0
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = DefaultRetryBackoff
	}
	client := cfg.Client
	if client == nil {
		client = hookedClient()
	}
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	log = log.Named(Name)
	c := &Connector{cfg: cfg, log: log}
	c.http = &httpClient{
		client: client, base: base.String() + wire.DataPath, auth: auth, log: log,
		retries: cfg.Retries, backoff: cfg.RetryBackoff,
	}
	if ts, ok := auth.(*tokenSource); ok {
		ts.hc = c.http
	}
	log.Debug("configured", "url", base.Redacted(), "auth", cfg.Auth, "page_size", cfg.PageSize, "batch_size", cfg.BatchSize)
	return c, nil
}

// baseURL checks the url setting: absolute http(s), no credentials, no
// query; a trailing /rest/v1/data is dropped.
func baseURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, sdk.Errorf(sdk.Permanent, "rescocloud: setting url is required (https://{org}.app.resco.net)")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, sdk.Errorf(sdk.Permanent, "rescocloud: setting url must be an absolute http(s) URL")
	}
	if u.User != nil {
		return nil, sdk.Errorf(sdk.Permanent, "rescocloud: setting url must not carry credentials; use username and password")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, sdk.Errorf(sdk.Permanent, "rescocloud: setting url must not have a query or fragment")
	}
	u.Path = strings.TrimSuffix(strings.TrimRight(u.Path, "/"), "/rest/v1/data")
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// Info names the connector and its capabilities.
func (c *Connector) Info(ctx context.Context) (sdk.Info, error) {
	caps := []sdk.Capability{
		sdk.CapBatchChangeCheck, sdk.CapNativeDeletes, sdk.CapClientIDs,
		sdk.CapServerSideFilters, sdk.CapUsage, sdk.CapDocuments, sdk.CapWriteDocuments,
	}
	return sdk.Info{
		Name: Name, Version: Version, ProtocolMinor: sdk.ProtocolMinor,
		Capabilities: caps, FilterOps: append([]sdk.FilterOp(nil), fetchxml.Ops...),
	}, nil
}

// Close releases nothing but marks the connector closed; calls after it
// fail. A second Close is harmless.
func (c *Connector) Close(ctx context.Context) error {
	c.closed.Store(true)
	return nil
}

func (c *Connector) check(ctx context.Context, what string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("rescocloud: %s: %w", what, err)
	}
	if c.closed.Load() {
		return sdk.Errorf(sdk.Permanent, "rescocloud: %s: connector is closed", what)
	}
	return nil
}

// Usage reports the requests, throttled time and retries since New.
func (c *Connector) Usage(ctx context.Context) (sdk.Usage, error) {
	return sdk.Usage{
		Requests:    c.http.requests.Load(),
		ThrottledMs: c.http.throttledMs.Load(),
		Retries:     c.http.retries_.Load(),
	}, nil
}

// WhoAmI returns the calling user as the service reports it, asking once.
// User operators of filters are evaluated by the service, so this is
// informational (logged at the first call) and a check of the credentials.
func (c *Connector) WhoAmI(ctx context.Context) (*wire.WhoAmIResponse, error) {
	c.mu.Lock()
	w := c.whoAmI
	c.mu.Unlock()
	if w != nil {
		return w, nil
	}
	resp, err := c.http.do(ctx, request{method: http.MethodGet, path: wire.PathWhoAmI, what: "WhoAmI"})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	w, err = wire.DecodeWhoAmI(resp.Body)
	if err != nil {
		return nil, badAnswer("WhoAmI", err)
	}
	c.mu.Lock()
	c.whoAmI = w
	c.mu.Unlock()
	c.log.Debug("signed in", "user", w.UserId, "business_unit", w.BusinessUnitId, "teams", len(w.TeamIds))
	return w, nil
}

// badAnswer wraps a decoding failure of a server answer. A body cut short
// is retryable; an answer that does not follow the protocol is permanent
// (asking again gets the same answer), and the message says what was wrong.
func badAnswer(what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("rescocloud: %s: %w", what, err)
	}
	kind := sdk.Permanent
	if errors.Is(err, io.ErrUnexpectedEOF) {
		kind = sdk.Retryable
	}
	return &sdk.Error{Kind: kind, Message: fmt.Sprintf("rescocloud: %s: bad answer from the service: %v", what, err), Err: err}
}
