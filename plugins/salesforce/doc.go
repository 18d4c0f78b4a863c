// Package salesforce will be the Salesforce connector: OAuth2, SOQL reads
// through simpleforce where it serves, replication (updated/deleted)
// windows, sObject Collections for uploads, and an emulator of the REST API.
// The same source builds as a subprocess and as a WASM plugin.
//
// Nothing is implemented yet; see README.md for the plan.
package salesforce
