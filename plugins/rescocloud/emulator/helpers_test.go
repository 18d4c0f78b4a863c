package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestServer(t testing.TB, opts Options) (*Server, *clock) {
	t.Helper()
	c := &clock{t: testNow}
	if opts.Now == nil {
		opts.Now = c.now
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, c
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

var adminAuth = basic(DefaultUsername, DefaultPassword)

type response struct {
	status int
	header http.Header
	body   string
}

// do serves one request through the handler.
func do(t testing.TB, s *Server, auth, method, path, body string) response {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	return response{status: w.Code, header: w.Header(), body: w.Body.String()}
}

func api(name string) string { return APIPath + name }

// mustOK fails unless the answer is 200.
func mustOK(t testing.TB, r response) response {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	return r
}

var guidRE = regexp.MustCompile(`(?i)\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?`)

// normalizer replaces GUIDs not chosen by the test with stable names.
type normalizer struct {
	fixed map[string]bool
	names map[string]string
}

func newNormalizer() *normalizer {
	return &normalizer{fixed: map[string]bool{}, names: map[string]string{}}
}

func (n *normalizer) keep(ids ...string) {
	for _, id := range ids {
		n.fixed[strings.ToLower(id)] = true
	}
}

func (n *normalizer) name(id, label string) { n.names[strings.ToLower(id)] = label }

func (n *normalizer) apply(s string) string {
	return guidRE.ReplaceAllStringFunc(s, func(m string) string {
		k := strings.ToLower(strings.Trim(m, "{}"))
		if n.fixed[k] {
			return m
		}
		if v, ok := n.names[k]; ok {
			return v
		}
		v := fmt.Sprintf("<guid-%d>", len(n.names)+1)
		n.names[k] = v
		return v
	})
}

func compact(s string) string {
	var b bytes.Buffer
	b.WriteString(strings.TrimSpace(s))
	return b.String()
}

// jsonField returns a top-level string field of a JSON object.
func jsonField(t testing.TB, body, field string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	s, _ := m[field].(string)
	return s
}

func itoa(i int) string { return strconv.Itoa(i) }

func jsonFetch(x string) string {
	b, _ := json.Marshal(fetchRequest{FetchXml: x})
	return string(b)
}
