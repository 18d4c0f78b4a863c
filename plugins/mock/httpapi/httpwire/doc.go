// Package httpwire is the mock server's HTTP API as bytes: the paths, the
// framing of streamed bodies, and the mapping of sdk errors to HTTP statuses
// and back. The messages and their conversions to sdk values are the plugin
// protocol's (sdk/proto/pluginv1, sdk/wire). The server (package httpapi)
// and the client (package remote) both import this package, so the two
// sides cannot drift apart; it imports neither SQLite nor an HTTP server, so
// the client still builds for GOOS=wasip1. This comment is the one place
// the HTTP protocol is written down.
//
// # Why HTTP, and why these messages
//
// The mock's data lives in a SQLite file. A WASM guest cannot open it (wasip1
// has no file locking or shared memory, and the sandbox mounts nothing), so
// the WASM build of the mock reaches its data the only way a guest reaches
// anything: through the host's HTTP function, which checks the URL against
// the plugin's allow-list and injects credentials. The bodies are the plugin
// protocol's own messages (sdk/proto/fieldsync/plugin/v1), so a page costs
// the same encoding on every transport and no second schema has to evolve.
//
// # Calls
//
// Every body is application/x-protobuf. The major protocol version is the
// path prefix; the minor one is in InfoResponse.
//
//	GET|POST /v1/info            ConfigureRequest (optional) → InfoResponse
//	POST /v1/schema              (empty)                     → SchemaResponse
//	POST /v1/fetch               FetchRequest                → stream of Page
//	POST /v1/push                PushRequest                 → PushResponse
//	POST /v1/documents/list      DocumentQuery               → stream of DocumentPage
//	POST /v1/documents/read      ReadDocumentRequest         → stream of Chunk
//
// Query parameters:
//
//	user=NAME       the caller, for the request log (ignored when the server
//	                checks tokens: then the token names the caller)
//	max_pages=N     fetch, documents/list: stop after N pages with MORE
//	max_bytes=N     documents/read: stop after N bytes with MORE;
//	                fetch: stop with MORE after the page whose frames reach
//	                N bytes in all
//
// The caller authenticates with "Authorization: Bearer TOKEN" when the
// server checks tokens; a missing or unknown token is 401.
//
// # Streamed bodies
//
// A streamed response (status 200) is a sequence of frames, each flushed as
// it is written, so neither side ever holds more than one page:
//
//	frame = type (1 byte) | length (uvarint) | payload (length bytes)
//
//	type 1 MESSAGE  one Page, DocumentPage or Chunk, by call
//	type 2 ERROR    an ErrorDetail: the call failed after it began streaming
//	type 3 END      the call is complete
//	type 4 MORE     the server stopped at max_pages or max_bytes; the client
//	                continues with a new request from the last page's cursor
//	                (or the document offset it reached)
//
// ERROR, END and MORE are final: nothing follows them. A body that stops
// before a final frame was cut off (a dropped connection, a crashed server)
// and the call fails as Retryable; END is what tells a complete document
// from a truncated one. The payload of END and MORE is reserved and empty
// today; a reader ignores it. A payload longer than MaxFrame is refused, so
// a broken or hostile server cannot make a client allocate without bound.
//
// Why MORE exists: the WASM host's HTTP function answers with the whole
// response at once (HttpResponse.body) and caps its size, so a guest cannot
// stream a million-row fetch through one request. The remote connector asks
// for a few pages per request and continues from the cursor, which the
// contract already guarantees resumes a fetch exactly; natively the same
// requests stream frame by frame.
//
// # Errors
//
// An error before the first frame is an HTTP status with an ErrorDetail
// body (kind, message, retry delay), so plain HTTP tooling sees the right
// class:
//
//	sdk.Retryable     503, with Retry-After (whole seconds) when known
//	sdk.Permanent     400 (401 for a missing or wrong token)
//	sdk.TokenExpired  410
//	sdk.Unsupported   501 (404 for a path the server does not know)
//
// A client reads the kind from the ErrorDetail when there is one and from
// the status otherwise (a proxy's 502 carries none): see KindOfStatus. An
// error after streaming began is an ERROR frame; it carries no Retry-After.
package httpwire
