package subprocess

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
	"github.com/fieldsync/fieldsync/sdk/wire"
)

// fetchWindow is the gRPC flow-control window for data the host receives:
// how far, in bytes, a plugin may run ahead of the host.
const fetchWindow = 4 << 20

// Config says how to start a plugin.
type Config struct {
	// Cmd is the plugin executable with its arguments. It must not have been
	// started; Open adds the environment the handshake needs.
	Cmd *exec.Cmd
	// Settings go to the connector's factory (from the host's config).
	Settings map[string]string
	// Logger receives the plugin's logs; nil discards them.
	Logger hclog.Logger
	// StartTimeout bounds the handshake; 0 means one minute.
	StartTimeout time.Duration
}

// Client is a connector running in a plugin process. It implements
// sdk.Connector and sdk.Documents (the latter answers ErrUnsupported unless
// the plugin advertised CapDocuments; use sdk.AsDocuments).
type Client struct {
	client *plugin.Client
	rpc    pb.ConnectorClient
	info   sdk.Info
	logger hclog.Logger

	closeOnce sync.Once
	closeErr  error
}

var (
	_ sdk.Connector = (*Client)(nil)
	_ sdk.Documents = (*Client)(nil)
)

// Open starts the plugin, negotiates the protocol and configures the
// connector. On error the process is stopped.
func Open(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Cmd == nil {
		return nil, errors.New("subprocess: no plugin command")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = time.Minute
	}
	cfg.Cmd.Env = append(os.Environ(), cfg.Cmd.Env...)
	cfg.Cmd.Env = append(cfg.Cmd.Env,
		envHostPID+"="+strconv.Itoa(os.Getpid()),
		envLogLevel+"="+logger.GetLevel().String(),
	)
	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: versionedPlugins(nil, sdk.ProtocolMajor),
		Cmd:              cfg.Cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           logger,
		StartTimeout:     cfg.StartTimeout,
		// We put the host environment first ourselves, so the command's own
		// Env wins over it (go-plugin would append the host's last).
		SkipHostEnv: true,
		// gRPC's default 64 KiB stream window is smaller than one page, which
		// turns a fetch into stop-and-wait: the plugin idles while the host
		// reads. A few MiB let the plugin read ahead by a handful of pages
		// (memory stays bounded by the window) so both processes work at once.
		GRPCDialOptions: []grpc.DialOption{
			grpc.WithInitialWindowSize(fetchWindow),
			grpc.WithInitialConnWindowSize(2 * fetchWindow),
		},
		// Plugin output other than logs should never happen; keep it visible.
		SyncStdout: logWriter{logger, "plugin stdout"},
		SyncStderr: logWriter{logger, "plugin stderr"},
	})
	c, err := open(ctx, pc, cfg)
	if err != nil {
		pc.Kill()
		return nil, err
	}
	c.logger = logger
	return c, nil
}

func open(ctx context.Context, pc *plugin.Client, cfg Config) (*Client, error) {
	name := cfg.Cmd.Path
	proto, err := pc.Client()
	if err != nil {
		return nil, fmt.Errorf("start plugin %s: %w", name, err)
	}
	if v := pc.NegotiatedVersion(); v != sdk.ProtocolMajor {
		return nil, fmt.Errorf("plugin %s speaks protocol %d, this host speaks %d", name, v, sdk.ProtocolMajor)
	}
	raw, err := proto.Dispense(pluginName)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", name, err)
	}
	rpc, ok := raw.(pb.ConnectorClient)
	if !ok {
		return nil, fmt.Errorf("plugin %s: unexpected client type %T", name, raw)
	}
	resp, err := rpc.Configure(ctx, &pb.ConfigureRequest{Settings: cfg.Settings, HostProtocolMinor: sdk.ProtocolMinor})
	if err != nil {
		return nil, fmt.Errorf("configure plugin %s: %w", name, fromStatus(ctx, "configure", err))
	}
	return &Client{client: pc, rpc: rpc, info: wire.InfoFromPB(resp)}, nil
}

// Pid is the plugin process's id (for tests and diagnostics).
func (c *Client) Pid() int {
	if rc := c.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// Info returns what the plugin answered at Configure.
func (c *Client) Info(context.Context) (sdk.Info, error) { return c.info, nil }

func (c *Client) Schema(ctx context.Context) (*sdk.Schema, error) {
	resp, err := c.rpc.Schema(ctx, &pb.Empty{})
	if err != nil {
		return nil, fromStatus(ctx, "schema", err)
	}
	return wire.SchemaFromPB(resp)
}

// Fetch streams pages from the plugin. Each page is received, decoded and
// checked for shape on one goroutine while fn consumes the previous one on
// the caller's (see sdk.Pipeline), and the plugin runs ahead by at most what
// gRPC's flow-control window holds, so memory stays flat.
func (c *Client) Fetch(ctx context.Context, req sdk.FetchRequest, fn sdk.FetchFunc) error {
	return sdk.Pipeline(ctx, func(ctx context.Context, emit sdk.FetchFunc) error {
		return c.receive(ctx, req, emit)
	}, func(p *sdk.Page) error {
		// gRPC may still hand out pages it buffered before a cancel; the
		// caller asked to stop, so none is delivered after it.
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("plugin fetch %s: %w", req.Entity, err)
		}
		return fn(p)
	})
}

func (c *Client) receive(ctx context.Context, req sdk.FetchRequest, emit sdk.FetchFunc) error {
	stream, err := c.rpc.Fetch(ctx, wire.FetchToPB(req))
	if err != nil {
		return fromStatus(ctx, "fetch "+req.Entity, err)
	}
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			return sdk.Errorf(sdk.Retryable, "plugin fetch %s: stream ended before the last page", req.Entity)
		}
		if err != nil {
			return fromStatus(ctx, "fetch "+req.Entity, err)
		}
		p, err := wire.PageFromPB(msg)
		if err != nil {
			return sdk.Errorf(sdk.Permanent, "fetch %s: %v", req.Entity, err)
		}
		if err := emit(p); err != nil {
			return err
		}
		if p.Last {
			// Drain the end of stream so the call's status is read.
			if _, err := stream.Recv(); err != nil && err != io.EOF {
				return fromStatus(ctx, "fetch "+req.Entity, err)
			}
			return nil
		}
	}
}

func (c *Client) Push(ctx context.Context, req sdk.PushRequest) (*sdk.PushResponse, error) {
	resp, err := c.rpc.Push(ctx, wire.PushToPB(req))
	if err != nil {
		return nil, fromStatus(ctx, "push", err)
	}
	return wire.PushResultFromPB(resp, len(req.Changes))
}

func (c *Client) ListDocuments(ctx context.Context, q sdk.DocumentQuery, fn func(*sdk.DocumentPage) error) error {
	if !c.info.Has(sdk.CapDocuments) {
		return sdk.ErrUnsupported
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.ListDocuments(ctx, &pb.DocumentQuery{
		Entity: q.Entity, RecordIds: q.RecordIDs, Cursor: q.Cursor, PageSize: int32(min(max(q.PageSize, 0), 1<<30)),
	})
	if err != nil {
		return fromStatus(ctx, "list documents", err)
	}
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fromStatus(ctx, "list documents", err)
		}
		p := &sdk.DocumentPage{Cursor: msg.Cursor, Last: msg.Last, Documents: make([]sdk.Document, len(msg.Documents))}
		for i, d := range msg.Documents {
			p.Documents[i] = wire.DocumentFromPB(d)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("plugin list documents: %w", err)
		}
		if err := fn(p); err != nil {
			return err
		}
	}
}

func (c *Client) ReadDocument(ctx context.Context, id string, offset int64, w io.Writer) error {
	if !c.info.Has(sdk.CapDocuments) {
		return sdk.ErrUnsupported
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.ReadDocument(ctx, &pb.ReadDocumentRequest{Id: id, Offset: offset})
	if err != nil {
		return fromStatus(ctx, "read document", err)
	}
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fromStatus(ctx, "read document", err)
		}
		if _, err := w.Write(msg.Data); err != nil {
			return fmt.Errorf("read document %s: %w", id, err)
		}
	}
}

// Close asks the connector to close, then stops the plugin process. It is
// safe to call more than once.
func (c *Client) Close(ctx context.Context) error {
	c.closeOnce.Do(func() {
		if _, err := c.rpc.Close(ctx, &pb.Empty{}); err != nil {
			c.closeErr = fromStatus(ctx, "close", err)
		}
		c.client.Kill()
	})
	return c.closeErr
}

// Exited reports whether the plugin process has exited.
func (c *Client) Exited() bool { return c.client.Exited() }

// logWriter turns stray plugin output into log lines.
type logWriter struct {
	logger hclog.Logger
	what   string
}

func (w logWriter) Write(p []byte) (int, error) {
	w.logger.Warn(w.what, "output", string(p))
	return len(p), nil
}
