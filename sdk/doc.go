// Package sdk is everything a fieldsync plugin author imports: the connector
// contract (schema, fetch, push, documents), the typed values and columnar
// pages that cross it, the filter AST, typed errors and capabilities.
//
// The core depends on this package, never the other way round, and plugins
// depend on it alone. It holds no engine logic: what a connector must do is
// defined here, how the engine uses it lives in the core. Transports live in
// sub-packages (subprocess for go-plugin gRPC subprocesses, wasmguest for
// WebAssembly guests, wire for the protobuf conversions they share); the
// contract suite every connector runs is in contracttest. A conflict policy
// shipped as a plugin implements ConflictPolicy.
package sdk
