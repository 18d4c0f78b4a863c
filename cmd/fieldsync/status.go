package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fieldsync/fieldsync/core/engine"
	"github.com/fieldsync/fieldsync/core/store"
)

var statusJSON bool

var statusCmd = &cobra.Command{
	Use:   "status",
	Short: "Show pending changes, the last sync of each entity and open conflicts",
	Long: `Shows the device's state from its store alone (it works offline and does not
contact the backend): local changes waiting to be uploaded, by state; each
entity's download mode and last sync; open conflicts; the last sync's result.`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		return runStatus(cmd.Context(), cmd.OutOrStdout())
	},
}

func init() {
	statusCmd.Flags().BoolVar(&statusJSON, "json", false, "print the status as JSON")
	root.AddCommand(statusCmd)
}

// statusReport is the status as --json prints it.
type statusReport struct {
	Store         string         `json:"store"`
	User          string         `json:"user"`
	Device        string         `json:"device"`
	Pending       map[string]int `json:"pending"` // outbox changes by state
	PendingTotal  int            `json:"pending_total"`
	OpenConflicts int            `json:"open_conflicts"`
	Entities      []entityStatus `json:"entities"`
	LastSync      *lastSync      `json:"last_sync,omitempty"`
}

type entityStatus struct {
	Name string `json:"name"`
	// Mode is the store's download mode: new (a full download is due),
	// bulk or resync (a full download is under way and resumes), ready
	// (the next download is incremental).
	Mode     string     `json:"mode"`
	LastSync *time.Time `json:"last_sync,omitempty"`
}

type lastSync struct {
	ID      int64     `json:"id"`
	Result  string    `json:"result"`
	Started time.Time `json:"started"`
	Ms      int64     `json:"ms"`
	Errors  int       `json:"errors"`
}

func runStatus(ctx context.Context, w io.Writer) error {
	cfg, st, err := openStoreOnly(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := readStatus(ctx, st)
	if err != nil {
		return fail(err, "cannot read the status of %s", cfg.Store)
	}
	rep.Store, rep.User, rep.Device = cfg.Store, cfg.User, cfg.Device
	if statusJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printStatus(w, rep)
	return nil
}

func readStatus(ctx context.Context, st *store.Store) (*statusReport, error) {
	rep := &statusReport{}
	var err error
	if rep.Pending, err = st.PendingCount(ctx); err != nil {
		return nil, err
	}
	for _, n := range rep.Pending {
		rep.PendingTotal += n
	}
	open, err := st.Conflicts(ctx, false)
	if err != nil {
		return nil, err
	}
	rep.OpenConflicts = len(open)
	states, err := st.States(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range states {
		es := entityStatus{Name: s.Entity, Mode: string(s.Mode)}
		if !s.LastSync.IsZero() {
			t := s.LastSync
			es.LastSync = &t
		}
		rep.Entities = append(rep.Entities, es)
	}
	logs, err := st.SyncLogs(ctx, 1)
	if err != nil {
		return nil, err
	}
	if len(logs) == 1 {
		le := logs[0]
		ls := &lastSync{ID: le.ID, Result: le.Result, Started: le.StartedAt, Ms: le.EndedAt.Sub(le.StartedAt).Milliseconds()}
		var lg engine.Log
		if json.Unmarshal([]byte(le.JSON), &lg) == nil {
			ls.Errors = len(lg.Errors)
		}
		rep.LastSync = ls
	}
	return rep, nil
}

var modeText = map[string]string{
	string(store.ModeNew):    "new: full download due",
	string(store.ModeBulk):   "first download interrupted: resumes",
	string(store.ModeResync): "full download interrupted: resumes",
	string(store.ModeReady):  "ready: next download incremental",
}

func printStatus(w io.Writer, rep *statusReport) {
	now := time.Now()
	fmt.Fprintf(w, "Device %s (user %s) · store %s\n", rep.Device, rep.User, rep.Store)
	if rep.PendingTotal == 0 {
		fmt.Fprintln(w, "Pending changes: none")
	} else {
		var parts []string
		states := make([]string, 0, len(rep.Pending))
		for s := range rep.Pending {
			states = append(states, s)
		}
		sort.Strings(states)
		for _, s := range states {
			parts = append(parts, fmt.Sprintf("%d %s", rep.Pending[s], s))
		}
		fmt.Fprintf(w, "Pending changes: %d (%s)\n", rep.PendingTotal, strings.Join(parts, ", "))
	}
	if rep.OpenConflicts == 0 {
		fmt.Fprintln(w, "Open conflicts: none")
	} else {
		fmt.Fprintf(w, "Open conflicts: %d (%s --config %s conflicts list)\n", rep.OpenConflicts, commandPrefix(), configPath)
	}
	if ls := rep.LastSync; ls != nil {
		errs := ""
		if ls.Errors > 0 {
			errs = fmt.Sprintf(", %s", counted(ls.Errors, "error", "errors"))
		}
		fmt.Fprintf(w, "Last sync: #%d %s%s, %s, took %s\n", ls.ID, ls.Result, errs, when(ls.Started, now), ms(ls.Ms))
	} else {
		fmt.Fprintln(w, "Last sync: never")
	}
	if len(rep.Entities) == 0 {
		return
	}
	t := newTable(w, "ENTITY", "MODE", "LAST SYNC")
	for _, e := range rep.Entities {
		last := "never"
		if e.LastSync != nil {
			last = when(*e.LastSync, now)
		}
		mode := modeText[e.Mode]
		if mode == "" {
			mode = e.Mode
		}
		t.row(e.Name, mode, last)
	}
	t.flush()
}
