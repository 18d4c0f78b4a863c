package sdk

import (
	"errors"
	"fmt"
	"time"
)

// ErrorKind tells a caller what to do about an error.
type ErrorKind string

const (
	// Retryable: try again later (throttled, server busy, network dropped).
	Retryable ErrorKind = "retryable"
	// Permanent: the same request will fail again (bad input, no access).
	Permanent ErrorKind = "permanent"
	// TokenExpired: the change token is too old; the core resyncs the entity
	// with a full fetch.
	TokenExpired ErrorKind = "token-expired"
	// Unsupported: the connector does not offer the call or capability.
	Unsupported ErrorKind = "unsupported"
)

// Error is the typed error of the contract. Connectors return it (or wrap
// it) wherever the caller must decide between retrying and giving up; it
// survives every transport with its kind intact.
type Error struct {
	Kind       ErrorKind
	Message    string
	RetryAfter time.Duration // Retryable: how long the server asked us to wait, if it said
	Err        error         // underlying cause, not sent across transports
}

func (e *Error) Error() string {
	if e.Message == "" {
		return string(e.Kind)
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, sdk.ErrTokenExpired) match any Error of that kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Kind == e.Kind
}

// Sentinels for errors.Is.
var (
	ErrRetryable    = &Error{Kind: Retryable}
	ErrPermanent    = &Error{Kind: Permanent}
	ErrTokenExpired = &Error{Kind: TokenExpired}
	ErrUnsupported  = &Error{Kind: Unsupported}
)

// Errorf returns an *Error of the given kind.
func Errorf(kind ErrorKind, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Kind: kind, Message: err.Error(), Err: errors.Unwrap(err)}
}

// KindOf returns the kind of the first *Error in err's chain. An error of no
// known kind counts as Permanent, so nothing retries a bug forever.
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Permanent
}

// IsRetryable reports whether err is worth retrying.
func IsRetryable(err error) bool { return err != nil && KindOf(err) == Retryable }
