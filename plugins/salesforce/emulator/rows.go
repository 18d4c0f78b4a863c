package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// recErr is one record's failure: {statusCode, message, fields}.
func recErr(code, msg string, fields ...string) *apiError {
	if fields == nil {
		fields = []string{}
	}
	return &apiError{Status: 400, Code: code, Message: msg, Fields: fields}
}

func (e *apiError) recBody() map[string]any {
	f := e.Fields
	if f == nil {
		f = []string{}
	}
	return map[string]any{"statusCode": e.Code, "message": e.Message, "fields": f}
}

// decodeObject reads a JSON object, numbers kept exact.
func decodeObject(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil || m == nil {
		return nil, errf(400, "JSON_PARSER_ERROR", "The request body is not a JSON object")
	}
	return m, nil
}

// column is one column to write.
type column struct {
	name string
	val  any
}

// convert checks a record's fields against the object and returns the
// columns to write. create selects the createable check.
func (w *wtx) convert(o *object, m map[string]any, create bool) ([]column, *apiError) {
	var cols []column
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// A stable order keeps error messages deterministic.
	sortStrings(keys)
	for _, k := range keys {
		v := m[k]
		if k == "attributes" {
			continue
		}
		f := o.field(k)
		if f == nil {
			if rel := o.byRel[strings.ToLower(k)]; rel != nil {
				id, err := w.resolveExtRef(rel, v)
				if err != nil {
					return nil, err
				}
				f, v = rel, id
			} else {
				return nil, recErr("INVALID_FIELD", fmt.Sprintf("No such column '%s' on sobject of type %s", truncate(k, 80), o.Name), k)
			}
		}
		if create && !f.Createable || !create && !f.Updateable {
			if f.Name == "Id" && !create {
				continue
			}
			verb := "update"
			if create {
				verb = "create"
			}
			return nil, recErr("INVALID_FIELD_FOR_INSERT_UPDATE", fmt.Sprintf("Unable to %s fields: %s. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", verb, f.Name), f.Name)
		}
		val, err := w.fieldValue(o, f, v)
		if err != nil {
			return nil, err
		}
		if val == nil && f.Required {
			return nil, recErr("REQUIRED_FIELD_MISSING", "Required fields are missing: ["+f.Name+"]", f.Name)
		}
		cols = append(cols, column{f.Name, val})
	}
	if create {
		var missing []string
		for _, f := range o.Fields {
			if !f.Required {
				continue
			}
			found := false
			for _, c := range cols {
				if c.name == f.Name {
					found = true
				}
			}
			if !found {
				missing = append(missing, f.Name)
			}
		}
		if len(missing) > 0 {
			return nil, recErr("REQUIRED_FIELD_MISSING", "Required fields are missing: ["+strings.Join(missing, ", ")+"]", missing...)
		}
	}
	return cols, nil
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// resolveExtRef turns {"FieldsyncId__c": "v"} under a relationship name
// into the parent's id.
func (w *wtx) resolveExtRef(rel *field, v any) (any, *apiError) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok || len(rel.RefTo) != 1 {
		return nil, recErr("INVALID_FIELD", fmt.Sprintf("Cannot deserialize the value of %s: a relationship takes {\"<External ID field>\": value}", rel.RelName), rel.Name)
	}
	parent := w.s.schema.object(rel.RefTo[0])
	var ext *field
	var val string
	for k, x := range m {
		if k == "attributes" {
			continue
		}
		f := parent.field(k)
		if f == nil || (!f.ExternalID && f.Name != "Id") || ext != nil {
			return nil, recErr("INVALID_FIELD", fmt.Sprintf("The relationship %s must name one External ID field of %s, not %s", rel.RelName, parent.Name, truncate(k, 80)), rel.Name)
		}
		s, ok := x.(string)
		if !ok {
			return nil, recErr("INVALID_FIELD", fmt.Sprintf("Foreign key external ID: %v not found for field %s in entity %s", x, f.Name, parent.Name), rel.Name)
		}
		ext, val = f, s
	}
	if ext == nil {
		return nil, recErr("INVALID_FIELD", "The relationship "+rel.RelName+" names no External ID field", rel.Name)
	}
	id, _, err := w.c.queryText(`SELECT "Id" FROM `+quote(parent.Name)+` WHERE `+quote(ext.Name)+` = ?1 AND "IsDeleted" = 0 LIMIT 2`, val)
	if err != nil {
		return nil, recErr("UNKNOWN_EXCEPTION", "lookup failed")
	}
	if id == "" {
		return nil, recErr("INVALID_FIELD", fmt.Sprintf("Foreign key external ID: %s not found for field %s in entity %s", truncate(val, 80), ext.Name, parent.Name), rel.Name)
	}
	return id, nil
}

func typeErr(f *field, v any) *apiError {
	return recErr("JSON_PARSER_ERROR", fmt.Sprintf("Cannot deserialize instance of %s from %s value %s", f.Type, jsonKind(v), truncate(fmt.Sprint(v), 60)), f.Name)
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "VALUE_STRING"
	case json.Number:
		return "VALUE_NUMBER"
	case bool:
		return "VALUE_BOOLEAN"
	case map[string]any:
		return "START_OBJECT"
	case []any:
		return "START_ARRAY"
	}
	return "VALUE_NULL"
}

// fieldValue converts one JSON value to the field's stored form.
func (w *wtx) fieldValue(o *object, f *field, v any) (any, *apiError) {
	if v == nil {
		if f.Type == "boolean" {
			return int64(0), nil
		}
		return nil, nil
	}
	switch f.Type {
	case "boolean":
		b, ok := v.(bool)
		if !ok {
			return nil, typeErr(f, v)
		}
		if b {
			return int64(1), nil
		}
		return int64(0), nil
	case "int":
		n, ok := v.(json.Number)
		if !ok {
			return nil, typeErr(f, v)
		}
		i, err := n.Int64()
		if err != nil || i > math.MaxInt32 || i < math.MinInt32 {
			return nil, recErr("NUMBER_OUTSIDE_VALID_RANGE", f.Label+": value outside of valid range on numeric field: "+n.String(), f.Name)
		}
		return i, nil
	case "double", "currency", "percent":
		n, ok := v.(json.Number)
		if !ok {
			return nil, typeErr(f, v)
		}
		x, err := n.Float64()
		if err != nil || math.IsInf(x, 0) || math.Abs(x) >= 1e16 {
			return nil, recErr("NUMBER_OUTSIDE_VALID_RANGE", f.Label+": value outside of valid range on numeric field: "+n.String(), f.Name)
		}
		if f.Scale >= 0 && f.Type != "double" {
			p := math.Pow10(f.Scale)
			x = math.Round(x*p) / p
		}
		return x, nil
	case "date":
		s, ok := v.(string)
		if !ok {
			return nil, typeErr(f, v)
		}
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			t2, err2 := parseSOQLDateTime(s)
			if err2 != nil {
				return nil, typeErr(f, v)
			}
			t = t2.UTC()
		}
		return t.Format("2006-01-02"), nil
	case "datetime":
		s, ok := v.(string)
		if !ok {
			return nil, typeErr(f, v)
		}
		t, err := parseSOQLDateTime(s)
		if err != nil {
			return nil, typeErr(f, v)
		}
		return t.UnixMilli(), nil
	case "base64":
		s, ok := v.(string)
		if !ok {
			return nil, typeErr(f, v)
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, recErr("JSON_PARSER_ERROR", "Cannot deserialize instance of base64 from VALUE_STRING: illegal base64 data", f.Name)
		}
		return b, nil
	case "id", "reference":
		s, ok := v.(string)
		if !ok {
			return nil, typeErr(f, v)
		}
		if s == "" {
			return nil, nil
		}
		id, ok := normID(s)
		if !ok {
			return nil, recErr("MALFORMED_ID", fmt.Sprintf("%s: id value of incorrect type: %s", f.Label, truncate(s, 40)), f.Name)
		}
		target := w.s.schema.byPrefix[id[:3]]
		okType := false
		if target != nil {
			for _, r := range f.RefTo {
				if strings.EqualFold(r, target.Name) {
					okType = true
				}
			}
		}
		if !okType {
			return nil, recErr("FIELD_INTEGRITY_EXCEPTION", fmt.Sprintf("%s: id value of incorrect type: %s", f.Label, id), f.Name)
		}
		n, _, err := w.c.queryInt(`SELECT count(*) FROM `+quote(target.Name)+` WHERE "Id" = ?1 AND "IsDeleted" = 0`, id)
		if err != nil || n == 0 {
			return nil, recErr("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", f.Name)
		}
		return id, nil
	}
	s, ok := v.(string)
	if !ok {
		if n, isNum := v.(json.Number); isNum {
			s = n.String() // Salesforce takes a number for a text field
		} else if b, isBool := v.(bool); isBool {
			s = strconv.FormatBool(b)
		} else {
			return nil, typeErr(f, v)
		}
	}
	if f.Length > 0 && len([]rune(s)) > f.Length {
		return nil, recErr("STRING_TOO_LONG", fmt.Sprintf("%s: data value too large: %s (max length=%d)", f.Label, truncate(s, 60), f.Length), f.Name)
	}
	if f.Type == "email" && s != "" && (!strings.Contains(s, "@") || strings.ContainsAny(s, " ,;")) {
		return nil, recErr("INVALID_EMAIL_ADDRESS", f.Label+": invalid email address: "+truncate(s, 60), f.Name)
	}
	return s, nil
}

// checkUnique refuses a duplicate value of a unique field.
func (w *wtx) checkUnique(o *object, cols []column, self string) *apiError {
	for _, c := range cols {
		f := o.field(c.name)
		if !f.Unique || c.val == nil {
			continue
		}
		id, _, err := w.c.queryText(`SELECT "Id" FROM `+quote(o.Name)+` WHERE `+quote(f.Name)+` = ?1 AND "IsDeleted" = 0 AND "Id" IS NOT ?2 LIMIT 1`, c.val, self)
		if err != nil {
			return recErr("UNKNOWN_EXCEPTION", "uniqueness check failed")
		}
		if id != "" {
			return recErr("DUPLICATE_VALUE", fmt.Sprintf("duplicate value found: %s duplicates value on record with id: %s", f.Name, id), f.Name)
		}
	}
	return nil
}

func colValueOf(cols []column, name string) (any, bool) {
	for _, c := range cols {
		if c.name == name {
			return c.val, true
		}
	}
	return nil, false
}

// insert creates a record; it returns the new id.
func (w *wtx) insert(o *object, m map[string]any) (string, *apiError) {
	if !o.Writable {
		return "", recErr("INVALID_TYPE_FOR_OPERATION", fmt.Sprintf("entity type %s does not support create", o.Name))
	}
	if _, has := m["Id"]; has {
		return "", recErr("INVALID_FIELD", "cannot specify Id in an insert call", "Id")
	}
	cols, aerr := w.convert(o, m, true)
	if aerr != nil {
		return "", aerr
	}
	if aerr := w.checkUnique(o, cols, ""); aerr != nil {
		return "", aerr
	}
	id := newID(o.KeyPrefix)
	cols = append(cols, column{"Id", id}, column{"IsDeleted", int64(0)}, column{"SystemModstamp", w.stamp})
	if o.Audited {
		cols = append(cols, column{"CreatedDate", w.stamp}, column{"LastModifiedDate", w.stamp}, column{"CreatedById", w.user}, column{"LastModifiedById", w.user})
	}
	if o.Owned {
		if v, ok := colValueOf(cols, "OwnerId"); !ok || v == nil {
			cols = setCol(cols, "OwnerId", w.user)
		}
	}
	for _, f := range o.Fields {
		if f.Type == "boolean" {
			if _, ok := colValueOf(cols, f.Name); !ok {
				cols = append(cols, column{f.Name, int64(0)})
			}
		}
	}
	switch o.Name {
	case "ContentVersion":
		var aerr *apiError
		if cols, aerr = w.prepareVersion(cols, id); aerr != nil {
			return "", aerr
		}
	case "Attachment":
		b, _ := colValueOf(cols, "Body")
		body, _ := b.([]byte)
		cols = setCol(cols, "BodyLength", int64(len(body)))
	case "ContentDocumentLink":
		cols = defaultCol(cols, "ShareType", "V")
		cols = defaultCol(cols, "Visibility", "AllUsers")
	}
	if err := w.insertCols(o, cols); err != nil {
		return "", err
	}
	return id, nil
}

func setCol(cols []column, name string, v any) []column {
	for i := range cols {
		if cols[i].name == name {
			cols[i].val = v
			return cols
		}
	}
	return append(cols, column{name, v})
}

func defaultCol(cols []column, name string, v any) []column {
	if x, ok := colValueOf(cols, name); ok && x != nil {
		return cols
	}
	return setCol(cols, name, v)
}

func (w *wtx) insertCols(o *object, cols []column) *apiError {
	names := make([]string, len(cols))
	ph := make([]string, len(cols))
	args := make([]any, len(cols))
	for i, c := range cols {
		names[i], ph[i], args[i] = quote(c.name), "?"+strconv.Itoa(i+1), c.val
	}
	err := w.c.exec(`INSERT INTO `+quote(o.Name)+` (`+strings.Join(names, ", ")+`) VALUES (`+strings.Join(ph, ", ")+`)`, args...)
	if err != nil {
		w.s.log.Error("insert failed", "object", o.Name, "error", err)
		return recErr("UNKNOWN_EXCEPTION", "An unexpected error occurred while saving the record")
	}
	return nil
}

// fileType is ContentVersion.FileType from a file name.
func fileType(name string) string {
	ext := strings.ToUpper(strings.TrimPrefix(path.Ext(name), "."))
	switch ext {
	case "":
		return "UNKNOWN"
	case "JPG", "JPEG":
		return "JPG"
	case "DOCX", "DOC":
		return "WORD_X"
	case "XLSX", "XLS":
		return "EXCEL_X"
	case "PPTX", "PPT":
		return "POWER_POINT_X"
	case "TXT":
		return "TEXT"
	}
	return ext
}

// prepareVersion fills a new ContentVersion's derived fields and creates
// its ContentDocument (and the link to FirstPublishLocationId), or makes it
// the latest version of the ContentDocumentId given.
func (w *wtx) prepareVersion(cols []column, id string) ([]column, *apiError) {
	data, _ := colValueOf(cols, "VersionData")
	body, ok := data.([]byte)
	if !ok {
		return nil, recErr("REQUIRED_FIELD_MISSING", "Required fields are missing: [VersionData]", "VersionData")
	}
	pathOn, _ := colValueOf(cols, "PathOnClient")
	title, _ := colValueOf(cols, "Title")
	ft := fileType(fmt.Sprint(pathOn))
	cols = setCol(cols, "ContentSize", int64(len(body)))
	cols = setCol(cols, "FileType", ft)
	cols = setCol(cols, "IsLatest", int64(1))
	owner, _ := colValueOf(cols, "OwnerId")
	docID, _ := colValueOf(cols, "ContentDocumentId")
	if docID != nil {
		n, _, err := w.c.queryInt(`SELECT count(*) FROM "ContentVersion" WHERE "ContentDocumentId" = ?1`, docID)
		if err != nil {
			return nil, recErr("UNKNOWN_EXCEPTION", "version lookup failed")
		}
		if err := w.c.exec(`UPDATE "ContentVersion" SET "IsLatest" = 0, "SystemModstamp" = ?2 WHERE "ContentDocumentId" = ?1 AND "IsLatest" = 1`, docID, w.stamp); err != nil {
			return nil, recErr("UNKNOWN_EXCEPTION", "version update failed")
		}
		cols = setCol(cols, "VersionNumber", strconv.FormatInt(n+1, 10))
		if err := w.c.exec(`UPDATE "ContentDocument" SET "Title" = ?2, "FileType" = ?3, "ContentSize" = ?4, "LatestPublishedVersionId" = ?5,
			"SystemModstamp" = ?6, "LastModifiedDate" = ?6, "LastModifiedById" = ?7 WHERE "Id" = ?1`, docID, title, ft, int64(len(body)), id, w.stamp, w.user); err != nil {
			return nil, recErr("UNKNOWN_EXCEPTION", "document update failed")
		}
		return cols, nil
	}
	doc := newID("069")
	cols = setCol(cols, "ContentDocumentId", doc)
	cols = setCol(cols, "VersionNumber", "1")
	if err := w.insertCols(w.s.schema.object("ContentDocument"), []column{{"Id", doc}, {"IsDeleted", int64(0)}, {"Title", title}, {"FileType", ft},
		{"ContentSize", int64(len(body))}, {"LatestPublishedVersionId", id}, {"OwnerId", owner}, {"CreatedDate", w.stamp}, {"CreatedById", w.user},
		{"LastModifiedDate", w.stamp}, {"LastModifiedById", w.user}, {"SystemModstamp", w.stamp}}); err != nil {
		return nil, err
	}
	if loc, _ := colValueOf(cols, "FirstPublishLocationId"); loc != nil {
		if err := w.insertCols(w.s.schema.object("ContentDocumentLink"), []column{{"Id", newID("06A")}, {"IsDeleted", int64(0)},
			{"LinkedEntityId", loc}, {"ContentDocumentId", doc}, {"ShareType", "V"}, {"Visibility", "AllUsers"}, {"SystemModstamp", w.stamp}}); err != nil {
			return nil, err
		}
	}
	return cols, nil
}

// rowState is a row's existence: live, deleted (in the recycle bin) or absent.
func (w *wtx) rowState(o *object, id string) (found, deleted bool, lastModified int64, err error) {
	st, err := w.c.prep(`SELECT "IsDeleted", ` + lastModCol(o) + ` FROM ` + quote(o.Name) + ` WHERE "Id" = ?1`)
	if err != nil {
		return false, false, 0, err
	}
	defer st.Reset()
	if err := bindAll(st, []any{id}); err != nil {
		return false, false, 0, err
	}
	if !st.Step() {
		return false, false, 0, st.Err()
	}
	return true, st.ColumnInt64(0) != 0, st.ColumnInt64(1), nil
}

func lastModCol(o *object) string {
	if o.Audited {
		return `"LastModifiedDate"`
	}
	return `"SystemModstamp"`
}

// checkID checks an id of object o (or of any object when o is nil).
func (s *Server) checkID(o *object, raw string) (string, *object, *apiError) {
	id, ok := normID(raw)
	if !ok {
		name := "record"
		if o != nil {
			name = o.Name
		}
		return "", nil, &apiError{Status: 400, Code: "MALFORMED_ID", Message: fmt.Sprintf("%s ID: id value of incorrect type: %s", name, truncate(raw, 40)), Fields: []string{"Id"}}
	}
	target := s.schema.byPrefix[id[:3]]
	if target == nil || (o != nil && target != o) {
		if o == nil {
			return "", nil, &apiError{Status: 404, Code: "NOT_FOUND", Message: "Provided external ID field does not exist or is not accessible: " + truncate(raw, 40)}
		}
		return "", nil, &apiError{Status: 400, Code: "MALFORMED_ID", Message: fmt.Sprintf("%s ID: id value of incorrect type: %s", o.Name, truncate(raw, 40)), Fields: []string{"Id"}}
	}
	return id, target, nil
}

// update changes a live record.
func (w *wtx) update(o *object, id string, m map[string]any, unmodifiedSince *time.Time) *apiError {
	if !o.Writable {
		return recErr("INVALID_TYPE_FOR_OPERATION", fmt.Sprintf("entity type %s does not support update", o.Name))
	}
	found, deleted, lm, err := w.rowState(o, id)
	if err != nil {
		return recErr("UNKNOWN_EXCEPTION", "lookup failed")
	}
	if !found {
		return &apiError{Status: 404, Code: "NOT_FOUND", Message: "The requested resource does not exist", Fields: []string{}}
	}
	if deleted {
		return &apiError{Status: 404, Code: "ENTITY_IS_DELETED", Message: "entity is deleted", Fields: []string{}}
	}
	if unmodifiedSince != nil && lm/1000 > unmodifiedSince.Unix() {
		return &apiError{Status: 412, Code: "PRECONDITION_FAILED", Message: "The requested entity has been modified since " + unmodifiedSince.UTC().Format(http.TimeFormat), Fields: []string{}}
	}
	cols, aerr := w.convert(o, m, false)
	if aerr != nil {
		return aerr
	}
	if aerr := w.checkUnique(o, cols, id); aerr != nil {
		return aerr
	}
	if o.Name == "Attachment" {
		if b, ok := colValueOf(cols, "Body"); ok {
			body, _ := b.([]byte)
			cols = setCol(cols, "BodyLength", int64(len(body)))
		}
	}
	cols = append(cols, column{"SystemModstamp", w.stamp})
	if o.Audited {
		cols = append(cols, column{"LastModifiedDate", w.stamp}, column{"LastModifiedById", w.user})
	}
	set := make([]string, len(cols))
	args := make([]any, 0, len(cols)+1)
	for i, c := range cols {
		set[i] = quote(c.name) + " = ?" + strconv.Itoa(i+1)
		args = append(args, c.val)
	}
	args = append(args, id)
	if err := w.c.exec(`UPDATE `+quote(o.Name)+` SET `+strings.Join(set, ", ")+` WHERE "Id" = ?`+strconv.Itoa(len(args)), args...); err != nil {
		w.s.log.Error("update failed", "object", o.Name, "error", err)
		return recErr("UNKNOWN_EXCEPTION", "An unexpected error occurred while saving the record")
	}
	return nil
}

// remove moves a record (and what cascades from it) to the recycle bin.
func (w *wtx) remove(o *object, id string) *apiError {
	if o.Name == "User" || o.Name == "ContentVersion" {
		return recErr("INVALID_TYPE_FOR_OPERATION", fmt.Sprintf("entity type %s does not support delete", o.Name))
	}
	found, deleted, _, err := w.rowState(o, id)
	if err != nil {
		return recErr("UNKNOWN_EXCEPTION", "lookup failed")
	}
	if !found {
		return &apiError{Status: 404, Code: "NOT_FOUND", Message: "The requested resource does not exist", Fields: []string{}}
	}
	if deleted {
		return &apiError{Status: 404, Code: "ENTITY_IS_DELETED", Message: "entity is deleted", Fields: []string{}}
	}
	if err := w.softDelete(o, id); err != nil {
		w.s.log.Error("delete failed", "object", o.Name, "error", err)
		return recErr("UNKNOWN_EXCEPTION", "An unexpected error occurred while deleting the record")
	}
	return nil
}

func (w *wtx) softDelete(o *object, id string) error {
	set := `"IsDeleted" = 1, "SystemModstamp" = ?2`
	if o.Audited {
		set += `, "LastModifiedDate" = ?2, "LastModifiedById" = ?3`
	}
	args := []any{id, w.stamp}
	if o.Audited {
		args = append(args, w.user)
	}
	if err := w.c.exec(`UPDATE `+quote(o.Name)+` SET `+set+` WHERE "Id" = ?1 AND "IsDeleted" = 0`, args...); err != nil {
		return err
	}
	var children []struct{ obj, field string }
	switch o.Name {
	case "Account":
		children = append(children, struct{ obj, field string }{"Contact", "AccountId"}, struct{ obj, field string }{"Opportunity", "AccountId"})
	case "ContentDocument":
		children = append(children, struct{ obj, field string }{"ContentVersion", "ContentDocumentId"}, struct{ obj, field string }{"ContentDocumentLink", "ContentDocumentId"})
	}
	if o.Name != "ContentDocument" && o.Name != "ContentDocumentLink" && o.Name != "Attachment" {
		children = append(children, struct{ obj, field string }{"Attachment", "ParentId"}, struct{ obj, field string }{"ContentDocumentLink", "LinkedEntityId"})
	}
	for _, ch := range children {
		co := w.s.schema.object(ch.obj)
		ids, err := w.idsWhere(co, ch.field, id)
		if err != nil {
			return err
		}
		for _, cid := range ids {
			if err := w.softDelete(co, cid); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *wtx) idsWhere(o *object, field, val string) ([]string, error) {
	st, err := w.c.prep(`SELECT "Id" FROM ` + quote(o.Name) + ` WHERE ` + quote(field) + ` = ?1 AND "IsDeleted" = 0`)
	if err != nil {
		return nil, err
	}
	defer st.Reset()
	if err := bindAll(st, []any{val}); err != nil {
		return nil, err
	}
	var out []string
	for st.Step() {
		out = append(out, st.ColumnText(0))
	}
	return out, st.Err()
}

var errRolledBack = errors.New("rolled back")
