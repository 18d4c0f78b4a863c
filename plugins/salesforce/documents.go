package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"path"
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
		rows, err := c.queryAll(ctx, "SELECT "+versionFields+" FROM ContentVersion WHERE IsLatest = true AND ContentDocumentId IN ("+quoteIDs(slices.Compact(docIDs))+")", "list file versions of "+entity)
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
		out = append(out, versionDoc(entity, str(l, "LinkedEntityId"), v))
	}
	if !more {
		return out, "", "", nil
	}
	last := links[len(links)-1]
	return out, str(last, "ContentDocumentId"), str(last, "LinkedEntityId"), nil
}

// versionFields are the ContentVersion fields a document is made of.
const versionFields = "Id, ContentDocumentId, Title, PathOnClient, FileType, ContentSize, SystemModstamp"

// versionDoc is the document of a ContentVersion row linked to owner.
func versionDoc(entity, owner string, v simpleforce.SObject) sdk.Document {
	name := str(v, "PathOnClient")
	if name == "" {
		name = str(v, "Title")
	}
	return sdk.Document{
		ID: kindVersion + "/" + str(v, "Id"), Entity: entity, RecordID: owner,
		Name: name, MimeType: mimeOf(str(v, "FileType")), Size: num(v, "ContentSize"),
		Modified: when(v, "SystemModstamp"), Version: str(v, "SystemModstamp"),
	}
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

// WriteDocument implements sdk.DocumentWriter the way the REST API
// Developer Guide inserts blob data ("Insert or Update Blob Data"): a
// ContentVersion published to the record (FirstPublishLocationId, which
// also creates its ContentDocument and ContentDocumentLink), POSTed as
// multipart/form-data: a JSON part "entity_content" with the fields, then
// the file's bytes as part "VersionData". The bytes stream from r through
// a pipe, never whole in memory and never base64-encoded. With doc.Size
// known the request has a Content-Length; with -1 it is sent chunked and
// the bytes are counted. A reader that yields another count than doc.Size
// fails the call (Permanent) and the request is cut before its closing
// boundary, so nothing is stored. Salesforce assigns the ids: a doc.ID is
// not used. The answer is the version as ListDocuments reports it, read
// back with one query.
func (c *Connector) WriteDocument(ctx context.Context, doc sdk.Document, r io.Reader) (sdk.Document, error) {
	if err := c.usable(ctx, "write document"); err != nil {
		return sdk.Document{}, err
	}
	m, err := c.loadModel(ctx)
	if err != nil {
		return sdk.Document{}, err
	}
	o, err := m.object(doc.Entity)
	if err != nil {
		return sdk.Document{}, err
	}
	name := strings.TrimSpace(doc.Name)
	what := fmt.Sprintf("write document %q of %s %s", truncate(name, 60), o.name, truncate(doc.RecordID, 40))
	switch {
	case !validID(doc.RecordID):
		return sdk.Document{}, sdk.Errorf(sdk.Permanent, "salesforce: %s: %q is not a Salesforce id", what, truncate(doc.RecordID, 40))
	case name == "":
		return sdk.Document{}, sdk.Errorf(sdk.Permanent, "salesforce: %s: the document has no name", what)
	case doc.Size < -1:
		return sdk.Document{}, sdk.Errorf(sdk.Permanent, "salesforce: %s: invalid size %d", what, doc.Size)
	case r == nil:
		return sdk.Document{}, sdk.Errorf(sdk.Permanent, "salesforce: %s: no content reader", what)
	}
	prefix, suffix, ctype, err := uploadFrame(name, doc.MimeType, doc.RecordID)
	if err != nil {
		return sdk.Document{}, sdk.Errorf(sdk.Permanent, "salesforce: %s: %v", what, err)
	}
	length := int64(-1)
	if doc.Size >= 0 {
		length = int64(len(prefix)) + doc.Size + int64(len(suffix))
	}
	pr, pw := io.Pipe()
	src := &uploadSource{r: ctxReader{ctx: ctx, r: r}}
	done := make(chan error, 1)
	go func() {
		err := writeUpload(pw, prefix, suffix, src, doc.Size)
		_ = pw.CloseWithError(err) // nil: EOF
		done <- err
	}()
	resp, sendErr := c.force.sendStream(ctx, call{Method: http.MethodPost, Path: c.force.dataPath("sobjects/" + kindVersion),
		Header: http.Header{"Content-Type": {ctype}}, What: what}, pr, length)
	_ = pr.CloseWithError(errUploadEnded) // unblocks the writer if the server answered early
	bodyErr := <-done
	var mismatch *sizeMismatch
	switch {
	case errors.As(bodyErr, &mismatch):
		return sdk.Document{}, &sdk.Error{Kind: sdk.Permanent, Err: mismatch,
			Message: fmt.Sprintf("salesforce: %s: %v; the upload was cut off and nothing was stored", what, mismatch)}
	case src.err != nil && ctx.Err() == nil:
		return sdk.Document{}, &sdk.Error{Kind: sdk.Retryable, Err: src.err,
			Message: fmt.Sprintf("salesforce: %s: reading the content after %d bytes: %v", what, src.n, src.err)}
	case sendErr != nil:
		return sdk.Document{}, sendErr
	}
	var ans struct {
		ID      string    `json:"id"`
		Success bool      `json:"success"`
		Errors  []sfError `json:"errors"`
	}
	if err := json.Unmarshal(resp.Body, &ans); err != nil {
		return sdk.Document{}, sdk.Errorf(sdk.Retryable, "salesforce: %s: unreadable answer (HTTP %d): %v", what, resp.Status, err)
	}
	if !ans.Success {
		return sdk.Document{}, recordError(what, ans.Errors)
	}
	if !validID(ans.ID) {
		return sdk.Document{}, sdk.Errorf(sdk.Retryable, "salesforce: %s: the answer has no valid id (%q)", what, truncate(ans.ID, 40))
	}
	rows, err := c.queryAll(ctx, "SELECT "+versionFields+" FROM ContentVersion WHERE Id = '"+ans.ID+"'", what)
	if err != nil {
		return sdk.Document{}, err
	}
	if len(rows) == 0 {
		return sdk.Document{}, sdk.Errorf(sdk.Retryable, "salesforce: %s: the new ContentVersion %s is not visible", what, ans.ID)
	}
	out := versionDoc(o.name, doc.RecordID, rows[0])
	if out.Size != src.n {
		return out, sdk.Errorf(sdk.Retryable, "salesforce: %s: sent %d bytes but ContentVersion %s holds %d", what, src.n, ans.ID, out.Size)
	}
	return out, nil
}

// errUploadEnded closes an upload's pipe once the request is over.
var errUploadEnded = errors.New("salesforce: the upload request ended")

// sizeMismatch: the reader yielded another count than the document's size.
type sizeMismatch struct {
	want, got int64
	more      bool // got is a lower bound: the reader had more
}

func (e *sizeMismatch) Error() string {
	if e.more {
		return fmt.Sprintf("the content reader yielded more than the document's size of %d bytes", e.want)
	}
	return fmt.Sprintf("the content reader yielded %d bytes, not the document's size of %d", e.got, e.want)
}

// uploadSource counts the bytes read from the caller's reader and keeps
// its error (other than EOF), to tell it from the transport's.
type uploadSource struct {
	r   io.Reader
	n   int64
	err error
}

func (u *uploadSource) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	u.n += int64(n)
	if err != nil && err != io.EOF && u.err == nil {
		u.err = err
	}
	return n, err
}

// writeUpload writes the multipart body: prefix, the content (exactly size
// bytes unless size is -1), suffix. A count other than size stops it before
// the suffix, so the server sees a broken body.
func writeUpload(w io.Writer, prefix, suffix []byte, src *uploadSource, size int64) error {
	if _, err := w.Write(prefix); err != nil {
		return err
	}
	if size >= 0 {
		n, err := io.CopyN(w, src, size)
		if errors.Is(err, io.EOF) {
			return &sizeMismatch{want: size, got: n}
		}
		if err != nil {
			return err
		}
		var one [1]byte
		for {
			k, err := src.Read(one[:])
			if k > 0 {
				return &sizeMismatch{want: size, got: size + 1, more: true}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
		}
	} else if _, err := io.Copy(w, src); err != nil {
		return err
	}
	_, err := w.Write(suffix)
	return err
}

// uploadFrame builds the multipart body around the content: the JSON part
// "entity_content" and the header of part "VersionData" (prefix), the
// closing boundary (suffix), and the request's Content-Type with our
// random boundary.
func uploadFrame(name, mimeType, recordID string) (prefix, suffix []byte, contentType string, err error) {
	title := strings.TrimSuffix(name, path.Ext(name))
	if title == "" {
		title = name
	}
	fields, err := json.Marshal(map[string]string{"Title": title, "PathOnClient": name, "FirstPublishLocationId": recordID})
	if err != nil {
		return nil, nil, "", err
	}
	if _, _, err := mime.ParseMediaType(mimeType); err != nil || strings.ContainsAny(mimeType, "\r\n") {
		mimeType = "application/octet-stream"
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	part, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Disposition": {`form-data; name="entity_content"`},
		"Content-Type":        {"application/json"},
	})
	if err != nil {
		return nil, nil, "", err
	}
	if _, err := part.Write(fields); err != nil {
		return nil, nil, "", err
	}
	if _, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Disposition": {`form-data; name="VersionData"; filename="` + quoteEscaper.Replace(name) + `"`},
		"Content-Type":        {mimeType},
	}); err != nil {
		return nil, nil, "", err
	}
	prefix = bytes.Clone(buf.Bytes())
	buf.Reset()
	if err := mw.Close(); err != nil {
		return nil, nil, "", err
	}
	return prefix, bytes.Clone(buf.Bytes()), mw.FormDataContentType(), nil
}

var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", "%0D", "\n", "%0A")
