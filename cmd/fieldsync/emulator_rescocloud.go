package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/spf13/cobra"

	rcemulator "github.com/fieldsync/fieldsync/plugins/rescocloud/emulator"
)

var (
	rcDB            string
	rcAddr          string
	rcSeedAccounts  int
	rcSeedContacts  int
	rcSeedOpps      int
	rcSeedNotes     int
	rcSeedExtraRows int
	rcSeed          int64
	rcRequestLimit  int
)

var emulatorRescoCmd = &cobra.Command{
	Use:   "rescocloud",
	Short: "Serve an emulated Resco Cloud organization (the REST data service)",
	Long: `Serves an emulated Resco Cloud organization from a SQLite file until
interrupted: the REST data service at /rest/v1/data/ (WhoAmI, Metadata,
GetMaxRowVersion, Fetch with FetchXML, RetrieveChanges, Create/Update/
DeleteMultiple, Execute, Blob) with Basic authentication of organization
users, and an OAuth token endpoint at /oauth/token. Resco publishes the
method list, not the JSON shapes: the emulator serves our reading of it,
written down in plugins/rescocloud/emulator/CHOICES.md.

With --seed-accounts N an organization without accounts is filled with N
accounts and, per account, the given numbers of contacts, opportunities and
notes, plus rows in 16 small entities; an organization with accounts is
left as it is.

The organization user is fixed, for offline development only: username
` + rcemulator.DefaultUsername + `, password ` + rcemulator.DefaultPassword + `.`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		ctx := cmd.Context()
		srv, err := rcemulator.New(rcemulator.Options{Path: rcDB, RequestLimit: rcRequestLimit, Logger: logger().Named("emulator")})
		if err != nil {
			return fail(err, "cannot open the emulator database %s", rcDB)
		}
		defer srv.Close()
		if rcSeedAccounts > 0 {
			if err := rcSeedIfEmpty(ctx, srv, cmd); err != nil {
				return err
			}
		}
		l, err := net.Listen("tcp", rcAddr)
		if err != nil {
			return fail(err, "cannot listen on %s", rcAddr)
		}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(l) }()
		base := "http://" + l.Addr().String()
		out := cmd.OutOrStdout()
		fmt.Fprintf(out, "rescocloud emulator serving %s on %s (Ctrl-C stops it)\n", rcDB, base)
		fmt.Fprintf(out, "  data service: %s/rest/v1/data/\n", base)
		fmt.Fprintf(out, "  sign in:      Basic, user %s (password: see --help)\n", rcemulator.DefaultUsername)
		select {
		case <-ctx.Done():
		case err := <-served:
			if err != nil {
				return fail(err, "the emulator stopped")
			}
		}
		return nil
	},
}

func rcSeedIfEmpty(ctx context.Context, srv *rcemulator.Server, cmd *cobra.Command) error {
	n, err := srv.QueryInt(ctx, `SELECT count(*) FROM account`)
	if err != nil {
		return fail(err, "cannot read the emulator database %s", rcDB)
	}
	if n > 0 {
		fmt.Fprintf(cmd.OutOrStdout(), "%s already has %d accounts; not seeding\n", rcDB, n)
		return nil
	}
	start := time.Now()
	err = srv.Seed(ctx, rcemulator.SeedOptions{Accounts: rcSeedAccounts, ContactsPerAccount: rcSeedContacts,
		OpportunitiesPerAccount: rcSeedOpps, NotesPerAccount: rcSeedNotes, RowsPerExtraEntity: rcSeedExtraRows, Users: 3, Seed: rcSeed})
	if errors.Is(err, context.Canceled) {
		return failQuiet(err, "seeding was interrupted; nothing was written")
	}
	if err != nil {
		return fail(err, "cannot seed %s", rcDB)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "seeded %d accounts in %v\n", rcSeedAccounts, time.Since(start).Round(time.Millisecond))
	return nil
}

func init() {
	f := emulatorRescoCmd.Flags()
	f.StringVar(&rcDB, "db", "rescocloud.db", "the emulator's SQLite file (created when missing)")
	f.StringVar(&rcAddr, "addr", "127.0.0.1:8092", "the address to listen on")
	f.IntVar(&rcRequestLimit, "request-limit", 6000, "requests per user per 5 minutes before 429")
	f.IntVar(&rcSeedAccounts, "seed-accounts", 0, "seed this many accounts into an empty organization")
	f.IntVar(&rcSeedContacts, "seed-contacts-per-account", 2, "contacts seeded per account")
	f.IntVar(&rcSeedOpps, "seed-opportunities-per-account", 1, "opportunities seeded per account")
	f.IntVar(&rcSeedNotes, "seed-notes-per-account", 0, "notes (with documents) seeded per account")
	f.IntVar(&rcSeedExtraRows, "seed-rows-per-extra-entity", 10, "rows seeded in each of the 16 small entities")
	f.Int64Var(&rcSeed, "seed", 1, "random seed of the generated data")
	emulatorCmd.AddCommand(emulatorRescoCmd)
}
