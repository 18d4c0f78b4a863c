package dataverse

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/fieldsync/fieldsync/sdk"
)

// Documents are notes (the annotation table, PROTOCOLS.md): subject,
// filename, mimetype, documentbody (base64), filesize, isdocument and the
// owner _objectid_value. Only notes with a document are listed.

const (
	docRecordBatch  = 100     // owner ids per listing query
	inlineLimit     = 4 << 20 // bytes written inline as documentbody; larger go in blocks
	blockSize       = 4 << 20 // UploadBlock / DownloadBlock size
	defaultDocsPage = 100
)

var docColumns = []string{"annotationid", "filename", "mimetype", "filesize", "modifiedon", "_objectid_value", "objecttypecode", "subject"}

// docCursor resumes a listing: record batch B, server page URL (empty:
// the batch's first), rows of it already listed.
type docCursor struct {
	Sig  string `json:"s"`
	B    int    `json:"b"`
	URL  string `json:"u,omitempty"`
	Skip int    `json:"k,omitempty"`
}

const kindDocCursor = 'd'

// annotations returns the note table, or an error when the organization
// offers none.
func (c *Connector) annotations(ctx context.Context) (*model, *entity, error) {
	m, err := c.loadModel(ctx)
	if err != nil {
		return nil, nil, err
	}
	ann := m.byName["annotation"]
	if ann == nil {
		return nil, nil, sdk.Errorf(sdk.Unsupported, "dataverse: the organization offers no annotation table")
	}
	return m, ann, nil
}

// ListDocuments lists the notes with a document, of q.Entity's rows
// q.RecordIDs (in batches of 100 ids: _objectid_value eq … or …), or of
// every row of q.Entity, or of all.
func (c *Connector) ListDocuments(ctx context.Context, q sdk.DocumentQuery, fn func(*sdk.DocumentPage) error) error {
	if fn == nil {
		return sdk.Errorf(sdk.Permanent, "dataverse: list documents without a page callback")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dataverse: list documents: %w", err)
	}
	m, ann, err := c.annotations(ctx)
	if err != nil {
		return err
	}
	if q.Entity != "" && m.byName[q.Entity] == nil {
		return sdk.Errorf(sdk.Permanent, "dataverse: list documents: unknown entity %q", q.Entity)
	}
	ids := make([]string, len(q.RecordIDs))
	for i, id := range q.RecordIDs {
		if ids[i], err = canonicalGUID(id); err != nil {
			return sdk.Errorf(sdk.Permanent, "dataverse: list documents: record id: %v", err)
		}
	}
	pageSize := q.PageSize
	if pageSize <= 0 {
		pageSize = defaultDocsPage
	}
	pageSize = min(pageSize, sdk.MaxPageSize)
	sig := signature(q.Entity, ids, "", false, nil)
	var cur docCursor
	if q.Cursor != nil {
		if !decodeOpaque(kindDocCursor, q.Cursor, &cur) || cur.Sig != sig || cur.B < 0 || cur.Skip < 0 {
			return sdk.Errorf(sdk.Permanent, "dataverse: list documents: the cursor is damaged or belongs to another listing")
		}
	}
	cur.Sig = sig
	batches := (len(ids) + docRecordBatch - 1) / docRecordBatch
	if q.RecordIDs == nil {
		batches = 1
	}
	slots := map[string]int{}
	fields := make([]*field, len(docColumns))
	for i, n := range docColumns {
		if f := ann.byJSON[n]; f != nil {
			slots[n] = i
			fields[i] = f
		}
	}
	vals := make([]sdk.Value, len(docColumns))
	var pending []sdk.Document
	emit := func(next docCursor, last bool) error {
		p := &sdk.DocumentPage{Documents: pending, Last: last}
		if !last {
			p.Cursor = encodeOpaque(kindDocCursor, next)
		}
		pending = nil
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("dataverse: list documents: %w", err)
		}
		return fn(p)
	}
	for ; cur.B < batches; cur.B, cur.URL, cur.Skip = cur.B+1, "", 0 {
		link := cur.URL
		if link == "" {
			link = ann.set + "?$select=" + queryEscape(strings.Join(docColumns[1:], ",")) + "&$filter=" + queryEscape(docFilter(q.Entity, ids, cur.B))
		}
		for link != "" {
			resp, err := c.http.do(ctx, request{Method: http.MethodGet, URL: link, What: "list documents",
				Header: http.Header{"Prefer": {prefer(false, pageSize)}}})
			if err != nil {
				return err
			}
			col, err := openCollection(resp.Body)
			if err != nil {
				resp.Body.Close()
				return bodyError(ctx, "list documents", err)
			}
			consumed := 0
			for {
				more, err := col.more()
				if err != nil {
					resp.Body.Close()
					return bodyError(ctx, "list documents", err)
				}
				if !more {
					break
				}
				it, err := col.readItem(ann, slots, fieldsOrEmpty(fields), vals)
				if err != nil {
					resp.Body.Close()
					return bodyError(ctx, "list documents", err)
				}
				if consumed < cur.Skip {
					consumed++
					continue
				}
				if len(pending) == pageSize {
					if err := emit(docCursor{Sig: sig, B: cur.B, URL: link, Skip: consumed}, false); err != nil {
						resp.Body.Close()
						return err
					}
				}
				pending = append(pending, documentOf(it, q.Entity, vals))
				consumed++
			}
			resp.Body.Close()
			cur.Skip = 0
			next := ""
			if col.nextLink != "" {
				if next, err = c.http.relative(col.nextLink); err != nil {
					return err
				}
			}
			link = next
			if len(pending) > 0 && (link != "" || cur.B+1 < batches) {
				nc := docCursor{Sig: sig, B: cur.B, URL: link}
				if link == "" {
					nc = docCursor{Sig: sig, B: cur.B + 1}
				}
				if err := emit(nc, false); err != nil {
					return err
				}
			}
		}
	}
	return emit(docCursor{}, true)
}

// fieldsOrEmpty stands in a string field for columns the model lacks, so
// readItem never sees a nil field (their slots are absent anyway).
func fieldsOrEmpty(fs []*field) []*field {
	out := make([]*field, len(fs))
	for i, f := range fs {
		if f == nil {
			f = &field{typ: sdk.TypeString}
		}
		out[i] = f
	}
	return out
}

// docFilter selects documents of record batch b.
func docFilter(entity string, ids []string, b int) string {
	conds := []string{"isdocument eq true"}
	if entity != "" {
		conds = append(conds, "objecttypecode eq '"+entity+"'")
	}
	if ids != nil {
		chunk := ids[b*docRecordBatch : min((b+1)*docRecordBatch, len(ids))]
		var or []string
		for _, id := range chunk {
			or = append(or, "_objectid_value eq "+id)
		}
		if len(or) == 0 {
			or = []string{"false"}
		}
		conds = append(conds, "("+strings.Join(or, " or ")+")")
	}
	return strings.Join(conds, " and ")
}

func documentOf(it item, entity string, vals []sdk.Value) sdk.Document {
	d := sdk.Document{ID: it.id, Entity: entity, Version: it.etag}
	str := func(i int) string {
		if vals[i].Kind() == sdk.KindString {
			return vals[i].Str()
		}
		return ""
	}
	d.Name, d.MimeType, d.RecordID = str(1), str(2), str(5)
	if vals[3].Kind() == sdk.KindInt {
		d.Size = vals[3].Int()
	}
	if vals[4].Kind() == sdk.KindInt {
		d.Modified = vals[4].Time()
	}
	if d.Entity == "" {
		d.Entity = str(6)
	}
	if d.Name == "" {
		d.Name = str(7)
	}
	return d
}

// ReadDocument writes a note's document from offset on. From the start it
// is one GET of documentbody, base64-decoded while the JSON streams in
// (the body is never held whole). From an offset it uses
// InitializeAnnotationBlocksDownload and DownloadBlock, which start
// anywhere; a service without them gets the streaming read, skipping to
// the offset.
func (c *Connector) ReadDocument(ctx context.Context, id string, offset int64, w io.Writer) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dataverse: read document: %w", err)
	}
	if offset < 0 {
		return sdk.Errorf(sdk.Permanent, "dataverse: read document %s: negative offset %d", id, offset)
	}
	_, ann, err := c.annotations(ctx)
	if err != nil {
		return err
	}
	gid, err := canonicalGUID(id)
	if err != nil {
		return sdk.Errorf(sdk.Permanent, "dataverse: read document: no document %q: %v", id, err)
	}
	if offset > 0 {
		err := c.readBlocks(ctx, ann, gid, offset, w)
		var ae *apiError
		if !errors.As(err, &ae) || (ae.Status != http.StatusNotFound && ae.Status != http.StatusBadRequest && ae.Status != http.StatusNotImplemented) || strings.Contains(ae.Message, gid) {
			return err
		}
		c.log.Debug("block download unavailable; streaming the document", "error", err)
	}
	resp, err := c.http.do(ctx, request{Method: http.MethodGet, URL: ann.set + "(" + gid + ")?$select=documentbody", What: "read document " + gid})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := documentBody(bufio.NewReaderSize(resp.Body, 64<<10))
	if err != nil {
		return bodyError(ctx, "read document "+gid, err)
	}
	dec := base64.NewDecoder(base64.StdEncoding, body)
	if offset > 0 {
		if _, err := io.CopyN(io.Discard, dec, offset); err != nil {
			if errors.Is(err, io.EOF) {
				return sdk.Errorf(sdk.Permanent, "dataverse: read document %s: offset %d is past its end", gid, offset)
			}
			return bodyError(ctx, "read document "+gid, err)
		}
	}
	if _, err := io.Copy(w, dec); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("dataverse: read document %s: %w", gid, ctx.Err())
		}
		return bodyError(ctx, "read document "+gid, err)
	}
	return nil
}

// readBlocks reads from offset with the block download actions.
func (c *Connector) readBlocks(ctx context.Context, ann *entity, id string, offset int64, w io.Writer) error {
	target := map[string]any{"@odata.type": "Microsoft.Dynamics.CRM.annotation", "annotationid": id}
	var init struct {
		Size  int64  `json:"FileSizeInBytes"`
		Token string `json:"FileContinuationToken"`
	}
	if err := c.action(ctx, "InitializeAnnotationBlocksDownload", map[string]any{"Target": target}, &init); err != nil {
		return err
	}
	if offset > init.Size {
		return sdk.Errorf(sdk.Permanent, "dataverse: read document %s: offset %d is past its end (%d bytes)", id, offset, init.Size)
	}
	for off := offset; off < init.Size; {
		n := min(int64(blockSize), init.Size-off)
		var blk struct {
			Data string `json:"Data"`
		}
		if err := c.action(ctx, "DownloadBlock", map[string]any{"Offset": off, "BlockLength": n, "FileContinuationToken": init.Token}, &blk); err != nil {
			return err
		}
		data, err := base64.StdEncoding.DecodeString(blk.Data)
		if err != nil {
			return sdk.Errorf(sdk.Permanent, "dataverse: read document %s: block at %d is not base64", id, off)
		}
		if len(data) == 0 {
			return sdk.Errorf(sdk.Permanent, "dataverse: read document %s: empty block at %d of %d", id, off, init.Size)
		}
		if _, err := w.Write(data); err != nil {
			return fmt.Errorf("dataverse: write document %s: %w", id, err)
		}
		off += int64(len(data))
	}
	return nil
}

// action calls an unbound action with a JSON body and decodes its answer
// into out (nil: none expected).
func (c *Connector) action(ctx context.Context, name string, params any, out any) error {
	body, err := json.Marshal(params)
	if err != nil {
		return sdk.Errorf(sdk.Permanent, "dataverse: %s: %v", name, err)
	}
	resp, err := c.http.do(ctx, request{Method: http.MethodPost, URL: name, Body: body, What: name,
		Header: http.Header{"Content-Type": {"application/json"}}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 2*blockSize)).Decode(out); err != nil {
		return bodyError(ctx, name, fmt.Errorf("%w: %v", errMalformed, err))
	}
	return nil
}

// documentBody finds the top-level "documentbody" string of a JSON object
// and returns a reader of its characters (JSON escapes undone), reading
// the object no further than needed. A null or absent documentbody reads
// as empty.
func documentBody(r *bufio.Reader) (io.Reader, error) {
	if err := skipSpace(r); err != nil {
		return nil, err
	}
	if b, err := r.ReadByte(); err != nil || b != '{' {
		return nil, fmt.Errorf("%w: expected an object", errMalformed)
	}
	for {
		if err := skipSpace(r); err != nil {
			return nil, err
		}
		b, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		switch b {
		case '}':
			return bytes.NewReader(nil), nil
		case ',':
			continue
		case '"':
		default:
			return nil, fmt.Errorf("%w: expected a property name", errMalformed)
		}
		key, err := readJSONString(r, 1<<10)
		if err != nil {
			return nil, err
		}
		if err := skipSpace(r); err != nil {
			return nil, err
		}
		if b, err := r.ReadByte(); err != nil || b != ':' {
			return nil, fmt.Errorf("%w: expected ':'", errMalformed)
		}
		if err := skipSpace(r); err != nil {
			return nil, err
		}
		if key == "documentbody" {
			b, err := r.ReadByte()
			if err != nil {
				return nil, err
			}
			switch b {
			case 'n':
				return bytes.NewReader(nil), nil
			case '"':
				return &jsonStringReader{r: r}, nil
			}
			return nil, fmt.Errorf("%w: documentbody is not a string", errMalformed)
		}
		if err := skipRaw(r); err != nil {
			return nil, err
		}
	}
}

// skipRaw reads past one JSON value in r: a string, an object or array
// (tracking strings inside), or a scalar up to its delimiter.
func skipRaw(r *bufio.Reader) error {
	b, err := r.ReadByte()
	if err != nil {
		return err
	}
	switch b {
	case '"':
		_, err := io.Copy(io.Discard, &jsonStringReader{r: r})
		return err
	case '{', '[':
		depth := 1
		for depth > 0 {
			b, err := r.ReadByte()
			if err != nil {
				return err
			}
			switch b {
			case '"':
				if _, err := io.Copy(io.Discard, &jsonStringReader{r: r}); err != nil {
					return err
				}
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
		}
		return nil
	}
	for {
		b, err := r.ReadByte()
		if err != nil {
			return err
		}
		if b == ',' || b == '}' || b == ']' || b == ' ' || b == '\n' || b == '\r' || b == '\t' {
			return r.UnreadByte()
		}
	}
}

func skipSpace(r *bufio.Reader) error {
	for {
		b, err := r.ReadByte()
		if err != nil {
			return err
		}
		if b != ' ' && b != '\t' && b != '\n' && b != '\r' {
			return r.UnreadByte()
		}
	}
}

// readJSONString reads the rest of a JSON string (after its quote), at
// most limit bytes.
func readJSONString(r *bufio.Reader, limit int) (string, error) {
	s := &jsonStringReader{r: r}
	b, err := io.ReadAll(io.LimitReader(s, int64(limit)+1))
	if err != nil {
		return "", err
	}
	if len(b) > limit {
		return "", fmt.Errorf("%w: a property name is too long", errMalformed)
	}
	return string(b), nil
}

// jsonStringReader yields the characters of a JSON string up to its
// closing quote, undoing escapes. Base64 needs only \/ and \uXXXX (some
// encoders write + as \u002B).
type jsonStringReader struct {
	r    *bufio.Reader
	done bool
	buf  []byte
}

func (s *jsonStringReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(s.buf) > 0 {
			c := copy(p[n:], s.buf)
			s.buf = s.buf[c:]
			n += c
			continue
		}
		if s.done {
			break
		}
		b, err := s.r.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		switch b {
		case '"':
			s.done = true
			continue
		case '\\':
			e, err := s.r.ReadByte()
			if err != nil {
				return n, io.ErrUnexpectedEOF
			}
			switch e {
			case '"', '\\', '/':
				b = e
			case 'n':
				b = '\n'
			case 't':
				b = '\t'
			case 'r':
				b = '\r'
			case 'b':
				b = '\b'
			case 'f':
				b = '\f'
			case 'u':
				var hex [4]byte
				if _, err := io.ReadFull(s.r, hex[:]); err != nil {
					return n, io.ErrUnexpectedEOF
				}
				v, err := strconv.ParseUint(string(hex[:]), 16, 16)
				if err != nil {
					return n, fmt.Errorf("%w: bad \\u escape", errMalformed)
				}
				s.buf = []byte(string(rune(v)))
				continue
			default:
				return n, fmt.Errorf("%w: bad escape \\%c", errMalformed, e)
			}
		}
		p[n] = b
		n++
	}
	if n == 0 && s.done {
		return 0, io.EOF
	}
	return n, nil
}

// WriteDocument stores a note with the document r yields, owned by
// doc.Entity's row doc.RecordID. A document of at most 4 MB goes inline
// (POST annotations with documentbody); a larger one, or one of unknown
// size that turns out larger, in 4 MB blocks (InitializeAnnotationBlocksUpload,
// UploadBlock with base64 BlockIds, CommitAnnotationBlocksUpload), so at
// most one block is held. doc.ID, when a GUID, is the note's id: a retried
// upload replaces that note's document instead of making a second note.
func (c *Connector) WriteDocument(ctx context.Context, doc sdk.Document, r io.Reader) (sdk.Document, error) {
	if err := ctx.Err(); err != nil {
		return sdk.Document{}, fmt.Errorf("dataverse: write document: %w", err)
	}
	m, ann, err := c.annotations(ctx)
	if err != nil {
		return sdk.Document{}, err
	}
	owner := m.byName[doc.Entity]
	if owner == nil {
		return sdk.Document{}, sdk.Errorf(sdk.Permanent, "dataverse: write document: unknown entity %q", doc.Entity)
	}
	recID, err := canonicalGUID(doc.RecordID)
	if err != nil {
		return sdk.Document{}, sdk.Errorf(sdk.Permanent, "dataverse: write document: owner id: %v", err)
	}
	nav := ""
	if f := ann.byName["objectid"]; f != nil {
		for _, t := range f.targets {
			if t.entity == owner.name {
				nav = t.nav
			}
		}
	}
	if nav == "" {
		return sdk.Document{}, sdk.Errorf(sdk.Permanent, "dataverse: write document: rows of %s cannot own notes", owner.name)
	}
	id := strings.ToLower(doc.ID)
	if id == "" {
		id = newGUID()
	} else if id, err = canonicalGUID(doc.ID); err != nil {
		return sdk.Document{}, sdk.Errorf(sdk.Permanent, "dataverse: write document: the document id must be a GUID: %v", err)
	}
	target := map[string]any{
		"annotationid":      id,
		"subject":           doc.Name,
		"filename":          doc.Name,
		"mimetype":          doc.MimeType,
		nav + "@odata.bind": "/" + owner.set + "(" + recID + ")",
	}
	if doc.MimeType == "" {
		target["mimetype"] = "application/octet-stream"
	}
	first := make([]byte, inlineLimit+1)
	n, err := io.ReadFull(r, first)
	switch {
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		err = nil
	case err != nil:
		return sdk.Document{}, fmt.Errorf("dataverse: write document: reading it: %w", err)
	}
	first = first[:n]
	var size int64
	if n <= inlineLimit {
		size = int64(n)
		if doc.Size >= 0 && size != doc.Size {
			return sdk.Document{}, sdk.Errorf(sdk.Permanent, "dataverse: write document %s: %d bytes read, %d announced", doc.Name, size, doc.Size)
		}
		if err := c.writeInline(ctx, ann, id, target, first); err != nil {
			return sdk.Document{}, err
		}
	} else {
		if size, err = c.writeBlocks(ctx, id, target, io.MultiReader(bytes.NewReader(first), r)); err != nil {
			return sdk.Document{}, err
		}
		if doc.Size >= 0 && size != doc.Size {
			return sdk.Document{}, sdk.Errorf(sdk.Permanent, "dataverse: write document %s: %d bytes read, %d announced", doc.Name, size, doc.Size)
		}
	}
	out := doc
	out.ID, out.RecordID, out.Entity, out.Size = id, recID, owner.name, size
	// The stored note's version and time, as a listing shows them.
	var got *sdk.Document
	err = c.ListDocuments(ctx, sdk.DocumentQuery{Entity: owner.name, RecordIDs: []string{recID}, PageSize: sdk.MaxPageSize}, func(p *sdk.DocumentPage) error {
		for i := range p.Documents {
			if p.Documents[i].ID == id {
				got = &p.Documents[i]
			}
		}
		return nil
	})
	if err == nil && got != nil {
		out.Version, out.Modified, out.Name, out.MimeType = got.Version, got.Modified, got.Name, got.MimeType
	}
	return out, nil
}

// writeInline creates the note with its documentbody, or, when a note of
// that id exists (a retried upload), replaces its document.
func (c *Connector) writeInline(ctx context.Context, ann *entity, id string, target map[string]any, data []byte) error {
	body := map[string]any{"documentbody": base64.StdEncoding.EncodeToString(data)}
	for k, v := range target {
		body[k] = v
	}
	raw, _ := json.Marshal(body)
	resp, err := c.http.do(ctx, request{Method: http.MethodPost, URL: ann.set, Body: raw, What: "write document " + id,
		Header: http.Header{"Content-Type": {"application/json"}}, Pass4xx: true})
	if err != nil {
		return err
	}
	if resp.StatusCode < 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		return nil
	}
	ae := readAPIError(resp, "write document "+id)
	if !duplicateKey(ae) {
		return ae.sdkError()
	}
	delete(body, "annotationid")
	raw, _ = json.Marshal(body)
	resp, err = c.http.do(ctx, request{Method: http.MethodPatch, URL: ann.set + "(" + id + ")", Body: raw, What: "replace document " + id,
		Header: http.Header{"Content-Type": {"application/json"}, "If-Match": {"*"}}})
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	return nil
}

// writeBlocks uploads r in 4 MB blocks and commits them to note id,
// returning the bytes written.
func (c *Connector) writeBlocks(ctx context.Context, id string, target map[string]any, r io.Reader) (int64, error) {
	t := map[string]any{"@odata.type": "Microsoft.Dynamics.CRM.annotation"}
	for k, v := range target {
		t[k] = v
	}
	var init struct {
		Token string `json:"FileContinuationToken"`
	}
	if err := c.action(ctx, "InitializeAnnotationBlocksUpload", map[string]any{"Target": t}, &init); err != nil {
		return 0, err
	}
	buf := make([]byte, blockSize)
	var blocks []string
	var size int64
	for i := 0; ; i++ {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			// Block ids are base64 of a fixed-width counter, as Azure block
			// blobs (which these follow) want ids of one length.
			bid := base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("block-%08d", i)))
			if err := c.action(ctx, "UploadBlock", map[string]any{"BlockId": bid, "BlockData": base64.StdEncoding.EncodeToString(buf[:n]),
				"FileContinuationToken": init.Token}, nil); err != nil {
				return 0, err
			}
			blocks = append(blocks, bid)
			size += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("dataverse: write document: reading it: %w", err)
		}
	}
	var done struct {
		ID   string `json:"AnnotationId"`
		Size int64  `json:"FileSizeInBytes"`
	}
	if err := c.action(ctx, "CommitAnnotationBlocksUpload", map[string]any{"Target": t, "BlockList": blocks, "FileContinuationToken": init.Token}, &done); err != nil {
		return 0, err
	}
	return size, nil
}

// newGUID returns a random (version 4) GUID.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
