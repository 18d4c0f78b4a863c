package wire

import (
	"fmt"

	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
)

var ops = map[sdk.Op]pb.Op{sdk.OpCreate: pb.Op_CREATE, sdk.OpUpdate: pb.Op_UPDATE, sdk.OpDelete: pb.Op_DELETE}

// OpToPB converts an op; zero (no op) is OP_UNSPECIFIED.
func OpToPB(o sdk.Op) pb.Op { return ops[o] }

// OpFromPB converts an op; an unknown one is zero (invalid), which a
// connector refuses.
func OpFromPB(o pb.Op) sdk.Op {
	for k, v := range ops {
		if v == o {
			return k
		}
	}
	return 0
}

// PushToPB converts a batch of changes.
func PushToPB(r sdk.PushRequest) *pb.PushRequest {
	out := &pb.PushRequest{Changes: make([]*pb.Change, len(r.Changes))}
	for i, c := range r.Changes {
		out.Changes[i] = &pb.Change{
			ChangeId: c.ChangeID, Op: OpToPB(c.Op), Entity: c.Entity, Id: c.ID,
			BaseVersion: c.BaseVersion, Values: ValuesToPB(c.Values),
		}
	}
	return out
}

// PushFromPB converts a batch of changes.
func PushFromPB(r *pb.PushRequest) sdk.PushRequest {
	out := sdk.PushRequest{Changes: make([]sdk.Change, len(r.Changes))}
	for i, c := range r.Changes {
		out.Changes[i] = sdk.Change{
			ChangeID: c.ChangeId, Op: OpFromPB(c.Op), Entity: c.Entity, ID: c.Id,
			BaseVersion: c.BaseVersion, Values: ValuesFromPB(c.Values),
		}
	}
	return out
}

var statuses = map[sdk.Status]pb.Status{sdk.StatusApplied: pb.Status_APPLIED, sdk.StatusConflict: pb.Status_CONFLICT, sdk.StatusFailed: pb.Status_FAILED}

// RecordToPB converts a record; nil stays nil.
func RecordToPB(r *sdk.Record) *pb.Record {
	if r == nil {
		return nil
	}
	return &pb.Record{Id: r.ID, Version: r.Version, Values: ValuesToPB(r.Values)}
}

// RecordFromPB converts a record; nil stays nil.
func RecordFromPB(r *pb.Record) *sdk.Record {
	if r == nil {
		return nil
	}
	return &sdk.Record{ID: r.Id, Version: r.Version, Values: ValuesFromPB(r.Values)}
}

// PushResultToPB converts the answers to a batch.
func PushResultToPB(r *sdk.PushResponse) *pb.PushResponse {
	out := &pb.PushResponse{Results: make([]*pb.ChangeResult, len(r.Results))}
	for i, c := range r.Results {
		pc := &pb.ChangeResult{
			ChangeId: c.ChangeID, Status: statuses[c.Status], Id: c.ID, Version: c.Version,
			Current: RecordToPB(c.Current), ServerDeleted: c.ServerDeleted,
		}
		if c.Err != nil {
			pc.Error = &pb.Error{Kind: string(c.Err.Kind), Message: c.Err.Message}
		}
		out.Results[i] = pc
	}
	return out
}

// PushResultFromPB converts the answers to a batch of want changes and
// checks them: one result per change, each with a known status, and a
// reason for every failure.
func PushResultFromPB(r *pb.PushResponse, want int) (*sdk.PushResponse, error) {
	if len(r.Results) != want {
		return nil, fmt.Errorf("plugin answered %d changes with %d results", want, len(r.Results))
	}
	out := &sdk.PushResponse{Results: make([]sdk.ChangeResult, len(r.Results))}
	for i, c := range r.Results {
		var st sdk.Status
		for k, v := range statuses {
			if v == c.Status {
				st = k
			}
		}
		if st == 0 {
			return nil, fmt.Errorf("plugin answered change %q with unknown status %d", c.ChangeId, c.Status)
		}
		res := sdk.ChangeResult{
			ChangeID: c.ChangeId, Status: st, ID: c.Id, Version: c.Version,
			Current: RecordFromPB(c.Current), ServerDeleted: c.ServerDeleted,
		}
		if c.Error != nil {
			res.Err = &sdk.Error{Kind: ErrorKind(c.Error.Kind), Message: c.Error.Message}
		}
		if st == sdk.StatusFailed && res.Err == nil {
			res.Err = &sdk.Error{Kind: sdk.Permanent, Message: "plugin reported a failure without a reason"}
		}
		out.Results[i] = res
	}
	return out, nil
}
