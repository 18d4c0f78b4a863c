// Package mock is fieldsync's reference backend: a real server-side store in
// one SQLite file that many devices (many engine processes, each with its own
// connector) share at once, and the sdk.Connector that speaks for it.
//
// The package owns that file's layout: the schema metadata (_entity, _field,
// _relationship), one typed table per entity, the change-tracking triggers
// and version clock (_clock, _tombstone), push idempotency records (_change),
// documents (_document), fault switches (_fault) and the request log
// (_request). It must not depend on the core: it imports the sdk alone.
//
// # Change tracking
//
// Every entity table has a _version column (indexed). Triggers keep it: an
// insert or update takes the next value of the global counter in _clock, a
// delete writes a tombstone (entity, id, version). Because the triggers live
// in the file, an admin's plain-SQL edit, for example
//
//	sqlite3 server.db "UPDATE account SET name='x' WHERE accountid='…'"
//
// shows up in the next incremental fetch of every device. An INSERT without
// an id gets a random lower-case GUID from the column default, and one
// without a _version gets one from the trigger. _version belongs to the
// triggers: a hand-written value is honoured only on insert when it is above
// every version handed out (the clock then moves up to it).
//
// SQLite serialises writers, and the version is taken inside the writing
// transaction, so versions become visible in increasing order: a reader that
// saw the counter at H will never later find a committed row with a version
// at or below H that it could not see. That is what makes "everything in
// (token, H]" a complete incremental read.
//
// # Fetch
//
// A full fetch pages through the table in rowid order and ends with the
// token H, the counter read when the fetch began; anything that changed
// during the read has a version above H and comes again in the next
// incremental fetch (a row sent twice is harmless, a missed one is not). An
// incremental fetch sends rows with a version in (token, H] and tombstones in
// the same range, in version order. With a Filter, a changed row that no
// longer matches it is sent as a delete: it left the device's data set (a
// device that never had it ignores the delete).
//
// Filters follow SQL semantics: a comparison with a null field is not true,
// so neither "eq" nor "ne" nor "not eq" matches a null; like and begins-with
// are SQLite LIKE (ASCII case-insensitive) and an exact prefix
// (case-sensitive) match respectively; decimals compare numerically.
//
// Tokens and cursors are small binary values carrying this file's instance
// id: a token from another (or a recreated) server, or older than the purge
// horizon set by Server.PurgeTombstones or Server.ExpireTokens, yields an
// error of kind sdk.TokenExpired.
//
// # Push
//
// A batch is applied in one write transaction (one fsync per batch, and a
// batch's idempotency records commit together with its changes, so a retry
// after a lost answer finds every change it already applied). Each change
// runs inside a savepoint, so a constraint an admin added fails that change
// alone. Every outcome is recorded under its change id; a repeated change id
// answers with the recorded outcome and is not applied again (a repeated
// conflict carries the server row as it is now).
//
// # Admin side
//
// Server (OpenServer, Create) is what tests, demos and admins use: Seed and
// SeedEntity make realistic data (an empty table is bulk-loaded in one
// transaction with its indexes and triggers rebuilt after; a million
// accounts take seconds), DefineEntity adds or extends entities (so does
// inserting rows into _entity and _field by plain SQL), Exec runs plain SQL,
// SetFaults, ExpireTokens and PurgeTombstones inject trouble, AddDocument
// stores attachments, and Requests reads the request log. Everything is in
// the file, so another process sees it: a test can flip a fault switch
// while devices in other processes sync.
package mock
