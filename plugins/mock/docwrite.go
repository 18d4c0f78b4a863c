package mock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

var _ sdk.DocumentWriter = (*Connector)(nil)

// WriteDocument stores a document made on a device (the write-documents
// capability), streaming r into the server file a chunk at a time through
// SQLite's incremental blob I/O: the blob is sized up front (doc.Size; a
// reader of unknown size, Size -1, is spooled to a temporary file first) and
// filled in place, so no more than a chunk is in memory.
//
// doc.ID, when set, is the client's id: a document with that id gets the new
// content (a new version; it must belong to the same row), otherwise a new
// document is made under it, unless the server assigns ids (server_ids), in
// which case it picks its own. The document and its content are written in
// one transaction: a cancelled or short upload leaves nothing behind. The
// transaction is the server's one writer while the bytes arrive, as a real
// server's upload would hold one row.
func (c *Connector) WriteDocument(ctx context.Context, doc sdk.Document, r io.Reader) (out sdk.Document, err error) {
	started := time.Now()
	var written int64
	if r == nil {
		return sdk.Document{}, sdk.Errorf(sdk.Permanent, "mock: write document %s: no content", doc.Name)
	}
	size := doc.Size
	if size < 0 {
		n, sr, cleanup, err := sized(r)
		if err != nil {
			return sdk.Document{}, fmt.Errorf("mock: write document %s: %w", doc.Name, err)
		}
		defer cleanup()
		size, r = n, sr
	}
	cn, st, snap, err := c.srv.begin(ctx)
	if err != nil {
		return sdk.Document{}, err
	}
	defer c.srv.db.put(cn)
	defer func() {
		c.srv.logRequest(cn, requestRecord{at: started, user: c.user, op: "write-document", entity: doc.Entity,
			filter: "id " + out.ID, rows: written, pages: 1, err: err})
	}()
	if err := st.inject(); err != nil {
		return sdk.Document{}, err
	}
	e := snap.entities[doc.Entity]
	if e == nil {
		return sdk.Document{}, sdk.Errorf(sdk.Permanent, "mock: unknown entity %q", doc.Entity)
	}
	if doc.Name == "" {
		return sdk.Document{}, sdk.Errorf(sdk.Permanent, "mock: write document: no name")
	}
	out = sdk.Document{ID: normID(doc.ID), Entity: doc.Entity, RecordID: normID(doc.RecordID), Name: doc.Name,
		MimeType: doc.MimeType, Size: size, Modified: time.Now().UTC().Truncate(time.Microsecond)}
	if out.MimeType == "" {
		out.MimeType = "application/octet-stream"
	}
	err = cn.withTx(func() error {
		cur, _, err := readRecord(cn, e, out.RecordID)
		if err != nil {
			return err
		}
		if cur == nil {
			return sdk.Errorf(sdk.Permanent, "mock: %s %s does not exist", doc.Entity, doc.RecordID)
		}
		var rowid int64
		if out.ID != "" {
			s, err := cn.prep(`SELECT rowid, entity, record_id FROM _document WHERE id = ?`)
			if err != nil {
				return err
			}
			if err := s.BindText(1, out.ID); err != nil {
				return err
			}
			if s.Step() {
				rowid = s.ColumnInt64(0)
				if s.ColumnText(1) != out.Entity || s.ColumnText(2) != out.RecordID {
					s.Reset()
					return sdk.Errorf(sdk.Permanent, "mock: document %s belongs to another row", out.ID)
				}
			}
			if err := s.Reset(); err != nil {
				return err
			}
		}
		if rowid == 0 && (out.ID == "" || c.serverIDs) {
			out.ID = newGUID()
		}
		if err := cn.exec(`UPDATE _clock SET version = version + 1`); err != nil {
			return err
		}
		if rowid != 0 {
			err = cn.exec(`UPDATE _document SET name = ?1, mime_type = ?2, size = ?3, modified = ?4,
				version = (SELECT version FROM _clock), content = zeroblob(?3) WHERE rowid = ?5`,
				out.Name, out.MimeType, size, out.Modified.UnixMicro(), rowid)
		} else {
			err = cn.exec(`INSERT INTO _document (id, entity, record_id, name, mime_type, size, modified, version, content)
				VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, (SELECT version FROM _clock), zeroblob(?6))`,
				out.ID, out.Entity, out.RecordID, out.Name, out.MimeType, size, out.Modified.UnixMicro())
			rowid = cn.db.LastInsertRowID()
		}
		if err != nil {
			return err
		}
		v, _, err := cn.queryInt(`SELECT version FROM _document WHERE rowid = ?`, rowid)
		if err != nil {
			return err
		}
		out.Version = strconv.FormatInt(v, 10)
		written, err = fillBlob(ctx, cn, rowid, size, r)
		return err
	})
	if err != nil {
		return sdk.Document{}, sqlErr(ctx, "write document "+doc.Name, err)
	}
	return out, nil
}

// fillBlob copies exactly size bytes of r into the content blob of the
// _document row, a chunk at a time, and checks that r has no more.
func fillBlob(ctx context.Context, cn *conn, rowid, size int64, r io.Reader) (int64, error) {
	blob, err := cn.db.OpenBlob("main", "_document", "content", rowid, true)
	if err != nil {
		return 0, err
	}
	defer blob.Close()
	buf := make([]byte, docChunk)
	var n int64
	for n < size {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k, rerr := io.ReadFull(r, buf[:min(int64(len(buf)), size-n)])
		if k > 0 {
			if _, err := blob.Write(buf[:k]); err != nil {
				return n, err
			}
			n += int64(k)
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			return n, sdk.Errorf(sdk.Permanent, "mock: the document ended after %d of its %d bytes", n, size)
		}
		if rerr != nil {
			return n, rerr
		}
	}
	var one [1]byte
	k, rerr := io.ReadFull(r, one[:])
	if k > 0 {
		return n, sdk.Errorf(sdk.Permanent, "mock: the document has more than its declared %d bytes", size)
	}
	if rerr != nil && !errors.Is(rerr, io.EOF) {
		return n, rerr
	}
	return n, blob.Close()
}
