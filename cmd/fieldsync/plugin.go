package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/fieldsync/fieldsync/core/pluginhost"
	"github.com/fieldsync/fieldsync/sdk/subprocess"
)

var pluginCmd = &cobra.Command{
	Use:   "plugin",
	Short: "Work with connector plugins",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		return cmd.Help()
	},
}

var pluginListCmd = &cobra.Command{
	Use:   "list",
	Short: "List the connectors built into this binary",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		w := cmd.OutOrStdout()
		names := pluginhost.Default.Names()
		if len(names) == 0 {
			fmt.Fprintln(w, "No connectors are built in.")
			return nil
		}
		fmt.Fprintln(w, "Built-in connectors (plugin = \"builtin\" in a backend block):")
		for _, n := range names {
			fmt.Fprintf(w, "  %s\n", n)
		}
		fmt.Fprintln(w, "Each can also run as a subprocess plugin served by this binary:")
		fmt.Fprintln(w, `  plugin = "subprocess", command = "<path to fieldsync>", args = ["plugin", "serve", "<name>"]`)
		return nil
	},
}

// pluginServeCmd is what a host starts when a config says
//
//	plugin = "subprocess", command = "/path/to/fieldsync", args = ["plugin", "serve", "mock"]
//
// It speaks the go-plugin protocol on stdout, so it must print nothing
// there itself; it logs through the host (hclog on stderr, which the host
// reads). It is hidden: people do not run it, hosts do.
var pluginServeCmd = &cobra.Command{
	Use:    "serve NAME",
	Short:  "Serve a built-in connector as a subprocess plugin (started by a host, not by hand)",
	Hidden: true,
	Args:   cobra.ExactArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		f, ok := pluginhost.Default.Factory(args[0])
		if !ok {
			return failQuiet(pluginhost.ErrUnknownConnector, "no built-in connector is called %q (built in: %v)", args[0], pluginhost.Default.Names())
		}
		if os.Getenv(subprocess.Handshake.MagicCookieKey) == "" {
			return failQuiet(nil, "`plugin serve %s` is started by a fieldsync host; point a config at it with plugin = \"subprocess\"", args[0])
		}
		subprocess.Serve(f)
		return nil
	},
}

func init() {
	pluginCmd.AddCommand(pluginListCmd, pluginServeCmd)
	root.AddCommand(pluginCmd)
}
