package emulator

import (
	"bufio"
	"net/http"
	"strconv"
)

// Change tracking (Microsoft: "Use change tracking to synchronize data with
// external systems"). A delta token names a version T of the org-wide
// clock; following it returns the rows whose version is in (T, H] — H
// being the clock when the delta read began, carried in the paging cookie
// — then the tombstones in the same range, each part in version order
// ("all new or updated records first … followed by deleted records"), and
// ends with a new delta token H. SQLite serialises writers and versions
// are taken inside the writing transaction, so once a reader sees the
// clock at H no row can later commit with a version at or below H: the
// range is complete. A row changed again after H is left for the next
// delta (its version is above H); a row sent twice is harmless.

// expired is the answer to a delta token older than the lifetime or the
// purge horizon. Microsoft documents that an exception is thrown but not
// its shape over the Web API; the code is ExpiredVersionStamp (CHOICES.md).
func errExpiredToken() *apiError {
	return badRequest(codeExpiredToken, "Version stamp associated with the client has expired. Please perform a full sync.")
}

// checkDeltaToken parses a $deltatoken and checks it has not expired.
func (k *call) checkDeltaToken(c *conn, raw string) (deltaToken, error) {
	t, ok := parseDeltaToken(raw)
	if !ok {
		return t, badRequest(codeQuery, "The $deltatoken value is not valid; use the @odata.deltaLink as it was returned.")
	}
	if k.s.now().Sub(t.stamp) > k.s.opts.DeltaTokenLifetime {
		return t, errExpiredToken()
	}
	h, err := c.meta("purge_horizon")
	if err != nil {
		return t, err
	}
	horizon, _ := strconv.ParseInt(h, 10, 64)
	clock, _, err := c.queryInt(`SELECT version FROM _clock`)
	if err != nil {
		return t, err
	}
	// Older than the horizon: its deletes may be gone. Newer than the
	// clock: it belongs to another (or a recreated) store.
	if t.version < horizon || t.version > clock {
		return t, errExpiredToken()
	}
	return t, nil
}

func (k *call) delta(w http.ResponseWriter, r *http.Request, e *Entity, q *query, pf prefs, sel *selection, cookie pageCookie) error {
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
	from, err := k.checkDeltaToken(c, q.get("$deltatoken"))
	if err != nil {
		return err
	}
	upper := cookie.token
	if !cookie.hasToken {
		v, _, err := c.queryInt(`SELECT version FROM _clock`)
		if err != nil {
			return err
		}
		upper = deltaToken{version: v, stamp: k.s.now()}
		cookie = pageCookie{page: 1, tracking: true, token: upper, hasToken: true, lastVersion: from.version}
	}
	pageSize := k.s.opts.MaxPageSize
	if pf.maxPageSize > 0 && pf.maxPageSize < pageSize {
		pageSize = pf.maxPageSize
	}

	h := w.Header()
	odataHeaders(h)
	if pf.maxPageSize > 0 {
		h.Add("Preference-Applied", "odata.maxpagesize="+strconv.Itoa(pageSize))
	}
	if pf.trackChanges {
		h.Add("Preference-Applied", "odata.track-changes")
	}
	if pf.annotations.raw != "" {
		h.Add("Preference-Applied", `odata.include-annotations="`+pf.annotations.raw+`"`)
	}
	bw := bufio.NewWriterSize(w, 64*1024)
	bw.WriteString(`{"@odata.context":`)
	bw.Write(appendJSONString(nil, k.base+APIPath+"$metadata#"+sel.contextSuffix()+"/$delta"))
	bw.WriteString(`,"value":[`)
	n, more := 0, false
	after := cookie.lastVersion
	if after < from.version {
		after = from.version
	}

	if cookie.phase == 0 {
		st, err := c.prep("SELECT " + sel.sqlCols + " FROM " + quoteIdent(e.Name) +
			" AS t WHERE t.versionnumber > ?1 AND t.versionnumber <= ?2 ORDER BY t.versionnumber LIMIT ?3")
		if err != nil {
			return err
		}
		if err := bindAll(st, []any{after, upper.version, pageSize + 1}); err != nil {
			st.Reset()
			return err
		}
		rw := &rowWriter{w: bw, sel: sel, an: pf.annotations, db: c.db}
		for st.Step() {
			if n == pageSize {
				more = true
				break
			}
			if n > 0 {
				bw.WriteByte(',')
			}
			if err := rw.writeRow(st, ""); err != nil {
				st.Reset()
				return errStreamed{err}
			}
			cookie.lastVersion = st.ColumnInt64(1)
			n++
		}
		err = st.Err()
		st.Reset()
		if err != nil {
			return errStreamed{err}
		}
		if !more {
			cookie.phase, cookie.lastVersion = 1, from.version
		}
	}
	if !more && cookie.phase == 1 {
		after := cookie.lastVersion
		if after < from.version {
			after = from.version
		}
		st, err := c.prep(`SELECT id, version FROM _tombstone WHERE entity = ?1 AND version > ?2 AND version <= ?3 ORDER BY version LIMIT ?4`)
		if err != nil {
			return err
		}
		if err := bindAll(st, []any{e.Name, after, upper.version, pageSize - n + 1}); err != nil {
			st.Reset()
			return err
		}
		deleted := string(appendJSONString(nil, k.base+APIPath+"$metadata#"+e.SetName+"/$deletedEntity"))
		for st.Step() {
			if n == pageSize {
				more = true
				break
			}
			if n > 0 {
				bw.WriteByte(',')
			}
			bw.WriteString(`{"@odata.context":` + deleted + `,"id":`)
			bw.Write(appendJSONString(nil, st.ColumnText(0)))
			bw.WriteString(`,"reason":"deleted"}`)
			cookie.lastVersion = st.ColumnInt64(1)
			n++
		}
		err = st.Err()
		st.Reset()
		if err != nil {
			return errStreamed{err}
		}
	}
	bw.WriteByte(']')
	if more {
		cookie.page++
		bw.WriteString(`,"@odata.nextLink":`)
		bw.Write(appendJSONString(nil, k.link(e, q.raw, "$skiptoken", cookie.String(e.PrimaryKey), "$skiptoken")))
	} else {
		bw.WriteString(`,"@odata.deltaLink":`)
		bw.Write(appendJSONString(nil, k.link(e, q.raw, "$deltatoken", upper.String(), "$skiptoken", "$deltatoken")))
	}
	bw.WriteByte('}')
	if err := bw.Flush(); err != nil {
		return errStreamed{err}
	}
	return nil
}

// deltaCount is the number of changes a delta token would return now:
// changed rows and tombstones above its version.
func (k *call) deltaCount(c *conn, e *Entity, raw string) (int64, error) {
	if !e.ChangeTracking {
		return 0, badRequest(codeQuery, "Change tracking is not enabled for the entity '"+e.Name+"'.")
	}
	if !k.inTx {
		if err := c.beginRead(); err != nil {
			return 0, err
		}
		defer c.rollback()
	}
	t, err := k.checkDeltaToken(c, raw)
	if err != nil {
		return 0, err
	}
	n, _, err := c.queryInt(`SELECT (SELECT count(*) FROM `+quoteIdent(e.Name)+` WHERE versionnumber > ?1)
		+ (SELECT count(*) FROM _tombstone WHERE entity = ?2 AND version > ?1)`, t.version, e.Name)
	return n, err
}
