package emulator

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
)

func (s *Server) createOne(ctx context.Context, r *apiReq, o *object) *apiResp {
	m, err := decodeObject(r.body)
	if err != nil {
		return errResp(err)
	}
	var id string
	var aerr *apiError
	err = s.write(withStamp(ctx), r, func(w *wtx) error {
		id, aerr = w.insert(o, m)
		if aerr != nil {
			return aerr
		}
		return nil
	})
	if aerr != nil {
		return errResp(aerr)
	}
	if err != nil {
		return s.internal(err)
	}
	return jsonResp(201, &rec{keys: []string{"id", "success", "errors"}, vals: []any{id, true, []any{}}})
}

// fetchRecord reads one record with the given fields (all when empty);
// ok false: no live record.
func (s *Server) fetchRecord(ctx context.Context, o *object, id string, fields []string, version string) (*rec, bool, error) {
	if len(fields) == 0 {
		for _, f := range o.Fields {
			fields = append(fields, f.Name)
		}
	}
	q := &soqlQuery{fields: fields, from: o.Name, limit: 1, offset: -1,
		where: &cmpNode{field: "Id", op: "=", vals: []literal{{kind: litString, text: id}}}}
	c, err := compile(s.schema, q, false, s.now())
	if err != nil {
		return nil, false, err
	}
	conn, err := s.connFor(ctx)
	if err != nil {
		return nil, false, err
	}
	defer conn.done()
	st, err := conn.c.prep("SELECT " + strings.Join(c.sel, ", ") + c.from + c.where + " LIMIT 1")
	if err != nil {
		return nil, false, err
	}
	defer st.Reset()
	if err := bindAll(st, c.args); err != nil {
		return nil, false, err
	}
	if !st.Step() {
		return nil, false, st.Err()
	}
	return c.render(st, version), true, nil
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (s *Server) getOne(ctx context.Context, r *apiReq, o *object, raw string) *apiResp {
	id, _, aerr := s.checkID(o, raw)
	if aerr != nil {
		return errResp(notFoundFor(aerr))
	}
	rec, ok, err := s.fetchRecord(ctx, o, id, splitList(r.query.Get("fields")), r.version)
	if err != nil {
		return soqlErrResp(err)
	}
	if !ok {
		return errResp(errf(404, "NOT_FOUND", "The requested resource does not exist"))
	}
	return jsonResp(200, rec)
}

// notFoundFor: a malformed id in a URL is answered as a missing resource.
func notFoundFor(e *apiError) *apiError {
	if e.Code == "MALFORMED_ID" {
		return &apiError{Status: 404, Code: "NOT_FOUND", Message: "Provided external ID field does not exist or is not accessible: " + strings.TrimPrefix(e.Message[strings.LastIndex(e.Message, ": ")+2:], "")}
	}
	return e
}

func unmodifiedSince(h http.Header) (*time.Time, *apiError) {
	v := h.Get("If-Unmodified-Since")
	if v == "" {
		return nil, nil
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return nil, errf(400, "INVALID_HEADER_TYPE", "If-Unmodified-Since is not an HTTP date: %s", truncate(v, 60))
	}
	return &t, nil
}

func (s *Server) updateOne(ctx context.Context, r *apiReq, o *object, raw string) *apiResp {
	id, _, aerr := s.checkID(o, raw)
	if aerr != nil {
		return errResp(notFoundFor(aerr))
	}
	since, aerr := unmodifiedSince(r.header)
	if aerr != nil {
		return errResp(aerr)
	}
	m, err := decodeObject(r.body)
	if err != nil {
		return errResp(err)
	}
	err = s.write(withStamp(ctx), r, func(w *wtx) error {
		if e := w.update(o, id, m, since); e != nil {
			return e
		}
		return nil
	})
	var ae *apiError
	if errors.As(err, &ae) {
		return errResp(ae)
	}
	if err != nil {
		return s.internal(err)
	}
	return &apiResp{status: 204}
}

func (s *Server) deleteOne(ctx context.Context, r *apiReq, o *object, raw string) *apiResp {
	id, _, aerr := s.checkID(o, raw)
	if aerr != nil {
		return errResp(notFoundFor(aerr))
	}
	err := s.write(withStamp(ctx), r, func(w *wtx) error {
		if e := w.remove(o, id); e != nil {
			return e
		}
		return nil
	})
	var ae *apiError
	if errors.As(err, &ae) {
		return errResp(ae)
	}
	if err != nil {
		return s.internal(err)
	}
	return &apiResp{status: 204}
}

// upsertOne is PATCH sobjects/{X}/{ExtIdField}/{value}.
func (s *Server) upsertOne(ctx context.Context, r *apiReq, o *object, f *field, value string) *apiResp {
	m, err := decodeObject(r.body)
	if err != nil {
		return errResp(err)
	}
	m[f.Name] = value
	var res *rec
	err = s.write(withStamp(ctx), r, func(w *wtx) error {
		var e *apiError
		res, e = w.upsert(o, f, m)
		if e != nil {
			return e
		}
		return nil
	})
	var ae *apiError
	if errors.As(err, &ae) {
		return errResp(ae)
	}
	if err != nil {
		return s.internal(err)
	}
	created, _ := res.get("created")
	if created == true {
		return jsonResp(201, res)
	}
	return jsonResp(200, res)
}

// upsert creates or updates the record whose external id field holds the
// record's value.
func (w *wtx) upsert(o *object, ext *field, m map[string]any) (*rec, *apiError) {
	if !ext.ExternalID && ext.Name != "Id" {
		return nil, recErr("INVALID_FIELD", "Field name provided, "+ext.Name+" is not an External ID or indexed field for "+o.Name, ext.Name)
	}
	raw, ok := m[ext.Name].(string)
	if !ok || raw == "" {
		for k, v := range m {
			if strings.EqualFold(k, ext.Name) {
				raw, _ = v.(string)
			}
		}
	}
	if raw == "" {
		return nil, recErr("MISSING_ARGUMENT", "The External ID field "+ext.Name+" must be set on every upserted record", ext.Name)
	}
	var ids []string
	var err error
	if ext.Name == "Id" {
		id, ok := normID(raw)
		if !ok {
			return nil, recErr("MALFORMED_ID", o.Name+" ID: id value of incorrect type: "+truncate(raw, 40), "Id")
		}
		ids = []string{id}
		delete(m, "Id")
	} else {
		ids, err = w.idsWhere(o, ext.Name, raw)
		if err != nil {
			return nil, recErr("UNKNOWN_EXCEPTION", "lookup failed")
		}
	}
	switch len(ids) {
	case 0:
		id, e := w.insert(o, m)
		if e != nil {
			return nil, e
		}
		return &rec{keys: []string{"id", "success", "errors", "created"}, vals: []any{id, true, []any{}, true}}, nil
	case 1:
		if e := w.update(o, ids[0], m, nil); e != nil {
			return nil, e
		}
		return &rec{keys: []string{"id", "success", "errors", "created"}, vals: []any{ids[0], true, []any{}, false}}, nil
	}
	return nil, &apiError{Status: 300, Code: "MULTIPLE_CHOICES", Message: "more than one record found for external id field " + ext.Name, Fields: []string{ext.Name}}
}

const maxCollection = 200

func failure(id string, e *apiError, upsert bool) *rec {
	r := &rec{}
	if id != "" {
		r.set("id", id)
	}
	r.set("success", false)
	r.set("errors", []any{e.recBody()})
	if upsert {
		r.set("created", false)
	}
	return r
}

var rolledBack = &apiError{Status: 400, Code: "ALL_OR_NONE_OPERATION_ROLLED_BACK", Message: "Record rolled back because not all records were valid and the request was using AllOrNone header", Fields: []string{}}

// collections is composite/sobjects.
func (s *Server) collections(ctx context.Context, r *apiReq, rest []string) *apiResp {
	ctx = withStamp(ctx)
	switch {
	case len(rest) == 0 && r.method == http.MethodDelete:
		ids := splitList(r.query.Get("ids"))
		if len(ids) == 0 {
			return errResp(errf(400, "MISSING_ARGUMENT", "ids parameter is required"))
		}
		if len(ids) > maxCollection {
			return errResp(errf(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than %d records into this call", maxCollection))
		}
		allOrNone := strings.EqualFold(r.query.Get("allOrNone"), "true")
		return s.perRecord(ctx, r, len(ids), allOrNone, false, func(w *wtx, i int) (*rec, *apiError, string) {
			id, o, e := s.checkID(nil, ids[i])
			if e != nil {
				return nil, recErr(e.Code, e.Message), ids[i]
			}
			if e := w.remove(o, id); e != nil {
				return nil, e, id
			}
			return &rec{keys: []string{"id", "success", "errors"}, vals: []any{id, true, []any{}}}, nil, id
		})
	case len(rest) == 0 && (r.method == http.MethodPost || r.method == http.MethodPatch):
		body, aerr := decodeCollection(r.body)
		if aerr != nil {
			return errResp(aerr)
		}
		create := r.method == http.MethodPost
		return s.perRecord(ctx, r, len(body.records), body.allOrNone, false, func(w *wtx, i int) (*rec, *apiError, string) {
			m := body.records[i]
			o, e := s.recordType(m)
			if e != nil {
				return nil, e, ""
			}
			if create {
				id, e := w.insert(o, m)
				if e != nil {
					return nil, e, ""
				}
				return &rec{keys: []string{"id", "success", "errors"}, vals: []any{id, true, []any{}}}, nil, id
			}
			raw, _ := m["Id"].(string)
			if raw == "" {
				return nil, recErr("MISSING_ARGUMENT", "Id not specified in an update call", "Id"), ""
			}
			id, _, ce := s.checkID(o, raw)
			if ce != nil {
				return nil, recErr(ce.Code, ce.Message, "Id"), raw
			}
			if e := w.update(o, id, m, nil); e != nil {
				return nil, e, id
			}
			return &rec{keys: []string{"id", "success", "errors"}, vals: []any{id, true, []any{}}}, nil, id
		})
	case len(rest) == 1 && (r.method == http.MethodGet || r.method == http.MethodPost):
		o := s.schema.object(rest[0])
		if o == nil {
			return errResp(errf(404, "NOT_FOUND", "The requested resource does not exist"))
		}
		ids, fields := splitList(r.query.Get("ids")), splitList(r.query.Get("fields"))
		if r.method == http.MethodPost {
			var b struct {
				IDs    []string `json:"ids"`
				Fields []string `json:"fields"`
			}
			m, err := decodeObject(r.body)
			if err != nil {
				return errResp(err)
			}
			_ = m
			_ = jsonUnmarshal(r.body, &b)
			ids, fields = b.IDs, b.Fields
		}
		if len(ids) == 0 || len(fields) == 0 {
			return errResp(errf(400, "MISSING_ARGUMENT", "ids and fields are required"))
		}
		if len(ids) > 2000 {
			return errResp(errf(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 2000 records into this call"))
		}
		out := make([]any, len(ids))
		for i, raw := range ids {
			id, _, e := s.checkID(o, raw)
			if e != nil {
				return errResp(e)
			}
			rec, ok, err := s.fetchRecord(ctx, o, id, fields, r.version)
			if err != nil {
				return soqlErrResp(err)
			}
			if ok {
				out[i] = rec
			}
		}
		return jsonResp(200, out)
	case len(rest) == 2 && r.method == http.MethodPatch:
		o := s.schema.object(rest[0])
		if o == nil {
			return errResp(errf(404, "NOT_FOUND", "The requested resource does not exist"))
		}
		ext := o.field(rest[1])
		if ext == nil {
			return errResp(errf(404, "NOT_FOUND", "The requested resource does not exist"))
		}
		body, aerr := decodeCollection(r.body)
		if aerr != nil {
			return errResp(aerr)
		}
		return s.perRecord(ctx, r, len(body.records), body.allOrNone, true, func(w *wtx, i int) (*rec, *apiError, string) {
			m := body.records[i]
			ro, e := s.recordType(m)
			if e != nil {
				return nil, e, ""
			}
			if ro != o {
				return nil, recErr("INVALID_TYPE", "The record's type "+ro.Name+" is not the upserted object "+o.Name), ""
			}
			res, e := w.upsert(o, ext, m)
			if e != nil {
				return nil, e, ""
			}
			id, _ := res.get("id")
			return res, nil, id.(string)
		})
	}
	return errResp(errf(405, "METHOD_NOT_ALLOWED", "HTTP Method '%s' not allowed here", r.method))
}

type collectionBody struct {
	allOrNone bool
	records   []map[string]any
}

func decodeCollection(b []byte) (*collectionBody, *apiError) {
	m, err := decodeObject(b)
	if err != nil {
		return nil, errf(400, "JSON_PARSER_ERROR", "The request body is not a JSON object")
	}
	out := &collectionBody{}
	if v, ok := m["allOrNone"]; ok {
		b, ok := v.(bool)
		if !ok {
			return nil, errf(400, "JSON_PARSER_ERROR", "allOrNone must be true or false")
		}
		out.allOrNone = b
	}
	list, ok := m["records"].([]any)
	if !ok {
		return nil, errf(400, "JSON_PARSER_ERROR", "records must be an array of records")
	}
	if len(list) > maxCollection {
		return nil, errf(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than %d records into this call", maxCollection)
	}
	for _, x := range list {
		rm, ok := x.(map[string]any)
		if !ok {
			return nil, errf(400, "JSON_PARSER_ERROR", "every record must be a JSON object")
		}
		out.records = append(out.records, rm)
	}
	return out, nil
}

func (s *Server) recordType(m map[string]any) (*object, *apiError) {
	a, _ := m["attributes"].(map[string]any)
	t, _ := a["type"].(string)
	if t == "" {
		return nil, recErr("INVALID_TYPE", "Must send a concrete entity type.")
	}
	o := s.schema.object(t)
	if o == nil {
		return nil, recErr("INVALID_TYPE", "sObject type '"+truncate(t, 80)+"' is not supported.")
	}
	return o, nil
}

// perRecord runs fn for each record in one transaction, each in its own
// savepoint; allOrNone rolls everything back when one fails.
func (s *Server) perRecord(ctx context.Context, r *apiReq, n int, allOrNone, upsert bool, fn func(w *wtx, i int) (*rec, *apiError, string)) *apiResp {
	results := make([]any, n)
	failed := false
	err := s.write(ctx, r, func(w *wtx) error {
		for i := range n {
			if err := w.c.db.Exec(`SAVEPOINT rec`); err != nil {
				return err
			}
			res, e, id := fn(w, i)
			if e != nil {
				failed = true
				if err := w.c.db.Exec(`ROLLBACK TO rec`); err != nil {
					return err
				}
				results[i] = failure(id, e, upsert)
			} else {
				results[i] = res
			}
			if err := w.c.db.Exec(`RELEASE rec`); err != nil {
				return err
			}
		}
		if failed && allOrNone {
			return errRolledBack
		}
		return nil
	})
	if err != nil && !errors.Is(err, errRolledBack) {
		return s.internal(err)
	}
	if failed && allOrNone {
		for i, x := range results {
			if rr, ok := x.(*rec); ok {
				if v, _ := rr.get("success"); v == true {
					id, _ := rr.get("id")
					sid, _ := id.(string)
					results[i] = failure(sid, rolledBack, upsert)
				}
			}
		}
	}
	return jsonResp(200, results)
}
