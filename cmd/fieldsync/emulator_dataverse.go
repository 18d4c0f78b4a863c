package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/fieldsync/fieldsync/plugins/dataverse/emulator"
)

var (
	dvDB                string
	dvAddr              string
	dvOrgURL            string
	dvTenant            string
	dvClientID          string
	dvClientSecret      string
	dvSeedAccounts      int
	dvSeedContacts      int
	dvSeedOpportunities int
	dvSeedNotes         int
	dvSeed              int64
	dvTDSAddr           string
)

var emulatorDataverseCmd = &cobra.Command{
	Use:   "dataverse",
	Short: "Serve an emulated Dataverse organization (Web API v9.2 and its token endpoint)",
	Long: `Serves an emulated Microsoft Dataverse organization from a SQLite file
until interrupted: the Web API at /api/data/v9.2/ (change tracking, paging,
$batch, conditional writes, note documents in blocks, service protection
limits) and an Entra ID-style token endpoint at /{tenant}/oauth2/v2.0/token.
A connector under development points its token URL and org URL here. With
--tds-addr it also serves the TDS endpoint (read-only SQL, logged in with
the same access tokens; no TLS, so clients connect with encrypt=disable).

With --seed-accounts N a new (empty) organization is filled with N
realistic accounts and, per account, the given numbers of contacts,
opportunities and notes; an organization that has accounts is left as it
is. Fault switches and the request log are at /_emulator/ (no
authentication: keep the address on loopback).`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		ctx := cmd.Context()
		if dvClientID == "" || dvClientSecret == "" {
			return failQuiet(nil, "--client-id and --client-secret go together and must not be empty")
		}
		srv, err := emulator.New(emulator.Options{
			Path:    dvDB,
			OrgURL:  dvOrgURL,
			Tenant:  dvTenant,
			Clients: []emulator.Client{{ID: dvClientID, Secret: dvClientSecret}},
			Logger:  logger().Named("emulator"),
		})
		if err != nil {
			return fail(err, "cannot open the emulator database %s", dvDB)
		}
		defer srv.Close()
		if dvSeedAccounts > 0 {
			if err := seedIfEmpty(ctx, srv, cmd); err != nil {
				return err
			}
		}
		l, err := net.Listen("tcp", dvAddr)
		if err != nil {
			return fail(err, "cannot listen on %s", dvAddr)
		}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(l) }()
		base := "http://" + l.Addr().String()
		out := cmd.OutOrStdout()
		fmt.Fprintf(out, "dataverse emulator serving %s on %s (Ctrl-C stops it)\n", dvDB, base)
		fmt.Fprintf(out, "  web API:  %s%s\n", base, emulator.APIPath)
		fmt.Fprintf(out, "  token:    %s/%s/oauth2/v2.0/token (client_id %s)\n", base, tenantOr(dvTenant), dvClientID)
		fmt.Fprintf(out, "  admin:    %s/_emulator/faults, /_emulator/requests\n", base)
		if dvTDSAddr != "" {
			tl, err := net.Listen("tcp", dvTDSAddr)
			if err != nil {
				return fail(err, "cannot listen on %s for TDS", dvTDSAddr)
			}
			go func() { served <- srv.ServeTDS(tl) }()
			fmt.Fprintf(out, "  TDS:      %s (encrypt=disable; log in with an access token)\n", tl.Addr())
		}
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

func tenantOr(t string) string {
	if t == "" {
		return "{tenant}"
	}
	return t
}

// seedIfEmpty seeds an organization that has no accounts yet.
func seedIfEmpty(ctx context.Context, srv *emulator.Server, cmd *cobra.Command) error {
	n, err := srv.Store().Count(ctx, "account")
	if err != nil {
		return fail(err, "cannot read the emulator database %s", dvDB)
	}
	if n > 0 {
		fmt.Fprintf(cmd.OutOrStdout(), "%s already has %d accounts; not seeding\n", dvDB, n)
		return nil
	}
	start := time.Now()
	err = srv.Seed(ctx, emulator.SeedOptions{Accounts: dvSeedAccounts, ContactsPerAccount: dvSeedContacts,
		OpportunitiesPerAccount: dvSeedOpportunities, AnnotationsPerAccount: dvSeedNotes, Seed: dvSeed})
	if errors.Is(err, context.Canceled) {
		return failQuiet(err, "seeding was interrupted; nothing was written")
	}
	if err != nil {
		return fail(err, "cannot seed %s", dvDB)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "seeded %d accounts in %v\n", dvSeedAccounts, time.Since(start).Round(time.Millisecond))
	return nil
}

func init() {
	f := emulatorDataverseCmd.Flags()
	f.StringVar(&dvDB, "db", "dataverse.db", "the emulator's SQLite file (created when missing)")
	f.StringVar(&dvAddr, "addr", "127.0.0.1:8090", "the address to listen on")
	f.StringVar(&dvOrgURL, "org-url", "", "the org URL links show (default: the address requests came to)")
	f.StringVar(&dvTenant, "tenant", "", "the only tenant the token endpoint accepts (default: any)")
	f.StringVar(&dvClientID, "client-id", emulator.DefaultClientID, "the client id the token endpoint accepts")
	f.StringVar(&dvClientSecret, "client-secret", emulator.DefaultClientSecret, "the client secret the token endpoint accepts")
	f.IntVar(&dvSeedAccounts, "seed-accounts", 0, "seed this many accounts into an empty organization")
	f.IntVar(&dvSeedContacts, "seed-contacts-per-account", 2, "contacts seeded per account")
	f.IntVar(&dvSeedOpportunities, "seed-opportunities-per-account", 1, "opportunities seeded per account")
	f.IntVar(&dvSeedNotes, "seed-notes-per-account", 1, "notes (annotations) seeded per account")
	f.Int64Var(&dvSeed, "seed", 1, "random seed of the generated data")
	f.StringVar(&dvTDSAddr, "tds-addr", "", "also serve the TDS endpoint here, e.g. 127.0.0.1:5558 (default: off)")
	emulatorCmd.AddCommand(emulatorDataverseCmd)
}
