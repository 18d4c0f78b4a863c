// Package wasmguest is the guest side of the WASM transport: it turns a Go
// connector (or conflict policy) into a WebAssembly module the fieldsync
// core runs in its sandbox (core/wasmhost). It owns the module's exports,
// the passing of messages through linear memory, error mapping, streaming,
// logging and the HTTP round tripper; it never touches what the connector
// does. The ABI it implements is described in abi.md and named in
// sdk/wasmabi.
//
// A plugin registers its factory in an init function and keeps an empty
// main: a reactor module (-buildmode=c-shared) runs package initialisers
// when the host instantiates it, but never main, which must nonetheless
// exist for the package to build:
//
//	package main
//
//	import (
//		"github.com/fieldsync/fieldsync/sdk/wasmguest"
//		"example.com/myconnector"
//	)
//
//	func init() { wasmguest.ServeConnector(myconnector.Factory) }
//
//	func main() {} // never called
//
// and builds it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o myconnector.wasm .
//
// The same connector package builds for the other transports unchanged.
//
// What a guest can and cannot do:
//   - It has no sockets and no files. wasmhttp.Client returns an *http.Client
//     whose requests the host makes under the plugin's network policy;
//     request and response bodies are buffered whole in guest memory
//     (requests up to wasmhttp.MaxRequestBody; responses up to the host's limit).
//   - Logs go through the hclog.Logger handed to the factory, into the
//     host's logger. Output to stdout or stderr reaches the host's log as
//     warnings; a panic's message is reported with the failed call.
//   - The host runs several instances of the module (each with its own
//     memory, each configured with the same settings) and may throw one away
//     at any time (a panic, the memory cap, the call time limit). State kept
//     in memory is therefore a cache, never the truth: what one call wrote
//     must be on the server for the next call to see it.
//   - One call runs at a time per instance. Goroutines started by a call run
//     only while the module is being called, so a call should finish its
//     work before it returns.
//
// Every export yields to the Go scheduler (runtime.Gosched) before it
// returns, so the garbage collector's goroutines get to run between calls: a
// Go reactor that never yielded was measured growing from 7 MiB to 710 MiB
// over 10,000 calls. With Go 1.26 the wasmhost tests see no growth even
// without the yield (100,000 calls stay at 13.8 MiB); it costs nothing
// measurable, so it stays, and the ABI promises it.
package wasmguest
