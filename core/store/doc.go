// Package store is a device's local database: one SQLite file holding one
// typed table per entity (named after the entity, columns named after its
// fields, so host apps use plain SQL), the outbox that triggers fill with
// every local write, and the engine's bookkeeping (change tokens, resumable
// cursors, conflicts, sync logs).
//
// It owns that file's layout and every write the engine makes to it. It does
// not talk to backends or decide conflicts: the engine hands it pages and
// decisions. Tables and columns whose names start with _fs_ are the engine's.
//
// # Capturing local writes
//
// Triggers on every entity table record inserts, updates and deletes into
// _fs_outbox in the writer's own transaction, whoever the writer is (the
// host app, the sqlite3 shell). Repeated edits of one row coalesce into one
// pending change that remembers which fields changed, the row version it
// started from and the values it started from (for three-way merges). Writes
// the engine makes on the server's behalf are not captured: inside such a
// transaction the engine puts a row in _fs_applying and removes it before
// commit, and the triggers ignore writes while that row exists. No other
// connection can ever see the row, since SQLite has one writer at a time and
// the row never outlives the transaction. A host app cannot change a
// row's key (an UPDATE of it fails): it deletes the row and inserts it anew.
//
// A change passes through states: pending (editable: new edits coalesce into
// it), inflight (handed to the backend; frozen, because the backend may
// already have applied it under its change id: a new edit becomes a new
// pending change behind it), conflict (parked for a person) and failed
// (refused permanently by the backend; kept with the error). An inflight
// change is sent again with the same change id after a crash, so the backend
// applies it once.
//
// # Downloading
//
// Every page is applied in one transaction together with the cursor that
// resumes the fetch after it, so a crash at any point resumes where it
// stopped and applies nothing twice. A first download into an empty table
// appends rows with plain inserts and builds the table's unique key index
// once the last page is in (measured: about 4x faster than upserting random
// GUID keys through the index); rows that arrived twice are removed before
// the index is built. Later downloads upsert through the index, skipping
// rows whose version did not change.
package store
