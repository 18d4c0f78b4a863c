package mock

import (
	"context"
	"fmt"

	"github.com/fieldsync/fieldsync/sdk"
)

// CheckChanges answers, for each probe, whether the entity has a row or a
// tombstone newer than the token (batch-change-check): one call for any
// number of entities. A bad or expired token answers true, and the fetch
// that follows reports it.
func (c *Connector) CheckChanges(ctx context.Context, probes []sdk.ChangeProbe) (_ []bool, err error) {
	cn, st, snap, err := c.srv.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer c.srv.db.put(cn)
	defer func() {
		c.srv.logRequest(cn, requestRecord{user: c.user, op: "check-changes", rows: int64(len(probes)), err: err})
	}()
	if err := st.inject(); err != nil {
		return nil, err
	}
	out := make([]bool, len(probes))
	for i, p := range probes {
		e := snap.entities[p.Entity]
		if e == nil {
			return nil, sdk.Errorf(sdk.Permanent, "mock: unknown entity %q", p.Entity)
		}
		tok, err := c.srv.decode(p.Token, tokenKind)
		if err != nil || tok.high > st.clock || tok.high < st.horizon {
			out[i] = true
			continue
		}
		n, _, err := cn.queryInt(fmt.Sprintf(`SELECT EXISTS (SELECT 1 FROM %s WHERE _version > ?1)
			OR EXISTS (SELECT 1 FROM _tombstone WHERE entity = ?2 AND version > ?1)`, e.table), tok.high, e.Name)
		if err != nil {
			return nil, sqlErr(ctx, "check changes", err)
		}
		out[i] = n != 0
	}
	return out, nil
}
