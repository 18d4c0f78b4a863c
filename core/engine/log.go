package engine

import (
	"time"
)

// Log is the record of one sync cycle: what the device did, how long each
// phase took, what moved per entity, and every error with its cause. It is
// stored in the device database and can be printed as JSON.
type Log struct {
	ID         int64     `json:"id,omitempty"`
	User       string    `json:"user"`
	Device     string    `json:"device"`
	Platform   string    `json:"platform"`
	AppVersion string    `json:"app_version,omitempty"`
	Connector  string    `json:"connector"`
	Started    time.Time `json:"started"`
	Ended      time.Time `json:"ended"`
	// Result is ok, failed (something could not be done; see Errors),
	// or canceled.
	Result   string      `json:"result"`
	Entities []EntityLog `json:"entities"`
	// Phases in order: prepare, upload, download, cleanup, documents (when
	// the documents phase is on), and finalize
	// (writing this log), which only the Log that Sync returns carries:
	// the stored copy is written before its own writing ends.
	Phases  []PhaseLog `json:"phases"`
	Upload  UploadLog  `json:"upload"`
	Cleanup CleanupLog `json:"cleanup"`
	Errors  []ErrorLog `json:"errors,omitempty"`
	// Hints point at settings that look wrong for what this sync saw.
	Hints []string `json:"hints,omitempty"`
	// ChangeCheck is the batch change check, when the connector has one.
	ChangeCheck *ChangeCheckLog `json:"change_check,omitempty"`
	// Backend is what the connector spent on its backend (requests, time
	// throttled), when it reports it.
	Backend *BackendLog `json:"backend,omitempty"`
	// Documents is what the documents phase did (nil when it is off).
	Documents *DocumentLog `json:"documents,omitempty"`
}

// ChangeCheckLog is the batch change check before the downloads: how many
// entities it asked about in its one request, and how many had not changed
// (their fetches were skipped).
type ChangeCheckLog struct {
	Entities  int    `json:"entities"`
	Unchanged int    `json:"unchanged"`
	Error     string `json:"error,omitempty"`
}

// BackendLog is what the connector spent on its backend during the sync,
// as it reports it (connectors with the usage capability).
type BackendLog struct {
	Requests    int64 `json:"requests"`
	ThrottledMs int64 `json:"throttled_ms"`
	Retries     int64 `json:"retries"`
}

// PhaseLog is the time one phase took.
type PhaseLog struct {
	Name string `json:"name"`
	Ms   int64  `json:"ms"`
}

// EntityLog is what one entity's download did.
type EntityLog struct {
	Name string `json:"name"`
	Mode string `json:"mode"` // full, resume (an interrupted full read), incremental, resync (token expired), unchanged (the change check said so)
	// Path is how the connector read the entity, when it has more than one
	// way (for example webapi or tds).
	Path        string  `json:"path,omitempty"`
	Received    int     `json:"received"`
	Upserted    int     `json:"upserted"`
	Unchanged   int     `json:"unchanged"`
	Deleted     int     `json:"deleted"`
	Conflicts   int     `json:"conflicts"`
	Parked      int     `json:"parked"`
	Pages       int     `json:"pages"`
	Bytes       int64   `json:"bytes"`
	Ms          int64   `json:"ms"`
	MsPerRecord float64 `json:"ms_per_record"`
	Calls       int     `json:"calls"`
	Error       string  `json:"error,omitempty"`
}

// UploadLog is what the upload phase did.
type UploadLog struct {
	Changes   int   `json:"changes"`
	Created   int   `json:"created"`
	Updated   int   `json:"updated"`
	Deleted   int   `json:"deleted"`
	Conflicts int   `json:"conflicts"`
	Parked    int   `json:"parked"`
	Failed    int   `json:"failed"`
	Retried   int   `json:"retried"`
	Batches   int   `json:"batches"`
	Calls     int   `json:"calls"`
	Ms        int64 `json:"ms"`
}

// CleanupLog is what cleanup removed: rows that left the device's scope
// (by entity and why) and old bookkeeping.
type CleanupLog struct {
	// Rows removed because they no longer match their entity's filter
	// (found by a membership check, or at the end of a full re-read after a
	// filter change), because their parent left the device (orphans of an
	// entity downloaded only for its parents), or because the entity left
	// the configuration (dropped).
	Removed []RemovedLog `json:"removed,omitempty"`
	// Dropped lists entities whose tables were dropped: the configuration
	// no longer selects them.
	Dropped           []string `json:"dropped,omitempty"`
	ResolvedConflicts int      `json:"resolved_conflicts"`
	OldLogs           int      `json:"old_logs"`
}

// RemovedLog counts the rows cleanup removed from one entity for one reason
// (filter, orphan), and those it kept because they have local changes not
// yet uploaded (a later sync removes them if they are still outside).
type RemovedLog struct {
	Entity  string `json:"entity"`
	Reason  string `json:"reason"`
	Removed int    `json:"removed"`
	Kept    int    `json:"kept,omitempty"`
}

// ErrorLog is one error: where it happened, what it says, and whether
// trying again may help.
type ErrorLog struct {
	Phase     string `json:"phase"`
	Entity    string `json:"entity,omitempty"`
	Message   string `json:"message"`
	Kind      string `json:"kind"`
	Retryable bool   `json:"retryable"`
}

// Counts sums the download counters over entities.
func (l *Log) Counts() (received, upserted, deleted int) {
	for _, e := range l.Entities {
		received += e.Received
		upserted += e.Upserted
		deleted += e.Deleted
	}
	return
}
