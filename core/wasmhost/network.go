package wasmhost

import (
	"context"
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
		h := http.Header{}
		for _, hd := range req.Headers {
			h[http.CanonicalHeaderKey(hd.Name)] = hd.Values
		}
		status, rh, body, err := pol.Do(ctx, req.Method, req.Url, h, req.Body)
		if err != nil {
			return &pb.HttpResponse{Error: err.Error()}
		}
		out := &pb.HttpResponse{Status: int32(status), Body: body}
		for k, v := range rh {
			out.Headers = append(out.Headers, &pb.Header{Name: k, Values: v})
		}
		return out
	}
}
