package emulator

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// entityURL is the OData-EntityId of a row.
func (k *call) entityURL(e *Entity, id string) string {
	return k.base + APIPath + e.SetName + "(" + id + ")"
}

// rowVersion returns the current version of a row; ok is false when the
// row does not exist.
func rowVersion(c *conn, e *Entity, id string) (int64, bool, error) {
	return c.queryInt("SELECT versionnumber FROM "+quoteIdent(e.Name)+" WHERE "+quoteIdent(e.PrimaryKey)+" = ?1", id)
}

// applyBinds checks each bound row exists and sets the lookup columns.
func (k *call) applyBinds(c *conn, fs *fieldSet) error {
	for _, b := range fs.binds {
		if b.id == "" {
			fs.set(b.a.Column, nil)
			if b.a.TypeColumn != "" {
				fs.set(b.a.TypeColumn, nil)
			}
			continue
		}
		if _, ok, err := rowVersion(c, b.target, b.id); err != nil {
			return err
		} else if !ok {
			return notFound(b.target, b.id)
		}
		fs.set(b.a.Column, b.id)
		if b.a.TypeColumn != "" {
			fs.set(b.a.TypeColumn, b.target.Name)
		}
		if b.a.Name == "ownerid" && fs.e.attr("owningbusinessunit") != nil {
			bu, _, err := c.queryText(`SELECT _businessunitid_value FROM systemuser WHERE systemuserid = ?1`, b.id)
			if err != nil {
				return err
			}
			fs.set("_owningbusinessunit_value", bu)
		}
	}
	return nil
}

// derive sets the columns the server computes: full names, a note's file
// size and document flag.
func derive(c *conn, fs *fieldSet, id string, exists bool) error {
	e := fs.e
	switch e.Name {
	case "contact", "systemuser":
		if !fs.attrs["firstname"] && !fs.attrs["lastname"] {
			return nil
		}
		first, _ := fs.get("firstname")
		last, _ := fs.get("lastname")
		if exists {
			if !fs.attrs["firstname"] {
				v, _, err := c.queryText("SELECT firstname FROM "+e.Name+" WHERE "+e.PrimaryKey+" = ?1", id)
				if err != nil {
					return err
				}
				first = v
			}
			if !fs.attrs["lastname"] {
				v, _, err := c.queryText("SELECT lastname FROM "+e.Name+" WHERE "+e.PrimaryKey+" = ?1", id)
				if err != nil {
					return err
				}
				last = v
			}
		}
		fs.set("fullname", strings.TrimSpace(fmt.Sprint(orEmpty(first))+" "+fmt.Sprint(orEmpty(last))))
	case "annotation":
		if !fs.attrs["documentbody"] {
			return nil
		}
		body, _ := fs.get("documentbody")
		b, _ := body.([]byte)
		fs.set("filesize", int64(len(b)))
		fs.set("isdocument", len(b) > 0)
	}
	return nil
}

func orEmpty(v any) any {
	if v == nil {
		return ""
	}
	return v
}

// insertRow inserts a new row with the values of fs and the defaults a
// create gets (owner: the caller; state: active).
func (k *call) insertRow(c *conn, e *Entity, id string, fs *fieldSet) (int64, error) {
	if err := k.applyBinds(c, fs); err != nil {
		return 0, err
	}
	if err := derive(c, fs, id, false); err != nil {
		return 0, err
	}
	if e.attr("ownerid") != nil {
		if _, ok := fs.get("_ownerid_value"); !ok {
			fs.set("_ownerid_value", k.user.userID)
			fs.set("owneridtype", "systemuser")
			fs.set("_owningbusinessunit_value", k.user.businessUnitID)
		}
	}
	if a := e.attr("statecode"); a != nil {
		if v, ok := fs.get("statecode"); !ok || v == nil {
			fs.set("statecode", int64(0))
		}
	}
	if e.attr("createdon") != nil {
		now := k.s.now().Truncate(time.Second).UnixMicro()
		fs.set("createdon", now)
		fs.set("modifiedon", now)
	}
	if e.Name == "annotation" {
		if _, ok := fs.get("isdocument"); !ok {
			fs.set("isdocument", false)
			fs.set("filesize", int64(0))
		}
	}
	cols := []string{quoteIdent(e.PrimaryKey)}
	ph := []string{"?1"}
	args := []any{id}
	for i, col := range fs.cols {
		cols = append(cols, quoteIdent(col))
		args = append(args, fs.vals[i])
		ph = append(ph, "?"+strconv.Itoa(len(args)))
	}
	if err := c.exec("INSERT INTO "+quoteIdent(e.Name)+" ("+strings.Join(cols, ", ")+") VALUES ("+strings.Join(ph, ", ")+")", args...); err != nil {
		return 0, err
	}
	// By key, not LastInsertRowID: clustered tables have no rowid.
	v, _, err := rowVersion(c, e, id)
	return v, err
}

// updateRow updates an existing row with the values of fs. An update with
// no values still moves the row's version, as any Update message does.
func (k *call) updateRow(c *conn, e *Entity, id string, fs *fieldSet) (int64, error) {
	if err := k.applyBinds(c, fs); err != nil {
		return 0, err
	}
	if err := derive(c, fs, id, true); err != nil {
		return 0, err
	}
	if e.attr("modifiedon") != nil {
		fs.set("modifiedon", k.s.now().Truncate(time.Second).UnixMicro())
	}
	sets := []string{}
	args := []any{id}
	for i, col := range fs.cols {
		args = append(args, fs.vals[i])
		sets = append(sets, quoteIdent(col)+" = ?"+strconv.Itoa(len(args)))
	}
	if err := c.exec("UPDATE "+quoteIdent(e.Name)+" SET "+strings.Join(sets, ", ")+" WHERE "+quoteIdent(e.PrimaryKey)+" = ?1", args...); err != nil {
		return 0, err
	}
	v, _, err := rowVersion(c, e, id)
	return v, err
}

// respondWritten answers a create or update: 204 with OData-EntityId, or
// with return=representation the row (201 for a create, 200 for an
// update).
func (k *call) respondWritten(w http.ResponseWriter, e *Entity, id string, version int64, created bool, repr []byte) {
	h := w.Header()
	h.Set("OData-Version", "4.0")
	h.Set("OData-EntityId", k.entityURL(e, id))
	if created {
		h.Set("Location", k.entityURL(e, id))
	}
	h.Set("ETag", `W/"`+strconv.FormatInt(version, 10)+`"`)
	if repr == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h.Set("Content-Type", "application/json; odata.metadata=minimal")
	h.Add("Preference-Applied", "return=representation")
	if created {
		w.WriteHeader(http.StatusCreated)
	} else {
		w.WriteHeader(http.StatusOK)
	}
	w.Write(repr)
}

// representation renders a row for return=representation, inside the
// writing transaction (so it shows what was written).
func (k *call) representation(c *conn, e *Entity, id, sel string, an annotations) ([]byte, error) {
	s, err := newSelection(e, sel)
	if err != nil {
		return nil, err
	}
	st, err := c.prep("SELECT " + s.sqlCols + " FROM " + quoteIdent(e.Name) + " AS t WHERE t." + quoteIdent(e.PrimaryKey) + " = ?1")
	if err != nil {
		return nil, err
	}
	defer st.Reset()
	if err := st.BindText(1, id); err != nil {
		return nil, err
	}
	if !st.Step() {
		if err := st.Err(); err != nil {
			return nil, err
		}
		return nil, notFound(e, id)
	}
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	rw := &rowWriter{w: bw, sel: s, an: an, db: c.db}
	ctx := `"@odata.context":` + string(appendJSONString(nil, k.base+APIPath+"$metadata#"+s.contextSuffix()+"/$entity"))
	if err := rw.writeRow(st, ctx); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// create serves POST {set}.
func (k *call) create(w http.ResponseWriter, r *http.Request, e *Entity) error {
	q, err := parseQuery(r.URL.RawQuery, "$select")
	if err != nil {
		return err
	}
	pf := parsePrefer(r.Header)
	fs, err := k.readEntityBody(e, r.Body)
	if err != nil {
		return err
	}
	id := fs.id
	if id == "" {
		id = newGUID()
	}
	var version int64
	var repr []byte
	err = k.write(func(c *conn) error {
		if _, ok, err := rowVersion(c, e, id); err != nil {
			return err
		} else if ok {
			return errExists(codeDuplicate)
		}
		if version, err = k.insertRow(c, e, id, fs); err != nil {
			return err
		}
		if pf.returnRepr {
			repr, err = k.representation(c, e, id, q.get("$select"), pf.annotations)
		}
		return err
	})
	if err != nil {
		return err
	}
	k.respondWritten(w, e, id, version, true, repr)
	return nil
}

// upsert serves PATCH {set}({id}): update, or create with that id, as the
// If-Match / If-None-Match headers allow.
func (k *call) upsert(w http.ResponseWriter, r *http.Request, e *Entity, id string) error {
	q, err := parseQuery(r.URL.RawQuery, "$select")
	if err != nil {
		return err
	}
	pf := parsePrefer(r.Header)
	fs, err := k.readEntityBody(e, r.Body)
	if err != nil {
		return err
	}
	if fs.id != "" && fs.id != id {
		return badRequest(codePayload, fmt.Sprintf("The key %s in the body does not match the key %s in the URL.", fs.id, id))
	}
	ifMatch, ifNoneMatch := r.Header.Get("If-Match"), r.Header.Get("If-None-Match")
	var version int64
	var created bool
	var repr []byte
	err = k.write(func(c *conn) error {
		cur, exists, err := rowVersion(c, e, id)
		if err != nil {
			return err
		}
		switch {
		case !exists && ifMatch != "":
			return &apiError{Status: http.StatusNotFound, Code: codeNone, Message: fmt.Sprintf("%s With Id = %s Does Not Exist", e.Name, id)}
		case exists && strings.TrimSpace(ifNoneMatch) == "*":
			return errExists(codeNone)
		case exists && ifMatch != "" && !etagMatches(ifMatch, `W/"`+strconv.FormatInt(cur, 10)+`"`):
			return errVersionMismatch()
		}
		if exists {
			version, err = k.updateRow(c, e, id, fs)
		} else {
			created = true
			version, err = k.insertRow(c, e, id, fs)
		}
		if err != nil {
			return err
		}
		if pf.returnRepr {
			repr, err = k.representation(c, e, id, q.get("$select"), pf.annotations)
		}
		return err
	})
	if err != nil {
		return err
	}
	// An upsert that created answers like an update (204, no Location),
	// per the conditional-operations examples; with return=representation
	// a create is 201.
	k.respondWritten(w, e, id, version, created && repr != nil, repr)
	return nil
}

// remove serves DELETE {set}({id}).
func (k *call) remove(w http.ResponseWriter, r *http.Request, e *Entity, id string) error {
	if _, err := parseQuery(r.URL.RawQuery); err != nil {
		return err
	}
	ifMatch := r.Header.Get("If-Match")
	err := k.write(func(c *conn) error {
		cur, exists, err := rowVersion(c, e, id)
		if err != nil {
			return err
		}
		if !exists {
			return notFound(e, id)
		}
		if ifMatch != "" && !etagMatches(ifMatch, `W/"`+strconv.FormatInt(cur, 10)+`"`) {
			return errVersionMismatch()
		}
		return deleteRow(c, e, id, 0)
	})
	if err != nil {
		return err
	}
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteRow deletes a row and applies its relationships' delete behaviour:
// children of a parental relationship go too (Cascade), other references
// are cleared (RemoveLink). The row goes first, so a cycle ends.
func deleteRow(c *conn, e *Entity, id string, depth int) error {
	if depth > 32 {
		return badRequest(codeValidation, "The cascade of this delete is deeper than the emulator follows (32).")
	}
	if err := c.exec("DELETE FROM "+quoteIdent(e.Name)+" WHERE "+quoteIdent(e.PrimaryKey)+" = ?1", id); err != nil {
		return err
	}
	for _, n := range entityOrder {
		ce := model[n]
		for _, a := range ce.Attributes {
			if a.Kind != KindLookup || !contains(a.Targets, e.Name) {
				continue
			}
			cond := quoteIdent(a.Column) + " = ?1"
			if a.TypeColumn != "" {
				cond += " AND " + quoteIdent(a.TypeColumn) + " = '" + e.Name + "'"
			}
			if a.OnDelete == RemoveLink {
				set := quoteIdent(a.Column) + " = NULL"
				if a.TypeColumn != "" {
					set += ", " + quoteIdent(a.TypeColumn) + " = NULL"
				}
				if err := c.exec("UPDATE "+quoteIdent(ce.Name)+" SET "+set+" WHERE "+cond, id); err != nil {
					return err
				}
				continue
			}
			ids, err := childIDs(c, ce, cond, id)
			if err != nil {
				return err
			}
			for _, cid := range ids {
				if err := deleteRow(c, ce, cid, depth+1); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func childIDs(c *conn, e *Entity, cond, id string) ([]string, error) {
	st, err := c.prep("SELECT " + quoteIdent(e.PrimaryKey) + " FROM " + quoteIdent(e.Name) + " WHERE " + cond)
	if err != nil {
		return nil, err
	}
	defer st.Reset()
	if err := st.BindText(1, id); err != nil {
		return nil, err
	}
	var out []string
	for st.Step() {
		out = append(out, st.ColumnText(0))
	}
	return out, st.Err()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// property serves {set}({id})/{property}[/$value]: GET reads it, PUT sets
// it from {"value": …}, DELETE clears it.
func (k *call) property(w http.ResponseWriter, r *http.Request, e *Entity, id, prop string, raw bool) error {
	a := e.prop(prop)
	if a == nil {
		if e.byNav[prop] != nil {
			return badRequest(codeNotSupported, fmt.Sprintf("Reading the navigation property '%s' is not supported by the emulator; filter the target entity set instead.", prop))
		}
		return propertyError(e, prop)
	}
	switch r.Method {
	case http.MethodGet:
		return k.readProperty(w, e, id, a, raw)
	case http.MethodPut, http.MethodDelete:
		if raw {
			return methodNotAllowed(r.Method, prop+"/$value")
		}
		if a.Kind == KindLookup || a.ReadOnly || a.Name == e.PrimaryKey {
			return badRequest(codePayload, fmt.Sprintf("The property '%s' cannot be set this way.", prop))
		}
		var v any
		if r.Method == http.MethodPut {
			fs, err := k.readValueBody(e, a, r.Body)
			if err != nil {
				return err
			}
			v = fs
		}
		fs := &fieldSet{e: e, attrs: map[string]bool{a.Name: true}}
		fs.set(a.Column, v)
		err := k.write(func(c *conn) error {
			if _, ok, err := rowVersion(c, e, id); err != nil {
				return err
			} else if !ok {
				return notFound(e, id)
			}
			_, err := k.updateRow(c, e, id, fs)
			return err
		})
		if err != nil {
			return err
		}
		w.Header().Set("OData-Version", "4.0")
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return methodNotAllowed(r.Method, prop)
}

// readValueBody reads {"value": x} for attribute a.
func (k *call) readValueBody(e *Entity, a *Attribute, body io.Reader) (any, error) {
	fs, err := k.readEntityBody(&Entity{Name: e.Name, SetName: e.SetName, Attributes: []*Attribute{{Name: "value", Kind: a.Kind, Column: "value", MaxLength: a.MaxLength, Choices: a.Choices}},
		byName: map[string]*Attribute{"value": {Name: "value", Kind: a.Kind, Column: "value", MaxLength: a.MaxLength, Choices: a.Choices}}}, body)
	if err != nil {
		return nil, err
	}
	v, ok := fs.get("value")
	if !ok {
		return nil, badRequest(codePayload, "The body must be {\"value\": …}.")
	}
	return v, nil
}

func (k *call) readProperty(w http.ResponseWriter, e *Entity, id string, a *Attribute, raw bool) error {
	sel, err := newSelection(e, a.jsonName())
	if err != nil {
		return err
	}
	c, err := k.conn()
	if err != nil {
		return err
	}
	st, err := c.prep("SELECT " + sel.sqlCols + " FROM " + quoteIdent(e.Name) + " AS t WHERE t." + quoteIdent(e.PrimaryKey) + " = ?1")
	if err != nil {
		return err
	}
	defer st.Reset()
	if err := st.BindText(1, id); err != nil {
		return err
	}
	if !st.Step() {
		if err := st.Err(); err != nil {
			return err
		}
		return notFound(e, id)
	}
	col := sel.cols[0]
	h := w.Header()
	h.Set("OData-Version", "4.0")
	if st.ColumnType(col) == sqlite3.NULL {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	bw := bufio.NewWriterSize(w, 64*1024)
	rw := &rowWriter{w: bw, sel: sel, db: c.db}
	if raw {
		h.Set("Content-Type", "text/plain")
		if a.Kind == KindFile {
			if err := streamBase64(bw, c.db, e.Name, a.Column, st.ColumnInt64(0), 0, -1); err != nil {
				return errStreamed{err}
			}
		} else if a.Kind == KindString || a.Kind == KindMemo || a.Kind == KindGUID || a.Kind == KindLookup || a.Kind == KindDate || a.Kind == KindEntityName {
			bw.WriteString(st.ColumnText(col))
		} else if err := rw.value(st, a, col, st.ColumnInt64(0)); err != nil {
			return errStreamed{err}
		}
	} else {
		odataHeaders(h)
		bw.WriteString(`{"@odata.context":`)
		bw.Write(appendJSONString(nil, k.base+APIPath+"$metadata#"+e.SetName+"("+id+")/"+a.jsonName()))
		bw.WriteString(`,"value":`)
		if err := rw.value(st, a, col, st.ColumnInt64(0)); err != nil {
			return errStreamed{err}
		}
		bw.WriteByte('}')
	}
	if err := bw.Flush(); err != nil {
		return errStreamed{err}
	}
	return nil
}

// reference serves {set}({id})/{nav}/$ref: PUT sets a single-valued
// navigation property from {"@odata.id": "<entity URL>"}, DELETE clears it.
func (k *call) reference(w http.ResponseWriter, r *http.Request, e *Entity, id, nav string) error {
	a := e.byNav[nav]
	if a == nil || a.ReadOnly {
		return badRequest(codeNotSupported, fmt.Sprintf("'%s' is not a single-valued navigation property of %s the emulator can set.", nav, e.Name))
	}
	fs := &fieldSet{e: e, attrs: map[string]bool{}}
	switch r.Method {
	case http.MethodPut, http.MethodPost:
		var body struct {
			ID *string `json:"@odata.id"`
		}
		dec := newJSONDecoder(io.LimitReader(r.Body, 1<<20))
		if err := dec.Decode(&body); err != nil || body.ID == nil {
			return badRequest(codePayload, `The body must be {"@odata.id": "<entity URL>"}.`)
		}
		if err := k.bind(fs, nav, *body.ID); err != nil {
			return err
		}
	case http.MethodDelete:
		if err := k.bind(fs, nav, nil); err != nil {
			return err
		}
	default:
		return methodNotAllowed(r.Method, nav+"/$ref")
	}
	err := k.write(func(c *conn) error {
		if _, ok, err := rowVersion(c, e, id); err != nil {
			return err
		} else if !ok {
			return notFound(e, id)
		}
		_, err := k.updateRow(c, e, id, fs)
		return err
	})
	if err != nil {
		return err
	}
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(http.StatusNoContent)
	return nil
}
