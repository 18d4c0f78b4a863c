package mock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

// docChunk is how much of a document is in memory at a time.
const docChunk = 64 << 10

// ListDocuments streams document metadata in pages, oldest first.
func (c *Connector) ListDocuments(ctx context.Context, q sdk.DocumentQuery, fn func(*sdk.DocumentPage) error) (err error) {
	started := time.Now()
	var listed, pages int64
	if fn == nil {
		return sdk.Errorf(sdk.Permanent, "mock: list documents without a page callback")
	}
	cn, st, snap, err := c.srv.begin(ctx)
	if err != nil {
		return err
	}
	defer c.srv.db.put(cn)
	defer func() {
		c.srv.logRequest(cn, requestRecord{at: started, user: c.user, op: "list-documents", entity: q.Entity,
			rows: listed, pages: pages, err: err})
	}()
	if err := st.inject(); err != nil {
		return err
	}
	if q.Entity != "" && snap.entities[q.Entity] == nil {
		return sdk.Errorf(sdk.Permanent, "mock: unknown entity %q", q.Entity)
	}
	size := q.PageSize
	switch {
	case size < 0:
		return sdk.Errorf(sdk.Permanent, "mock: page size %d is negative", size)
	case size == 0:
		size = sdk.DefaultPageSize
	case size > sdk.MaxPageSize:
		size = sdk.MaxPageSize
	}
	var last int64
	if q.Cursor != nil {
		cur, err := c.srv.decode(q.Cursor, docCursorKind)
		if err != nil {
			return err
		}
		last = cur.last
	}
	var ids any // nil: every owner
	if q.RecordIDs != nil {
		b, err := json.Marshal(q.RecordIDs)
		if err != nil {
			return sdk.Errorf(sdk.Permanent, "mock: record ids: %w", err)
		}
		ids = string(b)
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		page, more, err := listPage(cn, q.Entity, ids, last, size)
		if err != nil {
			return sqlErr(ctx, "list documents", err)
		}
		last = page.last
		page.p.Cursor = c.srv.encode(cursor{kind: docCursorKind, last: last})
		page.p.Last = !more
		listed += int64(len(page.p.Documents))
		pages++
		if err := fn(page.p); err != nil {
			return err
		}
		if !more {
			return nil
		}
	}
}

type docPage struct {
	p    *sdk.DocumentPage
	last int64
}

func listPage(c *conn, entityName string, ids any, after int64, size int) (docPage, bool, error) {
	s, err := c.prep(`SELECT rowid, id, entity, record_id, name, mime_type, size, modified, version
		FROM _document
		WHERE rowid > ?1 AND (?2 = '' OR entity = ?2)
			AND (?3 IS NULL OR record_id IN (SELECT value FROM json_each(?3)))
		ORDER BY rowid LIMIT ?4`)
	if err != nil {
		return docPage{}, false, err
	}
	defer s.Reset()
	if err := bindAll(s, 1, after, entityName, ids, int64(size)+1); err != nil {
		return docPage{}, false, err
	}
	out := docPage{p: &sdk.DocumentPage{}, last: after}
	for s.Step() {
		if len(out.p.Documents) == size {
			return out, true, nil
		}
		out.last = s.ColumnInt64(0)
		out.p.Documents = append(out.p.Documents, sdk.Document{
			ID:       s.ColumnText(1),
			Entity:   s.ColumnText(2),
			RecordID: s.ColumnText(3),
			Name:     s.ColumnText(4),
			MimeType: s.ColumnText(5),
			Size:     s.ColumnInt64(6),
			Modified: time.UnixMicro(s.ColumnInt64(7)).UTC(),
			Version:  strconv.FormatInt(s.ColumnInt64(8), 10),
		})
	}
	return out, false, s.Err()
}

// ReadDocument writes a document's bytes from offset on to w, a chunk at a
// time through SQLite's incremental blob I/O, inside one read snapshot (so a
// document replaced meanwhile is never mixed with its successor).
func (c *Connector) ReadDocument(ctx context.Context, id string, offset int64, w io.Writer) (err error) {
	started := time.Now()
	var written int64
	cn, st, _, err := c.srv.begin(ctx)
	if err != nil {
		return err
	}
	defer c.srv.db.put(cn)
	defer func() {
		c.srv.logRequest(cn, requestRecord{at: started, user: c.user, op: "read-document",
			filter: "id " + id, rows: written, pages: 1, err: err})
	}()
	if err := st.inject(); err != nil {
		return err
	}
	if offset < 0 {
		return sdk.Errorf(sdk.Permanent, "mock: document %s: negative offset %d", id, offset)
	}
	if err := cn.beginRead(); err != nil {
		return sqlErr(ctx, "read document", err)
	}
	defer cn.rollback()
	s, err := cn.prep(`SELECT rowid, size FROM _document WHERE id = ?`)
	if err != nil {
		return sqlErr(ctx, "read document", err)
	}
	if err := s.BindText(1, id); err != nil {
		return sqlErr(ctx, "read document", err)
	}
	if !s.Step() {
		err := s.Reset()
		if err != nil {
			return sqlErr(ctx, "read document", err)
		}
		return sdk.Errorf(sdk.Permanent, "mock: no document %q", id)
	}
	rowid, size := s.ColumnInt64(0), s.ColumnInt64(1)
	s.Reset()
	if offset > size {
		return sdk.Errorf(sdk.Permanent, "mock: document %s has %d bytes; cannot start at %d", id, size, offset)
	}
	blob, err := cn.db.OpenBlob("main", "_document", "content", rowid, false)
	if err != nil {
		return sqlErr(ctx, "read document", err)
	}
	defer blob.Close()
	if _, err := blob.Seek(offset, io.SeekStart); err != nil {
		return sqlErr(ctx, "read document", err)
	}
	buf := make([]byte, docChunk)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, rerr := blob.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			written += int64(m)
			if werr != nil {
				return fmt.Errorf("mock: write document %s: %w", id, werr)
			}
			if m != n {
				return fmt.Errorf("mock: write document %s: %w", id, io.ErrShortWrite)
			}
		}
		if errors.Is(rerr, io.EOF) {
			return nil
		}
		if rerr != nil {
			return sqlErr(ctx, "read document", rerr)
		}
	}
}

// AddDocument stores a document owned by a row, streaming r into the file
// (a reader of unknown size is spooled to a temporary file first, so the
// blob can be sized). It is how tests and seeding make documents.
func (s *Server) AddDocument(ctx context.Context, entityName, recordID, name, mime string, r io.Reader) (sdk.Document, error) {
	size, r, cleanup, err := sized(r)
	if err != nil {
		return sdk.Document{}, fmt.Errorf("mock: add document %s: %w", name, err)
	}
	defer cleanup()
	if mime == "" {
		mime = "application/octet-stream"
	}
	c, _, snap, err := s.begin(ctx)
	if err != nil {
		return sdk.Document{}, err
	}
	defer s.db.put(c)
	e := snap.entities[entityName]
	if e == nil {
		return sdk.Document{}, sdk.Errorf(sdk.Permanent, "mock: unknown entity %q", entityName)
	}
	doc := sdk.Document{ID: newGUID(), Entity: entityName, RecordID: normID(recordID), Name: name, MimeType: mime, Size: size,
		Modified: time.Now().UTC().Truncate(time.Microsecond)}
	err = c.withTx(func() error {
		cur, _, err := readRecord(c, e, doc.RecordID)
		if err != nil {
			return err
		}
		if cur == nil {
			return sdk.Errorf(sdk.Permanent, "mock: %s %s does not exist", entityName, recordID)
		}
		if err := c.exec(`UPDATE _clock SET version = version + 1`); err != nil {
			return err
		}
		err = c.exec(`INSERT INTO _document (id, entity, record_id, name, mime_type, size, modified, version, content)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, (SELECT version FROM _clock), zeroblob(?6))`,
			doc.ID, doc.Entity, doc.RecordID, doc.Name, doc.MimeType, size, doc.Modified.UnixMicro())
		if err != nil {
			return err
		}
		rowid := c.db.LastInsertRowID()
		v, _, err := c.queryInt(`SELECT version FROM _document WHERE rowid = ?`, rowid)
		if err != nil {
			return err
		}
		doc.Version = strconv.FormatInt(v, 10)
		blob, err := c.db.OpenBlob("main", "_document", "content", rowid, true)
		if err != nil {
			return err
		}
		n, err := io.CopyBuffer(blob, io.LimitReader(r, size), make([]byte, docChunk))
		if cerr := blob.Close(); err == nil {
			err = cerr
		}
		if err == nil && n != size {
			err = fmt.Errorf("read %d of %d bytes", n, size)
		}
		return err
	})
	if err != nil {
		return sdk.Document{}, sqlErr(ctx, "add document "+name, err)
	}
	return doc, nil
}

// sized returns r's size, spooling r to a temporary file when it does not
// tell.
func sized(r io.Reader) (int64, io.Reader, func(), error) {
	nop := func() {}
	switch v := r.(type) {
	case interface{ Size() int64 }: // *bytes.Reader, *strings.Reader
		if s, ok := r.(io.Seeker); ok {
			pos, err := s.Seek(0, io.SeekCurrent)
			if err == nil {
				return v.Size() - pos, r, nop, nil
			}
		}
	case *os.File:
		if fi, err := v.Stat(); err == nil && fi.Mode().IsRegular() {
			pos, err := v.Seek(0, io.SeekCurrent)
			if err == nil {
				return fi.Size() - pos, r, nop, nil
			}
		}
	}
	f, err := os.CreateTemp("", "mock-document-*")
	if err != nil {
		return 0, nil, nop, err
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	n, err := io.Copy(f, r)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		cleanup()
		return 0, nil, nop, err
	}
	return n, f, cleanup, nil
}
