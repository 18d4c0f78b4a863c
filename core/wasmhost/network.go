package wasmhost

import (
	"context"
	"io"
	"net/http"

	"github.com/fieldsync/fieldsync/core/wasmhost/netpolicy"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
)

// NetworkHook makes pol the plugin's network: every request the guest asks
// for goes through pol's checks (allow-list on every hop, checked addresses,
// caps) with its credentials added by the host. A refusal reaches the guest
// as the response's error text; pol logs it with the plugin's name.
func NetworkHook(pol *netpolicy.Policy) func(context.Context, *pb.HttpRequest) *pb.HttpResponse {
	return func(ctx context.Context, req *pb.HttpRequest) *pb.HttpResponse {
		status, rh, body, err := pol.Do(ctx, req.Method, req.Url, requestHeader(req), req.Body)
		if err != nil {
			return &pb.HttpResponse{Error: err.Error()}
		}
		return response(status, rh, body)
	}
}

// NetworkStreamHook is NetworkHook for Config.HTTPStream: the same policy,
// but the body streams to the guest as it reads it (pol.Open), still capped
// at the policy's MaxResponse and within its Timeout. Set both hooks from
// the same policy.
func NetworkStreamHook(pol *netpolicy.Policy) func(context.Context, *pb.HttpRequest) (*pb.HttpResponse, io.ReadCloser) {
	return func(ctx context.Context, req *pb.HttpRequest) (*pb.HttpResponse, io.ReadCloser) {
		status, rh, body, err := pol.Open(ctx, req.Method, req.Url, requestHeader(req), req.Body)
		if err != nil {
			return &pb.HttpResponse{Error: err.Error()}, nil
		}
		return response(status, rh, nil), body
	}
}

func requestHeader(req *pb.HttpRequest) http.Header {
	h := http.Header{}
	for _, hd := range req.Headers {
		h[http.CanonicalHeaderKey(hd.Name)] = hd.Values
	}
	return h
}

func response(status int, h http.Header, body []byte) *pb.HttpResponse {
	out := &pb.HttpResponse{Status: int32(status), Body: body}
	for k, v := range h {
		out.Headers = append(out.Headers, &pb.Header{Name: k, Values: v})
	}
	return out
}
