package rescocloud

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/fieldsync/fieldsync/plugins/rescocloud/wire"
	"github.com/fieldsync/fieldsync/sdk"
)

// tokenSource gets and caches an OAuth bearer token from the token
// endpoint: the password grant with username/password, else the client
// credentials grant. The token is renewed a minute before it expires, and
// after a 401 (see authorizer.reset).
type tokenSource struct {
	url  string
	form url.Values
	hc   *httpClient

	mu      sync.Mutex
	token   string
	expires time.Time
}

// tokenSkew renews a token this long before the server says it expires.
const tokenSkew = time.Minute

func newTokenSource(tokenURL string, cfg Config) (*tokenSource, error) {
	form := url.Values{}
	switch {
	case cfg.Username != "" || cfg.Password != "":
		if cfg.Username == "" || cfg.Password == "" {
			return nil, sdk.Errorf(sdk.Permanent, "rescocloud: the password grant needs both username and password")
		}
		form.Set("grant_type", "password")
		form.Set("username", cfg.Username)
		form.Set("password", cfg.Password)
	case cfg.ClientID != "" && cfg.ClientSecret != "":
		form.Set("grant_type", "client_credentials")
	default:
		return nil, sdk.Errorf(sdk.Permanent, "rescocloud: auth %q needs client_id and client_secret, or username and password", AuthBearer)
	}
	if cfg.ClientID != "" {
		form.Set("client_id", cfg.ClientID)
	}
	if cfg.ClientSecret != "" {
		form.Set("client_secret", cfg.ClientSecret)
	}
	return &tokenSource{url: tokenURL, form: form}, nil
}

func (t *tokenSource) authorize(ctx context.Context, req *http.Request) error {
	tok, err := t.get(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

func (t *tokenSource) reset() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	had := t.token != ""
	t.token = ""
	return had
}

func (t *tokenSource) get(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && time.Now().Before(t.expires) {
		return t.token, nil
	}
	var last error
	for attempt := 0; attempt <= t.hc.retries; attempt++ {
		if attempt > 0 {
			t.hc.retries_.Add(1)
			if err := t.hc.wait(ctx, t.hc.backoffFor(attempt-1)); err != nil {
				return "", fmt.Errorf("rescocloud: sign in: %w", err)
			}
		}
		tok, exp, err := t.fetch(ctx)
		if err == nil {
			t.token, t.expires = tok, exp
			return tok, nil
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("rescocloud: sign in: %w", ctx.Err())
		}
		last = err
		if !sdk.IsRetryable(err) {
			return "", err
		}
	}
	return "", last
}

// fetch asks the token endpoint once. Errors never carry the form (it
// holds the secret).
func (t *tokenSource) fetch(ctx context.Context) (string, time.Time, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, strings.NewReader(t.form.Encode()))
	if err != nil {
		return "", time.Time{}, sdk.Errorf(sdk.Permanent, "rescocloud: sign in: bad token_url")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	t.hc.requests.Add(1)
	resp, err := t.hc.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", time.Time{}, ctx.Err()
		}
		return "", time.Time{}, &sdk.Error{Kind: sdk.Retryable, Message: fmt.Sprintf("rescocloud: sign in: %v", err), Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		kind := sdk.Permanent
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
			kind = sdk.Retryable
		}
		why := http.StatusText(resp.StatusCode)
		if te, err := wire.DecodeTokenError(resp.Body); err == nil {
			why = te.Error
			if te.Description != "" {
				why += ": " + te.Description
			}
		}
		return "", time.Time{}, &sdk.Error{Kind: kind, Message: fmt.Sprintf("rescocloud: sign in: the token endpoint answered HTTP %d (%s)", resp.StatusCode, why)}
	}
	tr, err := wire.DecodeToken(resp.Body)
	if err != nil {
		return "", time.Time{}, sdk.Errorf(sdk.Permanent, "rescocloud: sign in: %v", err)
	}
	life := time.Duration(tr.ExpiresIn) * time.Second
	if life == 0 {
		life = time.Hour
	}
	if life > 2*tokenSkew {
		life -= tokenSkew
	}
	return tr.AccessToken, time.Now().Add(life), nil
}
