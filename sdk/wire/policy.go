package wire

import (
	"fmt"

	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
)

// A values map may be nil (unknown) or empty (known, no fields) in a
// conflict, and protobuf cannot tell the two apart: has_base and has_local
// carry the difference.

// ConflictInputToPB converts one conflict for a policy plugin.
func ConflictInputToPB(in sdk.ConflictInput) *pb.ConflictInput {
	return &pb.ConflictInput{
		Entity:                  EntityToPB(in.Entity),
		LocalOp:                 OpToPB(in.LocalOp),
		Base:                    ValuesToPB(in.Base),
		HasBase:                 in.Base != nil,
		Local:                   ValuesToPB(in.Local),
		HasLocal:                in.Local != nil,
		Changed:                 in.Changed,
		Remote:                  RecordToPB(in.Remote),
		LocalModifiedUnixMicro:  unixMicro(in.LocalModified),
		RemoteModifiedUnixMicro: unixMicro(in.RemoteModified),
	}
}

// ConflictInputFromPB is ConflictInputToPB's inverse. Whether the input
// makes sense is the policy's to check.
func ConflictInputFromPB(p *pb.ConflictInput) sdk.ConflictInput {
	return sdk.ConflictInput{
		Entity:         EntityFromPB(p.Entity),
		LocalOp:        OpFromPB(p.LocalOp),
		Base:           knownValues(p.Base, p.HasBase),
		Local:          knownValues(p.Local, p.HasLocal),
		Changed:        p.Changed,
		Remote:         RecordFromPB(p.Remote),
		LocalModified:  timeFromMicro(p.LocalModifiedUnixMicro),
		RemoteModified: timeFromMicro(p.RemoteModifiedUnixMicro),
	}
}

func knownValues(m map[string]*pb.Value, known bool) map[string]sdk.Value {
	if !known {
		return nil
	}
	if m == nil {
		return map[string]sdk.Value{}
	}
	return ValuesFromPB(m)
}

// ConflictResolutionToPB converts a policy's decision.
func ConflictResolutionToPB(r sdk.ConflictResolution) *pb.ConflictResolution {
	return &pb.ConflictResolution{
		Decision: string(r.Decision),
		Values:   ValuesToPB(r.Values),
		PushOp:   OpToPB(r.PushOp),
		Push:     r.Push,
		Delete:   r.Delete,
		Reason:   r.Reason,
	}
}

// ConflictResolutionFromPB converts a policy plugin's decision, refusing an
// unknown decision or op. Values is nil for a delete and a manual decision,
// and never nil otherwise (protobuf sends an empty map as nothing).
func ConflictResolutionFromPB(p *pb.ConflictResolution) (sdk.ConflictResolution, error) {
	r := sdk.ConflictResolution{
		Decision: sdk.ConflictDecision(p.Decision),
		Values:   ValuesFromPB(p.Values),
		Push:     p.Push,
		Delete:   p.Delete,
		Reason:   p.Reason,
	}
	switch r.Decision {
	case sdk.DecisionTakeRemote, sdk.DecisionTakeLocal, sdk.DecisionMerge, sdk.DecisionManual:
	default:
		return sdk.ConflictResolution{}, fmt.Errorf("policy answered an unknown decision %q", p.Decision)
	}
	if p.PushOp != pb.Op_OP_UNSPECIFIED {
		if r.PushOp = OpFromPB(p.PushOp); r.PushOp == 0 {
			return sdk.ConflictResolution{}, fmt.Errorf("policy answered an unknown push op %d", p.PushOp)
		}
	}
	if r.Values == nil && !r.Delete && r.Decision != sdk.DecisionManual {
		r.Values = map[string]sdk.Value{}
	}
	return r, nil
}
