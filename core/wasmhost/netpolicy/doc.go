// Package netpolicy decides and performs the HTTP requests a WASM plugin
// asks the host to make for it.
//
// A WASM guest has no sockets: its http.RoundTripper calls a host function,
// and that host function hands the request to [Policy.Do]. Everything the
// plugin can reach on the network is therefore decided here, by the admin's
// per-plugin configuration, and not by plugin code, which is untrusted:
//
//   - The URL's scheme, host and port must match the allow-list, on the first
//     request and again on every redirect hop. Redirects are followed here,
//     never by net/http, because an allowed server may redirect anywhere.
//   - The host name is resolved here and every address it resolves to is
//     checked: loopback, private (RFC 1918, fc00::/7), link-local (the cloud
//     metadata service at 169.254.169.254), unspecified, carrier-grade NAT
//     and other non-public ranges are refused unless the admin set
//     AllowPrivate. The connection is then dialled to the address that was
//     checked, not to the name, so a DNS server that answers a public address
//     to the check and a private one to the connect (DNS rebinding) gains
//     nothing. TLS still verifies the certificate against the host name.
//   - The whole exchange, redirects and body included, is bounded by a
//     timeout, and the response body by a size cap that is enforced while
//     reading, so a hostile server cannot make the host buffer gigabytes.
//   - Secrets (API keys, bearer tokens) are held by the host and injected as
//     headers only on requests to the destination the admin named, and only
//     while a redirect chain stays on the origin the plugin asked for. The
//     plugin never sees them; a header of the same name from the plugin is
//     dropped, and they are never logged or put in an error.
//   - Every refusal is logged with the plugin's name and the URL (without
//     user information, query or fragment, which often carry secrets).
//
// Environment proxies (HTTP_PROXY and friends) are deliberately ignored: a
// proxy would do its own DNS resolution and defeat the address checks.
package netpolicy
