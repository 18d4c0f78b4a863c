// Package wasmhttp gives a WASM guest a normal *http.Client whose requests
// the host makes under the plugin's network policy. It is a package of its
// own so that plugins that make no requests (most conflict policies) do not
// link net/http: that is about 1.8 MB of every module, and a module's size
// is most of its start-up time.
package wasmhttp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"google.golang.org/protobuf/proto"

	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
	"github.com/fieldsync/fieldsync/sdk/wasmabi"
	"github.com/fieldsync/fieldsync/sdk/wasmguest"
)

// MaxRequestBody bounds the body of one request a guest sends: the body is
// buffered whole in guest memory and copied to the host, so a stream of
// unknown length cannot be sent. Response bodies stream from the host (see
// Client), up to the limit the host's network policy sets.
const MaxRequestBody = 32 << 20

// Client returns a client whose requests the host makes on the plugin's
// behalf, under the plugin's network policy (allowed hosts, size and time
// limits; credentials are added by the host, never seen by the plugin). It
// is a plain *http.Client, so libraries that accept one work unchanged.
//
// A refused or failed request returns an error from Do naming the reason.
// The host's policy checks every request, each redirect hop included. A
// request's context cannot interrupt the host's transfer; the host's own
// time limit and the call's cancellation do.
//
// The response body streams from the host as the host receives it (the
// http_open and http_read imports), read in pieces of
// wasmabi.HTTPReadChunk, so the plugin works on the first part of a large
// response while the rest is still arriving; with a host that cannot stream
// the body comes whole. Close every body: the host holds one open response
// body per instance, and opening a second request while one is open reads
// the rest of the first into memory.
func Client() *http.Client {
	return &http.Client{Transport: &roundTripper{do: wasmguest.HostHTTP, open: hostOpen}}
}

func hostOpen(req []byte) ([]byte, io.ReadCloser, bool) {
	resp, s, ok := wasmguest.HostHTTPOpen(req)
	if s == nil {
		return resp, nil, ok
	}
	return resp, s, ok
}

// roundTripper carries a request to the host as an HttpRequest and builds
// the answer from its HttpResponse. open, when set, is tried first: it
// answers the response without its body and the body as a stream, or
// ok=false when the host cannot stream, and then do makes the request.
type roundTripper struct {
	do   func(req []byte) []byte
	open func(req []byte) (resp []byte, body io.ReadCloser, ok bool)
}

// ErrNoResponse is returned when the host answered a request with nothing
// at all (an older or broken host).
var ErrNoResponse = errors.New("wasmhttp: the host answered the HTTP request with no response")

func (t *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := readBody(req)
	if err != nil {
		return nil, err
	}
	msg := &pb.HttpRequest{Method: req.Method, Url: req.URL.String(), Body: body}
	if msg.Method == "" {
		msg.Method = http.MethodGet
	}
	for name, values := range req.Header {
		msg.Headers = append(msg.Headers, &pb.Header{Name: name, Values: values})
	}
	if req.Host != "" && req.Host != req.URL.Host {
		msg.Headers = append(msg.Headers, &pb.Header{Name: "Host", Values: []string{req.Host}})
	}
	raw, err := proto.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("wasmhttp: encode %s %s: %w", req.Method, req.URL.Redacted(), err)
	}
	var answer []byte
	var stream io.ReadCloser
	streamed := false
	if t.open != nil {
		answer, stream, streamed = t.open(raw)
	}
	if !streamed {
		answer = t.do(raw)
	}
	var resp pb.HttpResponse
	if err := proto.Unmarshal(answer, &resp); err != nil {
		closeStream(stream)
		return nil, fmt.Errorf("wasmhttp: %s %s: the host sent a malformed response: %w", req.Method, req.URL.Redacted(), err)
	}
	if resp.Error != "" {
		closeStream(stream)
		return nil, fmt.Errorf("%s %s: %s", req.Method, req.URL.Redacted(), resp.Error)
	}
	if resp.Status < 100 || resp.Status > 999 {
		closeStream(stream)
		return nil, fmt.Errorf("%s %s: %w (status %d)", req.Method, req.URL.Redacted(), ErrNoResponse, resp.Status)
	}
	out := &http.Response{
		Status:        strconv.Itoa(int(resp.Status)) + " " + http.StatusText(int(resp.Status)),
		StatusCode:    int(resp.Status),
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        make(http.Header, len(resp.Headers)),
		Body:          io.NopCloser(bytes.NewReader(resp.Body)),
		ContentLength: int64(len(resp.Body)),
		Request:       req,
	}
	for _, h := range resp.Headers {
		out.Header[http.CanonicalHeaderKey(h.Name)] = append(out.Header[http.CanonicalHeaderKey(h.Name)], h.Values...)
	}
	if streamed {
		out.ContentLength = -1
		if n, err := strconv.ParseInt(out.Header.Get("Content-Length"), 10, 64); err == nil && n >= 0 {
			out.ContentLength = n
		}
		if stream == nil {
			stream = io.NopCloser(bytes.NewReader(nil))
		}
		out.Body = &streamBody{r: bufio.NewReaderSize(stream, wasmabi.HTTPReadChunk), c: stream}
	}
	return out, nil
}

func closeStream(s io.ReadCloser) {
	if s != nil {
		s.Close()
	}
}

// streamBody reads a streamed response body in large pieces: each piece is
// one crossing into the host, and a frame reader on top asks for a few
// bytes at a time.
type streamBody struct {
	r *bufio.Reader
	c io.Closer
}

func (b *streamBody) Read(p []byte) (int, error) { return b.r.Read(p) }
func (b *streamBody) Close() error               { return b.c.Close() }

// readBody buffers a request's body, refusing one over MaxRequestBody.
func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	defer req.Body.Close()
	b, err := io.ReadAll(io.LimitReader(req.Body, MaxRequestBody+1))
	if err != nil {
		return nil, fmt.Errorf("wasmhttp: read the body of %s %s: %w", req.Method, req.URL.Redacted(), err)
	}
	if len(b) > MaxRequestBody {
		return nil, fmt.Errorf("wasmhttp: the body of %s %s is over %d bytes, more than a plugin may send", req.Method, req.URL.Redacted(), MaxRequestBody)
	}
	return b, nil
}
