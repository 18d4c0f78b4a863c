package mock

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
	"github.com/ncruces/go-sqlite3"
)

// Push applies a batch in one write transaction; see the package
// documentation. An error return (busy database, cancellation, a broken
// file) means nothing of the batch was applied or recorded.
func (c *Connector) Push(ctx context.Context, req sdk.PushRequest) (_ *sdk.PushResponse, err error) {
	started := time.Now()
	cn, st, snap, err := c.srv.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer c.srv.db.put(cn)
	defer func() {
		c.srv.logRequest(cn, requestRecord{
			at: started, user: c.user, op: "push", entity: pushEntities(req.Changes),
			rows: int64(len(req.Changes)), deletes: countDeletes(req.Changes), err: err,
		})
	}()
	if err := st.inject(); err != nil {
		return nil, err
	}
	resp := &sdk.PushResponse{Results: make([]sdk.ChangeResult, 0, len(req.Changes))}
	err = cn.withTx(func() error {
		for i := range req.Changes {
			if err := ctx.Err(); err != nil {
				return err
			}
			ch := req.Changes[i]
			if c.serverIDs && ch.Op == sdk.OpCreate {
				ch.ID = "" // the server assigns the id
			}
			res, err := applyChange(cn, snap, &ch)
			if err != nil {
				return fmt.Errorf("change %d (%s): %w", i, req.Changes[i].ChangeID, err)
			}
			resp.Results = append(resp.Results, res)
		}
		return nil
	})
	if err != nil {
		return nil, sqlErr(ctx, "push", err)
	}
	c.log.Debug("pushed", "changes", len(req.Changes), "elapsed", time.Since(started))
	return resp, nil
}

func pushEntities(chs []sdk.Change) string {
	var names []string
	for _, ch := range chs {
		if !slices.Contains(names, ch.Entity) {
			names = append(names, ch.Entity)
		}
		if len(names) > 8 {
			break
		}
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func countDeletes(chs []sdk.Change) (n int64) {
	for _, ch := range chs {
		if ch.Op == sdk.OpDelete {
			n++
		}
	}
	return n
}

func failed(ch *sdk.Change, format string, args ...any) sdk.ChangeResult {
	return sdk.ChangeResult{ChangeID: ch.ChangeID, Status: sdk.StatusFailed, ID: ch.ID, Err: sdk.Errorf(sdk.Permanent, format, args...)}
}

// applyChange answers one change inside the batch's transaction: a recorded
// outcome for a repeated change id, else the outcome of applying it, which
// is recorded. A Go error aborts the batch.
func applyChange(c *conn, snap *schemaSnap, ch *sdk.Change) (sdk.ChangeResult, error) {
	if ch.ChangeID == "" {
		return failed(ch, "mock: change has no change id"), nil
	}
	if res, ok, err := recordedChange(c, snap, ch.ChangeID); err != nil || ok {
		return res, err
	}
	if err := c.db.Exec(`SAVEPOINT change`); err != nil {
		return sdk.ChangeResult{}, err
	}
	res, err := apply(c, snap, ch)
	var se *sqlite3.Error
	if err != nil && errors.As(err, &se) && se.Code() == sqlite3.CONSTRAINT {
		// An admin's constraint refused the row: this change fails, the
		// rest of the batch goes on.
		res, err = failed(ch, "mock: %s %s: %v", ch.Op, ch.Entity, se), nil
		if rerr := c.db.Exec(`ROLLBACK TO change`); rerr != nil {
			return res, rerr
		}
	}
	if err != nil {
		return res, err
	}
	if err := c.db.Exec(`RELEASE change`); err != nil {
		return res, err
	}
	return res, recordChange(c, ch, &res)
}

func apply(c *conn, snap *schemaSnap, ch *sdk.Change) (sdk.ChangeResult, error) {
	e := snap.entities[ch.Entity]
	if e == nil {
		return failed(ch, "mock: unknown entity %q", ch.Entity), nil
	}
	if ch.ID == "" && (ch.Op == sdk.OpUpdate || ch.Op == sdk.OpDelete) {
		return failed(ch, "mock: %s of %s names no row id", ch.Op, ch.Entity), nil
	}
	switch ch.Op {
	case sdk.OpCreate:
		return create(c, snap, e, ch)
	case sdk.OpUpdate:
		return update(c, snap, e, ch)
	case sdk.OpDelete:
		return remove(c, e, ch)
	}
	return failed(ch, "mock: unknown operation %d", ch.Op), nil
}

// assignment is one field to write.
type assignment struct {
	col string
	arg any
}

// checkValues validates the change's values against the entity; on create,
// required fields must be present. The failure message is for a person.
func checkValues(c *conn, snap *schemaSnap, e *entity, ch *sdk.Change, creating bool) ([]assignment, string, error) {
	names := make([]string, 0, len(ch.Values))
	for name := range ch.Values {
		names = append(names, name)
	}
	sort.Strings(names) // stable SQL text, so statements are reused
	out := make([]assignment, 0, len(names))
	for _, name := range names {
		v := ch.Values[name]
		if name == e.PrimaryKey {
			return nil, fmt.Sprintf("field %s is the key; it travels in Change.ID", name), nil
		}
		f, _ := e.field(name)
		if f == nil {
			return nil, fmt.Sprintf("entity %s has no field %q", e.Name, name), nil
		}
		if f.ReadOnly {
			return nil, fmt.Sprintf("field %s is read-only", name), nil
		}
		arg, err := pushArg(f, v)
		if err != nil {
			return nil, err.Error(), nil
		}
		if f.Type == sdk.TypeLookup && arg != nil {
			target := snap.entities[f.Target]
			if target == nil {
				return nil, fmt.Sprintf("field %s looks up unknown entity %s", name, f.Target), nil
			}
			n, _, err := c.queryInt(`SELECT count(*) FROM `+target.table+` WHERE `+target.pk+` = ?`, arg)
			if err != nil {
				return nil, "", err
			}
			if n == 0 {
				return nil, fmt.Sprintf("field %s: %s %s does not exist", name, f.Target, arg), nil
			}
		}
		out = append(out, assignment{col: quote(f.Name), arg: arg})
	}
	if creating {
		for _, f := range e.Fields {
			if _, ok := ch.Values[f.Name]; f.Required && !ok {
				return nil, fmt.Sprintf("field %s is required", f.Name), nil
			}
		}
	}
	return out, "", nil
}

func create(c *conn, snap *schemaSnap, e *entity, ch *sdk.Change) (sdk.ChangeResult, error) {
	sets, msg, err := checkValues(c, snap, e, ch, true)
	if err != nil || msg != "" {
		return failed(ch, "mock: create %s: %s", e.Name, msg), err
	}
	id := normID(ch.ID)
	if !isGUID(id) {
		id = newGUID() // a temporary id: the server assigns the real one
	} else {
		cur, _, err := readRecord(c, e, id)
		if err != nil {
			return sdk.ChangeResult{}, err
		}
		if cur != nil {
			return sdk.ChangeResult{ChangeID: ch.ChangeID, Status: sdk.StatusConflict, ID: id, Current: cur}, nil
		}
	}
	var cols, params strings.Builder
	cols.WriteString(e.pk)
	params.WriteString("?1")
	args := []any{id}
	for i, a := range sets {
		fmt.Fprintf(&cols, ", %s", a.col)
		fmt.Fprintf(&params, ", ?%d", i+2)
		args = append(args, a.arg)
	}
	if err := c.exec(fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", e.table, cols.String(), params.String()), args...); err != nil {
		return sdk.ChangeResult{}, err
	}
	v, err := rowVersion(c, e, c.db.LastInsertRowID())
	if err != nil {
		return sdk.ChangeResult{}, err
	}
	return sdk.ChangeResult{ChangeID: ch.ChangeID, Status: sdk.StatusApplied, ID: id, Version: v}, nil
}

func update(c *conn, snap *schemaSnap, e *entity, ch *sdk.Change) (sdk.ChangeResult, error) {
	sets, msg, err := checkValues(c, snap, e, ch, false)
	if err != nil || msg != "" {
		return failed(ch, "mock: update %s %s: %s", e.Name, ch.ID, msg), err
	}
	id := normID(ch.ID)
	cur, rowid, err := readRecord(c, e, id)
	if err != nil {
		return sdk.ChangeResult{}, err
	}
	if cur == nil {
		return sdk.ChangeResult{ChangeID: ch.ChangeID, Status: sdk.StatusConflict, ID: ch.ID, ServerDeleted: true}, nil
	}
	if cur.Version != ch.BaseVersion {
		return sdk.ChangeResult{ChangeID: ch.ChangeID, Status: sdk.StatusConflict, ID: id, Current: cur}, nil
	}
	if len(sets) == 0 {
		return sdk.ChangeResult{ChangeID: ch.ChangeID, Status: sdk.StatusApplied, ID: id, Version: cur.Version}, nil
	}
	var b strings.Builder
	args := make([]any, 0, len(sets)+1)
	for i, a := range sets {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s = ?%d", a.col, i+1)
		args = append(args, a.arg)
	}
	args = append(args, rowid)
	q := fmt.Sprintf("UPDATE %s SET %s WHERE rowid = ?%d", e.table, b.String(), len(args))
	if err := c.exec(q, args...); err != nil {
		return sdk.ChangeResult{}, err
	}
	v, err := rowVersion(c, e, rowid)
	if err != nil {
		return sdk.ChangeResult{}, err
	}
	return sdk.ChangeResult{ChangeID: ch.ChangeID, Status: sdk.StatusApplied, ID: id, Version: v}, nil
}

func remove(c *conn, e *entity, ch *sdk.Change) (sdk.ChangeResult, error) {
	id := normID(ch.ID)
	cur, rowid, err := readRecord(c, e, id)
	if err != nil {
		return sdk.ChangeResult{}, err
	}
	if cur == nil { // already gone: the device's wish holds
		return sdk.ChangeResult{ChangeID: ch.ChangeID, Status: sdk.StatusApplied, ID: ch.ID}, nil
	}
	if cur.Version != ch.BaseVersion {
		return sdk.ChangeResult{ChangeID: ch.ChangeID, Status: sdk.StatusConflict, ID: id, Current: cur}, nil
	}
	if err := c.exec(fmt.Sprintf("DELETE FROM %s WHERE rowid = ?", e.table), rowid); err != nil {
		return sdk.ChangeResult{}, err
	}
	return sdk.ChangeResult{ChangeID: ch.ChangeID, Status: sdk.StatusApplied, ID: id}, nil
}

// rowVersion reads a row's version, which the triggers just set.
func rowVersion(c *conn, e *entity, rowid int64) (string, error) {
	v, ok, err := c.queryInt(fmt.Sprintf("SELECT _version FROM %s WHERE rowid = ?", e.table), rowid)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("row %d of %s has no version after the write", rowid, e.Name)
	}
	return strconv.FormatInt(v, 10), nil
}

// recordChange stores a change's outcome under its change id, in the
// batch's transaction.
func recordChange(c *conn, ch *sdk.Change, res *sdk.ChangeResult) error {
	var kind, msg string
	if res.Err != nil {
		kind, msg = string(res.Err.Kind), res.Err.Message
	}
	return c.exec(`INSERT INTO _change (change_id, entity, op, record_id, status, id, version, server_deleted, err_kind, err_message, at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)`,
		ch.ChangeID, ch.Entity, ch.Op.String(), ch.ID, int64(res.Status), res.ID, res.Version,
		res.ServerDeleted, kind, msg, time.Now().UnixMicro())
}

// recordedChange returns the recorded outcome of a change id, if any. A
// recorded conflict carries the server row as it is now.
func recordedChange(c *conn, snap *schemaSnap, changeID string) (sdk.ChangeResult, bool, error) {
	s, err := c.prep(`SELECT status, id, version, server_deleted, err_kind, err_message, entity
		FROM _change WHERE change_id = ?`)
	if err != nil {
		return sdk.ChangeResult{}, false, err
	}
	if err := s.BindText(1, changeID); err != nil {
		return sdk.ChangeResult{}, false, err
	}
	if !s.Step() {
		err := s.Reset()
		return sdk.ChangeResult{}, false, err
	}
	res := sdk.ChangeResult{
		ChangeID:      changeID,
		Status:        sdk.Status(s.ColumnInt64(0)),
		ID:            s.ColumnText(1),
		Version:       s.ColumnText(2),
		ServerDeleted: s.ColumnBool(3),
	}
	if kind := s.ColumnText(4); kind != "" {
		res.Err = &sdk.Error{Kind: sdk.ErrorKind(kind), Message: s.ColumnText(5)}
	}
	entityName := s.ColumnText(6)
	if err := s.Reset(); err != nil {
		return res, false, err
	}
	if res.Status == sdk.StatusConflict && !res.ServerDeleted {
		if e := snap.entities[entityName]; e != nil {
			cur, _, err := readRecord(c, e, res.ID)
			if err != nil {
				return res, false, err
			}
			res.Current = cur
			res.ServerDeleted = cur == nil
		}
	}
	return res, true, nil
}

// newGUID returns a random version-4 GUID in lower-case canonical text.
func newGUID() string {
	var b [16]byte
	rand.Read(b[:])
	return formatGUID(b)
}

func formatGUID(b [16]byte) string {
	var out [36]byte
	appendGUID(out[:0], b)
	return string(out[:])
}

// appendGUID appends b as a version-4 GUID (setting the version and variant
// bits) in lower-case canonical text.
func appendGUID(dst []byte, b [16]byte) []byte {
	const hexdigits = "0123456789abcdef"
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	for i, x := range b {
		switch i {
		case 4, 6, 8, 10:
			dst = append(dst, '-')
		}
		dst = append(dst, hexdigits[x>>4], hexdigits[x&0x0f])
	}
	return dst
}

// normID spells a GUID id in lower case, as the server stores it; other ids
// (an admin's own) stay as they are.
func normID(id string) string {
	if isGUID(id) {
		return strings.ToLower(id)
	}
	return id
}
