// Package contracttest is the connector contract's executable specification:
// one suite, Run, that every connector author calls from their own `go test`
// (the shape of litestream's RunWithReplicaClient and CloudQuery's
// TestWriterSuiteRunner). What the prose in package sdk promises, the
// subtests here check, each under its own name so a failure says which
// promise was broken.
//
// The suite talks to a connector only through sdk.Connector (and
// sdk.Documents), so it runs unchanged on an in-process value, a go-plugin
// subprocess client or a WASM guest. It owns no connector and no transport;
// the Backend a caller supplies decides what a "server" is. It creates its
// own rows and judges only those, so a backend may start with data in it.
package contracttest
