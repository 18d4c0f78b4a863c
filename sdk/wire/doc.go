// Package wire converts the sdk's types to and from the protobuf messages of
// the plugin protocol (sdk/proto/pluginv1), for every transport that carries
// them: the gRPC subprocess transport and the WASM transport (guest and
// host). One set of conversions keeps the transports from drifting apart.
//
// Everything that comes from the other side is checked (enum ranges, value
// kinds, page shape) and refused with an error, never a panic: the peer may
// be a buggy or hostile plugin. The package holds no state and does no I/O.
//
// It is public, not internal, because the WASM host lives in the core's
// module path (core/wasmhost), which Go's internal rule would shut out.
package wire
