package mock_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fieldsync/fieldsync/plugins/mock"
	"github.com/fieldsync/fieldsync/sdk"
)

// A server file with seeded data, an admin's plain-SQL edit, and a device
// that reads it all and then only what changed.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "mock-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "server.db")

	srv, err := mock.Create(ctx, path) // the default model: account, contact, opportunity
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	if err := srv.Seed(ctx, mock.SeedOptions{Accounts: 100, ContactsPerAccount: 2, Seed: 1}); err != nil {
		panic(err)
	}

	// A device's connector, as the engine would open it.
	conn, err := mock.Factory(ctx, map[string]string{"path": path, "user": "anna"}, nil)
	if err != nil {
		panic(err)
	}
	defer conn.Close(ctx)

	var rows int
	var token []byte
	err = conn.Fetch(ctx, sdk.FetchRequest{Entity: "account", PageSize: 40}, func(p *sdk.Page) error {
		rows += p.Len()
		token = p.Token // set on the last page
		return nil
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("full read:", rows, "accounts")

	// An admin edits with plain SQL; the triggers track it.
	if err := srv.Exec(ctx, "UPDATE account SET city = 'Bratislava' WHERE rowid <= 3; DELETE FROM account WHERE rowid = 4"); err != nil {
		panic(err)
	}
	err = conn.Fetch(ctx, sdk.FetchRequest{Entity: "account", Token: token}, func(p *sdk.Page) error {
		fmt.Println("changes:", p.Len(), "upserts,", len(p.Deletes), "delete")
		return nil
	})
	if err != nil {
		panic(err)
	}
	// Output:
	// full read: 100 accounts
	// changes: 3 upserts, 1 delete
}
