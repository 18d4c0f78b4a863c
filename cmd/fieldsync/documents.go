package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fieldsync/fieldsync/core/config"
	"github.com/fieldsync/fieldsync/core/engine"
	"github.com/fieldsync/fieldsync/core/store"
)

var documentsFlags struct {
	state  string
	entity string
	record string
	json   bool
}

var documentsCmd = &cobra.Command{
	Use:   "documents",
	Short: "List the documents (attachments) of the device's rows, fetch one on demand",
	Long: `Documents are the attachments of the rows on the device. A sync lists them
and downloads those the config's documents block allows; the others stay
listed as blocked, with the reason, and "documents get ID" fetches one
whatever the filter says.`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		return runDocumentsList(cmd.Context(), cmd.OutOrStdout())
	},
}

var documentsListCmd = &cobra.Command{
	Use:   "list",
	Short: "List the documents the device knows (works offline)",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		return runDocumentsList(cmd.Context(), cmd.OutOrStdout())
	},
}

var documentsGetCmd = &cobra.Command{
	Use:   "get ID",
	Short: "Download one document now, even a blocked one, and print its file's path",
	Args:  cobra.ExactArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		return runDocumentsGet(cmd.Context(), cmd.OutOrStdout(), args[0])
	},
}

var docStates = []string{string(store.DocPending), string(store.DocDownloaded), string(store.DocBlocked), string(store.DocLocalNew)}

func init() {
	for _, c := range []*cobra.Command{documentsCmd, documentsListCmd} {
		f := c.Flags()
		f.StringVar(&documentsFlags.state, "state", "", "only documents in this state: "+strings.Join(docStates, ", "))
		f.StringVar(&documentsFlags.entity, "entity", "", "only documents of this entity")
		f.StringVar(&documentsFlags.record, "record", "", "only documents of this row (its id)")
		f.BoolVar(&documentsFlags.json, "json", false, "print JSON")
	}
	documentsCmd.AddCommand(documentsListCmd, documentsGetCmd)
	root.AddCommand(documentsCmd)
}

// documentOptions turns the config's documents block into the engine's
// documents phase (nil: off).
func documentOptions(cfg *config.Config) *engine.DocumentOptions {
	d := cfg.Documents
	if d == nil {
		return nil
	}
	f := engine.DocumentFilter{MaxSize: d.MaxSize, Suffix: d.Suffix, Quota: d.Quota, Include: d.Include, Exclude: d.Exclude}
	if len(d.Entities) > 0 {
		f.Entities = map[string]engine.DocumentRule{}
		for name, r := range d.Entities {
			f.Entities[name] = engine.DocumentRule{MaxSize: r.MaxSize, Suffix: r.Suffix}
		}
	}
	return &engine.DocumentOptions{Dir: d.Dir, Parallel: d.Parallel, Filter: f}
}

// documentsDir is where the device's document files are, as the engine
// places them.
func documentsDir(cfg *config.Config) string {
	if cfg.Documents != nil && cfg.Documents.Dir != "" {
		return cfg.Documents.Dir
	}
	return cfg.Store + ".documents"
}

// documentJSON is a document as --json prints it.
type documentJSON struct {
	ID        string    `json:"id"`
	Entity    string    `json:"entity"`
	RecordID  string    `json:"record_id"`
	Name      string    `json:"name"`
	MimeType  string    `json:"mime_type,omitempty"`
	Size      int64     `json:"size"`
	Modified  time.Time `json:"modified,omitzero"`
	Version   string    `json:"version,omitempty"`
	State     string    `json:"state"`
	Reason    string    `json:"reason,omitempty"`
	File      string    `json:"file,omitempty"`
	BytesDone int64     `json:"bytes_done,omitempty"`
}

func runDocumentsList(ctx context.Context, w io.Writer) error {
	if s := documentsFlags.state; s != "" && !slices.Contains(docStates, s) {
		return failQuiet(nil, "--state %q is not a document state; use %s", s, strings.Join(docStates, ", "))
	}
	cfg, st, err := openStoreOnly(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	q := store.DocQuery{Entity: documentsFlags.entity, RecordID: documentsFlags.record}
	if documentsFlags.state != "" {
		q.States = []store.DocState{store.DocState(documentsFlags.state)}
	}
	docs, err := st.Documents(ctx, q)
	if err != nil {
		return fail(err, "cannot read the documents of %s", cfg.Store)
	}
	dir := documentsDir(cfg)
	file := func(d store.Document) string {
		if d.Path == "" || (d.State != store.DocDownloaded && d.State != store.DocLocalNew) {
			return ""
		}
		return filepath.Join(dir, d.Path)
	}
	if documentsFlags.json {
		out := make([]documentJSON, 0, len(docs))
		for _, d := range docs {
			out = append(out, documentJSON{
				ID: d.ID, Entity: d.Entity, RecordID: d.RecordID, Name: d.Name, MimeType: d.MimeType, Size: d.Size,
				Modified: d.Modified, Version: d.Version, State: string(d.State), Reason: d.Reason, File: file(d), BytesDone: d.BytesDone,
			})
		}
		return writeJSON(w, out)
	}
	if len(docs) == 0 {
		fmt.Fprintln(w, "No documents.")
		if cfg.Documents == nil {
			fmt.Fprintln(w, "The config has no documents block, so syncs do not list any.")
		}
		return nil
	}
	t := newTable(w, "ID", "ENTITY", "RECORD", "NAME", ">SIZE", "STATE", "DETAIL")
	for _, d := range docs {
		detail := d.Reason
		switch {
		case d.State == store.DocPending && d.BytesDone > 0:
			detail = fmt.Sprintf("%s of %s downloaded", engine.FormatBytes(d.BytesDone), engine.FormatBytes(d.Size))
		case file(d) != "":
			detail = file(d)
		}
		t.row(d.ID, d.Entity, d.RecordID, d.Name, engine.FormatBytes(d.Size), d.State, detail)
	}
	t.flush()
	if slices.ContainsFunc(docs, func(d store.Document) bool { return d.State == store.DocBlocked }) {
		fmt.Fprintf(w, "Fetch a blocked one: %s --config %s documents get ID\n", commandPrefix(), configPath)
	}
	return nil
}

func runDocumentsGet(ctx context.Context, w io.Writer, id string) error {
	dev, err := openDevice(ctx, configPath)
	if err != nil {
		return err
	}
	defer dev.Close()
	d, err := dev.store.Document(ctx, id)
	if err != nil {
		return fail(err, "cannot read document %s", id)
	}
	if d == nil {
		return failQuiet(nil, "there is no document %q on the device; `%s --config %s documents list` lists them (a sync lists new ones)",
			id, commandPrefix(), configPath)
	}
	eng, err := dev.engine(nil)
	if err != nil {
		return err
	}
	path, err := eng.FetchDocument(ctx, id)
	if err != nil {
		return fail(err, "cannot download document %s (%s)", id, d.Name)
	}
	fmt.Fprintln(w, path)
	return nil
}

// printDocuments writes the documents phase's line of a sync summary.
func printDocuments(w io.Writer, dl *engine.DocumentLog) {
	if dl == nil {
		return
	}
	if dl.Skipped != "" {
		fmt.Fprintf(w, "Documents: skipped: %s\n", dl.Skipped)
		return
	}
	s := fmt.Sprintf("Documents: %s listed, %d downloaded", count(dl.Listed), dl.Downloaded)
	if dl.Bytes > 0 {
		s += fmt.Sprintf(" (%s at %s/s)", engine.FormatBytes(dl.Bytes), engine.FormatBytes(int64(dl.BytesPerSec)))
	}
	for _, p := range []struct {
		n    int
		what string
	}{{dl.Resumed, "resumed"}, {dl.Blocked, "blocked"}, {dl.Uploaded, "uploaded"}, {dl.Removed, "removed"}, {dl.Waiting, "waiting"}, {dl.Failed, "failed"}} {
		if p.n > 0 {
			s += fmt.Sprintf(", %d %s", p.n, p.what)
		}
	}
	fmt.Fprintln(w, s+" in "+ms(dl.Ms))
}

// printBackend writes what the change check skipped and what the connector
// spent on its backend, when the log has them.
func printBackend(w io.Writer, lg *engine.Log) {
	if cc := lg.ChangeCheck; cc != nil {
		if cc.Error != "" {
			fmt.Fprintf(w, "Change check: failed (%s); every entity was fetched\n", cc.Error)
		} else {
			fmt.Fprintf(w, "Change check: one request for %d entities, %d unchanged (not fetched)\n", cc.Entities, cc.Unchanged)
		}
	}
	if b := lg.Backend; b != nil {
		fmt.Fprintf(w, "Backend: %d requests, %d retried, %d ms throttled\n", b.Requests, b.Retries, b.ThrottledMs)
	}
	var removed []string
	for _, r := range lg.Cleanup.Removed {
		s := fmt.Sprintf("%s %d (%s)", r.Entity, r.Removed, r.Reason)
		if r.Kept > 0 {
			s += fmt.Sprintf(", %d kept with local changes", r.Kept)
		}
		removed = append(removed, s)
	}
	if len(removed) > 0 {
		fmt.Fprintf(w, "Cleanup removed: %s\n", strings.Join(removed, "; "))
	}
	if len(lg.Cleanup.Dropped) > 0 {
		fmt.Fprintf(w, "Dropped (no longer configured): %s\n", strings.Join(lg.Cleanup.Dropped, ", "))
	}
}
