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

	sfemulator "github.com/fieldsync/fieldsync/plugins/salesforce/emulator"
)

// The Salesforce emulator seeds an empty org, signs its user in and
// answers SOQL until its context ends.
func TestEmulatorSalesforce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut lockedBuffer
	done := make(chan int, 1)
	db := filepath.Join(t.TempDir(), "org.db")
	go func() {
		done <- execute(ctx, []string{"emulator", "salesforce", "--db", db, "--addr", "127.0.0.1:0",
			"--seed-accounts", "25", "--seed-contacts-per-account", "1"}, &out, &errOut)
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
	form := url.Values{"grant_type": {"password"}, "client_id": {sfemulator.DefaultClientID}, "client_secret": {sfemulator.DefaultClientSecret},
		"username": {sfemulator.DefaultUsername}, "password": {sfemulator.DefaultPassword}}
	res, err := http.PostForm(base+"/services/oauth2/token", form)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		InstanceURL string `json:"instance_url"`
	}
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if tok.AccessToken == "" || tok.InstanceURL == "" {
		t.Fatalf("no token or instance URL (%d)", res.StatusCode)
	}
	req, _ := http.NewRequest("GET", tok.InstanceURL+"/services/data/v60.0/query?q="+url.QueryEscape("SELECT COUNT() FROM Contact"), nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		TotalSize int `json:"totalSize"`
	}
	json.NewDecoder(res.Body).Decode(&r)
	res.Body.Close()
	if res.StatusCode != 200 || r.TotalSize != 25 || res.Header.Get("Sforce-Limit-Info") == "" {
		t.Fatalf("SELECT COUNT() FROM Contact: %d, totalSize %d, Sforce-Limit-Info %q", res.StatusCode, r.TotalSize, res.Header.Get("Sforce-Limit-Info"))
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
