package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"time"
)

// blobPath reports a request whose body or answer is a blob streamed past
// the JSON path: a GET of a base64 field (sobjects/{X}/{id}/{Field}) or a
// multipart create of a ContentVersion or Attachment (multipartCreate).
func blobPath(r *apiReq) bool {
	if multipartCreate(r) {
		return true
	}
	parts := strings.Split(strings.TrimSuffix(r.path, "/"), "/")
	return len(parts) == 4 && parts[0] == "sobjects" && r.method == http.MethodGet
}

// serveBlob streams a blob field (VersionData, Body) from SQLite, with
// Range support; a multipart create goes to serveUpload.
func (s *Server) serveBlob(w http.ResponseWriter, hr *http.Request, r *apiReq) {
	if multipartCreate(r) {
		s.serveUpload(w, hr, r)
		return
	}
	parts := strings.Split(strings.TrimSuffix(r.path, "/"), "/")
	o := s.schema.object(parts[1])
	if o == nil {
		writeJSON(w, 404, errf(404, "NOT_FOUND", "The requested resource does not exist").body())
		return
	}
	f := o.field(parts[3])
	if f == nil || f.Type != "base64" {
		writeJSON(w, 404, errf(404, "NOT_FOUND", "The requested resource does not exist").body())
		return
	}
	id, _, aerr := s.checkID(o, parts[2])
	if aerr != nil {
		writeJSON(w, 404, errf(404, "NOT_FOUND", "The requested resource does not exist").body())
		return
	}
	c, err := s.st.read(hr.Context())
	if err != nil {
		writeJSON(w, 503, errf(503, "SERVER_UNAVAILABLE", "the org is closed").body())
		return
	}
	defer s.st.release(c)
	ctype := "application/octet-stream"
	if o.Name == "Attachment" {
		ctype = `coalesce("ContentType", 'application/octet-stream')`
	} else {
		ctype = `'application/octet-stream'`
	}
	st, err := c.prep(`SELECT rowid, ` + ctype + `, ` + lastModCol(o) + `, ` + quote(f.Name) + ` IS NULL FROM ` + quote(o.Name) + ` WHERE "Id" = ?1 AND "IsDeleted" = 0`)
	if err != nil {
		s.log.Error("blob lookup failed", "error", err)
		writeJSON(w, 500, errf(500, "UNKNOWN_EXCEPTION", "An unexpected error occurred.").body())
		return
	}
	if err := bindAll(st, []any{id}); err != nil || !st.Step() {
		st.Reset()
		writeJSON(w, 404, errf(404, "NOT_FOUND", "The requested resource does not exist").body())
		return
	}
	rowid, typ, lm, isNull := st.ColumnInt64(0), st.ColumnText(1), st.ColumnInt64(2), st.ColumnInt64(3) != 0
	st.Reset()
	if isNull {
		writeJSON(w, 404, errf(404, "NOT_FOUND", "The requested resource does not exist").body())
		return
	}
	blob, err := c.db.OpenBlob("main", o.Name, f.Name, rowid, false)
	if err != nil {
		s.log.Error("blob open failed", "error", err)
		writeJSON(w, 500, errf(500, "UNKNOWN_EXCEPTION", "An unexpected error occurred.").body())
		return
	}
	defer blob.Close()
	w.Header().Set("Content-Type", typ)
	http.ServeContent(w, hr, "", time.UnixMilli(lm), blob)
}

// Multipart creates ("Insert or Update Blob Data" in the REST API
// Developer Guide): POST sobjects/ContentVersion or sobjects/Attachment
// with Content-Type multipart/form-data; the first part is the record's
// fields as JSON (entity_content, entity_document, ...), the second the
// blob's bytes under the field's name (VersionData, Body).

// maxUploadJSON caps the fields part; maxUploadBlob the binary part (the
// platform allows 2 GB for ContentVersion, SQLite's default blob limit is
// 10^9 bytes).
const (
	maxUploadJSON = 1 << 20
	maxUploadBlob = 1_000_000_000
)

// uploadBlobField is the blob field a multipart create of object fills.
func uploadBlobField(object string) string {
	switch strings.ToLower(object) {
	case "contentversion":
		return "VersionData"
	case "attachment":
		return "Body"
	}
	return ""
}

// multipartCreate reports a POST sobjects/{ContentVersion|Attachment}
// whose Content-Type is multipart (a malformed one included, so it is
// refused as multipart rather than read as JSON).
func multipartCreate(r *apiReq) bool {
	if r.method != http.MethodPost || r.header == nil {
		return false
	}
	parts := strings.Split(strings.TrimSuffix(r.path, "/"), "/")
	if len(parts) != 2 || parts[0] != "sobjects" || uploadBlobField(parts[1]) == "" {
		return false
	}
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(r.header.Get("Content-Type"))), "multipart/")
}

func multipartErr(format string, args ...any) *apiError {
	return errf(400, "INVALID_MULTIPART_REQUEST", format, args...)
}

// serveUpload creates the record of a multipart create: the binary part is
// spooled to a temporary file (so a slow client never holds the writer),
// then written into the row's blob with SQLite's incremental blob I/O in
// the same transaction as the insert.
func (s *Server) serveUpload(w http.ResponseWriter, hr *http.Request, r *apiReq) {
	answer := func(resp *apiResp) { writeJSON(w, resp.status, resp.doc) }
	parts := strings.Split(strings.TrimSuffix(r.path, "/"), "/")
	o := s.schema.object(parts[1])
	if o == nil {
		answer(errResp(errf(404, "NOT_FOUND", "The requested resource does not exist")))
		return
	}
	field := uploadBlobField(o.Name)
	up, aerr := readUpload(hr.Body, hr.Header.Get("Content-Type"), field, maxUploadBlob)
	if up != nil {
		defer up.close()
	}
	if aerr != nil {
		answer(errResp(aerr))
		return
	}
	var id string
	err := s.write(withStamp(hr.Context()), r, func(wt *wtx) error {
		// The blob is inserted empty (so the JSON path fills the derived
		// rows: ContentDocument, ContentDocumentLink) and then filled.
		up.fields[field] = ""
		id, aerr = wt.insert(o, up.fields)
		if aerr != nil {
			return aerr
		}
		return wt.fillBlob(hr.Context(), o, field, id, up.file, up.size)
	})
	if aerr != nil {
		answer(errResp(aerr))
		return
	}
	if err != nil {
		answer(s.internal(err))
		return
	}
	answer(jsonResp(201, &rec{keys: []string{"id", "success", "errors"}, vals: []any{id, true, []any{}}}))
}

// upload is a read multipart create: the fields and the spooled blob.
type upload struct {
	fields map[string]any
	file   *os.File
	size   int64
}

func (u *upload) close() {
	if u.file != nil {
		_ = u.file.Close()
		_ = os.Remove(u.file.Name())
	}
}

// readUpload reads a multipart create body: exactly one JSON part (form
// name entity_…) then exactly one binary part named field, then the closing
// boundary. The binary part is spooled to a temporary file of at most
// limit bytes. The upload is non-nil (to be closed) once a file exists.
func readUpload(body io.Reader, contentType, field string, limit int64) (*upload, *apiError) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, multipartErr("Content-Type must be multipart/form-data with a boundary")
	}
	mr := multipart.NewReader(body, params["boundary"])
	p, err := mr.NextRawPart()
	if errors.Is(err, io.EOF) {
		return nil, multipartErr("Multipart message must include a non-binary part")
	}
	if err != nil {
		return nil, multipartErr("Cannot read the multipart message: %v", err)
	}
	if pt, _, err := mime.ParseMediaType(p.Header.Get("Content-Type")); err != nil || pt != "application/json" || !strings.HasPrefix(p.FormName(), "entity_") {
		return nil, multipartErr("Multipart message must include a non-binary part")
	}
	raw, err := io.ReadAll(io.LimitReader(p, maxUploadJSON+1))
	if err != nil {
		return nil, multipartErr("Cannot read the multipart message: %v", err)
	}
	if len(raw) > maxUploadJSON {
		return nil, multipartErr("The non-binary part exceeds %d bytes", maxUploadJSON)
	}
	fields, err := decodeObject(raw)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			return nil, ae
		}
		return nil, errf(400, "JSON_PARSER_ERROR", "The request body is not a JSON object")
	}
	for k := range fields {
		if strings.EqualFold(k, field) {
			return nil, multipartErr("%s must be sent as the binary part, not in the non-binary part", field)
		}
	}
	p, err = mr.NextRawPart()
	if errors.Is(err, io.EOF) {
		return nil, multipartErr("Multipart message must include a binary part named %s", field)
	}
	if err != nil {
		return nil, multipartErr("Cannot read the multipart message: %v", err)
	}
	if p.FormName() != field {
		return nil, multipartErr("The binary part must be named %s", field)
	}
	f, err := os.CreateTemp("", "sf-emulator-upload-*")
	if err != nil {
		return nil, &apiError{Status: 500, Code: "UNKNOWN_EXCEPTION", Message: "An unexpected error occurred."}
	}
	up := &upload{fields: fields, file: f}
	n, err := io.Copy(f, io.LimitReader(p, limit+1))
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return up, &apiError{Status: 500, Code: "UNKNOWN_EXCEPTION", Message: "An unexpected error occurred."}
		}
		return up, multipartErr("Cannot read the multipart message: %v", err)
	}
	if n > limit {
		return up, errf(413, "REQUEST_TOO_LARGE", "the binary part exceeds %d bytes", limit)
	}
	up.size = n
	switch _, err := mr.NextRawPart(); {
	case err == nil:
		return up, multipartErr("Multipart message must have exactly one non-binary and one binary part")
	case !errors.Is(err, io.EOF):
		return up, multipartErr("Cannot read the multipart message: %v", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return up, &apiError{Status: 500, Code: "UNKNOWN_EXCEPTION", Message: "An unexpected error occurred."}
	}
	return up, nil
}

// fillBlob sets the blob field of the row id (inserted with an empty blob)
// to the n bytes of src, written in place through incremental blob I/O,
// and the sizes derived from it.
func (w *wtx) fillBlob(ctx context.Context, o *object, field, id string, src io.Reader, n int64) error {
	sizeCol := "BodyLength"
	if o.Name == "ContentVersion" {
		sizeCol = "ContentSize"
	}
	if err := w.c.exec(`UPDATE `+quote(o.Name)+` SET `+quote(field)+` = zeroblob(?2), `+quote(sizeCol)+` = ?2 WHERE "Id" = ?1`, id, n); err != nil {
		return err
	}
	if o.Name == "ContentVersion" {
		if err := w.c.exec(`UPDATE "ContentDocument" SET "ContentSize" = ?2 WHERE "Id" = (SELECT "ContentDocumentId" FROM "ContentVersion" WHERE "Id" = ?1)`, id, n); err != nil {
			return err
		}
	}
	if n == 0 {
		return nil
	}
	rowid, ok, err := w.c.queryInt(`SELECT rowid FROM `+quote(o.Name)+` WHERE "Id" = ?1`, id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("emulator: the new %s %s vanished", o.Name, id)
	}
	b, err := w.c.db.OpenBlob("main", o.Name, field, rowid, true)
	if err != nil {
		return err
	}
	defer b.Close()
	m, err := io.Copy(b, ctxReader{ctx, src})
	if err != nil {
		return err
	}
	if m != n {
		return fmt.Errorf("emulator: wrote %d of %d blob bytes", m, n)
	}
	return nil
}

// ctxReader stops a copy when the request ends.
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
