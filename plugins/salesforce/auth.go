package salesforce

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/fieldsync/fieldsync/sdk"
)

// session is what a token endpoint answers and every REST call needs: the
// access token and the instance to send it to (the token response names
// the instance; the login URL is never used for data).
type session struct {
	accessToken string
	instanceURL string // scheme://host[:port], no trailing slash
	userID      string // 005…, from the identity URL in "id"; "" when absent
}

// authenticator signs in once and caches the session; a 401 INVALID_SESSION_ID
// makes the REST layer drop it (invalidate) and sign in once more.
type authenticator struct {
	cfg    *config
	client func() *http.Client
	key    *rsa.PrivateKey // jwt grant only, parsed at Factory so a bad key fails early
	now    func() time.Time

	lock chan struct{} // a mutex a context can give up on
	cur  *session
}

func newAuthenticator(cfg *config, client func() *http.Client) (*authenticator, error) {
	a := &authenticator{cfg: cfg, client: client, now: time.Now, lock: make(chan struct{}, 1)}
	if cfg.grant == grantJWT {
		key, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(cfg.privateKey))
		if err != nil {
			// The parser's message names the PEM problem, never the key.
			return nil, settingError("setting \"private_key\" is not a PEM RSA private key (PKCS#1 or PKCS#8)")
		}
		a.key = key
	}
	return a, nil
}

func (a *authenticator) tokenURL() string {
	return a.cfg.loginURL.String() + "/services/oauth2/token"
}

// session returns the cached session or signs in.
func (a *authenticator) session(ctx context.Context) (*session, error) {
	select {
	case a.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("salesforce: sign in: %w", ctx.Err())
	}
	defer func() { <-a.lock }()
	if a.cur != nil {
		return a.cur, nil
	}
	s, err := a.signIn(ctx)
	if err != nil {
		return nil, err
	}
	a.cur = s
	return s, nil
}

// invalidate drops s if it is still the cached session (another caller may
// have renewed it already).
func (a *authenticator) invalidate(s *session) {
	a.lock <- struct{}{}
	if a.cur == s {
		a.cur = nil
	}
	<-a.lock
}

func (a *authenticator) signIn(ctx context.Context) (*session, error) {
	if a.cfg.grant == grantJWT {
		return a.signInJWT(ctx)
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, a.client())
	endpoint := oauth2.Endpoint{TokenURL: a.tokenURL(), AuthStyle: oauth2.AuthStyleInParams}
	conf := &oauth2.Config{ClientID: a.cfg.clientID, ClientSecret: a.cfg.clientSecret, Endpoint: endpoint}
	var tok *oauth2.Token
	var err error
	switch a.cfg.grant {
	case grantPassword:
		tok, err = conf.PasswordCredentialsToken(ctx, a.cfg.username, a.cfg.password)
	case grantClientCredentials:
		cc := &clientcredentials.Config{ClientID: a.cfg.clientID, ClientSecret: a.cfg.clientSecret, TokenURL: endpoint.TokenURL, AuthStyle: oauth2.AuthStyleInParams}
		tok, err = cc.Token(ctx)
	case grantRefreshToken:
		tok, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: a.cfg.refreshToken}).Token()
	default:
		return nil, sdk.Errorf(sdk.Permanent, "salesforce: unknown grant %q", a.cfg.grant)
	}
	if err != nil {
		return nil, a.tokenError(ctx, err)
	}
	inst, _ := tok.Extra("instance_url").(string)
	id, _ := tok.Extra("id").(string)
	return newSession(tok.AccessToken, inst, id)
}

// tokenError turns an oauth2 failure into an sdk error without the
// response body (which can echo request fields) or any secret: the
// endpoint's error code and description are what a person needs.
func (a *authenticator) tokenError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("salesforce: sign in: %w", ctx.Err())
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		code, desc := re.ErrorCode, re.ErrorDescription
		if code == "" {
			// oauth2 parses form and JSON errors; fall back to ours.
			if te := parseTokenError(re.Body); te != nil {
				code, desc = te.Error, te.Description
			}
		}
		return signInError(a.cfg.grant, status, code, desc)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// A network failure: the URL names the token endpoint, no secret.
		return &sdk.Error{Kind: sdk.Retryable, Message: fmt.Sprintf("salesforce: sign in (%s grant): %v", a.cfg.grant, ue.Err), Err: ue.Err}
	}
	// oauth2's own complaints ("server response missing access_token").
	return sdk.Errorf(sdk.Permanent, "salesforce: sign in (%s grant): %s", a.cfg.grant, strings.TrimPrefix(err.Error(), "oauth2: "))
}

func signInError(grant string, status int, code, desc string) error {
	kind := sdk.Permanent
	if status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout {
		kind = sdk.Retryable
	}
	msg := fmt.Sprintf("salesforce: sign in (%s grant) refused: HTTP %d", grant, status)
	if code != "" {
		msg += " " + code
	}
	if desc != "" {
		msg += ": " + firstLine(desc)
	}
	return &sdk.Error{Kind: kind, Message: msg}
}

// jwtLifetime is the assertion's validity; Salesforce accepts up to
// three minutes after issue.
const jwtLifetime = 3 * time.Minute

// signInJWT posts an RS256 assertion (iss = client id, sub = username, aud
// = login URL) as the jwt-bearer grant.
func (a *authenticator) signInJWT(ctx context.Context) (*session, error) {
	now := a.now()
	claims := jwt.RegisteredClaims{
		Issuer:    a.cfg.clientID,
		Subject:   a.cfg.username,
		Audience:  jwt.ClaimStrings{a.cfg.loginURL.String()},
		ExpiresAt: jwt.NewNumericDate(now.Add(jwtLifetime)),
	}
	assertion, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(a.key)
	if err != nil {
		return nil, sdk.Errorf(sdk.Permanent, "salesforce: sign in (jwt grant): signing the assertion failed")
	}
	form := url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"},
		"assertion":  {assertion},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.tokenURL(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, sdk.Errorf(sdk.Permanent, "salesforce: sign in (jwt grant): %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := a.client().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("salesforce: sign in: %w", ctx.Err())
		}
		return nil, &sdk.Error{Kind: sdk.Retryable, Message: fmt.Sprintf("salesforce: sign in (jwt grant): %v", err), Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err != nil {
		return nil, &sdk.Error{Kind: sdk.Retryable, Message: fmt.Sprintf("salesforce: sign in (jwt grant): reading the answer: %v", err), Err: err}
	}
	return parseTokenResponse(grantJWT, resp.StatusCode, body)
}

// tokenErrorBody is the token endpoint's error document.
type tokenErrorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func parseTokenError(body []byte) *tokenErrorBody {
	var te tokenErrorBody
	if json.Unmarshal(body, &te) != nil || te.Error == "" {
		return nil
	}
	return &te
}

// parseTokenResponse reads a token endpoint's answer: {access_token,
// instance_url, id, token_type, issued_at, signature} or {error,
// error_description}.
func parseTokenResponse(grant string, status int, body []byte) (*session, error) {
	if status != http.StatusOK {
		code, desc := "", ""
		if te := parseTokenError(body); te != nil {
			code, desc = te.Error, te.Description
		}
		return nil, signInError(grant, status, code, desc)
	}
	var doc struct {
		AccessToken string `json:"access_token"`
		InstanceURL string `json:"instance_url"`
		ID          string `json:"id"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, sdk.Errorf(sdk.Permanent, "salesforce: sign in (%s grant): the token endpoint's answer is not a token document: %v", grant, err)
	}
	if doc.TokenType != "" && !strings.EqualFold(doc.TokenType, "Bearer") {
		return nil, sdk.Errorf(sdk.Permanent, "salesforce: sign in (%s grant): token type %q, want Bearer", grant, doc.TokenType)
	}
	return newSession(doc.AccessToken, doc.InstanceURL, doc.ID)
}

// newSession checks what a token endpoint answered. The instance URL is
// where the bearer token will be sent, so it must be an http(s) origin.
func newSession(token, instance, identity string) (*session, error) {
	if token == "" {
		return nil, sdk.Errorf(sdk.Permanent, "salesforce: sign in: the token endpoint answered no access_token")
	}
	u, err := url.Parse(instance)
	if instance == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, sdk.Errorf(sdk.Permanent, "salesforce: sign in: the token endpoint answered instance_url %q, not an http(s) URL", truncate(instance, 200))
	}
	s := &session{accessToken: token, instanceURL: u.Scheme + "://" + u.Host}
	// The identity URL ends in /id/{orgId}/{userId}.
	if i := strings.LastIndexByte(identity, '/'); i >= 0 && validID(identity[i+1:]) {
		s.userID = identity[i+1:]
	}
	return s, nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return truncate(s, 500)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
