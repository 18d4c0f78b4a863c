package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// Bounds on the *Multiple methods.
const (
	maxWriteRecords = 1000
	maxWriteBody    = 256 << 20 // a batch of documents can be large
)

type writeRecord struct {
	Id         string                     `json:"Id"`
	RowVersion *int64                     `json:"RowVersion"`
	RequestId  string                     `json:"RequestId"`
	Attributes map[string]json.RawMessage `json:"Attributes"`
}

type writeRequest struct {
	Entity  string        `json:"Entity"`
	Records []writeRecord `json:"Records"`
}

type deleteRecord struct {
	Id         string `json:"Id"`
	RowVersion *int64 `json:"RowVersion"`
	RequestId  string `json:"RequestId"`
}

type deleteRequest struct {
	Entity  string         `json:"Entity"`
	Records []deleteRecord `json:"Records"`
}

type writeResult struct {
	Id         string       `json:"Id"`
	RowVersion int64        `json:"RowVersion"`
	Error      *recordError `json:"Error"`
}

type writeResponse struct {
	Results []writeResult `json:"Results"`
}

// recErr is a per-record failure.
func recErr(code, format string, args ...any) *recordError {
	return &recordError{Code: code, Message: fmt.Sprintf(format, args...)}
}

func checkBatch(entityName string, n int) (*Entity, error) {
	e := entity(entityName)
	if e == nil {
		return nil, errf(http.StatusBadRequest, codeUnknownEntity, "The entity %q does not exist.", entityName)
	}
	if n > maxWriteRecords {
		return nil, badRequest("A request may carry at most %d records; this one has %d.", maxWriteRecords, n)
	}
	return e, nil
}

func (s *Server) serveCreateMultiple(w http.ResponseWriter, r *http.Request, c *caller) error {
	var req writeRequest
	if err := readBody(w, r, maxWriteBody, &req); err != nil {
		return err
	}
	e, err := checkBatch(req.Entity, len(req.Records))
	if err != nil {
		return err
	}
	ids := make([]string, len(req.Records))
	for i := range req.Records {
		ids[i] = req.Records[i].RequestId
	}
	return s.batch(w, r, ids, func(i int) (writeResult, error) { return s.createOne(e, &req.Records[i], c) })
}

func (s *Server) serveUpdateMultiple(w http.ResponseWriter, r *http.Request, c *caller) error {
	var req writeRequest
	if err := readBody(w, r, maxWriteBody, &req); err != nil {
		return err
	}
	e, err := checkBatch(req.Entity, len(req.Records))
	if err != nil {
		return err
	}
	ids := make([]string, len(req.Records))
	for i := range req.Records {
		ids[i] = req.Records[i].RequestId
	}
	return s.batch(w, r, ids, func(i int) (writeResult, error) { return s.updateOne(e, &req.Records[i]) })
}

func (s *Server) serveDeleteMultiple(w http.ResponseWriter, r *http.Request, c *caller) error {
	var req deleteRequest
	if err := readBody(w, r, 16<<20, &req); err != nil {
		return err
	}
	e, err := checkBatch(req.Entity, len(req.Records))
	if err != nil {
		return err
	}
	ids := make([]string, len(req.Records))
	for i := range req.Records {
		ids[i] = req.Records[i].RequestId
	}
	return s.batch(w, r, ids, func(i int) (writeResult, error) { return s.deleteOne(e, &req.Records[i]) })
}

// batch applies the records in one transaction, each in its own savepoint:
// a failed record is rolled back alone. A RequestId applied before answers
// its first result without applying again; a newly applied one is
// remembered with its result.
func (s *Server) batch(w http.ResponseWriter, r *http.Request, reqIDs []string, apply func(i int) (writeResult, error)) error {
	unlock, err := s.lock(r)
	if err != nil {
		return err
	}
	out := writeResponse{Results: make([]writeResult, 0, len(reqIDs))}
	now := s.now()
	err = s.withTx(func() error {
		if err := s.exec(`DELETE FROM _request WHERE at < ?`, now.Add(-s.opts.RequestRetention).UnixMicro()); err != nil {
			return err
		}
		for i, reqID := range reqIDs {
			if prev, err := s.replay(reqID); err != nil {
				return err
			} else if prev != nil {
				out.Results = append(out.Results, *prev)
				continue
			}
			if err := s.exec(`SAVEPOINT rec`); err != nil {
				return err
			}
			res, err := apply(i)
			if err != nil {
				return err
			}
			if res.Error != nil {
				if err := s.exec(`ROLLBACK TO rec`); err != nil {
					return err
				}
			}
			if err := s.exec(`RELEASE rec`); err != nil {
				return err
			}
			if res.Error == nil && reqID != "" {
				b, _ := json.Marshal(res)
				if err := s.exec(`INSERT OR REPLACE INTO _request (requestid, result, at) VALUES (?, ?, ?)`, reqID, string(b), now.UnixMicro()); err != nil {
					return err
				}
			}
			out.Results = append(out.Results, res)
		}
		return nil
	})
	unlock()
	if err != nil {
		return err
	}
	return writeJSON(w, out)
}

// replay returns the stored result of an applied RequestId.
func (s *Server) replay(reqID string) (*writeResult, error) {
	if reqID == "" {
		return nil, nil
	}
	t, ok, err := s.queryText(`SELECT result FROM _request WHERE requestid = ? AND at >= ?`, reqID,
		s.now().Add(-s.opts.RequestRetention).UnixMicro())
	if err != nil || !ok {
		return nil, err
	}
	var res writeResult
	if err := json.Unmarshal([]byte(t), &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// decodeAttrs decodes the written attributes of a record.
func (s *Server) decodeAttrs(e *Entity, id string, attrs map[string]json.RawMessage) ([]written, *recordError, error) {
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []written
	for _, n := range names {
		a := e.Attr(n)
		if a == nil {
			return nil, recErr(codeUnknownAttr, "The entity %s has no attribute %q.", e.Name, n), nil
		}
		if n == e.PrimaryKey {
			var v string
			if json.Unmarshal(attrs[n], &v) == nil {
				if g, ok := parseGUID(v); ok && g == id {
					continue
				}
			}
			return nil, recErr(codeBadRequest, "The key %s must equal the record's Id.", n), nil
		}
		if a.ReadOnly {
			return nil, recErr(codeBadRequest, "The attribute %s.%s is read-only.", e.Name, n), nil
		}
		w, err := decodeValue(a, attrs[n])
		if err != nil {
			return nil, recErr(codeBadRequest, "%v", err), nil
		}
		if a.Type == TypeLookup && w.value != nil {
			target := entity(w.target)
			_, ok, err := s.queryInt(`SELECT 1 FROM `+quote(target.Name)+` WHERE `+quote(target.PrimaryKey)+` = ?`, w.value)
			if err != nil {
				return nil, nil, err
			}
			if !ok {
				return nil, recErr(codeBadRequest, "The attribute %s.%s points at %s %s, which does not exist.", e.Name, n, w.target, w.value), nil
			}
		}
		out = append(out, w)
	}
	return out, nil, nil
}

func (s *Server) rowVersion(e *Entity, id string) (int64, bool, error) {
	return s.queryInt(`SELECT versionnumber FROM `+quote(e.Name)+` WHERE `+quote(e.PrimaryKey)+` = ?`, id)
}

func (s *Server) createOne(e *Entity, rec *writeRecord, c *caller) (writeResult, error) {
	id := newGUID()
	if rec.Id != "" {
		g, ok := parseGUID(rec.Id)
		if !ok {
			return writeResult{Id: rec.Id, Error: recErr(codeBadRequest, "The Id %q is not a GUID.", rec.Id)}, nil
		}
		id = g
	}
	fail := func(re *recordError) (writeResult, error) { return writeResult{Id: id, Error: re}, nil }
	if rec.RowVersion != nil {
		return fail(recErr(codeBadRequest, "A create takes no RowVersion."))
	}
	if _, ok, err := s.rowVersion(e, id); err != nil {
		return writeResult{}, err
	} else if ok {
		return fail(recErr(codeDuplicate, "A record of %s with Id %s already exists.", e.Name, id))
	}
	vals, re, err := s.decodeAttrs(e, id, rec.Attributes)
	if err != nil || re != nil {
		return writeResult{Id: id, Error: re}, err
	}
	cols := []string{quote(e.PrimaryKey)}
	args := []any{id}
	set := map[string]bool{}
	for _, v := range vals {
		set[v.attr.Name] = true
		cols = append(cols, quote(v.attr.Name))
		args = append(args, v.value)
		if v.attr.Type == TypeLookup && len(v.attr.Targets) > 1 && v.attr.Name != "ownerid" {
			cols = append(cols, quote(typeCol(v.attr.Name)))
			args = append(args, nilIfEmpty(v.target))
		}
	}
	if e.owned() && !set["ownerid"] {
		cols = append(cols, "ownerid")
		args = append(args, c.userID)
		set["ownerid"] = true
	}
	for _, a := range e.Attributes {
		if a.Required && !a.ReadOnly && !set[a.Name] {
			return fail(recErr(codeBadRequest, "The attribute %s.%s is required.", e.Name, a.Name))
		}
	}
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")
	if err := s.exec(`INSERT INTO `+quote(e.Name)+` (`+strings.Join(cols, ", ")+`) VALUES (`+ph+`)`, args...); err != nil {
		return writeResult{}, err
	}
	v, _, err := s.rowVersion(e, id)
	return writeResult{Id: id, RowVersion: v}, err
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// target resolves the Id and RowVersion of an update or delete.
func (s *Server) target(e *Entity, rawID string, rv *int64) (string, *recordError, error) {
	id, ok := parseGUID(rawID)
	if !ok {
		return rawID, recErr(codeBadRequest, "The Id %q is not a GUID.", rawID), nil
	}
	cur, found, err := s.rowVersion(e, id)
	if err != nil {
		return id, nil, err
	}
	if !found {
		return id, recErr(codeRecordNotFound, "No record of %s with Id %s exists.", e.Name, id), nil
	}
	if rv != nil && *rv != cur {
		return id, recErr(codeVersionMismatch, "The record's row version is %d, not %d.", cur, *rv), nil
	}
	return id, nil, nil
}

func (s *Server) updateOne(e *Entity, rec *writeRecord) (writeResult, error) {
	id, re, err := s.target(e, rec.Id, rec.RowVersion)
	if err != nil || re != nil {
		return writeResult{Id: id, Error: re}, err
	}
	vals, re, err := s.decodeAttrs(e, id, rec.Attributes)
	if err != nil || re != nil {
		return writeResult{Id: id, Error: re}, err
	}
	sets := []string{quote(e.PrimaryKey) + " = " + quote(e.PrimaryKey)}
	var args []any
	for _, v := range vals {
		if v.attr.Name == "ownerid" && v.value == nil {
			return writeResult{Id: id, Error: recErr(codeBadRequest, "A record must have an owner.")}, nil
		}
		sets = append(sets, quote(v.attr.Name)+" = ?")
		args = append(args, v.value)
		if v.attr.Type == TypeLookup && len(v.attr.Targets) > 1 && v.attr.Name != "ownerid" {
			sets = append(sets, quote(typeCol(v.attr.Name))+" = ?")
			args = append(args, nilIfEmpty(v.target))
		}
	}
	args = append(args, id)
	if err := s.exec(`UPDATE `+quote(e.Name)+` SET `+strings.Join(sets, ", ")+` WHERE `+quote(e.PrimaryKey)+` = ?`, args...); err != nil {
		return writeResult{}, err
	}
	v, _, err := s.rowVersion(e, id)
	return writeResult{Id: id, RowVersion: v}, err
}

func (s *Server) deleteOne(e *Entity, rec *deleteRecord) (writeResult, error) {
	id, re, err := s.target(e, rec.Id, rec.RowVersion)
	if err != nil || re != nil {
		return writeResult{Id: id, Error: re}, err
	}
	if e.Name != "annotation" {
		// Notes go with the record they are attached to.
		if err := s.exec(`DELETE FROM annotation WHERE objectid = ?`, id); err != nil {
			return writeResult{}, err
		}
	}
	if err := s.exec(`DELETE FROM `+quote(e.Name)+` WHERE `+quote(e.PrimaryKey)+` = ?`, id); err != nil {
		return writeResult{}, err
	}
	v, _, err := s.queryInt(`SELECT max(version) FROM _removed WHERE entity = ? AND id = ?`, e.Name, id)
	return writeResult{Id: id, RowVersion: v}, err
}
