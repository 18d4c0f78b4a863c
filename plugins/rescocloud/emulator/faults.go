package emulator

import (
	"sync"
	"time"
)

// Faults injects failures into the next requests. Its methods are safe for
// concurrent use.
type Faults struct {
	mu         sync.Mutex
	failN      int
	failStatus int
	throttleN  int
	retryAfter time.Duration
	dropN      int
	delay      time.Duration
}

// FailNext makes the next n requests fail with status (500 or 503) and a
// ServerError body.
func (f *Faults) FailNext(n, status int) {
	if status != 503 {
		status = 500
	}
	f.mu.Lock()
	f.failN, f.failStatus = n, status
	f.mu.Unlock()
}

// Throttle makes the next n requests answer 429 TooManyRequests with
// Retry-After (whole seconds, at least 1).
func (f *Faults) Throttle(n int, retryAfter time.Duration) {
	f.mu.Lock()
	f.throttleN, f.retryAfter = n, retryAfter
	f.mu.Unlock()
}

// DropNext makes the server close the connection of the next n requests
// without an answer.
func (f *Faults) DropNext(n int) {
	f.mu.Lock()
	f.dropN = n
	f.mu.Unlock()
}

// Delay holds every request for d before serving it (0 turns it off).
func (f *Faults) Delay(d time.Duration) {
	f.mu.Lock()
	f.delay = d
	f.mu.Unlock()
}

// Reset turns every fault off.
func (f *Faults) Reset() {
	f.mu.Lock()
	f.failN, f.throttleN, f.dropN, f.delay = 0, 0, 0, 0
	f.mu.Unlock()
}

// fault is what take decided for one request.
type fault struct {
	delay      time.Duration
	drop       bool
	failStatus int
	retryAfter time.Duration // > 0: throttle
}

func (f *Faults) take() fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := fault{delay: f.delay}
	switch {
	case f.dropN > 0:
		f.dropN--
		out.drop = true
	case f.failN > 0:
		f.failN--
		out.failStatus = f.failStatus
	case f.throttleN > 0:
		f.throttleN--
		out.retryAfter = max(f.retryAfter, time.Second)
	}
	return out
}
