// Package emulator is an offline emulator of the Salesforce REST API
// (github.com/fieldsync/fieldsync/plugins/salesforce/emulator), shaped as
// the REST API Developer Guide documents it and backed by one SQLite file.
//
// It serves the OAuth token endpoint (password, client_credentials,
// jwt-bearer and refresh_token grants), query/queryAll with a SOQL subset
// and query locators, describeGlobal and describe, sObject rows, sObject
// Collections (create, update, upsert by external id, delete, retrieve),
// composite, the replication resources updated/ and deleted/, limits/, and
// the files objects (ContentVersion, ContentDocument, ContentDocumentLink,
// Attachment) with their blobs streamed from SQLite.
//
// Typical use in a test:
//
//	srv, err := emulator.New(emulator.Options{Path: filepath.Join(t.TempDir(), "org.db")})
//	...
//	ts := httptest.NewServer(srv.Handler())
//	err = srv.Seed(ctx, emulator.SeedOptions{Accounts: 1000, ContactsPerAccount: 2, Seed: 1})
//
// and sign in with DefaultClientID, DefaultClientSecret, DefaultUsername
// and DefaultPassword against ts.URL. Every place where Salesforce's
// documentation is silent and the emulator had to choose is listed in
// CHOICES.md.
package emulator
