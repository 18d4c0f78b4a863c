package netpolicy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// All servers in these tests listen on 127.0.0.1: no other network is
// reachable. Names such as api.example.test are answered by fakeResolver, so
// a test can make a name resolve to 127.0.0.1 (and be dialled, which proves
// the transport dials the checked address: the system resolver knows no
// .test names) or to 10.0.0.5 (and be refused before any dial).

// fakeResolver answers from a table and counts lookups.
type fakeResolver struct {
	mu    sync.Mutex
	table map[string][]string
	calls map[string]int
	// next, if set, overrides the table: it is called with the lookup count
	// for the name (1 for the first lookup).
	next func(host string, n int) []string
}

func newResolver(pairs ...string) *fakeResolver {
	r := &fakeResolver{table: map[string][]string{}, calls: map[string]int{}}
	for i := 0; i+1 < len(pairs); i += 2 {
		r.table[pairs[i]] = append(r.table[pairs[i]], pairs[i+1])
	}
	return r
}

func (r *fakeResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	r.mu.Lock()
	r.calls[host]++
	n := r.calls[host]
	answers := r.table[host]
	if r.next != nil {
		answers = r.next(host, n)
	}
	r.mu.Unlock()
	if len(answers) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []net.IPAddr
	for _, a := range answers {
		out = append(out, net.IPAddr{IP: net.ParseIP(a)})
	}
	return out, nil
}

func (r *fakeResolver) count(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[host]
}

// logBuf captures hclog's JSON output.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// entries returns the logged lines at the given level as field maps.
func (l *logBuf) entries(t *testing.T, level string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m["@level"] == level {
			out = append(out, m)
		}
	}
	return out
}

// server is an httptest server on 127.0.0.1 that counts its requests.
type server struct {
	*httptest.Server
	port int
	hits atomic.Int64
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(s.Close)
	s.port = s.Listener.Addr().(*net.TCPAddr).Port
	return s
}

// url returns http://host:port+path for this server under the given name.
func (s *server) url(host, path string) string {
	return fmt.Sprintf("http://%s:%d%s", host, s.port, path)
}

func (s *server) rule(t *testing.T, host string) Rule {
	t.Helper()
	r, err := ParseRule(s.url(host, ""))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newPolicy(res *fakeResolver, log *logBuf, rules ...Rule) *Policy {
	return &Policy{
		Plugin:   "crm",
		Allow:    rules,
		Resolver: res,
		Logger:   hclog.New(&hclog.LoggerOptions{Output: log, Level: hclog.Debug, JSONFormat: true}),
	}
}

func hello(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("X-Seen-Host", r.Host)
	w.Header().Set("X-Seen-Query", r.URL.RawQuery)
	w.Header().Set("X-Seen-Method", r.Method)
	fmt.Fprintf(w, "hello %s", body)
}

// refusal checks that err is an *Error of the given kind whose text names
// the plugin and the URL and contains want, and that it was logged at Warn
// with the plugin's name and the URL.
func refusal(t *testing.T, err error, kind error, log *logBuf, url, want string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	if !errors.Is(err, kind) {
		t.Errorf("error %q is not %v", err, kind)
	}
	msg := err.Error()
	for _, s := range []string{`plugin "crm"`, url, want} {
		if !strings.Contains(msg, s) {
			t.Errorf("error %q does not contain %q", msg, s)
		}
	}
	for _, m := range log.entries(t, "warn") {
		if m["plugin"] == "crm" && m["url"] == url && strings.Contains(fmt.Sprint(m["reason"]), want) {
			return
		}
	}
	t.Errorf("refusal not logged with plugin and url %s; log:\n%s", url, log.String())
}

func TestAllowedRequestDialsTheCheckedAddress(t *testing.T) {
	t.Parallel()
	srv := newServer(t, hello)
	res := newResolver("api.example.test", "127.0.0.1")
	log := &logBuf{}
	p := newPolicy(res, log, srv.rule(t, "api.example.test"))
	p.AllowPrivate = true

	status, hdr, body, err := p.Do(context.Background(), "POST", srv.url("API.Example.Test.", "/hello?q=1"), nil, []byte("world"))
	if err != nil {
		t.Fatal(err)
	}
	if status != 200 || string(body) != "hello world" {
		t.Fatalf("got %d %q", status, body)
	}
	if got, want := hdr.Get("X-Seen-Host"), fmt.Sprintf("api.example.test:%d", srv.port); got != want {
		t.Errorf("server saw Host %q, want %q", got, want)
	}
	if got := hdr.Get("X-Seen-Query"); got != "q=1" {
		t.Errorf("server saw query %q", got)
	}
	// One lookup, ours: the transport dialled the address we checked. Had
	// it resolved the name itself, the system resolver would have failed.
	if n := res.count("api.example.test"); n != 1 {
		t.Errorf("resolver called %d times, want 1", n)
	}
	if w := log.entries(t, "warn"); len(w) != 0 {
		t.Errorf("an allowed request logged refusals: %v", w)
	}
}

// TestRebindingCannotRedirectTheDial: a resolver that answers differently
// each time (DNS rebinding) is asked once per request, and the connection
// goes to the first answer: a second, unchecked resolution never happens.
func TestRebindingCannotRedirectTheDial(t *testing.T) {
	t.Parallel()
	srv := newServer(t, hello)
	res := newResolver()
	res.next = func(host string, n int) []string {
		if n == 1 {
			return []string{"127.0.0.1"}
		}
		return []string{"10.0.0.5"} // what an attacker's DNS says second
	}
	log := &logBuf{}
	p := newPolicy(res, log, srv.rule(t, "api.example.test"))
	p.AllowPrivate = true // so that 127.0.0.1 is dialable; 10.0.0.5 is unreachable here
	p.Timeout = 2 * time.Second
	if _, _, _, err := p.Do(context.Background(), "GET", srv.url("api.example.test", "/"), nil, nil); err != nil {
		t.Fatal(err)
	}
	if n := res.count("api.example.test"); n != 1 {
		t.Fatalf("resolver called %d times for one request, want 1", n)
	}
	if srv.hits.Load() != 1 {
		t.Fatalf("server saw %d requests, want 1", srv.hits.Load())
	}
}

func TestHostNotOnAllowList(t *testing.T) {
	t.Parallel()
	srv := newServer(t, hello)
	res := newResolver("api.example.test", "127.0.0.1", "evil.example.test", "127.0.0.1")
	log := &logBuf{}
	p := newPolicy(res, log, srv.rule(t, "api.example.test"))
	p.AllowPrivate = true

	_, _, _, err := p.Do(context.Background(), "GET", srv.url("evil.example.test", "/x?token=hunter2#frag"), nil, nil)
	url := srv.url("evil.example.test", "/x")
	refusal(t, err, ErrNotAllowed, log, url, "host evil.example.test is not on the allow-list")
	want := fmt.Sprintf(`plugin "crm": GET %s refused: host evil.example.test is not on the allow-list`, url)
	if err.Error() != want {
		t.Errorf("error\n%s\nwant\n%s", err, want)
	}
	if srv.hits.Load() != 0 || res.count("evil.example.test") != 0 {
		t.Error("a refused host was resolved or contacted")
	}
	if strings.Contains(log.String(), "hunter2") || strings.Contains(err.Error(), "hunter2") {
		t.Error("the query string leaked into the log or the error")
	}

	empty := newPolicy(res, log)
	_, _, _, err = empty.Do(context.Background(), "GET", srv.url("api.example.test", "/"), nil, nil)
	refusal(t, err, ErrNotAllowed, log, srv.url("api.example.test", "/"), "allow-list is empty")
}

func TestWrongSchemeOrPortRefused(t *testing.T) {
	t.Parallel()
	res := newResolver("api.example.test", "127.0.0.1")
	log := &logBuf{}
	p := newPolicy(res, log, Rule{Scheme: "https", Host: "api.example.test"}, Rule{Scheme: "https", Host: "*.cdn.example.test", Port: 8443})
	p.AllowPrivate = true
	for _, c := range []struct{ url, logged, want string }{
		{"http://api.example.test/a", "http://api.example.test:80/a", "scheme http is not on the allow-list for api.example.test"},
		{"https://api.example.test:8443/a", "https://api.example.test:8443/a", "port 8443 is not on the allow-list for https://api.example.test"},
		{"https://img.cdn.example.test/a", "https://img.cdn.example.test:443/a", "port 443 is not on the allow-list"},
		{"https://cdn.example.test:8443/", "https://cdn.example.test:8443/", "host cdn.example.test is not on the allow-list"},
		{"ftp://api.example.test/", `"ftp://api.example.test/"`, `scheme "ftp" is not supported`},
	} {
		_, _, _, err := p.Do(context.Background(), "GET", c.url, nil, nil)
		refusal(t, err, ErrNotAllowed, log, c.logged, c.want)
	}
	if n := res.count("api.example.test"); n != 0 {
		t.Errorf("refused requests were resolved %d times", n)
	}
}

func TestUserInfoRefused(t *testing.T) {
	t.Parallel()
	srv := newServer(t, hello)
	log := &logBuf{}
	p := newPolicy(newResolver("api.example.test", "127.0.0.1"), log, srv.rule(t, "api.example.test"))
	p.AllowPrivate = true
	_, _, _, err := p.Do(context.Background(), "GET", srv.url("bob:pa55word@api.example.test", "/"), nil, nil)
	refusal(t, err, ErrInvalidRequest, log, srv.url("api.example.test", "/"), "user information")
	if strings.Contains(log.String()+err.Error(), "pa55word") {
		t.Error("the password leaked into the log or the error")
	}
	if srv.hits.Load() != 0 {
		t.Error("server was contacted")
	}
}

func TestPrivateAddressRefused(t *testing.T) {
	t.Parallel()
	res := newResolver(
		"intranet.example.test", "10.0.0.5",
		"mixed.example.test", "203.0.113.7", "mixed.example.test", "192.168.1.20",
		"meta.example.test", "169.254.169.254",
		"nat64.example.test", "64:ff9b::a00:5",
		"group.example.test", "224.0.0.1",
	)
	log := &logBuf{}
	var rules []Rule
	for _, h := range []string{"intranet", "mixed", "meta", "nat64", "group"} {
		rules = append(rules, Rule{Scheme: "https", Host: h + ".example.test"})
	}
	p := newPolicy(res, log, rules...)
	for _, c := range []struct{ host, want string }{
		{"intranet", "intranet.example.test resolves to a private address 10.0.0.5 and private addresses are not allowed for this plugin"},
		{"mixed", "resolves to a private address 192.168.1.20"},
		{"meta", "resolves to a link-local address 169.254.169.254"},
		{"nat64", "resolves to a private (embeds 10.0.0.5) address 64:ff9b::a00:5"},
		{"group", "resolves to a multicast address 224.0.0.1, which is never allowed"},
	} {
		url := "https://" + c.host + ".example.test:443/"
		_, _, _, err := p.Do(context.Background(), "GET", url, nil, nil)
		refusal(t, err, ErrPrivateAddress, log, url, c.want)
	}

	// AllowPrivate admits private addresses but never multicast.
	q := newPolicy(res, log, rules...)
	q.AllowPrivate = true
	_, _, _, err := q.Do(context.Background(), "GET", "https://group.example.test/", nil, nil)
	refusal(t, err, ErrPrivateAddress, log, "https://group.example.test:443/", "never allowed")
}

func TestLiteralLoopbackNeedsAllowPrivate(t *testing.T) {
	t.Parallel()
	srv := newServer(t, hello)
	log := &logBuf{}
	rule := srv.rule(t, "127.0.0.1")
	url := srv.url("127.0.0.1", "/ping")

	p := newPolicy(newResolver(), log, rule)
	_, _, _, err := p.Do(context.Background(), "GET", url, nil, nil)
	refusal(t, err, ErrPrivateAddress, log, url, "127.0.0.1 is a loopback address and private addresses are not allowed for this plugin")
	if srv.hits.Load() != 0 {
		t.Fatal("server was contacted")
	}

	q := newPolicy(newResolver(), log, rule)
	q.AllowPrivate = true
	status, _, body, err := q.Do(context.Background(), "GET", url, nil, nil)
	if err != nil || status != 200 || string(body) != "hello " {
		t.Fatalf("with AllowPrivate: %d %q %v", status, body, err)
	}

	// An IPv6 literal is checked the same way.
	r6 := newPolicy(newResolver(), log, Rule{Scheme: "http", Host: "::1", Port: 8080})
	_, _, _, err = r6.Do(context.Background(), "GET", "http://[::1]:8080/", nil, nil)
	refusal(t, err, ErrPrivateAddress, log, "http://[::1]:8080/", "::1 is a loopback address")
}

func TestRedirects(t *testing.T) {
	t.Parallel()
	other := newServer(t, hello) // b.example.test (allowed) and evil.example.test (not)
	var seenMethods []string
	var mu sync.Mutex
	a := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seenMethods = append(seenMethods, r.Method+" "+r.URL.Path)
		mu.Unlock()
		switch r.URL.Path {
		case "/to-b":
			http.Redirect(w, r, other.url("b.example.test", "/landing"), http.StatusFound)
		case "/to-evil":
			http.Redirect(w, r, other.url("evil.example.test", "/landing?secret=x"), http.StatusFound)
		case "/to-multicast":
			w.Header().Set("Location", "http://224.0.0.1/")
			w.WriteHeader(http.StatusTemporaryRedirect)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/see-other":
			http.Redirect(w, r, "/echo", http.StatusSeeOther)
		case "/temporary":
			http.Redirect(w, r, "/echo", http.StatusTemporaryRedirect)
		default:
			hello(w, r)
		}
	})
	res := newResolver("a.example.test", "127.0.0.1", "b.example.test", "127.0.0.1", "evil.example.test", "127.0.0.1")
	log := &logBuf{}
	rules := []Rule{a.rule(t, "a.example.test"), other.rule(t, "b.example.test"), {Scheme: "http", Host: "224.0.0.1"}}
	p := newPolicy(res, log, rules...)
	p.AllowPrivate = true
	ctx := context.Background()

	// Allowed: followed, and the final response returned.
	status, hdr, body, err := p.Do(ctx, "GET", a.url("a.example.test", "/to-b"), nil, nil)
	if err != nil || status != 200 || string(body) != "hello " {
		t.Fatalf("redirect to an allowed host: %d %q %v", status, body, err)
	}
	if got := hdr.Get("X-Seen-Host"); !strings.HasPrefix(got, "b.example.test:") {
		t.Errorf("final hop's Host was %q", got)
	}

	// Disallowed: refused, and the other host never contacted.
	before := other.hits.Load()
	_, _, _, err = p.Do(ctx, "GET", a.url("a.example.test", "/to-evil"), nil, nil)
	refusal(t, err, ErrNotAllowed, log, a.url("a.example.test", "/to-evil"),
		fmt.Sprintf("redirect to %s not allowed: host evil.example.test is not on the allow-list", other.url("evil.example.test", "/landing")))
	if other.hits.Load() != before {
		t.Error("the disallowed redirect target was contacted")
	}
	if strings.Contains(log.String()+err.Error(), "secret=x") {
		t.Error("the redirect's query leaked into the log or the error")
	}

	// Every hop's addresses are checked: multicast is never reachable.
	_, _, _, err = p.Do(ctx, "GET", a.url("a.example.test", "/to-multicast"), nil, nil)
	refusal(t, err, ErrPrivateAddress, log, a.url("a.example.test", "/to-multicast"), "redirect to http://224.0.0.1:80/ not allowed: 224.0.0.1 is a multicast address")

	// A loop stops at MaxRedirects.
	hits := a.hits.Load()
	_, _, _, err = p.Do(ctx, "GET", a.url("a.example.test", "/loop"), nil, nil)
	if !errors.Is(err, ErrTooManyRedirects) || !strings.Contains(err.Error(), "stopped after 5 redirects") {
		t.Errorf("redirect loop: %v", err)
	}
	if n := a.hits.Load() - hits; n != 6 {
		t.Errorf("redirect loop made %d requests, want 6", n)
	}

	// 303 turns a POST into a GET without body; 307 keeps both.
	_, hdr, body, err = p.Do(ctx, "POST", a.url("a.example.test", "/see-other"), http.Header{"Content-Type": {"text/plain"}}, []byte("payload"))
	if err != nil || hdr.Get("X-Seen-Method") != "GET" || string(body) != "hello " {
		t.Errorf("303: %s %q %v", hdr.Get("X-Seen-Method"), body, err)
	}
	_, hdr, body, err = p.Do(ctx, "POST", a.url("a.example.test", "/temporary"), nil, []byte("payload"))
	if err != nil || hdr.Get("X-Seen-Method") != "POST" || string(body) != "hello payload" {
		t.Errorf("307: %s %q %v", hdr.Get("X-Seen-Method"), body, err)
	}

	// MaxRedirects < 0: the redirect goes back to the plugin.
	q := newPolicy(res, log, rules...)
	q.AllowPrivate, q.MaxRedirects = true, -1
	status, hdr, _, err = q.Do(ctx, "GET", a.url("a.example.test", "/to-b"), nil, nil)
	if err != nil || status != http.StatusFound || hdr.Get("Location") == "" {
		t.Errorf("MaxRedirects -1: %d %v", status, err)
	}
}

func TestResponseSizeCap(t *testing.T) {
	t.Parallel()
	var written atomic.Int64
	done := make(chan struct{}, 4)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/exact":
			w.Write(bytes.Repeat([]byte("a"), 1024))
		case "/announced":
			w.Header().Set("Content-Length", "1073741824")
			w.WriteHeader(200)
			// Never send it: the announcement alone is refused.
		case "/endless":
			defer func() { done <- struct{}{} }()
			chunk := bytes.Repeat([]byte("z"), 32<<10)
			for written.Load() < 1<<30 {
				n, err := w.Write(chunk)
				written.Add(int64(n))
				if err != nil {
					return
				}
			}
		}
	})
	log := &logBuf{}
	p := newPolicy(newResolver(), log, srv.rule(t, "127.0.0.1"))
	p.AllowPrivate, p.MaxResponse = true, 1024
	ctx := context.Background()

	_, _, body, err := p.Do(ctx, "GET", srv.url("127.0.0.1", "/exact"), nil, nil)
	if err != nil || len(body) != 1024 {
		t.Fatalf("a body of exactly MaxResponse: %d bytes, %v", len(body), err)
	}

	_, _, _, err = p.Do(ctx, "GET", srv.url("127.0.0.1", "/announced"), nil, nil)
	refusal(t, err, ErrResponseTooLarge, log, srv.url("127.0.0.1", "/announced"), "response larger than 1 KiB (the server announced 1073741824 bytes)")

	start := time.Now()
	_, _, body, err = p.Do(ctx, "GET", srv.url("127.0.0.1", "/endless"), nil, nil)
	refusal(t, err, ErrResponseTooLarge, log, srv.url("127.0.0.1", "/endless"), "response larger than 1 KiB")
	if body != nil {
		t.Error("a partial body was returned")
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the server kept writing: the connection was not closed")
	}
	// The server stops when its writes fail, after filling socket buffers:
	// a few MiB at most, not the GiB it meant to send.
	if w := written.Load(); w >= 64<<20 {
		t.Errorf("server wrote %d bytes before the client gave up", w)
	}
	t.Logf("endless body: refused after %v; server managed to write %d bytes", time.Since(start), written.Load())

	// The default is 16 MiB, and the message says so.
	if got := fmt.Sprintf("response larger than %s", formatBytes(DefaultMaxResponse)); got != "response larger than 16 MiB" {
		t.Errorf("default cap reads %q", got)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow-body" {
			w.WriteHeader(200)
			w.Write([]byte("partial"))
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	log := &logBuf{}
	p := newPolicy(newResolver(), log, srv.rule(t, "127.0.0.1"))
	p.AllowPrivate, p.Timeout = true, 200*time.Millisecond
	for _, path := range []string{"/slow-headers", "/slow-body"} {
		start := time.Now()
		_, _, _, err := p.Do(context.Background(), "GET", srv.url("127.0.0.1", path), nil, nil)
		refusal(t, err, ErrTimeout, log, srv.url("127.0.0.1", path), "timed out after 200ms")
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: took %v with a 200ms timeout", path, d)
		}
	}

	// The caller's cancellation is not reported as our timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	q := newPolicy(newResolver(), log, srv.rule(t, "127.0.0.1"))
	q.AllowPrivate = true
	_, _, _, err := q.Do(ctx, "GET", srv.url("127.0.0.1", "/slow-headers"), nil, nil)
	if errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "failed: canceled") {
		t.Errorf("caller's deadline: %v", err)
	}
}

func TestCredentials(t *testing.T) {
	t.Parallel()
	type seen struct{ auth, cookie, key []string }
	var mu sync.Mutex
	got := map[string]seen{}
	record := func(name string, r *http.Request) {
		mu.Lock()
		got[name+r.URL.Path] = seen{r.Header.Values("Authorization"), r.Header.Values("Cookie"), r.Header.Values("X-Api-Key")}
		mu.Unlock()
	}
	b := newServer(t, func(w http.ResponseWriter, r *http.Request) { record("b", r) })
	a := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		record("a", r)
		switch r.URL.Path {
		case "/to-b":
			http.Redirect(w, r, b.url("b.example.test", "/landing"), http.StatusFound)
		case "/to-self":
			http.Redirect(w, r, "/direct", http.StatusFound)
		case "/to-off-list":
			http.Redirect(w, r, b.url("evil.example.test", "/"), http.StatusFound)
		}
	})
	res := newResolver("a.example.test", "127.0.0.1", "b.example.test", "127.0.0.1", "evil.example.test", "127.0.0.1")
	log := &logBuf{}
	p := newPolicy(res, log, a.rule(t, "a.example.test"), b.rule(t, "b.example.test"))
	p.AllowPrivate = true
	p.Credentials = []Credential{
		{Rule: a.rule(t, "a.example.test"), Value: "Bearer s3cret-a"},
		{Rule: a.rule(t, "a.example.test"), Header: "authorization", Value: "Bearer shadowed"},
		{Rule: b.rule(t, "b.example.test"), Header: "X-Api-Key", Value: "s3cret-b"},
	}
	// The plugin's own Authorization (lower-case, as a guest might send it)
	// and a cookie.
	guest := http.Header{"authorization": {"Bearer guest"}, "Cookie": {"c=1"}, "Host": {"evil.example.test"}}
	ctx := context.Background()
	do := func(url string) {
		t.Helper()
		if _, _, _, err := p.Do(ctx, "GET", url, guest, nil); err != nil {
			t.Fatal(err)
		}
	}
	do(a.url("a.example.test", "/direct"))
	do(a.url("a.example.test", "/to-self"))
	do(a.url("a.example.test", "/to-b"))
	do(b.url("b.example.test", "/direct"))

	check := func(key string, want seen) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		g, ok := got[key]
		if !ok {
			t.Errorf("%s: no request", key)
			return
		}
		if fmt.Sprint(g) != fmt.Sprint(want) {
			t.Errorf("%s: server saw %+v, want %+v", key, g, want)
		}
	}
	// The credential replaces the plugin's header; the first matching
	// credential for a header wins.
	check("a/direct", seen{auth: []string{"Bearer s3cret-a"}, cookie: []string{"c=1"}})
	check("a/to-self", seen{auth: []string{"Bearer s3cret-a"}, cookie: []string{"c=1"}})
	check("a/direct", seen{auth: []string{"Bearer s3cret-a"}, cookie: []string{"c=1"}})
	// After a redirect to another host: no credential (not a's, and not b's
	// either, since the plugin asked for a), and the plugin's sensitive
	// headers are dropped too.
	check("b/landing", seen{})
	// Asked directly, b gets its own credential; the plugin's Authorization,
	// which no credential replaces there, passes.
	check("b/direct", seen{auth: []string{"Bearer guest"}, cookie: []string{"c=1"}, key: []string{"s3cret-b"}})

	// A refusal with credentials configured never logs them.
	_, _, _, err := p.Do(ctx, "GET", a.url("a.example.test", "/to-off-list"), guest, nil)
	if !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("redirect off the list: %v", err)
	}
	if s := log.String() + err.Error(); strings.Contains(s, "s3cret") {
		t.Error("a credential leaked into the log or the error")
	}
}

func TestHeadIgnoresAnnouncedLength(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1073741824")
	})
	p := newPolicy(newResolver(), &logBuf{}, srv.rule(t, "127.0.0.1"))
	p.AllowPrivate, p.MaxResponse = true, 1024
	status, hdr, _, err := p.Do(context.Background(), "HEAD", srv.url("127.0.0.1", "/"), nil, nil)
	if err != nil || status != 200 || hdr.Get("Content-Length") != "1073741824" {
		t.Fatalf("HEAD: %d %v %v", status, hdr, err)
	}
}

func TestTLSVerifiesTheHostName(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(hello))
	srv.Config.ErrorLog = stdlog.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	// httptest's certificate is for example.com and *.example.com.
	res := newResolver("api.example.com", "127.0.0.1", "api.example.test", "127.0.0.1")
	log := &logBuf{}
	p := newPolicy(res, log, Rule{Scheme: "https", Host: "api.example.com", Port: port}, Rule{Scheme: "https", Host: "api.example.test", Port: port})
	p.AllowPrivate, p.RootCAs = true, roots

	status, _, body, err := p.Do(context.Background(), "GET", fmt.Sprintf("https://api.example.com:%d/", port), nil, nil)
	if err != nil || status != 200 || string(body) != "hello " {
		t.Fatalf("https to a name the certificate covers: %d %q %v", status, body, err)
	}
	// Dialled at the same 127.0.0.1, but the certificate is checked against
	// the name, which it does not cover.
	_, _, _, err = p.Do(context.Background(), "GET", fmt.Sprintf("https://api.example.test:%d/", port), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("https to a name the certificate does not cover: %v", err)
	}
}

func TestInvalidRequests(t *testing.T) {
	t.Parallel()
	log := &logBuf{}
	p := newPolicy(newResolver(), log, Rule{Scheme: "http", Host: "api.example.test"})
	for _, c := range []struct{ method, url, logged, want string }{
		{"GET", "/relative", `"/relative"`, "is not an absolute http or https URL"},
		{"GET", "http://%zz/", `"http://%zz/"`, "the URL is not valid"},
		{"GET", "http://127.1/", `"http://127.1/"`, "neither a valid IP address nor a host name"},
		{"CONNECT", "http://api.example.test/", "http://api.example.test:80/", `method "CONNECT" is not allowed`},
		{"GE T", "http://api.example.test/", "http://api.example.test:80/", `method "GE T" is not allowed`},
	} {
		_, _, _, err := p.Do(context.Background(), c.method, c.url, nil, nil)
		refusal(t, err, ErrInvalidRequest, log, c.logged, c.want)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	good := &Policy{Plugin: "crm", Allow: []Rule{{Scheme: "HTTPS", Host: "API.example.com"}}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := &Policy{
		Plugin: "crm",
		Allow:  []Rule{{Scheme: "ftp", Host: "x.example.com"}, {Scheme: "https", Host: "*.com"}},
		Credentials: []Credential{
			{Rule: Rule{Scheme: "https", Host: "x.example.com"}, Header: "Bad Header", Value: "topsecret"},
			{Rule: Rule{Scheme: "https", Host: "x.example.com"}, Header: "Host", Value: "topsecret"},
			{Rule: Rule{Scheme: "https", Host: "x.example.com"}, Value: "topsecret\r\nX-Evil: 1"},
		},
		MaxResponse: -1,
	}
	err := bad.Validate()
	if err == nil {
		t.Fatal("a bad policy validated")
	}
	for _, want := range []string{`plugin "crm": network policy`, `scheme "ftp"`, "too broad", "not a valid header name", "managed by the HTTP client", "line break", "MaxResponse -1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "topsecret") {
		t.Error("a credential value leaked into the validation error")
	}
	if _, _, _, derr := bad.Do(context.Background(), "GET", "https://x.example.com/", nil, nil); derr == nil || derr.Error() != err.Error() {
		t.Errorf("Do on a bad policy: %v", derr)
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	srv := newServer(t, hello)
	p := newPolicy(newResolver("api.example.test", "127.0.0.1"), &logBuf{}, srv.rule(t, "api.example.test"))
	p.AllowPrivate = true
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, _, body, err := p.Do(context.Background(), "POST", srv.url("api.example.test", "/"), nil, []byte(fmt.Sprint(i)))
			if err == nil && string(body) != fmt.Sprintf("hello %d", i) {
				err = fmt.Errorf("request %d got %q", i, body)
			}
			if err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	p.CloseIdleConnections()
}

func TestIPv6(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(hello))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	port := ln.Addr().(*net.TCPAddr).Port
	res := newResolver("v6.example.test", "::1")
	p := newPolicy(res, &logBuf{}, Rule{Scheme: "http", Host: "[::1]", Port: port}, Rule{Scheme: "http", Host: "v6.example.test", Port: port})
	p.AllowPrivate = true
	for _, url := range []string{fmt.Sprintf("http://[::1]:%d/", port), fmt.Sprintf("http://v6.example.test:%d/", port)} {
		status, _, body, err := p.Do(context.Background(), "GET", url, nil, nil)
		if err != nil || status != 200 || string(body) != "hello " {
			t.Errorf("%s: %d %q %v", url, status, body, err)
		}
	}
}

// TestDialRefusesUncheckedAddresses covers the second line of defence: the
// transport's dial function connects only to addresses Do checked, and the
// socket's Control hook refuses non-public addresses on its own.
func TestDialRefusesUncheckedAddresses(t *testing.T) {
	t.Parallel()
	p := &Policy{Plugin: "crm"}
	st, err := p.state()
	if err != nil {
		t.Fatal(err)
	}
	var dr *dialRefusal
	if _, err := st.dialPinned(context.Background(), "tcp", "api.example.test:443"); !errors.As(err, &dr) {
		t.Errorf("dial without a checked address: %v", err)
	}
	pin := &pinned{host: "api.example.test", port: 443, addrs: nil}
	ctx := context.WithValue(context.Background(), pinKey{}, pin)
	if _, err := st.dialPinned(ctx, "tcp", "other.example.test:443"); !errors.As(err, &dr) {
		t.Errorf("dial to another host than the checked one: %v", err)
	}
	for _, addr := range []string{"10.0.0.5:443", "127.0.0.1:80", "[::1]:80", "[fe80::1%lo]:80", "224.0.0.1:80", "name:80"} {
		if err := st.controlDial("tcp", addr, nil); !errors.As(err, &dr) {
			t.Errorf("control allowed %s: %v", addr, err)
		}
	}
	if err := st.controlDial("tcp", "203.0.113.7:443", nil); err != nil {
		t.Errorf("control refused a public address: %v", err)
	}
}
