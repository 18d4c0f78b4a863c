package contracttest

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

// testDocuments: a connector offering sdk.Documents (found with
// sdk.AsDocuments) lists the documents of rows and streams their bytes.
//
//   - A row without documents lists none, without error.
//   - With a DocumentBackend to attach documents behind the connector's
//     back: a listing by entity and row ids returns exactly those rows'
//     documents, once each, with name, size, owner and an id; pages obey
//     the page size, all but the last carry a cursor that resumes the
//     listing after them, and exactly the last is marked Last.
//   - ReadDocument writes a document's bytes, and from an offset the bytes
//     after it (so an interrupted download resumes); an unknown document id
//     fails as Permanent.
//
// An entity that says its rows own documents must come with a connector
// that offers them. Without sdk.Documents the subtest is skipped; without a
// DocumentBackend it checks only the empty listing.
func testDocuments(t *testing.T, f *fixture) {
	var docs sdk.Documents
	var ok bool
	_ = f.call(t, "AsDocuments", func(ctx context.Context) error {
		docs, ok = sdk.AsDocuments(ctx, f.a)
		return nil
	})
	if !ok {
		if f.ent.Capabilities.Documents {
			t.Fatalf("entity %q says its rows own documents, but sdk.AsDocuments finds no Documents on the connector", f.ent.Name)
		}
		t.Skip("the connector does not offer documents")
	}
	owners := f.create(t, f.a, 2)
	e := f.ent.Name
	if got := f.listDocuments(t, docs, sdk.DocumentQuery{Entity: e, RecordIDs: []string{owners[0].id}}); len(got) != 0 {
		t.Errorf("documents of a new row: listed %d, want none", len(got))
	}

	seeder, ok := f.backend.(DocumentBackend)
	if !ok {
		t.Skip("the Backend does not implement DocumentBackend, so the suite cannot attach documents; only an empty listing was checked")
	}
	content := map[string][]byte{
		"a.txt": pattern(10_000),
		"b.bin": pattern(200_000),
		"c.txt": pattern(100),
	}
	seeder.AddDocument(t, e, owners[0].id, "a.txt", content["a.txt"])
	seeder.AddDocument(t, e, owners[0].id, "b.bin", content["b.bin"])
	seeder.AddDocument(t, e, owners[1].id, "c.txt", content["c.txt"])

	q := sdk.DocumentQuery{Entity: e, RecordIDs: []string{owners[0].id}, PageSize: 1}
	listed := f.listDocuments(t, docs, q)
	byName := map[string]sdk.Document{}
	for _, d := range listed {
		if d.Entity != e || d.RecordID != owners[0].id {
			t.Errorf("listing of row %q's documents returned %q owned by %s/%s", owners[0].id, d.Name, d.Entity, d.RecordID)
			continue
		}
		if _, dup := byName[d.Name]; dup {
			t.Errorf("listing of row %q's documents returned %q twice", owners[0].id, d.Name)
		}
		byName[d.Name] = d
		if d.ID == "" {
			t.Errorf("document %q has no id", d.Name)
		}
		if want, ok := content[d.Name]; ok && d.Size != int64(len(want)) {
			t.Errorf("document %q has Size %d, want %d", d.Name, d.Size, len(want))
		}
	}
	if names := slices.Sorted(maps.Keys(byName)); !slices.Equal(names, []string{"a.txt", "b.bin"}) {
		t.Fatalf("listing of row %q's documents returned %q, want [a.txt b.bin]", owners[0].id, names)
	}
	both := f.listDocuments(t, docs, sdk.DocumentQuery{Entity: e, RecordIDs: []string{owners[0].id, owners[1].id}, PageSize: 2})
	if len(both) != 3 {
		t.Errorf("listing of two rows' documents returned %d, want 3", len(both))
	}

	for name, d := range byName {
		want := content[name]
		for _, off := range []int{0, len(want) / 3} {
			var buf bytes.Buffer
			err := f.call(t, fmt.Sprintf("ReadDocument(%q, offset %d)", name, off), func(ctx context.Context) error {
				return docs.ReadDocument(ctx, d.ID, int64(off), &buf)
			})
			if err != nil {
				t.Errorf("ReadDocument(%q, offset %d): %v", name, off, err)
			} else if !bytes.Equal(buf.Bytes(), want[off:]) {
				t.Errorf("ReadDocument(%q, offset %d) wrote %d bytes that differ from the %d stored after that offset", name, off, buf.Len(), len(want)-off)
			}
		}
	}
	err := f.call(t, "ReadDocument of an unknown id", func(ctx context.Context) error {
		return docs.ReadDocument(ctx, "contracttest-no-such-document", 0, &bytes.Buffer{})
	})
	expectKind(t, "ReadDocument of an unknown id", err, sdk.Permanent)
}

// listDocuments lists q's documents, checks the pages, and resumes the
// listing from every page's cursor, expecting exactly the documents after
// that page.
func (f *fixture) listDocuments(t *testing.T, d sdk.Documents, q sdk.DocumentQuery) []sdk.Document {
	t.Helper()
	list := func(q sdk.DocumentQuery) []*sdk.DocumentPage {
		t.Helper()
		var pages []*sdk.DocumentPage
		err := f.call(t, "ListDocuments", func(ctx context.Context) error {
			return d.ListDocuments(ctx, q, func(p *sdk.DocumentPage) error {
				pages = append(pages, p)
				return nil
			})
		})
		if err != nil {
			t.Fatalf("ListDocuments(%+v): %v", q, err)
		}
		if len(pages) == 0 {
			t.Fatalf("ListDocuments(%+v) delivered no page; a listing ends with a Last page", q)
		}
		for i, p := range pages {
			where := fmt.Sprintf("ListDocuments(%+v) page %d of %d", q, i+1, len(pages))
			last := i == len(pages)-1
			switch {
			case p == nil:
				t.Fatalf("%s is nil", where)
			case p.Last != last:
				t.Errorf("%s: Last is %v", where, p.Last)
			case !last && len(p.Cursor) == 0:
				t.Errorf("%s carries no cursor", where)
			case q.PageSize > 0 && len(p.Documents) > q.PageSize:
				t.Errorf("%s holds %d documents, more than the page size %d", where, len(p.Documents), q.PageSize)
			}
		}
		return pages
	}
	ids := func(pages []*sdk.DocumentPage) []string {
		var out []string
		for _, p := range pages {
			for _, doc := range p.Documents {
				out = append(out, doc.ID)
			}
		}
		return out
	}
	pages := list(q)
	all := ids(pages)
	for k := 0; k < len(pages)-1; k++ {
		if len(pages[k].Cursor) == 0 {
			continue
		}
		resumed := q
		resumed.Cursor = pages[k].Cursor
		got := append(ids(pages[:k+1]), ids(list(resumed))...)
		if !slices.Equal(got, all) {
			t.Errorf("ListDocuments(%+v) resumed after page %d: documents %q, want %q", q, k+1, got, all)
		}
	}
	var docs []sdk.Document
	for _, p := range pages {
		docs = append(docs, p.Documents...)
	}
	return docs
}

// pattern is n bytes that differ at every offset a test might pick.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}
