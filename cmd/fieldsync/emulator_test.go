package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The mock emulator serves a server file over HTTP until its context ends,
// and requires the token it was given.
func TestEmulatorMock(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut lockedBuffer
	done := make(chan int, 1)
	server := filepath.Join(t.TempDir(), "server.db")
	go func() {
		done <- execute(ctx, []string{"emulator", "mock", "--create", "--server", server, "--listen", "127.0.0.1:0", "--token", "t0k=alice"}, &out, &errOut)
	}()
	re := regexp.MustCompile(`http://127\.0\.0\.1:\d+`)
	var url string
	for deadline := time.Now().Add(10 * time.Second); url == ""; {
		if time.Now().After(deadline) {
			t.Fatalf("the emulator did not start: %s %s", out.String(), errOut.String())
		}
		url = re.FindString(out.String())
		time.Sleep(10 * time.Millisecond)
	}
	get := func(token string) int {
		req, _ := http.NewRequest("GET", url+"/v1/info", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("t0k"); code != 200 {
		t.Fatalf("with the token: %d", code)
	}
	if code := get(""); code != 401 {
		t.Fatalf("without the token: %d, want 401", code)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the emulator did not stop when its context ended")
	}
}
