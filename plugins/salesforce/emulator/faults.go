package emulator

import (
	"sync"
	"time"
)

// Faults injects failures into the data API. Set the fields under Lock or
// with the setters; they apply to the next requests.
type Faults struct {
	mu sync.Mutex
	// FailNext answers the next N data API requests with FailStatus
	// (default 503) and FailCode (default SERVER_UNAVAILABLE; also
	// UNABLE_TO_LOCK_ROW).
	FailNext   int
	FailStatus int
	FailCode   string
	// DropNext cuts the connection of the next N requests mid-response.
	DropNext int
	// Delay holds every request this long before answering.
	Delay time.Duration

	expire func()
}

// Faults returns the server's fault injector.
func (s *Server) Faults() *Faults {
	s.faults.mu.Lock()
	s.faults.expire = s.expireSessions
	s.faults.mu.Unlock()
	return s.faults
}

// Lock and Unlock guard direct changes to the fields.
func (f *Faults) Lock()   { f.mu.Lock() }
func (f *Faults) Unlock() { f.mu.Unlock() }

// Fail makes the next n requests answer status and code.
func (f *Faults) Fail(n, status int, code string) {
	f.mu.Lock()
	f.FailNext, f.FailStatus, f.FailCode = n, status, code
	f.mu.Unlock()
}

// Drop cuts the connections of the next n requests.
func (f *Faults) Drop(n int) {
	f.mu.Lock()
	f.DropNext = n
	f.mu.Unlock()
}

// SetDelay holds every request d.
func (f *Faults) SetDelay(d time.Duration) {
	f.mu.Lock()
	f.Delay = d
	f.mu.Unlock()
}

// ExpireSessions ends every access token: the next call answers 401
// INVALID_SESSION_ID.
func (f *Faults) ExpireSessions() {
	f.mu.Lock()
	e := f.expire
	f.mu.Unlock()
	if e != nil {
		e()
	}
}

func (f *Faults) delay() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Delay
}

func (f *Faults) fail() (int, string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.FailNext <= 0 {
		return 0, "", false
	}
	f.FailNext--
	st, code := f.FailStatus, f.FailCode
	if st == 0 {
		st = 503
	}
	if code == "" {
		code = "SERVER_UNAVAILABLE"
	}
	return st, code, true
}

func (f *Faults) drop() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.DropNext <= 0 {
		return false
	}
	f.DropNext--
	return true
}

func (s *Server) expireSessions() {
	s.mu.Lock()
	clear(s.sessions)
	s.mu.Unlock()
}
