package wasmhost

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
	"github.com/fieldsync/fieldsync/sdk/wasmabi"
	"github.com/fieldsync/fieldsync/sdk/wire"
)

// Connector is a connector running in a WASM sandbox. It implements
// sdk.Connector and sdk.Documents (the latter answers sdk.ErrUnsupported
// unless the plugin advertised sdk.CapDocuments; use sdk.AsDocuments). It is
// safe for concurrent use: calls run on a pool of instances, each
// configured with the same settings.
type Connector struct {
	p    *plugin
	info sdk.Info

	mu         sync.Mutex // guards info while instances configure
	configured bool

	closeOnce sync.Once
	closeErr  error
}

var (
	_ sdk.Connector = (*Connector)(nil)
	_ sdk.Documents = (*Connector)(nil)
)

// Open loads the module, starts one instance and configures its connector
// with cfg.Settings, so bad settings fail here. On error nothing is left
// running.
func Open(ctx context.Context, cfg Config) (*Connector, error) {
	c := &Connector{}
	p, err := load(ctx, cfg, c.configure)
	if err != nil {
		return nil, err
	}
	c.p = p
	inst, err := p.pool.get(ctx)
	if err != nil {
		p.close(ctx)
		return nil, err
	}
	p.pool.put(ctx, inst)
	return c, nil
}

// configure opens the connector of a new instance. Every instance must
// describe itself as the first did: they run the same code.
func (c *Connector) configure(ctx context.Context, inst *instance) error {
	p := inst.p
	payload, err := inst.invoke(ctx, wasmabi.MethodConfigure, "configure", &pb.ConfigureRequest{
		Settings: p.cfg.Settings, HostProtocolMinor: sdk.ProtocolMinor,
	}, nil)
	if err != nil {
		return fmt.Errorf("configure plugin %s: %w", p.name, err)
	}
	var resp pb.InfoResponse
	if err := proto.Unmarshal(payload, &resp); err != nil {
		return inst.violation("configure", "its answer does not decode: "+err.Error())
	}
	info := withoutUnserved(wire.InfoFromPB(&resp))
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.configured {
		c.info, c.configured = info, true
	} else if info.Name != c.info.Name || info.Version != c.info.Version {
		return fmt.Errorf("configure plugin %s: an instance calls itself %s %s, the first one %s %s", p.name, info.Name, info.Version, c.info.Name, c.info.Version)
	}
	return nil
}

// Info returns what the plugin answered at Configure.
func (c *Connector) Info(context.Context) (sdk.Info, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info, nil
}

func (c *Connector) Schema(ctx context.Context) (*sdk.Schema, error) {
	payload, err := c.p.do(ctx, wasmabi.MethodSchema, "schema", &pb.Empty{}, nil)
	if err != nil {
		return nil, err
	}
	var resp pb.SchemaResponse
	if err := proto.Unmarshal(payload, &resp); err != nil {
		return nil, c.malformed("schema", err)
	}
	return wire.SchemaFromPB(&resp)
}

func (c *Connector) malformed(what string, err error) error {
	return sdk.Errorf(sdk.Permanent, "plugin %s: %s: the answer does not decode: %v", c.p.name, what, err)
}

// Fetch streams pages out of the guest. Each page is copied out of guest
// memory and checked for shape while the guest waits in emit; fn consumes
// it on another goroutine (sdk.Pipeline) while the guest builds the next,
// at most two pages ahead, so memory stays flat on both sides.
func (c *Connector) Fetch(ctx context.Context, req sdk.FetchRequest, fn sdk.FetchFunc) error {
	what := "fetch " + req.Entity
	return sdk.Pipeline(ctx, func(pctx context.Context, emit sdk.FetchFunc) error {
		last := false
		_, err := c.p.do(ctx, wasmabi.MethodFetch, what, wire.FetchToPB(req), func(raw []byte) error {
			var msg pb.Page
			if err := proto.Unmarshal(raw, &msg); err != nil {
				return sdk.Errorf(sdk.Permanent, "plugin %s: %s: a page does not decode: %v", c.p.name, what, err)
			}
			p, err := wire.PageFromPB(&msg)
			if err != nil {
				return sdk.Errorf(sdk.Permanent, "plugin %s: %s: %v", c.p.name, what, err)
			}
			last = p.Last
			return emit(p)
		})
		if err == nil && !last {
			err = sdk.Errorf(sdk.Permanent, "plugin %s: %s returned before its last page", c.p.name, what)
		}
		return err
	}, func(p *sdk.Page) error {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("plugin %s: %s: %w", c.p.name, what, err)
		}
		return fn(p)
	})
}

func (c *Connector) Push(ctx context.Context, req sdk.PushRequest) (*sdk.PushResponse, error) {
	payload, err := c.p.do(ctx, wasmabi.MethodPush, "push", wire.PushToPB(req), nil)
	if err != nil {
		return nil, err
	}
	var resp pb.PushResponse
	if err := proto.Unmarshal(payload, &resp); err != nil {
		return nil, c.malformed("push", err)
	}
	return wire.PushResultFromPB(&resp, len(req.Changes))
}

// CheckChanges asks the guest which entities changed (batch-change-check).
func (c *Connector) CheckChanges(ctx context.Context, probes []sdk.ChangeProbe) ([]bool, error) {
	if info, _ := c.Info(ctx); !info.Has(sdk.CapBatchChangeCheck) {
		return nil, sdk.ErrUnsupported
	}
	req := &pb.CheckChangesRequest{}
	for _, p := range probes {
		req.Probes = append(req.Probes, &pb.ChangeProbe{Entity: p.Entity, Token: p.Token})
	}
	payload, err := c.p.do(ctx, wasmabi.MethodCheckChanges, "check changes", req, nil)
	if err != nil {
		return nil, err
	}
	var resp pb.CheckChangesResponse
	if err := proto.Unmarshal(payload, &resp); err != nil {
		return nil, c.malformed("check changes", err)
	}
	if len(resp.Changed) != len(probes) {
		return nil, sdk.Errorf(sdk.Permanent, "plugin %s answered %d change probes, asked %d", c.p.name, len(resp.Changed), len(probes))
	}
	return resp.Changed, nil
}

// Usage asks the guest what it spent on its backend (usage).
func (c *Connector) Usage(ctx context.Context) (sdk.Usage, error) {
	if info, _ := c.Info(ctx); !info.Has(sdk.CapUsage) {
		return sdk.Usage{}, sdk.ErrUnsupported
	}
	payload, err := c.p.do(ctx, wasmabi.MethodUsage, "usage", &pb.Empty{}, nil)
	if err != nil {
		return sdk.Usage{}, err
	}
	var resp pb.UsageResponse
	if err := proto.Unmarshal(payload, &resp); err != nil {
		return sdk.Usage{}, c.malformed("usage", err)
	}
	return sdk.Usage{Requests: resp.Requests, ThrottledMs: resp.ThrottledMs, Retries: resp.Retries, Paths: resp.Paths}, nil
}

func (c *Connector) ListDocuments(ctx context.Context, q sdk.DocumentQuery, fn func(*sdk.DocumentPage) error) error {
	if info, _ := c.Info(ctx); !info.Has(sdk.CapDocuments) {
		return sdk.ErrUnsupported
	}
	_, err := c.p.do(ctx, wasmabi.MethodListDocuments, "list documents", wire.DocumentQueryToPB(q), func(raw []byte) error {
		var msg pb.DocumentPage
		if err := proto.Unmarshal(raw, &msg); err != nil {
			return c.malformed("list documents", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(wire.DocumentPageFromPB(&msg))
	})
	return err
}

func (c *Connector) ReadDocument(ctx context.Context, id string, offset int64, w io.Writer) error {
	if info, _ := c.Info(ctx); !info.Has(sdk.CapDocuments) {
		return sdk.ErrUnsupported
	}
	_, err := c.p.do(ctx, wasmabi.MethodReadDocument, "read document "+id, &pb.ReadDocumentRequest{Id: id, Offset: offset}, func(raw []byte) error {
		var msg pb.Chunk
		if err := proto.Unmarshal(raw, &msg); err != nil {
			return c.malformed("read document", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := w.Write(msg.Data); err != nil {
			return fmt.Errorf("read document %s: %w", id, err)
		}
		return nil
	})
	return err
}

// Close closes the connector of every idle instance, then the runtime. It
// is safe to call more than once; calls still running are cut off.
func (c *Connector) Close(ctx context.Context) error {
	c.closeOnce.Do(func() {
		for _, inst := range c.p.pool.drain() {
			if _, err := inst.invoke(ctx, wasmabi.MethodClose, "close", &pb.Empty{}, nil); err != nil && c.closeErr == nil {
				c.closeErr = err
			}
			inst.close(ctx)
		}
		c.p.close(ctx)
	})
	return c.closeErr
}

// unserved lists the optional capabilities the WASM ABI has no call for
// (document uploads: the guest cannot read a host file or stream a body
// up): a guest built from a connector that offers them elsewhere (a
// subprocess or in-process build of the same source) must not promise them
// here.
var unserved = []sdk.Capability{sdk.CapWriteDocuments}

func withoutUnserved(info sdk.Info) sdk.Info {
	caps := info.Capabilities[:0:0]
	for _, c := range info.Capabilities {
		if !slices.Contains(unserved, c) {
			caps = append(caps, c)
		}
	}
	info.Capabilities = caps
	return info
}
