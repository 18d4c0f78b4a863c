package subprocess

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/sdk"
)

// The test binary doubles as the plugin (and as a host for the SIGKILL test):
// go-plugin's TestHelperProcess idiom, selected by an environment variable.
const envRole = "FIELDSYNC_SUBPROCESS_TEST_ROLE"

func TestMain(m *testing.M) {
	switch os.Getenv(envRole) {
	case "plugin":
		Serve(newFake)
		os.Exit(0)
	case "plugin-v2":
		serve(newFake, sdk.ProtocolMajor+1)
		os.Exit(0)
	case "noisy":
		os.Stdout.WriteString("hello before the handshake\n")
		Serve(newFake)
		os.Exit(0)
	case "host":
		runHost()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func pluginCmd(role string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{envRole + "=" + role}
	return cmd
}

// syncBuffer collects log output written from go-plugin's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func openFake(t *testing.T, settings map[string]string) (*Client, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	logger := hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug})
	c, err := Open(context.Background(), Config{Cmd: pluginCmd("plugin"), Settings: settings, Logger: logger})
	if err != nil {
		t.Fatalf("open plugin: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c, logs
}

func TestFetchRoundTrip(t *testing.T) {
	ctx := context.Background()
	in, _ := newFake(ctx, map[string]string{"rows": "2500"}, hclog.NewNullLogger())
	out, _ := openFake(t, map[string]string{"rows": "2500"})

	collect := func(c sdk.Connector) []*sdk.Page {
		var pages []*sdk.Page
		err := c.Fetch(ctx, sdk.FetchRequest{Entity: "thing", PageSize: 1000}, func(p *sdk.Page) error {
			pages = append(pages, p)
			return nil
		})
		if err != nil {
			t.Fatalf("fetch: %v", err)
		}
		return pages
	}
	want, got := collect(in), collect(out)
	if len(got) != len(want) || len(got) != 3 {
		t.Fatalf("got %d pages over the transport, %d in-process (want 3)", len(got), len(want))
	}
	kinds := fakeKinds()
	for i := range want {
		w, g := want[i], got[i]
		if err := g.Validate(kinds); err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
		if string(g.Cursor) != string(w.Cursor) || g.Last != w.Last || string(g.Token) != string(w.Token) {
			t.Fatalf("page %d: cursor/last/token %q/%v/%q, want %q/%v/%q", i, g.Cursor, g.Last, g.Token, w.Cursor, w.Last, w.Token)
		}
		if strings.Join(g.Deletes, ",") != strings.Join(w.Deletes, ",") {
			t.Fatalf("page %d: deletes %v, want %v", i, g.Deletes, w.Deletes)
		}
		for r := 0; r < w.Len(); r++ {
			wr, gr := w.Row(kinds, r), g.Row(kinds, r)
			if wr.ID != gr.ID || wr.Version != gr.Version {
				t.Fatalf("page %d row %d: id/version %s/%s, want %s/%s", i, r, gr.ID, gr.Version, wr.ID, wr.Version)
			}
			for f, v := range wr.Values {
				if !gr.Values[f].Equal(v) {
					t.Fatalf("page %d row %d field %s: %v, want %v", i, r, f, gr.Values[f], v)
				}
			}
		}
	}
}

func TestSchemaInfoAndLogs(t *testing.T) {
	c, logs := openFake(t, map[string]string{"rows": "1"})
	ctx := context.Background()
	info, _ := c.Info(ctx)
	if info.Name != "fake" || !info.Has(sdk.CapDocuments) {
		t.Fatalf("info = %+v", info)
	}
	s, err := c.Schema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if e := s.Entity("thing"); e == nil || len(e.Fields) != 6 || e.Fields[4].Type != sdk.TypeBinary || !e.Capabilities.Push {
		t.Fatalf("schema = %+v", s)
	}
	if err := c.Fetch(ctx, sdk.FetchRequest{Entity: "thing"}, func(*sdk.Page) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Plugin logs reach the host logger with their level and fields.
	deadline := time.Now().Add(5 * time.Second)
	for {
		l := logs.String()
		if strings.Contains(l, "fake connector configured") && strings.Contains(l, "rows=1") &&
			strings.Contains(l, "[DEBUG]") && strings.Contains(l, "fake connector closed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin logs did not reach the host logger:\n%s", l)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestErrorKindsCrossTheBoundary(t *testing.T) {
	c, _ := openFake(t, map[string]string{"rows": "1"})
	ctx := context.Background()
	noop := func(*sdk.Page) error { return nil }
	tests := []struct {
		entity string
		want   *sdk.Error
	}{
		{"expired", sdk.ErrTokenExpired},
		{"busy", sdk.ErrRetryable},
		{"nosuch", sdk.ErrPermanent},
		{"badpage", sdk.ErrPermanent},
	}
	for _, tt := range tests {
		t.Run(tt.entity, func(t *testing.T) {
			err := c.Fetch(ctx, sdk.FetchRequest{Entity: tt.entity, Token: []byte("t0")}, noop)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v (kind %s), want kind %s", err, sdk.KindOf(err), tt.want.Kind)
			}
			if err.Error() == "" {
				t.Fatal("empty message")
			}
		})
	}
	err := c.Fetch(ctx, sdk.FetchRequest{Entity: "busy"}, noop)
	var se *sdk.Error
	if !errors.As(err, &se) || se.RetryAfter != 7*time.Second {
		t.Fatalf("retry-after lost: %#v", err)
	}
	res, err := c.Push(ctx, sdk.PushRequest{Changes: []sdk.Change{
		{ChangeID: "a", Op: sdk.OpCreate, Entity: "thing", ID: "1", Values: map[string]sdk.Value{"name": sdk.String("fine")}},
		{ChangeID: "b", Op: sdk.OpUpdate, Entity: "thing", ID: "2", Values: map[string]sdk.Value{"name": sdk.String("conflict")}},
		{ChangeID: "c", Op: sdk.OpUpdate, Entity: "thing", ID: "3", Values: map[string]sdk.Value{"name": sdk.String("later")}},
		{ChangeID: "d", Entity: "thing", ID: "4"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Results
	if r[0].Status != sdk.StatusApplied || r[0].Version != "2" {
		t.Errorf("applied: %+v", r[0])
	}
	if r[1].Status != sdk.StatusConflict || r[1].Current == nil || r[1].Current.Values["name"].Str() != "server" || !r[1].Current.Values["count"].IsNull() {
		t.Errorf("conflict: %+v", r[1])
	}
	if r[2].Status != sdk.StatusFailed || !sdk.IsRetryable(r[2].Err) {
		t.Errorf("retryable: %+v", r[2])
	}
	if r[3].Status != sdk.StatusFailed || sdk.KindOf(r[3].Err) != sdk.Permanent {
		t.Errorf("permanent: %+v", r[3])
	}
}

func TestConfigureError(t *testing.T) {
	_, err := Open(context.Background(), Config{Cmd: pluginCmd("plugin"), Settings: map[string]string{"fail": "no path"}})
	if err == nil || !strings.Contains(err.Error(), "bad settings: no path") || sdk.KindOf(err) != sdk.Permanent {
		t.Fatalf("got %v", err)
	}
}

func TestProtocolMajorMismatch(t *testing.T) {
	_, err := Open(context.Background(), Config{Cmd: pluginCmd("plugin-v2"), StartTimeout: 10 * time.Second})
	if err == nil {
		t.Fatal("a plugin of another protocol major was accepted")
	}
}

func TestStdoutBeforeHandshakeIsReported(t *testing.T) {
	_, err := Open(context.Background(), Config{Cmd: pluginCmd("noisy"), StartTimeout: 10 * time.Second})
	if err == nil {
		t.Fatal("a plugin that printed before the handshake was accepted")
	}
}

func TestCancelStopsFetch(t *testing.T) {
	c, _ := openFake(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	pages := 0
	done := make(chan error, 1)
	go func() {
		done <- c.Fetch(ctx, sdk.FetchRequest{Entity: "slow"}, func(*sdk.Page) error {
			pages++
			if pages == 3 {
				cancel()
			}
			return nil
		})
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("fetch did not stop after cancel")
	}
	// The plugin is still usable afterwards.
	if err := c.Fetch(context.Background(), sdk.FetchRequest{Entity: "thing"}, func(*sdk.Page) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestPluginCrashIsAnError(t *testing.T) {
	c, _ := openFake(t, nil)
	done := make(chan error, 1)
	go func() {
		done <- c.Fetch(context.Background(), sdk.FetchRequest{Entity: "crash"}, func(*sdk.Page) error { return nil })
	}()
	select {
	case err := <-done:
		if err == nil || !sdk.IsRetryable(err) {
			t.Fatalf("got %v, want a retryable error", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("fetch hung after the plugin crashed")
	}
}

func TestDocumentsStream(t *testing.T) {
	c, _ := openFake(t, nil)
	ctx := context.Background()
	d, ok := sdk.AsDocuments(ctx, c)
	if !ok {
		t.Fatal("documents capability lost")
	}
	var docs []sdk.Document
	if err := d.ListDocuments(ctx, sdk.DocumentQuery{}, func(p *sdk.DocumentPage) error {
		docs = append(docs, p.Documents...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 || docs[0].Size != 300_000 || docs[0].Modified.UnixMicro() != 1_700_000_000_000_000 {
		t.Fatalf("docs = %+v", docs)
	}
	var buf bytes.Buffer
	if err := d.ReadDocument(ctx, "doc-1", 0, &buf); err != nil {
		t.Fatal(err)
	}
	if buf.String() != docContent() {
		t.Fatalf("read %d bytes, want %d", buf.Len(), len(docContent()))
	}
	buf.Reset()
	if err := d.ReadDocument(ctx, "doc-1", 299_990, &buf); err != nil || buf.String() != "0123456789" {
		t.Fatalf("resume at offset: %q %v", buf.String(), err)
	}
	if err := d.ReadDocument(ctx, "nope", 0, &buf); sdk.KindOf(err) != sdk.Permanent {
		t.Fatalf("missing document: %v", err)
	}
}

// runHost is the "host" role: it opens a plugin, prints the plugin's pid and
// waits to be killed.
func runHost() {
	c, err := Open(context.Background(), Config{Cmd: pluginCmd("plugin")})
	if err != nil {
		os.Stdout.WriteString("error " + err.Error() + "\n")
		return
	}
	os.Stdout.WriteString("pid " + strconv.Itoa(c.Pid()) + "\n")
	time.Sleep(time.Minute)
}

func TestPluginExitsWhenHostIsKilled(t *testing.T) {
	host := exec.Command(os.Args[0])
	host.Env = append(os.Environ(), envRole+"=host")
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer host.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("host said nothing: %v", err)
	}
	var pid int
	if _, err := fmtSscanf(line, "pid %d", &pid); err != nil || pid <= 0 {
		t.Fatalf("host said %q", line)
	}
	if !processAlive(pid) {
		t.Fatalf("plugin %d not running before the host was killed", pid)
	}
	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	host.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for processAlive(pid) && !isZombie(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("plugin %d still running 10 s after its host was SIGKILLed", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
