// Package salesforce is the Salesforce connector: OAuth2 sign-in (password,
// client credentials, JWT bearer, refresh token), SOQL reads keyed on Id
// and SystemModstamp, deletes from queryAll and the deleted/ windows, and
// idempotent writes through composite sObject Collections. The same source
// builds as a subprocess plugin and as a WASM plugin (SetHTTPClient), so it
// opens no sockets or files of its own.
//
// Files by concern: settings.go (Factory's settings), auth.go (sign-in),
// force.go (the only user of simpleforce, and why), errors.go (error arrays
// and kinds), describe.go (schema), rows.go (values on the wire), fetch.go
// and incremental.go (reads), token.go (tokens and cursors), composite.go
// and push.go (writes), documents.go (files and attachments). The emulator
// lives in the emulator package beside it.
package salesforce
