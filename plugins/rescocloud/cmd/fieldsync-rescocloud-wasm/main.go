//go:build wasip1

// Command fieldsync-rescocloud-wasm is the Resco Cloud connector as a WASM
// plugin, the default way it ships. Requests go out through the host's HTTP
// function under the plugin's network allow-list, and the host adds the
// Authorization header: the guest's settings hold no credential, and the
// connector refuses any (RequireHostAuth). Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o fieldsync-rescocloud.wasm ./plugins/rescocloud/cmd/fieldsync-rescocloud-wasm
//
// Settings: url (required), page_size, batch_size, retries, retry_backoff;
// see rescocloud.Factory.
package main

import (
	"github.com/fieldsync/fieldsync/plugins/rescocloud"
	"github.com/fieldsync/fieldsync/sdk/wasmguest"
	"github.com/fieldsync/fieldsync/sdk/wasmguest/wasmhttp"
)

// init registers the connector: a reactor module runs initialisers when the
// host instantiates it, never main.
func init() {
	rescocloud.SetHTTPClient(wasmhttp.Client)
	rescocloud.RequireHostAuth()
	wasmguest.ServeConnector(rescocloud.Factory)
}

func main() {} // never called in a reactor; required to build one
