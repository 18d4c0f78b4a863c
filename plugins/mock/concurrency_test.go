package mock

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"

	"github.com/fieldsync/fieldsync/sdk"
)

// replica is what a device holds: id → version.
type replica map[string]string

func (r replica) sync(t testing.TB, c sdk.Connector, entity string, token []byte, pageSize int) []byte {
	t.Helper()
	var next []byte
	err := c.Fetch(context.Background(), sdk.FetchRequest{Entity: entity, Token: token, PageSize: pageSize, Fields: []string{}}, func(p *sdk.Page) error {
		for i, id := range p.IDs {
			r[id] = p.Versions[i]
		}
		for _, id := range p.Deletes {
			delete(r, id)
		}
		if p.Last {
			next = p.Token
		}
		return nil
	})
	if err != nil {
		t.Errorf("sync %s: %v", entity, err)
		return token
	}
	return next
}

func serverRows(t testing.TB, s *Server, entity string) replica {
	t.Helper()
	c, err := s.db.get(context.Background())
	must(t, err)
	defer s.db.put(c)
	e := s.snap.Load().entities[entity]
	st, err := c.prep(fmt.Sprintf("SELECT %s, _version FROM %s", e.pk, e.table))
	must(t, err)
	out := replica{}
	for st.Step() {
		out[st.ColumnText(0)] = strconv.FormatInt(st.ColumnInt64(1), 10)
	}
	must(t, st.Reset())
	return out
}

func (r replica) diff(want replica) string {
	for id, v := range want {
		if r[id] != v {
			return fmt.Sprintf("row %s: device has version %q, server %q", id, r[id], v)
		}
	}
	for id := range r {
		if _, ok := want[id]; !ok {
			return fmt.Sprintf("row %s: on the device, gone from the server", id)
		}
	}
	return ""
}

// Two devices (two connectors with their own connections) on one file:
// one pushes while the other syncs three entities in parallel, with an
// admin editing by SQL meanwhile. Every device copy converges on the
// server's rows and versions, and no call fails.
func TestTwoConnectorsConcurrently(t *testing.T) {
	s, path := newServer(t)
	ctx := context.Background()
	must(t, s.Seed(ctx, SeedOptions{Accounts: 300, ContactsPerAccount: 1, OpportunitiesPerAccount: 1, Seed: 11}))
	reader := newConnector(t, path, "reader")
	writer := newConnector(t, path, "writer")
	entities := []string{"account", "contact", "opportunity"}

	replicas := map[string]replica{}
	tokens := map[string][]byte{}
	for _, e := range entities {
		replicas[e] = replica{}
		tokens[e] = replicas[e].sync(t, reader, e, nil, 97)
	}

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // the writer device
		defer wg.Done()
		for b := range 100 {
			var chs []sdk.Change
			for i := range 10 {
				field := "name"
				if entities[i%3] == "contact" {
					field = "lastname"
				}
				chs = append(chs, sdk.Change{ChangeID: fmt.Sprintf("w%d-%d", b, i), Op: sdk.OpCreate, Entity: entities[i%3],
					Values: map[string]sdk.Value{field: sdk.String("w")}})
			}
			resp, err := writer.Push(ctx, sdk.PushRequest{Changes: chs})
			if err != nil {
				t.Errorf("push: %v", err)
				return
			}
			for _, r := range resp.Results {
				if r.Status != sdk.StatusApplied {
					t.Errorf("push %s: %s %v", r.ChangeID, r.Status, r.Err)
				}
			}
		}
	}()
	go func() { // an admin
		defer wg.Done()
		for i := range 40 {
			sql := fmt.Sprintf("UPDATE account SET city = 'admin %d' WHERE rowid %% 7 = %d; DELETE FROM opportunity WHERE rowid = %d", i, i%7, i+1)
			if err := s.Exec(ctx, sql); err != nil {
				t.Errorf("admin: %v", err)
				return
			}
		}
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		var rw sync.WaitGroup
		next := make([][]byte, len(entities))
		for i, e := range entities { // entities in parallel on one connector
			rw.Add(1)
			go func() {
				defer rw.Done()
				next[i] = replicas[e].sync(t, reader, e, tokens[e], 13)
			}()
		}
		rw.Wait()
		for i, e := range entities {
			tokens[e] = next[i]
		}
	}
	for _, e := range entities {
		tokens[e] = replicas[e].sync(t, reader, e, tokens[e], 13)
		if d := replicas[e].diff(serverRows(t, s, e)); d != "" {
			t.Errorf("%s: %s", e, d)
		}
	}
}

// Several processes write one file at once; none sees SQLITE_BUSY.
func TestProcessesShareTheFile(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	s, path := newServer(t)
	ctx := context.Background()
	exe, err := os.Executable()
	must(t, err)
	var cmds []*exec.Cmd
	for i := range 3 {
		cmd := exec.Command(exe, "-test.run=^TestHelperProcess$")
		cmd.Env = append(os.Environ(), "MOCK_HELPER_PATH="+path, "MOCK_HELPER_ID="+strconv.Itoa(i))
		must(t, cmd.Start())
		cmds = append(cmds, cmd)
	}
	c := newConnector(t, path, "main")
	r := replica{}
	var token []byte
	for range 20 {
		token = r.sync(t, c, "account", token, 50)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper process: %v", err)
		}
	}
	r.sync(t, c, "account", token, 50)
	if n, _ := s.Count(ctx, "account"); n != 3*20*10 || len(r) != int(n) {
		t.Errorf("%d accounts on the server, %d on the device; want %d", n, len(r), 3*20*10)
	}
}

// TestHelperProcess is a device process for TestProcessesShareTheFile.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv("MOCK_HELPER_PATH")
	if path == "" {
		t.Skip("a helper for TestProcessesShareTheFile")
	}
	id := os.Getenv("MOCK_HELPER_ID")
	c, err := Factory(context.Background(), map[string]string{"path": path, "user": "proc" + id}, nil)
	must(t, err)
	defer c.Close(context.Background())
	for b := range 20 {
		var chs []sdk.Change
		for i := range 10 {
			chs = append(chs, sdk.Change{ChangeID: fmt.Sprintf("p%s-%d-%d", id, b, i), Op: sdk.OpCreate, Entity: "account",
				Values: map[string]sdk.Value{"name": sdk.String("proc " + id)}})
		}
		resp, err := c.Push(context.Background(), sdk.PushRequest{Changes: chs})
		if err != nil {
			t.Fatalf("push: %v", err)
		}
		for _, r := range resp.Results {
			if r.Status != sdk.StatusApplied {
				t.Fatalf("%s: %s %v", r.ChangeID, r.Status, r.Err)
			}
		}
		if _, err := fetchErr(c, sdk.FetchRequest{Entity: "account", PageSize: 100}); err != nil {
			t.Fatalf("fetch: %v", err)
		}
	}
}
