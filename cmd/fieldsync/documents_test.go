package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/core/engine"
	"github.com/fieldsync/fieldsync/plugins/mock"
)

// TestDocumentsCommands: a documents block in the config makes sync list
// and download attachments, "documents list" shows them with blocked ones'
// reasons, and "documents get" fetches a blocked one.
func TestDocumentsCommands(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, DefaultConfig)
	c := []string{"--config", cfg}
	ok(t, "init", dir, "--records", "3", "--user", "alice", "--device", "alice-laptop")
	ctx := context.Background()
	srv, err := mock.OpenServer(ctx, filepath.Join(dir, serverFile))
	if err != nil {
		t.Fatal(err)
	}
	acc, err := srv.QueryText(ctx, "SELECT accountid FROM account ORDER BY accountid LIMIT 1")
	if err != nil {
		t.Fatal(err)
	}
	small, err := srv.AddDocument(ctx, "account", acc, "note.txt", "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	big, err := srv.AddDocument(ctx, "account", acc, "scan.pdf", "application/pdf", bytes.NewReader(bytes.Repeat([]byte("x"), 3<<20)))
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()

	fails(t, `no document "nope" on the device`, append(c, "documents", "get", "nope")...)
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("\ndocuments {\n  max_size_mb = 1\n  parallel = 2\n}\n")
	f.Close()

	out := ok(t, append(c, "sync")...)
	if !strings.Contains(out, "Documents: 2 listed, 1 downloaded") || !strings.Contains(out, "1 blocked") {
		t.Errorf("sync summary lacks the documents:\n%s", out)
	}
	lg := decode[engine.Log](t, "sync --json", ok(t, append(c, "sync", "--json")...))
	if lg.Documents == nil || lg.Documents.Listed != 2 || lg.Documents.Blocked != 1 {
		t.Errorf("sync log documents %+v", lg.Documents)
	}

	if out := ok(t, append(c, "log", "show")...); !strings.Contains(out, "Documents: 2 listed, 0 downloaded, 1 blocked") {
		t.Errorf("log show lacks the documents:\n%s", out)
	}

	out = ok(t, append(c, "documents", "list")...)
	for _, want := range []string{small.ID, "note.txt", "downloaded", big.ID, "blocked", "larger than 1 MB", "documents get ID"} {
		if !strings.Contains(out, want) {
			t.Errorf("documents list lacks %q:\n%s", want, out)
		}
	}
	list := decode[[]documentJSON](t, "documents list --json", ok(t, append(c, "documents", "list", "--state", "blocked", "--json")...))
	if len(list) != 1 || list[0].ID != big.ID || list[0].Reason != "larger than 1 MB" || list[0].File != "" {
		t.Fatalf("blocked documents %+v", list)
	}
	fails(t, `"nope" is not a document state`, append(c, "documents", "list", "--state", "nope")...)

	path := strings.TrimSpace(ok(t, append(c, "documents", "get", big.ID)...))
	if fi, err := os.Stat(path); err != nil || fi.Size() != 3<<20 {
		t.Fatalf("documents get printed %q: %v", path, err)
	}
	if want := filepath.Join(dir, "device.db.documents"); !strings.HasPrefix(path, want) {
		t.Errorf("document file %s is not under %s", path, want)
	}
	list = decode[[]documentJSON](t, "documents list --json", ok(t, append(c, "documents", "list", "--json")...))
	for _, d := range list {
		if d.State != "downloaded" || d.File == "" {
			t.Errorf("after get: %+v", d)
		}
	}
	fails(t, `no document "nope"`, append(c, "documents", "get", "nope")...)
}
