// Package subprocess is the go-plugin (gRPC) transport of the connector
// contract: Serve is the plugin binary's side, Open the host's. A connector
// written against sdk.Connector ships as an executable whose main calls
// Serve; the host starts it with Open and gets back an sdk.Connector.
//
// Traps this package handles so plugin authors need not:
//   - nothing may be written to stdout before the handshake line, so a plugin
//     must log through the hclog.Logger it is given, never fmt.Print;
//   - a plugin outlives a host killed with SIGKILL unless it watches its
//     parent: Serve exits when the host process is gone;
//   - go-plugin's Kill is a hard stop, so Close first asks the connector to
//     close (flushing what it holds) and only then stops the process.
//
// The protocol's major version is negotiated in the go-plugin handshake;
// minor additions are capabilities (see sdk.Capability).
package subprocess
