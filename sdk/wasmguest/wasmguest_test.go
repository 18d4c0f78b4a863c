package wasmguest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/protobuf/proto"

	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
	"github.com/fieldsync/fieldsync/sdk/wasmabi"
	"github.com/fieldsync/fieldsync/sdk/wire"
)

// These tests run the guest's dispatch on the build machine against a fake
// host; core/wasmhost tests the real thing inside wazero.

type fakeHost struct {
	emitted  [][]byte
	stopAt   int // emit answers stop from this message on (0: never)
	logs     []*pb.LogRecord
	requests []*pb.HttpRequest
	answer   *pb.HttpResponse
}

func (h *fakeHost) emit(msg []byte) bool {
	h.emitted = append(h.emitted, append([]byte(nil), msg...))
	return h.stopAt == 0 || len(h.emitted) < h.stopAt
}

func (h *fakeHost) log(rec []byte) {
	var r pb.LogRecord
	if proto.Unmarshal(rec, &r) == nil {
		h.logs = append(h.logs, &r)
	}
}

func (h *fakeHost) http(req []byte) []byte {
	var r pb.HttpRequest
	proto.Unmarshal(req, &r)
	h.requests = append(h.requests, &r)
	b, _ := proto.Marshal(h.answer)
	return b
}

// pager is a connector that streams pages of one row until told to stop.
type pager struct{ pages int }

func (p *pager) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "pager", Version: "2"}, nil
}
func (p *pager) Schema(context.Context) (*sdk.Schema, error) {
	return &sdk.Schema{Entities: []sdk.Entity{{Name: "e", PrimaryKey: "id"}}}, nil
}
func (p *pager) Fetch(ctx context.Context, req sdk.FetchRequest, fn sdk.FetchFunc) error {
	if req.Entity == "expired" {
		return &sdk.Error{Kind: sdk.TokenExpired, Message: "too old"}
	}
	for i := range p.pages {
		if err := fn(&sdk.Page{IDs: []string{"r"}, Versions: []string{"1"}, Last: i == p.pages-1}); err != nil {
			return err
		}
	}
	return nil
}
func (p *pager) Push(context.Context, sdk.PushRequest) (*sdk.PushResponse, error) {
	return nil, errors.New("read only")
}
func (p *pager) Close(context.Context) error { return nil }

func call(t *testing.T, d *dispatcher, h host, method wasmabi.Method, req proto.Message, resp proto.Message) error {
	t.Helper()
	raw, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var res pb.CallResult
	if err := proto.Unmarshal(d.call(method, raw, h), &res); err != nil {
		t.Fatal(err)
	}
	if res.Error != nil {
		return wire.ErrorFromPB(res.Error)
	}
	if resp != nil {
		if err := proto.Unmarshal(res.Payload, resp); err != nil {
			t.Fatal(err)
		}
	}
	return nil
}

func TestDispatch(t *testing.T) {
	h := &fakeHost{}
	var gotSettings map[string]string
	d := &dispatcher{factory: func(_ context.Context, s map[string]string, l hclog.Logger) (sdk.Connector, error) {
		gotSettings = s
		l.Info("configured")
		return &pager{pages: 5}, nil
	}}
	if err := call(t, d, h, wasmabi.MethodSchema, &pb.Empty{}, nil); !errors.Is(err, sdk.ErrPermanent) || !strings.Contains(err.Error(), "not configured") {
		t.Errorf("schema before configure: %v", err)
	}
	var info pb.InfoResponse
	if err := call(t, d, h, wasmabi.MethodConfigure, &pb.ConfigureRequest{Settings: map[string]string{"k": "v"}}, &info); err != nil {
		t.Fatal(err)
	}
	if info.Name != "pager" || gotSettings["k"] != "v" || len(h.logs) != 1 || h.logs[0].Message != "configured" {
		t.Errorf("configure: info %v, settings %v, logs %v", &info, gotSettings, h.logs)
	}
	if err := call(t, d, h, wasmabi.MethodFetch, &pb.FetchRequest{Entity: "e"}, nil); err != nil || len(h.emitted) != 5 {
		t.Errorf("fetch: %v, %d pages", err, len(h.emitted))
	}
	var page pb.Page
	if err := proto.Unmarshal(h.emitted[4], &page); err != nil || !page.Last {
		t.Errorf("last page %v, %v", &page, err)
	}

	// The host says stop at the second page: the call ends as cancelled
	// and nothing more is sent.
	h.emitted, h.stopAt = nil, 2
	if err := call(t, d, h, wasmabi.MethodFetch, &pb.FetchRequest{Entity: "e"}, nil); !errors.Is(err, context.Canceled) || len(h.emitted) != 2 {
		t.Errorf("stopped fetch: %v after %d pages", err, len(h.emitted))
	}

	tests := []struct {
		name   string
		method wasmabi.Method
		req    []byte
		is     error
		want   string
	}{
		{"kind kept", wasmabi.MethodFetch, mustMarshal(&pb.FetchRequest{Entity: "expired"}), sdk.ErrTokenExpired, "too old"},
		{"no kind", wasmabi.MethodPush, nil, sdk.ErrPermanent, "read only"},
		{"malformed", wasmabi.MethodFetch, []byte{0xff, 0xff}, sdk.ErrPermanent, "malformed request"},
		{"unknown method", 99, nil, sdk.ErrUnsupported, "method 99"},
		{"no documents", wasmabi.MethodListDocuments, nil, sdk.ErrUnsupported, "no documents"},
		{"no policy", wasmabi.MethodPolicyInfo, nil, sdk.ErrUnsupported, "no conflict policy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var res pb.CallResult
			if err := proto.Unmarshal(d.call(tt.method, tt.req, h), &res); err != nil {
				t.Fatal(err)
			}
			err := wire.ErrorFromPB(res.Error)
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func mustMarshal(m proto.Message) []byte {
	b, _ := proto.Marshal(m)
	return b
}

type deviceWins struct{}

func (deviceWins) Name() string { return "device-wins-test" }
func (deviceWins) Resolve(in sdk.ConflictInput) (sdk.ConflictResolution, error) {
	if in.Local == nil {
		return sdk.ConflictResolution{}, sdk.Errorf(sdk.Permanent, "no local values")
	}
	return sdk.ConflictResolution{Decision: sdk.DecisionTakeLocal, Values: in.Local, PushOp: sdk.OpUpdate, Push: in.Changed}, nil
}

func TestPolicy(t *testing.T) {
	d := &dispatcher{policy: deviceWins{}}
	h := &fakeHost{}
	var info pb.PolicyInfo
	if err := call(t, d, h, wasmabi.MethodPolicyInfo, &pb.Empty{}, &info); err != nil || info.Name != "device-wins-test" {
		t.Fatalf("policy info %v, %v", &info, err)
	}
	in := sdk.ConflictInput{Entity: &sdk.Entity{Name: "e", PrimaryKey: "id"}, LocalOp: sdk.OpUpdate,
		Local: map[string]sdk.Value{"a": sdk.Int(1)}, Changed: []string{"a"}}
	var res pb.ConflictResolution
	if err := call(t, d, h, wasmabi.MethodPolicyResolve, wire.ConflictInputToPB(in), &res); err != nil {
		t.Fatal(err)
	}
	r, err := wire.ConflictResolutionFromPB(&res)
	if err != nil || r.Decision != sdk.DecisionTakeLocal || r.Values["a"].Int() != 1 || r.PushOp != sdk.OpUpdate {
		t.Errorf("resolution %+v, %v", r, err)
	}
	in.Local = nil
	if err := call(t, d, h, wasmabi.MethodPolicyResolve, wire.ConflictInputToPB(in), nil); !errors.Is(err, sdk.ErrPermanent) {
		t.Errorf("policy error: %v", err)
	}
}

func TestLogger(t *testing.T) {
	t.Setenv(wasmabi.EnvLogLevel, "debug")
	h := &fakeHost{}
	l := newLogger(h)
	l.Trace("dropped")
	l.Debug("kept", "n", 1, 2, "x", "odd")
	l.Named("a").Named("b").With("k", "v").Warn("named", "f", hclog.Fmt("%03d", 7))
	l.SetLevel(hclog.Error)
	l.Warn("dropped too")
	if len(h.logs) != 2 {
		t.Fatalf("%d records: %v", len(h.logs), h.logs)
	}
	if r := h.logs[0]; r.Level != "debug" || r.Message != "kept" || r.Fields["n"] != "1" || r.Fields["2"] != "x" || r.Fields["EXTRA_VALUE_AT_END"] != "odd" {
		t.Errorf("first record %v", r)
	}
	if r := h.logs[1]; r.Level != "warn" || r.Fields[wasmabi.LogModuleField] != "a.b" || r.Fields["k"] != "v" || r.Fields["f"] != "007" {
		t.Errorf("second record %v", r)
	}
	if l.IsWarn() || !l.IsError() {
		t.Error("levels not shared with the derived loggers")
	}
}
