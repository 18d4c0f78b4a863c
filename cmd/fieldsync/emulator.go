package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fieldsync/fieldsync/plugins/mock"
	"github.com/fieldsync/fieldsync/plugins/mock/httpapi"
)

var (
	emuServer string
	emuListen string
	emuTokens []string
	emuCreate bool
)

var emulatorCmd = &cobra.Command{
	Use:   "emulator",
	Short: "Run a backend emulator for offline development",
}

var emulatorMockCmd = &cobra.Command{
	Use:   "mock",
	Short: "Serve a mock server file over HTTP (what the mock's WASM plugin talks to)",
	Long: `Serves a mock server file over the mock's HTTP API until interrupted. A
device whose config loads the mock as a WASM module reaches it here, under
its allow-list (allow = ["http://127.0.0.1:8080"], allow_private = true).

With --token TOKEN=USER (repeatable) the server requires
"Authorization: Bearer TOKEN" and records USER in its request log; give the
same value to the device's credentials so the host, not the module, holds it.`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		ctx := cmd.Context()
		var srv *mock.Server
		var err error
		if emuCreate {
			srv, err = mock.Create(ctx, emuServer)
		} else {
			srv, err = mock.OpenServer(ctx, emuServer)
		}
		if err != nil {
			return fail(err, "cannot open the mock server file %s", emuServer)
		}
		defer srv.Close()
		opts := httpapi.Options{Logger: logger().Named("emulator")}
		for _, t := range emuTokens {
			tok, user, ok := strings.Cut(t, "=")
			if !ok || tok == "" || user == "" {
				return failQuiet(nil, "--token takes TOKEN=USER")
			}
			if opts.Tokens == nil {
				opts.Tokens = map[string]string{}
			}
			opts.Tokens[tok] = user
		}
		addr, err := httpapi.Serve(ctx, emuListen, srv, opts)
		if err != nil {
			return fail(err, "cannot listen on %s", emuListen)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "mock emulator serving %s on http://%s (Ctrl-C stops it)\n", emuServer, strings.TrimPrefix(addr, "http://"))
		<-ctx.Done()
		return nil
	},
}

func init() {
	f := emulatorMockCmd.Flags()
	f.StringVar(&emuServer, "server", "server.db", "the mock server file")
	f.StringVar(&emuListen, "listen", "127.0.0.1:8080", "the address to listen on")
	f.StringArrayVar(&emuTokens, "token", nil, "require this bearer token, as TOKEN=USER (repeatable)")
	f.BoolVar(&emuCreate, "create", false, "lay out a new server file if there is none")
	emulatorCmd.AddCommand(emulatorMockCmd)
	root.AddCommand(emulatorCmd)
}
