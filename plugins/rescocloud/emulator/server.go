package emulator

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/ncruces/go-sqlite3"
)

// Defaults of a new organization.
const (
	DefaultUsername     = "admin@fieldsync.test"
	DefaultPassword     = "fieldsync-emulator"
	DefaultClientID     = "fieldsync-client"
	DefaultClientSecret = "fieldsync-client-secret"

	// APIPath is where the data service lives under the base URL.
	APIPath = "/rest/v1/data/"
	// TokenPath is the OAuth token endpoint.
	TokenPath = "/oauth/token"

	defaultRequestLimit = 6000
	limitWindow         = 5 * time.Minute
	tokenLifetime       = time.Hour
)

// Options configure a Server.
type Options struct {
	// Path is the SQLite file; empty keeps the database in memory.
	Path string
	// Logger receives the server's log (hclog.NewNullLogger when nil).
	Logger hclog.Logger
	// RequestLimit is the requests one user may make in 5 minutes
	// (default 6000; negative turns the limit off).
	RequestLimit int
	// ChangeRetention is how long RetrieveChanges keeps removals
	// (default 90 days); RequestRetention how long applied RequestIds are
	// remembered (default 7 days).
	ChangeRetention, RequestRetention time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Server is an emulated Resco Cloud organization.
type Server struct {
	opts   Options
	log    hclog.Logger
	now    func() time.Time
	faults Faults

	mu sync.Mutex // guards db
	db *sqlite3.Conn

	orgID string

	authMu sync.Mutex
	tokens map[string]token
	window map[string][]time.Time // user id → request times in the window

	logMu    sync.Mutex
	requests []Request
	count    atomic.Int64

	httpMu sync.Mutex
	srvs   []*http.Server
	closed bool
}

type token struct {
	userID  string
	expires time.Time
}

// Request is one served request, as Requests reports it.
type Request struct {
	Method string
	Path   string
	Status int
}

// New opens (or creates) the organization at opts.Path.
func New(opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RequestLimit == 0 {
		opts.RequestLimit = defaultRequestLimit
	}
	if opts.ChangeRetention <= 0 {
		opts.ChangeRetention = 90 * 24 * time.Hour
	}
	if opts.RequestRetention <= 0 {
		opts.RequestRetention = 7 * 24 * time.Hour
	}
	s := &Server{opts: opts, log: opts.Logger.Named("rescocloud-emulator"), now: opts.Now,
		tokens: map[string]token{}, window: map[string][]time.Time{}}
	if err := s.open(opts.Path); err != nil {
		if s.db != nil {
			s.db.Close()
		}
		return nil, err
	}
	if err := s.bootstrap(); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// bootstrap creates the organization, its root business unit and the
// default user when the database is new.
func (s *Server) bootstrap() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	org, err := s.meta("organizationid")
	if err != nil {
		return err
	}
	if org != "" {
		s.orgID = org
		return nil
	}
	return s.withTx(func() error {
		s.orgID = newGUID()
		bu := newGUID()
		if err := s.setMeta("organizationid", s.orgID); err != nil {
			return err
		}
		if err := s.setMeta("rootbusinessunit", bu); err != nil {
			return err
		}
		if err := s.exec(`INSERT INTO businessunit (businessunitid, name) VALUES (?, ?)`, bu, "FieldSync Test Org"); err != nil {
			return err
		}
		_, err := s.addUser(DefaultUsername, DefaultPassword, "Admin", bu)
		return err
	})
}

func hashPassword(p string) string {
	h := sha256.Sum256([]byte("fieldsync-rescocloud-emulator\x00" + p))
	return hex.EncodeToString(h[:])
}

// addUser inserts a systemuser. Callers hold s.mu.
func (s *Server) addUser(username, password, last, bu string) (string, error) {
	id := newGUID()
	err := s.exec(`INSERT INTO systemuser (systemuserid, domainname, lastname, fullname, internalemailaddress, businessunitid, isdisabled, _passhash)
		VALUES (?, ?, ?, ?, ?, ?, 0, ?)`, id, username, last, last, username, bu, hashPassword(password))
	return id, err
}

// AddUser adds a user of the root business unit with the given password,
// a member of the named teams (created when missing), and returns its id.
func (s *Server) AddUser(username, password string, teams ...string) (string, error) {
	if username == "" {
		return "", errors.New("emulator: AddUser needs a username")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var id string
	err := s.withTx(func() error {
		if _, ok, err := s.queryText(`SELECT systemuserid FROM systemuser WHERE domainname = ?`, username); err != nil {
			return err
		} else if ok {
			return errors.New("emulator: user " + username + " exists")
		}
		bu, err := s.meta("rootbusinessunit")
		if err != nil {
			return err
		}
		if id, err = s.addUser(username, password, username, bu); err != nil {
			return err
		}
		for _, t := range teams {
			tid, ok, err := s.queryText(`SELECT teamid FROM team WHERE name = ?`, t)
			if err != nil {
				return err
			}
			if !ok {
				tid = newGUID()
				if err := s.exec(`INSERT INTO team (teamid, name, businessunitid) VALUES (?, ?, ?)`, tid, t, bu); err != nil {
					return err
				}
			}
			if err := s.exec(`INSERT INTO teammembership (teammembershipid, teamid, systemuserid) VALUES (?, ?, ?)`, newGUID(), tid, id); err != nil {
				return err
			}
		}
		return nil
	})
	return id, err
}

// SetOwner gives row id of entity to ownerID (a user or a team): the row
// takes a new version and RetrieveChanges reports OwnerChanged.
func (s *Server) SetOwner(entityName, id, ownerID string) error {
	e := entity(entityName)
	if e == nil || !e.owned() {
		return errors.New("emulator: " + entityName + " has no owner")
	}
	g, ok := parseGUID(id)
	o, ok2 := parseGUID(ownerID)
	if !ok || !ok2 {
		return errors.New("emulator: SetOwner needs GUIDs")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok, err := s.queryInt(`SELECT 1 FROM systemuser WHERE systemuserid = ? UNION ALL SELECT 1 FROM team WHERE teamid = ?`, o, o); err != nil {
		return err
	} else if !ok {
		return errors.New("emulator: no user or team " + o)
	}
	if err := s.exec(`UPDATE `+quote(e.Name)+` SET ownerid = ? WHERE `+quote(e.PrimaryKey)+` = ?`, o, g); err != nil {
		return err
	}
	if s.db.Changes() == 0 {
		return errors.New("emulator: no " + entityName + " " + g)
	}
	return nil
}

// Faults returns the fault injector.
func (s *Server) Faults() *Faults { return &s.faults }

// Requests returns the requests served so far (at most the last 100,000).
func (s *Server) Requests() []Request {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return append([]Request(nil), s.requests...)
}

// RequestCount returns how many requests arrived.
func (s *Server) RequestCount() int64 { return s.count.Load() }

// Serve answers requests on l until Close.
func (s *Server) Serve(l net.Listener) error {
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 30 * time.Second}
	s.httpMu.Lock()
	if s.closed {
		s.httpMu.Unlock()
		return http.ErrServerClosed
	}
	s.srvs = append(s.srvs, hs)
	s.httpMu.Unlock()
	return hs.Serve(l)
}

// Close stops the servers Serve started and closes the database.
func (s *Server) Close() error {
	s.httpMu.Lock()
	s.closed = true
	srvs := s.srvs
	s.srvs = nil
	s.httpMu.Unlock()
	var errs []error
	for _, hs := range srvs {
		errs = append(errs, hs.Close())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db != nil {
		errs = append(errs, s.db.Close())
		s.db = nil
	}
	return errors.Join(errs...)
}

// caller is the authenticated user of a request.
type caller struct {
	userID, businessUnitID string
	teams                  []string
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Handler returns the HTTP handler: the token endpoint and the data service.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Server) serveHTTP(rw http.ResponseWriter, r *http.Request) {
	s.count.Add(1)
	w := &statusWriter{ResponseWriter: rw}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic serving request", "path", r.URL.Path, "panic", v)
			if w.status == 0 {
				s.writeError(w, r, errors.New("panic"))
			}
		}
		s.logMu.Lock()
		if len(s.requests) >= 100000 {
			s.requests = s.requests[1:]
		}
		s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Status: w.status})
		s.logMu.Unlock()
		s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", w.status)
	}()

	f := s.faults.take()
	if f.delay > 0 {
		t := time.NewTimer(f.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	switch {
	case f.drop:
		if hj, ok := rw.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	case f.failStatus != 0:
		s.writeError(w, r, errf(f.failStatus, codeServerError, "Injected failure."))
		return
	case f.retryAfter > 0:
		e := errf(http.StatusTooManyRequests, codeTooMany, "Number of requests exceeded the limit.")
		e.retryAfter = int((f.retryAfter + time.Second - 1) / time.Second)
		s.writeError(w, r, e)
		return
	}
	if err := s.route(w, r); err != nil {
		s.writeError(w, r, err)
	}
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Path == TokenPath {
		if r.Method != http.MethodPost {
			return errf(http.StatusMethodNotAllowed, codeBadRequest, "Use POST for the token endpoint.")
		}
		return s.serveToken(w, r)
	}
	name, ok := strings.CutPrefix(r.URL.Path, APIPath)
	if !ok {
		return errf(http.StatusNotFound, codeNotFound, "No resource at %s.", r.URL.Path)
	}
	type method struct {
		verb string
		fn   func(http.ResponseWriter, *http.Request, *caller) error
	}
	methods := map[string]method{
		"WhoAmI":           {http.MethodGet, s.serveWhoAmI},
		"Metadata":         {http.MethodGet, s.serveMetadata},
		"GetMaxRowVersion": {http.MethodPost, s.serveMaxRowVersion},
		"Fetch":            {http.MethodPost, s.serveFetch},
		"RetrieveChanges":  {http.MethodPost, s.serveRetrieveChanges},
		"CreateMultiple":   {http.MethodPost, s.serveCreateMultiple},
		"UpdateMultiple":   {http.MethodPost, s.serveUpdateMultiple},
		"DeleteMultiple":   {http.MethodPost, s.serveDeleteMultiple},
		"Execute":          {http.MethodPost, s.serveExecute},
		"Blob":             {http.MethodGet, s.serveBlob},
		"Select":           {http.MethodGet, s.serveSelect},
	}
	m, ok := methods[name]
	if !ok {
		return errf(http.StatusNotFound, codeNotFound, "The method %q does not exist.", name)
	}
	c, err := s.authenticate(r)
	if err != nil {
		return err
	}
	if err := s.admit(c.userID); err != nil {
		return err
	}
	if r.Method != m.verb {
		return errf(http.StatusMethodNotAllowed, codeBadRequest, "Use %s for %s.", m.verb, name)
	}
	return m.fn(w, r, c)
}

func unauthorized(msg string) *apiError {
	return errf(http.StatusUnauthorized, codeUnauthorized, "%s", msg)
}

// authenticate checks Basic credentials or a bearer token.
func (s *Server) authenticate(r *http.Request) (*caller, error) {
	h := r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(h, " ")
	var userID string
	switch strings.ToLower(scheme) {
	case "basic":
		user, pass, ok := r.BasicAuth()
		if !ok {
			return nil, unauthorized("The Basic credentials are malformed.")
		}
		id, err := s.checkPassword(user, pass)
		if err != nil {
			return nil, err
		}
		userID = id
	case "bearer":
		s.authMu.Lock()
		t, ok := s.tokens[strings.TrimSpace(cred)]
		if ok && !s.now().Before(t.expires) {
			delete(s.tokens, strings.TrimSpace(cred))
			ok = false
		}
		s.authMu.Unlock()
		if !ok {
			return nil, unauthorized("The access token is invalid or expired.")
		}
		userID = t.userID
	default:
		return nil, unauthorized("The request needs Basic credentials or a bearer token.")
	}
	return s.loadCaller(userID)
}

func (s *Server) checkPassword(user, pass string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var id, hash string
	var disabled bool
	found := false
	err := s.query(`SELECT systemuserid, _passhash, isdisabled FROM systemuser WHERE domainname = ?`, []any{user}, func(st *sqlite3.Stmt) error {
		id, hash, disabled, found = st.ColumnText(0), st.ColumnText(1), st.ColumnBool(2), true
		return nil
	})
	if err != nil {
		return "", err
	}
	want := hashPassword(pass)
	if !found || subtle.ConstantTimeCompare([]byte(hash), []byte(want)) != 1 {
		return "", unauthorized("The user name or password is incorrect.")
	}
	if disabled {
		return "", unauthorized("The user is disabled.")
	}
	return id, nil
}

func (s *Server) loadCaller(userID string) (*caller, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &caller{userID: userID}
	bu, ok, err := s.queryText(`SELECT businessunitid FROM systemuser WHERE systemuserid = ? AND NOT coalesce(isdisabled, 0)`, userID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, unauthorized("The user no longer exists or is disabled.")
	}
	c.businessUnitID = bu
	err = s.query(`SELECT teamid FROM teammembership WHERE systemuserid = ? ORDER BY teamid`, []any{userID}, func(st *sqlite3.Stmt) error {
		c.teams = append(c.teams, st.ColumnText(0))
		return nil
	})
	return c, err
}

// admit applies the service protection limit: RequestLimit requests per
// user in a sliding 5-minute window.
func (s *Server) admit(userID string) error {
	if s.opts.RequestLimit < 0 {
		return nil
	}
	now := s.now()
	s.authMu.Lock()
	defer s.authMu.Unlock()
	q := s.window[userID]
	i := 0
	for i < len(q) && now.Sub(q[i]) >= limitWindow {
		i++
	}
	q = q[i:]
	if len(q) >= s.opts.RequestLimit {
		s.window[userID] = q
		wait := limitWindow - now.Sub(q[0])
		e := errf(http.StatusTooManyRequests, codeTooMany, "Number of requests exceeded the limit of %d over 300 seconds.", s.opts.RequestLimit)
		e.retryAfter = max(1, int((wait+time.Second-1)/time.Second))
		return e
	}
	s.window[userID] = append(q, now)
	return nil
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// serveToken issues bearer tokens: grant_type=password (username,
// password) or client_credentials (client_id, client_secret in the form or
// as Basic credentials; the token acts as the default user).
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return badRequest("The token request must be a form.")
	}
	var userID string
	switch r.PostForm.Get("grant_type") {
	case "password":
		id, err := s.checkPassword(r.PostForm.Get("username"), r.PostForm.Get("password"))
		if err != nil {
			return err
		}
		userID = id
	case "client_credentials":
		id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		if u, p, ok := r.BasicAuth(); ok {
			id, secret = u, p
		}
		if subtle.ConstantTimeCompare([]byte(id), []byte(DefaultClientID)) != 1 ||
			subtle.ConstantTimeCompare([]byte(secret), []byte(DefaultClientSecret)) != 1 {
			return unauthorized("The client credentials are incorrect.")
		}
		s.mu.Lock()
		uid, _, err := s.queryText(`SELECT systemuserid FROM systemuser WHERE domainname = ?`, DefaultUsername)
		s.mu.Unlock()
		if err != nil {
			return err
		}
		userID = uid
	default:
		return badRequest("grant_type must be password or client_credentials.")
	}
	var b [32]byte
	rand.Read(b[:])
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	s.authMu.Lock()
	s.tokens[tok] = token{userID: userID, expires: s.now().Add(tokenLifetime)}
	s.authMu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, tokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int(tokenLifetime / time.Second)})
}

type whoAmIResponse struct {
	UserId         string   `json:"UserId"`
	BusinessUnitId string   `json:"BusinessUnitId"`
	OrganizationId string   `json:"OrganizationId"`
	TeamIds        []string `json:"TeamIds"`
}

func (s *Server) serveWhoAmI(w http.ResponseWriter, _ *http.Request, c *caller) error {
	teams := c.teams
	if teams == nil {
		teams = []string{}
	}
	return writeJSON(w, whoAmIResponse{UserId: c.userID, BusinessUnitId: c.businessUnitID, OrganizationId: s.orgID, TeamIds: teams})
}

type metadataResponse struct {
	Entities []*Entity `json:"Entities"`
}

func (s *Server) serveMetadata(w http.ResponseWriter, _ *http.Request, _ *caller) error {
	out := metadataResponse{}
	for _, n := range entityNames {
		out.Entities = append(out.Entities, entities[n])
	}
	return writeJSON(w, out)
}

// readBody decodes a JSON request body of at most limit bytes strictly.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errf(http.StatusRequestEntityTooLarge, codeBadRequest, "The request body exceeds %d bytes.", limit)
		}
		return badRequest("The request body could not be read.")
	}
	if err := strictDecode(b, v); err != nil {
		return badRequest("The request body is not valid: %s.", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// lock takes s.mu and points the connection's interrupt at the request's
// context; it fails once the server is closed.
func (s *Server) lock(r *http.Request) (func(), error) {
	s.mu.Lock()
	if s.db == nil {
		s.mu.Unlock()
		return nil, errf(http.StatusServiceUnavailable, codeServerError, "The service is shutting down.")
	}
	s.db.SetInterrupt(r.Context())
	return func() {
		s.db.SetInterrupt(context.Background())
		s.mu.Unlock()
	}, nil
}
