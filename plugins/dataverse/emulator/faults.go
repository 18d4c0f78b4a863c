package emulator

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// Faults are the fault switches. They apply to Web API requests (not to
// the token endpoint or the admin endpoints), before authentication, in
// this order: drop, delay, forced 429, failure.
type Faults struct {
	// FailRate is the percentage (0–100) of requests answered 503 with an
	// error body.
	FailRate int `json:"failRate"`
	// DropRate is the percentage of requests whose connection is closed
	// without an answer.
	DropRate int `json:"dropRate"`
	// Delay is slept before each request is handled.
	Delay time.Duration `json:"-"`
	// DelayMS is Delay in milliseconds, for the admin endpoint's JSON.
	DelayMS int64 `json:"delayMs"`
	// Force429 answers the next Force429 requests with 429 (number of
	// requests exceeded) and Retry-After: RetryAfter seconds (default 1).
	Force429   int `json:"force429"`
	RetryAfter int `json:"retryAfter"`
}

// SetFaults sets the fault switches.
func (s *Server) SetFaults(f Faults) {
	if f.Delay == 0 && f.DelayMS > 0 {
		f.Delay = time.Duration(f.DelayMS) * time.Millisecond
	}
	f.DelayMS = f.Delay.Milliseconds()
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
}

// Faults returns the fault switches (Force429 counts down).
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// ExpireDeltaTokens makes every delta token handed out so far expired.
func (s *Server) ExpireDeltaTokens(ctx context.Context) error {
	return s.store.ExpireDeltaTokens(ctx)
}

// injectFault applies the fault switches to one request; true means it
// was answered (or dropped).
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	f := s.faults
	force := f.Force429 > 0
	if force {
		s.faults.Force429--
	}
	s.mu.Unlock()
	if f.DropRate > 0 && rand.IntN(100) < f.DropRate {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler)
	}
	if f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
			return true
		}
	}
	if force {
		ra := f.RetryAfter
		if ra <= 0 {
			ra = 1
		}
		writeError(w, &apiError{Status: http.StatusTooManyRequests, Code: codeRequests,
			Header:  http.Header{"Retry-After": {strconv.Itoa(ra)}},
			Message: "Number of requests exceeded the limit of " + strconv.Itoa(s.opts.Limits.Requests) + " over time window of " + strconv.Itoa(int(s.opts.Limits.Window/time.Second)) + " seconds."})
		return true
	}
	if f.FailRate > 0 && rand.IntN(100) < f.FailRate {
		writeError(w, &apiError{Status: http.StatusServiceUnavailable, Code: codeUnexpected,
			Message: "The service is temporarily unavailable (injected by the emulator's fail rate)."})
		return true
	}
	return false
}

// serveAdmin serves the admin endpoints (no authentication: bind the
// emulator to loopback):
//
//	GET  /_emulator/faults                 the fault switches (JSON)
//	POST /_emulator/faults                 set them (JSON Faults)
//	POST /_emulator/expire-delta-tokens    expire every delta token so far
//	POST /_emulator/expire-access-tokens   expire every access token so far
//	POST /_emulator/purge-tombstones       drop tombstones (expires older tokens)
//	GET  /_emulator/requests?after=N       the request log after id N (JSON)
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	writeJSON := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	fail := func(status int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"error": msg})
	}
	switch r.URL.Path {
	case "/_emulator/faults":
		switch r.Method {
		case http.MethodGet:
			writeJSON(s.Faults())
		case http.MethodPost, http.MethodPut:
			var f Faults
			dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&f); err != nil {
				fail(http.StatusBadRequest, "faults: "+err.Error())
				return
			}
			if f.FailRate < 0 || f.FailRate > 100 || f.DropRate < 0 || f.DropRate > 100 || f.DelayMS < 0 || f.Force429 < 0 {
				fail(http.StatusBadRequest, "faults: rates are percentages (0-100); counts and delays are not negative")
				return
			}
			s.SetFaults(f)
			writeJSON(s.Faults())
		default:
			fail(http.StatusMethodNotAllowed, "GET or POST")
		}
	case "/_emulator/expire-delta-tokens", "/_emulator/expire-access-tokens", "/_emulator/purge-tombstones":
		if r.Method != http.MethodPost {
			fail(http.StatusMethodNotAllowed, "POST")
			return
		}
		var err error
		switch r.URL.Path {
		case "/_emulator/expire-delta-tokens":
			err = s.ExpireDeltaTokens(r.Context())
		case "/_emulator/purge-tombstones":
			_, err = s.store.PurgeTombstones(r.Context())
		default:
			s.ExpireAccessTokens()
		}
		if err != nil {
			fail(http.StatusInternalServerError, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case "/_emulator/requests":
		after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
		writeJSON(s.requests(after, 1)) // this request is in flight itself
	default:
		fail(http.StatusNotFound, "no such admin endpoint")
	}
}
