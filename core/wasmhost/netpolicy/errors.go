package netpolicy

import (
	"errors"
	"fmt"
	"strings"
)

// Kinds of refusal, for errors.Is on an error from Do. The host function
// can map them to error codes for the guest; the sentence for a person is in
// the error's text.
var (
	// ErrNotAllowed: the scheme, host or port (of the request or of a
	// redirect) is not on the plugin's allow-list.
	ErrNotAllowed = errors.New("not on the allow-list")
	// ErrPrivateAddress: the host is, or resolves to, a loopback, private,
	// link-local or other non-public address and AllowPrivate is off (or it
	// is multicast or broadcast, which is never allowed).
	ErrPrivateAddress = errors.New("non-public address")
	// ErrInvalidRequest: the plugin's request is malformed or not allowed in
	// form (bad URL, user:password@ in the URL, bad method).
	ErrInvalidRequest = errors.New("invalid request")
	// ErrTooManyRedirects: the redirect chain is longer than MaxRedirects.
	ErrTooManyRedirects = errors.New("too many redirects")
	// ErrResponseTooLarge: the body is larger than MaxResponse.
	ErrResponseTooLarge = errors.New("response too large")
	// ErrTimeout: the exchange took longer than Timeout.
	ErrTimeout = errors.New("timed out")
)

// Error is the error Do returns. Its text is a sentence naming the plugin,
// the request and why, e.g.
//
//	plugin "crm": GET https://evil.example.com:443/x refused: host evil.example.com is not on the allow-list
//
// It never contains the URL's query, user information or fragment, nor any
// injected credential.
type Error struct {
	// Plugin is the policy's plugin name.
	Plugin string
	// Method and URL are the plugin's request; URL is redacted to
	// scheme://host:port/path.
	Method, URL string
	// Redirect is the redacted target of the redirect that was refused or
	// failed, if any.
	Redirect string
	// Reason says what happened, without the plugin and URL.
	Reason string

	kind  error // one of the Err* kinds, nil for a plain network failure
	cause error // underlying error, if any
}

func (e *Error) Error() string {
	return fmt.Sprintf("plugin %q: %s %s %s: %s", e.Plugin, e.Method, e.URL, e.verb(), e.Reason)
}

// Unwrap exposes the kind (ErrNotAllowed, …) and the underlying error, so
// errors.Is works for both ErrTimeout and, say, context.Canceled.
func (e *Error) Unwrap() []error {
	var out []error
	for _, err := range []error{e.kind, e.cause} {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// Refused reports whether the policy stopped the request (as opposed to the
// network or the server failing it). Refusals are logged at Warn.
func (e *Error) Refused() bool { return e.kind != nil }

func (e *Error) verb() string {
	switch e.kind {
	case nil:
		return "failed"
	case ErrTimeout, ErrResponseTooLarge, ErrTooManyRedirects:
		return "stopped"
	}
	return "refused"
}

// formatBytes writes a size the way an admin configured it: 16 MiB, 1 KiB,
// 1000 bytes.
func formatBytes(n int64) string {
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// redactRaw shortens a URL that did not parse to something safe to log: no
// query, no fragment, no user information.
func redactRaw(raw string) string {
	s := raw
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	start := 0
	if i := strings.Index(s, "://"); i >= 0 {
		start = i + 3
	}
	auth := s[start:]
	if j := strings.Index(auth, "/"); j >= 0 {
		auth = auth[:j]
	}
	if j := strings.LastIndex(auth, "@"); j >= 0 {
		s = s[:start] + s[start+j+1:]
	}
	const max = 200
	if len(s) > max {
		s = s[:max] + "…"
	}
	return fmt.Sprintf("%q", s)
}
