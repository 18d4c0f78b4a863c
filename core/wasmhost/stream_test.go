package wasmhost

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/core/wasmhost/netpolicy"
	"github.com/fieldsync/fieldsync/sdk"
)

// streamed opens the guest with both network hooks from one policy that
// allows url.
func streamed(t *testing.T, url, fetch string, change func(*Config)) *Connector {
	t.Helper()
	rule, err := netpolicy.ParseRule(url)
	if err != nil {
		t.Fatal(err)
	}
	pol := &netpolicy.Policy{Plugin: "guest", Allow: []netpolicy.Rule{rule}, AllowPrivate: true}
	c, _ := openGuest(t, map[string]string{"url": fetch}, func(c *Config) {
		c.HTTP, c.HTTPStream = NetworkHook(pol), NetworkStreamHook(pol)
		if change != nil {
			change(c)
		}
	})
	return c
}

func fetchRow(t *testing.T, c *Connector, entity string) []sdk.Value {
	t.Helper()
	var row []sdk.Value
	err := c.Fetch(context.Background(), sdk.FetchRequest{Entity: entity}, func(p *sdk.Page) error {
		if p.Len() > 0 {
			r := p.Row([]sdk.Kind{sdk.KindInt, sdk.KindString, sdk.KindString}, 0)
			row = []sdk.Value{r.Values["status"], r.Values["body"], r.Values["header"]}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return row
}

// The host's time limit pauses while the guest waits in http_read: a body
// that trickles in slower than the limit still arrives whole.
func TestStreamedBodyPausesTheTimeLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Test", "slow")
		for i := range 3 {
			fmt.Fprintf(w, "part%d;", i)
			w.(http.Flusher).Flush()
			time.Sleep(300 * time.Millisecond)
		}
	}))
	defer srv.Close()
	c := streamed(t, srv.URL, srv.URL+"/slow", func(c *Config) { c.CallTimeout = 200 * time.Millisecond })
	row := fetchRow(t, c, "http")
	if got := fmt.Sprint(row); !strings.Contains(got, "part0;part1;part2;") || !strings.Contains(got, "slow") {
		t.Fatalf("row %v", got)
	}
}

// A second request opened while the first body is half read: the guest
// keeps the rest of the first, and both arrive whole. The same works with
// only the whole-body hook (the host then streams from the buffered body).
func TestStreamedInterleavedRequests(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "body-%s-%s", r.URL.Query().Get("n"), strings.Repeat("x", 300<<10))
	}))
	defer srv.Close()
	want := "body-1-" + strings.Repeat("x", 300<<10) + "|body-2-" + strings.Repeat("x", 300<<10)
	for _, mode := range []string{"stream", "whole"} {
		t.Run(mode, func(t *testing.T) {
			c := streamed(t, srv.URL, srv.URL+"/", func(c *Config) {
				if mode == "whole" {
					c.HTTPStream = nil
				}
			})
			row := fetchRow(t, c, "http2")
			if len(row) < 2 || row[1].Str() != want {
				t.Fatalf("body of %d bytes, want %d", len(row[1].Str()), len(want))
			}
		})
	}
}

// A body the guest leaves open is closed when the call ends: the server
// sees its client go away, and the instance serves the next call.
func TestStreamLeftOpenIsClosedWithTheCall(t *testing.T) {
	var gone atomic.Bool
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		w.Write([]byte("x"))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			gone.Store(true)
		case <-time.After(5 * time.Second):
		}
	}))
	defer srv.Close()
	c := streamed(t, srv.URL, srv.URL+"/leak", nil)
	if err := c.Fetch(context.Background(), sdk.FetchRequest{Entity: "httpleak"}, func(*sdk.Page) error { return nil }); err != nil {
		t.Fatal(err)
	}
	<-done
	if !gone.Load() {
		t.Fatal("the response body stayed open after the call")
	}
	if pages := fetchAll(t, c, sdk.FetchRequest{Entity: "thing", PageSize: 100}); len(pages) == 0 {
		t.Fatal("the plugin stopped serving")
	}
}
