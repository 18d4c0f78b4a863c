package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// The Dataverse emulator seeds an empty organization, issues tokens for
// the client it was given and serves the Web API until its context ends.
func TestEmulatorDataverse(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut lockedBuffer
	done := make(chan int, 1)
	db := filepath.Join(t.TempDir(), "org.db")
	go func() {
		done <- execute(ctx, []string{"emulator", "dataverse", "--db", db, "--addr", "127.0.0.1:0",
			"--seed-accounts", "25", "--client-id", "app", "--client-secret", "s3cret", "--tenant", "t1"}, &out, &errOut)
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
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"}, "client_secret": {"s3cret"},
		"scope": {"https://org.crm.dynamics.com/.default"}}
	res, err := http.PostForm(base+"/t1/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if tok.AccessToken == "" {
		t.Fatalf("no token (%d)", res.StatusCode)
	}
	req, _ := http.NewRequest("GET", base+"/api/data/v9.2/accounts/$count", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	json.NewDecoder(res.Body).Decode(&n)
	res.Body.Close()
	if res.StatusCode != 200 || n != 25 {
		t.Fatalf("accounts/$count: %d %d", res.StatusCode, n)
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
