// Package dataverse is the Microsoft Dataverse connector: downloads over the
// Web API (OData v4) with change tracking and delta links, uploads in $batch
// change sets with If-Match conflicts and client-assigned GUIDs, a TDS
// (SQL) downloader on go-mssqldb for full reads, annotations as documents,
// and service-protection (429) handling. It owns the client side of those
// protocols; the emulator of both endpoints lives in emulator/, the filter
// translators in odata/ and tsql/.
//
// It ships as a subprocess plugin (cmd/fieldsync-plugin-dataverse: TDS
// needs raw sockets); Factory also serves in-process hosts.
//
// # Files
//
//	connector.go  settings, Factory, Info, Close
//	auth.go       OAuth2 client credentials, the cached bearer token
//	http.go       requests: semaphore, 429/5xx retries, errors, usage
//	metadata.go   $metadata (CSDL) → sdk.Schema and the entity model
//	values.go     JSON values ↔ sdk values
//	collection.go streaming decoder of OData collection responses
//	token.go      the opaque change tokens and cursors
//	fetch.go      full and incremental reads over the Web API
//	keyed.go      delta links of key-only reads: bootstrap and re-query
//	tds.go        full reads over TDS
//	batch.go      $batch multipart bodies, written and read
//	push.go       creates, updates and deletes
//	changes.go    the one-request change check and usage
//	documents.go  annotations as sdk documents
package dataverse
