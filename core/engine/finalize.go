package engine

import (
	"context"
	"encoding/json"
)

// logRetention is how many sync logs a device keeps.
const logRetention = 1000

func (e *Engine) saveLog(ctx context.Context, lg *Log) (int64, error) {
	b, err := json.Marshal(lg)
	if err != nil {
		return 0, err
	}
	return e.opts.Store.AddSyncLog(ctx, lg.Started, lg.Ended, lg.Result, string(b))
}

// cleanup is the device's housekeeping: resolved conflicts older than a
// month and sync logs beyond the newest thousand go.
func (e *Engine) cleanup(ctx context.Context, p *plan, lg *Log) error {
	scopeErr := e.cleanScope(ctx, p, lg)
	c, l, err := e.opts.Store.Housekeep(ctx, logRetention)
	lg.Cleanup.ResolvedConflicts, lg.Cleanup.OldLogs = c, l
	if err != nil {
		lg.addError("cleanup", "", err)
	}
	if err == nil {
		err = scopeErr
	}
	return err
}
