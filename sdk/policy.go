package sdk

import "time"

// ConflictPolicy is the contract of a conflict policy shipped as a plugin (a
// WASM guest, see wasmguest.ServePolicy): it settles one record that both
// the device and the server changed.
//
// It mirrors the core's conflict.Policy field by field. Plugins depend on the
// sdk alone and cannot import the core, so the sdk carries its own copy of
// the types, and the host converts between the two; the meaning of every
// field is the core's (see core/conflict).
type ConflictPolicy interface {
	// Name is how configuration refers to the policy.
	Name() string
	// Resolve decides one conflict. It must be pure: the host may call it
	// again with the same input, on another instance of the plugin.
	Resolve(in ConflictInput) (ConflictResolution, error)
}

// ConflictInput is one conflicting record.
type ConflictInput struct {
	Entity *Entity
	// LocalOp is what the device did: create, update or delete.
	LocalOp Op
	// Base holds the field values when the device's change began; nil for a
	// local create or when the engine lost it.
	Base map[string]Value
	// Local holds the device's current values; nil when the device deleted
	// the row.
	Local map[string]Value
	// Changed lists the fields the device changed.
	Changed []string
	// Remote is the server's current row; nil when the server deleted it.
	Remote *Record
	// LocalModified and RemoteModified are when each side last changed the
	// row; zero if unknown.
	LocalModified  time.Time
	RemoteModified time.Time
}

// ConflictDecision is the kind of outcome a policy chose. The names are the
// core's conflict.Decision names.
type ConflictDecision string

const (
	// DecisionTakeRemote: the device adopts the server's row.
	DecisionTakeRemote ConflictDecision = "take-remote"
	// DecisionTakeLocal: the device's version wins; PushOp/Push say what is sent.
	DecisionTakeLocal ConflictDecision = "take-local"
	// DecisionMerge: a record combined field by field from both sides.
	DecisionMerge ConflictDecision = "merge"
	// DecisionManual: a person decides; the conflict is parked.
	DecisionManual ConflictDecision = "manual"
)

// ConflictResolution is what a policy decided for one ConflictInput.
type ConflictResolution struct {
	Decision ConflictDecision
	// Values is the full record the device keeps afterwards; nil when Delete
	// is set or the decision is manual.
	Values map[string]Value
	// PushOp is the change to send to the server, or zero for none.
	PushOp Op
	// Push lists the fields to send with a create or update, in schema order.
	Push []string
	// Delete reports that the row ends up deleted.
	Delete bool
	// Reason says in one line how the conflict was settled.
	Reason string
}
