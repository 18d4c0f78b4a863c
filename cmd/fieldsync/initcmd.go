package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fieldsync/fieldsync/core/config"
	"github.com/fieldsync/fieldsync/plugins/mock"
)

var initFlags struct {
	records int
	user    string
	device  string
	store   string
	name    string
	force   bool
}

var initCmd = &cobra.Command{
	Use:   "init [DIR]",
	Short: "Write a starter config for the mock backend and seed a mock server",
	Long: `Writes a commented starter config (DIR/fieldsync.hcl) for the mock backend
and creates a mock server in DIR/server.db, seeded with --records accounts,
two contacts and one opportunity each. Several devices can share that
server: run init again in the same DIR with another --name, --store and
--device, and the new config joins the existing server instead of seeding
a new one.`,
	Example: `  fieldsync init try --records 5000 --user alice --device alice-laptop
  fieldsync init try --name bob.hcl --store bob.db --user bob --device bob-laptop`,
	Args: cobra.MaximumNArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		dir := "."
		if len(args) == 1 {
			dir = args[0]
		}
		return runInit(cmd.Context(), cmd.OutOrStdout(), dir)
	},
}

func init() {
	f := initCmd.Flags()
	f.IntVar(&initFlags.records, "records", 1000, "accounts to seed a new server with (plus 2 contacts and 1 opportunity each)")
	f.StringVar(&initFlags.user, "user", "", "who syncs on this device (default: $USER, or \"user\")")
	f.StringVar(&initFlags.device, "device", "", "this device's name in sync logs (default: the hostname)")
	f.StringVar(&initFlags.store, "store", "device.db", "the device's local SQLite file, relative to DIR")
	f.StringVar(&initFlags.name, "name", DefaultConfig, "the config file's name in DIR")
	f.BoolVar(&initFlags.force, "force", false, "overwrite an existing config file (the server's data is kept)")
	root.AddCommand(initCmd)
}

// serverFile is the mock server's file name in an init directory.
const serverFile = "server.db"

func runInit(ctx context.Context, w io.Writer, dir string) error {
	if initFlags.records < 0 {
		return failQuiet(nil, "--records must be 0 or more, not %d", initFlags.records)
	}
	if strings.ContainsAny(initFlags.name, `/\`) || initFlags.name == "" {
		return failQuiet(nil, "--name %q must be a file name without a directory; DIR says where it goes", initFlags.name)
	}
	cfgPath := filepath.Join(dir, initFlags.name)
	if _, err := os.Stat(cfgPath); err == nil && !initFlags.force {
		return failQuiet(nil, "%s already exists; pass --force to overwrite it, or --name for a second device's config", cfgPath)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err, "cannot create the directory %s", dir)
	}
	user := initFlags.user
	if user == "" {
		user = os.Getenv("USER")
	}
	if user == "" {
		user = "user"
	}
	src := config.Starter(config.StarterOptions{
		ServerPath: serverFile, StorePath: initFlags.store, User: user, Device: initFlags.device,
	})
	// The starter must load as written; a failure here is a bug worth a
	// clear message rather than a config the next command rejects.
	if _, err := config.Parse(src, cfgPath); err != nil {
		return fail(err, "the starter config does not parse")
	}
	if err := os.WriteFile(cfgPath, src, 0o644); err != nil {
		return fail(err, "cannot write %s", cfgPath)
	}
	fmt.Fprintf(w, "Wrote %s (user %s, store %s)\n", cfgPath, user, filepath.Join(dir, initFlags.store))

	serverPath := filepath.Join(dir, serverFile)
	_, statErr := os.Stat(serverPath)
	switch {
	case statErr == nil:
		fmt.Fprintf(w, "Joined the existing mock server %s (not seeded again)\n", serverPath)
	case errors.Is(statErr, fs.ErrNotExist):
		if err := seedServer(ctx, w, serverPath, initFlags.records); err != nil {
			return err
		}
	default:
		return fail(statErr, "cannot check %s", serverPath)
	}

	p := commandPrefix()
	cfgArg := cfgPath
	fmt.Fprintf(w, `
Next:
  %[1]s --config %[2]s sync      # the first sync downloads everything
  %[1]s --config %[2]s status
  sqlite3 %[3]s "UPDATE account SET city = 'Oslo' WHERE rowid = 1"   # edit like a host app, then sync again
  sqlite3 %[4]s "UPDATE account SET name = 'Changed by the admin' WHERE rowid = 2"   # a server-side edit
Another device sharing this server:
  %[1]s init %[5]s --name bob.hcl --store bob.db --user bob --device bob-laptop
  %[1]s --config %[6]s sync
`, p, cfgArg, filepath.Join(dir, initFlags.store), serverPath, dir, filepath.Join(dir, "bob.hcl"))
	return nil
}

// seedServer creates a mock server file with the default model and seeds
// it: n accounts, two contacts and one opportunity per account.
func seedServer(ctx context.Context, w io.Writer, path string, n int) error {
	start := time.Now()
	srv, err := mock.Create(ctx, path)
	if err != nil {
		return fail(err, "cannot create the mock server %s", path)
	}
	defer srv.Close()
	if n > 0 {
		if err := srv.Seed(ctx, mock.SeedOptions{Accounts: n, ContactsPerAccount: 2, OpportunitiesPerAccount: 1, Seed: 1}); err != nil {
			return fail(err, "cannot seed the mock server %s", path)
		}
	}
	fmt.Fprintf(w, "Created the mock server %s: %s, %s, %s (%s)\n", path,
		counted(n, "account", "accounts"), counted(2*n, "contact", "contacts"),
		counted(n, "opportunity", "opportunities"), dur(time.Since(start)))
	return nil
}
