package engine

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

// TestNoChangeSyncAsksOnce: with a batch change check, a sync where nothing
// changed makes one request for all entities and fetches none; a change
// fetches that entity alone.
func TestNoChangeSyncAsksOnce(t *testing.T) {
	w := newWorld(t, 10)
	d := w.device("dev", allThree)
	d.sync()
	_, last, err := w.srv.Requests(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	lg := d.sync()
	reqs, last, _ := w.srv.Requests(context.Background(), last)
	ops := map[string]int{}
	for _, r := range reqs {
		ops[r.Op]++
	}
	if ops["check-changes"] != 1 || ops["fetch"] != 0 {
		t.Errorf("a no-change sync made %v; want one check-changes and no fetch", ops)
	}
	if lg.ChangeCheck == nil || lg.ChangeCheck.Entities != 3 || lg.ChangeCheck.Unchanged != 3 {
		t.Errorf("change check log %+v", lg.ChangeCheck)
	}
	for _, el := range lg.Entities {
		if el.Mode != "unchanged" {
			t.Errorf("%s: mode %q, want unchanged", el.Name, el.Mode)
		}
	}

	w.exec(`UPDATE contact SET jobtitle = 'x' WHERE rowid = 1`)
	lg = d.sync()
	reqs, _, _ = w.srv.Requests(context.Background(), last)
	var fetched []string
	for _, r := range reqs {
		if r.Op == "fetch" {
			fetched = append(fetched, r.Entity)
		}
	}
	if len(fetched) != 1 || fetched[0] != "contact" {
		t.Errorf("after one contact changed the sync fetched %v", fetched)
	}
	if entityLog(lg, "contact").Upserted != 1 {
		t.Errorf("contact: %+v", entityLog(lg, "contact"))
	}
}

// TestBackendUsageInLog: a connector that reports its usage gets the
// difference over the sync into the log, and its read paths per entity.
func TestBackendUsageInLog(t *testing.T) {
	w := newWorld(t, 5)
	d := w.device("dev", []EntityConfig{{Name: "account"}})
	u := &usageConn{Connector: d.conn}
	opts := d.eng.opts
	opts.Connector = u
	d.eng, _ = New(opts)
	u.requests.Store(40)
	lg := d.sync()
	if lg.Backend == nil || lg.Backend.Requests != 3 || lg.Backend.ThrottledMs != 250 {
		t.Errorf("backend log %+v, want 3 requests and 250 ms throttled", lg.Backend)
	}
	if p := entityLog(lg, "account").Path; p != "tds" {
		t.Errorf("account path %q", p)
	}
}

// usageConn counts three requests and 250 ms of throttling per fetch.
type usageConn struct {
	sdk.Connector
	requests, throttled atomic.Int64
}

func (u *usageConn) Info(ctx context.Context) (sdk.Info, error) {
	info, err := u.Connector.Info(ctx)
	info.Capabilities = append(info.Capabilities, sdk.CapUsage)
	return info, err
}

func (u *usageConn) Fetch(ctx context.Context, req sdk.FetchRequest, fn sdk.FetchFunc) error {
	u.requests.Add(3)
	u.throttled.Add(250)
	return u.Connector.Fetch(ctx, req, fn)
}

func (u *usageConn) Usage(context.Context) (sdk.Usage, error) {
	return sdk.Usage{Requests: u.requests.Load(), ThrottledMs: u.throttled.Load(), Paths: map[string]string{"account": "tds"}}, nil
}
