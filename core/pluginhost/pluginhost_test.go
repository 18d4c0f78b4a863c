package pluginhost

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/subprocess"
)

// tiny is the smallest connector: one entity, no rows.
type tiny struct{ name string }

func (t tiny) Info(context.Context) (sdk.Info, error) { return sdk.Info{Name: t.name}, nil }
func (tiny) Schema(context.Context) (*sdk.Schema, error) {
	return &sdk.Schema{Entities: []sdk.Entity{{Name: "e", PrimaryKey: "id"}}}, nil
}
func (tiny) Fetch(_ context.Context, _ sdk.FetchRequest, fn sdk.FetchFunc) error {
	return fn(&sdk.Page{Last: true, Token: []byte("t")})
}
func (tiny) Push(context.Context, sdk.PushRequest) (*sdk.PushResponse, error) {
	return &sdk.PushResponse{}, nil
}
func (tiny) Close(context.Context) error { return nil }

func tinyFactory(_ context.Context, s map[string]string, _ hclog.Logger) (sdk.Connector, error) {
	if s["name"] == "" {
		return nil, sdk.Errorf(sdk.Permanent, "setting name is required")
	}
	return tiny{name: s["name"]}, nil
}

func TestMain(m *testing.M) {
	if os.Getenv("PLUGINHOST_TEST_PLUGIN") == "1" {
		subprocess.Serve(tinyFactory)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	if err := r.Register("tiny", tinyFactory); err != nil {
		t.Fatal(err)
	}
	if err := r.Register("tiny", tinyFactory); err == nil {
		t.Fatal("second registration of one name accepted")
	}
	if err := r.Register("", tinyFactory); err == nil {
		t.Fatal("empty name accepted")
	}
	if got := strings.Join(r.Names(), ","); got != "tiny" {
		t.Fatalf("names = %s", got)
	}
}

func TestOpen(t *testing.T) {
	r := NewRegistry()
	r.Register("tiny", tinyFactory)
	ctx := context.Background()
	tests := []struct {
		name    string
		spec    Spec
		wantErr string
	}{
		{"builtin", Spec{Name: "tiny", Transport: InProcess, Settings: map[string]string{"name": "a"}}, ""},
		{"default transport is builtin", Spec{Name: "tiny", Settings: map[string]string{"name": "a"}}, ""},
		{"unknown builtin", Spec{Name: "nope"}, "unknown connector"},
		{"factory error", Spec{Name: "tiny"}, "setting name is required"},
		{"subprocess", Spec{Name: "tiny", Transport: Subprocess, Command: os.Args[0], Settings: map[string]string{"name": "b"}}, ""},
		{"subprocess without command", Spec{Name: "x", Transport: Subprocess}, "needs a command"},
		{"subprocess factory error", Spec{Name: "x", Transport: Subprocess, Command: os.Args[0]}, "setting name is required"},
		{"wasm without a file", Spec{Name: "x", Transport: WASM}, "needs the path of its .wasm file"},
		{"wasm file missing", Spec{Name: "x", Transport: WASM, Command: "/nonexistent/x.wasm"}, "no such file"},
		{"unknown transport", Spec{Name: "tiny", Transport: "carrier-pigeon"}, "unknown transport"},
	}
	t.Setenv("PLUGINHOST_TEST_PLUGIN", "1") // only the re-executed plugin reads it
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := r.Open(ctx, tt.spec, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(ctx)
			info, _ := c.Info(ctx)
			if info.Name != tt.spec.Settings["name"] {
				t.Fatalf("info name %q", info.Name)
			}
			if err := c.Fetch(ctx, sdk.FetchRequest{Entity: "e"}, func(p *sdk.Page) error {
				if !p.Last {
					return errors.New("want a last page")
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
