package emulator

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Request is one entry of the request log: one HTTP request the server
// answered (a $batch is one request; Parts says how many it carried).
type Request struct {
	ID       int64         `json:"id"`
	At       time.Time     `json:"at"`
	Method   string        `json:"method"`
	Path     string        `json:"path"` // path and query as sent
	Status   int           `json:"status"`
	User     string        `json:"user,omitempty"` // systemuserid; "" before authentication
	BytesIn  int64         `json:"bytesIn"`
	BytesOut int64         `json:"bytesOut"`
	Elapsed  time.Duration `json:"elapsedNs"`
	Parts    int           `json:"parts,omitempty"`
}

type requestLog struct {
	mu   sync.Mutex
	max  int
	next int64
	log  []Request
	// inflight counts requests being served: a client may hold its whole
	// response before the handler returns and the request is logged, so
	// reading the log first waits for those (settle).
	inflight int
	idle     *sync.Cond
}

func newRequestLog(max int) *requestLog {
	l := &requestLog{max: max, next: 1}
	l.idle = sync.NewCond(&l.mu)
	return l
}

// settleWait bounds how long reading the log waits for requests in flight
// (a request that streams for longer is simply not in the log yet).
const settleWait = 2 * time.Second

// settle waits, holding l.mu on return, until at most self requests are in
// flight (1 when the caller is itself a logged request), or settleWait.
func (l *requestLog) settle(self int) {
	deadline := time.Now().Add(settleWait)
	for l.inflight > self && time.Now().Before(deadline) {
		// Cond has no timed wait: wake up periodically to check the time.
		t := time.AfterFunc(50*time.Millisecond, func() { l.mu.Lock(); l.idle.Broadcast(); l.mu.Unlock() })
		l.idle.Wait()
		t.Stop()
	}
}

func (l *requestLog) begin() {
	l.mu.Lock()
	l.inflight++
	l.mu.Unlock()
}

func (l *requestLog) end() {
	l.mu.Lock()
	l.inflight--
	l.idle.Broadcast()
	l.mu.Unlock()
}

func (l *requestLog) add(r Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r.ID = l.next
	l.next++
	if len(l.log) >= l.max {
		drop := len(l.log) - l.max + 1
		l.log = append(l.log[:0], l.log[drop:]...)
	}
	l.log = append(l.log, r)
}

// Requests returns the logged requests with an id above afterID, oldest
// first (0: all kept).
func (s *Server) Requests(afterID int64) []Request { return s.requests(afterID, 0) }

// requests reads the log once the requests in flight (other than self of
// them: the admin endpoint's own) are logged.
func (s *Server) requests(afterID int64, self int) []Request {
	l := s.reqlog
	l.mu.Lock()
	l.settle(self)
	defer l.mu.Unlock()
	out := []Request{}
	for _, r := range l.log {
		if r.ID > afterID {
			out = append(out, r)
		}
	}
	return out
}

// LastRequestID is the id of the newest logged request (0: none), to pass
// to Requests later.
func (s *Server) LastRequestID() int64 {
	l := s.reqlog
	l.mu.Lock()
	l.settle(0)
	defer l.mu.Unlock()
	return l.next - 1
}

// loggedWriter counts what a handler writes.
type loggedWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	user   string
	parts  int
}

func (w *loggedWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *loggedWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *loggedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *loggedWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *loggedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if hj, ok := w.ResponseWriter.(http.Hijacker); ok {
		w.status = -1 // dropped
		return hj.Hijack()
	}
	return nil, nil, errors.New("hijack not supported")
}

type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

// logged records every request in the request log and the logger.
func (s *Server) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.reqlog.begin()
		defer s.reqlog.end() // after the deferred logging below
		lw := &loggedWriter{ResponseWriter: w}
		body := &countingBody{ReadCloser: r.Body}
		r.Body = body
		defer func() {
			rec := Request{At: start.UTC(), Method: r.Method, Path: r.URL.RequestURI(), Status: lw.status,
				User: lw.user, BytesIn: body.n, BytesOut: lw.bytes, Elapsed: time.Since(start), Parts: lw.parts}
			if rec.Status == 0 {
				rec.Status = http.StatusOK
			}
			if p := recover(); p != nil {
				if rec.Status <= 0 || lw.bytes == 0 {
					rec.Status = -1
				}
				s.reqlog.add(rec)
				panic(p)
			}
			s.reqlog.add(rec)
			s.log.Debug("request", "method", rec.Method, "path", r.URL.Path, "status", rec.Status,
				"user", rec.User, "bytes", rec.BytesOut, "ms", rec.Elapsed.Milliseconds())
		}()
		next.ServeHTTP(lw, r)
	})
}
