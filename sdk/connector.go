package sdk

import (
	"context"

	"github.com/hashicorp/go-hclog"
)

// ProtocolMajor is the plugin protocol's major version, negotiated in the
// transport handshake; a plugin of another major version is refused there.
const ProtocolMajor = 1

// ProtocolMinor counts compatible additions to the protocol. Additions are
// optional capabilities, so any minor talks to any other of the same major.
const ProtocolMinor = 0

// Capability names an optional part of the contract. A connector lists the
// ones it offers in Info; the core uses a capability only when it is listed,
// and still works when it is not.
type Capability string

const (
	CapDocuments         Capability = "documents"           // implements Documents
	CapBatchChangeCheck  Capability = "batch-change-check"  // answers "did anything change" for many entities at once
	CapNativeDeletes     Capability = "native-deletes"      // incremental fetches carry deletes without server add-ons
	CapClientIDs         Capability = "client-ids"          // accepts client-chosen ids on create
	CapUpsertExternalID  Capability = "upsert-external-id"  // upserts by an external id field
	CapTDS               Capability = "tds"                 // bulk reads over a SQL (TDS) endpoint
	CapServerSideFilters Capability = "server-side-filters" // evaluates FetchRequest.Filter on the server
	CapUsage             Capability = "usage"               // implements UsageReporter
)

// Info describes a connector after it was configured.
type Info struct {
	Name          string
	Version       string
	ProtocolMinor int
	Capabilities  []Capability
	// FilterOps are the filter operators the connector can translate for
	// its server (see Filter); a filter needing another is refused before
	// any fetch. A connector without CapServerSideFilters lists none.
	FilterOps []FilterOp
}

// Has reports whether the connector offers c.
func (i Info) Has(c Capability) bool {
	for _, x := range i.Capabilities {
		if x == c {
			return true
		}
	}
	return false
}

// Connector is the contract every backend speaks. Every call takes a context
// first; cancelling it must stop the call promptly, on every transport.
// Implementations must be safe for concurrent use: the engine fetches several
// entities in parallel.
type Connector interface {
	// Info names the connector and lists its capabilities.
	Info(ctx context.Context) (Info, error)
	// Schema describes the entities the connector offers.
	Schema(ctx context.Context) (*Schema, error)
	// Fetch streams the rows of req.Entity to fn, a page at a time, in order,
	// ending with a page whose Last is set and whose Token starts the next
	// incremental fetch. Nothing is buffered beyond a page. An expired
	// req.Token yields an error of kind TokenExpired.
	Fetch(ctx context.Context, req FetchRequest, fn FetchFunc) error
	// Push applies a batch of changes and answers each in order. An error
	// return means the batch's outcome is unknown (the core retries it with
	// the same change ids); per-change failures go in the results.
	Push(ctx context.Context, req PushRequest) (*PushResponse, error)
	// Close releases the connector's resources. No call follows it.
	Close(ctx context.Context) error
}

// Factory opens a connector with the settings from the host's configuration.
// The logger is the host's (on the subprocess transport, a logger whose
// output reaches the host's log). Plugins register a Factory with a transport.
type Factory func(ctx context.Context, settings map[string]string, logger hclog.Logger) (Connector, error)

// AsDocuments returns c's Documents capability, if c implements it and, for
// connectors across a transport, the plugin advertised it.
func AsDocuments(ctx context.Context, c Connector) (Documents, bool) {
	d, ok := c.(Documents)
	if !ok {
		return nil, false
	}
	info, err := c.Info(ctx)
	if err != nil || !info.Has(CapDocuments) {
		return nil, false
	}
	return d, true
}
