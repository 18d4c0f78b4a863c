package subprocess

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/sdk"
)

// fakeConnector is a synthetic connector for transport tests: it generates
// rows of every value kind and fails on purpose for some entity names. It
// checks nothing about the contract's semantics (the contract suite does);
// it only lets these tests see what crosses the boundary.
type fakeConnector struct {
	logger hclog.Logger
	rows   int
}

var fakeSchema = &sdk.Schema{Entities: []sdk.Entity{{
	Name: "thing", PrimaryKey: "thingid",
	Fields: []sdk.Field{
		{Name: "name", Type: sdk.TypeString},
		{Name: "count", Type: sdk.TypeInt},
		{Name: "ratio", Type: sdk.TypeFloat},
		{Name: "ok", Type: sdk.TypeBool},
		{Name: "blob", Type: sdk.TypeBinary},
		{Name: "when", Type: sdk.TypeDateTime},
	},
	Capabilities: sdk.EntityCapabilities{Incremental: true, Push: true},
}}}

func fakeKinds() []sdk.Kind {
	var k []sdk.Kind
	for _, f := range fakeSchema.Entities[0].Fields {
		k = append(k, f.Type.Kind())
	}
	return k
}

// fakeRow is row i of entity "thing"; every 5th value is null.
func fakeRow(i int) []sdk.Value {
	vals := []sdk.Value{
		sdk.String(fmt.Sprintf("name-%d", i)),
		sdk.Int(int64(i) * 3),
		sdk.Float(float64(i) / 7),
		sdk.Bool(i%2 == 0),
		sdk.Bytes([]byte{byte(i), byte(i >> 8)}),
		sdk.Int(int64(i) * 1_000_000),
	}
	vals[i%len(vals)] = sdk.Null()
	return vals
}

func newFake(_ context.Context, settings map[string]string, logger hclog.Logger) (sdk.Connector, error) {
	if settings["fail"] != "" {
		return nil, sdk.Errorf(sdk.Permanent, "bad settings: %s", settings["fail"])
	}
	logger.Info("fake connector configured", "rows", settings["rows"])
	n := 0
	fmt.Sscan(settings["rows"], &n)
	return &fakeConnector{logger: logger, rows: n}, nil
}

func (f *fakeConnector) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "fake", Version: "1.0", Capabilities: []sdk.Capability{sdk.CapDocuments}}, nil
}

func (f *fakeConnector) Schema(context.Context) (*sdk.Schema, error) { return fakeSchema, nil }

func (f *fakeConnector) Fetch(ctx context.Context, req sdk.FetchRequest, fn sdk.FetchFunc) error {
	switch req.Entity {
	case "expired":
		return sdk.Errorf(sdk.TokenExpired, "token %q expired", req.Token)
	case "busy":
		return &sdk.Error{Kind: sdk.Retryable, Message: "server busy", RetryAfter: 7 * time.Second}
	case "badpage":
		return fn(&sdk.Page{Fields: []string{"a"}, IDs: []string{"x", "y"}, Columns: []sdk.Column{{Strings: []string{"only one"}}}})
	case "crash":
		panic("plugin bug") // kills the plugin process: the host must see an error, not hang
	case "slow":
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
			if err := fn(&sdk.Page{Cursor: []byte{byte(i)}}); err != nil {
				return err
			}
		}
	case "thing":
	default:
		return sdk.Errorf(sdk.Permanent, "unknown entity %q", req.Entity)
	}
	f.logger.Debug("fetch", "entity", req.Entity, "filter", req.Filter != nil)
	size := req.PageSize
	if size <= 0 {
		size = sdk.DefaultPageSize
	}
	ent := fakeSchema.Entities[0]
	types := make([]sdk.FieldType, len(ent.Fields))
	for i, fl := range ent.Fields {
		types[i] = fl.Type
	}
	b := sdk.NewPageBuilder(ent.FieldNames(), types)
	for i := 0; i < f.rows; i++ {
		b.Add(fmt.Sprintf("id-%06d", i), fmt.Sprint(i), fakeRow(i)...)
		if b.Len() == size {
			p := b.Page()
			p.Cursor = []byte(fmt.Sprint(i))
			if err := fn(p); err != nil {
				return err
			}
		}
	}
	b.Delete("gone-1")
	p := b.Page()
	p.Last, p.Token = true, []byte("token-1")
	return fn(p)
}

func (f *fakeConnector) Push(_ context.Context, req sdk.PushRequest) (*sdk.PushResponse, error) {
	out := &sdk.PushResponse{}
	for _, c := range req.Changes {
		r := sdk.ChangeResult{ChangeID: c.ChangeID, ID: c.ID}
		switch {
		case c.Op == 0:
			r.Status, r.Err = sdk.StatusFailed, sdk.Errorf(sdk.Permanent, "invalid op")
		case c.Values["name"].Str() == "conflict":
			r.Status, r.Current = sdk.StatusConflict, &sdk.Record{ID: c.ID, Version: "9", Values: map[string]sdk.Value{"name": sdk.String("server"), "count": sdk.Null()}}
		case c.Values["name"].Str() == "later":
			r.Status, r.Err = sdk.StatusFailed, sdk.Errorf(sdk.Retryable, "try later")
		default:
			r.Status, r.Version = sdk.StatusApplied, "2"
		}
		out.Results = append(out.Results, r)
	}
	return out, nil
}

func (f *fakeConnector) ListDocuments(_ context.Context, q sdk.DocumentQuery, fn func(*sdk.DocumentPage) error) error {
	return fn(&sdk.DocumentPage{Last: true, Documents: []sdk.Document{{
		ID: "doc-1", Entity: "thing", RecordID: "id-000001", Name: "a.bin", MimeType: "application/octet-stream",
		Size: 300_000, Modified: time.UnixMicro(1_700_000_000_000_000).UTC(), Version: "1",
	}}})
}

func (f *fakeConnector) ReadDocument(_ context.Context, id string, offset int64, w io.Writer) error {
	if id != "doc-1" {
		return sdk.Errorf(sdk.Permanent, "no document %q", id)
	}
	_, err := io.Copy(w, io.NewSectionReader(strings.NewReader(docContent()), offset, 1<<40))
	return err
}

func docContent() string { return strings.Repeat("0123456789", 30_000) }

func (f *fakeConnector) Close(context.Context) error {
	f.logger.Info("fake connector closed")
	return nil
}
