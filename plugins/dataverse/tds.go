package dataverse

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/fieldsync/fieldsync/plugins/dataverse/tsql"
	"github.com/fieldsync/fieldsync/sdk"
)

// TDS full reads (PROTOCOLS.md, "Dataverse TDS endpoint"): the same
// Entra ID token as the Web API, sent in LOGIN7 by go-mssqldb's
// NewAccessTokenConnector. A full read first takes a key-only Web API delta
// link (keyed.go: the TDS endpoint has no change tracking), then pages by
// key range,
//
//	SELECT TOP (@pN) [key], [versionnumber], [f1], … FROM [entity]
//	WHERE (<tsql.Where(filter)>) AND [key] > @pM ORDER BY [key]
//
// so no query's result nears the endpoint's 80 MB cap; a page the server
// still refuses as too large is asked for again with half the rows. Rows
// the read misses because they changed meanwhile come again through the
// delta link (harmless). A fetch the endpoint cannot serve exactly — a
// filter tsql.Where refuses (user operators need the user's ids), a binary
// column, a table without versionnumber — reads over the Web API instead;
// Usage records which path each entity took.
type tdsReader struct {
	c       *Connector
	db      *sql.DB
	queries atomic.Int64
}

func newTDSReader(c *Connector, opts Options, tokens func(context.Context) (string, error)) (*tdsReader, error) {
	host, port, err := net.SplitHostPort(opts.TDS)
	if err != nil {
		return nil, sdk.Errorf(sdk.Permanent, "dataverse: setting \"tds\" = %q is not host:port", opts.TDS)
	}
	if _, err := strconv.Atoi(port); err != nil {
		return nil, sdk.Errorf(sdk.Permanent, "dataverse: setting \"tds\" = %q has no port number", opts.TDS)
	}
	db := opts.TDSDatabase
	if db == "" {
		u, _ := url.Parse(opts.URL)
		db, _, _ = strings.Cut(u.Hostname(), ".")
	}
	encrypt := opts.TDSEncrypt
	if encrypt == "" {
		encrypt = "true"
	}
	q := url.Values{"database": {db}, "encrypt": {encrypt}, "app name": {"fieldsync"}}
	dsn := (&url.URL{Scheme: "sqlserver", Host: net.JoinHostPort(host, port), RawQuery: q.Encode()}).String()
	conn, err := mssql.NewAccessTokenConnector(dsn, func() (string, error) {
		// go-mssqldb asks for the token without a context; a login that
		// waits longer than this for one fails and is retried by the
		// engine.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return tokens(ctx)
	})
	if err != nil {
		return nil, sdk.Errorf(sdk.Permanent, "dataverse: tds: %v", err)
	}
	sdb := sql.OpenDB(conn)
	sdb.SetMaxOpenConns(opts.MaxConcurrency)
	sdb.SetMaxIdleConns(2)
	sdb.SetConnMaxIdleTime(5 * time.Minute)
	return &tdsReader{c: c, db: sdb}, nil
}

func (t *tdsReader) close() { _ = t.db.Close() }

// serves reports whether a full read can go over TDS, and why not.
func (t *tdsReader) serves(p *fetchPlan) (bool, string) {
	if p.req.IDsOnly {
		return false, "ids-only read"
	}
	if p.e.byName["versionnumber"] == nil {
		return false, "the table has no versionnumber for row versions"
	}
	for _, f := range p.fields {
		if f.typ == sdk.TypeBinary {
			return false, "binary column " + f.name + " is not served over TDS"
		}
	}
	if _, _, err := tsql.Where(p.req.Filter, p.m.schema, p.e.sdk, p.uc); err != nil {
		return false, "the filter has no T-SQL form here: " + err.Error()
	}
	return true, ""
}

// page reads one key range and hands it on as one page.
func (t *tdsReader) page(ctx context.Context, p *fetchPlan, cur cursor, fn sdk.FetchFunc) (cursor, bool, error) {
	where, args, err := tsql.Where(p.req.Filter, p.m.schema, p.e.sdk, p.uc)
	if err != nil {
		return cur, false, err
	}
	cols := []string{tsql.QuoteName(p.e.pk), "[versionnumber]"}
	for _, f := range p.fields {
		cols = append(cols, tsql.QuoteName(f.name)) // lookups: the id column is named like the lookup
	}
	var conds []string
	if where != "" {
		conds = append(conds, "("+where+")")
	}
	if cur.After != "" {
		args = append(args, cur.After)
		conds = append(conds, tsql.QuoteName(p.e.pk)+" > @p"+strconv.Itoa(len(args)))
	}
	top := p.pageSize
	for {
		qargs := append(args[:len(args):len(args)], int64(top))
		query := "SELECT TOP (@p" + strconv.Itoa(len(qargs)) + ") " + strings.Join(cols, ", ") + " FROM " + tsql.QuoteName(p.e.name)
		if len(conds) > 0 {
			query += " WHERE " + strings.Join(conds, " AND ")
		}
		query += " ORDER BY " + tsql.QuoteName(p.e.pk)
		pg, err := t.query(ctx, p, query, qargs)
		if err != nil {
			var me mssql.Error
			if errors.As(err, &me) && me.Number == tsql.ErrNotSupported && strings.Contains(strings.ToLower(me.Message), "too large") && top > 1 {
				top /= 2 // under the 80 MB cap with fewer rows
				continue
			}
			return cur, false, t.errorOf(ctx, p, err)
		}
		next := cur
		if pg.Len() > 0 {
			next.After = pg.IDs[pg.Len()-1]
		}
		if pg.Len() < top {
			tok := changeToken{Entity: p.e.name, Sig: p.tokenSig, Mode: modeKeyed, Link: cur.Delta}
			pg.Last, pg.Token = true, tok.encode()
		} else {
			pg.Cursor = next.encode()
		}
		if err := ctx.Err(); err != nil {
			return cur, false, fmt.Errorf("dataverse: fetch %s over tds: %w", p.e.name, err)
		}
		if err := fn(pg); err != nil {
			return cur, false, &callbackError{err}
		}
		return next, pg.Last, nil
	}
}

// query runs one page's query into a page.
func (t *tdsReader) query(ctx context.Context, p *fetchPlan, query string, args []any) (*sdk.Page, error) {
	t.queries.Add(1)
	rows, err := t.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	b := sdk.NewPageBuilder(p.names, p.types)
	dest := make([]any, 2+len(p.fields))
	ptrs := make([]any, len(dest))
	for i := range dest {
		ptrs[i] = &dest[i]
	}
	vals := make([]sdk.Value, len(p.fields))
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		id, err := tdsGUID(dest[0])
		if err != nil || id == "" {
			return nil, sdk.Errorf(sdk.Permanent, "dataverse: fetch %s over tds: key: %v", p.e.name, err)
		}
		version := ""
		switch v := dest[1].(type) {
		case int64:
			version = `W/"` + strconv.FormatInt(v, 10) + `"`
		case []byte:
			version = `W/"` + string(v) + `"`
		case nil:
		default:
			version = fmt.Sprintf(`W/"%v"`, v)
		}
		for i, f := range p.fields {
			if vals[i], err = tdsValue(f, dest[2+i]); err != nil {
				return nil, sdk.Errorf(sdk.Permanent, "dataverse: fetch %s over tds: %s: %v", p.e.name, f.name, err)
			}
		}
		b.Add(id, version, vals[:len(p.names)]...)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return b.Page(), nil
}

func (t *tdsReader) errorOf(ctx context.Context, p *fetchPlan, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("dataverse: fetch %s over tds: %w", p.e.name, ctx.Err())
	}
	var se *sdk.Error
	if errors.As(err, &se) {
		return err
	}
	var me mssql.Error
	if errors.As(err, &me) {
		kind := sdk.Permanent
		if me.Number == 18456 { // login failed: the token may have lapsed
			kind = sdk.Retryable
		}
		return &sdk.Error{Kind: kind, Message: fmt.Sprintf("dataverse: fetch %s over tds: error %d: %s", p.e.name, me.Number, me.Message), Err: err}
	}
	return &sdk.Error{Kind: sdk.Retryable, Message: fmt.Sprintf("dataverse: fetch %s over tds: %v", p.e.name, err), Err: err}
}

// tdsGUID reads a uniqueidentifier (go-mssqldb gives its 16 bytes in SQL
// Server's order) or a GUID text.
func tdsGUID(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case []byte:
		if len(v) == 16 {
			var u mssql.UniqueIdentifier
			if err := u.Scan(v); err != nil {
				return "", err
			}
			return formatGUID(u), nil
		}
		return canonicalGUID(string(v))
	case string:
		return canonicalGUID(v)
	}
	return "", fmt.Errorf("a %T is not a GUID", v)
}

// tdsValue converts a scanned column to the field's sdk value.
func tdsValue(f *field, v any) (sdk.Value, error) {
	if v == nil {
		return sdk.Null(), nil
	}
	switch f.typ {
	case sdk.TypeGUID, sdk.TypeLookup:
		g, err := tdsGUID(v)
		if err != nil {
			return sdk.Null(), err
		}
		return sdk.String(g), nil
	case sdk.TypeString:
		switch s := v.(type) {
		case string:
			return sdk.String(s), nil
		case []byte:
			return sdk.String(string(s)), nil
		}
	case sdk.TypeInt, sdk.TypeChoice:
		switch n := v.(type) {
		case int64:
			return sdk.Int(n), nil
		case int32:
			return sdk.Int(int64(n)), nil
		case int16:
			return sdk.Int(int64(n)), nil
		case uint8:
			return sdk.Int(int64(n)), nil
		case bool:
			if n {
				return sdk.Int(1), nil
			}
			return sdk.Int(0), nil
		}
	case sdk.TypeDecimal:
		var text string
		switch d := v.(type) {
		case []byte:
			text = string(d)
		case string:
			text = d
		case float64:
			text = strconv.FormatFloat(d, 'f', -1, 64)
		case int64:
			text = strconv.FormatInt(d, 10)
		default:
			return sdk.Null(), fmt.Errorf("a %T is not a decimal", v)
		}
		d, err := canonicalDecimal(text)
		if err != nil {
			return sdk.Null(), err
		}
		return sdk.String(d), nil
	case sdk.TypeFloat:
		switch n := v.(type) {
		case float64:
			return sdk.Float(n), nil
		case float32:
			return sdk.Float(float64(n)), nil
		}
	case sdk.TypeBool:
		if b, ok := v.(bool); ok {
			return sdk.Bool(b), nil
		}
	case sdk.TypeDateTime:
		if t, ok := v.(time.Time); ok {
			if f.edm == "Edm.Date" {
				y, m, d := t.Date()
				return sdk.Time(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)), nil
			}
			return sdk.Time(t.UTC()), nil
		}
	}
	return sdk.Null(), fmt.Errorf("a %T cannot be read as %s", v, f.typ)
}

// formatGUID writes a GUID in canonical lower-case text without going
// through fmt (a TDS read formats one or more per row).
func formatGUID(u [16]byte) string {
	const hexDigits = "0123456789abcdef"
	var b [36]byte
	j := 0
	for i, x := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = hexDigits[x>>4], hexDigits[x&0xf]
		j += 2
	}
	return string(b[:])
}

// needsUser reports whether f has user-dependent operators.
func needsUser(f *sdk.Filter) bool {
	need := false
	f.Walk(func(n *sdk.Filter) { need = need || n.Op.IsUserDependent() })
	return need
}

// fillUser sets the calling user's id and business unit (WhoAmI, asked
// once per connector), so eq-userid, ne-userid and eq-businessid filters
// can be written as T-SQL. Teams stay unknown: eq-useroruserteams still
// reads over the Web API, where the server knows them.
func (c *Connector) fillUser(ctx context.Context, uc *tsql.UserContext) error {
	c.whoMu.Lock()
	defer c.whoMu.Unlock()
	if c.whoUser == "" {
		resp, err := c.http.do(ctx, request{Method: http.MethodGet, URL: "WhoAmI", What: "WhoAmI"})
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var who struct {
			UserID         string `json:"UserId"`
			BusinessUnitID string `json:"BusinessUnitId"`
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&who); err != nil || who.UserID == "" {
			return sdk.Errorf(sdk.Permanent, "dataverse: WhoAmI: the answer names no user (%v)", err)
		}
		c.whoUser, c.whoBU = strings.ToLower(who.UserID), strings.ToLower(who.BusinessUnitID)
	}
	uc.UserID, uc.BusinessUnitID = c.whoUser, c.whoBU
	return nil
}
