// Package rescocloud is the fieldsync connector for Resco Cloud's REST data
// service ({base}/rest/v1/data/): WhoAmI, Metadata, GetMaxRowVersion, Fetch
// with FetchXML, RetrieveChanges and Create/Update/DeleteMultiple. It ships
// as a WASM plugin by default (cmd/fieldsync-rescocloud-wasm, where the
// host injects the Authorization header so the guest never holds a
// credential) and as a subprocess plugin (cmd/fieldsync-plugin-rescocloud,
// which may hold basic or OAuth credentials itself). Every JSON shape lives
// in package wire.
//
// # Change detection
//
// Row versions are one org-wide increasing int64. A change token remembers
// the entity's highest row version H when its fetch started (from
// GetMaxRowVersion). CheckChanges asks GetMaxRowVersion once for all
// probed entities (up to 100 a request) and answers true only where the
// version moved past the token's: a sync of twenty unchanged entities is
// one request.
//
// An incremental fetch from token L reads up to a new bound H (taken when
// the fetch starts and kept in its cursors, so resumed pages read the same
// window): first the removals in (L, H] from RetrieveChanges, as deletes;
// then the rows whose versionnumber is in (L, H]. A row changed while the
// fetch runs gets a version above H and comes with the next fetch.
//
// # Filters and rows that leave them
//
// Filters are translated to FetchXML by sdk/fetchxml, user operators and
// link-entity included, and evaluated by the service. Without a filter the
// incremental read is one Fetch a page. With one, nothing outside the
// filter may stay on the device, yet a row that stopped matching (an
// OwnerChanged row now outside an eq-userid filter, a status change) is
// not a removal. So the incremental read pages through every changed row
// in (L, H] unfiltered, asking for ids only, and for each page asks once
// more, with the filter and "key in (the page's ids)", for the values of
// those that still match: those are upserts, the others deletes. Two
// requests a page, pages bounded by the page size, nothing held across
// pages. A removal followed by a re-read (ownership moved but the row is
// still visible and matching) is sent as a delete then an upsert, in that
// order, so the row stays.
//
// Matches that change without the row changing (relative dates, team
// membership) are the engine's to check with IDsOnly fetches
// (sdk.Filter.Volatile); this connector answers those like any fetch.
package rescocloud
