package wasmguest_test

import (
	"context"
	"io"

	"github.com/hashicorp/go-hclog"

	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/wasmguest"
	"github.com/fieldsync/fieldsync/sdk/wasmguest/wasmhttp"
)

// newConnector stands for a connector package's factory.
func newConnector(ctx context.Context, settings map[string]string, logger hclog.Logger) (sdk.Connector, error) {
	client := wasmhttp.Client() // requests go through the host's policy
	resp, err := client.Get(settings["url"] + "/health")
	if err != nil {
		return nil, sdk.Errorf(sdk.Retryable, "reach %s: %v", settings["url"], err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	logger.Info("connected", "status", resp.StatusCode)
	return nil, sdk.Errorf(sdk.Unsupported, "this example stops here")
}

// A plugin's main package registers its factory in init; main stays empty,
// because a reactor module never runs it.
func ExampleServeConnector() {
	wasmguest.ServeConnector(newConnector)
}
