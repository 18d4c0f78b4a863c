package wasmguest

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/protobuf/proto"

	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
	"github.com/fieldsync/fieldsync/sdk/wasmabi"
	"github.com/fieldsync/fieldsync/sdk/wire"
)

// ServeConnector makes factory the connector this module serves. Call it
// from an init function of the plugin's main package (a reactor's main never
// runs). The factory runs at the host's first call of each instance, with
// the host's settings and a logger that writes into the host's log. Calling
// it again replaces the factory for instances not yet configured.
//
// Outside a wasip1 build it only records the factory, so a package that
// calls it still compiles (and its tests run) on other platforms.
func ServeConnector(factory sdk.Factory) { guest.factory = factory }

// ServePolicy makes p the conflict policy this module serves (methods
// PolicyInfo and PolicyResolve). A module may serve a connector and a
// policy. Call it from an init function, like ServeConnector.
//
// The policy speaks sdk.ConflictInput and sdk.ConflictResolution: the core's
// conflict types are out of a plugin's reach (plugins import the sdk only),
// so the sdk mirrors them and the host converts.
func ServePolicy(p sdk.ConflictPolicy) { guest.policy = p }

// guest is the one dispatcher of this module instance.
var guest = &dispatcher{}

// host is what the guest asks of the host; the wasip1 build backs it with
// the module's imports, tests with a fake.
type host interface {
	// emit hands over one streamed message; false means stop.
	emit(msg []byte) bool
	// log hands over one encoded LogRecord.
	log(rec []byte)
	// http performs an encoded HttpRequest and returns the encoded
	// HttpResponse.
	http(req []byte) []byte
}

// dispatcher runs the calls of one module instance. The host makes one call
// at a time per instance, so it needs no lock.
type dispatcher struct {
	factory sdk.Factory
	policy  sdk.ConflictPolicy

	conn   sdk.Connector
	logger hclog.Logger
}

var errNotConfigured = sdk.Errorf(sdk.Permanent, "plugin not configured: Configure must be the first call")

// errStopped is what a streaming callback returns once the host said stop.
// It wraps context.Canceled so a connector that returns it unchanged ends
// the call as cancelled, which is what happened.
var errStopped = fmt.Errorf("the host stopped the call: %w", context.Canceled)

// call runs one method on the encoded request and returns the encoded
// CallResult. A failure of any kind becomes CallResult.error, never a panic
// of the dispatcher itself (a panic in the connector does trap, and the host
// throws the instance away: its state can no longer be trusted).
func (d *dispatcher) call(method wasmabi.Method, req []byte, h host) []byte {
	payload, err := d.run(method, req, h)
	if err != nil {
		return failure(err)
	}
	res := &pb.CallResult{}
	if res.Payload, err = proto.Marshal(payload); err != nil {
		return failure(sdk.Errorf(sdk.Permanent, "%s: encode the answer: %v", method, err))
	}
	out, err := proto.Marshal(res)
	if err != nil {
		return failure(sdk.Errorf(sdk.Permanent, "%s: encode the answer: %v", method, err))
	}
	return out
}

// failure encodes a CallResult carrying err.
func failure(err error) []byte {
	out, merr := proto.Marshal(&pb.CallResult{Error: wire.ErrorToPB(err)})
	if merr != nil {
		// Only a message that is not valid UTF-8 gets here: quote it.
		d := wire.ErrorToPB(err)
		d.Message = fmt.Sprintf("%q", d.Message)
		out, _ = proto.Marshal(&pb.CallResult{Error: d})
	}
	return out
}

func (d *dispatcher) run(method wasmabi.Method, raw []byte, h host) (proto.Message, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	switch method {
	case wasmabi.MethodConfigure:
		var req pb.ConfigureRequest
		if err := decode(method, raw, &req); err != nil {
			return nil, err
		}
		return d.configure(ctx, &req, h)
	case wasmabi.MethodPolicyInfo:
		if d.policy == nil {
			return nil, sdk.Errorf(sdk.Unsupported, "this plugin serves no conflict policy")
		}
		return &pb.PolicyInfo{Name: d.policy.Name()}, nil
	case wasmabi.MethodPolicyResolve:
		return d.resolve(method, raw)
	}
	if d.conn == nil {
		if d.factory == nil {
			return nil, sdk.Errorf(sdk.Unsupported, "this plugin serves no connector")
		}
		return nil, errNotConfigured
	}
	switch method {
	case wasmabi.MethodSchema:
		s, err := d.conn.Schema(ctx)
		if err != nil {
			return nil, err
		}
		return wire.SchemaToPB(s), nil
	case wasmabi.MethodFetch:
		return d.fetch(ctx, cancel, raw, h)
	case wasmabi.MethodPush:
		var req pb.PushRequest
		if err := decode(method, raw, &req); err != nil {
			return nil, err
		}
		res, err := d.conn.Push(ctx, wire.PushFromPB(&req))
		if err != nil {
			return nil, err
		}
		return wire.PushResultToPB(res), nil
	case wasmabi.MethodListDocuments, wasmabi.MethodReadDocument:
		return d.documents(ctx, cancel, method, raw, h)
	case wasmabi.MethodClose:
		return &pb.Empty{}, d.conn.Close(ctx)
	case wasmabi.MethodCheckChanges:
		cc, ok := d.conn.(sdk.ChangeChecker)
		if !ok {
			return nil, sdk.Errorf(sdk.Unsupported, "the connector has no batch change check")
		}
		var req pb.CheckChangesRequest
		if err := decode(method, raw, &req); err != nil {
			return nil, err
		}
		probes := make([]sdk.ChangeProbe, len(req.Probes))
		for i, p := range req.Probes {
			probes[i] = sdk.ChangeProbe{Entity: p.GetEntity(), Token: p.GetToken()}
		}
		changed, err := cc.CheckChanges(ctx, probes)
		if err != nil {
			return nil, err
		}
		if len(changed) != len(probes) {
			return nil, sdk.Errorf(sdk.Permanent, "the connector answered %d change probes, asked %d", len(changed), len(probes))
		}
		return &pb.CheckChangesResponse{Changed: changed}, nil
	case wasmabi.MethodUsage:
		u, ok := d.conn.(sdk.UsageReporter)
		if !ok {
			return nil, sdk.Errorf(sdk.Unsupported, "the connector reports no usage")
		}
		got, err := u.Usage(ctx)
		if err != nil {
			return nil, err
		}
		return &pb.UsageResponse{Requests: got.Requests, ThrottledMs: got.ThrottledMs, Retries: got.Retries, Paths: got.Paths}, nil
	}
	return nil, sdk.Errorf(sdk.Unsupported, "this plugin does not know %s", method)
}

func decode(method wasmabi.Method, raw []byte, m proto.Message) error {
	if err := proto.Unmarshal(raw, m); err != nil {
		return sdk.Errorf(sdk.Permanent, "%s: the host sent a malformed request: %v", method, err)
	}
	return nil
}

func (d *dispatcher) configure(ctx context.Context, req *pb.ConfigureRequest, h host) (proto.Message, error) {
	if d.conn == nil {
		if d.factory == nil {
			return nil, sdk.Errorf(sdk.Unsupported, "this plugin serves no connector")
		}
		if d.logger == nil {
			d.logger = newLogger(h)
		}
		c, err := d.factory(ctx, req.Settings, d.logger)
		if err != nil {
			return nil, err
		}
		if c == nil {
			return nil, sdk.Errorf(sdk.Permanent, "the plugin's factory returned no connector and no error")
		}
		d.conn = c
	}
	info, err := d.conn.Info(ctx)
	if err != nil {
		return nil, err
	}
	return wire.InfoToPB(info), nil
}

// streamer encodes streamed messages into one reused buffer: the host copies
// each out before emit returns, so the buffer is free again at once.
type streamer struct {
	h      host
	cancel context.CancelFunc
	buf    []byte
}

func (s *streamer) send(m proto.Message) error {
	var err error
	if s.buf, err = (proto.MarshalOptions{}).MarshalAppend(s.buf[:0], m); err != nil {
		return sdk.Errorf(sdk.Permanent, "encode a streamed message: %v", err)
	}
	if !s.h.emit(s.buf) {
		s.cancel()
		return errStopped
	}
	return nil
}

// forward hands over a message that is already encoded.
func (s *streamer) forward(msg []byte) error {
	if !s.h.emit(msg) {
		s.cancel()
		return errStopped
	}
	return nil
}

func (d *dispatcher) fetch(ctx context.Context, cancel context.CancelFunc, raw []byte, h host) (proto.Message, error) {
	var req pb.FetchRequest
	if err := decode(wasmabi.MethodFetch, raw, &req); err != nil {
		return nil, err
	}
	r, err := wire.FetchFromPB(&req)
	if err != nil {
		return nil, sdk.Errorf(sdk.Permanent, "fetch %s: %v", req.Entity, err)
	}
	s := &streamer{h: h, cancel: cancel}
	err = d.conn.Fetch(ctx, r, func(p *sdk.Page) error {
		if ctx.Err() != nil {
			return errStopped // a page after a stop is never sent
		}
		if p.Encoded != nil {
			return s.forward(p.Encoded)
		}
		return s.send(wire.PageToPB(p))
	})
	return &pb.Empty{}, err
}

func (d *dispatcher) documents(ctx context.Context, cancel context.CancelFunc, method wasmabi.Method, raw []byte, h host) (proto.Message, error) {
	docs, ok := sdk.AsDocuments(ctx, d.conn)
	if !ok {
		return nil, sdk.Errorf(sdk.Unsupported, "connector offers no documents")
	}
	s := &streamer{h: h, cancel: cancel}
	if method == wasmabi.MethodListDocuments {
		var q pb.DocumentQuery
		if err := decode(method, raw, &q); err != nil {
			return nil, err
		}
		return &pb.Empty{}, docs.ListDocuments(ctx, wire.DocumentQueryFromPB(&q), func(p *sdk.DocumentPage) error {
			if ctx.Err() != nil {
				return errStopped
			}
			return s.send(wire.DocumentPageToPB(p))
		})
	}
	var req pb.ReadDocumentRequest
	if err := decode(method, raw, &req); err != nil {
		return nil, err
	}
	return &pb.Empty{}, docs.ReadDocument(ctx, req.Id, req.Offset, chunkWriter{s})
}

// chunkWriter streams what a connector writes as Chunks of at most
// wasmabi.ChunkSize bytes, never holding more than one.
type chunkWriter struct{ s *streamer }

func (w chunkWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), wasmabi.ChunkSize)
		if err := w.s.send(&pb.Chunk{Data: p[:k]}); err != nil {
			return n, err
		}
		n += k
		p = p[k:]
	}
	return n, nil
}

func (d *dispatcher) resolve(method wasmabi.Method, raw []byte) (proto.Message, error) {
	if d.policy == nil {
		return nil, sdk.Errorf(sdk.Unsupported, "this plugin serves no conflict policy")
	}
	var in pb.ConflictInput
	if err := decode(method, raw, &in); err != nil {
		return nil, err
	}
	res, err := d.policy.Resolve(wire.ConflictInputFromPB(&in))
	if err != nil {
		return nil, err
	}
	return wire.ConflictResolutionToPB(res), nil
}
