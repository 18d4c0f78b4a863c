package wasmhost

import (
	"context"
	"strconv"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

// TestMemoryFlat makes 100,000 calls on one instance and requires its
// memory to stay where it was after the first 10,000 (by then the garbage
// collector has grown the heap to its working size: 11 MiB after 1,000
// calls, 13.8 MiB from 10,000 on, measured). A Go reactor's
// memory only grows (the runtime never returns pages), so growth is a leak:
// a buffer the host failed to free, a result the guest kept, or a garbage
// collector that never finished a cycle between calls (which the guest's
// yield before each export returns prevents; see sdk/wasmguest).
//
// The calls run without the time limit's checks, which only slow the guest
// down and do not change what it allocates.
func TestMemoryFlat(t *testing.T) {
	const calls, warmup = 100_000, 10_000
	c, _ := openGuest(t, nil, func(c *Config) { c.PoolSize, c.NoTimeLimit = 1, true })
	ctx := context.Background()
	inst := c.p.pool.idle[0]
	var before uint32
	for i := range calls {
		id := strconv.Itoa(i)
		res, err := c.Push(ctx, sdk.PushRequest{Changes: []sdk.Change{{
			ChangeID: id, Op: sdk.OpUpdate, Entity: "thing", ID: "t-" + id, BaseVersion: "1",
			Values: map[string]sdk.Value{"name": sdk.String("name " + id), "count": sdk.Int(int64(i))},
		}}})
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if res.Results[0].Version != "v-"+id {
			t.Fatalf("call %d answered %+v", i, res.Results[0])
		}
		if i == warmup-1 {
			before = inst.mem.Size()
		}
	}
	if c.p.pool.idle[0] != inst {
		t.Fatal("the calls did not all run on one instance")
	}
	after := inst.mem.Size()
	t.Logf("guest memory after %d calls %.1f MiB, after %d calls %.1f MiB", warmup, float64(before)/(1<<20), calls, float64(after)/(1<<20))
	if after > before+before/8 {
		t.Errorf("guest memory grew from %d to %d bytes over %d calls", before, after, calls)
	}
}
