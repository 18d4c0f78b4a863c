package rescocloud

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/plugins/rescocloud/wire"
	"github.com/fieldsync/fieldsync/sdk"
)

// authorizer adds credentials to a request.
type authorizer interface {
	authorize(ctx context.Context, req *http.Request) error
	// reset forgets a cached credential after a 401, so the next attempt
	// gets a fresh one; it reports whether there was one to forget.
	reset() bool
}

type noAuth struct{}

func (noAuth) authorize(context.Context, *http.Request) error { return nil }
func (noAuth) reset() bool                                    { return false }

type basicAuth struct{ user, pass string }

func (b basicAuth) authorize(_ context.Context, req *http.Request) error {
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(b.user+":"+b.pass)))
	return nil
}
func (basicAuth) reset() bool { return false }

// httpClient sends requests to the data service with credentials, retries
// and the usage counters.
type httpClient struct {
	client  *http.Client
	base    string // ends in /rest/v1/data/
	auth    authorizer
	log     hclog.Logger
	retries int
	backoff time.Duration

	requests    atomic.Int64
	throttledMs atomic.Int64
	retries_    atomic.Int64

	sleep func(ctx context.Context, d time.Duration) error // tests replace it
}

// request is one call of the data service.
type request struct {
	method string
	path   string // relative to the data base, with any query
	body   []byte // JSON; nil for none
	header http.Header
	what   string // for messages: "Fetch account"
	// expect lists the success statuses (nil: 200).
	expect []int
}

// apiError is a failed call: the HTTP status and the service's error code.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
}

// codeOf returns the service's error code in err's chain, or "".
func codeOf(err error) string {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// do sends r, retrying 429 (after Retry-After), 5xx and dropped
// connections up to the retry budget, and returns the response of a
// success status; its body is the caller's to close. Failures are
// *sdk.Error values wrapping an *apiError where the service answered.
// Writes are safe to retry: every record carries its RequestId.
func (h *httpClient) do(ctx context.Context, r request) (*http.Response, error) {
	refreshed := false
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("rescocloud: %s: %w", r.what, err)
		}
		resp, err := h.send(ctx, r)
		var wait time.Duration
		var failure error
		throttled := false
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, fmt.Errorf("rescocloud: %s: %w", r.what, ctx.Err())
			}
			var se *sdk.Error
			if errors.As(err, &se) { // from the authorizer: already typed
				return nil, err
			}
			failure = &sdk.Error{Kind: sdk.Retryable, Message: fmt.Sprintf("rescocloud: %s: %v", r.what, redact(err)), Err: err}
			wait = h.backoffFor(attempt)
		case ok(resp.StatusCode, r.expect):
			return resp, nil
		default:
			ae := readError(resp)
			switch {
			case resp.StatusCode == http.StatusUnauthorized && !refreshed && h.auth.reset():
				// A token may have expired early: fetch a new one once.
				refreshed = true
				h.log.Debug("token refused; signing in again", "call", r.what)
				attempt--
				continue
			case resp.StatusCode == http.StatusTooManyRequests:
				throttled = true
				wait = retryAfter(resp.Header.Get("Retry-After"), h.backoffFor(attempt))
				failure = &sdk.Error{Kind: sdk.Retryable, RetryAfter: wait, Message: fmt.Sprintf("rescocloud: %s: throttled: %v", r.what, ae), Err: ae}
			case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
				wait = h.backoffFor(attempt)
				if s := resp.Header.Get("Retry-After"); s != "" {
					wait = retryAfter(s, wait)
				}
				failure = &sdk.Error{Kind: sdk.Retryable, Message: fmt.Sprintf("rescocloud: %s: %v", r.what, ae), Err: ae}
			default:
				return nil, classify(r.what, ae)
			}
		}
		if attempt >= h.retries {
			return nil, failure
		}
		h.retries_.Add(1)
		h.log.Warn("retrying", "call", r.what, "attempt", attempt+2, "wait", wait, "error", failure)
		if throttled {
			h.throttledMs.Add(wait.Milliseconds())
		}
		if err := h.wait(ctx, wait); err != nil {
			return nil, fmt.Errorf("rescocloud: %s: %w", r.what, err)
		}
	}
}

func (h *httpClient) wait(ctx context.Context, d time.Duration) error {
	if h.sleep != nil {
		return h.sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (h *httpClient) send(ctx context.Context, r request) (*http.Response, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, h.base+r.path, body)
	if err != nil {
		return nil, sdk.Errorf(sdk.Permanent, "rescocloud: %s: %v", r.what, err)
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if err := h.auth.authorize(ctx, req); err != nil {
		return nil, err
	}
	h.requests.Add(1)
	start := time.Now()
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, err
	}
	h.log.Trace("request", "call", r.what, "status", resp.StatusCode, "took", time.Since(start))
	return resp, nil
}

func ok(status int, expect []int) bool {
	if len(expect) == 0 {
		return status == http.StatusOK
	}
	for _, s := range expect {
		if s == status {
			return true
		}
	}
	return false
}

// readError reads and closes a failed response's body.
func readError(resp *http.Response) *apiError {
	defer resp.Body.Close()
	ae := &apiError{Status: resp.StatusCode}
	d, err := wire.DecodeError(resp.Body)
	if err != nil {
		ae.Message = http.StatusText(resp.StatusCode)
		if ae.Message == "" {
			ae.Message = "no error body"
		}
		return ae
	}
	ae.Code, ae.Message = d.Code, d.Message
	return ae
}

// classify turns a non-retried failure into the contract's error kinds.
func classify(what string, ae *apiError) error {
	kind := sdk.Permanent
	msg := fmt.Sprintf("rescocloud: %s: %v", what, ae)
	switch {
	case ae.Code == wire.CodeChangesExpired || ae.Status == http.StatusGone:
		kind = sdk.TokenExpired
		msg = fmt.Sprintf("rescocloud: %s: the change token is older than the service keeps changes (%v); the entity must be read again", what, ae)
	case ae.Status == http.StatusUnauthorized || ae.Code == wire.CodeUnauthorized:
		msg = fmt.Sprintf("rescocloud: %s: the service refused the credentials (%v)", what, ae)
	case ae.Status == http.StatusForbidden || ae.Code == wire.CodeForbidden:
		msg = fmt.Sprintf("rescocloud: %s: access denied (%v)", what, ae)
	case ae.Code == wire.CodeTooManyRequests || ae.Code == wire.CodeServerError:
		kind = sdk.Retryable
	}
	return &sdk.Error{Kind: kind, Message: msg, Err: ae}
}

func (h *httpClient) backoffFor(attempt int) time.Duration {
	d := h.backoff << min(attempt, 10)
	if d > maxBackoff || d <= 0 {
		d = maxBackoff
	}
	// Full jitter on the upper half, so retrying clients spread out.
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// retryAfter reads Retry-After (seconds or an HTTP date), capped at
// MaxThrottleWait; def when absent or unreadable.
func retryAfter(v string, def time.Duration) time.Duration {
	if v == "" {
		return def
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		d = time.Duration(min(n, int64(MaxThrottleWait/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = time.Until(t)
	} else {
		return def
	}
	return max(0, min(d, MaxThrottleWait))
}

// redact is a transport error's text. The URLs it may quote carry no
// secret: the url setting refuses user info, and credentials travel in the
// Authorization header alone.
func redact(err error) string {
	return err.Error()
}

// postJSON sends a JSON POST and returns the response.
func (h *httpClient) postJSON(ctx context.Context, path, what string, body []byte) (*http.Response, error) {
	return h.do(ctx, request{method: http.MethodPost, path: path, body: body, what: what})
}

// doStream sends a POST whose body is a stream, once: a stream cannot be
// sent again, so failures are returned for the caller to retry.
func (h *httpClient) doStream(ctx context.Context, path, what string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.base+path, body)
	if err != nil {
		return nil, sdk.Errorf(sdk.Permanent, "rescocloud: %s: %v", what, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	if err := h.auth.authorize(ctx, req); err != nil {
		return nil, err
	}
	h.requests.Add(1)
	resp, err := h.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("rescocloud: %s: %w", what, ctx.Err())
		}
		return nil, &sdk.Error{Kind: sdk.Retryable, Message: fmt.Sprintf("rescocloud: %s: %v", what, err), Err: err}
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	ae := readError(resp)
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return nil, &sdk.Error{Kind: sdk.Retryable, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), 0), Message: fmt.Sprintf("rescocloud: %s: %v", what, ae), Err: ae}
	}
	return nil, classify(what, ae)
}
