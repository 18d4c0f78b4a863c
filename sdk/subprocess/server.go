package subprocess

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
	"github.com/fieldsync/fieldsync/sdk/wire"
)

// Serve runs a connector plugin over go-plugin gRPC and returns when the host
// closes the plugin or goes away. Call it from the plugin's main, and write
// nothing to stdout before (stdout carries the handshake). Logs go through
// the logger passed to the factory: JSON on stderr, which go-plugin forwards
// into the host's hclog logger with levels intact.
func Serve(factory sdk.Factory) { serve(factory, sdk.ProtocolMajor) }

// serve is Serve speaking the given protocol major (tests use another).
func serve(factory sdk.Factory, major int) {
	level := hclog.LevelFromString(os.Getenv(envLogLevel))
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	logger := hclog.New(&hclog.LoggerOptions{
		Level:      level,
		Output:     os.Stderr,
		JSONFormat: true,
	})
	s := &server{factory: factory, logger: logger, closed: make(chan struct{})}
	go watchHost(logger, s.closed, func() { s.shutdown(2 * time.Second) })
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: versionedPlugins(s, major),
		GRPCServer:       plugin.DefaultGRPCServer,
		Logger:           logger,
	})
}

// server is the plugin side: it turns gRPC calls into calls on the connector
// the factory opened at Configure.
type server struct {
	pb.UnimplementedConnectorServer

	factory sdk.Factory
	logger  hclog.Logger

	mu        sync.Mutex
	conn      sdk.Connector
	closeOnce sync.Once
	closed    chan struct{}
}

var errNotConfigured = sdk.Errorf(sdk.Permanent, "plugin not configured: Configure must be the first call")

func (s *server) connector() (sdk.Connector, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil, errNotConfigured
	}
	return s.conn, nil
}

func (s *server) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.InfoResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		c, err := s.factory(ctx, req.Settings, s.logger)
		if err != nil {
			return nil, toStatus(err)
		}
		s.conn = c
	}
	info, err := s.conn.Info(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return wire.InfoToPB(info), nil
}

func (s *server) Schema(ctx context.Context, _ *pb.Empty) (*pb.SchemaResponse, error) {
	c, err := s.connector()
	if err != nil {
		return nil, toStatus(err)
	}
	sch, err := c.Schema(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return wire.SchemaToPB(sch), nil
}

func (s *server) Fetch(req *pb.FetchRequest, stream pb.Connector_FetchServer) error {
	c, err := s.connector()
	if err != nil {
		return toStatus(err)
	}
	r, err := wire.FetchFromPB(req)
	if err != nil {
		return toStatus(sdk.Errorf(sdk.Permanent, "fetch %s: %v", req.Entity, err))
	}
	return toStatus(sdk.Pipeline(stream.Context(), func(ctx context.Context, emit sdk.FetchFunc) error {
		return c.Fetch(ctx, r, emit)
	}, func(p *sdk.Page) error {
		m, err := wire.PageMessage(p)
		if err != nil {
			return sdk.Errorf(sdk.Permanent, "fetch %s: %v", req.Entity, err)
		}
		return stream.Send(m)
	}))
}

func (s *server) Push(ctx context.Context, req *pb.PushRequest) (*pb.PushResponse, error) {
	c, err := s.connector()
	if err != nil {
		return nil, toStatus(err)
	}
	res, err := c.Push(ctx, wire.PushFromPB(req))
	if err != nil {
		return nil, toStatus(err)
	}
	return wire.PushResultToPB(res), nil
}

func (s *server) documents(ctx context.Context) (sdk.Documents, error) {
	c, err := s.connector()
	if err != nil {
		return nil, err
	}
	d, ok := sdk.AsDocuments(ctx, c)
	if !ok {
		return nil, sdk.Errorf(sdk.Unsupported, "connector offers no documents")
	}
	return d, nil
}

func (s *server) ListDocuments(req *pb.DocumentQuery, stream pb.Connector_ListDocumentsServer) error {
	d, err := s.documents(stream.Context())
	if err != nil {
		return toStatus(err)
	}
	q := sdk.DocumentQuery{Entity: req.Entity, RecordIDs: req.RecordIds, Cursor: req.Cursor, PageSize: int(req.PageSize)}
	return toStatus(d.ListDocuments(stream.Context(), q, func(p *sdk.DocumentPage) error {
		out := &pb.DocumentPage{Cursor: p.Cursor, Last: p.Last, Documents: make([]*pb.Document, len(p.Documents))}
		for i := range p.Documents {
			out.Documents[i] = wire.DocumentToPB(&p.Documents[i])
		}
		return stream.Send(out)
	}))
}

// chunkSize is how many document bytes go in one stream message.
const chunkSize = 64 << 10

// chunkWriter sends what a connector writes as stream chunks, never holding
// more than one chunk.
type chunkWriter struct {
	stream pb.Connector_ReadDocumentServer
}

func (w chunkWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), chunkSize)
		if err := w.stream.Send(&pb.Chunk{Data: p[:k]}); err != nil {
			return n, err
		}
		n += k
		p = p[k:]
	}
	return n, nil
}

func (s *server) ReadDocument(req *pb.ReadDocumentRequest, stream pb.Connector_ReadDocumentServer) error {
	d, err := s.documents(stream.Context())
	if err != nil {
		return toStatus(err)
	}
	var w io.Writer = chunkWriter{stream}
	return toStatus(d.ReadDocument(stream.Context(), req.Id, req.Offset, w))
}

func (s *server) Close(ctx context.Context, _ *pb.Empty) (*pb.Empty, error) {
	return &pb.Empty{}, toStatus(s.closeConnector(ctx))
}

func (s *server) closeConnector(ctx context.Context) error {
	var err error
	s.closeOnce.Do(func() {
		s.mu.Lock()
		c := s.conn
		s.mu.Unlock()
		if c != nil {
			err = c.Close(ctx)
		}
		close(s.closed)
	})
	return err
}

// shutdown closes the connector (bounded in time) and exits: the host is gone.
func (s *server) shutdown(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := s.closeConnector(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		s.logger.Warn("closing connector after the host went away", "error", err)
	}
	os.Exit(3)
}
