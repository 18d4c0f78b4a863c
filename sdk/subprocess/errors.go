package subprocess

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
	"github.com/fieldsync/fieldsync/sdk/wire"
)

// Errors cross the process boundary as gRPC statuses whose details carry an
// ErrorDetail with the sdk kind, so errors.Is(err, sdk.ErrTokenExpired) and
// sdk.IsRetryable work on the host exactly as in-process. Context errors map
// to the matching gRPC codes and back to context.Canceled and
// context.DeadlineExceeded.

var kindCodes = map[sdk.ErrorKind]codes.Code{
	sdk.Retryable:    codes.Unavailable,
	sdk.Permanent:    codes.InvalidArgument,
	sdk.TokenExpired: codes.FailedPrecondition,
	sdk.Unsupported:  codes.Unimplemented,
}

// toStatus turns a connector's error into a gRPC status error.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	kind := sdk.KindOf(err)
	st := status.New(kindCodes[kind], err.Error())
	detail := &pb.ErrorDetail{Kind: string(kind), Message: err.Error()}
	var se *sdk.Error
	if errors.As(err, &se) && se.RetryAfter > 0 {
		if withRetry, e := st.WithDetails(detail, durationpb.New(se.RetryAfter)); e == nil {
			return withRetry.Err()
		}
	}
	if withDetail, e := st.WithDetails(detail); e == nil {
		st = withDetail
	}
	return st.Err()
}

// fromStatus turns an error from a gRPC call into the sdk's typed errors.
// ctx is the caller's context: when it was cancelled, its error wins.
func fromStatus(ctx context.Context, call string, err error) error {
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("plugin %s: %w", call, ctxErr)
	}
	st, ok := status.FromError(err)
	if !ok {
		return &sdk.Error{Kind: sdk.Retryable, Message: fmt.Sprintf("plugin %s: %v", call, err), Err: err}
	}
	switch st.Code() {
	case codes.Canceled:
		return fmt.Errorf("plugin %s: %s: %w", call, st.Message(), context.Canceled)
	case codes.DeadlineExceeded:
		return fmt.Errorf("plugin %s: %s: %w", call, st.Message(), context.DeadlineExceeded)
	}
	out := &sdk.Error{Message: st.Message()}
	found := false
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *pb.ErrorDetail:
			out.Kind = wire.ErrorKind(d.Kind)
			out.Message = d.Message
			found = true
		case *durationpb.Duration:
			if d.IsValid() {
				out.RetryAfter = min(d.AsDuration(), time.Hour)
			}
		}
	}
	if !found {
		// No detail: the status came from gRPC itself, not the connector.
		switch st.Code() {
		case codes.Unavailable, codes.ResourceExhausted, codes.Aborted:
			// The plugin process died or the connection broke.
			out.Kind = sdk.Retryable
		case codes.Unimplemented:
			out.Kind = sdk.Unsupported
		default:
			out.Kind = sdk.Permanent
		}
		out.Message = fmt.Sprintf("plugin %s: %s", call, st.Message())
	}
	return out
}
