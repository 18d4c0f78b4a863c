package sdk

import "context"

// ChangeProbe asks whether an entity changed since a change token.
type ChangeProbe struct {
	Entity string
	Token  []byte
}

// ChangeChecker is the optional capability CapBatchChangeCheck: one round
// trip tells which of many entities changed since their tokens, so a sync
// fetches only those (a no-change sync of twenty entities is then one
// request). Find it with AsChangeChecker.
type ChangeChecker interface {
	// CheckChanges answers each probe in order: true when the entity may
	// have changed since its token (when in doubt, true: a false answer
	// skips the entity's fetch). An expired token answers true; the fetch
	// then reports the expiry.
	CheckChanges(ctx context.Context, probes []ChangeProbe) ([]bool, error)
}

// AsChangeChecker returns c's ChangeChecker, if it implements it and lists
// CapBatchChangeCheck.
func AsChangeChecker(ctx context.Context, c Connector) (ChangeChecker, bool) {
	cc, ok := c.(ChangeChecker)
	if !ok {
		return nil, false
	}
	info, err := c.Info(ctx)
	if err != nil || !info.Has(CapBatchChangeCheck) {
		return nil, false
	}
	return cc, true
}

// Usage is what a connector spent on its backend since it was opened: the
// sync log records the difference over a sync.
type Usage struct {
	// Requests is how many requests reached the backend (a batch of many
	// operations is one).
	Requests int64
	// ThrottledMs is the time spent waiting out the backend's throttling
	// (429 Retry-After and the like).
	ThrottledMs int64
	// Retries counts requests sent again after a retryable failure.
	Retries int64
	// Paths says, per entity, how its last download read the backend
	// (for example "webapi" or "tds"), when the connector has more than one
	// way.
	Paths map[string]string
}

// UsageReporter is the optional capability CapUsage.
type UsageReporter interface {
	Usage(ctx context.Context) (Usage, error)
}

// AsUsageReporter returns c's UsageReporter, if it implements it and lists
// CapUsage.
func AsUsageReporter(ctx context.Context, c Connector) (UsageReporter, bool) {
	u, ok := c.(UsageReporter)
	if !ok {
		return nil, false
	}
	info, err := c.Info(ctx)
	if err != nil || !info.Has(CapUsage) {
		return nil, false
	}
	return u, true
}
