package salesforce

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/plugins/salesforce/soql"
	"github.com/fieldsync/fieldsync/sdk"
)

// Name is the connector's name in Info.
const Name = "salesforce"

// Version is the connector's version in Info.
const Version = "0.1.0"

var (
	_ sdk.Connector     = (*Connector)(nil)
	_ sdk.UsageReporter = (*Connector)(nil)
	_ sdk.Documents     = (*Connector)(nil)

	_ sdk.Factory = Factory
)

// Connector is the sdk.Connector of one Salesforce org. It is safe for
// concurrent use: its mutable state is the session cache, the schema loaded
// once, and counters.
type Connector struct {
	cfg    *config
	auth   *authenticator
	force  *forceClient
	log    hclog.Logger
	closed atomic.Bool

	modelLock chan struct{} // a mutex a context can give up on
	model     *model

	replMu sync.Mutex
	repl   map[string]bool // describeGlobal's replicateable, by object
}

var clientHook atomic.Pointer[func() *http.Client]

// SetHTTPClient makes Factory's connectors take their client from f (nil:
// back to a client of their own). The WASM build calls it with the guest
// SDK's client, whose transport is the host's HTTP function; a
// *http.Client cannot travel in the host's settings.
func SetHTTPClient(f func() *http.Client) {
	if f == nil {
		clientHook.Store(nil)
		return
	}
	clientHook.Store(&f)
}

var defaultClient = &http.Client{}

func hookedClient() *http.Client {
	if f := clientHook.Load(); f != nil {
		if c := (*f)(); c != nil {
			return c
		}
	}
	return defaultClient
}

// Factory is the connector's sdk.Factory. Settings:
//
//	login_url          base of the token endpoint: https://login.salesforce.com,
//	                   https://test.salesforce.com, a My Domain URL, or an emulator (required)
//	grant              password | client_credentials | jwt | refresh_token (required)
//	client_id          connected app's consumer key (required)
//	client_secret      its secret (password, client_credentials; refresh_token when the app needs it)
//	username, password the user (password grant); username is the JWT subject (jwt)
//	private_key        PEM RSA key the connected app's certificate belongs to (jwt)
//	refresh_token      a refresh token of the connected app (refresh_token)
//	api_version        REST API version (default 60.0)
//	batch_size         query batch, 200 to 2000 rows (default 2000)
//	objects            comma list of the objects offered (default Account,Contact,Opportunity)
//	external_id_field  external id field creates upsert by (default FieldsyncId__c)
//	change_id_field    text field that records the last change id written (default FieldsyncChangeId__c)
//	overlap            incremental overlap window, a Go duration (default 5m)
//	retries            resends of a 5xx, 429 or dropped connection (default 4)
//	retry_backoff      first retry's delay, doubled per retry (default 500ms)
//
// Secrets (client_secret, password, private_key, refresh_token) are never
// logged nor put in an error. Factory does not contact the org: a device
// opens its connector offline.
func Factory(ctx context.Context, settings map[string]string, logger hclog.Logger) (sdk.Connector, error) {
	cfg, err := parseSettings(settings)
	if err != nil {
		return nil, err
	}
	return newConnector(cfg, hookedClient, logger)
}

func newConnector(cfg *config, client func() *http.Client, logger hclog.Logger) (*Connector, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	logger = logger.Named(Name)
	routeStandardLog(logger)
	auth, err := newAuthenticator(cfg, client)
	if err != nil {
		return nil, err
	}
	c := &Connector{
		cfg:       cfg,
		auth:      auth,
		log:       logger,
		modelLock: make(chan struct{}, 1),
		force: &forceClient{auth: auth, client: client, apiVersion: cfg.apiVersion,
			retries: cfg.retries, backoff: cfg.backoff, log: logger},
	}
	logger.Debug("configured", "config", cfg.String())
	return c, nil
}

var routeOnce sync.Once

// routeStandardLog sends the standard library logger's output, which
// simpleforce writes to, to the host's logger at debug level, once per
// process, and only when nobody else has redirected it (a host embedding
// the connector keeps its own choice). Nothing simpleforce logs on our
// paths holds a secret (see force.go).
func routeStandardLog(logger hclog.Logger) {
	routeOnce.Do(func() {
		if log.Writer() != os.Stderr {
			return
		}
		log.SetFlags(0)
		log.SetOutput(logger.Named("simpleforce").StandardWriter(&hclog.StandardLoggerOptions{ForceLevel: hclog.Debug}))
	})
}

// usable fails calls after Close and on an ended context.
func (c *Connector) usable(ctx context.Context, what string) error {
	if c.closed.Load() {
		return sdk.Errorf(sdk.Permanent, "salesforce: %s: the connector is closed", what)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("salesforce: %s: %w", what, err)
	}
	return nil
}

// Info implements sdk.Connector.
func (c *Connector) Info(ctx context.Context) (sdk.Info, error) {
	if err := c.usable(ctx, "info"); err != nil {
		return sdk.Info{}, err
	}
	return sdk.Info{
		Name:          Name,
		Version:       Version,
		ProtocolMinor: sdk.ProtocolMinor,
		Capabilities: []sdk.Capability{
			sdk.CapNativeDeletes, sdk.CapUpsertExternalID, sdk.CapServerSideFilters,
			sdk.CapUsage, sdk.CapDocuments, sdk.CapWriteDocuments,
		},
		FilterOps: append([]sdk.FilterOp(nil), soql.Ops...),
	}, nil
}

// Schema implements sdk.Connector: describeGlobal and one describe per
// configured object, read once.
func (c *Connector) Schema(ctx context.Context) (*sdk.Schema, error) {
	if err := c.usable(ctx, "schema"); err != nil {
		return nil, err
	}
	m, err := c.loadModel(ctx)
	if err != nil {
		return nil, err
	}
	out := &sdk.Schema{Entities: make([]sdk.Entity, len(m.schema.Entities))}
	for i, e := range m.schema.Entities {
		e.Fields = append([]sdk.Field(nil), e.Fields...)
		e.Relations = append([]sdk.Relationship(nil), e.Relations...)
		out.Entities[i] = e
	}
	return out, nil
}

// replicateable reports describeGlobal's flag: only replicateable objects
// have the deleted/ resource.
func (c *Connector) replicateable(name string) bool {
	c.replMu.Lock()
	defer c.replMu.Unlock()
	return c.repl[name]
}

// Usage implements sdk.UsageReporter. The org's daily quota (Sforce-Limit-Info)
// has no field in sdk.Usage; it is logged when nine tenths are used and
// named in the REQUEST_LIMIT_EXCEEDED error.
func (c *Connector) Usage(ctx context.Context) (sdk.Usage, error) {
	if err := ctx.Err(); err != nil {
		return sdk.Usage{}, fmt.Errorf("salesforce: usage: %w", err)
	}
	return sdk.Usage{Requests: c.force.requests.Load(), Retries: c.force.retried.Load()}, nil
}

// Close implements sdk.Connector. A second Close answers an error.
func (c *Connector) Close(ctx context.Context) error {
	if c.closed.Swap(true) {
		return sdk.Errorf(sdk.Permanent, "salesforce: already closed")
	}
	return nil
}
