// Command fieldsync-plugin-dataverse serves the Dataverse connector as a
// subprocess plugin: the transport it ships on, since its TDS downloader
// needs raw sockets (no WASM build). The host starts it; run by hand it
// only says so.
//
// Settings (from the host's config) are dataverse.Factory's: url, tenant,
// client_id, client_secret, token_url, scope, api_version,
// max_concurrency, retries, max_throttle_wait, tds, tds_encrypt,
// tds_database.
package main

import (
	"github.com/fieldsync/fieldsync/plugins/dataverse"
	"github.com/fieldsync/fieldsync/sdk/subprocess"
)

func main() { subprocess.Serve(dataverse.Factory) }
