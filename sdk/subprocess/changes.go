package subprocess

import (
	"context"
	"fmt"

	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
)

// CheckChanges asks the plugin which entities changed (batch-change-check).
func (c *Client) CheckChanges(ctx context.Context, probes []sdk.ChangeProbe) ([]bool, error) {
	req := &pb.CheckChangesRequest{}
	for _, p := range probes {
		req.Probes = append(req.Probes, &pb.ChangeProbe{Entity: p.Entity, Token: p.Token})
	}
	resp, err := c.rpc.CheckChanges(ctx, req)
	if err != nil {
		return nil, fromStatus(ctx, "check changes", err)
	}
	if len(resp.Changed) != len(probes) {
		return nil, sdk.Errorf(sdk.Permanent, "plugin answered %d change probes, asked %d", len(resp.Changed), len(probes))
	}
	return resp.Changed, nil
}

// Usage asks the plugin what it spent on its backend (usage).
func (c *Client) Usage(ctx context.Context) (sdk.Usage, error) {
	resp, err := c.rpc.Usage(ctx, &pb.Empty{})
	if err != nil {
		return sdk.Usage{}, fromStatus(ctx, "usage", err)
	}
	return sdk.Usage{Requests: resp.Requests, ThrottledMs: resp.ThrottledMs, Retries: resp.Retries, Paths: resp.Paths}, nil
}

func (s *server) CheckChanges(ctx context.Context, req *pb.CheckChangesRequest) (*pb.CheckChangesResponse, error) {
	c, err := s.connector()
	if err != nil {
		return nil, toStatus(err)
	}
	cc, ok := c.(sdk.ChangeChecker)
	if !ok {
		return nil, toStatus(sdk.Errorf(sdk.Unsupported, "the connector has no batch change check"))
	}
	probes := make([]sdk.ChangeProbe, len(req.Probes))
	for i, p := range req.Probes {
		probes[i] = sdk.ChangeProbe{Entity: p.GetEntity(), Token: p.GetToken()}
	}
	changed, err := cc.CheckChanges(ctx, probes)
	if err != nil {
		return nil, toStatus(err)
	}
	if len(changed) != len(probes) {
		return nil, toStatus(fmt.Errorf("the connector answered %d change probes, asked %d", len(changed), len(probes)))
	}
	return &pb.CheckChangesResponse{Changed: changed}, nil
}

func (s *server) Usage(ctx context.Context, _ *pb.Empty) (*pb.UsageResponse, error) {
	c, err := s.connector()
	if err != nil {
		return nil, toStatus(err)
	}
	u, ok := c.(sdk.UsageReporter)
	if !ok {
		return nil, toStatus(sdk.Errorf(sdk.Unsupported, "the connector reports no usage"))
	}
	got, err := u.Usage(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.UsageResponse{Requests: got.Requests, ThrottledMs: got.ThrottledMs, Retries: got.Retries, Paths: got.Paths}, nil
}
