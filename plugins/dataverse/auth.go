package dataverse

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/fieldsync/fieldsync/sdk"
)

// tokenCache holds the bearer token of the client-credentials grant
// (PROTOCOLS.md: POST {login}/{tenant}/oauth2/v2.0/token with grant_type,
// client_id, client_secret and scope {org}/.default) and fetches a new one
// before the old one expires: a tenth of its lifetime early, at most five
// minutes, so a request never leaves with a token about to lapse. One fetch
// runs at a time; the others wait for it, each within its own context.
type tokenCache struct {
	cfg    *clientcredentials.Config
	client *http.Client
	lock   chan struct{} // a mutex a context can give up on
	tok    *oauth2.Token
	renew  time.Time // when to fetch a new one
}

func newTokenCache(opts Options, client *http.Client) (*tokenCache, error) {
	if opts.ClientID == "" || opts.ClientSecret == "" {
		return nil, sdk.Errorf(sdk.Permanent, "dataverse: settings \"client_id\" and \"client_secret\" are required")
	}
	tokenURL := opts.TokenURL
	if tokenURL == "" {
		if opts.Tenant == "" {
			return nil, sdk.Errorf(sdk.Permanent, "dataverse: setting \"tenant\" (or \"token_url\") is required")
		}
		tokenURL = "https://login.microsoftonline.com/" + url.PathEscape(opts.Tenant) + "/oauth2/v2.0/token"
	}
	if u, err := url.Parse(tokenURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, sdk.Errorf(sdk.Permanent, "dataverse: setting \"token_url\" = %q is not an http(s) URL", tokenURL)
	}
	scope := opts.Scope
	if scope == "" {
		scope = strings.TrimSuffix(opts.URL, "/") + "/.default"
	}
	return &tokenCache{
		cfg: &clientcredentials.Config{
			ClientID:     opts.ClientID,
			ClientSecret: opts.ClientSecret,
			TokenURL:     tokenURL,
			Scopes:       []string{scope},
			// Entra ID takes the credentials as form fields.
			AuthStyle: oauth2.AuthStyleInParams,
		},
		client: client,
		lock:   make(chan struct{}, 1),
	}, nil
}

// token returns a valid access token, fetching one when needed.
func (t *tokenCache) token(ctx context.Context) (string, error) {
	select {
	case t.lock <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("dataverse: token: %w", ctx.Err())
	}
	defer func() { <-t.lock }()
	now := time.Now()
	if t.tok != nil && now.Before(t.renew) {
		return t.tok.AccessToken, nil
	}
	tok, err := t.cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, t.client))
	if err != nil {
		return "", tokenError(ctx, err)
	}
	if tok.AccessToken == "" {
		return "", sdk.Errorf(sdk.Permanent, "dataverse: the token endpoint answered no access token")
	}
	t.tok = tok
	t.renew = renewAt(now, tok.Expiry)
	return tok.AccessToken, nil
}

// invalidate drops the cached token, after the service refused it (401).
func (t *tokenCache) invalidate() {
	select {
	case t.lock <- struct{}{}:
		t.tok = nil
		<-t.lock
	default: // a fetch is under way: it brings a fresh token anyway
	}
}

// renewAt is when a token fetched at now and expiring at exp should be
// replaced: a tenth of its lifetime before it expires, at most five
// minutes before. A token with no expiry is kept for an hour.
func renewAt(now, exp time.Time) time.Time {
	if exp.IsZero() {
		return now.Add(time.Hour)
	}
	margin := min(exp.Sub(now)/10, 5*time.Minute)
	return exp.Add(-margin)
}

// tokenError turns a token endpoint failure into an sdk error that names
// the endpoint's error code and description but nothing it was sent: the
// client secret never reaches a message. A refused grant (4xx) is
// Permanent; anything else (5xx, network) Retryable.
func tokenError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("dataverse: token: %w", ctxErr)
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		msg := fmt.Sprintf("dataverse: the token endpoint refused the client credentials (HTTP %d", status)
		if re.ErrorCode != "" {
			msg += ", " + re.ErrorCode
		}
		msg += ")"
		if re.ErrorDescription != "" {
			msg += ": " + firstLine(re.ErrorDescription)
		}
		kind := sdk.Permanent
		if status >= 500 || status == http.StatusTooManyRequests || status == 0 {
			kind = sdk.Retryable
		}
		return &sdk.Error{Kind: kind, Message: msg}
	}
	// Transport errors from oauth2 name the URL (with no credentials in
	// it: they travel in the body) and the cause.
	return &sdk.Error{Kind: sdk.Retryable, Message: "dataverse: token: " + err.Error()}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	s = strings.TrimSpace(s)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
