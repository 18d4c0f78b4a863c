package emulator

import (
	"net/http"
	"strings"
	"time"
)

// blobPath reports a GET of a base64 field: sobjects/{X}/{id}/{Field}.
func blobPath(r *apiReq) bool {
	parts := strings.Split(strings.TrimSuffix(r.path, "/"), "/")
	return len(parts) == 4 && parts[0] == "sobjects" && r.method == http.MethodGet
}

// serveBlob streams a blob field (VersionData, Body) from SQLite, with
// Range support.
func (s *Server) serveBlob(w http.ResponseWriter, hr *http.Request, r *apiReq) {
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
