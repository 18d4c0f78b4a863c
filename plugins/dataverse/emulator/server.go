package emulator

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"github.com/fieldsync/fieldsync/plugins/dataverse/emulator/tds"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// APIPath is the Web API's base path.
const APIPath = "/api/data/v9.2/"

// Defaults of Options, from Microsoft's documentation (see PROTOCOLS.md).
const (
	DefaultMaxPageSize        = 5000
	DefaultTokenLifetime      = 3599 * time.Second
	DefaultDeltaTokenLifetime = 7 * 24 * time.Hour
	DefaultRequestsPerWindow  = 6000
	DefaultConcurrentRequests = 52
	DefaultWindow             = 5 * time.Minute
	DefaultExecutionTime      = 20 * time.Minute
	DefaultMaxUploadFileSize  = 5 * 1024 * 1024 // bytes of base64, as Dataverse counts
	MaxBatchRequests          = 1000
	DefaultClientID           = "00000000-0000-0000-0000-00000000c11e"
	DefaultClientSecret       = "emulator-secret"
)

// Client is an app registration the token endpoint accepts.
type Client struct {
	ID     string
	Secret string
}

// Limits are the service protection limits, per user (Microsoft: "Service
// protection API limits"). A zero field takes its default; a negative one
// turns that limit off.
type Limits struct {
	Requests      int           // per window (6000)
	Concurrent    int           // at once (52)
	Window        time.Duration // sliding window (5 minutes)
	ExecutionTime time.Duration // combined per window (20 minutes)
}

// Options configure New. Path is required; every other zero value takes a
// documented default.
type Options struct {
	// Path is the SQLite file: created and laid out when missing.
	Path string
	// OrgURL is the organization's base URL as links and @odata.context
	// show it ("https://contoso.crm.dynamics.com"); empty: the scheme and
	// Host of each request, so links point back at the emulator.
	OrgURL string
	// Tenant is the only tenant the token endpoint accepts; empty: any.
	Tenant string
	// Clients are the client id/secret pairs the token endpoint accepts;
	// nil: DefaultClientID / DefaultClientSecret. Each gets an application
	// user (systemuser) on first start.
	Clients []Client
	// TokenLifetime is how long an access token lives (3599 s).
	TokenLifetime time.Duration
	// MaxPageSize caps odata.maxpagesize and is the default page (5000).
	MaxPageSize int
	// Limits are the service protection limits.
	Limits Limits
	// DeltaTokenLifetime is how old a delta token may be (7 days).
	DeltaTokenLifetime time.Duration
	// MaxUploadFileSize caps a note's document as base64 text (5 MB;
	// Dataverse allows up to 128 MB).
	MaxUploadFileSize int64
	// CountLimit caps $count and /$count (5000, as documented); negative:
	// no cap.
	CountLimit int
	// PoolSize is the number of SQLite connections (8). Each request holds
	// one while it runs.
	PoolSize int
	// RequestLogSize is how many requests the log keeps (100,000).
	RequestLogSize int
	// Logger receives the emulator's logs; nil: none.
	Logger hclog.Logger
	// Now is the clock (tests move it); nil: time.Now.
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.TokenLifetime <= 0 {
		o.TokenLifetime = DefaultTokenLifetime
	}
	if o.MaxPageSize <= 0 || o.MaxPageSize > DefaultMaxPageSize {
		o.MaxPageSize = DefaultMaxPageSize
	}
	if o.Limits.Requests == 0 {
		o.Limits.Requests = DefaultRequestsPerWindow
	}
	if o.Limits.Concurrent == 0 {
		o.Limits.Concurrent = DefaultConcurrentRequests
	}
	if o.Limits.Window <= 0 {
		o.Limits.Window = DefaultWindow
	}
	if o.Limits.ExecutionTime == 0 {
		o.Limits.ExecutionTime = DefaultExecutionTime
	}
	if o.DeltaTokenLifetime <= 0 {
		o.DeltaTokenLifetime = DefaultDeltaTokenLifetime
	}
	if o.MaxUploadFileSize <= 0 {
		o.MaxUploadFileSize = DefaultMaxUploadFileSize
	}
	if o.CountLimit == 0 {
		o.CountLimit = 5000
	}
	if o.RequestLogSize <= 0 {
		o.RequestLogSize = 100_000
	}
	if len(o.Clients) == 0 {
		o.Clients = []Client{{ID: DefaultClientID, Secret: DefaultClientSecret}}
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.OrgURL = strings.TrimRight(o.OrgURL, "/")
}

// Server is one emulated Dataverse organization: its Web API, token
// endpoint and admin endpoints, over one SQLite store.
type Server struct {
	opts    Options
	log     hclog.Logger
	store   *Store
	key     []byte // signs access tokens and download tokens
	orgID   string
	buID    string
	users   map[string]*principal // by client id
	byUser  map[string]*principal // by systemuserid
	limits  *limiter
	reqlog  *requestLog
	handler http.Handler

	mu          sync.Mutex
	faults      Faults
	tokensAfter time.Time // tokens issued before are refused (ExpireAccessTokens)
	srvs        []*http.Server
	tds         *tds.Server // the TDS endpoint, once ServeTDS ran
}

// principal is a user the emulator knows: an application user per client.
type principal struct {
	clientID       string
	userID         string
	businessUnitID string
}

// New opens (or creates and lays out) the store and builds the server.
func New(opts Options) (*Server, error) {
	opts.defaults()
	ctx := context.Background()
	st, err := OpenStore(ctx, opts.Path, opts.PoolSize)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, log: opts.Logger, store: st, users: map[string]*principal{}, byUser: map[string]*principal{}}
	s.key = make([]byte, 32)
	if _, err := rand.Read(s.key); err != nil {
		st.Close()
		return nil, err
	}
	if err := s.init(ctx); err != nil {
		st.Close()
		return nil, err
	}
	s.limits = newLimiter(opts.Limits)
	s.reqlog = newRequestLog(opts.RequestLogSize)
	s.handler = s.routes()
	return s, nil
}

// appUserID is the systemuserid of a client's application user: derived
// from the client id, so it is the same in every store.
func appUserID(clientID string) string {
	sum := sha256.Sum256([]byte("fieldsync-emulator-app-user:" + clientID))
	var b [16]byte
	copy(b[:], sum[:16])
	return formatGUID(b)
}

func (s *Server) init(ctx context.Context) error {
	c, err := s.store.pool.get(ctx)
	if err != nil {
		return err
	}
	defer s.store.pool.put(c)
	if s.orgID, err = c.meta("organizationid"); err != nil {
		return err
	}
	if s.buID, err = c.meta("businessunitid"); err != nil {
		return err
	}
	return c.withTx(func() error {
		for _, cl := range s.opts.Clients {
			if cl.ID == "" {
				return errors.New("emulator: a client needs an id")
			}
			p := &principal{clientID: cl.ID, userID: appUserID(cl.ID), businessUnitID: s.buID}
			n, _, err := c.queryInt(`SELECT count(*) FROM systemuser WHERE systemuserid = ?1`, p.userID)
			if err != nil {
				return err
			}
			if n == 0 {
				appID, _ := parseGUID(cl.ID)
				var app any
				if appID != "" {
					app = appID
				}
				name := "# " + cl.ID
				if err := c.exec(`INSERT INTO systemuser (systemuserid, firstname, lastname, fullname, domainname,
					applicationid, isdisabled, _businessunitid_value) VALUES (?1, '#', ?2, ?3, ?4, ?5, 0, ?6)`,
					p.userID, cl.ID, name, cl.ID+"@emulator", app, s.buID); err != nil {
					return err
				}
			} else {
				bu, _, err := c.queryText(`SELECT _businessunitid_value FROM systemuser WHERE systemuserid = ?1`, p.userID)
				if err != nil {
					return err
				}
				if bu != "" {
					p.businessUnitID = bu
				}
			}
			s.users[cl.ID] = p
			s.byUser[p.userID] = p
		}
		return nil
	})
}

// Store is the server's SQLite store (plain SQL, Seed, the table layout).
func (s *Server) Store() *Store { return s.store }

// OrganizationID is the organization's id (WhoAmI's OrganizationId).
func (s *Server) OrganizationID() string { return s.orgID }

// UserID returns the systemuserid of a client's application user.
func (s *Server) UserID(clientID string) (string, bool) {
	p := s.users[clientID]
	if p == nil {
		return "", false
	}
	return p.userID, true
}

// Handler serves the token endpoint (/{tenant}/oauth2/v2.0/token), the Web
// API (/api/data/v9.2/) and the admin endpoints (/_emulator/).
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves the handler on l until Close.
func (s *Server) Serve(l net.Listener) error {
	hs := &http.Server{Handler: s.handler, ReadHeaderTimeout: 30 * time.Second}
	s.mu.Lock()
	s.srvs = append(s.srvs, hs)
	s.mu.Unlock()
	err := hs.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops the servers Serve started and closes the store.
func (s *Server) Close() error {
	s.mu.Lock()
	srvs := s.srvs
	s.srvs = nil
	tdsSrv := s.tds
	s.tds = nil
	s.mu.Unlock()
	var errs []error
	if tdsSrv != nil {
		errs = append(errs, tdsSrv.Close())
	}
	for _, hs := range srvs {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := hs.Shutdown(ctx); err != nil {
			errs = append(errs, hs.Close())
		}
		cancel()
	}
	errs = append(errs, s.store.Close())
	return errors.Join(errs...)
}

func (s *Server) now() time.Time { return s.opts.Now() }

// baseURL is the organization URL for links in a response to r.
func (s *Server) baseURL(r *http.Request) string {
	if s.opts.OrgURL != "" {
		return s.opts.OrgURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) routes() http.Handler {
	return s.logged(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case strings.HasPrefix(p, APIPath) || p == strings.TrimSuffix(APIPath, "/"):
			s.serveAPI(w, r)
		case strings.HasPrefix(p, "/_emulator/"):
			s.serveAdmin(w, r)
		case strings.HasSuffix(p, "/oauth2/v2.0/token") && strings.Count(p, "/") == 4:
			if r.Method != http.MethodPost {
				w.Header().Set("Allow", "POST")
				w.WriteHeader(http.StatusMethodNotAllowed)
				return
			}
			s.serveToken(w, r, strings.Split(p, "/")[1])
		default:
			http.NotFound(w, r)
		}
	}))
}

// serveAPI is the Web API: faults, authentication, service protection,
// then the request itself.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	if s.injectFault(w, r) {
		return
	}
	p, ok := s.authenticate(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf("Bearer authorization_uri=https://login.microsoftonline.com/%s/oauth2/authorize, resource_id=%s/",
			s.tenantOrCommon(), s.baseURL(r)))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if lw, ok := w.(*loggedWriter); ok {
		lw.user = p.userID
	}
	done, e := s.limits.admit(p.userID, s.now())
	if e != nil {
		writeError(w, e)
		return
	}
	start := time.Now()
	defer func() { done(time.Since(start)) }()
	s.limits.headers(w.Header(), p.userID, s.now())
	k := &call{s: s, ctx: r.Context(), user: p, base: s.baseURL(r)}
	k.serve(w, r)
}

func (s *Server) tenantOrCommon() string {
	if s.opts.Tenant != "" {
		return s.opts.Tenant
	}
	return "common"
}

// call is one API request (or one part of a $batch): the user, the
// connection it holds, and the batch's Content-ID references.
type call struct {
	s    *Server
	ctx  context.Context
	user *principal
	base string

	c        *conn // held for the whole call (a $batch shares one)
	inTx     bool  // a change set's write transaction is open on c
	refs     map[string]string
	prefetch bool
}

func (k *call) scope() scope {
	return scope{userID: k.user.userID, businessUnitID: k.user.businessUnitID, now: k.s.now()}
}

// conn returns the call's connection, taking one from the pool at first
// use.
func (k *call) conn() (*conn, error) {
	if k.c == nil {
		c, err := k.s.store.pool.get(k.ctx)
		if err != nil {
			return nil, err
		}
		k.c = c
	}
	return k.c, nil
}

func (k *call) release() {
	if k.c != nil {
		k.s.store.pool.put(k.c)
		k.c = nil
	}
}

// write runs fn in a write transaction, or inside the change set's.
func (k *call) write(fn func(c *conn) error) error {
	c, err := k.conn()
	if err != nil {
		return err
	}
	if k.inTx {
		return fn(c)
	}
	return c.withTx(func() error { return fn(c) })
}

// serve dispatches one API request.
func (k *call) serve(w http.ResponseWriter, r *http.Request) {
	defer k.release()
	if err := k.dispatch(w, r); err != nil {
		var es errStreamed
		if errors.As(err, &es) {
			// The status line is out: abort so the client sees a broken
			// response rather than a truncated one that parses.
			k.s.log.Warn("response aborted", "path", r.URL.Path, "error", es.err)
			panic(http.ErrAbortHandler)
		}
		k.fail(w, err)
	}
}

// fail writes err as the API's error response.
func (k *call) fail(w http.ResponseWriter, err error) {
	var e *apiError
	if !errors.As(err, &e) {
		if k.ctx.Err() != nil {
			return // the client went away
		}
		k.s.log.Error("request failed", "error", err)
		e = internalError(err)
	}
	writeError(w, e)
}

// errStreamed reports a failure after the response began: the connection
// is aborted so the client sees a broken response, not a truncated one
// that parses.
type errStreamed struct{ err error }

func (e errStreamed) Error() string { return "response aborted: " + e.err.Error() }
func (e errStreamed) Unwrap() error { return e.err }

func (k *call) dispatch(w http.ResponseWriter, r *http.Request) error {
	path := strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(APIPath, "/"))
	path = strings.TrimPrefix(path, "/")
	switch {
	case path == "":
		if r.Method != http.MethodGet {
			return methodNotAllowed(r.Method, "/")
		}
		return k.serviceDocument(w)
	case path == "$metadata":
		if r.Method != http.MethodGet {
			return methodNotAllowed(r.Method, path)
		}
		return k.metadata(w, r)
	case path == "$batch":
		if r.Method != http.MethodPost {
			return methodNotAllowed(r.Method, path)
		}
		return k.batch(w, r)
	case path == "WhoAmI" || path == "WhoAmI()":
		if r.Method != http.MethodGet {
			return methodNotAllowed(r.Method, path)
		}
		return k.whoAmI(w)
	case strings.HasPrefix(path, "RetrieveTotalRecordCount("):
		return k.totalRecordCount(w, r, path)
	}
	if fn := actions[path]; fn != nil {
		if r.Method != http.MethodPost {
			return methodNotAllowed(r.Method, path)
		}
		return fn(k, w, r)
	}
	return k.resource(w, r, path)
}

// resource serves {set}, {set}/$count, {set}({id}), {set}({id})/{prop},
// {set}({id})/{prop}/$value and {set}({id})/{nav}/$ref.
func (k *call) resource(w http.ResponseWriter, r *http.Request, path string) error {
	segs := strings.Split(path, "/")
	head := segs[0]
	set, key, hasKey := head, "", false
	if i := strings.IndexByte(head, '('); i >= 0 {
		if !strings.HasSuffix(head, ")") {
			return segmentNotFound(head)
		}
		set, key, hasKey = head[:i], head[i+1:len(head)-1], true
	}
	e := entityBySet(set)
	if e == nil {
		return segmentNotFound(set)
	}
	var id string
	if hasKey {
		key = strings.TrimPrefix(key, e.PrimaryKey+"=")
		g, ok := parseGUID(key)
		if !ok {
			return badRequest(codeQuery, fmt.Sprintf("Bad Request - Error in query syntax: '%s' is not a valid key of %s.", key, set))
		}
		id = g
	}
	rest := segs[1:]
	switch {
	case !hasKey && len(rest) == 0:
		switch r.Method {
		case http.MethodGet:
			return k.collection(w, r, e)
		case http.MethodPost:
			return k.create(w, r, e)
		}
		return methodNotAllowed(r.Method, path)
	case !hasKey && len(rest) == 1 && rest[0] == "$count":
		if r.Method != http.MethodGet {
			return methodNotAllowed(r.Method, path)
		}
		return k.count(w, r, e)
	case hasKey && len(rest) == 0:
		switch r.Method {
		case http.MethodGet:
			return k.retrieve(w, r, e, id)
		case http.MethodPatch:
			return k.upsert(w, r, e, id)
		case http.MethodDelete:
			return k.remove(w, r, e, id)
		}
		return methodNotAllowed(r.Method, path)
	case hasKey && len(rest) == 1:
		return k.property(w, r, e, id, rest[0], false)
	case hasKey && len(rest) == 2 && rest[1] == "$value":
		return k.property(w, r, e, id, rest[0], true)
	case hasKey && len(rest) == 2 && rest[1] == "$ref":
		return k.reference(w, r, e, id, rest[0])
	}
	return segmentNotFound(strings.Join(rest, "/"))
}

// odataHeaders sets the headers every JSON answer carries.
func odataHeaders(h http.Header) {
	h.Set("Content-Type", "application/json; odata.metadata=minimal; odata.streaming=true")
	h.Set("OData-Version", "4.0")
}

func (k *call) serviceDocument(w http.ResponseWriter) error {
	b := []byte(`{"@odata.context":`)
	b = appendJSONString(b, k.base+APIPath+"$metadata")
	b = append(b, `,"value":[`...)
	for i, n := range entityOrder {
		if i > 0 {
			b = append(b, ',')
		}
		set := model[n].SetName
		b = append(b, `{"name":"`+set+`","kind":"EntitySet","url":"`+set+`"}`...)
	}
	b = append(b, "]}"...)
	odataHeaders(w.Header())
	w.Write(b)
	return nil
}
