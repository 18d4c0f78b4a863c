package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fieldsync/fieldsync/core/store"
	"github.com/fieldsync/fieldsync/sdk"
)

var conflictsFlags struct {
	json bool
	all  bool
	take string
	set  []string
}

var conflictsCmd = &cobra.Command{
	Use:   "conflicts",
	Short: "List, show and resolve conflicts parked for a person",
	Long: `Conflicts an entity's policy could not settle on its own (policy "manual")
wait here. Resolve one by taking the device's version, the server's, or a
merged record; the resolution is uploaded on the next sync.`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		return runConflictsList(cmd.Context(), cmd.OutOrStdout())
	},
}

var conflictsListCmd = &cobra.Command{
	Use:   "list",
	Short: "List open conflicts (--all: resolved ones too)",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		return runConflictsList(cmd.Context(), cmd.OutOrStdout())
	},
}

var conflictsShowCmd = &cobra.Command{
	Use:   "show ID",
	Short: "Show a conflict field by field: base, device and server values",
	Args:  cobra.ExactArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		return runConflictsShow(cmd.Context(), cmd.OutOrStdout(), args[0])
	},
}

var conflictsResolveCmd = &cobra.Command{
	Use:   "resolve ID (--take local|server | --set field=value ...)",
	Short: "Resolve a conflict; the result is uploaded on the next sync",
	Long: `Resolves a parked conflict:

  --take local    keep the device's version (sent again, against the server's)
  --take server   take the server's version (the device's change is dropped)
  --set f=v ...   keep a merged record: the server's values (or, with
                  --take local, the device's) with these fields set. Values
                  are typed by the entity's schema (numbers, true/false,
                  2026-01-31T14:00:00Z, a choice's number or label); an empty
                  value sets null.`,
	Args: cobra.ExactArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		return runConflictsResolve(cmd.Context(), cmd.OutOrStdout(), args[0])
	},
}

func init() {
	conflictsCmd.PersistentFlags().BoolVar(&conflictsFlags.json, "json", false, "print JSON (list and show)")
	conflictsListCmd.Flags().BoolVar(&conflictsFlags.all, "all", false, "include resolved conflicts")
	conflictsCmd.Flags().BoolVar(&conflictsFlags.all, "all", false, "include resolved conflicts")
	conflictsResolveCmd.Flags().StringVar(&conflictsFlags.take, "take", "", "local or server")
	conflictsResolveCmd.Flags().StringArrayVar(&conflictsFlags.set, "set", nil, "field=value of a merged record (repeat)")
	conflictsCmd.AddCommand(conflictsListCmd, conflictsShowCmd, conflictsResolveCmd)
	root.AddCommand(conflictsCmd)
}

// conflictJSON is a conflict as --json prints it; values are typed by the
// entity's schema (datetimes as RFC 3339 text).
type conflictJSON struct {
	ID            int64          `json:"id"`
	Entity        string         `json:"entity"`
	RecordID      string         `json:"record_id"`
	LocalOp       string         `json:"local_op"`
	Policy        string         `json:"policy"`
	Created       time.Time      `json:"created"`
	Resolved      *time.Time     `json:"resolved,omitempty"`
	Resolution    string         `json:"resolution,omitempty"`
	RemoteDeleted bool           `json:"remote_deleted"`
	RemoteVersion string         `json:"remote_version,omitempty"`
	Base          map[string]any `json:"base,omitempty"`
	Local         map[string]any `json:"local"`
	Remote        map[string]any `json:"remote"`
}

func toConflictJSON(c *store.ParkedConflict, ent *sdk.Entity) conflictJSON {
	out := conflictJSON{
		ID: c.ID, Entity: c.Entity, RecordID: c.RecordID, LocalOp: c.LocalOp, Policy: c.Policy,
		Created: c.CreatedAt, Resolution: c.Resolution, RemoteDeleted: c.RemoteDeleted, RemoteVersion: c.RemoteVersion,
	}
	if !c.ResolvedAt.IsZero() {
		t := c.ResolvedAt
		out.Resolved = &t
	}
	if ent != nil {
		out.Base, out.Local, out.Remote = jsonValues(ent, c.Base), jsonValues(ent, c.Local), jsonValues(ent, c.Remote)
	}
	return out
}

// entityOf finds an entity's schema among those the store keeps.
func entityOf(st *store.Store, name string) *sdk.Entity {
	for _, e := range st.Entities() {
		if e.Name == name {
			return &e
		}
	}
	return nil
}

func runConflictsList(ctx context.Context, w io.Writer) error {
	_, st, err := openStoreOnly(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	list, err := st.Conflicts(ctx, conflictsFlags.all)
	if err != nil {
		return fail(err, "cannot read the conflicts")
	}
	if conflictsFlags.json {
		out := make([]conflictJSON, 0, len(list))
		for i := range list {
			out = append(out, toConflictJSON(&list[i], entityOf(st, list[i].Entity)))
		}
		return writeJSON(w, out)
	}
	if len(list) == 0 {
		if conflictsFlags.all {
			fmt.Fprintln(w, "No conflicts.")
		} else {
			fmt.Fprintln(w, "No open conflicts.")
		}
		return nil
	}
	now := time.Now()
	t := newTable(w, ">ID", "ENTITY", "RECORD", "DEVICE DID", "SERVER", "POLICY", "PARKED", "STATE")
	for _, c := range list {
		server := "changed"
		if c.RemoteDeleted {
			server = "deleted"
		}
		state := "open"
		if !c.ResolvedAt.IsZero() {
			state = "resolved: " + c.Resolution
		}
		t.row(c.ID, c.Entity, c.RecordID, c.LocalOp, server, c.Policy, ago(now.Sub(c.CreatedAt)), state)
	}
	t.flush()
	fmt.Fprintf(w, "Show one: %s --config %s conflicts show ID\n", commandPrefix(), configPath)
	return nil
}

func parseID(s, what string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0, failQuiet(err, "%q is not a %s id; ids are the numbers in the first column of the list", s, what)
	}
	return id, nil
}

func loadConflict(ctx context.Context, st *store.Store, arg string) (*store.ParkedConflict, error) {
	id, err := parseID(arg, "conflict")
	if err != nil {
		return nil, err
	}
	c, err := st.ConflictByID(ctx, id)
	if errors.Is(err, store.ErrNoConflict) {
		return nil, failQuiet(err, "there is no conflict %d; `%s --config %s conflicts list --all` lists them", id, commandPrefix(), configPath)
	}
	if err != nil {
		return nil, fail(err, "cannot read conflict %d", id)
	}
	return c, nil
}

func runConflictsShow(ctx context.Context, w io.Writer, arg string) error {
	_, st, err := openStoreOnly(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := loadConflict(ctx, st, arg)
	if err != nil {
		return err
	}
	ent := entityOf(st, c.Entity)
	if conflictsFlags.json {
		return writeJSON(w, toConflictJSON(c, ent))
	}
	state := "open"
	if !c.ResolvedAt.IsZero() {
		state = "resolved (" + c.Resolution + ") " + ago(time.Since(c.ResolvedAt))
	}
	fmt.Fprintf(w, "Conflict %d · %s %s · %s\n", c.ID, c.Entity, c.RecordID, state)
	server := "changed it"
	if c.RemoteDeleted {
		server = "deleted it"
	}
	fmt.Fprintf(w, "The device did %s, the server %s; policy %s parked it %s.\n", article(c.LocalOp), server, c.Policy, ago(time.Since(c.CreatedAt)))
	if ent == nil {
		fmt.Fprintln(w, "(the store no longer has this entity's schema; --json shows the raw record)")
		return nil
	}
	t := newTable(w, "FIELD", "BASE", "DEVICE", "SERVER", "CHANGED BY")
	for i := range ent.Fields {
		f := &ent.Fields[i]
		base, local, remote := cell(f, c.Base, c.Base != nil), cell(f, c.Local, c.Local != nil), cell(f, c.Remote, !c.RemoteDeleted)
		var by []string
		if c.Local != nil && local != base {
			by = append(by, "device")
		}
		if !c.RemoteDeleted && remote != base {
			by = append(by, "server")
		}
		t.row(f.Name, short(base, 28), short(local, 28), short(remote, 28), strings.Join(by, "+"))
	}
	t.flush()
	if c.ResolvedAt.IsZero() {
		p := commandPrefix() + " --config " + configPath
		fmt.Fprintf(w, "Resolve: %s conflicts resolve %d --take local|server, or --set field=value … for a merged record\n", p, c.ID)
	}
	return nil
}

func article(op string) string {
	switch op {
	case "update":
		return "an update"
	case "create":
		return "a create"
	case "delete":
		return "a delete"
	}
	return op
}

// cell shows one field of one side of a conflict.
func cell(f *sdk.Field, vals map[string]sdk.Value, present bool) string {
	if !present {
		return "(none)"
	}
	v, ok := vals[f.Name]
	if !ok {
		return "(unknown)"
	}
	return showValue(f, v)
}

func runConflictsResolve(ctx context.Context, w io.Writer, arg string) error {
	take := strings.ToLower(conflictsFlags.take)
	switch take {
	case "", "local", "server":
	case "device":
		take = "local"
	case "remote":
		take = "server"
	default:
		return failQuiet(nil, "--take %q is neither local nor server", conflictsFlags.take)
	}
	if take == "" && len(conflictsFlags.set) == 0 {
		return failQuiet(nil, "say how to resolve it: --take local, --take server, or --set field=value for a merged record")
	}
	_, st, err := openStoreOnly(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := loadConflict(ctx, st, arg)
	if err != nil {
		return err
	}
	if !c.ResolvedAt.IsZero() {
		return failQuiet(nil, "conflict %d was already resolved (%s)", c.ID, c.Resolution)
	}
	out, err := resolution(st, c, take)
	if err != nil {
		return err
	}
	if err := st.ResolveConflict(ctx, c.ID, out); err != nil {
		return fail(err, "cannot resolve conflict %d", c.ID)
	}
	how := map[store.OutcomeKind]string{
		store.KeepLocal:  "kept the device's version",
		store.KeepRemote: "took the server's version",
		store.Merged:     "kept a merged record",
	}[out.Kind]
	fmt.Fprintf(w, "Resolved conflict %d (%s %s): %s.\n", c.ID, c.Entity, c.RecordID, how)
	if out.Kind != store.KeepRemote {
		fmt.Fprintf(w, "It reaches the server on the next sync: %s --config %s sync\n", commandPrefix(), configPath)
	}
	return nil
}

// resolution turns the flags into the store's Outcome. A merged record
// starts from the server's values (the device's with --take local, or when
// the server deleted the row) and applies --set, typed by the schema.
func resolution(st *store.Store, c *store.ParkedConflict, take string) (store.Outcome, error) {
	if len(conflictsFlags.set) == 0 {
		if take == "local" {
			return store.Outcome{Kind: store.KeepLocal, Reason: "by hand: device"}, nil
		}
		return store.Outcome{Kind: store.KeepRemote, Reason: "by hand: server"}, nil
	}
	ent := entityOf(st, c.Entity)
	if ent == nil {
		return store.Outcome{}, failQuiet(nil, "the store has no schema for %s; sync once, then resolve", c.Entity)
	}
	start, from := c.Remote, "server"
	if take == "local" || c.RemoteDeleted {
		start, from = c.Local, "device"
	}
	if start == nil {
		return store.Outcome{}, failQuiet(nil, "conflict %d has no record on either side to start a merge from; use --take", c.ID)
	}
	vals := maps.Clone(start)
	for _, kv := range conflictsFlags.set {
		name, text, ok := strings.Cut(kv, "=")
		if !ok {
			return store.Outcome{}, failQuiet(nil, "--set %q is not field=value", kv)
		}
		name = strings.TrimSpace(name)
		f := ent.Field(name)
		if f == nil {
			return store.Outcome{}, failQuiet(nil, "%s has no field %q (fields: %s)", c.Entity, name, strings.Join(ent.FieldNames(), ", "))
		}
		if f.ReadOnly {
			return store.Outcome{}, failQuiet(nil, "field %s of %s is read-only: the server's value stays", name, c.Entity)
		}
		v, err := parseValue(f, text)
		if err != nil {
			return store.Outcome{}, failQuiet(err, "--set %s: %v", name, err)
		}
		vals[name] = v
	}
	return store.Outcome{Kind: store.Merged, Values: vals, Reason: "by hand, from the " + from + "'s values"}, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
