package subprocess

import (
	"context"
	"errors"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
)

// Handshake is shared by host and plugin. The magic cookie only guards
// against running a plugin binary by hand; it is not a security measure.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  sdk.ProtocolMajor,
	MagicCookieKey:   "FIELDSYNC_PLUGIN",
	MagicCookieValue: "connector-7b1f3c2e",
}

// pluginName is the key of the connector in go-plugin's plugin set.
const pluginName = "connector"

// Environment variables the host sets for the plugin process.
const (
	envHostPID  = "FIELDSYNC_HOST_PID"
	envLogLevel = "FIELDSYNC_PLUGIN_LOG_LEVEL"
)

// grpcPlugin implements go-plugin's GRPCPlugin for both sides.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	server *server // plugin side only
}

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.server == nil {
		return errors.New("subprocess: no connector to serve")
	}
	pb.RegisterConnectorServer(s, p.server)
	return nil
}

func (p *grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return pb.NewConnectorClient(c), nil
}

// versionedPlugins lists the protocol majors a side speaks. A new major adds
// an entry; go-plugin picks the highest both sides share.
func versionedPlugins(s *server, major int) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		major: {pluginName: &grpcPlugin{server: s}},
	}
}
