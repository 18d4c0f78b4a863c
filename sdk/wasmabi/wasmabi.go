// Package wasmabi names what the two sides of the WASM transport must agree
// on: the ABI version, the exported and imported symbols, the call method
// numbers and the conventions around them. sdk/wasmguest/abi.md describes
// the ABI in prose; this package is its single definition in code, imported
// by the guest (sdk/wasmguest) and the host (core/wasmhost), so the two
// cannot drift apart. It holds constants only.
package wasmabi

import "strconv"

// Version is the ABI version a guest answers from ExportABI. A host refuses
// a guest of another version.
const Version = 1

// The guest's exports.
const (
	ExportABI   = "fieldsync_abi"   // () -> i32
	ExportAlloc = "fieldsync_alloc" // (size i32) -> i32
	ExportFree  = "fieldsync_free"  // (ptr i32)
	ExportCall  = "fieldsync_call"  // (method i32, ptr i32, len i32) -> i64
)

// The host's imports, all in module ImportModule.
const (
	ImportModule = "fieldsync"
	ImportEmit   = "emit" // (ptr i32, len i32) -> i32
	ImportLog    = "log"  // (ptr i32, len i32)
	ImportHTTP   = "http" // (ptr i32, len i32) -> i32
	ImportTake   = "take" // (ptr i32, len i32) -> i32

	// The streamed HTTP path: http_open makes the request and leaves the
	// response without its body for take; the body is then read with
	// http_read and released with http_close.
	ImportHTTPOpen  = "http_open"  // (ptr i32, len i32) -> i32
	ImportHTTPRead  = "http_read"  // (ptr i32, len i32) -> i32
	ImportHTTPClose = "http_close" // ()
)

// What http_open and http_read answer besides a length.
const (
	// HTTPOpenUnsupported: the host cannot stream a response; the guest
	// uses the http import instead. (A host of this SDK always streams; the
	// value lets a minimal host implement the import as a stub.)
	HTTPOpenUnsupported int32 = -1
	// http_read answers a negative value, -L, when reading the body
	// failed: the error's text (UTF-8, L bytes, not a message) is left for
	// take, and the stream stays failed until http_close.
)

// HTTPReadChunk is how many body bytes a guest asks http_read for at once.
const HTTPReadChunk = 256 << 10

// What emit answers.
const (
	EmitContinue = 0 // go on streaming
	EmitStop     = 1 // stop: the host's consumer failed or the call was cancelled
)

// Method is the first argument of ExportCall.
type Method uint32

const (
	MethodConfigure     Method = 1  // ConfigureRequest -> InfoResponse
	MethodSchema        Method = 2  // Empty -> SchemaResponse
	MethodFetch         Method = 3  // FetchRequest -> Empty; Page through emit
	MethodPush          Method = 4  // PushRequest -> PushResponse
	MethodListDocuments Method = 5  // DocumentQuery -> Empty; DocumentPage through emit
	MethodReadDocument  Method = 6  // ReadDocumentRequest -> Empty; Chunk through emit
	MethodClose         Method = 7  // Empty -> Empty
	MethodCheckChanges  Method = 8  // CheckChangesRequest -> CheckChangesResponse (batch-change-check)
	MethodUsage         Method = 9  // Empty -> UsageResponse (usage)
	MethodPolicyInfo    Method = 20 // Empty -> PolicyInfo
	MethodPolicyResolve Method = 21 // ConflictInput -> ConflictResolution
)

var methodNames = map[Method]string{
	MethodConfigure: "configure", MethodSchema: "schema", MethodFetch: "fetch",
	MethodPush: "push", MethodListDocuments: "list documents", MethodReadDocument: "read document",
	MethodClose: "close", MethodCheckChanges: "check changes", MethodUsage: "usage", MethodPolicyInfo: "policy info", MethodPolicyResolve: "policy resolve",
}

func (m Method) String() string {
	if s, ok := methodNames[m]; ok {
		return s
	}
	return "method " + strconv.FormatUint(uint64(m), 10)
}

// EnvLogLevel is the WASI environment variable through which the host tells
// the guest its log level (trace, debug, info, warn, error), so the guest
// does not encode lines the host would drop. The subprocess transport uses
// the same name.
const EnvLogLevel = "FIELDSYNC_PLUGIN_LOG_LEVEL"

// LogModuleField is the LogRecord field that names the guest's sub-logger
// (hclog's Named); the host logs the record through a logger of that name.
const LogModuleField = "@module"

// ChunkSize is how many document bytes a guest puts in one Chunk.
const ChunkSize = 64 << 10
