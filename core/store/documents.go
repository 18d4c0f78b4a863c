package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

// The document index: one row per attachment of a row on the device, as the
// backend listed it, with where its download stands. The bytes live in
// files under a documents directory the engine chooses (the index keeps
// paths relative to it), never in the database.

// documentSchema is the document index. Every statement is idempotent.
const documentSchema = `
CREATE TABLE IF NOT EXISTS _fs_document (
	id         TEXT PRIMARY KEY,
	entity     TEXT NOT NULL,
	record_id  TEXT NOT NULL,
	name       TEXT NOT NULL,
	mime_type  TEXT NOT NULL DEFAULT '',
	size       INTEGER NOT NULL DEFAULT 0,
	modified   INTEGER NOT NULL DEFAULT 0,  -- Unix microseconds
	version    TEXT NOT NULL DEFAULT '',
	state      TEXT NOT NULL,               -- pending | downloaded | blocked | local-new
	reason     TEXT NOT NULL DEFAULT '',    -- why it is blocked
	path       TEXT NOT NULL DEFAULT '',    -- the file, relative to the documents directory
	bytes_done INTEGER NOT NULL DEFAULT 0,  -- bytes of the current version on disk (a download resumes after them)
	updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS _fs_document_owner ON _fs_document(entity, record_id);
CREATE INDEX IF NOT EXISTS _fs_document_state ON _fs_document(state);
`

// DocState is where a document stands on the device.
type DocState string

const (
	// DocPending: listed, not (fully) downloaded yet.
	DocPending DocState = "pending"
	// DocDownloaded: the file holds the listed version.
	DocDownloaded DocState = "downloaded"
	// DocBlocked: the document filter keeps it off the device; it stays
	// listed (with the reason) and can be fetched on demand.
	DocBlocked DocState = "blocked"
	// DocLocalNew: made on the device; uploaded with its record.
	DocLocalNew DocState = "local-new"
)

// Document is one entry of the document index.
type Document struct {
	sdk.Document
	State  DocState
	Reason string // DocBlocked: why
	// Path is the file, relative to the documents directory; empty until a
	// download finished (or, for DocLocalNew, the file the host added).
	Path      string
	BytesDone int64
	UpdatedAt time.Time
}

// DocQuery selects documents from the index; zero fields select all.
type DocQuery struct {
	States   []DocState
	Entity   string
	RecordID string
	IDs      []string
}

const docColumns = "id, entity, record_id, name, mime_type, size, modified, version, state, reason, path, bytes_done, updated_at"

// Documents lists the index's documents matching q, by entity, record and
// name.
func (s *Store) Documents(ctx context.Context, q DocQuery) ([]Document, error) {
	var where []string
	var args []any
	if len(q.States) > 0 {
		where = append(where, "state IN ("+marks(len(q.States))+")")
		for _, st := range q.States {
			args = append(args, string(st))
		}
	}
	if q.Entity != "" {
		where = append(where, "entity = ?")
		args = append(args, q.Entity)
	}
	if q.RecordID != "" {
		where = append(where, "record_id = ?")
		args = append(args, q.RecordID)
	}
	if q.IDs != nil {
		if len(q.IDs) == 0 {
			return nil, nil
		}
		where = append(where, "id IN ("+marks(len(q.IDs))+")")
		for _, id := range q.IDs {
			args = append(args, id)
		}
	}
	sql := "SELECT " + docColumns + " FROM _fs_document"
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY entity, record_id, name, id"
	var out []Document
	err := s.read(ctx, func() error {
		// Each distinct shape is its own statement; the lists are short
		// (a batch of ids), so the uncached ones are closed after use.
		st, _, err := s.db.Prepare(sql)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", sql, err)
		}
		defer st.Close()
		if err := bindArgs(st, args...); err != nil {
			return err
		}
		for st.Step() {
			out = append(out, scanDocument(st.ColumnText, st.ColumnInt64))
		}
		return st.Err()
	})
	return out, err
}

// Document returns one document of the index, or nil when there is none.
func (s *Store) Document(ctx context.Context, id string) (*Document, error) {
	docs, err := s.Documents(ctx, DocQuery{IDs: []string{id}})
	if err != nil || len(docs) == 0 {
		return nil, err
	}
	return &docs[0], nil
}

func scanDocument(text func(int) string, num func(int) int64) Document {
	d := Document{
		Document: sdk.Document{
			ID: text(0), Entity: text(1), RecordID: text(2), Name: text(3), MimeType: text(4),
			Size: num(5), Version: text(7),
		},
		State: DocState(text(8)), Reason: text(9), Path: text(10), BytesDone: num(11),
		UpdatedAt: time.UnixMicro(num(12)),
	}
	if m := num(6); m != 0 {
		d.Modified = time.UnixMicro(m).UTC()
	}
	return d
}

func marks(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

// UpsertDocuments records listed document metadata in one transaction. A
// new document is pending; a known one whose version changed goes back to
// pending with nothing done, after stale(old) was called for it inside the
// transaction (the engine removes the old version's partial file there, so
// a crash can never leave a partial file of one version to be resumed as
// another). Documents made on the device and not yet uploaded are left
// alone. It reports how many documents are new or changed.
func (s *Store) UpsertDocuments(ctx context.Context, docs []sdk.Document, stale func(old Document) error) (changed int, err error) {
	if len(docs) == 0 {
		return 0, nil
	}
	err = s.write(ctx, applied, func() error {
		changed = 0
		now := nowMicro()
		for _, d := range docs {
			old, err := s.documentLocked(d.ID)
			if err != nil {
				return err
			}
			switch {
			case old == nil:
				changed++
				if err := s.exec(`INSERT INTO _fs_document (id, entity, record_id, name, mime_type, size, modified, version, state, updated_at)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)`,
					d.ID, d.Entity, d.RecordID, d.Name, d.MimeType, d.Size, unixMicro(d.Modified), d.Version, now); err != nil {
					return err
				}
			case old.State == DocLocalNew:
			case old.Version != d.Version:
				changed++
				if stale != nil {
					if err := stale(*old); err != nil {
						return err
					}
				}
				if err := s.exec(`UPDATE _fs_document SET entity = ?, record_id = ?, name = ?, mime_type = ?, size = ?, modified = ?,
					version = ?, state = 'pending', reason = '', bytes_done = 0, updated_at = ? WHERE id = ?`,
					d.Entity, d.RecordID, d.Name, d.MimeType, d.Size, unixMicro(d.Modified), d.Version, now, d.ID); err != nil {
					return err
				}
			case old.Name != d.Name || old.MimeType != d.MimeType || old.RecordID != d.RecordID:
				// Same bytes, new metadata.
				if err := s.exec(`UPDATE _fs_document SET record_id = ?, name = ?, mime_type = ?, updated_at = ? WHERE id = ?`,
					d.RecordID, d.Name, d.MimeType, now, d.ID); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return changed, err
}

// documentLocked reads one document; callers hold s.mu.
func (s *Store) documentLocked(id string) (*Document, error) {
	st, err := s.prep("SELECT " + docColumns + " FROM _fs_document WHERE id = ?")
	if err != nil {
		return nil, err
	}
	defer st.Reset()
	if err := st.BindText(1, id); err != nil {
		return nil, err
	}
	if !st.Step() {
		return nil, st.Err()
	}
	d := scanDocument(st.ColumnText, st.ColumnInt64)
	return &d, nil
}

func unixMicro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// MarkDocumentDownloaded records that the file at path (relative to the
// documents directory) holds the document's listed version, of size bytes.
func (s *Store) MarkDocumentDownloaded(ctx context.Context, id, path string, size int64) error {
	return s.updateDocument(ctx, id, `UPDATE _fs_document SET state = 'downloaded', reason = '', path = ?, size = ?, bytes_done = ?, updated_at = ? WHERE id = ?`,
		path, size, size, nowMicro(), id)
}

// MarkDocumentBlocked records that the document filter keeps the document
// off the device, and why. Its file, if it had one, is the caller's to
// remove; the path is cleared.
func (s *Store) MarkDocumentBlocked(ctx context.Context, id, reason string) error {
	return s.updateDocument(ctx, id, `UPDATE _fs_document SET state = 'blocked', reason = ?, path = '', bytes_done = 0, updated_at = ? WHERE id = ?`,
		reason, nowMicro(), id)
}

// MarkDocumentPending puts a blocked document back in line for download.
func (s *Store) MarkDocumentPending(ctx context.Context, id string) error {
	return s.updateDocument(ctx, id, `UPDATE _fs_document SET state = 'pending', reason = '', updated_at = ? WHERE id = ? AND state = 'blocked'`,
		nowMicro(), id)
}

// DocumentProgress records how many bytes of a download are on disk.
func (s *Store) DocumentProgress(ctx context.Context, id string, bytesDone int64) error {
	return s.updateDocument(ctx, id, `UPDATE _fs_document SET bytes_done = ?, updated_at = ? WHERE id = ? AND state != 'local-new'`,
		bytesDone, nowMicro(), id)
}

func (s *Store) updateDocument(ctx context.Context, id, sql string, args ...any) error {
	return s.write(ctx, applied, func() error {
		if err := s.exec(sql, args...); err != nil {
			return err
		}
		return nil
	})
}

// AddLocalDocument records a document made on the device, whose file the
// caller already wrote at d.Path (relative to the documents directory). It
// is uploaded with its record (state DocLocalNew).
func (s *Store) AddLocalDocument(ctx context.Context, d Document) error {
	if d.ID == "" || d.Entity == "" || d.RecordID == "" || d.Name == "" {
		return errors.New("store: a local document needs an id, an entity, a record id and a name")
	}
	return s.write(ctx, applied, func() error {
		return s.exec(`INSERT INTO _fs_document (id, entity, record_id, name, mime_type, size, modified, version, state, path, bytes_done, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, '', 'local-new', ?, ?, ?)`,
			d.ID, d.Entity, d.RecordID, d.Name, d.MimeType, d.Size, unixMicro(d.Modified), d.Path, d.Size, nowMicro())
	})
}

// LocalDocuments lists the documents made on the device that are ready to
// upload: their record is on the server (no create of it waits in the
// outbox). waiting counts those whose record is still a local create.
func (s *Store) LocalDocuments(ctx context.Context) (ready []Document, waiting int, err error) {
	err = s.read(ctx, func() error {
		st, err := s.prep(`SELECT ` + docColumns + `, EXISTS (SELECT 1 FROM _fs_outbox o
				WHERE o.entity = d.entity AND o.id = d.record_id AND o.op = 'create')
			FROM _fs_document d WHERE state = 'local-new' ORDER BY updated_at, id`)
		if err != nil {
			return err
		}
		defer st.Reset()
		for st.Step() {
			if st.ColumnInt64(13) != 0 {
				waiting++
				continue
			}
			ready = append(ready, scanDocument(st.ColumnText, st.ColumnInt64))
		}
		return st.Err()
	})
	return ready, waiting, err
}

// DocumentUploaded records the server's answer to a document made on the
// device: it takes the server's id, version and metadata and counts as
// downloaded (its file is the one the host added, at the same path).
func (s *Store) DocumentUploaded(ctx context.Context, localID string, server sdk.Document) error {
	return s.write(ctx, applied, func() error {
		if server.ID != localID {
			// A listing that ran meanwhile may know the server's copy.
			if err := s.exec(`DELETE FROM _fs_document WHERE id = ?`, server.ID); err != nil {
				return err
			}
		}
		return s.exec(`UPDATE _fs_document SET id = ?, name = ?, mime_type = ?, size = ?, modified = ?, version = ?,
			state = 'downloaded', reason = '', bytes_done = ?, updated_at = ? WHERE id = ? AND state = 'local-new'`,
			server.ID, server.Name, server.MimeType, server.Size, unixMicro(server.Modified), server.Version,
			server.Size, nowMicro(), localID)
	})
}

// DocumentBytes is the total size of the documents kept on the device:
// downloaded and made on the device.
func (s *Store) DocumentBytes(ctx context.Context) (int64, error) {
	var n int64
	err := s.read(ctx, func() error {
		st, err := s.prep(`SELECT coalesce(sum(size), 0) FROM _fs_document WHERE state IN ('downloaded', 'local-new')`)
		if err != nil {
			return err
		}
		defer st.Reset()
		if st.Step() {
			n = st.ColumnInt64(0)
		}
		return st.Err()
	})
	return n, err
}

// RecordIDs returns up to limit ids of entity's rows on the device, in key
// order, after the id after ("" for the first batch): how the engine walks
// a table in batches to ask for their documents.
func (s *Store) RecordIDs(ctx context.Context, entity, after string, limit int) ([]string, error) {
	var out []string
	err := s.read(ctx, func() error {
		t, err := s.table(entity)
		if err != nil {
			return err
		}
		pk := quoteIdent(t.pk)
		st, err := s.prep(fmt.Sprintf("SELECT %s FROM %s WHERE %s > ? ORDER BY %s LIMIT ?", pk, quoteIdent(t.name), pk, pk))
		if err != nil {
			return err
		}
		defer st.Reset()
		if err := bindArgs(st, after, limit); err != nil {
			return err
		}
		for st.Step() {
			out = append(out, st.ColumnText(0))
		}
		return st.Err()
	})
	return out, err
}

// RemoveUnlisted drops the documents of entity's rows recordIDs that a
// listing of those rows no longer returned (the server deleted them), and
// their files under dir. Documents made on the device stay.
func (s *Store) RemoveUnlisted(ctx context.Context, dir, entity string, recordIDs, listed []string) (int, error) {
	if len(recordIDs) == 0 {
		return 0, nil
	}
	keep := make(map[string]bool, len(listed))
	for _, id := range listed {
		keep[id] = true
	}
	var gone []Document
	err := s.write(ctx, applied, func() error {
		st, _, err := s.db.Prepare(`SELECT ` + docColumns + ` FROM _fs_document
			WHERE entity = ? AND state != 'local-new' AND record_id IN (` + marks(len(recordIDs)) + `)`)
		if err != nil {
			return err
		}
		defer st.Close()
		args := []any{entity}
		for _, id := range recordIDs {
			args = append(args, id)
		}
		if err := bindArgs(st, args...); err != nil {
			return err
		}
		for st.Step() {
			if d := scanDocument(st.ColumnText, st.ColumnInt64); !keep[d.ID] {
				gone = append(gone, d)
			}
		}
		if err := st.Err(); err != nil {
			return err
		}
		for _, d := range gone {
			if err := s.exec(`DELETE FROM _fs_document WHERE id = ?`, d.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(gone), removeFiles(dir, gone)
}

// RemoveOrphanDocuments drops the documents whose record is no longer on
// the device (deleted, or gone from the sync filter; a document made on the
// device goes too when its record was deleted before it was uploaded), and
// their files under dir, partial downloads included.
func (s *Store) RemoveOrphanDocuments(ctx context.Context, dir string) (int, error) {
	var gone []Document
	err := s.write(ctx, applied, func() error {
		st, err := s.prep(`SELECT DISTINCT entity FROM _fs_document`)
		if err != nil {
			return err
		}
		var ents []string
		for st.Step() {
			ents = append(ents, st.ColumnText(0))
		}
		if err := st.Err(); err != nil {
			return err
		}
		st.Reset()
		for _, ent := range ents {
			sql := `SELECT ` + docColumns + ` FROM _fs_document WHERE entity = ?`
			if t, err := s.table(ent); err == nil {
				sql += fmt.Sprintf(" AND record_id NOT IN (SELECT %s FROM %s)", quoteIdent(t.pk), quoteIdent(t.name))
			}
			q, _, err := s.db.Prepare(sql)
			if err != nil {
				return err
			}
			if err := q.BindText(1, ent); err != nil {
				q.Close()
				return err
			}
			for q.Step() {
				gone = append(gone, scanDocument(q.ColumnText, q.ColumnInt64))
			}
			err = q.Err()
			q.Close()
			if err != nil {
				return err
			}
		}
		for _, d := range gone {
			if err := s.exec(`DELETE FROM _fs_document WHERE id = ?`, d.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(gone), removeFiles(dir, gone)
}

// removeFiles deletes the files of documents removed from the index: the
// downloaded file and a partial download's (PartPath).
func removeFiles(dir string, docs []Document) error {
	if dir == "" {
		return nil
	}
	var errs []error
	for _, d := range docs {
		for _, p := range []string{d.Path, PartPath(d.Entity, d.ID)} {
			if p == "" {
				continue
			}
			if err := os.Remove(filepath.Join(dir, p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// PartPath is where a download of a document in progress is written,
// relative to the documents directory: <entity>/<id>.part (names made safe
// for any file system).
func PartPath(entity, id string) string {
	return filepath.Join(SafeName(entity), SafeName(id)+".part")
}

// SafeName turns a name from a backend (an entity, an id) into one path
// element: letters, digits, '.', '-' and '_' stay, anything else becomes
// '_' followed by its hex code, so distinct names stay distinct; "." and
// ".." are escaped too.
func SafeName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.' && i > 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "_%02x", c)
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// HasRecord reports whether entity's table holds the row id.
func (s *Store) HasRecord(ctx context.Context, entity, id string) (bool, error) {
	var ok bool
	err := s.read(ctx, func() error {
		t, err := s.table(entity)
		if err != nil {
			return err
		}
		st, err := s.prep(fmt.Sprintf("SELECT 1 FROM %s WHERE %s = ?", quoteIdent(t.name), quoteIdent(t.pk)))
		if err != nil {
			return err
		}
		defer st.Reset()
		if err := st.BindText(1, id); err != nil {
			return err
		}
		ok = st.Step()
		return st.Err()
	})
	return ok, err
}
