package wasmguest

import (
	"errors"
	"io"

	"github.com/fieldsync/fieldsync/sdk/wasmabi"
)

// HostHTTP performs one request through the host: req is an encoded
// HttpRequest and the answer an encoded HttpResponse. Plugins use
// wasmhttp.Client, a normal *http.Client built on it; it lives here, free of
// net/http, so that a plugin that makes no requests does not link net/http.
// Outside a WASM guest the answer is a refusal.
func HostHTTP(req []byte) []byte { return theHost.http(req) }

// HostHTTPOpen performs one request through the host like HostHTTP, but
// the answer (an encoded HttpResponse) comes without its body: the body is
// read from the returned stream, as the host receives it, so that the
// server and the plugin work at the same time. ok is false when the host
// cannot stream (then use HostHTTP); stream is nil when no answer came.
// The caller must close the stream, also when the answer carries an error
// (it then has no body).
//
// The host keeps one response body open per instance: opening another
// request while a stream is still open first reads the rest of the earlier
// body into guest memory (so the earlier stream still reads to its end).
// A stream left open when the plugin call returns is cut off: its next
// Read fails.
func HostHTTPOpen(req []byte) (resp []byte, stream *HostStream, ok bool) {
	if open != nil {
		open.detach(true)
	}
	n := rawHTTPOpen(req)
	if n == wasmabi.HTTPOpenUnsupported {
		return nil, nil, false
	}
	if n <= 0 {
		return nil, nil, true
	}
	resp = rawTake(int(n))
	s := &HostStream{}
	open = s
	return resp, s, true
}

// open is the stream the host holds for this instance, if any.
var open *HostStream

// HostStream is a response body being read from the host (HostHTTPOpen).
// Each Read is one crossing into the host, which fills p as far as the body
// allows: read in large pieces (wasmabi.HTTPReadChunk).
type HostStream struct {
	rest   []byte // what detach read ahead for this stream
	err    error  // sticky: io.EOF, the host's error, or why the stream was cut off
	closed bool
}

// ErrStreamCutOff is why a stream left open when its plugin call returned
// fails: the host closed it.
var ErrStreamCutOff = errors.New("wasmguest: the response body was still open when the plugin call returned; the host closed it")

func (s *HostStream) Read(p []byte) (int, error) {
	switch {
	case s.closed:
		return 0, errors.New("wasmguest: read from a closed response body")
	case len(s.rest) > 0:
		n := copy(p, s.rest)
		s.rest = s.rest[n:]
		return n, nil
	case s.err != nil:
		return 0, s.err
	case len(p) == 0:
		return 0, nil
	}
	n, err := s.read(p)
	if err != nil {
		s.err = err
	}
	return n, err
}

// read asks the host for the next bytes of the open body.
func (s *HostStream) read(p []byte) (int, error) {
	n := rawHTTPRead(p)
	switch {
	case n > 0:
		return int(n), nil
	case n == 0:
		return 0, io.EOF
	}
	msg := rawTake(int(-n))
	if len(msg) == 0 {
		msg = []byte("reading the response failed")
	}
	return 0, errors.New(string(msg))
}

// Close releases the body; the host stops reading it.
func (s *HostStream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.rest = nil
	if open == s {
		open = nil
		rawHTTPClose()
	}
	return nil
}

// detach makes s no longer the host's open stream: with keep, what is left
// of the body is read into memory first (another request is about to
// replace it on the host); otherwise (the call ended, the host closed it)
// later reads fail.
func (s *HostStream) detach(keep bool) {
	open = nil
	if s.err != nil {
		return
	}
	if !keep {
		s.err = ErrStreamCutOff
		return
	}
	buf := make([]byte, wasmabi.HTTPReadChunk)
	for {
		n, err := s.read(buf)
		s.rest = append(s.rest, buf[:n]...)
		if err != nil {
			s.err = err
			return
		}
	}
}

// endCall cuts off a stream left open by the call that returns.
func endCall() {
	if open != nil {
		open.detach(false)
	}
}
