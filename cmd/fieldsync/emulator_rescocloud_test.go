package main

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	rcemulator "github.com/fieldsync/fieldsync/plugins/rescocloud/emulator"
)

// The Resco Cloud emulator seeds an empty organization, answers its user
// over Basic authentication and stops when its context ends.
func TestEmulatorRescoCloud(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut lockedBuffer
	done := make(chan int, 1)
	db := filepath.Join(t.TempDir(), "org.db")
	go func() {
		done <- execute(ctx, []string{"emulator", "rescocloud", "--db", db, "--addr", "127.0.0.1:0", "--seed-accounts", "25"}, &out, &errOut)
	}()
	re := regexp.MustCompile(`on (http://127\.0\.0\.1:\d+)`)
	var base string
	for deadline := time.Now().Add(20 * time.Second); base == ""; {
		if time.Now().After(deadline) {
			t.Fatalf("the emulator did not start: %s %s", out.String(), errOut.String())
		}
		if m := re.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	req, _ := http.NewRequest("POST", base+"/rest/v1/data/GetMaxRowVersion", strings.NewReader(`{"Entities":["account"]}`))
	req.SetBasicAuth(rcemulator.DefaultUsername, rcemulator.DefaultPassword)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		RowVersions map[string]int64 `json:"RowVersions"`
	}
	json.NewDecoder(res.Body).Decode(&r)
	res.Body.Close()
	if res.StatusCode != 200 || r.RowVersions["account"] <= 0 {
		t.Fatalf("GetMaxRowVersion: %d %+v", res.StatusCode, r)
	}
	req, _ = http.NewRequest("GET", base+"/rest/v1/data/WhoAmI", nil)
	req.SetBasicAuth(rcemulator.DefaultUsername, "wrong")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("a wrong password: %d, want 401", res.StatusCode)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the emulator did not stop when its context ended")
	}
}
