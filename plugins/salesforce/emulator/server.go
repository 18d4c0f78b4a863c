package emulator

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Options configure a Server.
type Options struct {
	// Path is the SQLite file; "" makes a fresh one in a temporary
	// directory, removed by Close.
	Path string
	// InstanceURL is answered as instance_url and used in identity URLs;
	// "" takes it from each token request's Host.
	InstanceURL string
	// DailyLimit is the org's daily API request allowance (default 100000).
	DailyLimit int
	// TokenTTL is an access token's lifetime (default 2h); DeleteRetention
	// is how long deleted rows stay in the recycle bin (default 15 days).
	TokenTTL, DeleteRetention time.Duration
	// JWTPublicKey verifies jwt-bearer assertions; nil refuses the grant.
	JWTPublicKey *rsa.PublicKey
	// NoFieldsyncFields leaves FieldsyncId__c and FieldsyncChangeId__c out.
	NoFieldsyncFields bool
	Logger            hclog.Logger
	// Now is the emulator's clock (default time.Now).
	Now func() time.Time
}

// The credentials of the org's default connected app and user.
const (
	DefaultClientID     = "3MVG9emulator.fieldsync.client"
	DefaultClientSecret = "emulator-client-secret"
	DefaultUsername     = "admin@emulator.example"
	DefaultPassword     = "emulator-password"
)

// OrgID is the emulated org's id.
const OrgID = "00D000000000001AAA"

// Request is one served request, for tests.
type Request struct {
	Method string
	Path   string
	Status int
}

// Server is an emulated Salesforce org.
type Server struct {
	opts   Options
	log    hclog.Logger
	now    func() time.Time
	schema *schema
	st     *store
	tmpDir string

	calls      atomic.Int64
	dailyLimit atomic.Int64
	faults     *Faults

	mu       sync.Mutex
	sessions map[string]*session
	refresh  map[string]string // refresh token → username
	requests []Request

	queryTimeout time.Duration // a query running longer is interrupted: QUERY_TIMEOUT

	closeOnce sync.Once
	closeErr  error
}

type session struct {
	username string
	userID   string
	expires  time.Time
}

// New opens (or lays out) the org in Options.Path.
func New(opts Options) (*Server, error) {
	if opts.DailyLimit <= 0 {
		opts.DailyLimit = 100000
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 2 * time.Hour
	}
	if opts.DeleteRetention <= 0 {
		opts.DeleteRetention = 15 * 24 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, log: opts.Logger.Named("salesforce-emulator"), now: opts.Now,
		schema: newSchema(!opts.NoFieldsyncFields), faults: &Faults{},
		sessions: map[string]*session{}, refresh: map[string]string{}, queryTimeout: 2 * time.Minute}
	s.dailyLimit.Store(int64(opts.DailyLimit))
	path := opts.Path
	if path == "" {
		dir, err := os.MkdirTemp("", "sf-emulator-")
		if err != nil {
			return nil, fmt.Errorf("emulator: %w", err)
		}
		s.tmpDir = dir
		path = filepath.Join(dir, "org.db")
	}
	st, err := openStore(path, s.now)
	if err != nil {
		s.removeTmp()
		return nil, err
	}
	s.st = st
	if err := s.layout(); err != nil {
		st.close()
		s.removeTmp()
		return nil, err
	}
	return s, nil
}

func (s *Server) removeTmp() {
	if s.tmpDir != "" {
		_ = os.RemoveAll(s.tmpDir)
	}
}

const layoutVersion = 1

const metaDDL = `
CREATE TABLE _meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
-- The org's stamp clock: the last SystemModstamp handed out, in Unix ms.
-- api is set while an API write runs: its rows carry the request's stamp
-- already, so the update trigger leaves them be.
CREATE TABLE _clock (id INTEGER PRIMARY KEY CHECK (id = 1), last INTEGER NOT NULL, api INTEGER);
-- Query locators: the query to resume and where.
CREATE TABLE _locator (
	id      TEXT PRIMARY KEY,
	soql    TEXT NOT NULL,
	qall    INTEGER NOT NULL,
	version TEXT NOT NULL,
	batch   INTEGER NOT NULL,
	pos     INTEGER NOT NULL,
	total   INTEGER NOT NULL,
	keyset  TEXT,
	created INTEGER NOT NULL
);
`

// The default user's id.
const defaultUserID = "005000000000001AAA"

func (s *Server) layout() error {
	s.st.wmu.Lock()
	defer s.st.wmu.Unlock()
	c := s.st.writer
	if err := c.db.Exec(`BEGIN IMMEDIATE`); err != nil {
		return err
	}
	defer c.rollback()
	n, _, err := c.queryInt(`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '_meta'`)
	if err != nil {
		return fmt.Errorf("emulator: open %s: %w", s.st.path, err)
	}
	if n > 0 {
		v, _, err := c.queryInt(`SELECT value FROM _meta WHERE key = 'layout'`)
		if err != nil {
			return err
		}
		if v != layoutVersion {
			return fmt.Errorf("emulator: %s has layout %d, this emulator writes %d", s.st.path, v, layoutVersion)
		}
		fs, _, err := c.queryInt(`SELECT value FROM _meta WHERE key = 'fieldsync'`)
		if err != nil {
			return err
		}
		if (fs == 1) == s.opts.NoFieldsyncFields {
			return fmt.Errorf("emulator: %s was laid out with NoFieldsyncFields=%v", s.st.path, fs != 1)
		}
		return c.db.Exec(`COMMIT`)
	}
	if err := c.db.Exec(metaDDL); err != nil {
		return fmt.Errorf("emulator: lay out %s: %w", s.st.path, err)
	}
	for _, o := range s.schema.order {
		if err := c.db.Exec(o.tableDDL()); err != nil {
			return fmt.Errorf("emulator: create %s: %w", o.Name, err)
		}
		for _, ix := range o.indexDDL() {
			if err := c.db.Exec(ix); err != nil {
				return fmt.Errorf("emulator: index %s: %w", o.Name, err)
			}
		}
		if err := c.db.Exec(o.triggerDDL()); err != nil {
			return fmt.Errorf("emulator: triggers of %s: %w", o.Name, err)
		}
	}
	now := s.now().UnixMilli()
	fs := 1
	if s.opts.NoFieldsyncFields {
		fs = 0
	}
	if err := c.exec(`INSERT INTO _clock (id, last) VALUES (1, ?1)`, now); err != nil {
		return err
	}
	// earliest: the earliest date deleted rows are available from (the
	// org's creation, rounded down to the minute, until a purge).
	if err := c.exec(`INSERT INTO _meta (key, value) VALUES ('layout', ?1), ('fieldsync', ?2), ('earliest', ?3)`,
		layoutVersion, fs, now/60000*60000); err != nil {
		return err
	}
	if err := c.exec(`INSERT INTO "User" ("Id", "Username", "FirstName", "LastName", "Name", "Email", "Alias", "IsActive", "CreatedById", "LastModifiedById")
		VALUES (?1, ?2, 'Admin', 'User', 'Admin User', ?2, 'admin', 1, ?1, ?1)`, defaultUserID, DefaultUsername); err != nil {
		return err
	}
	return c.db.Exec(`COMMIT`)
}

// Close closes the database (and removes a temporary one).
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.st.close()
		s.removeTmp()
	})
	return s.closeErr
}

// Serve answers HTTP on l until l closes.
func (s *Server) Serve(l net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 30 * time.Second, ErrorLog: s.log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})}
	return srv.Serve(l)
}

// APICalls is the number of API requests counted against the daily limit.
func (s *Server) APICalls() int64 { return s.calls.Load() }

// SetDailyLimit changes the org's daily API allowance.
func (s *Server) SetDailyLimit(n int) { s.dailyLimit.Store(int64(n)) }

// Requests returns the log of served requests.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Exec runs one SQL statement on the org's database, as the API's writes
// would: the triggers move SystemModstamp and LastModifiedDate.
func (s *Server) Exec(ctx context.Context, sql string, args ...any) error {
	s.st.wmu.Lock()
	defer s.st.wmu.Unlock()
	c := s.st.writer
	c.db.SetInterrupt(ctx)
	defer c.db.SetInterrupt(context.Background())
	return c.exec(sql, args...)
}

// QueryInt runs a query answering one integer (0 for no row or null).
func (s *Server) QueryInt(ctx context.Context, sql string, args ...any) (int64, error) {
	c, err := s.st.read(ctx)
	if err != nil {
		return 0, err
	}
	defer s.st.release(c)
	n, _, err := c.queryInt(sql, args...)
	return n, err
}

// QueryText runs a query answering one text ("" for no row or null).
func (s *Server) QueryText(ctx context.Context, sql string, args ...any) (string, error) {
	c, err := s.st.read(ctx)
	if err != nil {
		return "", err
	}
	defer s.st.release(c)
	t, _, err := c.queryText(sql, args...)
	return t, err
}

// apiError is a REST error: an array of one {message, errorCode, fields}.
type apiError struct {
	Status  int
	Code    string
	Message string
	Fields  []string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *apiError) body() any {
	m := map[string]any{"message": e.Message, "errorCode": e.Code}
	if e.Fields != nil {
		m["fields"] = e.Fields
	}
	return []any{m}
}

// apiReq is one data API request, from HTTP or a composite subrequest.
type apiReq struct {
	method  string
	version string // "60.0"
	path    string // after /services/data/vNN.N/, no leading slash
	query   url.Values
	header  http.Header
	body    []byte
	user    string // user id of the session
}

// apiResp is an answer: a JSON document or raw bytes.
type apiResp struct {
	status int
	header http.Header
	doc    any
}

func jsonResp(status int, doc any) *apiResp { return &apiResp{status: status, doc: doc} }

func errResp(err error) *apiResp {
	var ae *apiError
	if errors.As(err, &ae) {
		return &apiResp{status: ae.Status, doc: ae.body()}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &apiResp{status: 503, doc: (&apiError{Code: "SERVER_UNAVAILABLE", Message: "request canceled"}).body()}
	}
	return &apiResp{status: 500, doc: (&apiError{Code: "UNKNOWN_EXCEPTION", Message: "An unexpected error occurred. Please include this ErrorId if you contact support: emulator"}).body()}
}

func marshal(doc any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return []byte(`[{"message":"cannot encode the answer","errorCode":"UNKNOWN_EXCEPTION"}]`)
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// statusWriter remembers the status for the request log.
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

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var versionRe = regexp.MustCompile(`^/services/data/v(\d{2,3}\.\d)(/.*)?$`)

// maxBody caps a request body.
const maxBody = 64 << 20

// Handler is the org's HTTP handler.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				s.log.Error("panic serving a request", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
				if sw.status == 0 {
					writeJSON(sw, 500, (&apiError{Code: "UNKNOWN_EXCEPTION", Message: "An unexpected error occurred."}).body())
				}
			}
			s.mu.Lock()
			s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Status: sw.status})
			s.mu.Unlock()
		}()
		s.serve(sw, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, doc any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(marshal(doc))
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if d := s.faults.delay(); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	p := r.URL.Path
	if p == "/services/oauth2/token" {
		s.token(w, r)
		return
	}
	if p == "/services/data" || p == "/services/data/" {
		writeJSON(w, 200, []any{map[string]string{"label": "Summer '24", "url": "/services/data/v61.0", "version": "61.0"}})
		return
	}
	m := versionRe.FindStringSubmatch(p)
	if m == nil {
		writeJSON(w, 404, errf(404, "NOT_FOUND", "The requested resource does not exist").body())
		return
	}
	sess := s.authorize(r)
	if sess == nil {
		writeJSON(w, 401, []any{map[string]string{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}})
		return
	}
	used, limit, ok := s.count()
	w.Header().Set("Sforce-Limit-Info", "api-usage="+strconv.FormatInt(used, 10)+"/"+strconv.FormatInt(limit, 10))
	if !ok {
		writeJSON(w, 403, errf(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.").body())
		return
	}
	if st, code, fail := s.faults.fail(); fail {
		writeJSON(w, st, errf(st, code, "%s", faultMessage(code)).body())
		return
	}
	if s.faults.drop() {
		dropConnection(w)
		return
	}
	rest := strings.TrimPrefix(m[2], "/")
	req := &apiReq{method: r.Method, version: m[1], path: rest, query: r.URL.Query(), header: r.Header, user: sess.userID}
	if blobPath(req) {
		s.serveBlob(w, r, req)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		writeJSON(w, 400, errf(400, "JSON_PARSER_ERROR", "cannot read the request body").body())
		return
	}
	if len(body) > maxBody {
		writeJSON(w, 413, errf(413, "REQUEST_TOO_LARGE", "the request body exceeds %d bytes", maxBody).body())
		return
	}
	req.body = body
	resp := s.api(r.Context(), req)
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	if resp.status == 204 {
		w.WriteHeader(204)
		return
	}
	writeJSON(w, resp.status, resp.doc)
}

func faultMessage(code string) string {
	switch code {
	case "UNABLE_TO_LOCK_ROW":
		return "unable to obtain exclusive access to this record or 1 records"
	case "REQUEST_LIMIT_EXCEEDED":
		return "TotalRequests Limit exceeded."
	}
	return "Server unavailable: injected fault"
}

// count counts one API call against the daily limit; ok false means the
// limit is spent (the call is not counted).
func (s *Server) count() (used, limit int64, ok bool) {
	limit = s.dailyLimit.Load()
	for {
		n := s.calls.Load()
		if n >= limit {
			return n, limit, false
		}
		if s.calls.CompareAndSwap(n, n+1) {
			return n + 1, limit, true
		}
	}
}

// dropConnection answers the start of a response and cuts the connection.
func dropConnection(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	conn, buf, err := rc.Hijack()
	if err != nil {
		// Not hijackable (HTTP/2, a recorder): abort the handler instead.
		panic(http.ErrAbortHandler)
	}
	_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{\"totalSize\":")
	_ = buf.Flush()
	_ = conn.Close()
}

// api routes a data API request.
func (s *Server) api(ctx context.Context, r *apiReq) *apiResp {
	parts := strings.Split(strings.TrimSuffix(r.path, "/"), "/")
	method := r.method
	bad := func() *apiResp {
		return errResp(errf(405, "METHOD_NOT_ALLOWED", "HTTP Method '%s' not allowed. Allowed are GET", method))
	}
	switch {
	case len(parts) == 1 && (parts[0] == "query" || parts[0] == "queryAll"):
		if method != http.MethodGet {
			return bad()
		}
		return s.queryFirst(ctx, r, parts[0] == "queryAll")
	case len(parts) == 2 && (parts[0] == "query" || parts[0] == "queryAll"):
		if method != http.MethodGet {
			return bad()
		}
		return s.queryMore(ctx, r, parts[1])
	case len(parts) == 1 && parts[0] == "limits":
		return s.limits()
	case len(parts) == 1 && parts[0] == "sobjects":
		return s.describeGlobal()
	case len(parts) == 1 && parts[0] == "composite":
		if method != http.MethodPost {
			return bad()
		}
		return s.composite(ctx, r)
	case len(parts) >= 2 && parts[0] == "composite" && parts[1] == "sobjects":
		return s.collections(ctx, r, parts[2:])
	case len(parts) >= 2 && parts[0] == "sobjects":
		o := s.schema.object(parts[1])
		if o == nil {
			return errResp(errf(404, "NOT_FOUND", "The requested resource does not exist"))
		}
		switch {
		case len(parts) == 2:
			switch method {
			case http.MethodPost:
				return s.createOne(ctx, r, o)
			case http.MethodGet:
				return jsonResp(200, map[string]any{"objectDescribe": s.describeBrief(o, r.version), "recentItems": []any{}})
			}
			return bad()
		case len(parts) == 3 && parts[2] == "describe":
			return s.describe(o, r.version)
		case len(parts) == 3 && parts[2] == "updated":
			return s.updated(ctx, r, o)
		case len(parts) == 3 && parts[2] == "deleted":
			return s.deleted(ctx, r, o)
		case len(parts) == 3:
			switch method {
			case http.MethodGet:
				return s.getOne(ctx, r, o, parts[2])
			case http.MethodPatch:
				return s.updateOne(ctx, r, o, parts[2])
			case http.MethodDelete:
				return s.deleteOne(ctx, r, o, parts[2])
			}
			return bad()
		case len(parts) == 4:
			if f := o.field(parts[3]); f != nil && f.Type != "base64" && method == http.MethodPatch {
				return s.upsertOne(ctx, r, o, f, parts[2])
			}
		}
	}
	return errResp(errf(404, "NOT_FOUND", "The requested resource does not exist"))
}
