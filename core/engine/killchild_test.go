package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/core/store"
	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/subprocess"
)

// The kill-mid-upload tests of the backend connectors run this test binary
// as a device that uploads through a subprocess plugin and SIGKILLs itself
// right after its n-th push returned: the server applied that batch, the
// device never recorded the answer.
const envKillChild = "FIELDSYNC_ENGINE_KILL_CHILD"

// killSpec tells the kill child what to do.
type killSpec struct {
	Plugin   string // a key of killPlugins
	Settings map[string]string
	Dev      string // the device's store
	Entities []EntityConfig
	Batch    int
	Die      int // SIGKILL after this push returned
}

// killPlugins opens each backend's subprocess plugin.
var killPlugins = map[string]func(context.Context, map[string]string) (*subprocess.Client, error){
	"dataverse":  openDataversePlugin,
	"salesforce": openSalesforcePlugin,
}

// killChild is called from TestMain: in the kill child it syncs and dies.
func killChild() {
	if spec := os.Getenv(envKillChild); spec != "" {
		os.Exit(runKillChild(spec))
	}
}

func runKillChild(spec string) int {
	var s killSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		fmt.Println("error", err)
		return 1
	}
	open := killPlugins[s.Plugin]
	if open == nil {
		fmt.Println("error: no plugin", s.Plugin)
		return 1
	}
	ctx := context.Background()
	st, err := store.Open(ctx, s.Dev)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	c, err := open(ctx, s.Settings)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	defer c.Close(ctx)
	eng, err := New(Options{Store: st, Connector: &pluginDieAfterPush{Client: c, n: s.Die}, Entities: s.Entities,
		UploadBatch: s.Batch, RetryBackoff: time.Millisecond})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	if _, err := eng.Sync(ctx, SyncOptions{}); err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("done")
	return 0
}

// pluginDieAfterPush is the plugin's connector that SIGKILLs its own (host)
// process right after the n-th push returns (dieAfterPush, in crash_test.go, does it for the mock in process).
type pluginDieAfterPush struct {
	*subprocess.Client
	n, pushes int
}

func (d *pluginDieAfterPush) Push(ctx context.Context, req sdk.PushRequest) (*sdk.PushResponse, error) {
	resp, err := d.Client.Push(ctx, req)
	if d.pushes++; d.pushes == d.n {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	return resp, err
}

// killAfterPush runs the kill child and checks that it died by SIGKILL.
func killAfterPush(t *testing.T, spec killSpec) {
	t.Helper()
	raw, _ := json.Marshal(spec)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envKillChild+"="+string(raw))
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() || strings.Contains(string(out), "done") {
		t.Fatalf("the child was to die by SIGKILL after push %d but ended: %v\n%s", spec.Die, err, out)
	}
}
