package engine

import (
	"context"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/fieldsync/fieldsync/core/store"
	"github.com/fieldsync/fieldsync/sdk"
)

// openBackendDevice opens a device whose store is the file path, syncing
// through conn: the same device type as the mock tests use, so exec,
// count and text work alike. The store and the app's connection close with
// the test; the caller owns conn.
func openBackendDevice(t *testing.T, path, name string, conn sdk.Connector, entities []EntityConfig, mod ...func(*Options)) *device {
	t.Helper()
	st, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Store: st, Connector: conn, Entities: entities, User: name, Device: name, RetryBackoff: time.Millisecond}
	for _, m := range mod {
		m(&opts)
	}
	eng, err := New(opts)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	app, err := sqlite3.Open(path)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	app.BusyTimeout(10 * time.Second)
	t.Cleanup(func() {
		app.Close()
		st.Close()
	})
	return &device{t: t, store: st, eng: eng, conn: conn, app: app}
}
