package wasmhost

import (
	"context"
	"fmt"
	"sort"

	"github.com/hashicorp/go-hclog"
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

func (p *plugin) instantiateImports(ctx context.Context) error {
	i32 := api.ValueTypeI32
	_, err := p.runtime.NewHostModuleBuilder(wasmabi.ImportModule).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(p.hostEmit), []api.ValueType{i32, i32}, []api.ValueType{i32}).Export(wasmabi.ImportEmit).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(p.hostLog), []api.ValueType{i32, i32}, nil).Export(wasmabi.ImportLog).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(p.hostHTTP), []api.ValueType{i32, i32}, []api.ValueType{i32}).Export(wasmabi.ImportHTTP).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(p.hostTake), []api.ValueType{i32, i32}, []api.ValueType{i32}).Export(wasmabi.ImportTake).
		Instantiate(ctx)
	return err
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
