// Package emulator is an offline Microsoft Dataverse organization: an HTTP
// server that behaves as the Web API v9.2 is documented to (change
// tracking, paging, $filter, conditional writes, $batch, note documents in
// blocks, service protection limits) and an Entra ID-style token endpoint,
// over one SQLite file. Integrators develop against it with no tenant;
// the connector's tests use its fault switches and request log to prove
// what left the server.
//
// It owns the SQLite file's layout (below) and the HTTP surface; it does
// not speak TDS (package emulator/tds reads the same tables and validates
// the same tokens through Server.ValidToken) and it depends on nothing of
// the core. Where Microsoft's documentation is silent the emulator's
// choice is recorded in CHOICES.md, and only there.
//
// # Using it
//
//	srv, err := emulator.New(emulator.Options{Path: "org.db"})
//	srv.Seed(ctx, emulator.SeedOptions{Accounts: 1000, ContactsPerAccount: 2})
//	go srv.Serve(listener)        // or mount srv.Handler()
//
// A client gets a token with the client credentials grant at
// POST /{tenant}/oauth2/v2.0/token (DefaultClientID / DefaultClientSecret
// unless Options.Clients says otherwise) and calls /api/data/v9.2/ with
// "Authorization: Bearer <token>". Each client is an application user (a
// systemuser row); WhoAmI answers with it, rows it creates are owned by
// it, and service protection counts per user. The CLI runs the same
// server: fieldsync emulator dataverse --db org.db --seed-accounts 10000.
//
// # Table layout
//
// The file is SQLite in WAL mode. Each entity of the model (account,
// contact, opportunity, annotation, systemuser, businessunit; see
// EntityTables for the full column list) is one table named by its logical
// name, with one column per attribute:
//
//   - primary key: TEXT, a lower-case GUID (8-4-4-4-12), the table's
//     PRIMARY KEY: tables are WITHOUT ROWID, stored in key order as
//     Dataverse's SQL Server tables are clustered on theirs, so Web API
//     keyset pages and TDS key ranges walk the table itself. annotation
//     keeps a rowid (its document blobs are streamed by rowid) and a
//     unique index annotation__pk on the key instead (layout 2; a file of
//     layout 1 is refused: create it again);
//   - text (string, memo): TEXT COLLATE NOCASE, so comparisons are
//     case-insensitive as in Dataverse;
//   - whole numbers and choices (option sets, statecode): INTEGER, the
//     option value; labels are in EntityTables' Choices;
//   - money (revenue, creditlimit, estimatedvalue): INTEGER in
//     ten-thousandths (1000.5 is 10005000), the scale of TDS money;
//   - booleans: INTEGER 0/1;
//   - date-times (createdon, modifiedon): INTEGER Unix microseconds, UTC,
//     always whole seconds (Dataverse keeps seconds); JSON shows
//     2026-03-01T12:00:00Z;
//   - date-only (birthdate, estimatedclosedate): TEXT YYYY-MM-DD;
//   - lookups: TEXT GUID in _<name>_value (for example
//     _parentcustomerid_value), indexed; a polymorphic lookup keeps its
//     target's logical name in a second column (parentcustomeridtype,
//     owneridtype, objecttypecode);
//   - note documents: annotation.documentbody is a BLOB of the raw bytes
//     (base64 only on the wire), filesize and isdocument kept beside it;
//   - versionnumber: INTEGER, the row version (ETag W/"<versionnumber>").
//
// The emulator's own tables start with an underscore: _meta (layout
// version, organization and root business unit ids, purge horizon), _clock
// (one row: the org-wide version counter), _tombstone (entity, id, version,
// deletedon: one row per deleted row, for delta reads), _upload and
// _upload_block (block uploads in progress).
//
// # Row versions and change tracking
//
// Triggers on every entity table keep versionnumber, createdon and
// modifiedon and write tombstones, so any writer moves the clock: the Web
// API, Store.Exec, or the sqlite3 shell on the same file. An insert or
// update takes the next value of _clock (a statement that sets
// versionnumber itself is not re-stamped); a delete writes a tombstone at
// the next value. SQLite serialises writers and the version is taken
// inside the writing transaction, so versions become visible in order:
// once a reader has seen the clock at H, no row can later commit at or
// below H. A delta token is that H (plus the time it was made); following
// it returns rows with versionnumber in (token, H] and then tombstones in
// the same range, and a new token H.
//
// # Faults and the request log
//
// Server.SetFaults (or POST /_emulator/faults) injects 503s, dropped
// connections, delays and 429s; ExpireDeltaTokens and ExpireAccessTokens
// expire what was handed out; Server.Requests (or GET /_emulator/requests)
// lists every HTTP request answered: method, path, status, user, bytes,
// time, and for a $batch how many parts it carried.
package emulator
