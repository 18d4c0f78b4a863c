package mock

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

// chunkWriter records the largest single write, to prove streaming.
type chunkWriter struct {
	bytes.Buffer
	largest int
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	w.largest = max(w.largest, len(p))
	return w.Buffer.Write(p)
}

func TestDocuments(t *testing.T) {
	s, path := newServer(t)
	ctx := context.Background()
	must(t, s.Seed(ctx, SeedOptions{Accounts: 2, ContactsPerAccount: 1, Seed: 2}))
	c := newConnector(t, path, "dev")
	accounts := fetchAll(t, c, sdk.FetchRequest{Entity: "account"}).order
	contacts := fetchAll(t, c, sdk.FetchRequest{Entity: "contact"}).order

	big := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320 kB, several chunks
	doc, err := s.AddDocument(ctx, "account", accounts[0], "big.bin", "", bytes.NewReader(big))
	must(t, err)
	if doc.Size != int64(len(big)) || doc.MimeType != "application/octet-stream" || !isGUID(doc.ID) || doc.Version == "" {
		t.Fatalf("document %+v", doc)
	}
	// A reader of unknown size is spooled.
	_, err = s.AddDocument(ctx, "account", accounts[1], "note.txt", "text/plain", io.MultiReader(strings.NewReader("hello "), strings.NewReader("world")))
	must(t, err)
	for i := range 5 {
		_, err := s.AddDocument(ctx, "contact", contacts[0], fmt.Sprintf("photo%d.jpg", i), "image/jpeg", strings.NewReader("jpeg"))
		must(t, err)
	}
	if _, err := s.AddDocument(ctx, "account", a4, "x", "", strings.NewReader("x")); sdk.KindOf(err) != sdk.Permanent || err == nil {
		t.Errorf("document of a missing row: %v", err)
	}

	d, ok := sdk.AsDocuments(ctx, c)
	if !ok {
		t.Fatal("connector does not offer documents")
	}
	list := func(q sdk.DocumentQuery) ([]sdk.Document, int) {
		var docs []sdk.Document
		pages := 0
		must(t, d.ListDocuments(ctx, q, func(p *sdk.DocumentPage) error {
			pages++
			docs = append(docs, p.Documents...)
			return nil
		}))
		return docs, pages
	}
	tests := []struct {
		name      string
		q         sdk.DocumentQuery
		wantDocs  int
		wantPages int
	}{
		{"all", sdk.DocumentQuery{}, 7, 1},
		{"paged", sdk.DocumentQuery{PageSize: 2}, 7, 4},
		{"by entity", sdk.DocumentQuery{Entity: "contact"}, 5, 1},
		{"by rows", sdk.DocumentQuery{Entity: "account", RecordIDs: []string{accounts[1], a4}}, 1, 1},
		{"no rows", sdk.DocumentQuery{RecordIDs: []string{}}, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, pages := list(tt.q)
			if len(docs) != tt.wantDocs || pages != tt.wantPages {
				t.Errorf("%d documents in %d pages, want %d in %d", len(docs), pages, tt.wantDocs, tt.wantPages)
			}
		})
	}
	// Resume a listing from a cursor.
	var cur []byte
	err = d.ListDocuments(ctx, sdk.DocumentQuery{PageSize: 3}, func(p *sdk.DocumentPage) error {
		cur = p.Cursor
		return errStop
	})
	if err != errStop {
		t.Fatalf("callback error came back as %v", err)
	}
	rest, _ := list(sdk.DocumentQuery{PageSize: 3, Cursor: cur})
	if len(rest) != 4 {
		t.Errorf("resumed listing: %d documents, want 4", len(rest))
	}

	var w chunkWriter
	must(t, d.ReadDocument(ctx, doc.ID, 0, &w))
	if !bytes.Equal(w.Bytes(), big) {
		t.Fatalf("read %d bytes, want %d", w.Len(), len(big))
	}
	if w.largest > docChunk {
		t.Errorf("a write of %d bytes: not streamed in chunks", w.largest)
	}
	w.Reset()
	must(t, d.ReadDocument(ctx, doc.ID, 100001, &w))
	if !bytes.Equal(w.Bytes(), big[100001:]) {
		t.Errorf("read from offset: %d bytes", w.Len())
	}
	w.Reset()
	must(t, d.ReadDocument(ctx, doc.ID, int64(len(big)), &w))
	if w.Len() != 0 {
		t.Errorf("read from the end: %d bytes", w.Len())
	}
	for name, fn := range map[string]func() error{
		"unknown id":   func() error { return d.ReadDocument(ctx, "nope", 0, io.Discard) },
		"negative":     func() error { return d.ReadDocument(ctx, doc.ID, -1, io.Discard) },
		"past the end": func() error { return d.ReadDocument(ctx, doc.ID, int64(len(big))+1, io.Discard) },
		"unknown entity": func() error {
			return d.ListDocuments(ctx, sdk.DocumentQuery{Entity: "nope"}, func(*sdk.DocumentPage) error { return nil })
		},
		"bad cursor": func() error {
			return d.ListDocuments(ctx, sdk.DocumentQuery{Cursor: []byte("x")}, func(*sdk.DocumentPage) error { return nil })
		},
	} {
		if err := fn(); err == nil || sdk.KindOf(err) != sdk.Permanent {
			t.Errorf("%s: %v", name, err)
		}
	}

	// Documents go with their owner.
	must(t, s.Exec(ctx, "DELETE FROM contact WHERE contactid = '"+contacts[0]+"'"))
	if docs, _ := list(sdk.DocumentQuery{Entity: "contact"}); len(docs) != 0 {
		t.Errorf("%d documents of a deleted contact", len(docs))
	}
}
