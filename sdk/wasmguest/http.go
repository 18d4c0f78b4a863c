package wasmguest

// HostHTTP performs one request through the host: req is an encoded
// HttpRequest and the answer an encoded HttpResponse. Plugins use
// wasmhttp.Client, a normal *http.Client built on it; it lives here, free of
// net/http, so that a plugin that makes no requests does not link net/http.
// Outside a WASM guest the answer is a refusal.
func HostHTTP(req []byte) []byte { return theHost.http(req) }
