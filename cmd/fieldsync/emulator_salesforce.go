package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/spf13/cobra"

	sfemulator "github.com/fieldsync/fieldsync/plugins/salesforce/emulator"
)

var (
	sfDB                string
	sfAddr              string
	sfDailyLimit        int
	sfSeedAccounts      int
	sfSeedContacts      int
	sfSeedOpportunities int
	sfSeedDocuments     int
	sfSeed              int64
)

var emulatorSalesforceCmd = &cobra.Command{
	Use:   "salesforce",
	Short: "Serve an emulated Salesforce org (REST API and its OAuth token endpoint)",
	Long: `Serves an emulated Salesforce org from a SQLite file until interrupted:
the OAuth token endpoint at /services/oauth2/token (password, client
credentials, JWT bearer and refresh token grants) and the REST API at
/services/data/vNN.N/ (SOQL query, queryMore and queryAll, describe, sObject
rows and Collections, composite, updated and deleted windows, files,
conditional updates, Sforce-Limit-Info and the daily request limit).
A connector under development points its login_url here.

With --seed-accounts N an org without accounts is filled with N realistic
accounts and, per account, the given numbers of contacts, opportunities
and files; an org that has accounts is left as it is.

The org's one OAuth client and user are fixed, for offline development
only: client_id ` + sfemulator.DefaultClientID + `, client_secret
` + sfemulator.DefaultClientSecret + `, username ` + sfemulator.DefaultUsername + `,
password ` + sfemulator.DefaultPassword + `.`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		ctx := cmd.Context()
		srv, err := sfemulator.New(sfemulator.Options{Path: sfDB, DailyLimit: sfDailyLimit, Logger: logger().Named("emulator")})
		if err != nil {
			return fail(err, "cannot open the emulator database %s", sfDB)
		}
		defer srv.Close()
		if sfSeedAccounts > 0 {
			if err := sfSeedIfEmpty(ctx, srv, cmd); err != nil {
				return err
			}
		}
		l, err := net.Listen("tcp", sfAddr)
		if err != nil {
			return fail(err, "cannot listen on %s", sfAddr)
		}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(l) }()
		base := "http://" + l.Addr().String()
		out := cmd.OutOrStdout()
		fmt.Fprintf(out, "salesforce emulator serving %s on %s (Ctrl-C stops it)\n", sfDB, base)
		fmt.Fprintf(out, "  login_url: %s (token: %s/services/oauth2/token)\n", base, base)
		fmt.Fprintf(out, "  REST API:  %s/services/data/v60.0/\n", base)
		fmt.Fprintf(out, "  sign in:   client_id %s, username %s (client secret and password: see --help)\n",
			sfemulator.DefaultClientID, sfemulator.DefaultUsername)
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

// sfSeedIfEmpty seeds an org that has no accounts yet.
func sfSeedIfEmpty(ctx context.Context, srv *sfemulator.Server, cmd *cobra.Command) error {
	n, err := srv.QueryInt(ctx, `SELECT count(*) FROM Account`)
	if err != nil {
		return fail(err, "cannot read the emulator database %s", sfDB)
	}
	if n > 0 {
		fmt.Fprintf(cmd.OutOrStdout(), "%s already has %d accounts; not seeding\n", sfDB, n)
		return nil
	}
	start := time.Now()
	err = srv.Seed(ctx, sfemulator.SeedOptions{Accounts: sfSeedAccounts, ContactsPerAccount: sfSeedContacts,
		OpportunitiesPerAccount: sfSeedOpportunities, DocumentsPerAccount: sfSeedDocuments, Users: 3, Seed: sfSeed})
	if errors.Is(err, context.Canceled) {
		return failQuiet(err, "seeding was interrupted; nothing was written")
	}
	if err != nil {
		return fail(err, "cannot seed %s", sfDB)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "seeded %d accounts in %v\n", sfSeedAccounts, time.Since(start).Round(time.Millisecond))
	return nil
}

func init() {
	f := emulatorSalesforceCmd.Flags()
	f.StringVar(&sfDB, "db", "salesforce.db", "the emulator's SQLite file (created when missing)")
	f.StringVar(&sfAddr, "addr", "127.0.0.1:8091", "the address to listen on")
	f.IntVar(&sfDailyLimit, "daily-limit", 100000, "API requests allowed per 24 hours")
	f.IntVar(&sfSeedAccounts, "seed-accounts", 0, "seed this many accounts into an empty org")
	f.IntVar(&sfSeedContacts, "seed-contacts-per-account", 2, "contacts seeded per account")
	f.IntVar(&sfSeedOpportunities, "seed-opportunities-per-account", 1, "opportunities seeded per account")
	f.IntVar(&sfSeedDocuments, "seed-files-per-account", 0, "files (ContentVersion) seeded per account")
	f.Int64Var(&sfSeed, "seed", 1, "random seed of the generated data")
	emulatorCmd.AddCommand(emulatorSalesforceCmd)
}
