//go:build !wasip1

// Command fieldsync-plugin-rescocloud serves the Resco Cloud connector as a
// subprocess plugin, for hosts that run no WASM or where the plugin holds
// its own credentials. The host starts it; run by hand it only says so.
//
// Settings are rescocloud.Factory's: url, auth (host|basic|bearer),
// username, password, client_id, client_secret, token_url, page_size,
// batch_size, retries, retry_backoff.
package main

import (
	"github.com/fieldsync/fieldsync/plugins/rescocloud"
	"github.com/fieldsync/fieldsync/sdk/subprocess"
)

func main() { subprocess.Serve(rescocloud.Factory) }
