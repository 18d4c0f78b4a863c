//go:build wasip1

// Command fieldsync-mock-wasm is the mock connector as a WASM plugin. A
// guest cannot open the mock's SQLite file (wasip1 has no file locking or
// shared memory, and the sandbox mounts nothing), so this build is the
// remote connector: it reaches the mock server's HTTP API (package
// httpapi; `fieldsync emulator mock` serves it) through the host's HTTP
// function, under the plugin's network allow-list, with credentials the
// host injects. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o fieldsync-mock.wasm ./plugins/mock/cmd/fieldsync-mock-wasm
//
// Settings (from the host's configuration): url (the HTTP API's base URL,
// required), user, max_pages, max_bytes; see remote.Factory. Leave token
// out: the host adds the Authorization header itself.
package main

import (
	"github.com/fieldsync/fieldsync/plugins/mock/remote"
	"github.com/fieldsync/fieldsync/sdk/wasmguest"
	"github.com/fieldsync/fieldsync/sdk/wasmguest/wasmhttp"
)

// init registers the connector: a reactor module runs initialisers when the
// host instantiates it, never main.
func init() {
	remote.SetHTTPClient(wasmhttp.Client)
	remote.ForwardEncodedPages() // pages go straight to the host, undecoded
	wasmguest.ServeConnector(remote.Factory)
}

func main() {} // never called in a reactor; required to build one
