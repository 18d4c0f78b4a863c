//go:build !wasip1

// Command fieldsync-plugin-salesforce serves the Salesforce connector as a
// subprocess plugin. The host starts it; run by hand it only says so.
//
// Settings (from the host's config) are salesforce.Factory's: login_url,
// grant, client_id, client_secret, username, password, private_key,
// refresh_token, api_version, batch_size, objects, external_id_field,
// change_id_field, overlap, retries, retry_backoff.
package main

import (
	"github.com/fieldsync/fieldsync/plugins/salesforce"
	"github.com/fieldsync/fieldsync/sdk/subprocess"
)

func main() { subprocess.Serve(salesforce.Factory) }
