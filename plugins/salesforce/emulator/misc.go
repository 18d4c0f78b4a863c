package emulator

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func (s *Server) limits() *apiResp {
	used, limit := s.calls.Load(), s.dailyLimit.Load()
	l := func(max, rem int64) map[string]int64 { return map[string]int64{"Max": max, "Remaining": rem} }
	return jsonResp(200, &rec{keys: []string{"DailyApiRequests", "DailyBulkApiBatches", "DataStorageMB", "FileStorageMB"},
		vals: []any{l(limit, max(limit-used, 0)), l(15000, 15000), l(1024, 1024), l(2048, 2048)}})
}

func (s *Server) describeBrief(o *object, version string) *rec {
	base := "/services/data/v" + version + "/sobjects/" + o.Name
	deletable := o.Name != "User" && o.Name != "ContentVersion"
	return &rec{keys: []string{"name", "label", "labelPlural", "keyPrefix", "custom", "createable", "updateable", "deletable", "queryable", "replicateable", "retrieveable", "searchable", "triggerable", "undeletable", "urls"},
		vals: []any{o.Name, o.Label, o.Plural, o.KeyPrefix, false, o.Writable, o.Writable, deletable, true, true, true, true, o.Writable, deletable,
			map[string]string{"sobject": base, "describe": base + "/describe", "rowTemplate": base + "/{ID}"}}}
}

func (s *Server) describeGlobal() *apiResp {
	list := make([]any, 0, len(s.schema.order))
	for _, o := range s.schema.order {
		list = append(list, s.describeBrief(o, "61.0"))
	}
	return jsonResp(200, &rec{keys: []string{"encoding", "maxBatchSize", "sobjects"}, vals: []any{"UTF-8", 200, list}})
}

func soapType(t string) string {
	switch t {
	case "id", "reference":
		return "tns:ID"
	case "boolean":
		return "xsd:boolean"
	case "int":
		return "xsd:int"
	case "double", "currency", "percent":
		return "xsd:double"
	case "date":
		return "xsd:date"
	case "datetime":
		return "xsd:dateTime"
	case "base64":
		return "xsd:base64Binary"
	}
	return "xsd:string"
}

func (s *Server) describe(o *object, version string) *apiResp {
	d := s.describeBrief(o, version)
	fields := make([]any, 0, len(o.Fields))
	for _, f := range o.Fields {
		pick := []any{}
		for i, v := range f.Picklist {
			pick = append(pick, map[string]any{"active": true, "defaultValue": i == 0 && f.Name == "StageName" && false, "label": v, "validFor": nil, "value": v})
		}
		refTo := f.RefTo
		if refTo == nil {
			refTo = []string{}
		}
		var rel any
		if f.RelName != "" {
			rel = f.RelName
		}
		filterable := f.Type != "base64" && f.Type != "textarea"
		fields = append(fields, &rec{keys: []string{"name", "label", "type", "soapType", "length", "precision", "scale", "nillable", "createable", "updateable",
			"defaultedOnCreate", "externalId", "unique", "idLookup", "custom", "calculated", "filterable", "sortable", "caseSensitive", "referenceTo", "relationshipName", "picklistValues"},
			vals: []any{f.Name, f.Label, f.Type, soapType(f.Type), f.Length, f.Precision, f.Scale, f.Nillable, f.Createable, f.Updateable,
				f.Defaulted, f.ExternalID, f.Unique, f.Name == "Id" || f.ExternalID, strings.HasSuffix(f.Name, "__c"), false, filterable, filterable, false, refTo, rel, pick}})
	}
	var children []any
	for _, c := range s.schema.order {
		for _, f := range c.Fields {
			if f.Name == "OwnerId" || f.Name == "CreatedById" || f.Name == "LastModifiedById" {
				continue
			}
			for _, to := range f.RefTo {
				if to == o.Name {
					children = append(children, map[string]any{"childSObject": c.Name, "field": f.Name, "cascadeDelete": o.Name == "Account" && c.Name != "Account", "relationshipName": nil})
				}
			}
		}
	}
	if children == nil {
		children = []any{}
	}
	d.set("fields", fields)
	d.set("childRelationships", children)
	d.set("recordTypeInfos", []any{})
	return jsonResp(200, d)
}

// parseReplicationDate reads start/end of updated/ and deleted/.
func parseReplicationDate(v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, false
	}
	t, err := parseSOQLDateTime(v)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC().Truncate(time.Minute), true
}

func (s *Server) replicationWindow(r *apiReq) (time.Time, time.Time, *apiError) {
	start, ok1 := parseReplicationDate(r.query.Get("start"))
	end, ok2 := parseReplicationDate(r.query.Get("end"))
	if !ok1 || !ok2 {
		return start, end, errf(400, "INVALID_REPLICATION_DATE", "start and end must be date-times such as 2026-11-26T10:00:00+00:00")
	}
	if end.Before(start) {
		return start, end, errf(400, "INVALID_REPLICATION_DATE", "EndDate can not be before StartDate")
	}
	now := s.now().UTC().Truncate(time.Minute)
	if end.After(now) {
		end = now
	}
	if end.Before(start) {
		end = start
	}
	return start, end, nil
}

// updated is GET sobjects/{X}/updated/?start=&end=.
func (s *Server) updated(ctx context.Context, r *apiReq, o *object) *apiResp {
	if r.method != http.MethodGet {
		return errResp(errf(405, "METHOD_NOT_ALLOWED", "HTTP Method '%s' not allowed. Allowed are GET", r.method))
	}
	start, end, aerr := s.replicationWindow(r)
	if aerr != nil {
		return errResp(aerr)
	}
	if start.Before(s.now().Add(-30 * 24 * time.Hour)) {
		return errResp(errf(400, "INVALID_REPLICATION_DATE", "startDate cannot be more than 30 days ago"))
	}
	ids, err := s.idsInWindow(ctx, o, 0, start, end)
	if err != nil {
		return errResp(err)
	}
	list := make([]any, len(ids))
	for i, x := range ids {
		list[i] = x[0]
	}
	return jsonResp(200, &rec{keys: []string{"ids", "latestDateCovered"}, vals: []any{list, sfTime(end.UnixMilli())}})
}

const maxReplicationIDs = 600000

// idsInWindow lists (id, stamp) of rows with the deleted flag whose
// SystemModstamp is in [start, end).
func (s *Server) idsInWindow(ctx context.Context, o *object, deleted int, start, end time.Time) ([][2]string, error) {
	c, err := s.connFor(ctx)
	if err != nil {
		return nil, err
	}
	defer c.done()
	st, err := c.c.prep(`SELECT "Id", "SystemModstamp" FROM ` + quote(o.Name) + ` WHERE "IsDeleted" = ?1 AND "SystemModstamp" >= ?2 AND "SystemModstamp" < ?3 ORDER BY "SystemModstamp", "Id" LIMIT ?4`)
	if err != nil {
		return nil, err
	}
	defer st.Reset()
	if err := bindAll(st, []any{deleted, start.UnixMilli(), end.UnixMilli(), maxReplicationIDs + 1}); err != nil {
		return nil, err
	}
	out := [][2]string{}
	for st.Step() {
		out = append(out, [2]string{st.ColumnText(0), sfTime(st.ColumnInt64(1))})
	}
	if err := st.Err(); err != nil {
		return nil, err
	}
	if len(out) > maxReplicationIDs {
		return nil, errf(400, "EXCEEDED_ID_LIMIT", "too many ids: narrow the window (at most %d)", maxReplicationIDs)
	}
	return out, nil
}

// deleted is GET sobjects/{X}/deleted/?start=&end=.
func (s *Server) deleted(ctx context.Context, r *apiReq, o *object) *apiResp {
	if r.method != http.MethodGet {
		return errResp(errf(405, "METHOD_NOT_ALLOWED", "HTTP Method '%s' not allowed. Allowed are GET", r.method))
	}
	start, end, aerr := s.replicationWindow(r)
	if aerr != nil {
		return errResp(aerr)
	}
	if _, ok := ctx.Value(txKey{}).(*txState); !ok {
		if err := s.purge(s.now().Add(-s.opts.DeleteRetention), false); err != nil {
			return s.internal(err)
		}
	}
	rows, err := s.idsInWindow(ctx, o, 1, start, end)
	if err != nil {
		return errResp(err)
	}
	list := make([]any, len(rows))
	for i, x := range rows {
		list[i] = &rec{keys: []string{"id", "deletedDate"}, vals: []any{x[0], x[1]}}
	}
	c, err := s.connFor(ctx)
	if err != nil {
		return errResp(err)
	}
	earliest, _, err := c.c.queryInt(`SELECT value FROM _meta WHERE key = 'earliest'`)
	c.done()
	if err != nil {
		return s.internal(err)
	}
	return jsonResp(200, &rec{keys: []string{"deletedRecords", "earliestDateAvailable", "latestDateCovered"}, vals: []any{list, sfTime(earliest), sfTime(end.UnixMilli())}})
}

// PurgeDeleted empties the recycle bin of rows deleted before before, and
// moves earliestDateAvailable up to it (rounded down to the minute).
func (s *Server) PurgeDeleted(before time.Time) error { return s.purge(before, true) }

// purge empties the recycle bin before a time; always moves
// earliestDateAvailable even when nothing was purged.
func (s *Server) purge(before time.Time, always bool) error {
	ms := before.UnixMilli()
	return s.writeRaw(context.Background(), func(c *conn) error {
		n := 0
		for _, o := range s.schema.order {
			if err := c.exec(`DELETE FROM `+quote(o.Name)+` WHERE "IsDeleted" = 1 AND "SystemModstamp" < ?1`, ms); err != nil {
				return err
			}
			n += int(c.db.Changes())
		}
		if n == 0 && !always {
			return nil
		}
		return c.exec(`UPDATE _meta SET value = max(value, ?1) WHERE key = 'earliest'`, ms/60000*60000)
	})
}
