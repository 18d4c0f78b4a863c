package store

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

func sdoc(id, entity, record, name, version string, size int64) sdk.Document {
	return sdk.Document{ID: id, Entity: entity, RecordID: record, Name: name, MimeType: "text/plain", Size: size,
		Modified: time.UnixMicro(1700000000000000).UTC(), Version: version}
}

func docsByID(t *testing.T, s *Store, q DocQuery) map[string]Document {
	t.Helper()
	list, err := s.Documents(bg, q)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Document{}
	for _, d := range list {
		out[d.ID] = d
	}
	return out
}

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDocumentIndex(t *testing.T) {
	s, path := openStore(t)
	ensure(t, s, accountEnt, nil)
	h := openHost(t, path)
	h.exec("INSERT INTO account (accountid, name) VALUES ('a1', 'One'), ('a2', 'Two')")
	dir := t.TempDir()

	var stale []string
	onStale := func(old Document) error { stale = append(stale, old.ID+"@"+old.Version); return nil }
	n, err := s.UpsertDocuments(bg, []sdk.Document{sdoc("d1", "account", "a1", "one.txt", "1", 10), sdoc("d2", "account", "a2", "two.txt", "1", 20)}, onStale)
	if err != nil || n != 2 {
		t.Fatalf("upsert: %d changed, %v", n, err)
	}
	got := docsByID(t, s, DocQuery{})
	if d := got["d1"]; d.State != DocPending || d.Size != 10 || d.Version != "1" || d.Name != "one.txt" || !d.Modified.Equal(time.UnixMicro(1700000000000000)) {
		t.Fatalf("indexed %+v", d)
	}
	mustDoc(t, s.DocumentProgress(bg, "d1", 4))
	mustDoc(t, s.MarkDocumentDownloaded(bg, "d2", "account/d2.txt", 20))
	mustDoc(t, s.MarkDocumentBlocked(bg, "d1", "larger than 1 KB"))
	if d := docsByID(t, s, DocQuery{States: []DocState{DocBlocked}}); len(d) != 1 || d["d1"].Reason != "larger than 1 KB" || d["d1"].BytesDone != 0 {
		t.Fatalf("blocked: %+v", d)
	}
	mustDoc(t, s.MarkDocumentPending(bg, "d1"))
	mustDoc(t, s.DocumentProgress(bg, "d1", 4))
	if d := docsByID(t, s, DocQuery{IDs: []string{"d1"}})["d1"]; d.State != DocPending || d.Reason != "" || d.BytesDone != 4 {
		t.Fatalf("back to pending: %+v", d)
	}
	if b, err := s.DocumentBytes(bg); err != nil || b != 20 {
		t.Fatalf("document bytes %d %v", b, err)
	}

	// The same listing changes nothing; a new version goes back to pending
	// after the stale callback; a rename keeps the state.
	n, err = s.UpsertDocuments(bg, []sdk.Document{sdoc("d1", "account", "a1", "one.txt", "1", 10), sdoc("d2", "account", "a2", "two.txt", "1", 20)}, onStale)
	if err != nil || n != 0 || len(stale) != 0 {
		t.Fatalf("same listing: %d changed, stale %v, %v", n, stale, err)
	}
	n, err = s.UpsertDocuments(bg, []sdk.Document{sdoc("d1", "account", "a1", "one-renamed.txt", "1", 10), sdoc("d2", "account", "a2", "two.txt", "2", 25)}, onStale)
	if err != nil || n != 1 || len(stale) != 1 || stale[0] != "d2@1" {
		t.Fatalf("new version: %d changed, stale %v, %v", n, stale, err)
	}
	got = docsByID(t, s, DocQuery{})
	if d := got["d2"]; d.State != DocPending || d.Version != "2" || d.Size != 25 || d.BytesDone != 0 || d.Path != "account/d2.txt" {
		t.Fatalf("new version: %+v", d)
	}
	if d := got["d1"]; d.Name != "one-renamed.txt" || d.BytesDone != 4 {
		t.Fatalf("renamed: %+v", d)
	}

	// Record ids in batches, in key order.
	h.exec("INSERT INTO account (accountid, name) VALUES ('a3', 'Three')")
	ids, err := s.RecordIDs(bg, "account", "", 2)
	if err != nil || len(ids) != 2 || ids[0] != "a1" || ids[1] != "a2" {
		t.Fatalf("first batch %v %v", ids, err)
	}
	ids, err = s.RecordIDs(bg, "account", "a2", 2)
	if err != nil || len(ids) != 1 || ids[0] != "a3" {
		t.Fatalf("second batch %v %v", ids, err)
	}

	// A document the server no longer lists goes with its files.
	touch(t, filepath.Join(dir, "account", "d2.txt"))
	touch(t, filepath.Join(dir, PartPath("account", "d2")))
	n, err = s.RemoveUnlisted(bg, dir, "account", []string{"a1", "a2"}, []string{"d1"})
	if err != nil || n != 1 {
		t.Fatalf("remove unlisted: %d %v", n, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "account", "d2.txt")); !os.IsNotExist(err) {
		t.Error("the unlisted document's file is still there")
	}
	if _, err := os.Stat(filepath.Join(dir, PartPath("account", "d2"))); !os.IsNotExist(err) {
		t.Error("the unlisted document's partial file is still there")
	}

	// A document whose row left the device goes too.
	mustDoc(t, s.MarkDocumentDownloaded(bg, "d1", "account/d1.txt", 10))
	touch(t, filepath.Join(dir, "account", "d1.txt"))
	h.exec("DELETE FROM account WHERE accountid = 'a1'")
	n, err = s.RemoveOrphanDocuments(bg, dir)
	if err != nil || n != 1 {
		t.Fatalf("remove orphans: %d %v", n, err)
	}
	if len(docsByID(t, s, DocQuery{})) != 0 {
		t.Error("documents left in the index")
	}
	if _, err := os.Stat(filepath.Join(dir, "account", "d1.txt")); !os.IsNotExist(err) {
		t.Error("the orphan's file is still there")
	}
}

// A document made on the device waits while its record is a local create,
// follows the record's rename to the server's id, and takes the server's
// id and version when uploaded.
func TestLocalDocuments(t *testing.T) {
	s, path := openStore(t)
	ensure(t, s, accountEnt, nil)
	h := openHost(t, path)
	h.exec("INSERT INTO account (accountid, name) VALUES ('tmp1', 'Offline')")
	local := Document{Document: sdk.Document{ID: "L1", Entity: "account", RecordID: "tmp1", Name: "a.pdf", Size: 3}, Path: "account/L1.pdf"}
	mustDoc(t, s.AddLocalDocument(bg, local))
	if ok, err := s.HasRecord(bg, "account", "tmp1"); !ok || err != nil {
		t.Fatalf("HasRecord: %v %v", ok, err)
	}
	if ok, _ := s.HasRecord(bg, "account", "nope"); ok {
		t.Fatal("HasRecord found a missing row")
	}
	ready, waiting, err := s.LocalDocuments(bg)
	if err != nil || len(ready) != 0 || waiting != 1 {
		t.Fatalf("while the record is a local create: ready %v waiting %d %v", ready, waiting, err)
	}
	if b, _ := s.DocumentBytes(bg); b != 3 {
		t.Errorf("document bytes %d, want 3", b)
	}
	// The server takes the record under its own id.
	changes, err := s.Outbox(bg)
	if err != nil || len(changes) != 1 {
		t.Fatalf("outbox %v %v", changes, err)
	}
	mustDoc(t, s.MarkInflight(bg, changes))
	if _, err := s.ApplyResults(bg, changes, []sdk.ChangeResult{{ChangeID: changes[0].ChangeID, Status: sdk.StatusApplied, ID: "srv1", Version: "7"}}, nil); err != nil {
		t.Fatal(err)
	}
	ready, waiting, err = s.LocalDocuments(bg)
	if err != nil || len(ready) != 1 || waiting != 0 || ready[0].RecordID != "srv1" || ready[0].State != DocLocalNew || ready[0].Path != "account/L1.pdf" {
		t.Fatalf("after the record's upload: ready %+v waiting %d %v", ready, waiting, err)
	}
	// A listing meanwhile does not touch a local document.
	if _, err := s.UpsertDocuments(bg, []sdk.Document{sdoc("L1", "account", "srv1", "a.pdf", "9", 3)}, nil); err != nil {
		t.Fatal(err)
	}
	mustDoc(t, s.DocumentUploaded(bg, "L1", sdoc("S1", "account", "srv1", "a.pdf", "9", 3)))
	got := docsByID(t, s, DocQuery{})
	if d, ok := got["S1"]; !ok || len(got) != 1 || d.State != DocDownloaded || d.Version != "9" || d.Path != "account/L1.pdf" || d.BytesDone != 3 {
		t.Fatalf("after the upload: %+v", got)
	}
}

func TestSafeName(t *testing.T) {
	seen := map[string]string{}
	for _, s := range []string{"abc-DEF.09", "a/b", "a_2fb", "..", ".", "", "a b", "a_b", "ü"} {
		n := SafeName(s)
		if other, dup := seen[n]; dup {
			t.Errorf("%q and %q both become %q", s, other, n)
		}
		seen[n] = s
		if n == "" || n == "." || n == ".." || filepath.Base(n) != n {
			t.Errorf("SafeName(%q) = %q is no single path element", s, n)
		}
	}
	if SafeName("abc-DEF.09") != "abc-DEF.09" {
		t.Error("a plain name changed")
	}
}

func mustDoc(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
