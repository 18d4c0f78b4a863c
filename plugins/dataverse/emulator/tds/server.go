// Package tds is the TDS (MS-TDS 7.4) listener of the Dataverse emulator:
// enough of the protocol that github.com/microsoft/go-mssqldb, logging in
// with an access token (NewAccessTokenConnector) and encrypt=disable, runs
// read-only queries against it.
//
// What it speaks:
//
//   - PRELOGIN, answered with ENCRYPTION = not supported (so the client
//     stays in clear text: the emulator has no TLS) and FEDAUTHREQUIRED
//     when the client asks.
//   - LOGIN7 with the FEDAUTH feature extension, security-token library:
//     the token goes to Options.ValidToken. SQL and Windows logins, and
//     the ADAL workflow, are refused like a bad token: ERROR 18456 and the
//     connection closed, as Dataverse accepts Entra ID tokens only.
//   - SQLBatch and RPC sp_executesql (by id 10 or name) with typed
//     parameters; any other procedure is refused. Statements are parsed by
//     package tsql: SELECT … FROM one entity goes to Options.Query;
//     SELECT of constants, @@VERSION, @@SPID and parameters is answered
//     here; SET statements are accepted and ignored.
//   - Results as COLMETADATA, ROW / NBCROW and DONE with the row count,
//     in packets of the size LOGIN7 asked for (512–32767).
//   - ATTENTION: the running query's context is cancelled and the reply
//     ends with DONE(ATTN); one that arrives between requests gets a
//     DONE(ATTN) of its own.
//   - The reset-connection flag, acknowledged with ENVCHANGE(18).
//   - Transaction manager requests are refused with an error.
//
// Limits: one request message holds at most MaxRequestBytes; one query's
// rows at most Options.MaxResultBytes (80 MiB by default, as Dataverse's
// 80 MB cap), counted as the ROW/NBCROW token bytes sent. The row that
// would pass the cap is not sent: the reply ends with ERROR 40000
// (ErrResultTooLarge) and DONE(ERROR), after the rows within the cap.
package tds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/plugins/dataverse/tsql"
)

// DefaultMaxResultBytes is Dataverse's 80 MB cap on one query's result.
const DefaultMaxResultBytes = 80 << 20

// LoginTimeout bounds PRELOGIN and LOGIN7 together.
const LoginTimeout = 30 * time.Second

// Version is what SELECT @@VERSION returns, as the Dataverse endpoint
// reports SQL Azure 12.0.2000.8.
const Version = "Microsoft SQL Azure (RTM) - 12.0.2000.8 \n\tMay 14 2024 18:52:53 \n\tCopyright (C) 2022 Microsoft Corporation\n"

// Error numbers of the messages this package writes itself.
const (
	ErrLoginFailed    = 18456
	ErrProtocol       = 4002
	ErrResultTooLarge = tsql.ErrNotSupported
)

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("tds: server closed")

// Options configure a Server.
type Options struct {
	// ValidToken checks an access token and names its user.
	ValidToken func(token string) (user string, ok bool)
	// Query runs a SELECT on an entity for user. args holds the request's
	// parameter values, indexed by the Index of q's parameters (q is
	// bound already). A returned *Error or *tsql.Error is reported with
	// its number; any other error with 40000.
	Query func(ctx context.Context, user string, q *tsql.Select, args []any) (Result, error)
	// Logger receives connection and query logs; nil discards them.
	Logger hclog.Logger
	// MaxResultBytes caps one query's rows; 0 means
	// DefaultMaxResultBytes, negative means no cap.
	MaxResultBytes int64
	// Database is the database name reported at login ("" means
	// "dataverse").
	Database string
	// ServerName is the server named in errors ("" means "fieldsync").
	ServerName string
}

// Server is a TDS listener.
type Server struct {
	opts   Options
	log    hclog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	closed    bool
	wg        sync.WaitGroup
	spid      atomic.Uint32
}

// NewServer returns a server; Serve starts it on a listener.
func NewServer(o Options) *Server {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.MaxResultBytes == 0 {
		o.MaxResultBytes = DefaultMaxResultBytes
	}
	if o.Database == "" {
		o.Database = "dataverse"
	}
	if o.ServerName == "" {
		o.ServerName = "fieldsync"
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{opts: o, log: o.Logger, ctx: ctx, cancel: cancel,
		listeners: map[net.Listener]struct{}{}, conns: map[*conn]struct{}{}}
	s.spid.Store(50)
	return s
}

// Serve accepts connections on l until Close; it returns ErrServerClosed
// then, or the listener's error.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	for {
		nc, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		s.ServeConn(nc)
	}
}

// ServeConn serves one connection in a goroutine of its own.
func (s *Server) ServeConn(nc net.Conn) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	c := s.newConn(nc)
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		c.serve()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
}

// Close stops the listeners, closes every connection (cancelling running
// queries) and waits for their goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

// recoverPanics turns a panic in a connection into a logged error; the
// fuzz tests turn it off so that panics fail them.
var recoverPanics = true

// errAttention is the cause of a request context cancelled by ATTENTION.
var errAttention = errors.New("tds: attention")

type conn struct {
	srv    *Server
	nc     net.Conn
	log    hclog.Logger
	spid   uint16
	pw     *packetWriter
	user   string
	ctx    context.Context
	cancel context.CancelFunc

	msgs    chan *message
	readErr error // set by the reader before it closes msgs

	mu        sync.Mutex
	cancelReq context.CancelCauseFunc // the running request's, or nil

	// acked counts ATTENTIONs acknowledged inside a reply, whose messages
	// are still queued (main goroutine only).
	acked int
	reset bool   // the request asked for a session reset
	row   []byte // scratch for one encoded row
}

func (s *Server) newConn(nc net.Conn) *conn {
	spid := uint16(s.spid.Add(1)%30000 + 50)
	ctx, cancel := context.WithCancel(s.ctx)
	return &conn{
		srv:    s,
		nc:     nc,
		log:    s.log.With("remote", nc.RemoteAddr().String(), "spid", spid),
		spid:   spid,
		pw:     newPacketWriter(nc, spid),
		ctx:    ctx,
		cancel: cancel,
		msgs:   make(chan *message, 8),
	}
}

func (c *conn) serve() {
	defer c.nc.Close()
	defer c.cancel()
	defer func() {
		// A bug must not take the emulator down with it (tests let it).
		if !recoverPanics {
			return
		}
		if r := recover(); r != nil {
			c.log.Error("tds: connection handler panicked", "panic", fmt.Sprint(r))
		}
	}()
	if err := c.login(); err != nil {
		if !errors.Is(err, io.EOF) {
			c.log.Debug("tds: login ended", "error", err)
		}
		return
	}
	go c.readLoop()
	for {
		var m *message
		select {
		case m = <-c.msgs:
		case <-c.ctx.Done():
			return
		}
		if m == nil {
			if c.readErr != nil && !errors.Is(c.readErr, io.EOF) && !errors.Is(c.readErr, net.ErrClosed) {
				c.log.Debug("tds: connection read failed", "error", c.readErr)
			}
			return
		}
		if err := c.handle(m); err != nil {
			if errors.Is(err, errProtocol) {
				c.log.Warn("tds: closing connection", "error", err)
			} else {
				c.log.Debug("tds: closing connection", "error", err)
			}
			return
		}
	}
}

// readLoop reads client messages; an ATTENTION cancels the running request
// at once and is also queued so that the main goroutine acknowledges it.
func (c *conn) readLoop() {
	defer close(c.msgs)
	for {
		m, err := readMessage(c.nc, MaxRequestBytes)
		if err != nil {
			c.readErr = err
			c.cancel()
			return
		}
		if m.typ == pktAttention {
			c.mu.Lock()
			if c.cancelReq != nil {
				c.cancelReq(errAttention)
			}
			c.mu.Unlock()
		}
		select {
		case c.msgs <- m:
		case <-c.ctx.Done():
			return
		}
	}
}

// login runs PRELOGIN and LOGIN7.
func (c *conn) login() error {
	c.nc.SetDeadline(time.Now().Add(LoginTimeout))
	m, err := readMessage(c.nc, 1<<16)
	if err != nil {
		return err
	}
	if m.typ != pktPrelogin {
		return protocolErrorf("first message has type %d, not PRELOGIN", m.typ)
	}
	pre, err := parsePrelogin(m.data)
	if err != nil {
		return err
	}
	c.pw.begin(pktReply)
	c.pw.write(preloginReply(pre))
	if err := c.pw.finish(); err != nil {
		return err
	}
	m, err = readMessage(c.nc, 1<<20)
	if err != nil {
		return err
	}
	if m.typ != pktLogin7 {
		return protocolErrorf("second message has type %d, not LOGIN7", m.typ)
	}
	l, err := parseLogin7(m.data)
	if err != nil {
		return err
	}
	size := int(l.packetSize)
	if size == 0 {
		size = defaultPacketSize
	}
	size = max(minPacketSize, min(maxPacketSize, size))
	c.pw.size = size

	fail := func(who, why string) error {
		c.log.Info("tds: login refused", "reason", why)
		var b []byte
		b = appendError(b, tokError, &Error{Number: ErrLoginFailed, State: 1, Class: 14,
			Message: "Login failed for user '" + who + "'."}, c.srv.opts.ServerName)
		b = appendDone(b, tokDone, doneError, 0, 0)
		c.pw.begin(pktReply)
		c.pw.write(b)
		c.pw.finish()
		return errors.New("tds: login refused: " + why)
	}
	switch {
	case !l.fedAuth:
		return fail(l.userName, "not an Entra ID (access token) login")
	case l.fedAuthLib != fedAuthLibToken:
		return fail("<token-identified principal>", fmt.Sprintf("federated authentication library %d is not supported", l.fedAuthLib))
	case c.srv.opts.ValidToken == nil:
		return fail("<token-identified principal>", "no token validator")
	}
	user, ok := c.srv.opts.ValidToken(l.token)
	if !ok {
		return fail("<token-identified principal>", "invalid token")
	}
	c.user = user

	var b []byte
	b = appendEnvChange(b, envDatabase, bVarChar(c.srv.opts.Database), bVarChar("master"))
	b = appendEnvChange(b, envCollation, append([]byte{5}, collation[:]...), []byte{0})
	b = appendEnvChange(b, envLanguage, bVarChar("us_english"), bVarChar(""))
	b = appendLoginAck(b)
	b = appendFeatureExtAck(b)
	b = appendEnvChange(b, envPacketSize, packetSizeText(size), packetSizeText(size))
	b = appendDone(b, tokDone, doneFinal, 0, 0)
	c.pw.begin(pktReply)
	c.pw.write(b)
	if err := c.pw.finish(); err != nil {
		return err
	}
	c.nc.SetDeadline(time.Time{})
	c.log.Debug("tds: logged in", "user", user, "app", l.appName, "packet_size", size)
	return nil
}

// handle answers one message; an error closes the connection.
func (c *conn) handle(m *message) error {
	c.reset = m.status&(statusReset|statusResetNT) != 0
	switch m.typ {
	case pktAttention:
		if c.acked > 0 {
			c.acked--
			return nil
		}
		c.pw.begin(pktReply)
		c.pw.write(appendDone(nil, tokDone, doneAttn, 0, 0))
		return c.pw.finish()
	case pktSQLBatch:
		text, err := parseBatch(m.data)
		if err != nil {
			return c.protocolFailure(err)
		}
		c.log.Debug("tds: batch", "sql", text)
		stmts, perr := tsql.ParseBatch(text)
		return c.run(stmts, nil, perr, false)
	case pktRPC:
		req, err := parseRPC(m.data)
		if err != nil {
			return c.protocolFailure(err)
		}
		if req.unsupported != nil {
			return c.run(nil, nil, req.unsupported, true)
		}
		stmts, args, err := req.executeSQL()
		return c.run(stmts, args, err, true)
	case pktTransMgr:
		return c.run(nil, nil, tsqlError(tsql.ErrNotSupported, "The request could not be processed: transactions are not supported."), false)
	}
	return protocolErrorf("unexpected message of type %d", m.typ)
}

// protocolFailure tells the client that its request broke the protocol,
// then closes the connection.
func (c *conn) protocolFailure(err error) error {
	var b []byte
	b = appendError(b, tokError, &Error{Number: ErrProtocol, Class: 16,
		Message: "The incoming tabular data stream (TDS) protocol stream is incorrect: " + err.Error()}, c.srv.opts.ServerName)
	b = appendDone(b, tokDone, doneError, 0, 0)
	c.pw.begin(pktReply)
	c.pw.write(b)
	c.pw.finish()
	return err
}

func tsqlError(n int32, msg string) error { return &Error{Number: n, Message: msg} }

// executeSQL turns an RPC into statements and arguments: sp_executesql's
// first parameter is the text, the second declares the parameters, the
// rest are their values. Arguments are indexed like the declared names.
func (req *rpcRequest) executeSQL() ([]tsql.Statement, *args, error) {
	name := req.procName
	if req.procName == "" && req.procID != procExecuteSQL {
		return nil, nil, tsqlError(tsql.ErrNotSupported, fmt.Sprintf("The request could not be processed: EXECUTE statements are not supported (procedure id %d).", req.procID))
	}
	if req.procName != "" && !isExecuteSQL(name) {
		return nil, nil, tsqlError(tsql.ErrNotSupported, "The request could not be processed: EXECUTE statements are not supported ("+clipText(name)+").")
	}
	if len(req.params) == 0 {
		return nil, nil, &Error{Number: 201, Message: "Procedure or function 'sp_executesql' expects parameter '@statement', which was not supplied."}
	}
	text, ok := req.params[0].value.(string)
	if !ok {
		return nil, nil, &Error{Number: 214, Message: "Procedure expects parameter '@statement' of type 'ntext/nchar/nvarchar'."}
	}
	a := &args{}
	if len(req.params) > 1 {
		decl, _ := req.params[1].value.(string)
		declared := declaredNames(decl)
		for i, p := range req.params[2:] {
			n := p.name
			if n == "" && i < len(declared) {
				n = declared[i]
			}
			a.names = append(a.names, n)
			a.values = append(a.values, p.value)
		}
	}
	stmts, err := tsql.ParseBatch(text)
	return stmts, a, err
}

func isExecuteSQL(name string) bool {
	for _, n := range []string{"sp_executesql", "sys.sp_executesql", "dbo.sp_executesql", "[sys].[sp_executesql]"} {
		if equalFold(name, n) {
			return true
		}
	}
	return false
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func clipText(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// declaredNames reads the names of "@p1 nvarchar(4000),@p2 bigint".
func declaredNames(decl string) []string {
	var out []string
	depth := 0
	start := 0
	for i := 0; i <= len(decl); i++ {
		if i < len(decl) {
			switch decl[i] {
			case '(':
				depth++
				continue
			case ')':
				depth--
				continue
			case ',':
				if depth != 0 {
					continue
				}
			default:
				continue
			}
		}
		part := decl[start:i]
		start = i + 1
		j := 0
		for j < len(part) && (part[j] == ' ' || part[j] == '\t' || part[j] == '\r' || part[j] == '\n') {
			j++
		}
		k := j
		for k < len(part) && part[k] != ' ' && part[k] != '\t' && part[k] != '\r' && part[k] != '\n' {
			k++
		}
		out = append(out, part[j:k])
	}
	return out
}

// args are a request's parameter names and values.
type args struct {
	names  []string
	values []any
}

// outcome of one statement.
type outcome int

const (
	outOK outcome = iota
	outError
	outAttention
	outBroken // the connection failed: stop
)

// run executes statements and writes the reply. perr is a refusal found
// before anything ran (a parse error, an unsupported request).
func (c *conn) run(stmts []tsql.Statement, a *args, perr error, rpc bool) error {
	ctx, cancel := context.WithCancelCause(c.ctx)
	defer cancel(nil)
	c.mu.Lock()
	c.cancelReq = cancel
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.cancelReq = nil
		c.mu.Unlock()
	}()

	c.pw.begin(pktReply)
	if c.reset {
		c.pw.write(appendEnvChange(nil, envResetAck, []byte{0}, []byte{0}))
	}
	if a == nil {
		a = &args{}
	}
	if perr != nil {
		return c.endWithError(perr, rpc, 0)
	}
	attention := func() error {
		c.acked++
		c.pw.write(appendDone(nil, tokDone, doneAttn, 0, 0))
		return c.pw.finish()
	}
	var final []byte // the last statement's DONE, held back until the end
	for _, st := range stmts {
		if context.Cause(ctx) == errAttention {
			return attention()
		}
		if final != nil {
			final[1] |= doneMore // status is little-endian right after the token byte
			c.pw.write(final)
			final = nil
		}
		var res outcome
		var rows uint64
		var cmd uint16
		var err error
		switch st := st.(type) {
		case *tsql.Set:
			c.log.Debug("tds: ignoring SET", "statement", st.String())
		case *tsql.Select:
			cmd = cmdSelect
			res, rows, err = c.runSelect(ctx, st, a)
		}
		switch res {
		case outBroken:
			return err
		case outAttention:
			return attention()
		case outError:
			return c.endWithError(err, rpc, rows)
		}
		status := uint16(0)
		if cmd == cmdSelect {
			status |= doneCount
		}
		if rpc {
			c.pw.write(appendDone(nil, tokDoneInProc, status|doneMore, cmd, rows))
		} else {
			final = appendDone(nil, tokDone, status, cmd, rows)
		}
	}
	// An ATTENTION that came while the reply was written is answered by
	// ending the reply with DONE(ATTN) in place of its last DONE: the
	// client reads to the end of this reply and looks for it there.
	if context.Cause(ctx) == errAttention {
		return attention()
	}
	switch {
	case rpc:
		var b []byte
		b = append(b, tokReturnStatus, 0, 0, 0, 0)
		b = appendDone(b, tokDoneProc, doneFinal, cmdExecute, 0)
		c.pw.write(b)
	case final != nil:
		c.pw.write(final)
	default:
		c.pw.write(appendDone(nil, tokDone, doneFinal, 0, 0))
	}
	return c.pw.finish()
}

// endWithError ends the reply with err's ERROR token and a DONE marked as
// an error.
func (c *conn) endWithError(err error, rpc bool, rows uint64) error {
	e := toError(err)
	var b []byte
	b = appendError(b, tokError, e, c.srv.opts.ServerName)
	status := uint16(doneError)
	if rows > 0 {
		status |= doneCount
	}
	if rpc {
		b = appendDone(b, tokDoneProc, status, cmdExecute, rows)
	} else {
		b = appendDone(b, tokDone, status, cmdSelect, rows)
	}
	c.pw.write(b)
	return c.pw.finish()
}

func toError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var te *tsql.Error
	if errors.As(err, &te) {
		return &Error{Number: te.Number, Message: te.Message}
	}
	return &Error{Number: tsql.ErrNotSupported, Message: err.Error()}
}

// runSelect runs one SELECT and writes its COLMETADATA and rows.
func (c *conn) runSelect(ctx context.Context, st *tsql.Select, a *args) (outcome, uint64, error) {
	if err := st.Bind(a.names); err != nil {
		return outError, 0, err
	}
	var res Result
	var err error
	if st.IsConstant() {
		res, err = c.constant(st, a)
	} else if c.srv.opts.Query == nil {
		err = tsqlError(tsql.ErrInvalidObject, "Invalid object name '"+st.From+"'.")
	} else {
		c.log.Debug("tds: query", "sql", st.String(), "args", len(a.values))
		res, err = c.srv.opts.Query(ctx, c.user, st, a.values)
	}
	if err != nil {
		if context.Cause(ctx) == errAttention {
			return outAttention, 0, nil
		}
		if c.ctx.Err() != nil {
			return outBroken, 0, c.ctx.Err()
		}
		return outError, 0, err
	}
	defer res.Close()
	cols := res.Columns()
	if len(cols) == 0 || len(cols) > 4096 {
		return outError, 0, fmt.Errorf("the query returned %d columns", len(cols))
	}
	for i := range cols {
		if err := cols[i].check(); err != nil {
			return outError, 0, err
		}
	}
	if err := c.pw.write(appendColMetadata(nil, cols)); err != nil {
		return outBroken, 0, err
	}
	limit := c.srv.opts.MaxResultBytes
	var sent int64
	var rows uint64
	for {
		if ctx.Err() != nil {
			break
		}
		if !res.Next() {
			break
		}
		vals := res.Values()
		if len(vals) != len(cols) {
			return outError, rows, fmt.Errorf("a row has %d values for %d columns", len(vals), len(cols))
		}
		c.row, err = appendRow(c.row[:0], cols, vals)
		if err != nil {
			return outError, rows, err
		}
		if limit > 0 && sent+int64(len(c.row)) > limit {
			return outError, rows, tsqlError(ErrResultTooLarge, fmt.Sprintf(
				"The request could not be processed: the result of the query is larger than the %s the TDS endpoint returns; select fewer columns or page by key ranges (TOP with WHERE key > last key ORDER BY key).",
				sizeText(limit)))
		}
		if err := c.pw.write(c.row); err != nil {
			return outBroken, rows, err
		}
		sent += int64(len(c.row))
		rows++
	}
	if context.Cause(ctx) == errAttention {
		return outAttention, rows, nil
	}
	if c.ctx.Err() != nil {
		return outBroken, rows, c.ctx.Err()
	}
	if err := res.Err(); err != nil {
		return outError, rows, err
	}
	return outOK, rows, nil
}

// sizeText writes a byte count as the cap is usually said: "80 MB".
func sizeText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// constant answers a query without FROM.
func (c *conn) constant(st *tsql.Select, a *args) (Result, error) {
	cols := make([]Column, len(st.Items))
	row := make([]any, len(st.Items))
	for i, it := range st.Items {
		col := Column{Name: it.Name(), Nullable: true}
		var v any
		switch e := it.Expr.(type) {
		case *tsql.Global:
			switch e.Name {
			case "@@VERSION":
				col.Type, v = TypeNVarChar, Version
			case "@@SPID":
				col.Type, v = TypeInt, int64(c.spid)
			case "@@SERVERNAME":
				col.Type, v = TypeNVarChar, c.srv.opts.ServerName
			case "@@LANGUAGE":
				col.Type, v = TypeNVarChar, "us_english"
			default:
				return nil, &Error{Number: tsql.ErrUndeclared, Message: `Must declare the scalar variable "` + e.Name + `".`}
			}
		case *tsql.Literal:
			lv, err := tsql.LiteralValue(e)
			if err != nil {
				return nil, err
			}
			v = lv
			col.Type = typeOf(lv)
			if e.Kind == tsql.LitNumber && lv != nil {
				if _, isFloat := lv.(float64); isFloat {
					col.Type = TypeFloat
				} else if x := lv.(int64); x >= -1<<31 && x < 1<<31 {
					col.Type = TypeInt
				}
			}
		case *tsql.Param:
			if e.Index < 0 || e.Index >= len(a.values) {
				return nil, &Error{Number: tsql.ErrUndeclared, Message: `Must declare the scalar variable "` + e.Name + `".`}
			}
			v = a.values[e.Index]
			col.Type = typeOf(v)
		default:
			return nil, fmt.Errorf("tds: %T in a constant query", e)
		}
		if col.Type == 0 {
			return nil, tsqlError(tsql.ErrNotSupported, fmt.Sprintf("The request could not be processed: a value of type %T cannot be selected.", v))
		}
		cols[i], row[i] = col, v
	}
	return NewSliceResult(cols, [][]any{row}), nil
}

// typeOf is the column type a constant travels in.
func typeOf(v any) Type {
	switch v.(type) {
	case nil:
		return TypeInt
	case string:
		return TypeNVarChar
	case int64:
		return TypeBigInt
	case float64:
		return TypeFloat
	case bool:
		return TypeBit
	case time.Time:
		return TypeDateTime2
	}
	return 0
}
