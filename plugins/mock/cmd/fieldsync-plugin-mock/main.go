// Command fieldsync-plugin-mock serves the mock backend's connector as a
// subprocess plugin. The host starts it; run by hand it only says so.
//
// Settings (from the host's config): path (the server SQLite file,
// required), create ("true" lays out a new file with the default model),
// user (name in the request log), pool (SQLite connections, default 4).
package main

import (
	"github.com/fieldsync/fieldsync/plugins/mock"
	"github.com/fieldsync/fieldsync/sdk/subprocess"
)

func main() { subprocess.Serve(mock.Factory) }
