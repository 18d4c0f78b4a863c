package dataverse

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/plugins/dataverse/odata"
	"github.com/fieldsync/fieldsync/sdk"
)

// Name is the connector's name in Info.
const Name = "dataverse"

// Version is the connector's version in Info.
const Version = "0.1.0"

// Limits of the service (PROTOCOLS.md, "Service protection API limits"):
// 52 concurrent requests per user per web server; at most 1000 requests in
// one $batch; at most 5000 rows a page.
const (
	maxConcurrencyLimit = 52
	defaultConcurrency  = 16
	defaultRetries      = 4
	maxBatchRequests    = 1000
	defaultThrottleWait = 5 * time.Minute
)

var (
	_ sdk.Connector      = (*Connector)(nil)
	_ sdk.ChangeChecker  = (*Connector)(nil)
	_ sdk.UsageReporter  = (*Connector)(nil)
	_ sdk.Documents      = (*Connector)(nil)
	_ sdk.DocumentWriter = (*Connector)(nil)
	_ sdk.Factory        = Factory
)

// Options configure New. URL and the credentials are required unless
// TokenSource is set.
type Options struct {
	// URL is the organization's base URL, e.g. https://org.crm.dynamics.com.
	URL string
	// APIVersion is the Web API version in the path (default v9.2).
	APIVersion string
	// Tenant, ClientID and ClientSecret are the app registration's
	// client-credentials grant. The secret is never logged nor put in an
	// error.
	Tenant, ClientID, ClientSecret string
	// TokenURL overrides the Entra ID token endpoint
	// (https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token).
	TokenURL string
	// Scope overrides the token scope (default {URL}/.default).
	Scope string
	// TokenSource, when set, supplies bearer tokens instead of the
	// client-credentials grant (hosts that hold the credentials).
	TokenSource func(ctx context.Context) (string, error)

	// MaxConcurrency bounds requests in flight (default 16, at most 52: the
	// service's own limit per user).
	MaxConcurrency int
	// Retries is how often a request that failed with a 5xx or a dropped
	// connection is sent again, with exponential backoff (default 4;
	// negative: none).
	Retries int
	// MaxThrottleWait bounds the time one request waits out 429s before it
	// fails as Retryable carrying the server's Retry-After (default 5m).
	MaxThrottleWait time.Duration
	// Backoff is the first retry's delay, doubled each time (default
	// 500ms); tests shorten it.
	Backoff time.Duration

	// TDS is host:port of the TDS (SQL) endpoint; when set, full reads go
	// over it (see tds.go). TDSEncrypt is go-mssqldb's encrypt setting
	// ("disable" only for the emulator, which cannot do TLS; default
	// "true"). TDSDatabase names the database (default: the org's host
	// name's first label).
	TDS, TDSEncrypt, TDSDatabase string

	// HTTPClient makes the requests (default: a client of its own).
	HTTPClient *http.Client
	// Logger receives debug lines without secrets (default: none).
	Logger hclog.Logger
}

// Connector is the sdk.Connector of one Dataverse organization. It is safe
// for concurrent use; its only mutable state is the token cache, the usage
// counters and the schema loaded once.
type Connector struct {
	opts   Options
	api    *url.URL // {URL}/api/data/{version}/
	http   *httpClient
	log    hclog.Logger
	closed atomic.Bool

	modelLock chan struct{} // a mutex a context can give up on
	model     *model

	pathsMu sync.Mutex
	paths   map[string]string // entity → "webapi" or "tds", the last full read's path

	tds *tdsReader // nil without the tds setting

	whoMu          sync.Mutex
	whoUser, whoBU string // the calling user and business unit (WhoAmI), once asked
}

// Factory is the connector's sdk.Factory. Settings:
//
//	url               organization base URL, e.g. https://org.crm.dynamics.com (required)
//	tenant            Entra ID tenant (required unless token_url is set)
//	client_id         app registration's client id (required)
//	client_secret     its secret (required; never logged)
//	token_url         token endpoint override (tests: <emulator>/<tenant>/oauth2/v2.0/token)
//	scope             token scope override (default <url>/.default)
//	api_version       Web API version (default v9.2)
//	max_concurrency   requests in flight (default 16, at most 52)
//	retries           resends of a 5xx or a dropped connection (default 4)
//	max_throttle_wait longest wait out of 429s per request, a Go duration (default 5m)
//	tds               host:port of the TDS endpoint; full reads use it when set
//	tds_encrypt       go-mssqldb encrypt value (default true; "disable" for the emulator)
//	tds_database      database name (default: first label of the url's host)
//	retry_backoff     first retry's delay, doubled per retry, a Go duration (default 500ms)
func Factory(ctx context.Context, settings map[string]string, logger hclog.Logger) (sdk.Connector, error) {
	opts := Options{
		URL:          settings["url"],
		APIVersion:   settings["api_version"],
		Tenant:       settings["tenant"],
		ClientID:     settings["client_id"],
		ClientSecret: settings["client_secret"],
		TokenURL:     settings["token_url"],
		Scope:        settings["scope"],
		TDS:          settings["tds"],
		TDSEncrypt:   settings["tds_encrypt"],
		TDSDatabase:  settings["tds_database"],
		Logger:       logger,
		Retries:      defaultRetries,
	}
	intSetting := func(name string, dst *int, min int) error {
		v, ok := settings[name]
		if !ok || strings.TrimSpace(v) == "" {
			return nil
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < min {
			return sdk.Errorf(sdk.Permanent, "dataverse: setting %q = %q is not a whole number of at least %d", name, v, min)
		}
		*dst = n
		return nil
	}
	if err := intSetting("max_concurrency", &opts.MaxConcurrency, 1); err != nil {
		return nil, err
	}
	if err := intSetting("retries", &opts.Retries, 0); err != nil {
		return nil, err
	}
	if v := strings.TrimSpace(settings["max_throttle_wait"]); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return nil, sdk.Errorf(sdk.Permanent, "dataverse: setting \"max_throttle_wait\" = %q is not a duration", v)
		}
		opts.MaxThrottleWait = d
	}
	if v := strings.TrimSpace(settings["retry_backoff"]); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, sdk.Errorf(sdk.Permanent, "dataverse: setting \"retry_backoff\" = %q is not a positive duration", v)
		}
		opts.Backoff = d
	}
	return New(ctx, opts)
}

// New returns a connector. It does not contact the service: a device opens
// its connector offline, and the first call that needs the network says
// whether it is there.
func New(_ context.Context, opts Options) (*Connector, error) {
	base, err := url.Parse(strings.TrimSpace(opts.URL))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, sdk.Errorf(sdk.Permanent, "dataverse: setting \"url\" = %q is not an http(s) URL with a host", opts.URL)
	}
	if base.User != nil {
		return nil, sdk.Errorf(sdk.Permanent, "dataverse: setting \"url\" carries credentials; use client_id and client_secret")
	}
	base.Path = strings.TrimSuffix(base.Path, "/")
	base.RawQuery, base.Fragment = "", ""
	if opts.APIVersion == "" {
		opts.APIVersion = "v9.2"
	}
	if opts.MaxConcurrency <= 0 {
		opts.MaxConcurrency = defaultConcurrency
	}
	if opts.MaxConcurrency > maxConcurrencyLimit {
		opts.MaxConcurrency = maxConcurrencyLimit
	}
	if opts.MaxThrottleWait <= 0 {
		opts.MaxThrottleWait = defaultThrottleWait
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 500 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	opts.URL = base.String()
	if checkName(strings.ReplaceAll(opts.APIVersion, ".", "_")) != nil {
		return nil, sdk.Errorf(sdk.Permanent, "dataverse: setting \"api_version\" = %q is not a version like v9.2", opts.APIVersion)
	}
	api := *base
	api.Path = base.Path + "/api/data/" + opts.APIVersion + "/"

	tokens := opts.TokenSource
	var invalidate func()
	if tokens == nil {
		cache, err := newTokenCache(opts, opts.HTTPClient)
		if err != nil {
			return nil, err
		}
		tokens, invalidate = cache.token, cache.invalidate
	}
	log := opts.Logger.Named("dataverse")
	c := &Connector{
		opts:      opts,
		api:       &api,
		log:       log,
		paths:     map[string]string{},
		modelLock: make(chan struct{}, 1),
		http:      newHTTPClient(&api, opts, tokens, log),
	}
	c.http.invalidate = invalidate
	if opts.TDS != "" {
		if c.tds, err = newTDSReader(c, opts, tokens); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Info names the connector and lists what it offers.
func (c *Connector) Info(ctx context.Context) (sdk.Info, error) {
	if err := ctx.Err(); err != nil {
		return sdk.Info{}, fmt.Errorf("dataverse: info: %w", err)
	}
	caps := []sdk.Capability{
		sdk.CapServerSideFilters, sdk.CapNativeDeletes, sdk.CapClientIDs, sdk.CapBatchChangeCheck,
		sdk.CapUsage, sdk.CapDocuments, sdk.CapWriteDocuments,
	}
	if c.tds != nil {
		caps = append(caps, sdk.CapTDS)
	}
	return sdk.Info{Name: Name, Version: Version, ProtocolMinor: sdk.ProtocolMinor, Capabilities: caps, FilterOps: odata.Ops}, nil
}

// Close releases idle connections and the TDS pool. A second Close is
// harmless.
func (c *Connector) Close(context.Context) error {
	if c.closed.Swap(true) {
		return nil
	}
	if c.tds != nil {
		c.tds.close()
	}
	c.opts.HTTPClient.CloseIdleConnections()
	return nil
}

// setPath records how an entity's last full read reached the service.
func (c *Connector) setPath(entity, path string) {
	c.pathsMu.Lock()
	c.paths[entity] = path
	c.pathsMu.Unlock()
}
