package emulator

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"
)

const maxRowVersionEntities = 100

type maxRowVersionRequest struct {
	Entities []string `json:"Entities"`
}

type maxRowVersionResponse struct {
	RowVersions map[string]int64 `json:"RowVersions"`
}

// floorKey is the _meta key of an entity's tracking floor: the highest
// version of its purged removals.
func floorKey(entity string) string { return "changes_floor:" + entity }

// maxRowVersion is the highest version of e's rows and tracked removals.
// Callers hold s.mu.
func (s *Server) maxRowVersion(e *Entity) (int64, error) {
	n, _, err := s.queryInt(`SELECT max(
		coalesce((SELECT max(versionnumber) FROM `+quote(e.Name)+`), 0),
		coalesce((SELECT max(version) FROM _removed WHERE entity = ?), 0),
		coalesce((SELECT value FROM _meta WHERE key = ?), 0))`, e.Name, floorKey(e.Name))
	return n, err
}

func (s *Server) serveMaxRowVersion(w http.ResponseWriter, r *http.Request, _ *caller) error {
	var req maxRowVersionRequest
	if err := readBody(w, r, 1<<20, &req); err != nil {
		return err
	}
	if len(req.Entities) > maxRowVersionEntities {
		return badRequest("GetMaxRowVersion takes at most %d entities; this request names %d.", maxRowVersionEntities, len(req.Entities))
	}
	var es []*Entity
	for _, n := range req.Entities {
		e := entity(n)
		if e == nil {
			return errf(http.StatusBadRequest, codeUnknownEntity, "The entity %q does not exist.", n)
		}
		es = append(es, e)
	}
	unlock, err := s.lock(r)
	if err != nil {
		return err
	}
	out := maxRowVersionResponse{RowVersions: map[string]int64{}}
	err = s.purgeExpired()
	for _, e := range es {
		if err != nil {
			break
		}
		out.RowVersions[e.Name], err = s.maxRowVersion(e)
	}
	unlock()
	if err != nil {
		return err
	}
	return writeJSON(w, out)
}

type retrieveChangesRequest struct {
	Entity          string `json:"Entity"`
	SinceRowVersion int64  `json:"SinceRowVersion"`
	Count           int    `json:"Count"`
	PagingCookie    string `json:"PagingCookie"`
}

type removedRecord struct {
	Id         string `json:"Id"`
	RowVersion int64  `json:"RowVersion"`
	Reason     string `json:"Reason"`
}

type retrieveChangesResponse struct {
	Removed       []removedRecord `json:"Removed"`
	MaxRowVersion int64           `json:"MaxRowVersion"`
	MoreRecords   bool            `json:"MoreRecords"`
	PagingCookie  string          `json:"PagingCookie"`
}

const changesCookiePrefix = "rc1:"

func (s *Server) serveRetrieveChanges(w http.ResponseWriter, r *http.Request, _ *caller) error {
	var req retrieveChangesRequest
	if err := readBody(w, r, 1<<20, &req); err != nil {
		return err
	}
	e := entity(req.Entity)
	if e == nil {
		return errf(http.StatusBadRequest, codeUnknownEntity, "The entity %q does not exist.", req.Entity)
	}
	if req.SinceRowVersion < 0 {
		return badRequest("SinceRowVersion must not be negative.")
	}
	count := req.Count
	if count == 0 {
		count = maxFetchCount
	}
	if count < 0 || count > maxFetchCount {
		return badRequest("Count must be from 1 to %d.", maxFetchCount)
	}
	after := req.SinceRowVersion
	if req.PagingCookie != "" {
		v, ok := strings.CutPrefix(req.PagingCookie, changesCookiePrefix)
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil || n < after {
			return badRequest("The PagingCookie is not one this service issued.")
		}
		after = n
	}
	unlock, err := s.lock(r)
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.purgeExpired(); err != nil {
		return err
	}
	floor, _, err := s.queryInt(`SELECT value FROM _meta WHERE key = ?`, floorKey(e.Name))
	if err != nil {
		return err
	}
	if req.SinceRowVersion < floor {
		return errf(http.StatusGone, codeChangesExpired,
			"The changes of %s since row version %d are no longer tracked (tracking starts after %d); read the entity again.", e.Name, req.SinceRowVersion, floor)
	}
	out := retrieveChangesResponse{Removed: []removedRecord{}}
	err = s.query(`SELECT id, version, reason FROM _removed WHERE entity = ? AND version > ? ORDER BY version, seq LIMIT ?`,
		[]any{e.Name, after, count + 1}, func(st *sqlite3.Stmt) error {
			if len(out.Removed) == count {
				out.MoreRecords = true
				return nil
			}
			out.Removed = append(out.Removed, removedRecord{Id: st.ColumnText(0), RowVersion: st.ColumnInt64(1), Reason: st.ColumnText(2)})
			return nil
		})
	if err != nil {
		return err
	}
	if out.MoreRecords {
		out.PagingCookie = changesCookiePrefix + strconv.FormatInt(out.Removed[len(out.Removed)-1].RowVersion, 10)
	}
	if out.MaxRowVersion, err = s.maxRowVersion(e); err != nil {
		return err
	}
	return writeJSON(w, out)
}

// purgeExpired drops removals older than ChangeRetention. Callers hold s.mu.
func (s *Server) purgeExpired() error {
	return s.purge(s.now().Add(-s.opts.ChangeRetention))
}

// purge drops removals tracked before t and raises each entity's floor.
// Callers hold s.mu.
func (s *Server) purge(before time.Time) error {
	us := before.UnixMicro()
	if _, ok, err := s.queryInt(`SELECT 1 FROM _removed WHERE at < ? LIMIT 1`, us); err != nil || !ok {
		return err
	}
	return s.withTx(func() error {
		floors := map[string]int64{}
		err := s.query(`SELECT entity, max(version) FROM _removed WHERE at < ? GROUP BY entity`, []any{us}, func(st *sqlite3.Stmt) error {
			floors[st.ColumnText(0)] = st.ColumnInt64(1)
			return nil
		})
		if err != nil {
			return err
		}
		for ent, v := range floors {
			if err := s.exec(`INSERT INTO _meta (key, value) VALUES (?, ?)
				ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)`, floorKey(ent), v); err != nil {
				return err
			}
		}
		return s.exec(`DELETE FROM _removed WHERE at < ?`, us)
	})
}

// PurgeChanges drops the tracked removals recorded before before: a
// RetrieveChanges from a row version they covered then answers 410
// ChangesExpired.
func (s *Server) PurgeChanges(before time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return errClosed
	}
	s.db.SetInterrupt(context.Background())
	return s.purge(before)
}

type executeRequest struct {
	RequestName string                     `json:"RequestName"`
	Parameters  map[string]json.RawMessage `json:"Parameters"`
}

type executeResponse struct {
	Results any `json:"Results"`
}

type documentInfo struct {
	Id         string `json:"Id"`
	RecordId   string `json:"RecordId"`
	Entity     string `json:"Entity"`
	FileName   string `json:"FileName"`
	MimeType   string `json:"MimeType"`
	Size       int64  `json:"Size"`
	RowVersion int64  `json:"RowVersion"`
}

func (s *Server) serveExecute(w http.ResponseWriter, r *http.Request, _ *caller) error {
	var req executeRequest
	if err := readBody(w, r, 1<<20, &req); err != nil {
		return err
	}
	switch req.RequestName {
	case "RetrieveDocument":
		for k := range req.Parameters {
			if k != "Id" {
				return badRequest("RetrieveDocument does not take the parameter %q.", k)
			}
		}
		var raw string
		if p, ok := req.Parameters["Id"]; !ok || json.Unmarshal(p, &raw) != nil {
			return badRequest("RetrieveDocument needs the parameter Id (a GUID string).")
		}
		id, ok := parseGUID(raw)
		if !ok {
			return badRequest("RetrieveDocument needs the parameter Id (a GUID string).")
		}
		info, found, err := s.document(r, id)
		if err != nil {
			return err
		}
		if !found {
			return errf(http.StatusNotFound, codeRecordNotFound, "No document with Id %s exists.", id)
		}
		return writeJSON(w, executeResponse{Results: info})
	case "":
		return badRequest("Execute needs a RequestName.")
	}
	return badRequest("The request %q is not supported.", req.RequestName)
}

func (s *Server) document(r *http.Request, id string) (documentInfo, bool, error) {
	unlock, err := s.lock(r)
	if err != nil {
		return documentInfo{}, false, err
	}
	defer unlock()
	var d documentInfo
	found := false
	err = s.query(`SELECT annotationid, coalesce(objectid, ''), coalesce(objectid__type, ''), coalesce(filename, ''),
		coalesce(mimetype, ''), coalesce(filesize, 0), versionnumber FROM annotation WHERE annotationid = ? AND documentbody IS NOT NULL`,
		[]any{id}, func(st *sqlite3.Stmt) error {
			found = true
			d = documentInfo{Id: st.ColumnText(0), RecordId: st.ColumnText(1), Entity: st.ColumnText(2), FileName: st.ColumnText(3),
				MimeType: st.ColumnText(4), Size: st.ColumnInt64(5), RowVersion: st.ColumnInt64(6)}
			return nil
		})
	return d, found, err
}

// serveBlob streams a document's bytes; Range requests get 206.
func (s *Server) serveBlob(w http.ResponseWriter, r *http.Request, _ *caller) error {
	id, ok := parseGUID(r.URL.Query().Get("id"))
	if !ok {
		return badRequest("Blob needs id, the GUID of an annotation.")
	}
	unlock, err := s.lock(r)
	if err != nil {
		return err
	}
	var body []byte
	var mime, name string
	var version int64
	found := false
	err = s.query(`SELECT documentbody, coalesce(mimetype, ''), coalesce(filename, ''), versionnumber FROM annotation WHERE annotationid = ? AND documentbody IS NOT NULL`,
		[]any{id}, func(st *sqlite3.Stmt) error {
			found = true
			body = st.ColumnBlob(0, nil)
			mime, name, version = st.ColumnText(1), st.ColumnText(2), st.ColumnInt64(3)
			return nil
		})
	unlock()
	if err != nil {
		return err
	}
	if !found {
		return errf(http.StatusNotFound, codeRecordNotFound, "No document with Id %s exists.", id)
	}
	if mime == "" {
		mime = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", mime)
	h.Set("ETag", `"`+strconv.FormatInt(version, 10)+`"`)
	if name != "" {
		h.Set("Content-Disposition", `attachment; filename="`+strings.NewReplacer(`"`, "", "\\", "", "\r", "", "\n", "").Replace(name)+`"`)
	}
	http.ServeContent(w, r, "", time.Time{}, strings.NewReader(string(body)))
	return nil
}
