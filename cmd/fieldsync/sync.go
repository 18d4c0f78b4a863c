package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fieldsync/fieldsync/core/engine"
)

var syncFlags struct {
	entities []string
	json     bool
}

var syncCmd = &cobra.Command{
	Use:   "sync",
	Short: "Run one sync cycle: upload local changes, download the server's",
	Long: `Runs one sync cycle of the configured device: local changes go up (parents
before children, conflicts settled by each entity's policy), then the
server's changes come down, every entity incrementally from where it
stopped. Progress shows per entity; a summary follows. Ctrl-C stops the sync
cleanly: what was committed stays, and the next sync resumes from there.

Exits with status 1 when the sync failed; the sync log says why
("fieldsync log show").`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		return runSync(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
	},
}

func init() {
	f := syncCmd.Flags()
	f.StringSliceVar(&syncFlags.entities, "entity", nil, "sync only this entity (repeat or comma-separate for several); uploads always send every pending change")
	f.BoolVar(&syncFlags.json, "json", false, "print the sync log as JSON on stdout instead of the summary")
	root.AddCommand(syncCmd)
}

func runSync(ctx context.Context, stdout, stderr io.Writer) error {
	dev, err := openDevice(ctx, configPath)
	if err != nil {
		return err
	}
	defer dev.Close()
	// With --json, stdout carries the log alone; progress goes to stderr.
	progOut := stdout
	if syncFlags.json {
		progOut = stderr
	}
	prog := newProgress(progOut)
	eng, err := dev.engine(prog.event)
	if err != nil {
		return err
	}
	lg, syncErr := eng.Sync(ctx, engine.SyncOptions{Entities: syncFlags.entities})
	prog.finish()
	if lg != nil {
		if syncFlags.json {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(lg); err != nil {
				return fail(err, "cannot write the sync log as JSON")
			}
		} else {
			printSummary(stdout, lg)
		}
	}
	if syncErr != nil {
		return syncFailure(lg, syncErr)
	}
	return nil
}

// syncFailure says in one sentence why a sync failed, pointing at its log.
func syncFailure(lg *engine.Log, err error) error {
	ref := ""
	if lg != nil && lg.ID > 0 {
		ref = fmt.Sprintf(" (details: %s --config %s log show %d)", commandPrefix(), configPath, lg.ID)
	}
	if errors.Is(err, context.Canceled) {
		return failQuiet(err, "the sync was interrupted; what it committed is kept and the next sync resumes from there%s", ref)
	}
	if lg != nil && len(lg.Errors) > 0 {
		first := lg.Errors[0]
		where := first.Phase
		if first.Entity != "" {
			where += " of " + first.Entity
		}
		more := ""
		if n := len(lg.Errors) - 1; n > 0 {
			more = fmt.Sprintf(" and %d more %s", n, plural(n, "error", "errors"))
		}
		return failQuiet(err, "the sync failed in the %s: %s%s%s", where, oneLine(first.Message), more, ref)
	}
	return fail(err, "the sync failed%s", ref)
}

// printSummary writes what a sync did: per entity, upload, errors and hints.
func printSummary(w io.Writer, lg *engine.Log) {
	took := lg.Ended.Sub(lg.Started)
	id := ""
	if lg.ID > 0 {
		id = fmt.Sprintf(" · log #%d", lg.ID)
	}
	fmt.Fprintf(w, "Sync %s in %s%s\n", lg.Result, dur(took), id)
	if len(lg.Entities) > 0 {
		t := newTable(w, "ENTITY", "MODE", ">RECEIVED", ">CHANGED", ">DELETED", ">CONFLICTS", ">TIME")
		for _, e := range lg.Entities {
			conf := count(e.Conflicts)
			if e.Parked > 0 {
				conf += fmt.Sprintf(" (%d parked)", e.Parked)
			}
			t.row(e.Name, entityMode(e), e.Received, e.Upserted, e.Deleted, conf, ms(e.Ms))
		}
		t.flush()
	}
	fmt.Fprintln(w, uploadLine(lg.Upload))
	printDocuments(w, lg.Documents)
	printBackend(w, lg)
	for _, e := range lg.Errors {
		if lg.Result == "canceled" && e.Message == context.Canceled.Error() {
			continue // the one-sentence error says it once
		}
		fmt.Fprintf(w, "Error in %s: %s\n", errorWhere(e), oneLine(e.Message))
	}
	for _, h := range lg.Hints {
		fmt.Fprintf(w, "Hint: %s\n", h)
	}
	if lg.Upload.Parked > 0 || parked(lg) > 0 {
		fmt.Fprintf(w, "Conflicts wait for you: %s --config %s conflicts list\n", commandPrefix(), configPath)
	}
}

func parked(lg *engine.Log) int {
	n := 0
	for _, e := range lg.Entities {
		n += e.Parked
	}
	return n
}

func errorWhere(e engine.ErrorLog) string {
	s := e.Phase
	if e.Entity != "" {
		s += " of " + e.Entity
	}
	if e.Retryable {
		s += " (retryable)"
	}
	return s
}

// uploadLine sums up an upload in one line.
func uploadLine(u engine.UploadLog) string {
	if u.Changes == 0 {
		return "Upload: nothing to send"
	}
	parts := []string{}
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", count(n), what))
		}
	}
	add(u.Created, "created")
	add(u.Updated, "updated")
	add(u.Deleted, "deleted")
	add(u.Conflicts, plural(u.Conflicts, "conflict", "conflicts"))
	add(u.Parked, "parked")
	add(u.Failed, "failed")
	add(u.Retried, "retried")
	s := "Upload: " + counted(u.Changes, "change", "changes")
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, ", ")
	}
	return s + " in " + ms(u.Ms)
}

// logDuration is how long a logged sync took.
func logDuration(lg *engine.Log) time.Duration { return lg.Ended.Sub(lg.Started) }

// entityMode is an entity's download mode, with the way the connector read
// it when it has more than one (full (tds)).
func entityMode(e engine.EntityLog) string {
	if e.Path != "" {
		return e.Mode + " (" + e.Path + ")"
	}
	return e.Mode
}
