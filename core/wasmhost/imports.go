package wasmhost

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/hashicorp/go-hclog"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"google.golang.org/protobuf/proto"

	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
	"github.com/fieldsync/fieldsync/sdk/wasmabi"
)

// The host's imports (module "fieldsync", see abi.md). They run on the
// goroutine of the call that entered the guest, find that call through the
// context, and never call back into the guest.

// maxLogLine bounds one guest log message, so a runaway guest cannot flood
// the host's log with megabyte lines.
const maxLogLine = 16 << 10

// instantiateImports links the host's functions into a runtime. Runtimes
// are shared by every plugin loaded with the same limits (see shared.go),
// so a host function finds its plugin through the context, never through
// a receiver.
func instantiateImports(ctx context.Context, r wazero.Runtime) error {
	i32 := api.ValueTypeI32
	_, err := r.NewHostModuleBuilder(wasmabi.ImportModule).
		NewFunctionBuilder().WithGoModuleFunction(hostFunc((*plugin).hostEmit), []api.ValueType{i32, i32}, []api.ValueType{i32}).Export(wasmabi.ImportEmit).
		NewFunctionBuilder().WithGoModuleFunction(hostFunc((*plugin).hostLog), []api.ValueType{i32, i32}, nil).Export(wasmabi.ImportLog).
		NewFunctionBuilder().WithGoModuleFunction(hostFunc((*plugin).hostHTTP), []api.ValueType{i32, i32}, []api.ValueType{i32}).Export(wasmabi.ImportHTTP).
		NewFunctionBuilder().WithGoModuleFunction(hostFunc((*plugin).hostTake), []api.ValueType{i32, i32}, []api.ValueType{i32}).Export(wasmabi.ImportTake).
		NewFunctionBuilder().WithGoModuleFunction(hostFunc((*plugin).hostHTTPOpen), []api.ValueType{i32, i32}, []api.ValueType{i32}).Export(wasmabi.ImportHTTPOpen).
		NewFunctionBuilder().WithGoModuleFunction(hostFunc((*plugin).hostHTTPRead), []api.ValueType{i32, i32}, []api.ValueType{i32}).Export(wasmabi.ImportHTTPRead).
		NewFunctionBuilder().WithGoModuleFunction(hostFunc((*plugin).hostHTTPClose), nil, nil).Export(wasmabi.ImportHTTPClose).
		Instantiate(ctx)
	return err
}

// pluginKey marks the context of an instantiation with its plugin, for the
// host functions an initialiser calls (a call's context has its callState).
type pluginKey struct{}

// pluginOf is the plugin a host function serves: the one whose call or
// instantiation is in progress.
func pluginOf(ctx context.Context) *plugin {
	if st := stateOf(ctx); st != nil {
		return st.inst.p
	}
	p, _ := ctx.Value(pluginKey{}).(*plugin)
	return p
}

// hostFunc adapts a host function to wazero, finding its plugin in the
// context. Outside any call or instantiation of ours (which wazero never
// does) the function answers 0 and does nothing.
func hostFunc(f func(*plugin, context.Context, api.Module, []uint64)) api.GoModuleFunc {
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		p := pluginOf(ctx)
		if p == nil {
			if len(stack) > 0 {
				stack[0] = 0
			}
			return
		}
		f(p, ctx, mod, stack)
	}
}

// hostEmit hands one streamed message to the call's consumer, synchronously:
// the guest waits until the consumer took it, which is the stream's
// backpressure. The consumer copies what it keeps before it returns.
func (p *plugin) hostEmit(ctx context.Context, mod api.Module, stack []uint64) {
	st := stateOf(ctx)
	if st == nil || st.emit == nil || st.stopErr != nil {
		stack[0] = wasmabi.EmitStop
		return
	}
	msg, ok := mod.Memory().Read(uint32(stack[0]), uint32(stack[1]))
	if !ok {
		st.inst.broken = true
		st.stopErr = &sdk.Error{Kind: sdk.Permanent, Err: ErrBadGuest, Message: fmt.Sprintf("plugin %s streamed a message outside its memory", p.name)}
		stack[0] = wasmabi.EmitStop
		return
	}
	if err := st.ctx.Err(); err != nil {
		st.stopErr = err
		stack[0] = wasmabi.EmitStop
		return
	}
	st.watch.pause()
	err := st.emit(msg)
	st.watch.resume()
	if err != nil {
		st.stopErr = err
		stack[0] = wasmabi.EmitStop
		return
	}
	stack[0] = wasmabi.EmitContinue
}

// hostLog writes one LogRecord to the plugin's logger.
func (p *plugin) hostLog(_ context.Context, mod api.Module, stack []uint64) {
	raw, ok := mod.Memory().Read(uint32(stack[0]), uint32(stack[1]))
	if !ok {
		p.logger.Warn("plugin logged a record outside its memory")
		return
	}
	var rec pb.LogRecord
	if err := proto.Unmarshal(raw, &rec); err != nil {
		p.logger.Warn("plugin logged a malformed record", "error", err)
		return
	}
	p.guestLog(&rec)
}

func (p *plugin) guestLog(rec *pb.LogRecord) {
	level := hclog.LevelFromString(rec.Level)
	if level == hclog.NoLevel || level == hclog.Off {
		level = hclog.Info
	}
	logger := p.logger
	if name := rec.Fields[wasmabi.LogModuleField]; name != "" {
		logger = logger.Named(name)
	}
	if level < logger.GetLevel() {
		return // spare the formatting; the logger would drop it
	}
	keys := make([]string, 0, len(rec.Fields))
	for k := range rec.Fields {
		if k != wasmabi.LogModuleField {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	args := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		args = append(args, k, clip(rec.Fields[k]))
	}
	logger.Log(level, clip(rec.Message), args...)
}

func clip(s string) string {
	if len(s) <= maxLogLine {
		return s
	}
	return s[:maxLogLine] + "…(truncated)"
}

// hostHTTP makes a request through the HTTP hook and keeps the encoded
// answer for take; it returns the answer's length. The watchdog is paused:
// the request's time is the network policy's to limit.
func (p *plugin) hostHTTP(ctx context.Context, mod api.Module, stack []uint64) {
	st := stateOf(ctx)
	if st == nil {
		stack[0] = 0 // no call in progress (an initialiser): nothing to answer
		return
	}
	raw, ok := mod.Memory().Read(uint32(stack[0]), uint32(stack[1]))
	var resp *pb.HttpResponse
	var req pb.HttpRequest
	switch {
	case !ok:
		resp = &pb.HttpResponse{Error: "the request lies outside the plugin's memory"}
	case proto.Unmarshal(raw, &req) != nil:
		resp = &pb.HttpResponse{Error: "the request does not decode"}
	default:
		st.watch.pause()
		resp = p.roundTrip(st.ctx, &req)
		st.watch.resume()
	}
	out, err := proto.Marshal(resp)
	if err != nil {
		out, _ = proto.Marshal(&pb.HttpResponse{Error: fmt.Sprintf("the host cannot encode the response: %v", err)})
	}
	st.pending = out
	stack[0] = uint64(len(out))
}

// roundTrip asks the HTTP hook; without one every request is refused.
func (p *plugin) roundTrip(ctx context.Context, req *pb.HttpRequest) *pb.HttpResponse {
	if p.cfg.HTTP == nil {
		p.logger.Warn("plugin request refused: no network access is configured for it", "plugin", p.name, "method", req.Method, "url", req.Url)
		return &pb.HttpResponse{Error: fmt.Sprintf("plugin %s has no network access: the host refused %s %s", p.name, req.Method, req.Url)}
	}
	resp := p.cfg.HTTP(ctx, req)
	if resp == nil {
		return &pb.HttpResponse{Error: fmt.Sprintf("the host's network policy gave no answer to %s %s", req.Method, req.Url)}
	}
	return resp
}

// hostTake copies the answer hostHTTP kept into the guest's buffer and
// forgets it.
func (p *plugin) hostTake(ctx context.Context, mod api.Module, stack []uint64) {
	st := stateOf(ctx)
	if st == nil || st.pending == nil {
		stack[0] = 0
		return
	}
	n := min(uint32(stack[1]), uint32(len(st.pending)))
	if !mod.Memory().Write(uint32(stack[0]), st.pending[:n]) {
		n = 0
	}
	st.pending = nil
	stack[0] = uint64(n)
}

// maxRead bounds what one http_read copies.
const maxRead = 1 << 30

// maxReadError bounds the error text http_read leaves for take.
const maxReadError = 4 << 10

// hostHTTPOpen makes a request through the streaming HTTP hook and keeps
// the encoded answer, without its body, for take; it returns the answer's
// length. The body becomes the instance's open stream (replacing, and
// closing, any earlier one), read by http_read. The watchdog is paused
// while the host waits for the response's header.
func (p *plugin) hostHTTPOpen(ctx context.Context, mod api.Module, stack []uint64) {
	st := stateOf(ctx)
	if st == nil {
		stack[0] = 0 // no call in progress (an initialiser): nothing to answer
		return
	}
	st.inst.closeStream()
	raw, ok := mod.Memory().Read(uint32(stack[0]), uint32(stack[1]))
	var resp *pb.HttpResponse
	var body io.ReadCloser
	var req pb.HttpRequest
	switch {
	case !ok:
		resp = &pb.HttpResponse{Error: "the request lies outside the plugin's memory"}
	case proto.Unmarshal(raw, &req) != nil:
		resp = &pb.HttpResponse{Error: "the request does not decode"}
	default:
		st.watch.pause()
		resp, body = p.openStream(st.ctx, &req)
		st.watch.resume()
	}
	if resp.Error != "" {
		if body != nil {
			body.Close()
		}
		body = nil
	}
	out, err := proto.Marshal(resp)
	if err != nil {
		out, _ = proto.Marshal(&pb.HttpResponse{Error: fmt.Sprintf("the host cannot encode the response: %v", err)})
		if body != nil {
			body.Close()
		}
		body = nil
	}
	st.inst.stream = body
	st.pending = out
	stack[0] = uint64(len(out))
}

// openStream asks the streaming hook, or, without one, the HTTP hook, whose
// whole body then becomes the stream.
func (p *plugin) openStream(ctx context.Context, req *pb.HttpRequest) (*pb.HttpResponse, io.ReadCloser) {
	if p.cfg.HTTPStream == nil {
		resp := p.roundTrip(ctx, req)
		if resp.Error != "" {
			return resp, nil
		}
		body := io.NopCloser(bytes.NewReader(resp.Body))
		out := proto.Clone(resp).(*pb.HttpResponse)
		out.Body = nil
		return out, body
	}
	resp, body := p.cfg.HTTPStream(ctx, req)
	if resp == nil {
		if body != nil {
			body.Close()
		}
		return &pb.HttpResponse{Error: fmt.Sprintf("the host's network policy gave no answer to %s %s", req.Method, req.Url)}, nil
	}
	if resp.Error == "" && body == nil {
		body = io.NopCloser(bytes.NewReader(resp.Body))
	}
	resp.Body = nil
	return resp, body
}

// hostHTTPRead copies the next body bytes of the open stream into the
// guest's buffer: what one read of the body gives (at least one byte, as
// much as has arrived, never waiting to fill the buffer: a server that
// streams slowly must not hold back what it sent), and returns the bytes copied, 0 at the end of the body, or -L when reading
// failed, with the error's L bytes of text left for take. The watchdog is
// paused while the host waits for the network.
func (p *plugin) hostHTTPRead(ctx context.Context, mod api.Module, stack []uint64) {
	st := stateOf(ctx)
	if st == nil {
		stack[0] = readFailed(nil, "no call in progress")
		return
	}
	inst := st.inst
	switch {
	case inst.streamErr != nil:
		stack[0] = readFailed(st, inst.streamErr.Error())
		return
	case inst.stream == nil:
		stack[0] = readFailed(st, "no response body is open (http_open first)")
		return
	}
	buf, ok := mod.Memory().Read(uint32(stack[0]), uint32(stack[1]))
	if !ok {
		stack[0] = readFailed(st, "the buffer lies outside the plugin's memory")
		return
	}
	if len(buf) == 0 {
		stack[0] = 0
		return
	}
	buf = buf[:min(len(buf), maxRead)] // the answer must fit a positive i32
	// The guest is suspended while it calls the host, so its memory cannot
	// grow (and move) under buf: the body is read straight into it.
	st.watch.pause()
	n, err := readSome(inst.stream, buf)
	st.watch.resume()
	switch err {
	case nil:
	case io.EOF:
		if n == 0 {
			stack[0] = 0
			return
		}
	default:
		inst.streamErr = err
		if n == 0 {
			stack[0] = readFailed(st, err.Error())
			return
		}
	}
	stack[0] = uint64(uint32(int32(n)))
}

// readSome reads once into buf, retrying reads that return nothing.
func readSome(r io.Reader, buf []byte) (int, error) {
	for range 100 {
		n, err := r.Read(buf)
		if n > 0 || err != nil {
			return n, err
		}
	}
	return 0, io.ErrNoProgress
}

// readFailed leaves an error text for take and answers its negated length.
func readFailed(st *callState, msg string) uint64 {
	if msg == "" {
		msg = "reading the response failed"
	}
	msg = clipBytes(msg, maxReadError)
	if st != nil {
		st.pending = []byte(msg)
	}
	return uint64(uint32(-int32(len(msg))))
}

func clipBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// hostHTTPClose closes the instance's open stream, if any.
func (p *plugin) hostHTTPClose(ctx context.Context, _ api.Module, _ []uint64) {
	if st := stateOf(ctx); st != nil {
		st.inst.closeStream()
	}
}

// closeStream closes the open response body, if any.
func (inst *instance) closeStream() {
	if inst.stream != nil {
		inst.stream.Close()
	}
	inst.stream, inst.streamErr = nil, nil
}
