package emulator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"

	"github.com/fieldsync/fieldsync/plugins/dataverse/emulator"
)

// An organization in a temporary file: seed it, get a token the way a
// connector does (client credentials), and count accounts.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "emulator")
	defer os.RemoveAll(dir)
	srv, err := emulator.New(emulator.Options{Path: filepath.Join(dir, "org.db")})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	if err := srv.Seed(context.Background(), emulator.SeedOptions{Accounts: 42, ContactsPerAccount: 2}); err != nil {
		panic(err)
	}
	web := httptest.NewServer(srv.Handler())
	defer web.Close()

	res, _ := http.PostForm(web.URL+"/mytenant/oauth2/v2.0/token", url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {emulator.DefaultClientID},
		"client_secret": {emulator.DefaultClientSecret},
		"scope":         {"https://contoso.crm.dynamics.com/.default"},
	})
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()

	req, _ := http.NewRequest("GET", web.URL+emulator.APIPath+"contacts/$count", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	res, _ = http.DefaultClient.Do(req)
	n, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(tok.ExpiresIn, res.StatusCode, string(n))
	// Output: 3599 200 84
}
