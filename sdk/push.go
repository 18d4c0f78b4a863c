package sdk

// Op is what a Change does.
type Op uint8

const (
	OpCreate Op = iota + 1
	OpUpdate
	OpDelete
)

func (o Op) String() string {
	switch o {
	case OpCreate:
		return "create"
	case OpUpdate:
		return "update"
	case OpDelete:
		return "delete"
	}
	return "invalid"
}

// Record is one row with its values by field name. Used where rows are few:
// conflicts and tests.
type Record struct {
	ID      string
	Version string
	Values  map[string]Value
}

// Change is one local create, update or delete on its way to the server.
type Change struct {
	// ChangeID is the client's idempotency key: the server applies a change
	// id at most once, and answers a repeat with the first outcome. The core
	// keeps the same id across retries and crashes.
	ChangeID string
	Op       Op
	Entity   string
	// ID is the row's id. On create it is the client-chosen id when the
	// entity has ClientIDs, else a temporary id the server replaces.
	ID string
	// BaseVersion is the row version the change was made against (update
	// and delete). A server whose row moved on answers a conflict.
	BaseVersion string
	// Values holds the fields to write: all of them on create, only the
	// changed ones on update, none on delete.
	Values map[string]Value
}

// PushRequest is a batch of changes, applied in order. A change that fails
// (bad input, a conflict) does not stop the others: each gets its own
// result. An error from Push itself means the outcome of the batch is
// unknown, and the core sends it again with the same change ids.
//
// A push-capable entity returns row versions: the version a push answers is
// the one later fetches carry, and it is what BaseVersion compares with. An
// update or delete of a row the server no longer has is a conflict with
// ServerDeleted set (a delete of it may also be answered as applied).
type PushRequest struct {
	Changes []Change
}

// Status is the outcome of one change.
type Status uint8

const (
	StatusApplied Status = iota + 1
	StatusConflict
	StatusFailed
)

func (s Status) String() string {
	switch s {
	case StatusApplied:
		return "applied"
	case StatusConflict:
		return "conflict"
	case StatusFailed:
		return "failed"
	}
	return "invalid"
}

// ChangeResult answers one change, in request order.
type ChangeResult struct {
	ChangeID string
	Status   Status
	// Applied: the row's server id (equal to the request's unless the server
	// assigned one) and its new version. Empty version for a delete.
	ID      string
	Version string
	// Conflict: the server's current row, or nil with ServerDeleted set.
	Current       *Record
	ServerDeleted bool
	// Failed: why, with Kind telling retryable from permanent.
	Err *Error
}

// PushResponse holds one result per change.
type PushResponse struct {
	Results []ChangeResult
}
