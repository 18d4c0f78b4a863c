package netpolicy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"
)

// Open hands the body over as it arrives: the first part is readable while
// the server still holds back the rest.
func TestOpenStreamsTheBody(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Part", "two")
		w.WriteHeader(http.StatusAccepted)
		w.Write([]byte("first;"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Write([]byte("second"))
	})
	log := &logBuf{}
	p := newPolicy(newResolver(), log, srv.rule(t, "127.0.0.1"))
	p.AllowPrivate = true
	status, h, body, err := p.Open(context.Background(), "GET", srv.url("127.0.0.1", "/"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	if status != http.StatusAccepted || h.Get("X-Part") != "two" {
		t.Fatalf("status %d, header %v", status, h)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(body, buf); err != nil || string(buf) != "first;" {
		t.Fatalf("first part: %q, %v", buf, err)
	}
	close(release)
	rest, err := io.ReadAll(body)
	if err != nil || string(rest) != "second" {
		t.Fatalf("rest: %q, %v", rest, err)
	}
	if n, err := body.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("after EOF: %d, %v", n, err)
	}
}

// The size cap holds as the body is read: exactly MaxResponse bytes pass,
// one more is an error, and an endless body is cut off.
func TestOpenEnforcesTheSizeCapWhileReading(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/exact":
			w.Write(bytes.Repeat([]byte("a"), 1024))
		case "/announced":
			w.Header().Set("Content-Length", "1073741824")
			w.WriteHeader(200)
		case "/endless":
			chunk := bytes.Repeat([]byte("z"), 100)
			for i := 0; i < 1<<20; i++ {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}
	})
	log := &logBuf{}
	p := newPolicy(newResolver(), log, srv.rule(t, "127.0.0.1"))
	p.AllowPrivate, p.MaxResponse = true, 1024
	ctx := context.Background()

	_, _, body, err := p.Open(ctx, "GET", srv.url("127.0.0.1", "/exact"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(body)
	body.Close()
	if err != nil || len(b) != 1024 {
		t.Fatalf("a body of exactly MaxResponse: %d bytes, %v", len(b), err)
	}

	_, _, body, err = p.Open(ctx, "GET", srv.url("127.0.0.1", "/announced"), nil, nil)
	if body != nil {
		t.Error("a body came with the refusal")
	}
	refusal(t, err, ErrResponseTooLarge, log, srv.url("127.0.0.1", "/announced"), "the server announced 1073741824 bytes")

	_, _, body, err = p.Open(ctx, "GET", srv.url("127.0.0.1", "/endless"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	var got int
	buf := make([]byte, 300) // not a divisor of the cap
	for {
		n, err := body.Read(buf)
		got += n
		if err != nil {
			refusal(t, err, ErrResponseTooLarge, log, srv.url("127.0.0.1", "/endless"), "response larger than 1 KiB")
			break
		}
	}
	if got > 1024 {
		t.Errorf("%d bytes delivered past a cap of 1024", got)
	}
	// The error sticks.
	if _, err := body.Read(buf); !errors.Is(err, ErrResponseTooLarge) {
		t.Errorf("second read after the cap: %v", err)
	}
}

// Timeout covers reading the body, and Open refuses like Do.
func TestOpenTimeoutAndRefusal(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	log := &logBuf{}
	p := newPolicy(newResolver(), log, srv.rule(t, "127.0.0.1"))
	p.AllowPrivate, p.Timeout = true, 200*time.Millisecond
	start := time.Now()
	_, _, body, err := p.Open(context.Background(), "GET", srv.url("127.0.0.1", "/slow-body"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	_, err = io.ReadAll(body)
	refusal(t, err, ErrTimeout, log, srv.url("127.0.0.1", "/slow-body"), "timed out after 200ms")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v with a 200ms timeout", d)
	}

	_, _, body, err = p.Open(context.Background(), "GET", "http://api.example.test/", nil, nil)
	if body != nil {
		t.Error("a body came with the refusal")
	}
	refusal(t, err, ErrNotAllowed, log, "http://api.example.test:80/", "not on the allow-list")
}
