package wire

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
)

// Kinds an ErrorDetail may carry besides the sdk's: a call that ended
// because its context did. They travel as kinds so that errors.Is(err,
// context.Canceled) holds on the far side, as the contract requires.
const (
	KindCanceled         = "canceled"
	KindDeadlineExceeded = "deadline-exceeded"
)

// maxRetryAfter bounds a wait a plugin asks for, so a bad value cannot stall
// a sync for days.
const maxRetryAfter = time.Hour

// ErrorKind maps a kind name from the wire to a known kind; an unknown name
// (from a newer plugin) counts as permanent so nothing retries forever.
func ErrorKind(s string) sdk.ErrorKind {
	switch k := sdk.ErrorKind(s); k {
	case sdk.Retryable, sdk.Permanent, sdk.TokenExpired, sdk.Unsupported:
		return k
	}
	return sdk.Permanent
}

// ErrorToPB describes err for the other side: its sdk kind (an error of no
// kind counts as permanent), its message, and how long to wait before a
// retry. Context errors keep their identity as KindCanceled and
// KindDeadlineExceeded. nil stays nil.
func ErrorToPB(err error) *pb.ErrorDetail {
	if err == nil {
		return nil
	}
	d := &pb.ErrorDetail{Message: err.Error()}
	switch {
	case errors.Is(err, context.Canceled):
		d.Kind = KindCanceled
	case errors.Is(err, context.DeadlineExceeded):
		d.Kind = KindDeadlineExceeded
	default:
		d.Kind = string(sdk.KindOf(err))
		var se *sdk.Error
		if errors.As(err, &se) && se.RetryAfter > 0 {
			d.RetryAfterMillis = se.RetryAfter.Milliseconds()
		}
	}
	return d
}

// ErrorFromPB rebuilds the error ErrorToPB described: an *sdk.Error with its
// kind and retry delay, or an error wrapping context.Canceled or
// context.DeadlineExceeded. nil stays nil.
func ErrorFromPB(d *pb.ErrorDetail) error {
	if d == nil {
		return nil
	}
	switch d.Kind {
	case KindCanceled:
		return fmt.Errorf("%s: %w", d.Message, context.Canceled)
	case KindDeadlineExceeded:
		return fmt.Errorf("%s: %w", d.Message, context.DeadlineExceeded)
	}
	out := &sdk.Error{Kind: ErrorKind(d.Kind), Message: d.Message}
	if d.RetryAfterMillis > 0 {
		out.RetryAfter = min(time.Duration(d.RetryAfterMillis)*time.Millisecond, maxRetryAfter)
	}
	return out
}
