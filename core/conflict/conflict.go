// Package conflict decides what becomes of one record that both the device
// and the server changed: take the server's row, take the device's, a
// field-level merge of the two, or park it for a person. It owns the built-in
// policies and the registry that names them; it is pure logic and must not
// touch the local store, the outbox or a connector — the engine applies a
// Resolution, this package only computes it.
package conflict

import (
	"errors"
	"fmt"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

// Input is one conflicting record. The engine builds it in two places: when
// the server answers a push with a conflict (Remote is the ChangeResult's
// Current), and when a download brings a row that has a pending local change.
//
// A field missing from a values map is unknown, not null: a value the server's
// record does not carry is taken to be unchanged since Base. Values of fields
// the entity's schema does not list are ignored and never appear in a
// Resolution.
type Input struct {
	Entity *sdk.Entity
	// LocalOp is what the device did: create, update or delete.
	LocalOp sdk.Op
	// Base holds the field values when the device's change began; nil for a
	// local create (and when the engine lost it: policies then treat every
	// value the server has as changed by the server).
	Base map[string]sdk.Value
	// Local holds the device's current values; nil when the device deleted
	// the row (and ignored then).
	Local map[string]sdk.Value
	// Changed lists the fields the device changed: the updated ones for an
	// update, every set field for a create.
	Changed []string
	// Remote is the server's current row; nil when the server deleted it.
	Remote *sdk.Record
	// LocalModified is when the device last changed the row.
	LocalModified time.Time
	// RemoteModified is when the server's row was last modified (or deleted),
	// zero if unknown.
	RemoteModified time.Time
}

// Decision is the kind of outcome a policy chose.
type Decision uint8

const (
	// TakeRemote: the device adopts the server's row (or deletes its own copy
	// when the server deleted the row). Nothing is sent.
	TakeRemote Decision = iota + 1
	// TakeLocal: the device's version wins; what it sends is in PushOp/Push.
	TakeLocal
	// Merge: a record combined field by field from both sides.
	Merge
	// Manual: a person decides; the engine parks the conflict and leaves the
	// local row and its pending change as they are.
	Manual
)

var decisionNames = [...]string{"", "take-remote", "take-local", "merge", "manual"}

func (d Decision) String() string {
	if d > 0 && int(d) < len(decisionNames) {
		return decisionNames[d]
	}
	return fmt.Sprintf("Decision(%d)", d)
}

// Resolution is what a policy decided for one Input.
type Resolution struct {
	Decision Decision
	// Values is the full record the device keeps afterwards (field → value),
	// for every decision but Manual; nil when Delete is set. The map is the
	// resolution's own: the caller may change it.
	Values map[string]sdk.Value
	// PushOp is the change to send to the server: OpUpdate of the Push fields
	// against Remote.Version, OpCreate of the Push fields (the server deleted
	// the row and the device re-creates it), OpDelete against Remote.Version,
	// or zero when nothing is sent.
	PushOp sdk.Op
	// Push lists the fields to send with an OpCreate or OpUpdate, in schema
	// order. Their values are in Values. Read-only fields are never pushed.
	Push []string
	// Delete reports that the row ends up deleted: on the server (TakeLocal
	// of a local delete, with PushOp OpDelete) or on the device (TakeRemote
	// of a server delete).
	Delete bool
	// Reason says in one line how the conflict was settled, for the sync log
	// and the demo's output.
	Reason string
}

// Policy settles conflicts. Resolve must be pure and safe for concurrent
// use: the engine calls it from several goroutines, and may call it again
// with the same Input after a crash.
type Policy interface {
	// Name is how configuration refers to the policy.
	Name() string
	// Resolve decides one conflict. It returns an error for an Input it cannot
	// judge (see Validate), never a panic.
	Resolve(in Input) (Resolution, error)
}

// ErrInvalidInput is wrapped by every error Validate returns.
var ErrInvalidInput = errors.New("invalid conflict input")

// Validate checks what every policy relies on: an entity, a create, update
// or delete, and local values for anything but a delete. Built-in policies
// call it first; custom policies should too.
func Validate(in Input) error {
	if in.Entity == nil {
		return fmt.Errorf("%w: no entity", ErrInvalidInput)
	}
	switch in.LocalOp {
	case sdk.OpCreate, sdk.OpUpdate:
		if in.Local == nil {
			return fmt.Errorf("%w: %s: a local %s without local values", ErrInvalidInput, in.Entity.Name, in.LocalOp)
		}
	case sdk.OpDelete:
	default:
		return fmt.Errorf("%w: %s: local op %d is not create, update or delete", ErrInvalidInput, in.Entity.Name, in.LocalOp)
	}
	return nil
}

// bothDeleted settles the one case every built-in policy agrees on: the
// device and the server deleted the row, so there is nothing to decide.
func bothDeleted(in Input) (Resolution, bool) {
	if in.LocalOp != sdk.OpDelete || in.Remote != nil {
		return Resolution{}, false
	}
	return Resolution{Decision: TakeRemote, Delete: true, Reason: "both sides deleted the row"}, true
}

// remoteValue is the server's value of f: the record's own, or Base's when the
// record does not carry f (unknown counts as unchanged since Base). ok is
// false when neither knows it.
func remoteValue(in Input, f string) (v sdk.Value, ok bool) {
	if in.Remote != nil {
		if v, ok = in.Remote.Values[f]; ok {
			return v, true
		}
	}
	v, ok = in.Base[f]
	return v, ok
}

// takeRemote adopts the server's side: its row, or a local delete when the
// server deleted it.
func takeRemote(in Input, why string) Resolution {
	if in.Remote == nil {
		return Resolution{Decision: TakeRemote, Delete: true, Reason: why + "; the server deleted the row, so it is deleted on the device"}
	}
	vals := map[string]sdk.Value{}
	for _, f := range in.Entity.Fields {
		if v, ok := remoteValue(in, f.Name); ok {
			vals[f.Name] = v
		}
	}
	return Resolution{Decision: TakeRemote, Values: vals, Reason: why + "; took the server's row"}
}

// keptLocal is the record the device keeps when its side wins: its own
// values, except read-only fields, which only the server writes.
func keptLocal(in Input) map[string]sdk.Value {
	vals := map[string]sdk.Value{}
	for _, f := range in.Entity.Fields {
		if f.ReadOnly {
			if v, ok := remoteValue(in, f.Name); ok {
				vals[f.Name] = v
				continue
			}
		}
		if v, ok := in.Local[f.Name]; ok {
			vals[f.Name] = v
		}
	}
	return vals
}

// takeLocal makes the device's side win. pick chooses, among the writable
// schema fields, which ones to send when the server still has the row; the
// kept record is vals, or the device's own values when vals is nil. A local
// delete deletes on the server; a server delete is answered by re-creating
// the row with every writable field the device has.
func takeLocal(in Input, d Decision, vals map[string]sdk.Value, pick func(f string) bool, why string) Resolution {
	if in.LocalOp == sdk.OpDelete {
		return Resolution{Decision: d, PushOp: sdk.OpDelete, Delete: true, Reason: why + "; the device's delete is sent to the server"}
	}
	if vals == nil {
		vals = keptLocal(in)
	}
	r := Resolution{Decision: d, Values: vals}
	if in.Remote == nil {
		r.PushOp = sdk.OpCreate
		r.Push = writable(in.Entity, func(f string) bool { _, ok := vals[f]; return ok })
		r.Reason = fmt.Sprintf("%s; the server deleted the row, so the device re-creates it (%s)", why, fieldList(r.Push))
		return r
	}
	r.Push = writable(in.Entity, pick)
	if len(r.Push) > 0 {
		r.PushOp = sdk.OpUpdate
		r.Reason = fmt.Sprintf("%s; sends %s", why, fieldList(r.Push))
	} else {
		r.Reason = why + "; the server already has the device's values, nothing to send"
	}
	return r
}

// writable lists, in schema order, the fields that may be sent to the server
// and that keep says to send.
func writable(e *sdk.Entity, keep func(f string) bool) []string {
	var out []string
	for _, f := range e.Fields {
		if !f.ReadOnly && keep(f.Name) {
			out = append(out, f.Name)
		}
	}
	return out
}

// differs reports whether v differs from the server's value of f (a value the
// server does not know differs from anything).
func differs(in Input, f string, v sdk.Value) bool {
	rv, ok := remoteValue(in, f)
	return !ok || !rv.Equal(v)
}

// changedSet is the set of the device's Changed fields.
func changedSet(in Input) map[string]bool {
	s := make(map[string]bool, len(in.Changed))
	for _, f := range in.Changed {
		s[f] = true
	}
	return s
}

func fieldList(fs []string) string {
	switch len(fs) {
	case 0:
		return "no fields"
	case 1:
		return "1 field: " + fs[0]
	}
	s := fmt.Sprintf("%d fields: ", len(fs))
	for i, f := range fs {
		if i > 0 {
			s += ", "
		}
		s += f
	}
	return s
}
