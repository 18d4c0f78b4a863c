// Package wasmhost runs fieldsync plugins built as WebAssembly modules
// (sdk/wasmguest) in a wazero sandbox: connectors, as an sdk.Connector, and
// conflict policies, as a conflict.Policy. It owns the module's lifetime
// (compilation with an on-disk cache, a pool of instances, memory and time
// limits, throwing a broken instance away) and the host side of the ABI
// (sdk/wasmguest/abi.md). It must not decide what a plugin may reach on the
// network: that is the HTTP hook's job (core/wasmhost/netpolicy), which the
// caller plugs into Config.HTTP.
//
// Traps this package handles so callers need not:
//   - exported functions are looked up once per instance (a lookup costs
//     ~18 µs and 40 KB) and instances are pooled, since one is not safe for
//     concurrent calls;
//   - a call that traps (panic, memory cap, time limit) leaves an instance
//     whose memory cannot be trusted: it is closed, never reused, and the
//     error says which limit and which plugin;
//   - wazero's defaults give a guest a fake clock and a fixed random seed;
//     here it gets real ones;
//   - WASI sleeps ignore cancellation, so a guest's sleep is cut into slices
//     between which wazero sees the context;
//   - a guest that streams learns of cancellation at its next emit and
//     returns cleanly, keeping its instance; one that computes on is
//     stopped after a short grace.
//
// Costs measured on the development machine (2 cores; figures in the test
// and benchmark comments): a warm start of a 14.5 MB guest from the disk
// cache ~180 ms, most of it wazero decoding and validating the module, which
// it does even on a cache hit; a cold one ~3 s. A Go guest's own code runs
// roughly ten times slower than native Go, and about four times slower again
// under the time limit's checks (see Config.NoTimeLimit).
package wasmhost
