package engine

// Event reports progress to a host app (a progress bar, a status line).
// Events come from several goroutines in turn; the callback must be quick
// and safe for concurrent use.
type Event struct {
	Phase  string // prepare, upload, download, cleanup, documents (when on), finalize
	Entity string // download: the entity
	// Records is how many records the phase (or entity) has handled so far;
	// Total the number expected, 0 when unknown.
	Records int
	Total   int
	Pages   int
	Done    bool  // the phase (or entity) is finished
	Err     error // set on Done when it failed
}
