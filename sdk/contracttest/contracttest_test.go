package contracttest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/contracttest"
)

// memConfig runs the suite on entity "task" of a fresh memory server per
// subtest, with variant's defects switched on ("" for none; see
// newMemServer).
func memConfig(variant string) contracttest.Config {
	return contracttest.Config{
		NewBackend: func(t *testing.T) contracttest.Backend { return memBackend{newMemServer(variant)} },
		Entity:     "task",
	}
}

// TestMemoryConnector: the reference connector keeps the whole contract, on
// entities of different shapes, with values of its own or generated, and
// on a backend that already holds rows.
func TestMemoryConnector(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*contracttest.Config)
	}{
		{"task", func(*contracttest.Config) {}},
		// No int field, a required string: the suite adapts its filters.
		{"account", func(c *contracttest.Config) { c.Entity = "account" }},
		{"minimal", func(c *contracttest.Config) {
			c.NewBackend = func(t *testing.T) contracttest.Backend { return memBackend{newMemServer("minimal")} }
		}},
		{"existing-rows", func(c *contracttest.Config) {
			c.NewBackend = func(t *testing.T) contracttest.Backend { return memBackend{seededServer(t)} }
		}},
		{"custom-values", func(c *contracttest.Config) {
			c.NewValues = func(i int) map[string]sdk.Value {
				return map[string]sdk.Value{
					"title":    sdk.String(fmt.Sprintf("custom %d", i)),
					"priority": sdk.Int(int64(i % 5)),
					"account":  sdk.String("acct-1"),
				}
			}
			c.Rows, c.PageSize = 30, 7
			c.Skip = map[string]string{"Documents": "shows that Skip works"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := memConfig("")
			tt.cfg(&cfg)
			contracttest.Run(t, cfg)
		})
	}
}

// seededServer is a memory server holding rows the suite did not write,
// some of them updated or deleted since.
func seededServer(t *testing.T) *memServer {
	srv := newMemServer("")
	c := &memConn{srv: srv}
	var changes []sdk.Change
	for i := range 30 {
		changes = append(changes, sdk.Change{
			ChangeID: fmt.Sprintf("seed-%d", i), Op: sdk.OpCreate, Entity: "task", ID: fmt.Sprintf("seed-%d", i),
			Values: map[string]sdk.Value{"title": sdk.String(fmt.Sprintf("seed %d", i)), "priority": sdk.Int(int64(i))},
		})
	}
	for i := range 5 {
		changes = append(changes,
			sdk.Change{ChangeID: fmt.Sprintf("seed-upd-%d", i), Op: sdk.OpUpdate, Entity: "task", ID: fmt.Sprintf("seed-%d", i), BaseVersion: fmt.Sprintf("v%d", i+1),
				Values: map[string]sdk.Value{"title": sdk.Null()}},
			sdk.Change{ChangeID: fmt.Sprintf("seed-del-%d", i), Op: sdk.OpDelete, Entity: "task", ID: fmt.Sprintf("seed-%d", 10+i), BaseVersion: fmt.Sprintf("v%d", 11+i)},
		)
	}
	resp, err := c.Push(context.Background(), sdk.PushRequest{Changes: changes})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range resp.Results {
		if r.Status != sdk.StatusApplied {
			t.Fatalf("seeding change %d: %v %v", i, r.Status, r.Err)
		}
	}
	return srv
}
