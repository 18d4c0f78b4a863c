package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fieldsync/fieldsync/core/engine"
	"github.com/fieldsync/fieldsync/core/store"
)

var logFlags struct {
	json  bool
	limit int
}

var logCmd = &cobra.Command{
	Use:   "log",
	Short: "List and show the device's sync logs",
	Long: `Every sync writes a log into the device's store: who synced, from where,
each phase's time, per entity what came down and how fast, what went up,
errors with their cause, and hints where a setting looks wrong.`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		return runLogList(cmd.Context(), cmd.OutOrStdout())
	},
}

var logListCmd = &cobra.Command{
	Use:   "list",
	Short: "List the newest sync logs",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		return runLogList(cmd.Context(), cmd.OutOrStdout())
	},
}

var logShowCmd = &cobra.Command{
	Use:   "show [ID]",
	Short: "Show one sync log in detail (default: the newest)",
	Args:  cobra.MaximumNArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		id := ""
		if len(args) == 1 {
			id = args[0]
		}
		return runLogShow(cmd.Context(), cmd.OutOrStdout(), id)
	},
}

func init() {
	logCmd.PersistentFlags().BoolVar(&logFlags.json, "json", false, "print the stored JSON")
	for _, c := range []*cobra.Command{logCmd, logListCmd} {
		c.Flags().IntVar(&logFlags.limit, "limit", 20, "show at most this many logs, newest first (0: all)")
	}
	logCmd.AddCommand(logListCmd, logShowCmd)
	root.AddCommand(logCmd)
}

func decodeLog(le store.LogEntry) (*engine.Log, error) {
	var lg engine.Log
	if err := json.Unmarshal([]byte(le.JSON), &lg); err != nil {
		return nil, fail(err, "sync log %d is not valid JSON", le.ID)
	}
	lg.ID = le.ID
	return &lg, nil
}

func runLogList(ctx context.Context, w io.Writer) error {
	if logFlags.limit < 0 {
		return failQuiet(nil, "--limit must be 0 (all) or more, not %d", logFlags.limit)
	}
	_, st, err := openStoreOnly(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	entries, err := st.SyncLogs(ctx, logFlags.limit)
	if err != nil {
		return fail(err, "cannot read the sync logs")
	}
	if logFlags.json {
		out := make([]json.RawMessage, 0, len(entries))
		for _, le := range entries {
			out = append(out, json.RawMessage(le.JSON))
		}
		return writeJSON(w, out)
	}
	if len(entries) == 0 {
		fmt.Fprintln(w, "No syncs yet.")
		return nil
	}
	now := time.Now()
	t := newTable(w, ">ID", "STARTED", ">TOOK", "RESULT", ">DOWN", ">UP", ">CONFLICTS", ">ERRORS")
	for _, le := range entries {
		lg, err := decodeLog(le)
		if err != nil {
			return err
		}
		_, changed, deleted := lg.Counts()
		conflicts := lg.Upload.Conflicts
		for _, e := range lg.Entities {
			conflicts += e.Conflicts
		}
		t.row(le.ID, when(le.StartedAt, now), dur(le.EndedAt.Sub(le.StartedAt)), le.Result,
			changed+deleted, lg.Upload.Changes, conflicts, len(lg.Errors))
	}
	t.flush()
	fmt.Fprintln(w, "DOWN counts rows changed or deleted locally, UP the changes sent.")
	return nil
}

func runLogShow(ctx context.Context, w io.Writer, arg string) error {
	_, st, err := openStoreOnly(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	var le *store.LogEntry
	if arg == "" || arg == "last" {
		list, err := st.SyncLogs(ctx, 1)
		if err != nil {
			return fail(err, "cannot read the sync logs")
		}
		if len(list) == 0 {
			return failQuiet(nil, "this device has not synced yet")
		}
		le = &list[0]
	} else {
		id, err := parseID(arg, "sync log")
		if err != nil {
			return err
		}
		if le, err = st.SyncLog(ctx, id); err != nil {
			return failQuiet(err, "there is no sync log %d; `%s --config %s log list` lists them", id, commandPrefix(), configPath)
		}
	}
	if logFlags.json {
		var b bytes.Buffer
		if err := json.Indent(&b, []byte(le.JSON), "", "  "); err != nil {
			return fail(err, "sync log %d is not valid JSON", le.ID)
		}
		b.WriteByte('\n')
		_, err := w.Write(b.Bytes())
		return err
	}
	lg, err := decodeLog(*le)
	if err != nil {
		return err
	}
	printLog(w, lg)
	return nil
}

// printLog writes one sync log for a person.
func printLog(w io.Writer, lg *engine.Log) {
	fmt.Fprintf(w, "Sync log #%d · %s · %s · took %s\n", lg.ID, lg.Result,
		lg.Started.Local().Format("2006-01-02 15:04:05"), dur(logDuration(lg)))
	who := []string{"user " + lg.User, "device " + lg.Device, lg.Platform}
	if lg.AppVersion != "" {
		who = append(who, "app "+lg.AppVersion)
	}
	if lg.Connector != "" {
		who = append(who, "connector "+lg.Connector)
	}
	fmt.Fprintln(w, "  "+strings.Join(who, " · "))
	var phases []string
	for _, p := range lg.Phases {
		phases = append(phases, p.Name+" "+ms(p.Ms))
	}
	fmt.Fprintln(w, "Phases: "+strings.Join(phases, " · "))
	if len(lg.Entities) > 0 {
		fmt.Fprintln(w, "Download:")
		t := newTable(w, "ENTITY", "MODE", ">RECEIVED", ">CHANGED", ">SAME", ">DELETED", ">CONFLICTS", ">PAGES", ">KB", ">TIME", ">MS/REC", ">CALLS")
		for _, e := range lg.Entities {
			conf := count(e.Conflicts)
			if e.Parked > 0 {
				conf += fmt.Sprintf(" (%d parked)", e.Parked)
			}
			t.row(e.Name, entityMode(e), e.Received, e.Upserted, e.Unchanged, e.Deleted, conf, e.Pages,
				int(e.Bytes/1024), ms(e.Ms), fmt.Sprintf("%.3f", e.MsPerRecord), e.Calls)
		}
		t.flush()
	}
	u := lg.Upload
	fmt.Fprintln(w, uploadLine(u))
	if u.Changes > 0 {
		fmt.Fprintf(w, "  %s, %s\n", counted(u.Batches, "batch", "batches"), counted(u.Calls, "call", "calls"))
	}
	printDocuments(w, lg.Documents)
	printBackend(w, lg)
	if c := lg.Cleanup; c.ResolvedConflicts+c.OldLogs > 0 {
		fmt.Fprintf(w, "Cleanup: removed %s and %s\n",
			counted(c.ResolvedConflicts, "old resolved conflict", "old resolved conflicts"), counted(c.OldLogs, "old log", "old logs"))
	}
	if len(lg.Errors) > 0 {
		fmt.Fprintln(w, "Errors:")
		for _, e := range lg.Errors {
			kind := e.Kind
			if kind == "" {
				kind = "error"
			}
			fmt.Fprintf(w, "  %s [%s]: %s\n", errorWhere(e), kind, oneLine(e.Message))
		}
	}
	for _, h := range lg.Hints {
		fmt.Fprintf(w, "Hint: %s\n", h)
	}
}
