package mock

import (
	"context"
	"strconv"
	"strings"

	"github.com/fieldsync/fieldsync/sdk"
	"github.com/hashicorp/go-hclog"
)

// Version is the mock connector's version, reported in Info.
const Version = "0.1.0"

// Connector is the sdk.Connector (and sdk.Documents) of a mock server file:
// what one device's engine talks to. It is safe for concurrent use; each
// call takes a pooled SQLite connection of its own.
type Connector struct {
	srv   *Server
	user  string
	log   hclog.Logger
	owned bool // Close closes srv
	// serverIDs makes the server assign every created row's id, as
	// backends without client-assigned ids do (the engine then renames
	// rows created offline).
	serverIDs bool
}

var (
	_ sdk.Connector = (*Connector)(nil)
	_ sdk.Documents = (*Connector)(nil)
	_ sdk.Factory   = Factory
)

// Options configure New.
type Options struct {
	// Create lays out a new file with the default model when path does not
	// hold a mock server yet.
	Create bool
	// User names the caller in the request log.
	User string
	// Logger receives the connector's logs (nil: none).
	Logger hclog.Logger
	// PoolSize bounds the SQLite connections (default 4).
	PoolSize int
	// ServerIDs makes the server ignore client-chosen ids on create and
	// assign its own, like a backend without the client-ids capability.
	ServerIDs bool
}

// New opens a connector on the server file at path, for direct Go use.
func New(ctx context.Context, path string, opts Options) (*Connector, error) {
	srv, err := openServer(ctx, path, opts.Create, []ServerOptions{{Logger: opts.Logger, PoolSize: opts.PoolSize}})
	if err != nil {
		return nil, err
	}
	c := srv.Connector(opts.User)
	c.owned = true
	c.serverIDs = opts.ServerIDs
	return c, nil
}

// Factory is the mock's sdk.Factory. Settings:
//
//	path    the server SQLite file (required)
//	create  "true" lays out a new file with the default model if needed
//	user    the name the request log records for this connector
//	pool    the number of SQLite connections at most (default 4)
//	server_ids  "true": the server assigns ids on create (no client ids)
func Factory(ctx context.Context, settings map[string]string, logger hclog.Logger) (sdk.Connector, error) {
	path := settings["path"]
	if path == "" {
		return nil, sdk.Errorf(sdk.Permanent, "mock: setting \"path\" (the server file) is required")
	}
	opts := Options{User: settings["user"], Logger: logger}
	if v, ok := settings["create"]; ok {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return nil, sdk.Errorf(sdk.Permanent, "mock: setting \"create\" = %q is not a boolean", v)
		}
		opts.Create = b
	}
	if v, ok := settings["server_ids"]; ok {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return nil, sdk.Errorf(sdk.Permanent, "mock: setting \"server_ids\" = %q is not a boolean", v)
		}
		opts.ServerIDs = b
	}
	if v, ok := settings["pool"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > 64 {
			return nil, sdk.Errorf(sdk.Permanent, "mock: setting \"pool\" = %q is not a number from 1 to 64", v)
		}
		opts.PoolSize = n
	}
	return New(ctx, path, opts)
}

// Connector returns a connector that shares this server's connections; the
// server stays open when it is closed.
func (s *Server) Connector(user string) *Connector {
	return &Connector{srv: s, user: user, log: s.log.Named("mock").With("user", user)}
}

// Server returns the admin side of the connector's server file.
func (c *Connector) Server() *Server { return c.srv }

// Info names the connector and lists its capabilities.
func (c *Connector) Info(ctx context.Context) (sdk.Info, error) {
	caps := []sdk.Capability{sdk.CapDocuments, sdk.CapWriteDocuments, sdk.CapNativeDeletes, sdk.CapServerSideFilters, sdk.CapBatchChangeCheck}
	if !c.serverIDs {
		caps = append(caps, sdk.CapClientIDs)
	}
	return sdk.Info{Name: "mock", Version: Version, ProtocolMinor: sdk.ProtocolMinor, Capabilities: caps, FilterOps: FilterOps}, nil
}

// Schema describes the entities of the server file.
func (c *Connector) Schema(ctx context.Context) (_ *sdk.Schema, err error) {
	cn, st, snap, err := c.srv.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer c.srv.db.put(cn)
	defer func() { c.srv.logRequest(cn, requestRecord{user: c.user, op: "schema", err: err}) }()
	if err := st.inject(); err != nil {
		return nil, err
	}
	out := cloneSchema(&snap.schema)
	if c.serverIDs {
		for i := range out.Entities {
			out.Entities[i].Capabilities.ClientIDs = false
		}
	}
	return out, nil
}

// Close releases the connector's connections (if it owns its server).
func (c *Connector) Close(ctx context.Context) error {
	if c.owned {
		return c.srv.Close()
	}
	return nil
}
