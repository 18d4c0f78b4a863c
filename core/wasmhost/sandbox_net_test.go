package wasmhost

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/core/wasmhost/netpolicy"
	"github.com/fieldsync/fieldsync/sdk"
)

// TestSandboxNetwork runs the guest's HTTP through the real network policy
// (NetworkHook): each way out of the sandbox fails with a clear error, and
// the same plugin goes on serving other calls afterwards.
func TestSandboxNetwork(t *testing.T) {
	allowed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			w.Write(make([]byte, 2<<20))
		case "/away":
			http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
		default:
			w.Write([]byte("hello"))
		}
	}))
	defer allowed.Close()
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("secret")) }))
	defer elsewhere.Close()
	rule, err := netpolicy.ParseRule(allowed.URL)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, url    string
		allowPrivate bool
		want         string // "" means the request succeeds
	}{
		{"allowed", allowed.URL + "/hello", true, ""},
		{"host off the allow-list", elsewhere.URL + "/x", true, "not on the allow-list"},
		{"redirect to a disallowed host", allowed.URL + "/away?to=" + elsewhere.URL + "/x", true, "redirect to"},
		{"private address", allowed.URL + "/hello", false, "private address"},
		{"oversized response", allowed.URL + "/big", true, "larger than"},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			name := tt.name
			if stream {
				name += " streamed"
			}
			t.Run(name, func(t *testing.T) {
				logs := &syncBuffer{}
				logger := hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug})
				pol := &netpolicy.Policy{Plugin: "guest", Allow: []netpolicy.Rule{rule}, AllowPrivate: tt.allowPrivate, MaxResponse: 1 << 20, Logger: logger}
				c, _ := openGuest(t, map[string]string{"url": tt.url}, func(c *Config) {
					c.HTTP = NetworkHook(pol)
					if stream {
						c.HTTPStream = NetworkStreamHook(pol)
					}
				})
				ctx := context.Background()
				err := c.Fetch(ctx, sdk.FetchRequest{Entity: "http"}, func(*sdk.Page) error { return nil })
				if tt.want == "" {
					if err != nil {
						t.Fatalf("an allowed request failed: %v", err)
					}
				} else {
					if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `plugin "guest"`) {
						t.Fatalf("got %v, want a refusal naming the plugin and saying %q", err, tt.want)
					}
					if !strings.Contains(logs.String(), tt.want) {
						t.Errorf("the refusal was not logged:\n%s", logs)
					}
				}
				// The plugin keeps working after the refusal.
				pages := fetchAll(t, c, sdk.FetchRequest{Entity: "thing", PageSize: 100})
				if len(pages) == 0 {
					t.Fatal("the plugin stopped serving after a refused request")
				}
			})
		}
	}
}
