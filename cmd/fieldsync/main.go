// Command fieldsync drives fieldsync's sync engine from a shell: it writes a
// starter configuration, syncs a device, shows its status, conflicts and sync
// logs, serves the built-in connectors as subprocess plugins, and runs a
// self-contained demo of two devices sharing one mock server.
//
// Run `fieldsync demo` (or `go run ./cmd/fieldsync demo` from a checkout)
// for a tour that needs no setup, and `fieldsync --help` for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fieldsync/fieldsync/core/pluginhost"
	"github.com/fieldsync/fieldsync/plugins/dataverse"
	"github.com/fieldsync/fieldsync/plugins/mock"
	"github.com/fieldsync/fieldsync/plugins/rescocloud"
	"github.com/fieldsync/fieldsync/plugins/salesforce"
	"github.com/fieldsync/fieldsync/sdk"
)

// The connectors linked into this binary. They serve configs that say
// plugin = "builtin", and `fieldsync plugin serve NAME` serves them as
// subprocess plugins from this same executable. Registration is in init,
// not main, so the command's tests see it too.
func init() {
	for name, f := range map[string]sdk.Factory{"mock": mock.Factory, "dataverse": dataverse.Factory, "salesforce": salesforce.Factory, "rescocloud": rescocloud.Factory} {
		if err := pluginhost.Default.Register(name, f); err != nil {
			panic(err) // two registrations of one name: a bug in this binary
		}
	}
}

func main() {
	// The first Ctrl-C cancels the context: a sync stops between pages and
	// batches, keeping what it committed. Once cancelled, the default
	// handling comes back, so a second Ctrl-C stops the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
