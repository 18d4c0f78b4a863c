package salesforce

import (
	"bytes"
	"context"
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
	"github.com/simpleforce/simpleforce"

	"github.com/fieldsync/fieldsync/sdk"
)

// This file is the only one that touches simpleforce. What we use of it,
// and what we wrap or bypass (PROTOCOLS.md, "Salesforce REST", lists the
// defects; TestSimpleforceDefect… shows each one in simpleforce itself):
//
//   - Query: used for the small metadata-only reads (document listings).
//     It decodes a page into map[string]interface{} rows, turning every
//     number into a float64 (digits beyond 2^53 and decimal scale are
//     lost) and costing a map per row; record pages therefore go through
//     ApexREST and our own decoder (rows.go), which keeps numbers as their
//     text. Whole-page decoding is fine: a page is at most 2000 rows.
//   - ApexREST: any other path, composite included (simpleforce has no
//     composite call). It reads the whole body and sends only JSON, so
//     document bytes bypass it both ways: openStream reads a file,
//     sendStream uploads one as multipart/form-data.
//   - No context.Context anywhere: every call gets its own *http.Client
//     whose RoundTripper (callTransport) carries the context, adds headers
//     simpleforce cannot (Sforce-Query-Options, If-Unmodified-Since,
//     Accept), and captures the status and headers (Sforce-Limit-Info) of
//     the response. A fresh simpleforce.Client per call also makes the
//     connector safe for concurrent use: SetHttpClient mutates the client.
//   - Failed responses: simpleforce's ParseSalesforceError indexes [0] of
//     an error array and panics on "[]"; the transport therefore takes any
//     non-2xx response itself, keeps its body, and hands simpleforce a
//     transport error instead, so its parser never runs.
//   - Get/Create/Update/Upsert return nil on failure and log the reason
//     instead of returning it; Delete builds its URL from the object's own
//     Id and ignores the id argument. None of them is used: writes go
//     through composite.
//   - It logs with the standard library's log package (request URLs,
//     failed bodies; LoginPassword, never used, even user names). Factory
//     routes that output to the host's logger (routeStandardLog), and this
//     file never lets simpleforce see a failed body, so nothing it could
//     log holds a secret: the session id travels only in the Authorization
//     header, which it does not log.
//   - LoginPassword is SOAP (ends with API 65.0): never used; auth.go signs
//     in with OAuth and the session goes in with SetSidLoc.

// maxErrorBody bounds how much of a failed response is kept.
const maxErrorBody = 64 << 10

// forceClient makes REST calls for the connector: sign-in, retries,
// throttling, limits, error mapping and usage counting around simpleforce.
type forceClient struct {
	auth       *authenticator
	client     func() *http.Client
	apiVersion string
	retries    int
	backoff    time.Duration
	log        hclog.Logger

	requests atomic.Int64
	retried  atomic.Int64

	limitMu           sync.Mutex
	apiUsed, apiLimit int64 // last Sforce-Limit-Info api-usage seen
	limitWarned       bool
}

// call is one REST request. Path is relative to the instance URL, without
// a leading slash ("services/data/v60.0/sobjects").
type call struct {
	Method string
	Path   string
	Body   []byte
	Header http.Header
	What   string // names the call in errors: "fetch Account page 3"
}

// response is a successful (2xx) answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// captured is what callTransport saw of the last response.
type captured struct {
	status int
	header http.Header
	body   []byte // non-2xx only
}

// errStatus is what callTransport hands simpleforce for a non-2xx answer.
var errStatus = errors.New("salesforce: non-2xx status taken by the transport")

// callTransport is the per-call RoundTripper: ctx, extra headers, capture.
type callTransport struct {
	ctx    context.Context
	base   http.RoundTripper
	header http.Header
	cap    *captured
}

func (t *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(t.ctx)
	for k, v := range t.header {
		r.Header[k] = v
	}
	if r.Header.Get("Accept") == "" {
		r.Header.Set("Accept", "application/json")
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	t.cap.status, t.cap.header = resp.StatusCode, resp.Header
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		t.cap.body, _ = io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		_ = resp.Body.Close()
		return nil, errStatus
	}
	return resp, nil
}

// transportOf returns the RoundTripper under the host's client.
func transportOf(c *http.Client) http.RoundTripper {
	if c != nil && c.Transport != nil {
		return c.Transport
	}
	return http.DefaultTransport
}

// session builds a simpleforce client for one attempt of one call.
func (f *forceClient) simple(ctx context.Context, s *session, c call, cap *captured) *simpleforce.Client {
	base := f.client()
	hc := &http.Client{Transport: &callTransport{ctx: ctx, base: transportOf(base), header: c.Header, cap: cap}}
	if base != nil {
		hc.Timeout, hc.CheckRedirect = base.Timeout, base.CheckRedirect
	}
	sf := simpleforce.NewClient(s.instanceURL, simpleforce.DefaultClientID, f.apiVersion)
	sf.SetSidLoc(s.accessToken, s.instanceURL)
	sf.SetHttpClient(hc)
	return sf
}

// rest sends c through simpleforce's ApexREST.
func (f *forceClient) rest(ctx context.Context, c call) (*response, error) {
	return f.do(ctx, c, func(s *session, cap *captured) ([]byte, error) {
		var body io.Reader
		if c.Body != nil {
			body = bytes.NewReader(c.Body)
		}
		return f.simple(ctx, s, c, cap).ApexREST(c.Method, c.Path, body)
	})
}

// query runs a SOQL text, or follows a nextRecordsUrl, through simpleforce's
// Query, for reads whose numbers may go through float64.
func (f *forceClient) query(ctx context.Context, soqlOrNext string, header http.Header, what string) (*simpleforce.QueryResult, error) {
	var out *simpleforce.QueryResult
	_, err := f.do(ctx, call{Method: http.MethodGet, Header: header, What: what}, func(s *session, cap *captured) ([]byte, error) {
		r, err := f.simple(ctx, s, call{Header: header}, cap).Query(soqlOrNext)
		out = r
		return nil, err
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, sdk.Errorf(sdk.Permanent, "salesforce: %s: empty query answer", what)
	}
	return out, nil
}

// openStream sends a GET without simpleforce (whose ApexREST reads the
// whole body into memory) and returns the open body of a 2xx answer, for
// document bytes. Same sign-in renewal and retries as do, up to the
// response's headers; the caller closes the body.
func (f *forceClient) openStream(ctx context.Context, c call) (io.ReadCloser, http.Header, error) {
	var body io.ReadCloser
	resp, err := f.do(ctx, c, func(s *session, cap *captured) ([]byte, error) {
		base := f.client()
		hc := &http.Client{Transport: &callTransport{ctx: ctx, base: transportOf(base), header: c.Header, cap: cap}}
		if base != nil {
			hc.CheckRedirect = base.CheckRedirect
		}
		req, err := http.NewRequestWithContext(ctx, c.Method, s.instanceURL+"/"+c.Path, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+s.accessToken)
		r, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		body = r.Body
		return nil, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return body, resp.Header, nil
}

// sendStream sends a request whose body streams from body (length bytes;
// -1: unknown, sent chunked) without simpleforce, for document uploads,
// and returns the 2xx answer (a small JSON, read up to maxErrorBody). A
// streamed body cannot be replayed, so there is one attempt: a refused
// session is invalidated and, like a dropped connection or a 5xx, the
// call fails Retryable for the caller to try again with a fresh reader.
func (f *forceClient) sendStream(ctx context.Context, c call, body io.Reader, length int64) (*response, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("salesforce: %s: %w", c.What, err)
	}
	s, err := f.auth.session(ctx)
	if err != nil {
		return nil, err
	}
	cap := &captured{}
	f.requests.Add(1)
	base := f.client()
	hc := &http.Client{Transport: &callTransport{ctx: ctx, base: transportOf(base), header: c.Header, cap: cap}}
	if base != nil {
		hc.CheckRedirect = base.CheckRedirect
	}
	req, err := http.NewRequestWithContext(ctx, c.Method, s.instanceURL+"/"+c.Path, body)
	if err != nil {
		return nil, sdk.Errorf(sdk.Permanent, "salesforce: %s: %v", c.What, err)
	}
	req.ContentLength = max(length, -1)
	req.Header.Set("Authorization", "Bearer "+s.accessToken)
	resp, err := hc.Do(req)
	if ctx.Err() != nil {
		if err == nil {
			_ = resp.Body.Close()
		}
		return nil, fmt.Errorf("salesforce: %s: %w", c.What, ctx.Err())
	}
	if cap.header != nil {
		f.noteLimits(cap.header)
	}
	if err == nil {
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		if err != nil {
			return nil, &sdk.Error{Kind: sdk.Retryable, Message: fmt.Sprintf("salesforce: %s: reading the answer: %v", c.What, err), Err: err}
		}
		return &response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
	}
	if cap.status == 0 || (cap.status >= 200 && cap.status <= 299) {
		err = unwrapURLError(err)
		return nil, &sdk.Error{Kind: sdk.Retryable, Message: fmt.Sprintf("salesforce: %s: %v", c.What, err), Err: err}
	}
	ae := parseAPIError(cap.status, cap.body, c.What)
	if cap.status == http.StatusUnauthorized {
		f.log.Debug("session refused during an upload; signing in again on the next call", "call", c.What, "code", ae.Code)
		f.auth.invalidate(s)
		return nil, &sdk.Error{Kind: sdk.Retryable, Message: ae.Error() + " (the session was renewed; send again)", Err: ae}
	}
	return nil, ae.sdkError()
}

// do runs invoke with retries: a 401 signs in again once; 5xx, 429 and
// dropped connections are retried with backoff; REQUEST_LIMIT_EXCEEDED
// stops at once (see apiError.sdkError).
func (f *forceClient) do(ctx context.Context, c call, invoke func(*session, *captured) ([]byte, error)) (*response, error) {
	renewed := false
	for attempt := 0; ; {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("salesforce: %s: %w", c.What, err)
		}
		s, err := f.auth.session(ctx)
		if err != nil {
			return nil, err
		}
		cap := &captured{}
		f.requests.Add(1)
		data, err := invoke(s, cap)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("salesforce: %s: %w", c.What, ctx.Err())
		}
		if cap.header != nil {
			f.noteLimits(cap.header)
		}
		var retryErr error
		switch {
		case err == nil && cap.status >= 200 && cap.status <= 299:
			return &response{Status: cap.status, Header: cap.header, Body: data}, nil
		case cap.status == 0 || (cap.status >= 200 && cap.status <= 299):
			// No answer (dropped connection, refused) or a 2xx body that
			// broke off or did not decode: worth another try.
			if err == nil {
				err = errors.New("no response")
			}
			retryErr = errors.New(strings.TrimPrefix(unwrapURLError(err).Error(), "[simpleforce] "))
		default:
			ae := parseAPIError(cap.status, cap.body, c.What)
			switch {
			case cap.status == http.StatusUnauthorized && !renewed:
				f.log.Debug("session refused; signing in again", "call", c.What, "code", ae.Code)
				f.auth.invalidate(s)
				renewed = true
				continue
			case ae.retryable():
				retryErr = ae
			default:
				return nil, ae.sdkError()
			}
		}
		if attempt >= f.retries {
			var ae *apiError
			if errors.As(retryErr, &ae) {
				return nil, ae.sdkError()
			}
			return nil, &sdk.Error{Kind: sdk.Retryable, Message: fmt.Sprintf("salesforce: %s: %v", c.What, retryErr), Err: retryErr}
		}
		wait := f.delay(attempt)
		if cap.header != nil {
			wait = max(wait, retryAfter(cap.header))
		}
		f.log.Debug("retrying", "call", c.What, "attempt", attempt+1, "wait", wait, "error", retryErr)
		f.retried.Add(1)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("salesforce: %s: %w", c.What, ctx.Err())
		}
		attempt++
	}
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// delay is the backoff before retry attempt+1, doubled each time, with up
// to a quarter more of jitter.
func (f *forceClient) delay(attempt int) time.Duration {
	d := f.backoff << min(attempt, 10)
	return d + time.Duration(rand.Int64N(int64(d)/4+1))
}

// retryAfter reads Retry-After in seconds (0 when absent).
func retryAfter(h http.Header) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After"))); err == nil && n > 0 && n < 3600 {
		return time.Duration(n) * time.Second
	}
	return 0
}

// noteLimits reads Sforce-Limit-Info ("api-usage=18/5000") and warns once
// when the org has used nine tenths of its daily API requests.
func (f *forceClient) noteLimits(h http.Header) {
	used, limit, ok := parseLimitInfo(h.Get("Sforce-Limit-Info"))
	if !ok {
		return
	}
	f.limitMu.Lock()
	f.apiUsed, f.apiLimit = used, limit
	warn := !f.limitWarned && limit > 0 && used*10 >= limit*9
	if warn {
		f.limitWarned = true
	}
	f.limitMu.Unlock()
	if warn {
		f.log.Warn("the org has used most of its daily API requests", "used", used, "limit", limit)
	}
}

// apiUsage returns the last api-usage seen (0, 0 before any).
func (f *forceClient) apiUsage() (used, limit int64) {
	f.limitMu.Lock()
	defer f.limitMu.Unlock()
	return f.apiUsed, f.apiLimit
}

// parseLimitInfo reads "api-usage=18/5000" out of a Sforce-Limit-Info
// value that may list other limits too ("api-usage=18/5000,
// per-app-api-usage=17/250(appName=sample)").
func parseLimitInfo(v string) (used, limit int64, ok bool) {
	for _, part := range strings.Split(v, ",") {
		name, val, found := strings.Cut(strings.TrimSpace(part), "=")
		if !found || name != "api-usage" {
			continue
		}
		u, l, found := strings.Cut(val, "/")
		if !found {
			return 0, 0, false
		}
		un, err1 := strconv.ParseInt(strings.TrimSpace(u), 10, 64)
		ln, err2 := strconv.ParseInt(strings.TrimSpace(l), 10, 64)
		if err1 != nil || err2 != nil || un < 0 || ln < 0 {
			return 0, 0, false
		}
		return un, ln, true
	}
	return 0, 0, false
}

// dataPath is the REST path of a data resource: services/data/vXX.X/{rest}.
func (f *forceClient) dataPath(rest string) string {
	return "services/data/v" + f.apiVersion + "/" + rest
}
