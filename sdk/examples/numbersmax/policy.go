// Package numbersmax is an example conflict policy shipped as a WASM module
// (see ./wasm): for a record both sides changed, numeric fields take the
// larger value, text fields take the device's, and a status field follows a
// precedence list (a won deal stays won). Everything else follows the
// server. It shows a policy author what the sdk asks of them; the engine
// selects it per entity by the name a config's policy block gives it.
package numbersmax

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fieldsync/fieldsync/sdk"
)

// Policy is the numbers-max policy.
type Policy struct {
	// StatusField names the choice field that follows Precedence; empty for none.
	StatusField string
	// Precedence lists the status field's choice labels, strongest first:
	// the side whose label comes first wins.
	Precedence []string
}

var _ sdk.ConflictPolicy = Policy{}

// Name is how configuration refers to the policy by default.
func (Policy) Name() string { return "numbers-max" }

// Resolve merges the two rows field by field (see the package doc). A row
// deleted on either side follows the server: a server delete stays, a
// device delete of a row the server still has is undone.
func (p Policy) Resolve(in sdk.ConflictInput) (sdk.ConflictResolution, error) {
	if in.Entity == nil {
		return sdk.ConflictResolution{}, fmt.Errorf("numbers-max: no entity")
	}
	if in.Remote == nil {
		return sdk.ConflictResolution{Decision: sdk.DecisionTakeRemote, Delete: true, Reason: "numbers-max: the server deleted the row"}, nil
	}
	if in.Local == nil || in.LocalOp == sdk.OpDelete {
		return sdk.ConflictResolution{Decision: sdk.DecisionTakeRemote, Values: clone(in.Remote.Values),
			Reason: "numbers-max: the server changed a row the device deleted; the server's row stays"}, nil
	}
	out := sdk.ConflictResolution{Decision: sdk.DecisionMerge, Values: map[string]sdk.Value{}}
	var notes []string
	for _, f := range in.Entity.Fields {
		remote, hasRemote := in.Remote.Values[f.Name]
		local, hasLocal := in.Local[f.Name]
		v := remote
		switch {
		case !hasLocal || f.ReadOnly:
		case !hasRemote:
			v = local
		case f.Name == p.StatusField && f.Type == sdk.TypeChoice:
			v = p.stronger(f, local, remote)
		case f.Type == sdk.TypeInt || f.Type == sdk.TypeFloat || f.Type == sdk.TypeDecimal:
			v = larger(f.Type, local, remote)
		case f.Type == sdk.TypeString:
			v = local
		}
		if !hasRemote && !hasLocal {
			continue
		}
		out.Values[f.Name] = v
		if !v.Equal(remote) {
			out.Push = append(out.Push, f.Name)
			notes = append(notes, f.Name)
		}
	}
	if len(out.Push) > 0 {
		out.PushOp = sdk.OpUpdate
		out.Reason = "numbers-max: kept the device's " + strings.Join(notes, ", ")
	} else {
		out.Reason = "numbers-max: the server's row already holds the larger numbers and winning status"
	}
	return out, nil
}

// larger returns the larger number; a null or unreadable side loses.
func larger(t sdk.FieldType, a, b sdk.Value) sdk.Value {
	x, okA := number(t, a)
	y, okB := number(t, b)
	switch {
	case okA && (!okB || x > y):
		return a
	case okB:
		return b
	}
	return a
}

func number(t sdk.FieldType, v sdk.Value) (float64, bool) {
	switch {
	case v.IsNull():
		return 0, false
	case t == sdk.TypeInt && v.Kind() == sdk.KindInt:
		return float64(v.Int()), true
	case t == sdk.TypeFloat && v.Kind() == sdk.KindFloat:
		return v.Float(), true
	case t == sdk.TypeDecimal && v.Kind() == sdk.KindString:
		f, err := strconv.ParseFloat(strings.TrimSpace(v.Str()), 64)
		return f, err == nil
	}
	return 0, false
}

// stronger returns the value whose label comes first in Precedence; a label
// not in the list is weakest, and a tie keeps the server's.
func (p Policy) stronger(f sdk.Field, local, remote sdk.Value) sdk.Value {
	if p.rank(f, local) < p.rank(f, remote) {
		return local
	}
	return remote
}

func (p Policy) rank(f sdk.Field, v sdk.Value) int {
	if v.Kind() != sdk.KindInt {
		return len(p.Precedence) + 1
	}
	for _, c := range f.Choices {
		if c.Value == v.Int() {
			if i := slices.Index(p.Precedence, c.Label); i >= 0 {
				return i
			}
		}
	}
	return len(p.Precedence)
}

func clone(m map[string]sdk.Value) map[string]sdk.Value {
	out := make(map[string]sdk.Value, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
