package rescocloud

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/plugins/rescocloud/wire"
	"github.com/fieldsync/fieldsync/sdk"
)

// Attributes of the annotation entity that documents use.
const (
	annObject   = "objectid"
	annFileName = "filename"
	annMimeType = "mimetype"
	annFileSize = "filesize"
	annBody     = "documentbody"
	annModified = "modifiedon"
	annIsDoc    = "isdocument"
)

// maxIDsPerDocumentQuery bounds the ids of one listing query; a longer
// list is read in chunks, the cursor saying which.
const maxIDsPerDocumentQuery = 200

// DefaultDocumentPageSize is a listing page when the query sets none.
const DefaultDocumentPageSize = 500

type docCursor struct {
	Entity string `json:"e"`
	Req    string `json:"q"`
	Chunk  int    `json:"c"`
	Page   int    `json:"p"`
	Cookie string `json:"ck,omitempty"`
}

const docCursorPrefix = "rcd1:"

func (c *Connector) annotations(ctx context.Context) (*model, *entityModel, error) {
	m, err := c.loadModel(ctx)
	if err != nil {
		return nil, nil, err
	}
	em := m.entities[annotationEntity]
	if em == nil || em.sdk.Field(annObject) == nil {
		return nil, nil, sdk.Errorf(sdk.Unsupported, "rescocloud: the service lists no %s entity with %s, so it keeps no documents", annotationEntity, annObject)
	}
	return m, em, nil
}

// ListDocuments lists annotations that carry a file, by owner rows: a Fetch
// of annotation with "objectid in (ids)", up to 200 ids a query, paged by
// FetchXML paging cookies. Document bodies are not read here.
func (c *Connector) ListDocuments(ctx context.Context, q sdk.DocumentQuery, fn func(*sdk.DocumentPage) error) error {
	if err := c.check(ctx, "list documents"); err != nil {
		return err
	}
	m, em, err := c.annotations(ctx)
	if err != nil {
		return err
	}
	if q.Entity != "" {
		if _, err := m.entity(q.Entity); err != nil {
			return err
		}
	}
	if q.PageSize < 0 {
		return sdk.Errorf(sdk.Permanent, "rescocloud: list documents: page size %d is negative", q.PageSize)
	}
	size := DefaultDocumentPageSize
	if q.PageSize > 0 {
		size = min(q.PageSize, sdk.MaxPageSize)
	}
	for _, id := range q.RecordIDs {
		if !sdk.IsGUID(id) {
			return sdk.Errorf(sdk.Permanent, "rescocloud: list documents: record id %q is not a GUID", id)
		}
	}
	key := requestKey(&sdk.FetchRequest{Entity: q.Entity}, q.RecordIDs)
	st := docCursor{Entity: q.Entity, Req: key, Page: 1}
	if q.Cursor != nil {
		if !decodeOpaque(docCursorPrefix, q.Cursor, &st) || st.Entity != q.Entity || st.Req != key || st.Chunk < 0 || st.Page < 1 {
			return sdk.Errorf(sdk.Permanent, "rescocloud: list documents: the cursor is malformed or belongs to another listing")
		}
	}
	chunks := (len(q.RecordIDs) + maxIDsPerDocumentQuery - 1) / maxIDsPerDocumentQuery
	if len(q.RecordIDs) == 0 {
		chunks = 1
	}
	var attrs []string
	for _, a := range []string{em.sdk.PrimaryKey, annObject, annFileName, annMimeType, annFileSize, annModified} {
		if a == em.sdk.PrimaryKey || em.sdk.Field(a) != nil {
			attrs = append(attrs, a)
		}
	}
	p := &fetchPlan{m: m, em: em}
	for st.Chunk < chunks {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("rescocloud: list documents: %w", err)
		}
		var f *sdk.Filter
		if len(q.RecordIDs) > 0 {
			ids := q.RecordIDs[st.Chunk*maxIDsPerDocumentQuery : min((st.Chunk+1)*maxIDsPerDocumentQuery, len(q.RecordIDs))]
			vals := make([]sdk.Value, len(ids))
			for i, id := range ids {
				vals[i] = sdk.String(strings.ToLower(id))
			}
			f = &sdk.Filter{Op: sdk.OpIn, Field: annObject, Values: vals}
		} else {
			f = &sdk.Filter{Op: sdk.OpNotNull, Field: annObject}
		}
		fr, err := c.fetchPage(ctx, p, attrs, f, size, st.Page, st.Cookie)
		if err != nil {
			return err
		}
		page := &sdk.DocumentPage{}
		for i := range fr.Entities {
			d, ok, err := annotationDocument(&fr.Entities[i], em)
			if err != nil {
				return badAnswer("Fetch annotation", err)
			}
			if !ok || (q.Entity != "" && d.Entity != "" && d.Entity != q.Entity) {
				continue
			}
			if d.Entity == "" {
				d.Entity = q.Entity
			}
			page.Documents = append(page.Documents, d)
		}
		if fr.MoreRecords {
			st.Page++
			st.Cookie = fr.PagingCookie
		} else {
			st.Chunk, st.Page, st.Cookie = st.Chunk+1, 1, ""
		}
		page.Last = st.Chunk >= chunks
		if !page.Last {
			page.Cursor = encodeOpaque(docCursorPrefix, st)
		}
		if err := fn(page); err != nil {
			return err
		}
	}
	return nil
}

// annotationDocument reads a listed annotation; ok is false for a note
// without a file.
func annotationDocument(rec *wire.Record, em *entityModel) (sdk.Document, bool, error) {
	d := sdk.Document{ID: strings.ToLower(rec.Id), Version: strconv.FormatInt(rec.RowVersion, 10)}
	get := func(name string) (sdk.Value, error) {
		raw, ok := rec.Attributes[name]
		if !ok || wire.IsNull(raw) {
			return sdk.Null(), nil
		}
		v, err := decodeValue(em.attrs[name], raw)
		if err != nil {
			return sdk.Null(), fmt.Errorf("annotation %s: %s: %w", rec.Id, name, err)
		}
		return v, nil
	}
	if raw, ok := rec.Attributes[annObject]; ok && !wire.IsNull(raw) {
		l, err := wire.DecodeLookup(raw)
		if err != nil {
			return d, false, fmt.Errorf("annotation %s: %s: %w", rec.Id, annObject, err)
		}
		d.RecordID, d.Entity = l.Id, l.LogicalName
	}
	name, err := get(annFileName)
	if err != nil {
		return d, false, err
	}
	if name.IsNull() || name.Str() == "" || d.RecordID == "" {
		return d, false, nil
	}
	d.Name = name.Str()
	mime, err := get(annMimeType)
	if err != nil {
		return d, false, err
	}
	d.MimeType = mime.Str()
	size, err := get(annFileSize)
	if err != nil {
		return d, false, err
	}
	if size.Kind() == sdk.KindInt {
		d.Size = size.Int()
	}
	mod, err := get(annModified)
	if err != nil {
		return d, false, err
	}
	if mod.Kind() == sdk.KindInt {
		d.Modified = mod.Time()
	}
	return d, true, nil
}

// ReadDocument streams an annotation's bytes from offset with GET Blob and
// "Range: bytes=N-". A connection dropped mid-body resumes from the bytes
// already written, within the retry budget.
func (c *Connector) ReadDocument(ctx context.Context, id string, offset int64, w io.Writer) error {
	if err := c.check(ctx, "read document"); err != nil {
		return err
	}
	if !sdk.IsGUID(id) {
		return sdk.Errorf(sdk.Permanent, "rescocloud: read document: id %q is not a GUID", id)
	}
	if offset < 0 {
		return sdk.Errorf(sdk.Permanent, "rescocloud: read document %s: offset %d is negative", id, offset)
	}
	what := "Blob " + id
	resumes := 0
	for {
		r := request{method: http.MethodGet, path: wire.PathBlob + "?id=" + url.QueryEscape(strings.ToLower(id)), what: what,
			expect: []int{http.StatusOK, http.StatusPartialContent}}
		if offset > 0 {
			r.header = http.Header{"Range": {"bytes=" + strconv.FormatInt(offset, 10) + "-"}}
		}
		resp, err := c.http.do(ctx, r)
		if err != nil {
			var ae *apiError
			if errors.As(err, &ae) && ae.Status == http.StatusRequestedRangeNotSatisfiable {
				return sdk.Errorf(sdk.Permanent, "rescocloud: read document %s: offset %d is past the document's end", id, offset)
			}
			return err
		}
		body := io.Reader(resp.Body)
		if resp.StatusCode == http.StatusOK && offset > 0 {
			// The service ignored the range: skip to the offset.
			if _, err := io.CopyN(io.Discard, resp.Body, offset); err != nil {
				resp.Body.Close()
				return sdk.Errorf(sdk.Permanent, "rescocloud: read document %s: offset %d is past the document's end", id, offset)
			}
		}
		n, err := io.Copy(w, &ctxReader{ctx: ctx, r: body})
		resp.Body.Close()
		offset += n
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("rescocloud: read document %s: %w", id, ctx.Err())
		}
		var we writeError
		if errors.As(err, &we) {
			return we.err // the caller's writer failed: not ours to retry
		}
		if resumes >= c.cfg.Retries {
			return &sdk.Error{Kind: sdk.Retryable, Message: fmt.Sprintf("rescocloud: read document %s: connection lost at byte %d: %v", id, offset, err), Err: err}
		}
		resumes++
		c.http.retries_.Add(1)
		c.log.Warn("document download interrupted; resuming", "id", id, "offset", offset, "error", err)
	}
}

// ctxReader stops a copy when ctx ends, and tells the writer's errors from
// the body's (io.Copy returns either).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// WriteTo keeps io.Copy from using the writer's ReadFrom, so writer errors
// are marked.
func (r *ctxReader) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, 32<<10)
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, writeError{werr}
			}
			if m < n {
				return total, writeError{io.ErrShortWrite}
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

type writeError struct{ err error }

func (e writeError) Error() string { return e.err.Error() }
func (e writeError) Unwrap() error { return e.err }

// WriteDocument stores r's bytes as an annotation of doc.Entity's row
// doc.RecordID: CreateMultiple with documentbody in base64 (at most 16
// MB), or UpdateMultiple when doc.ID names an annotation that exists, so a
// retried upload stores one document. The body is streamed into the
// request, never held whole; the upload is sent once (a reader cannot be
// read twice), and a failure is retryable by the caller.
func (c *Connector) WriteDocument(ctx context.Context, doc sdk.Document, r io.Reader) (sdk.Document, error) {
	if err := c.check(ctx, "write document"); err != nil {
		return sdk.Document{}, err
	}
	m, em, err := c.annotations(ctx)
	if err != nil {
		return sdk.Document{}, err
	}
	if _, err := m.entity(doc.Entity); err != nil {
		return sdk.Document{}, err
	}
	if !sdk.IsGUID(doc.RecordID) {
		return sdk.Document{}, sdk.Errorf(sdk.Permanent, "rescocloud: write document: record id %q is not a GUID", doc.RecordID)
	}
	if doc.Name == "" {
		return sdk.Document{}, sdk.Errorf(sdk.Permanent, "rescocloud: write document: a document needs a name")
	}
	if doc.Size > wire.MaxDocumentBytes {
		return sdk.Document{}, sdk.Errorf(sdk.Permanent, "rescocloud: write document %s: %d bytes, more than the %d the service takes", doc.Name, doc.Size, wire.MaxDocumentBytes)
	}
	if em.sdk.Field(annBody) == nil {
		return sdk.Document{}, sdk.Errorf(sdk.Unsupported, "rescocloud: write document: annotation has no %s", annBody)
	}
	id := strings.ToLower(doc.ID)
	op := sdk.OpCreate
	if id == "" {
		id = newGUID()
	} else if !sdk.IsGUID(id) {
		return sdk.Document{}, sdk.Errorf(sdk.Permanent, "rescocloud: write document: id %q is not a GUID", doc.ID)
	} else {
		cur, err := c.currentRows(ctx, m, em, []string{id})
		if err != nil {
			return sdk.Document{}, err
		}
		if cur[id] != nil {
			op = sdk.OpUpdate
		}
	}
	attrs := map[string]json.RawMessage{
		annFileName: wire.EncodeString(doc.Name),
	}
	if op == sdk.OpCreate {
		attrs[annObject] = wire.EncodeLookup(wire.Lookup{Id: strings.ToLower(doc.RecordID), LogicalName: doc.Entity})
	}
	if doc.MimeType != "" && em.sdk.Field(annMimeType) != nil {
		attrs[annMimeType] = wire.EncodeString(doc.MimeType)
	}
	if f := em.sdk.Field(annIsDoc); f != nil && !f.ReadOnly && f.Type == sdk.TypeBool {
		attrs[annIsDoc] = wire.EncodeBool(true)
	}
	sentinel := "@@body-" + newGUID() + "@@"
	attrs[annBody] = wire.EncodeString(sentinel)
	head, err := json.Marshal(wire.WriteRequest{Entity: annotationEntity, Records: []wire.WriteRecord{{Id: id, RequestId: "doc-" + newGUID(), Attributes: attrs}}})
	if err != nil {
		return sdk.Document{}, sdk.Errorf(sdk.Permanent, "rescocloud: write document: %v", err)
	}
	before, after, found := strings.Cut(string(head), sentinel)
	if !found {
		return sdk.Document{}, sdk.Errorf(sdk.Permanent, "rescocloud: write document: cannot build the request")
	}
	pr, pw := io.Pipe()
	counted := &countingReader{r: r, limit: wire.MaxDocumentBytes}
	go func() {
		_, err := io.WriteString(pw, before)
		if err == nil {
			enc := base64.NewEncoder(base64.StdEncoding, pw)
			if _, err = io.Copy(enc, counted); err == nil {
				err = enc.Close()
			}
		}
		if err == nil && doc.Size >= 0 && counted.n != doc.Size {
			err = fmt.Errorf("the reader yielded %d bytes, not the %d the document says", counted.n, doc.Size)
		}
		if err == nil {
			_, err = io.WriteString(pw, after)
		}
		pw.CloseWithError(err)
	}()
	path := wire.PathCreateMultiple
	if op == sdk.OpUpdate {
		path = wire.PathUpdateMultiple
	}
	what := fmt.Sprintf("%s annotation (document %s)", path, doc.Name)
	resp, err := c.http.doStream(ctx, path, what, pr)
	pr.CloseWithError(errors.New("request finished"))
	if counted.err != nil {
		return sdk.Document{}, sdk.Errorf(sdk.Permanent, "rescocloud: write document %s: %v", doc.Name, counted.err)
	}
	if err != nil {
		return sdk.Document{}, err
	}
	wr, err := wire.DecodeWrite(resp.Body, 1)
	resp.Body.Close()
	if err != nil {
		return sdk.Document{}, &sdk.Error{Kind: sdk.Retryable, Message: fmt.Sprintf("rescocloud: %s: bad answer from the service: %v", what, err), Err: err}
	}
	if e := wr.Results[0].Error; e != nil {
		kind := sdk.Permanent
		if e.Code == wire.CodeServerError || e.Code == wire.CodeTooManyRequests {
			kind = sdk.Retryable
		}
		return sdk.Document{}, &sdk.Error{Kind: kind, Message: fmt.Sprintf("rescocloud: %s: %s: %s", what, e.Code, e.Message)}
	}
	return sdk.Document{
		ID: strings.ToLower(wr.Results[0].Id), Entity: doc.Entity, RecordID: strings.ToLower(doc.RecordID),
		Name: doc.Name, MimeType: doc.MimeType, Size: counted.n, Modified: time.Now().UTC(),
		Version: strconv.FormatInt(wr.Results[0].RowVersion, 10),
	}, nil
}

// countingReader counts bytes and refuses more than limit.
type countingReader struct {
	r     io.Reader
	n     int64
	limit int64
	err   error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.limit {
		c.err = fmt.Errorf("more than the %d bytes the service takes", c.limit)
		return n, c.err
	}
	return n, err
}
