package wasmhost

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/fieldsync/fieldsync/core/conflict"
	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
	"github.com/fieldsync/fieldsync/sdk/wasmabi"
	"github.com/fieldsync/fieldsync/sdk/wire"
)

// Policy is a conflict policy running in a WASM sandbox (a module that
// calls wasmguest.ServePolicy). It implements conflict.Policy, so it
// registers with conflict.Register like any other; Resolve is safe for
// concurrent use (a pool of instances, as for connectors).
type Policy struct {
	p    *plugin
	name string
}

var _ conflict.Policy = (*Policy)(nil)

// OpenPolicy loads the module and asks the policy its name. Config.Settings
// are not used (a policy has no factory); the limits apply as for a
// connector. Close releases it.
func OpenPolicy(ctx context.Context, cfg Config) (*Policy, error) {
	p, err := load(ctx, cfg, nil)
	if err != nil {
		return nil, err
	}
	payload, err := p.do(ctx, wasmabi.MethodPolicyInfo, "policy info", &pb.Empty{}, nil)
	if err != nil {
		p.close(ctx)
		return nil, fmt.Errorf("open policy plugin %s: %w", p.name, err)
	}
	var info pb.PolicyInfo
	if err := proto.Unmarshal(payload, &info); err != nil || info.Name == "" {
		p.close(ctx)
		return nil, fmt.Errorf("open policy plugin %s: it gave no name (%v)", p.name, err)
	}
	return &Policy{p: p, name: info.Name}, nil
}

// Name is the name the policy gave itself.
func (pol *Policy) Name() string { return pol.name }

// Resolve asks the guest. conflict.Policy has no context, so the call is
// bounded by Config.CallTimeout alone. The answer is checked against the
// entity: a policy may not push a field the schema does not list or marks
// read-only, and values of unknown fields are dropped, as the built-in
// policies never produce them.
func (pol *Policy) Resolve(in conflict.Input) (conflict.Resolution, error) {
	if err := conflict.Validate(in); err != nil {
		return conflict.Resolution{}, err
	}
	what := "resolve a conflict on " + in.Entity.Name
	payload, err := pol.p.do(context.Background(), wasmabi.MethodPolicyResolve, what, wire.ConflictInputToPB(sdk.ConflictInput{
		Entity: in.Entity, LocalOp: in.LocalOp, Base: in.Base, Local: in.Local, Changed: in.Changed,
		Remote: in.Remote, LocalModified: in.LocalModified, RemoteModified: in.RemoteModified,
	}), nil)
	if err != nil {
		return conflict.Resolution{}, err
	}
	var msg pb.ConflictResolution
	if err := proto.Unmarshal(payload, &msg); err != nil {
		return conflict.Resolution{}, sdk.Errorf(sdk.Permanent, "policy %s: %s: the answer does not decode: %v", pol.name, what, err)
	}
	r, err := wire.ConflictResolutionFromPB(&msg)
	if err != nil {
		return conflict.Resolution{}, sdk.Errorf(sdk.Permanent, "policy %s: %s: %v", pol.name, what, err)
	}
	return toResolution(pol.name, in.Entity, r)
}

var decisions = map[sdk.ConflictDecision]conflict.Decision{
	sdk.DecisionTakeRemote: conflict.TakeRemote,
	sdk.DecisionTakeLocal:  conflict.TakeLocal,
	sdk.DecisionMerge:      conflict.Merge,
	sdk.DecisionManual:     conflict.Manual,
}

func toResolution(policy string, e *sdk.Entity, r sdk.ConflictResolution) (conflict.Resolution, error) {
	for _, f := range r.Push {
		fd := e.Field(f)
		if fd == nil || fd.ReadOnly {
			return conflict.Resolution{}, sdk.Errorf(sdk.Permanent, "policy %s: pushes field %q of %s, which is not a writable field", policy, f, e.Name)
		}
	}
	for f := range r.Values {
		if e.Field(f) == nil {
			delete(r.Values, f)
		}
	}
	return conflict.Resolution{
		Decision: decisions[r.Decision], Values: r.Values, PushOp: r.PushOp,
		Push: r.Push, Delete: r.Delete, Reason: r.Reason,
	}, nil
}

// Close releases the policy's instances and runtime.
func (pol *Policy) Close(ctx context.Context) error {
	pol.p.close(ctx)
	return nil
}
