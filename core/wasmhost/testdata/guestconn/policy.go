package guestconn

import (
	"fmt"

	"github.com/fieldsync/fieldsync/sdk"
)

// Policy settles a conflict field by field: numbers take the larger value,
// everything else the device's; read-only fields keep the server's. A local
// or remote delete lets the server's side win. Entity "panic" and "loop"
// misbehave, for the sandbox tests.
type Policy struct{}

func (Policy) Name() string { return "larger-number" }

func (Policy) Resolve(in sdk.ConflictInput) (sdk.ConflictResolution, error) {
	switch in.Entity.Name {
	case "panic":
		panic("policy bug")
	case "loop":
		for {
			spin++
		}
	case "error":
		return sdk.ConflictResolution{}, sdk.Errorf(sdk.Permanent, "cannot judge %s", in.Entity.Name)
	}
	if in.LocalOp == sdk.OpDelete || in.Remote == nil {
		return sdk.ConflictResolution{Decision: sdk.DecisionTakeRemote, Values: remoteValues(in), Delete: in.Remote == nil, Reason: "a delete: the server's side wins"}, nil
	}
	vals := map[string]sdk.Value{}
	var push []string
	for _, f := range in.Entity.Fields {
		rv, rok := in.Remote.Values[f.Name]
		lv, lok := in.Local[f.Name]
		v := rv
		switch {
		case f.ReadOnly || !lok:
		case rok && (lv.Kind() == sdk.KindInt || lv.Kind() == sdk.KindFloat) && lv.Kind() == rv.Kind():
			if (lv.Kind() == sdk.KindInt && lv.Int() > rv.Int()) || (lv.Kind() == sdk.KindFloat && lv.Float() > rv.Float()) {
				v = lv
			}
		default:
			v = lv
		}
		if rok || lok {
			vals[f.Name] = v
		}
		if !f.ReadOnly && lok && (!rok || !v.Equal(rv)) {
			push = append(push, f.Name)
		}
	}
	r := sdk.ConflictResolution{Decision: sdk.DecisionMerge, Values: vals, Push: push, Reason: fmt.Sprintf("larger numbers and the device's text; sends %d fields", len(push))}
	if len(push) > 0 {
		r.PushOp = sdk.OpUpdate
	}
	return r, nil
}

func remoteValues(in sdk.ConflictInput) map[string]sdk.Value {
	if in.Remote == nil {
		return nil
	}
	return in.Remote.Values
}
