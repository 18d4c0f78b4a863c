//go:build wasip1

// Command fieldsync-salesforce-wasm is the Salesforce connector as a WASM
// plugin: its requests go through the host's HTTP function, under the
// plugin's network allow-list (the token endpoint's host and the org's
// instance host). Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o fieldsync-salesforce.wasm ./plugins/salesforce/cmd/fieldsync-salesforce-wasm
//
// Settings are salesforce.Factory's.
package main

import (
	"github.com/fieldsync/fieldsync/plugins/salesforce"
	"github.com/fieldsync/fieldsync/sdk/wasmguest"
	"github.com/fieldsync/fieldsync/sdk/wasmguest/wasmhttp"
)

// init registers the connector: a reactor module runs initialisers when the
// host instantiates it, never main.
func init() {
	salesforce.SetHTTPClient(wasmhttp.Client)
	wasmguest.ServeConnector(salesforce.Factory)
}

func main() {} // never called in a reactor; required to build one
