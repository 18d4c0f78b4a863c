package httpwire

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
	"github.com/fieldsync/fieldsync/sdk/wire"
)

// ContentType is the media type of every request and response body.
const ContentType = "application/x-protobuf"

// The calls' paths; see the package documentation.
const (
	PathInfo          = "/v1/info"
	PathSchema        = "/v1/schema"
	PathFetch         = "/v1/fetch"
	PathPush          = "/v1/push"
	PathListDocuments = "/v1/documents/list"
	PathReadDocument  = "/v1/documents/read"
)

// Query parameters.
const (
	ParamUser     = "user"
	ParamMaxPages = "max_pages"
	ParamMaxBytes = "max_bytes"
)

// MaxRetryAfter caps a Retry-After header the client honours, so a broken
// server cannot park a device for days (the same cap as the plugin
// protocol's retry delay).
const MaxRetryAfter = time.Hour

// statusOfKind is the status of each error kind; KindOfStatus is its
// inverse (and more).
var statusOfKind = map[sdk.ErrorKind]int{
	sdk.Retryable:    http.StatusServiceUnavailable,
	sdk.Permanent:    http.StatusBadRequest,
	sdk.TokenExpired: http.StatusGone,
	sdk.Unsupported:  http.StatusNotImplemented,
}

// Status returns the HTTP status and ErrorDetail that carry err (kind,
// message and retry delay, as the plugin protocol encodes them), and how
// long the client should wait before retrying (0: it did not say).
//
// A context error here means the server stopped the call: it is shutting
// down, or the client went away. Unlike on the plugin transports, where the
// host's own cancellation reaches the plugin and comes back as "canceled",
// nothing the client did ended it, so it travels as retryable.
func Status(err error) (int, *pb.ErrorDetail, time.Duration) {
	d := wire.ErrorToPB(err)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		d.Kind, d.Message = string(sdk.Retryable), "the server stopped the call (shutting down?): "+d.Message
	}
	code, ok := statusOfKind[sdk.ErrorKind(d.Kind)]
	if !ok {
		d.Kind, code = string(sdk.Permanent), http.StatusBadRequest
	}
	return code, d, time.Duration(d.RetryAfterMillis) * time.Millisecond
}

// RetryAfterHeader formats d as a Retry-After value: whole seconds, rounded
// up so a client never comes back early.
func RetryAfterHeader(d time.Duration) string {
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}

// KindOfStatus is the error kind of an HTTP status that came without an
// ErrorDetail, from a proxy, a load balancer or a server of another build:
// throttling, timeouts and server-side failures are worth retrying; a path
// or method the server does not know means it does not offer the call; 409
// and 410 are how HTTP APIs commonly say a sync token is stale; any other
// 4xx (including 401 and 403: retrying with the same credentials cannot
// help) is permanent.
func KindOfStatus(code int) sdk.ErrorKind {
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly, code == http.StatusTooManyRequests:
		return sdk.Retryable
	case code == http.StatusNotFound, code == http.StatusMethodNotAllowed, code == http.StatusNotImplemented:
		return sdk.Unsupported
	case code == http.StatusConflict, code == http.StatusGone:
		return sdk.TokenExpired
	case code >= 500:
		return sdk.Retryable
	}
	return sdk.Permanent
}

// ErrorOf rebuilds the sdk error of a failed response: the ErrorDetail's
// kind, message and retry delay when the body carried one (detail may be
// nil), the status's kind otherwise, with the Retry-After header for a
// retryable one that carries no delay of its own. call names the call in
// the message; excerpt is the start of a body that was no ErrorDetail,
// shown so a proxy's error page is not lost.
func ErrorOf(call string, code int, h http.Header, detail *pb.ErrorDetail, excerpt []byte, now time.Time) *sdk.Error {
	var out *sdk.Error
	if detail != nil && detail.Kind != "" {
		out = ErrorOfDetail(detail)
	} else {
		out = &sdk.Error{Kind: KindOfStatus(code), Message: fmt.Sprintf("HTTP %d %s", code, http.StatusText(code))}
		if text := printable(excerpt); text != "" {
			out.Message += ": " + text
		}
	}
	out.Message = call + ": " + out.Message
	if out.Kind == sdk.Retryable && out.RetryAfter == 0 {
		out.RetryAfter = RetryAfter(h.Get("Retry-After"), now)
	}
	return out
}

// ErrorOfDetail rebuilds the sdk error an ErrorDetail carries (in an error
// response or an ERROR frame). The context kinds of the plugin protocol
// ("canceled", "deadline-exceeded") become retryable: a server's context is
// not the caller's, so its ending says the server gave up, not that the
// caller did.
func ErrorOfDetail(d *pb.ErrorDetail) *sdk.Error {
	msg := d.GetMessage()
	if msg == "" {
		msg = "the server reported an error without a message"
	}
	switch d.GetKind() {
	case wire.KindCanceled, wire.KindDeadlineExceeded:
		return &sdk.Error{Kind: sdk.Retryable, Message: msg}
	}
	var out *sdk.Error
	if !errors.As(wire.ErrorFromPB(&pb.ErrorDetail{Kind: d.GetKind(), Message: msg, RetryAfterMillis: d.GetRetryAfterMillis()}), &out) {
		return &sdk.Error{Kind: sdk.Permanent, Message: msg}
	}
	return out
}

// RetryAfter parses a Retry-After header (delay-seconds or an HTTP-date,
// RFC 9110 section 10.2.3) into a wait of at most MaxRetryAfter; an absent,
// malformed or past value is 0.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return min(time.Duration(min(secs, int64(MaxRetryAfter/time.Second)))*time.Second, MaxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), MaxRetryAfter)
	}
	return 0
}

// printable returns up to 200 bytes of b as one line of valid text, or ""
// when b is not text.
func printable(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	s := strings.ToValidUTF8(string(b), "")
	s = strings.Join(strings.Fields(s), " ")
	for _, r := range s {
		if r < ' ' {
			return ""
		}
	}
	return s
}
