package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
	"github.com/fieldsync/fieldsync/sdk/wasmabi"
	"github.com/fieldsync/fieldsync/sdk/wire"
)

// callState is what the host functions need to know about the call in
// progress on an instance. It travels in the call's context, the one value
// wazero hands to host functions along with the module.
type callState struct {
	// ctx is the caller's context: the host functions answer its
	// cancellation (wazero runs the guest under the watchdog's).
	ctx   context.Context
	inst  *instance
	watch *watchdog
	// emit consumes one streamed message (the bytes are a view of guest
	// memory, valid until it returns); nil when the method streams nothing.
	emit func([]byte) error
	// stopErr is why emit told the guest to stop: the consumer's error or
	// the caller's cancellation. It is the call's error.
	stopErr error
	// pending is the encoded HttpResponse the last http import left for take.
	pending []byte
}

type callKey struct{}

func stateOf(ctx context.Context) *callState {
	st, _ := ctx.Value(callKey{}).(*callState)
	return st
}

// do runs one call on an instance from the pool and returns its payload.
// A trapped instance is closed instead of returned to the pool.
func (p *plugin) do(ctx context.Context, method wasmabi.Method, what string, req proto.Message, emit func([]byte) error) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("plugin %s: %s: %w", p.name, what, err)
	}
	inst, err := p.pool.get(ctx)
	if err != nil {
		return nil, err
	}
	defer p.pool.put(ctx, inst)
	return inst.invoke(ctx, method, what, req, emit)
}

// invoke passes the request into guest memory, runs the call under the
// watchdog, and reads and releases the CallResult.
func (inst *instance) invoke(ctx context.Context, method wasmabi.Method, what string, req proto.Message, emit func([]byte) error) ([]byte, error) {
	p := inst.p
	raw, err := proto.Marshal(req)
	if err != nil {
		return nil, sdk.Errorf(sdk.Permanent, "plugin %s: %s: encode the request: %v", p.name, what, err)
	}
	wctx, watch := startWatchdog(ctx, p.cfg.CallTimeout, !p.cfg.NoTimeLimit)
	defer watch.stop()
	defer inst.closeStream() // a body the guest left open ends with the call
	st := &callState{ctx: ctx, inst: inst, watch: watch, emit: emit}
	cctx := context.WithValue(wctx, callKey{}, st)

	s := inst.stack
	s[0] = uint64(len(raw))
	if err := inst.alloc.CallWithStack(cctx, s); err != nil {
		return nil, inst.trapped(ctx, st, what, err)
	}
	ptr := uint32(s[0])
	if !inst.mem.Write(ptr, raw) {
		return nil, inst.violation(what, "its buffer for the request lies outside its memory")
	}
	s[0], s[1], s[2] = uint64(method), uint64(ptr), uint64(len(raw))
	if err := inst.call.CallWithStack(cctx, s); err != nil {
		return nil, inst.trapped(ctx, st, what, err)
	}
	rptr, rlen := uint32(s[0]>>32), uint32(s[0])
	view, ok := inst.mem.Read(rptr, rlen)
	if !ok {
		return nil, inst.violation(what, "its result lies outside its memory")
	}
	var res pb.CallResult
	if err := proto.Unmarshal(view, &res); err != nil { // copies out of guest memory
		return nil, inst.violation(what, "its result does not decode: "+err.Error())
	}
	s[0] = uint64(rptr)
	if err := inst.free.CallWithStack(cctx, s); err != nil {
		return nil, inst.trapped(ctx, st, what, err)
	}
	if st.stopErr != nil {
		// The guest's own error only echoes the stop.
		if errors.Is(st.stopErr, context.Canceled) || errors.Is(st.stopErr, context.DeadlineExceeded) {
			return nil, fmt.Errorf("plugin %s: %s: %w", p.name, what, st.stopErr)
		}
		return nil, st.stopErr
	}
	if res.Error != nil {
		gerr := wire.ErrorFromPB(res.Error)
		// A guest whose request the host ended because the caller
		// cancelled reports a failed request; the call's error is the
		// cancellation.
		if cerr := ctx.Err(); cerr != nil && !errors.Is(gerr, cerr) {
			return nil, fmt.Errorf("plugin %s: %s: %w (the plugin said: %v)", p.name, what, cerr, gerr)
		}
		return nil, gerr
	}
	return res.Payload, nil
}

// violation marks the instance broken for a guest that broke the ABI.
func (inst *instance) violation(what, why string) error {
	inst.broken = true
	return &sdk.Error{Kind: sdk.Permanent, Message: fmt.Sprintf("plugin %s: %s: %s; the instance was stopped", inst.p.name, what, why), Err: ErrBadGuest}
}

// trapped explains why a call into the guest failed, and marks the instance
// broken: after a trap, its memory cannot be trusted.
func (inst *instance) trapped(ctx context.Context, st *callState, what string, err error) error {
	inst.broken = true
	p := inst.p
	if st.stopErr != nil && !errors.Is(st.stopErr, context.Canceled) {
		return st.stopErr
	}
	switch {
	case st.watch.timedOut():
		return &sdk.Error{Kind: sdk.Permanent, Err: ErrTimeLimit, Message: fmt.Sprintf(
			"plugin %s: %s ran for %s without returning or streaming anything, its time limit; the instance was stopped",
			p.name, what, p.cfg.CallTimeout)}
	case ctx.Err() != nil:
		return fmt.Errorf("plugin %s: %s: %w", p.name, what, ctx.Err())
	case inst.outOfMemory():
		return &sdk.Error{Kind: sdk.Permanent, Err: ErrMemoryLimit, Message: fmt.Sprintf(
			"plugin %s: %s needed more than its memory limit of %d MiB; the instance was stopped",
			p.name, what, uint64(p.cfg.MemoryLimitPages)*pageSize>>20)}
	}
	p.logger.Error("plugin crashed", "call", what, "error", err, "output", inst.stderr.tail())
	return &sdk.Error{Kind: sdk.Permanent, Err: ErrCrashed, Message: fmt.Sprintf(
		"plugin %s: %s crashed: %v%s; the instance was stopped", p.name, what, err, inst.stderr.panicMessage())}
}

// outOfMemory tells a guest that died for want of memory: the Go runtime
// says so on stderr before it exits, and its memory stands near the cap.
func (inst *instance) outOfMemory() bool {
	if strings.Contains(inst.stderr.tail(), "out of memory") {
		return true
	}
	limit := uint64(inst.p.cfg.MemoryLimitPages) * pageSize
	return uint64(inst.mem.Size()) > limit-limit/16
}

// cancelGrace is how long a guest may go on computing after its caller
// cancelled the call. A guest that streams or makes requests learns of the
// cancellation at its next emit or HTTP call and returns cleanly, keeping
// its instance; one that does neither within the grace is stopped, and its
// instance is thrown away.
const cancelGrace = 100 * time.Millisecond

// watchdog ends the context wazero runs a call under (which stops the
// guest, see Config.NoTimeLimit) when the guest has run on its own for
// longer than the limit, or for longer than cancelGrace after the caller's
// context ended. The host functions pause it while the host works, so only
// the guest's own time counts. A disabled watchdog (NoTimeLimit) has no
// timer and passes the caller's context through.
type watchdog struct {
	limit  time.Duration
	timer  *time.Timer
	cancel context.CancelFunc
	unhook func() bool
	fired  atomic.Bool

	mu        sync.Mutex
	paused    bool
	cancelled bool // the caller's context ended
}

func startWatchdog(parent context.Context, limit time.Duration, enabled bool) (context.Context, *watchdog) {
	if !enabled {
		return parent, &watchdog{}
	}
	// The caller's cancellation reaches wazero through the watchdog, after
	// the grace, not at once.
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	w := &watchdog{limit: limit, cancel: cancel}
	w.timer = time.AfterFunc(limit, func() {
		w.fired.Store(true)
		cancel()
	})
	w.unhook = context.AfterFunc(parent, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.cancelled = true
		if !w.paused {
			w.timer.Reset(cancelGrace)
		}
	})
	return ctx, w
}

// pause stops the clock while the host works for the guest.
func (w *watchdog) pause() {
	if w.timer == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.paused = true
	w.timer.Stop()
}

// resume gives the guest a full limit again (only the grace, once the
// caller cancelled).
func (w *watchdog) resume() {
	if w.timer == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.paused = false
	if w.fired.Load() {
		return
	}
	if w.cancelled {
		w.timer.Reset(cancelGrace)
	} else {
		w.timer.Reset(w.limit)
	}
}

// timedOut reports whether the watchdog stopped the guest for running too
// long (not for a cancellation).
func (w *watchdog) timedOut() bool {
	if !w.fired.Load() {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.cancelled
}

func (w *watchdog) stop() {
	if w.timer != nil {
		w.unhook()
		w.timer.Stop()
		w.cancel()
	}
}
