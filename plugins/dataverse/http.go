package dataverse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/sdk"
)

// maxErrorBody bounds how much of a failed response is read for its error.
const maxErrorBody = 64 << 10

// httpClient sends the Web API's requests. It keeps at most
// MaxConcurrency of them in flight (a request holds its slot until its body
// is closed: the service counts a request as concurrent until its response
// is done), waits out 429s for as long as Retry-After asks (counting the
// time), resends on 5xx and dropped connections with exponential backoff,
// and counts what it spent for sdk.UsageReporter.
type httpClient struct {
	api        *url.URL
	client     *http.Client
	tokens     func(context.Context) (string, error)
	invalidate func() // drops a refused token; nil when the host supplies them
	sem        chan struct{}
	retries    int
	backoff    time.Duration
	maxWait    time.Duration
	log        hclog.Logger

	requests    atomic.Int64
	retried     atomic.Int64
	throttledMs atomic.Int64
}

func newHTTPClient(api *url.URL, opts Options, tokens func(context.Context) (string, error), log hclog.Logger) *httpClient {
	return &httpClient{
		api: api, client: opts.HTTPClient, tokens: tokens,
		sem: make(chan struct{}, opts.MaxConcurrency), retries: opts.Retries,
		backoff: opts.Backoff, maxWait: opts.MaxThrottleWait, log: log,
	}
}

// request is one Web API call. URL is relative to the API root
// ("accounts?$select=name") or an absolute URL under it (a server's
// nextLink); Body is resent as is on a retry.
type request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
	What   string // names the call in errors: "fetch account page 3"
	// Pass4xx hands back responses of status 400–499 (but 401 and 429,
	// which do handles) instead of turning them into errors: a $batch
	// answers a failed part in a 400 multipart body.
	Pass4xx bool
}

// resolve turns a link into an absolute URL under the API root and refuses
// anything else: links come from servers and from cursors the core hands
// back, and the bearer token must never follow one to another host.
func (h *httpClient) resolve(link string) (*url.URL, error) {
	u, err := h.api.Parse(link)
	if err != nil {
		return nil, sdk.Errorf(sdk.Permanent, "dataverse: link %q is not a URL: %w", link, err)
	}
	if u.Scheme != h.api.Scheme || u.Host != h.api.Host || !strings.HasPrefix(u.Path, h.api.Path) {
		return nil, sdk.Errorf(sdk.Permanent, "dataverse: link %q leaves the Web API at %s", u.Redacted(), h.api.Redacted())
	}
	return u, nil
}

// relative returns link relative to the API root ("accounts?$deltatoken=…"),
// the form kept in tokens and cursors so they survive a change of host
// name only through the setting, never through a link.
func (h *httpClient) relative(link string) (string, error) {
	u, err := h.resolve(link)
	if err != nil {
		return "", err
	}
	rel := strings.TrimPrefix(u.Path, h.api.Path)
	if u.RawPath != "" {
		rel = strings.TrimPrefix(u.EscapedPath(), h.api.EscapedPath())
	}
	if u.RawQuery != "" {
		rel += "?" + u.RawQuery
	}
	return rel, nil
}

// do sends r and returns a response of any status below 400 but 429 and
// 5xx (those are waited out or retried); other statuses come back as an
// *apiError wrapped in an *sdk.Error. The response body must be closed; it
// releases the request's concurrency slot.
func (h *httpClient) do(ctx context.Context, r request) (*http.Response, error) {
	u, err := h.resolve(r.URL)
	if err != nil {
		return nil, err
	}
	var waited time.Duration
	attempt, refreshed := 0, false
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("dataverse: %s: %w", r.What, err)
		}
		resp, err := h.send(ctx, r, u)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("dataverse: %s: %w", r.What, ctx.Err())
			}
			var se *sdk.Error
			if errors.As(err, &se) && se.Kind != sdk.Retryable {
				return nil, err
			}
			if attempt >= h.retries {
				return nil, &sdk.Error{Kind: sdk.Retryable, Message: fmt.Sprintf("dataverse: %s: %v", r.What, err), Err: err}
			}
			if err := h.pause(ctx, r, h.delay(attempt)); err != nil {
				return nil, err
			}
			attempt++
			continue
		}
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			wait := retryAfter(resp.Header, time.Second)
			apiErr := readAPIError(resp, r.What)
			if waited+wait > h.maxWait {
				return nil, &sdk.Error{Kind: sdk.Retryable, RetryAfter: wait,
					Message: fmt.Sprintf("dataverse: %s: throttled for %v already, the service asks for %v more", r.What, waited.Round(time.Second), wait), Err: apiErr}
			}
			h.log.Debug("throttled", "call", r.What, "retry_after", wait)
			start := time.Now()
			err := h.pause(ctx, r, wait)
			h.throttledMs.Add(time.Since(start).Milliseconds())
			if err != nil {
				return nil, err
			}
			waited += wait
			continue
		case resp.StatusCode == http.StatusUnauthorized && !refreshed && h.invalidate != nil:
			// The token may have been revoked or rotated early: one fresh
			// token, one more try.
			_ = readAPIError(resp, r.What)
			h.invalidate()
			refreshed = true
			h.retried.Add(1)
			continue
		case retryableStatus(resp.StatusCode):
			apiErr := readAPIError(resp, r.What)
			if attempt >= h.retries {
				return nil, apiErr.sdkError()
			}
			wait := max(h.delay(attempt), retryAfter(resp.Header, 0))
			if err := h.pause(ctx, r, wait); err != nil {
				return nil, err
			}
			attempt++
			continue
		case resp.StatusCode >= 500 || (resp.StatusCode >= 400 && !r.Pass4xx):
			return nil, readAPIError(resp, r.What).sdkError()
		}
		return resp, nil
	}
}

// send makes one attempt: it takes a concurrency slot (given back when the
// body is closed, or at once on failure) and a token.
func (h *httpClient) send(ctx context.Context, r request, u *url.URL) (*http.Response, error) {
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	release := sync.OnceFunc(func() { <-h.sem })
	tok, err := h.tokens(ctx)
	if err != nil {
		release()
		return nil, err
	}
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u.String(), body)
	if err != nil {
		release()
		return nil, sdk.Errorf(sdk.Permanent, "dataverse: %s: %w", r.What, err)
	}
	for k, v := range r.Header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("OData-MaxVersion", "4.0")
	req.Header.Set("OData-Version", "4.0")
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	h.requests.Add(1)
	resp, err := h.client.Do(req)
	if err != nil {
		release()
		// The client's error names the URL, never the Authorization header.
		return nil, err
	}
	resp.Body = &releasingBody{ReadCloser: resp.Body, release: release}
	return resp, nil
}

// pause waits d, or less when ctx ends first, and counts a retry.
func (h *httpClient) pause(ctx context.Context, r request, d time.Duration) error {
	h.retried.Add(1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("dataverse: %s: %w", r.What, ctx.Err())
	}
}

// delay is the backoff before retry attempt+1: Backoff doubled per
// attempt, with up to a quarter more of jitter so parallel clients spread.
func (h *httpClient) delay(attempt int) time.Duration {
	d := h.backoff << min(attempt, 10)
	return d + time.Duration(rand.Int64N(int64(d)/4+1))
}

func retryableStatus(status int) bool {
	switch status {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryAfter reads Retry-After (seconds, or an HTTP date); def when absent
// or unreadable.
func retryAfter(h http.Header, def time.Duration) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return def
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 {
		return time.Duration(n * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return def
}

type releasingBody struct {
	io.ReadCloser
	release func()
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}

// apiError is a Web API error response: {"error":{"code","message"}}.
type apiError struct {
	What    string
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("dataverse: %s: HTTP %d", e.What, e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// kind says what a caller can do about the error: a throttle or a server
// failure passes; anything else the same request meets again.
func (e *apiError) kind() sdk.ErrorKind {
	switch {
	case e.Status == http.StatusTooManyRequests || retryableStatus(e.Status) || e.Status == http.StatusRequestTimeout:
		return sdk.Retryable
	case isExpiredToken(e):
		return sdk.TokenExpired
	}
	return sdk.Permanent
}

func (e *apiError) sdkError() *sdk.Error {
	return &sdk.Error{Kind: e.kind(), Message: e.Error(), Err: e}
}

// readAPIError reads and closes a failed response.
func readAPIError(resp *http.Response, what string) *apiError {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return parseAPIError(resp.StatusCode, body, what)
}

func parseAPIError(status int, body []byte, what string) *apiError {
	e := &apiError{What: what, Status: status}
	var doc struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &doc) == nil && (doc.Error.Code != "" || doc.Error.Message != "") {
		e.Code, e.Message = doc.Error.Code, firstLine(doc.Error.Message)
	} else if s := strings.TrimSpace(string(body)); s != "" && !strings.HasPrefix(s, "<") {
		e.Message = firstLine(s)
	} else {
		e.Message = http.StatusText(status)
	}
	return e
}

// isExpiredToken recognizes the service's answer to an expired (or
// unknown) delta token. Its status and text are not documented
// (PROTOCOLS.md marks them unverified); this is the one place that guesses:
// a 4xx whose message speaks of an expired or invalid delta token or
// version stamp. Dataverse's documented 7-day expiry reads "… has expired".
func isExpiredToken(e *apiError) bool {
	if e.Status < 400 || e.Status >= 500 || e.Status == http.StatusTooManyRequests {
		return false
	}
	if e.Code == "0x80044352" { // ExpiredVersionStamp
		return true
	}
	m := strings.ToLower(e.Message)
	token := strings.Contains(m, "deltatoken") || strings.Contains(m, "delta token") ||
		strings.Contains(m, "change token") || strings.Contains(m, "version stamp") || strings.Contains(m, "change tracking token")
	return token && (strings.Contains(m, "expired") || strings.Contains(m, "invalid") || strings.Contains(m, "no longer") || strings.Contains(m, "not valid"))
}

// usage reports the counters.
func (h *httpClient) usage() (requests, retries, throttledMs int64) {
	return h.requests.Load(), h.retried.Load(), h.throttledMs.Load()
}

// bodyError wraps a failure to read a response body: the connection
// dropped mid-response, which a new request may get past.
func bodyError(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("dataverse: %s: %w", what, ctx.Err())
	}
	var se *sdk.Error
	if errors.As(err, &se) {
		return err
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) || errors.Is(err, errMalformed) {
		return &sdk.Error{Kind: sdk.Permanent, Message: fmt.Sprintf("dataverse: %s: malformed response: %v", what, err), Err: err}
	}
	return &sdk.Error{Kind: sdk.Retryable, Message: fmt.Sprintf("dataverse: %s: reading the response: %v", what, err), Err: err}
}
