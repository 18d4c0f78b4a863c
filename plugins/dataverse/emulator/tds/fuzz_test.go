package tds

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-sql/civil"
	mssql "github.com/microsoft/go-mssqldb"
	"github.com/shopspring/decimal"

	"github.com/fieldsync/fieldsync/plugins/dataverse/tsql"
)

// recordingListener keeps what clients send on each connection.
type recordingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*recordingConn
}

type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.buf.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	rc := &recordingConn{Conn: c}
	l.mu.Lock()
	l.conns = append(l.conns, rc)
	l.mu.Unlock()
	return rc, nil
}

// fuzzQuery serves every type, nulls included, without a store.
func fuzzQuery(ctx context.Context, user string, q *tsql.Select, args []any) (Result, error) {
	if strings.EqualFold(q.From, "fail") {
		return nil, errors.New("refused")
	}
	if _, err := q.SQLite(catalog{}, args); err != nil {
		return nil, err
	}
	cols := make([]Column, len(accountColumns))
	for i, c := range accountColumns {
		cols[i] = c.tds
	}
	full := []any{"00112233-4455-6677-8899-aabbccddeeff", "name 𝄞", int64(7), "12.5000", time.Unix(1e9, 5000).UTC(),
		true, 0.5, int64(1) << 50, "00112233-4455-6677-8899-aabbccddeeff", strings.Repeat("d", 5000)}
	nulls := []any{"00112233-4455-6677-8899-aabbccddeeff", nil, nil, nil, nil, nil, nil, nil, nil, nil}
	return NewSliceResult(cols, [][]any{full, nulls, full}), nil
}

// recordSession runs a go-mssqldb session against a recording server and
// returns the client's bytes: PRELOGIN, LOGIN7, SQL batches, RPCs,
// ATTENTION.
func recordSession(t testing.TB) []byte {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rl := &recordingListener{Listener: l}
	s := NewServer(Options{ValidToken: validToken, Query: fuzzQuery})
	go s.Serve(rl)
	defer s.Close()
	db := openDB(t, l.Addr().String(), goodToken, "&packet+size=512")
	db.SetMaxOpenConns(1)
	run := func(q string, args ...any) {
		rs, err := db.Query(q, args...)
		if err == nil {
			for rs.Next() {
			}
			rs.Close()
		}
	}
	run("SELECT @@VERSION")
	run("SET NOCOUNT ON; SELECT * FROM account WHERE name LIKE N'a%' ORDER BY accountid DESC")
	run("SELECT TOP (@p2) accountid, name FROM account WHERE accountid > @p1 AND revenue BETWEEN @p3 AND @p4 ORDER BY accountid",
		"00000000-0000-0000-0000-000000000000", 10, 1.5, "12.5")
	run("SELECT @p1, @p2, @p3, @p4, @p5, @p6, @p7, @p8, @p9", true, time.Now(), civil.DateTimeOf(time.Now()),
		mssql.UniqueIdentifier{1, 2, 3}, mssql.Money[decimal.Decimal]{Decimal: decimal.NewFromFloat(1.25)},
		mssql.NVarCharMax(strings.Repeat("x", 600)), int32(5), mssql.VarChar("v"), nil)
	run("DELETE FROM account")
	run("SELECT name FROM fail")
	ctx, cancel := context.WithCancel(context.Background())
	if rs, err := db.QueryContext(ctx, "SELECT * FROM account"); err == nil {
		rs.Next()
		cancel()
		rs.Close()
	}
	cancel()
	db.Close()
	s.Close()
	rl.mu.Lock()
	defer rl.mu.Unlock()
	var out []byte
	for _, c := range rl.conns {
		c.mu.Lock()
		out = append(out, c.buf.Bytes()...)
		c.mu.Unlock()
	}
	return out
}

// messages splits a recorded stream into its messages.
func messages(stream []byte) []*message {
	var out []*message
	r := bytes.NewReader(stream)
	for {
		m, err := readMessage(r, MaxRequestBytes)
		if err != nil {
			return out
		}
		out = append(out, m)
	}
}

var (
	recordOnce sync.Once
	recorded   []byte
)

func seedSession(t testing.TB) []byte {
	recordOnce.Do(func() { recorded = recordSession(t) })
	return recorded
}

func TestRecordedSession(t *testing.T) {
	ms := messages(seedSession(t))
	types := map[byte]int{}
	for _, m := range ms {
		types[m.typ]++
	}
	if types[pktPrelogin] != 1 || types[pktLogin7] != 1 || types[pktSQLBatch] == 0 || types[pktRPC] == 0 {
		t.Fatalf("recorded message types %v", types)
	}
}

func FuzzReadMessage(f *testing.F) {
	f.Add(seedSession(f))
	f.Add([]byte{1, 1, 0, 8, 0, 0, 1, 0})
	f.Add([]byte{1, 0, 0, 9, 0, 0, 1, 0, 'a', 1, 3, 0, 9, 0, 0, 2, 0, 'b'})
	f.Add([]byte{1, 2, 0, 9, 0, 0, 1, 0, 'a'})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		total := 0
		for {
			m, err := readMessage(r, 1<<16)
			if err != nil {
				if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.Is(err, errProtocol) {
					t.Fatalf("error %v", err)
				}
				return
			}
			total += len(m.data)
			if total > len(data) {
				t.Fatalf("read %d payload bytes from %d", total, len(data))
			}
		}
	})
}

func FuzzLogin(f *testing.F) {
	for _, m := range messages(seedSession(f)) {
		if m.typ == pktPrelogin || m.typ == pktLogin7 {
			f.Add(m.typ, m.data)
		}
	}
	f.Fuzz(func(t *testing.T, typ byte, data []byte) {
		if typ%2 == 0 {
			p, err := parsePrelogin(data)
			if err == nil {
				if reply := preloginReply(p); len(reply) == 0 {
					t.Fatal("empty PRELOGIN reply")
				}
			} else if !errors.Is(err, errProtocol) {
				t.Fatalf("error %v", err)
			}
			return
		}
		l, err := parseLogin7(data)
		if err != nil {
			if !errors.Is(err, errProtocol) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if len(l.token) > len(data) || len(l.database) > 2*len(data) {
			t.Fatal("fields longer than the message")
		}
	})
}

func FuzzRequest(f *testing.F) {
	for _, m := range messages(seedSession(f)) {
		if m.typ == pktRPC || m.typ == pktSQLBatch {
			f.Add(m.typ, m.data)
		}
	}
	f.Fuzz(func(t *testing.T, typ byte, data []byte) {
		if typ == pktSQLBatch {
			text, err := parseBatch(data)
			if err == nil {
				_, _ = tsql.ParseBatch(text)
			} else if !errors.Is(err, errProtocol) {
				t.Fatalf("error %v", err)
			}
			return
		}
		req, err := parseRPC(data)
		if err != nil {
			if !errors.Is(err, errProtocol) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if req.unsupported == nil {
			stmts, a, err := req.executeSQL()
			if err == nil && a != nil && len(a.names) != len(a.values) {
				t.Fatalf("%d names for %d values", len(a.names), len(a.values))
			}
			for _, st := range stmts {
				if s, ok := st.(*tsql.Select); ok && a != nil {
					_ = s.Bind(a.names)
				}
			}
		}
	})
}

// pipeConn is a connection whose client side is fixed input; what the
// server writes is discarded.
type pipeConn struct {
	r      *bytes.Reader
	mu     sync.Mutex
	closed bool
}

func (c *pipeConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	return c.r.Read(p)
}
func (c *pipeConn) Write(p []byte) (int, error) { return len(p), nil }
func (c *pipeConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return nil
}
func (c *pipeConn) LocalAddr() net.Addr                { return &net.TCPAddr{} }
func (c *pipeConn) RemoteAddr() net.Addr               { return &net.TCPAddr{} }
func (c *pipeConn) SetDeadline(t time.Time) error      { return nil }
func (c *pipeConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *pipeConn) SetWriteDeadline(t time.Time) error { return nil }

// FuzzConn feeds whole client streams to a connection: whatever arrives,
// the server neither panics nor hangs, and ends when the input does.
func FuzzConn(f *testing.F) {
	rec := seedSession(f)
	f.Add(rec)
	ms := messages(rec)
	if len(ms) > 3 {
		// The login alone, then each request after it.
		var login bytes.Buffer
		pw := newPacketWriter(&login, 0)
		for _, m := range ms[:2] {
			pw.begin(m.typ)
			pw.write(m.data)
			pw.finish()
		}
		for _, m := range ms[2:] {
			var b bytes.Buffer
			b.Write(login.Bytes())
			pw := newPacketWriter(&b, 0)
			pw.begin(m.typ)
			pw.write(m.data)
			pw.finish()
			f.Add(b.Bytes())
		}
	}
	recoverPanics = false
	srv := NewServer(Options{ValidToken: validToken, Query: fuzzQuery, MaxResultBytes: 20000})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := srv.newConn(&pipeConn{r: bytes.NewReader(data)})
		done := make(chan struct{})
		go func() {
			c.serve()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the connection did not end with its input")
		}
	})
}
