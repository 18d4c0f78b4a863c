package contracttest_test

import (
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/contracttest"
)

// A connector's own test runs the suite with a fresh server per subtest; each
// Connect is one more device on that server. Here the server is this
// package's in-memory reference backend; a plugin would start its emulator
// (or a scratch tenant) on t.TempDir() instead.
func ExampleRun() {
	testContract := func(t *testing.T) { // func TestContract(t *testing.T) in a plugin
		contracttest.Run(t, contracttest.Config{
			NewBackend: func(t *testing.T) contracttest.Backend {
				srv := newMemServer("")
				return contracttest.BackendFunc(func(t *testing.T) sdk.Connector {
					return &memConn{srv: srv}
				})
			},
			Entity: "task",
			Skip: map[string]string{
				// A BackendFunc cannot attach documents: implement
				// contracttest.DocumentBackend to test them.
				"Documents": "documents are tested elsewhere",
			},
		})
	}
	_ = testContract
}
