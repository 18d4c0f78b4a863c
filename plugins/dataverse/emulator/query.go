package emulator

import (
	"bufio"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// query is the parsed system query options of a request.
type query struct {
	raw    string
	values url.Values
}

// parseQuery reads and checks the system query options: each at most once,
// none that Dataverse refuses, none the emulator does not implement.
func parseQuery(raw string, allowed ...string) (*query, error) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return nil, badRequest(codeQuery, "The query string is not valid: "+err.Error())
	}
	for k, vals := range v {
		if !strings.HasPrefix(k, "$") {
			continue // parameter aliases and custom options: ignored
		}
		if len(vals) > 1 {
			return nil, badRequest(codeQuery, fmt.Sprintf("Query option '%s' was specified more than once, but it must be specified at most once.", k))
		}
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if ok {
			continue
		}
		switch k {
		case "$skip":
			return nil, badRequest(codeQuery, "The query parameter $skip is not supported; page with the @odata.nextLink returned under Prefer: odata.maxpagesize.")
		case "$expand", "$apply", "$search", "$compute", "$levels", "$format", "$index", "$schemaversion":
			return nil, badRequest(codeNotSupported, fmt.Sprintf("The query parameter %s is not supported by the emulator.", k))
		}
		return nil, badRequest(codeQuery, fmt.Sprintf("The query parameter %s is not supported here.", k))
	}
	return &query{raw: raw, values: v}, nil
}

func (q *query) get(k string) string { return q.values.Get(k) }
func (q *query) has(k string) bool   { _, ok := q.values[k]; return ok }

var collectionOptions = []string{"$select", "$filter", "$orderby", "$top", "$count", "$skiptoken", "$deltatoken"}

// trackingRefused are the options Dataverse refuses with change tracking.
var trackingRefused = []string{"$filter", "$orderby", "$expand", "$top"}

func (k *call) collection(w http.ResponseWriter, r *http.Request, e *Entity) error {
	pf := parsePrefer(r.Header)
	q, err := parseQuery(r.URL.RawQuery, append(collectionOptions, "$expand")...)
	if err != nil {
		return err
	}
	var cookie pageCookie
	if q.has("$skiptoken") {
		if cookie, err = parsePageCookie(q.get("$skiptoken"), e.PrimaryKey); err != nil {
			return err
		}
	}
	tracking := pf.trackChanges || cookie.tracking || q.has("$deltatoken")
	if tracking {
		for _, o := range trackingRefused {
			if q.has(o) {
				return badRequest(codeQuery, fmt.Sprintf(`The "%s" query parameter isn't supported when Change Tracking is enabled.`, o))
			}
		}
		if !e.ChangeTracking {
			return badRequest(codeQuery, fmt.Sprintf("Change tracking is not enabled for the entity '%s'.", e.Name))
		}
	}
	if q.has("$expand") {
		return badRequest(codeNotSupported, "The query parameter $expand is not supported by the emulator.")
	}
	sel, err := newSelection(e, q.get("$select"))
	if err != nil {
		return err
	}
	if q.has("$deltatoken") {
		return k.delta(w, r, e, q, pf, sel, cookie)
	}

	desc := false
	switch ob := strings.Join(strings.Fields(q.get("$orderby")), " "); ob {
	case "", e.PrimaryKey, e.PrimaryKey + " asc":
	case e.PrimaryKey + " desc":
		desc = true
	default:
		return badRequest(codeNotSupported, fmt.Sprintf("The emulator orders only by the primary key (%s asc|desc), not by '%s'.", e.PrimaryKey, ob))
	}
	pageSize := k.s.opts.MaxPageSize
	if pf.maxPageSize > 0 && pf.maxPageSize < pageSize {
		pageSize = pf.maxPageSize
	}
	paged := true
	if q.has("$top") && pf.maxPageSize == 0 {
		top, err := strconv.Atoi(q.get("$top"))
		if err != nil || top < 0 {
			return badRequest(codeQuery, fmt.Sprintf("Invalid value '%s' for $top query option found. The $top query option requires a non-negative integer value.", q.get("$top")))
		}
		if top < pageSize {
			pageSize = top
		}
		paged = false
	}
	withCount := false
	switch q.get("$count") {
	case "", "false":
	case "true":
		withCount = true
	default:
		return badRequest(codeQuery, fmt.Sprintf("'%s' is not a valid count option.", q.get("$count")))
	}

	from := " FROM " + quoteIdent(e.Name) + " AS t"
	where := []string{}
	var args []any
	if f := q.get("$filter"); q.has("$filter") {
		sf, err := compileFilter(f, e, k.scope())
		if err != nil {
			return err
		}
		from += " " + strings.Join(sf.joins, " ")
		where = append(where, sf.where)
		args = append(args, sf.args...)
	}
	c, err := k.conn()
	if err != nil {
		return err
	}
	if !k.inTx {
		if err := c.beginRead(); err != nil {
			return err
		}
		defer c.rollback()
	}
	if tracking && !cookie.hasToken {
		v, _, err := c.queryInt(`SELECT version FROM _clock`)
		if err != nil {
			return err
		}
		cookie.token = deltaToken{version: v, stamp: k.s.now()}
		cookie.hasToken = true
	}
	count := int64(-1)
	if withCount {
		cw := strings.Join(where, " AND ")
		if cw != "" {
			cw = " WHERE " + cw
		}
		limit := ""
		if k.s.opts.CountLimit > 0 {
			limit = " LIMIT " + strconv.Itoa(k.s.opts.CountLimit)
		}
		count, _, err = c.queryInt("SELECT count(*) FROM (SELECT 1"+from+cw+limit+")", args...)
		if err != nil {
			return err
		}
	}
	if cookie.last != "" {
		op := " > "
		if desc {
			op = " < "
		}
		where = append(where, "t."+quoteIdent(e.PrimaryKey)+op+"?"+strconv.Itoa(len(args)+1))
		args = append(args, cookie.last)
	}
	sql := "SELECT " + sel.sqlCols + from
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	dir := ""
	if desc {
		dir = " DESC"
	}
	sql += " ORDER BY t." + quoteIdent(e.PrimaryKey) + dir + " LIMIT " + strconv.Itoa(pageSize+1)
	st, err := c.prep(sql)
	if err != nil {
		return fmt.Errorf("prepare %s: %w", sql, err)
	}
	defer st.Reset()
	if err := bindAll(st, args); err != nil {
		return err
	}

	h := w.Header()
	odataHeaders(h)
	if pf.maxPageSize > 0 {
		h.Add("Preference-Applied", "odata.maxpagesize="+strconv.Itoa(pageSize))
	}
	if tracking && pf.trackChanges {
		h.Add("Preference-Applied", "odata.track-changes")
	}
	if pf.annotations.raw != "" {
		h.Add("Preference-Applied", `odata.include-annotations="`+pf.annotations.raw+`"`)
	}
	bw := bufio.NewWriterSize(w, 64*1024)
	bw.WriteString(`{"@odata.context":`)
	bw.Write(appendJSONString(nil, k.base+APIPath+"$metadata#"+sel.contextSuffix()))
	if count >= 0 {
		bw.WriteString(`,"@odata.count":` + strconv.FormatInt(count, 10))
		if pf.annotations.want("Microsoft.Dynamics.CRM.totalrecordcount") {
			bw.WriteString(`,"@Microsoft.Dynamics.CRM.totalrecordcount":` + strconv.FormatInt(count, 10))
		}
		if pf.annotations.want("Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded") {
			bw.WriteString(`,"@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded":` + strconv.FormatBool(k.s.opts.CountLimit > 0 && count >= int64(k.s.opts.CountLimit)))
		}
	}
	bw.WriteString(`,"value":[`)
	rw := &rowWriter{w: bw, sel: sel, an: pf.annotations, db: c.db}
	pkCol := sel.cols[len(sel.cols)-1]
	for i, a := range sel.attrs {
		if a.Name == e.PrimaryKey {
			pkCol = sel.cols[i]
		}
	}
	n, more := 0, false
	for st.Step() {
		if n == pageSize {
			more = true
			break
		}
		if n > 0 {
			bw.WriteByte(',')
		}
		if err := rw.writeRow(st, ""); err != nil {
			return errStreamed{err}
		}
		if n == 0 && cookie.first == "" {
			cookie.first = st.ColumnText(pkCol)
		}
		cookie.last = st.ColumnText(pkCol)
		n++
	}
	if err := st.Err(); err != nil {
		return errStreamed{err}
	}
	bw.WriteByte(']')
	switch {
	case more && paged:
		next := cookie
		if next.page == 0 {
			next.page = 1
		}
		next.page++
		next.tracking = tracking
		if !tracking {
			next.hasToken = false
		}
		bw.WriteString(`,"@odata.nextLink":`)
		bw.Write(appendJSONString(nil, k.link(e, q.raw, "$skiptoken", next.String(e.PrimaryKey), "$skiptoken")))
	case tracking:
		bw.WriteString(`,"@odata.deltaLink":`)
		bw.Write(appendJSONString(nil, k.link(e, q.raw, "$deltatoken", cookie.token.String(), "$skiptoken", "$deltatoken")))
	}
	bw.WriteByte('}')
	if err := bw.Flush(); err != nil {
		return errStreamed{err}
	}
	return nil
}

// link builds a next or delta link: the request's own options (as the
// client wrote them) less those dropped, plus name=value.
func (k *call) link(e *Entity, raw, name, value string, drop ...string) string {
	qs := linkQuery(raw, drop...)
	if qs != "" {
		qs += "&"
	}
	return k.base + APIPath + e.SetName + "?" + qs + name + "=" + escapeQuery(value)
}

// count serves {set}/$count: the number of rows matching $filter, capped
// like $count=true, or with $deltatoken the number of changes.
func (k *call) count(w http.ResponseWriter, r *http.Request, e *Entity) error {
	q, err := parseQuery(r.URL.RawQuery, "$filter", "$deltatoken")
	if err != nil {
		return err
	}
	c, err := k.conn()
	if err != nil {
		return err
	}
	var n int64
	if q.has("$deltatoken") {
		if q.has("$filter") {
			return badRequest(codeQuery, `The "$filter" query parameter isn't supported when Change Tracking is enabled.`)
		}
		n, err = k.deltaCount(c, e, q.get("$deltatoken"))
		if err != nil {
			return err
		}
	} else {
		from, where := " FROM "+quoteIdent(e.Name)+" AS t", ""
		var args []any
		if q.has("$filter") {
			sf, err := compileFilter(q.get("$filter"), e, k.scope())
			if err != nil {
				return err
			}
			from += " " + strings.Join(sf.joins, " ")
			where = " WHERE " + sf.where
			args = sf.args
		}
		limit := ""
		if k.s.opts.CountLimit > 0 {
			limit = " LIMIT " + strconv.Itoa(k.s.opts.CountLimit)
		}
		n, _, err = c.queryInt("SELECT count(*) FROM (SELECT 1"+from+where+limit+")", args...)
		if err != nil {
			return err
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("OData-Version", "4.0")
	w.Write([]byte(strconv.FormatInt(n, 10)))
	return nil
}

// retrieve serves GET {set}({id}).
func (k *call) retrieve(w http.ResponseWriter, r *http.Request, e *Entity, id string) error {
	q, err := parseQuery(r.URL.RawQuery, "$select", "$expand")
	if err != nil {
		return err
	}
	if q.has("$expand") {
		return badRequest(codeNotSupported, "The query parameter $expand is not supported by the emulator.")
	}
	sel, err := newSelection(e, q.get("$select"))
	if err != nil {
		return err
	}
	pf := parsePrefer(r.Header)
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
	etag := `W/"` + strconv.FormatInt(st.ColumnInt64(1), 10) + `"`
	h := w.Header()
	if inm := r.Header.Get("If-None-Match"); inm != "" && pf.annotations.raw == "" && etagMatches(inm, etag) {
		h.Set("OData-Version", "4.0")
		h.Set("ETag", etag)
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	odataHeaders(h)
	h.Set("ETag", etag)
	if pf.annotations.raw != "" {
		h.Add("Preference-Applied", `odata.include-annotations="`+pf.annotations.raw+`"`)
	}
	bw := bufio.NewWriterSize(w, 64*1024)
	rw := &rowWriter{w: bw, sel: sel, an: pf.annotations, db: c.db}
	ctx := `"@odata.context":` + string(appendJSONString(nil, k.base+APIPath+"$metadata#"+sel.contextSuffix()+"/$entity"))
	if err := rw.writeRow(st, ctx); err != nil {
		return errStreamed{err}
	}
	if err := bw.Flush(); err != nil {
		return errStreamed{err}
	}
	return nil
}

// etagMatches reports whether an If-Match / If-None-Match header names tag
// (or is *).
func etagMatches(header, tag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || t == tag || "W/"+t == tag {
			return true
		}
	}
	return false
}
