package salesforce

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/simpleforce/simpleforce"

	"github.com/fieldsync/fieldsync/sdk"
)

// Documents: files (ContentVersion, linked to records by
// ContentDocumentLink.LinkedEntityId; the latest version is listed) and
// legacy attachments (Attachment.ParentId). A document id names its kind:
// "ContentVersion/068…" or "Attachment/00P…", so ReadDocument knows which
// blob to stream (VersionData or Body).
//
// A listing walks the record ids in chunks of requeryBatch; within a chunk
// files come first (keyset on ContentDocumentId, LinkedEntityId), then
// attachments (keyset on Id). The cursor holds the chunk, the phase and
// the last key.

const (
	docFiles       = "files"
	docAttachments = "attachments"
	defaultDocPage = 100
	kindVersion    = "ContentVersion"
	kindAttachment = "Attachment"
)

type docCursor struct {
	Chunk int    `json:"c"`
	Phase string `json:"p"`
	Key1  string `json:"a,omitempty"`
	Key2  string `json:"b,omitempty"`
}

// ListDocuments implements sdk.Documents.
func (c *Connector) ListDocuments(ctx context.Context, q sdk.DocumentQuery, fn func(*sdk.DocumentPage) error) error {
	if err := c.usable(ctx, "list documents"); err != nil {
		return err
	}
	m, err := c.loadModel(ctx)
	if err != nil {
		return err
	}
	o, err := m.object(q.Entity)
	if err != nil {
		return err
	}
	for _, id := range q.RecordIDs {
		if !validID(id) {
			return sdk.Errorf(sdk.Permanent, "salesforce: list documents of %s: %q is not a Salesforce id", o.name, id)
		}
	}
	size := q.PageSize
	if size <= 0 {
		size = defaultDocPage
	}
	cur := docCursor{Phase: docFiles}
	if q.Cursor != nil && !decode(kindCursor, q.Cursor, &cur) || cur.Chunk < 0 || (cur.Phase != docFiles && cur.Phase != docAttachments) {
		return sdk.Errorf(sdk.Permanent, "salesforce: list documents of %s: the cursor is malformed", o.name)
	}
	// Without record ids: every row of the entity, by semi-join.
	chunks := [][]string{nil}
	if len(q.RecordIDs) > 0 {
		chunks = nil
		ids := slices.Clone(q.RecordIDs)
		slices.Sort(ids)
		ids = slices.Compact(ids)
		for len(ids) > 0 {
			n := min(len(ids), requeryBatch)
			chunks = append(chunks, ids[:n])
			ids = ids[n:]
		}
	}
	var page []sdk.Document
	flush := func(last bool) error {
		p := &sdk.DocumentPage{Documents: page, Last: last}
		if !last {
			p.Cursor = encode(kindCursor, cur)
		}
		page = nil
		if err := fn(p); err != nil {
			return err
		}
		return ctx.Err()
	}
	for ; cur.Chunk < len(chunks); cur.Chunk, cur.Phase, cur.Key1, cur.Key2 = cur.Chunk+1, docFiles, "", "" {
		owners := "IN (SELECT Id FROM " + o.name + ")"
		if chunks[cur.Chunk] != nil {
			owners = "IN (" + quoteIDs(chunks[cur.Chunk]) + ")"
		}
		if cur.Phase == docFiles {
			for {
				if len(page) >= size {
					if err := flush(false); err != nil {
						return err
					}
				}
				docs, k1, k2, err := c.listFiles(ctx, o.name, owners, cur.Key1, cur.Key2, size-len(page))
				if err != nil {
					return err
				}
				page = append(page, docs...)
				if k1 == "" {
					break
				}
				cur.Key1, cur.Key2 = k1, k2
			}
			cur.Phase, cur.Key1, cur.Key2 = docAttachments, "", ""
		}
		for {
			if len(page) >= size {
				if err := flush(false); err != nil {
					return err
				}
			}
			docs, k1, err := c.listAttachments(ctx, o.name, owners, cur.Key1, size-len(page))
			if err != nil {
				return err
			}
			page = append(page, docs...)
			if k1 == "" {
				break
			}
			cur.Key1 = k1
		}
	}
	return flush(true)
}

// listFiles lists up to limit files of the owners after key (docID,
// ownerID), returning the last key ("" when the list is exhausted).
func (c *Connector) listFiles(ctx context.Context, entity, owners, k1, k2 string, limit int) ([]sdk.Document, string, string, error) {
	cond := "LinkedEntityId " + owners
	if k1 != "" {
		cond += " AND (ContentDocumentId > '" + k1 + "' OR (ContentDocumentId = '" + k1 + "' AND LinkedEntityId > '" + k2 + "'))"
	}
	links, err := c.queryAll(ctx, "SELECT ContentDocumentId, LinkedEntityId FROM ContentDocumentLink WHERE "+cond+" ORDER BY ContentDocumentId, LinkedEntityId LIMIT "+strconv.Itoa(limit+1), "list files of "+entity)
	if err != nil {
		return nil, "", "", err
	}
	more := len(links) > limit
	if more {
		links = links[:limit]
	}
	var docIDs []string
	for _, l := range links {
		d, o := str(l, "ContentDocumentId"), str(l, "LinkedEntityId")
		if !validID(d) || !validID(o) {
			return nil, "", "", sdk.Errorf(sdk.Retryable, "salesforce: list files of %s: a ContentDocumentLink has no valid ids", entity)
		}
		docIDs = append(docIDs, d)
	}
	versions := map[string]simpleforce.SObject{}
	if len(docIDs) > 0 {
		slices.Sort(docIDs)
		rows, err := c.queryAll(ctx, "SELECT Id, ContentDocumentId, Title, PathOnClient, FileType, ContentSize, SystemModstamp FROM ContentVersion WHERE IsLatest = true AND ContentDocumentId IN ("+quoteIDs(slices.Compact(docIDs))+")", "list file versions of "+entity)
		if err != nil {
			return nil, "", "", err
		}
		for _, r := range rows {
			versions[str(r, "ContentDocumentId")] = r
		}
	}
	out := make([]sdk.Document, 0, len(links))
	for _, l := range links {
		v, ok := versions[str(l, "ContentDocumentId")]
		if !ok || !validID(str(v, "Id")) {
			continue // a document without a visible latest version
		}
		name := str(v, "PathOnClient")
		if name == "" {
			name = str(v, "Title")
		}
		out = append(out, sdk.Document{
			ID: kindVersion + "/" + str(v, "Id"), Entity: entity, RecordID: str(l, "LinkedEntityId"),
			Name: name, MimeType: mimeOf(str(v, "FileType")), Size: num(v, "ContentSize"),
			Modified: when(v, "SystemModstamp"), Version: str(v, "SystemModstamp"),
		})
	}
	if !more {
		return out, "", "", nil
	}
	last := links[len(links)-1]
	return out, str(last, "ContentDocumentId"), str(last, "LinkedEntityId"), nil
}

func (c *Connector) listAttachments(ctx context.Context, entity, owners, k1 string, limit int) ([]sdk.Document, string, error) {
	cond := "ParentId " + owners
	if k1 != "" {
		cond += " AND Id > '" + k1 + "'"
	}
	rows, err := c.queryAll(ctx, "SELECT Id, ParentId, Name, ContentType, BodyLength, SystemModstamp FROM Attachment WHERE "+cond+" ORDER BY Id LIMIT "+strconv.Itoa(limit+1), "list attachments of "+entity)
	if err != nil {
		return nil, "", err
	}
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	out := make([]sdk.Document, 0, len(rows))
	for _, r := range rows {
		if !validID(str(r, "Id")) {
			return nil, "", sdk.Errorf(sdk.Retryable, "salesforce: list attachments of %s: an Attachment has no valid id", entity)
		}
		out = append(out, sdk.Document{
			ID: kindAttachment + "/" + str(r, "Id"), Entity: entity, RecordID: str(r, "ParentId"),
			Name: str(r, "Name"), MimeType: str(r, "ContentType"), Size: num(r, "BodyLength"),
			Modified: when(r, "SystemModstamp"), Version: str(r, "SystemModstamp"),
		})
	}
	if !more {
		return out, "", nil
	}
	return out, str(rows[len(rows)-1], "Id"), nil
}

// queryAll runs a small SOQL query through simpleforce's Query (these rows
// hold text and sizes, which a float64 carries exactly) and follows its
// nextRecordsUrl.
func (c *Connector) queryAll(ctx context.Context, q, what string) ([]simpleforce.SObject, error) {
	var out []simpleforce.SObject
	next := q
	for {
		r, err := c.force.query(ctx, next, nil, what)
		if err != nil {
			return nil, err
		}
		out = append(out, r.Records...)
		if r.Done || r.NextRecordsURL == "" {
			return out, nil
		}
		if !strings.HasPrefix(r.NextRecordsURL, "/services/data/") {
			return nil, sdk.Errorf(sdk.Retryable, "salesforce: %s: nextRecordsUrl %q is not a REST path", what, truncate(r.NextRecordsURL, 100))
		}
		next = r.NextRecordsURL
	}
}

func str(o simpleforce.SObject, key string) string {
	s, _ := o[key].(string)
	return s
}

func num(o simpleforce.SObject, key string) int64 {
	switch v := o[key].(type) {
	case float64:
		if v >= 0 && v < 1<<53 {
			return int64(v)
		}
	case string:
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	return 0
}

func when(o simpleforce.SObject, key string) time.Time {
	t, _ := parseSFTime(str(o, key))
	return t
}

// mimeOf maps ContentVersion.FileType to a MIME type (unknown: octets).
func mimeOf(fileType string) string {
	switch strings.ToUpper(fileType) {
	case "PDF":
		return "application/pdf"
	case "PNG":
		return "image/png"
	case "JPG", "JPEG":
		return "image/jpeg"
	case "GIF":
		return "image/gif"
	case "TEXT", "TXT":
		return "text/plain"
	case "CSV":
		return "text/csv"
	case "WORD_X":
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case "EXCEL_X":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	return "application/octet-stream"
}

// ReadDocument implements sdk.Documents: it streams VersionData or Body
// from offset on. It asks for a Range; a server that answers the whole
// blob (200) has the bytes before offset skipped as they arrive.
func (c *Connector) ReadDocument(ctx context.Context, id string, offset int64, w io.Writer) error {
	if err := c.usable(ctx, "read document"); err != nil {
		return err
	}
	kind, sfid, ok := strings.Cut(id, "/")
	if !ok || !validID(sfid) || (kind != kindVersion && kind != kindAttachment) {
		return sdk.Errorf(sdk.Permanent, "salesforce: read document %q: not a document id of this connector (ContentVersion/… or Attachment/…)", truncate(id, 60))
	}
	if offset < 0 {
		return sdk.Errorf(sdk.Permanent, "salesforce: read document %s: negative offset %d", id, offset)
	}
	blob := "VersionData"
	if kind == kindAttachment {
		blob = "Body"
	}
	hdr := http.Header{"Accept": {"*/*"}}
	if offset > 0 {
		hdr.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
	}
	what := "read document " + id
	body, respHdr, err := c.force.openStream(ctx, call{Method: http.MethodGet, Path: c.force.dataPath("sobjects/" + kind + "/" + sfid + "/" + blob), Header: hdr, What: what})
	if err != nil {
		return err
	}
	defer body.Close()
	if offset > 0 && !strings.HasPrefix(respHdr.Get("Content-Range"), "bytes "+strconv.FormatInt(offset, 10)+"-") {
		if n, err := io.CopyN(io.Discard, body, offset); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("salesforce: %s: %w", what, ctx.Err())
			}
			return sdk.Errorf(sdk.Permanent, "salesforce: %s: offset %d is past the document's end (%d bytes)", what, offset, n)
		}
	}
	if _, err := io.Copy(w, ctxReader{ctx: ctx, r: body}); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("salesforce: %s: %w", what, ctx.Err())
		}
		return &sdk.Error{Kind: sdk.Retryable, Message: fmt.Sprintf("salesforce: %s: %v", what, err), Err: err}
	}
	return nil
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
