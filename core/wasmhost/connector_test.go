package wasmhost

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/core/wasmhost/testdata/guestconn"
	"github.com/fieldsync/fieldsync/sdk"
)

// fetchAll collects every page of a fetch.
func fetchAll(t *testing.T, c sdk.Connector, req sdk.FetchRequest) []*sdk.Page {
	t.Helper()
	var pages []*sdk.Page
	if err := c.Fetch(context.Background(), req, func(p *sdk.Page) error {
		pages = append(pages, p)
		return nil
	}); err != nil {
		t.Fatalf("fetch %s: %v", req.Entity, err)
	}
	return pages
}

// TestRoundTrip fetches the same rows from the guest code in-process and
// through the sandbox: every page must arrive whole, values of every kind
// (nulls included) intact.
func TestRoundTrip(t *testing.T) {
	settings := map[string]string{"rows": "2345"}
	c, _ := openGuest(t, settings, nil)
	local, err := guestconn.Factory(context.Background(), settings, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	info, _ := c.Info(context.Background())
	if info.Name != "guestconn" || info.Version != "1.0" || !info.Has(sdk.CapDocuments) {
		t.Errorf("info = %+v", info)
	}
	schema, err := c.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(schema, guestconn.Schema) {
		t.Errorf("schema through the sandbox differs:\n got %+v\nwant %+v", schema, guestconn.Schema)
	}

	req := sdk.FetchRequest{Entity: "thing", PageSize: 1000}
	got, want := fetchAll(t, c, req), fetchAll(t, local, req)
	if len(got) != len(want) || len(got) != 3 {
		t.Fatalf("got %d pages, want %d (3)", len(got), len(want))
	}
	kinds := guestconn.Kinds()
	rows := 0
	for i := range want {
		g, w := got[i], want[i]
		if err := g.Validate(kinds); err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
		if !reflect.DeepEqual(g.Fields, w.Fields) || !reflect.DeepEqual(g.IDs, w.IDs) || !reflect.DeepEqual(g.Versions, w.Versions) ||
			!reflect.DeepEqual(g.Deletes, w.Deletes) || !bytes.Equal(g.Cursor, w.Cursor) || !bytes.Equal(g.Token, w.Token) || g.Last != w.Last {
			t.Fatalf("page %d differs:\n got %+v\nwant %+v", i, g, w)
		}
		for r := 0; r < w.Len(); r++ {
			gr, wr := g.Row(kinds, r), w.Row(kinds, r)
			for f, wv := range wr.Values {
				if gv := gr.Values[f]; !gv.Equal(wv) {
					t.Fatalf("page %d row %s field %s = %v, want %v", i, wr.ID, f, gv, wv)
				}
			}
			rows++
		}
	}
	if rows != 2345 || !got[2].Last || string(got[2].Token) != "token-1" || got[2].Deletes[0] != "gone-1" {
		t.Errorf("rows %d, last page %+v", rows, got[2])
	}

	// Resuming from a cursor continues after that page.
	resumed := fetchAll(t, c, sdk.FetchRequest{Entity: "thing", PageSize: 1000, Cursor: got[0].Cursor})
	if len(resumed) != 2 || resumed[0].IDs[0] != got[1].IDs[0] {
		t.Errorf("resumed fetch: %d pages, first id %q", len(resumed), resumed[0].IDs[0])
	}
}

func TestPush(t *testing.T) {
	c, _ := openGuest(t, nil, nil)
	res, err := c.Push(context.Background(), sdk.PushRequest{Changes: []sdk.Change{
		{ChangeID: "c1", Op: sdk.OpCreate, Entity: "thing", ID: "t-1", Values: map[string]sdk.Value{"name": sdk.String("ok"), "blob": sdk.Bytes([]byte{0, 1}), "ratio": sdk.Float(0.5)}},
		{ChangeID: "c2", Op: sdk.OpUpdate, Entity: "thing", ID: "t-2", BaseVersion: "1", Values: map[string]sdk.Value{"name": sdk.String("conflict")}},
		{ChangeID: "c3", Op: sdk.OpUpdate, Entity: "thing", ID: "t-3", Values: map[string]sdk.Value{"name": sdk.String("later")}},
		{ChangeID: "c4", Entity: "thing", ID: "t-4"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Results
	if len(r) != 4 {
		t.Fatalf("%d results", len(r))
	}
	if r[0].Status != sdk.StatusApplied || r[0].Version != "v-c1" || r[0].ID != "t-1" {
		t.Errorf("applied: %+v", r[0])
	}
	if r[1].Status != sdk.StatusConflict || r[1].Current == nil || r[1].Current.Version != "9" ||
		r[1].Current.Values["name"].Str() != "server" || !r[1].Current.Values["count"].IsNull() {
		t.Errorf("conflict: %+v", r[1])
	}
	if r[2].Status != sdk.StatusFailed || !sdk.IsRetryable(r[2].Err) {
		t.Errorf("retryable failure: %+v", r[2])
	}
	if r[3].Status != sdk.StatusFailed || sdk.KindOf(r[3].Err) != sdk.Permanent {
		t.Errorf("permanent failure: %+v", r[3])
	}
}

func TestDocuments(t *testing.T) {
	c, _ := openGuest(t, nil, nil)
	ctx := context.Background()
	docs, ok := sdk.AsDocuments(ctx, c)
	if !ok {
		t.Fatal("the guest advertises documents but AsDocuments says no")
	}
	var list []sdk.Document
	if err := docs.ListDocuments(ctx, sdk.DocumentQuery{Entity: "thing"}, func(p *sdk.DocumentPage) error {
		list = append(list, p.Documents...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := sdk.Document{ID: "doc-1", Entity: "thing", RecordID: "t-1", Name: "a.bin", MimeType: "application/octet-stream",
		Size: int64(len(guestconn.DocContent())), Modified: time.UnixMicro(1_700_000_000_000_000).UTC(), Version: "1"}
	if len(list) != 1 || !reflect.DeepEqual(list[0], want) {
		t.Errorf("documents = %+v", list)
	}
	for _, offset := range []int64{0, 123_456} {
		var buf bytes.Buffer
		if err := docs.ReadDocument(ctx, "doc-1", offset, &buf); err != nil {
			t.Fatal(err)
		}
		if buf.String() != guestconn.DocContent()[offset:] {
			t.Errorf("read from %d: %d bytes, want %d", offset, buf.Len(), len(guestconn.DocContent())-int(offset))
		}
	}
	if err := docs.ReadDocument(ctx, "nope", 0, &bytes.Buffer{}); sdk.KindOf(err) != sdk.Permanent || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown document: %v", err)
	}
}

// TestErrorKinds: an error keeps its kind, message and retry delay across
// the sandbox; a guest that breaks the contract gets a permanent error.
func TestErrorKinds(t *testing.T) {
	c, _ := openGuest(t, nil, nil)
	tests := []struct {
		entity     string
		kind       sdk.ErrorKind
		is         error
		message    string
		retryAfter time.Duration
	}{
		{"expired", sdk.TokenExpired, sdk.ErrTokenExpired, `token "" expired`, 0},
		{"busy", sdk.Retryable, sdk.ErrRetryable, "server busy", 7 * time.Second},
		{"unsupported", sdk.Unsupported, sdk.ErrUnsupported, "no such thing here", 0},
		{"plain", sdk.Permanent, sdk.ErrPermanent, "an error of no kind", 0},
		{"nope", sdk.Permanent, sdk.ErrPermanent, `unknown entity "nope"`, 0},
		{"badpage", sdk.Permanent, sdk.ErrPermanent, "malformed page", 0},
		{"nolast", sdk.Permanent, sdk.ErrPermanent, "returned before its last page", 0},
	}
	for _, tt := range tests {
		t.Run(tt.entity, func(t *testing.T) {
			err := c.Fetch(context.Background(), sdk.FetchRequest{Entity: tt.entity}, func(*sdk.Page) error { return nil })
			if sdk.KindOf(err) != tt.kind || !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("error %v (kind %s), want kind %s with %q", err, sdk.KindOf(err), tt.kind, tt.message)
			}
			var se *sdk.Error
			if errors.As(err, &se) && se.RetryAfter != tt.retryAfter {
				t.Errorf("retry after %v, want %v", se.RetryAfter, tt.retryAfter)
			}
		})
	}
	if n := c.p.pool.idleCount(); n != 1 {
		t.Errorf("%d idle instances after errors, want the one instance kept", n)
	}
}

func TestConfigureError(t *testing.T) {
	_, err := Open(context.Background(), Config{Path: buildGuest(t), Name: "guest", CacheDir: sharedDir, Settings: map[string]string{"fail": "no password"}})
	if sdk.KindOf(err) != sdk.Permanent || !strings.Contains(err.Error(), "bad settings: no password") || !strings.Contains(err.Error(), "guest") {
		t.Errorf("open with bad settings: %v", err)
	}
}

// TestConcurrentFetch: fetches in parallel run on as many instances as the
// pool allows, each configured.
func TestConcurrentFetch(t *testing.T) {
	c, _ := openGuest(t, map[string]string{"rows": "3000"}, func(c *Config) { c.PoolSize = 3 })
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Go(func() {
			n := 0
			err := c.Fetch(context.Background(), sdk.FetchRequest{Entity: "thing", PageSize: 500}, func(p *sdk.Page) error {
				n += p.Len()
				time.Sleep(time.Millisecond) // keep the instance busy so others are made
				return nil
			})
			if err == nil && n != 3000 {
				err = errors.New("short fetch")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := c.p.pool.idleCount(); n < 2 || n > 3 {
		t.Errorf("%d idle instances after 6 parallel fetches with a pool of 3", n)
	}
}

func TestLogs(t *testing.T) {
	c, logs := openGuest(t, nil, nil)
	if err := c.Fetch(context.Background(), sdk.FetchRequest{Entity: "log"}, func(*sdk.Page) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := c.Fetch(context.Background(), sdk.FetchRequest{Entity: "stderr"}, func(*sdk.Page) error { return nil }); err != nil {
		t.Fatal(err)
	}
	c.Close(context.Background())
	out := logs.String()
	for _, want := range []string{
		"[INFO]  guest: guest connector configured: rows=10",
		"[DEBUG] guest: a debug line: n=1",
		"[INFO]  guest: an info line: entity=log n=2",
		"[WARN]  guest.sub: a warning: implied=yes n=3",
		"[ERROR] guest: an error line: err=boom",
		`[WARN]  guest: plugin stderr: output="a line on stderr"`,
		`[WARN]  guest: plugin stdout: output="a line on stdout"`,
		"[INFO]  guest: guest connector closed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "a trace line") {
		t.Errorf("a trace line passed a debug logger:\n%s", out)
	}
}
