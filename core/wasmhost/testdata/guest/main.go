// Command guest is the wasmhost tests' WASM plugin: guestconn's connector
// and policy behind sdk/wasmguest. The tests build it with
// GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared.
package main

import (
	"github.com/fieldsync/fieldsync/core/wasmhost/testdata/guestconn"
	"github.com/fieldsync/fieldsync/sdk/wasmguest"
)

func init() {
	wasmguest.ServeConnector(guestconn.Factory)
	wasmguest.ServePolicy(guestconn.Policy{})
}

// main never runs in a reactor module, but a main package needs one.
func main() {}
