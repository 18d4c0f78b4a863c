package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// pool hands instances to calls, one call per instance at a time (an
// instance is not goroutine-safe), and at most size calls at once. Idle
// instances are kept for the next call; new ones are made on demand, so a
// plugin used by one goroutine never pays for a second instance. A broken
// instance is closed on return, and the next call that needs one makes a
// fresh one.
type pool struct {
	create func(context.Context) (*instance, error)
	slots  chan struct{} // one token per instance lent out

	mu     sync.Mutex
	idle   []*instance
	closed bool
}

var errClosed = errors.New("plugin closed")

func newPool(size int, create func(context.Context) (*instance, error)) *pool {
	return &pool{create: create, slots: make(chan struct{}, size)}
}

// get lends an instance, waiting for a free slot as long as ctx allows.
func (p *pool) get(ctx context.Context) (*instance, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for a plugin instance: %w", ctx.Err())
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.slots
		return nil, errClosed
	}
	if n := len(p.idle); n > 0 {
		inst := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return inst, nil
	}
	p.mu.Unlock()
	inst, err := p.create(ctx)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return inst, nil
}

// put takes an instance back: kept when healthy, closed when broken or when
// the pool was closed meanwhile.
func (p *pool) put(ctx context.Context, inst *instance) {
	defer func() { <-p.slots }()
	p.mu.Lock()
	if !inst.broken && !p.closed {
		p.idle = append(p.idle, inst)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	inst.close(context.WithoutCancel(ctx))
}

// drain takes every idle instance out (to close them), and makes the pool
// refuse further calls.
func (p *pool) drain() []*instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	return idle
}

func (p *pool) close(ctx context.Context) {
	for _, inst := range p.drain() {
		inst.close(ctx)
	}
}

// idleCount is the number of instances kept for reuse (for tests).
func (p *pool) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// put an instance made outside get (Open's first one) into the pool.
func (p *pool) add(inst *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.idle = append(p.idle, inst)
}
