package emulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The token endpoint imitates Microsoft Entra ID's v2.0 client
// credentials grant: POST /{tenant}/oauth2/v2.0/token with a form
// (grant_type=client_credentials, client_id, client_secret or HTTP Basic,
// scope=<org>/.default). Access tokens are JWT-shaped (header.claims.MAC),
// signed with a key of this server: they are refused by another server and
// after a restart. Errors are Entra's JSON: {"error", "error_description"
// (AADSTS…), "error_codes", "timestamp", "trace_id", "correlation_id",
// "error_uri"}.

type tokenClaims struct {
	Aud   string `json:"aud"`
	Iss   string `json:"iss"`
	Iat   int64  `json:"iat"`
	Nbf   int64  `json:"nbf"`
	Exp   int64  `json:"exp"`
	AppID string `json:"appid"`
	Oid   string `json:"oid"`
	Sub   string `json:"sub"`
	Tid   string `json:"tid"`
	Ver   string `json:"ver"`
}

func (s *Server) sign(b []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(b)
	return m.Sum(nil)
}

func (s *Server) issueToken(p *principal, aud, tenant string, now time.Time) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"typ":"JWT","alg":"HS256","kid":"fieldsync-emulator"}`))
	c := tokenClaims{Aud: aud, Iss: "https://sts.windows.net/" + tenant + "/", Iat: now.Unix(), Nbf: now.Unix(),
		Exp: now.Add(s.opts.TokenLifetime).Unix(), AppID: p.clientID, Oid: p.userID, Sub: p.userID, Tid: tenant, Ver: "1.0"}
	body, _ := json.Marshal(c)
	unsigned := head + "." + enc.EncodeToString(body)
	return unsigned + "." + enc.EncodeToString(s.sign([]byte(unsigned)))
}

// ValidToken checks an access token this server issued: signature, expiry
// and the ExpireAccessTokens switch. It returns the systemuserid of the
// token's user. The TDS listener validates LOGIN7 FEDAUTH tokens with it.
func (s *Server) ValidToken(token string) (user string, ok bool) {
	p, ok := s.principalOf(token)
	if !ok {
		return "", false
	}
	return p.userID, true
}

func (s *Server) principalOf(token string) (*principal, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, false
	}
	enc := base64.RawURLEncoding
	sig, err := enc.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, s.sign([]byte(parts[0]+"."+parts[1]))) {
		return nil, false
	}
	body, err := enc.DecodeString(parts[1])
	if err != nil {
		return nil, false
	}
	var c tokenClaims
	if json.Unmarshal(body, &c) != nil {
		return nil, false
	}
	now := s.now()
	if now.Unix() >= c.Exp {
		return nil, false
	}
	s.mu.Lock()
	after := s.tokensAfter
	s.mu.Unlock()
	if !after.IsZero() && c.Iat < after.Unix() {
		return nil, false
	}
	p := s.byUser[c.Oid]
	if p == nil || p.clientID != c.AppID {
		return nil, false
	}
	return p, true
}

// ExpireAccessTokens makes every access token issued so far invalid (the
// fault switch for expired tokens); clients get 401 until they fetch a new
// one.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	// Tokens carry whole seconds; the next second's tokens are good.
	s.tokensAfter = s.now().Truncate(time.Second).Add(time.Second)
	s.mu.Unlock()
}

func (s *Server) authenticate(r *http.Request) (*principal, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, false
	}
	return s.principalOf(strings.TrimSpace(tok))
}

// entraError writes Entra ID's error JSON.
func (s *Server) entraError(w http.ResponseWriter, status int, code string, aadsts int, desc string) {
	now := s.now().UTC()
	trace, corr := newGUID(), newGUID()
	stamp := now.Format("2006-01-02 15:04:05Z")
	full := fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", aadsts, desc, trace, corr, stamp)
	body, _ := json.Marshal(struct {
		Error         string `json:"error"`
		Description   string `json:"error_description"`
		Codes         []int  `json:"error_codes"`
		Timestamp     string `json:"timestamp"`
		TraceID       string `json:"trace_id"`
		CorrelationID string `json:"correlation_id"`
		URI           string `json:"error_uri"`
	}{code, full, []int{aadsts}, stamp, trace, corr, fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", aadsts)})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.WriteHeader(status)
	w.Write(body)
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, tenant string) {
	if s.opts.Tenant != "" && !strings.EqualFold(tenant, s.opts.Tenant) {
		s.entraError(w, http.StatusBadRequest, "invalid_request", 90002,
			fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.entraError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	f := r.PostForm
	if gt := f.Get("grant_type"); gt != "client_credentials" {
		if gt == "" {
			s.entraError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		} else {
			s.entraError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%s'.", gt))
		}
		return
	}
	id, secret := f.Get("client_id"), f.Get("client_secret")
	if bid, bsecret, ok := r.BasicAuth(); ok {
		id, secret = bid, bsecret
	}
	if id == "" {
		s.entraError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return
	}
	scope := f.Get("scope")
	if !strings.HasSuffix(scope, "/.default") {
		s.entraError(w, http.StatusBadRequest, "invalid_scope", 1002012,
			fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope))
		return
	}
	var client *Client
	for i := range s.opts.Clients {
		if s.opts.Clients[i].ID == id {
			client = &s.opts.Clients[i]
		}
	}
	if client == nil {
		s.entraError(w, http.StatusBadRequest, "unauthorized_client", 700016,
			fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", id, tenant))
		return
	}
	if secret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(client.Secret)) != 1 {
		// Entra answers a wrong secret with 401 (CHOICES.md).
		s.entraError(w, http.StatusUnauthorized, "invalid_client", 7000215,
			fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", id))
		return
	}
	p := s.users[id]
	aud := strings.TrimSuffix(scope, "/.default")
	tok := s.issueToken(p, aud, tenant, s.now())
	secs := int(s.opts.TokenLifetime / time.Second)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":%d,"ext_expires_in":%d,"access_token":"%s"}`, secs, secs, tok)
}
