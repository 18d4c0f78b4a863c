package mock

import (
	"context"
	"fmt"
	"strings"

	"github.com/fieldsync/fieldsync/sdk"
)

// Users, business units, teams and sharing: what the user-dependent filter
// operators and shared records need. The mock keeps them in tables of its
// own (not entities: they do not sync), managed through the methods below
// or plain SQL.
//
// Where the mock chooses (no backend documents it for us):
//   - a connector's "user" setting names the user; user-dependent filters
//     need that user in _user, else the fetch fails with a clear error;
//   - eq-userid and eq-useroruserteams also match rows shared with the user
//     (or, for the latter, with one of the user's teams): sharing extends
//     ownership, as a share does in a CRM's access model;
//   - sharing and unsharing a row counts as a change of the row (its
//     version moves), so an incremental fetch brings a newly shared row and
//     sends a delete for one that no longer matches once unshared.
const accessDDL = `
CREATE TABLE IF NOT EXISTS _user (
	id             TEXT PRIMARY KEY,
	name           TEXT NOT NULL UNIQUE,
	businessunitid TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _team_member (
	teamid TEXT NOT NULL,
	userid TEXT NOT NULL,
	PRIMARY KEY (teamid, userid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS _team_member_user ON _team_member (userid);
CREATE TABLE IF NOT EXISTS _share (
	entity    TEXT NOT NULL,
	record_id TEXT NOT NULL,
	principal TEXT NOT NULL, -- a user's or a team's id
	PRIMARY KEY (entity, record_id, principal)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS _share_principal ON _share (principal, entity);
-- With the log_rows switch on, the id of every row a fetch sent (deleted = 1
-- for a delete), so tests can prove what left the server, row by row.
CREATE TABLE IF NOT EXISTS _request_row (
	request_id INTEGER NOT NULL,
	id         TEXT NOT NULL,
	deleted    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS _request_row_request ON _request_row (request_id);
`

// principal is the user a connector fetches as, resolved for a filter.
type principal struct {
	id, businessUnit string
}

// AddUser registers a user of the server with a business unit and returns
// the user's new id. Connectors whose "user" setting is name fetch as them.
func (s *Server) AddUser(ctx context.Context, name, businessUnit string) (string, error) {
	if name == "" {
		return "", sdk.Errorf(sdk.Permanent, "mock: a user needs a name")
	}
	id := newGUID()
	err := s.write(ctx, func(c *conn) error {
		return c.exec(`INSERT INTO _user (id, name, businessunitid) VALUES (?1, ?2, ?3)`, id, name, strings.ToLower(businessUnit))
	})
	if err != nil {
		return "", sqlErr(ctx, "add user "+name, err)
	}
	return id, nil
}

// AddTeamMember puts a user in a team (a team is just an id that rows can be
// owned by and shared with).
func (s *Server) AddTeamMember(ctx context.Context, teamID, userID string) error {
	return s.write(ctx, func(c *conn) error {
		return c.exec(`INSERT OR IGNORE INTO _team_member (teamid, userid) VALUES (?1, ?2)`, strings.ToLower(teamID), strings.ToLower(userID))
	})
}

// RemoveTeamMember takes a user out of a team. The team's rows do not
// change, so no incremental fetch reports it: an engine learns of rows
// leaving a user's eq-useroruserteams filter by checking membership.
func (s *Server) RemoveTeamMember(ctx context.Context, teamID, userID string) error {
	return s.write(ctx, func(c *conn) error {
		return c.exec(`DELETE FROM _team_member WHERE teamid = ?1 AND userid = ?2`, strings.ToLower(teamID), strings.ToLower(userID))
	})
}

// Share gives principal (a user or team id) access to one row; Unshare
// takes it back. Either moves the row's version (see accessDDL).
func (s *Server) Share(ctx context.Context, entity, recordID, principal string) error {
	return s.setShare(ctx, entity, recordID, principal, true)
}

// Unshare takes back a share made with Share.
func (s *Server) Unshare(ctx context.Context, entity, recordID, principal string) error {
	return s.setShare(ctx, entity, recordID, principal, false)
}

func (s *Server) setShare(ctx context.Context, entity, recordID, principal string, on bool) error {
	cn, _, snap, err := s.begin(ctx)
	if err != nil {
		return err
	}
	s.db.put(cn)
	e := snap.entities[entity]
	if e == nil {
		return sdk.Errorf(sdk.Permanent, "mock: unknown entity %q", entity)
	}
	recordID, principal = strings.ToLower(recordID), strings.ToLower(principal)
	return s.write(ctx, func(c *conn) error {
		q := `INSERT OR IGNORE INTO _share (entity, record_id, principal) VALUES (?1, ?2, ?3)`
		if !on {
			q = `DELETE FROM _share WHERE entity = ?1 AND record_id = ?2 AND principal = ?3`
		}
		if err := c.exec(q, entity, recordID, principal); err != nil {
			return err
		}
		// A NULL _version makes the update trigger stamp the next version.
		return c.exec(fmt.Sprintf(`UPDATE %s SET _version = NULL WHERE %s = ?1`, e.table, e.pk), recordID)
	})
}

// AssignOwners spreads a GUID or lookup field's values over principals, row
// by row in turn (seeding owners for demos and tests).
func (s *Server) AssignOwners(ctx context.Context, entity, field string, principals []string) error {
	if len(principals) == 0 {
		return nil
	}
	cn, _, snap, err := s.begin(ctx)
	if err != nil {
		return err
	}
	s.db.put(cn)
	e := snap.entities[entity]
	if e == nil {
		return sdk.Errorf(sdk.Permanent, "mock: unknown entity %q", entity)
	}
	fd, _ := e.field(field)
	if fd == nil || (fd.Type != sdk.TypeGUID && fd.Type != sdk.TypeLookup) {
		return sdk.Errorf(sdk.Permanent, "mock: %s has no id field %q", entity, field)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "UPDATE %s SET %s = CASE rowid %% %d", e.table, quote(fd.Name), len(principals))
	args := make([]any, len(principals))
	for i, p := range principals {
		fmt.Fprintf(&b, " WHEN %d THEN ?%d", i, i+1)
		args[i] = strings.ToLower(p)
	}
	b.WriteString(" END")
	return s.write(ctx, func(c *conn) error { return c.exec(b.String(), args...) })
}

// resolveUser finds the user a connector fetches as, for a filter with
// user-dependent operators.
func resolveUser(c *conn, name string) (*principal, error) {
	st, err := c.prep(`SELECT id, businessunitid FROM _user WHERE name = ?1`)
	if err != nil {
		return nil, err
	}
	defer st.Reset()
	st.BindText(1, name)
	if !st.Step() {
		if err := st.Err(); err != nil {
			return nil, err
		}
		return nil, sdk.Errorf(sdk.Permanent, "mock: the filter depends on the user, and %q is not a user of this server (add it with Server.AddUser or `fieldsync emulator mock --user`)", name)
	}
	return &principal{id: st.ColumnText(0), businessUnit: st.ColumnText(1)}, nil
}

// write runs fn in a write transaction on a pooled connection.
func (s *Server) write(ctx context.Context, fn func(*conn) error) error {
	c, err := s.db.get(ctx)
	if err != nil {
		return err
	}
	defer s.db.put(c)
	return c.withTx(func() error { return fn(c) })
}
