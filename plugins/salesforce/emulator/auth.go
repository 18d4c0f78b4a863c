package emulator

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// IssueRefreshToken returns a refresh token for username, for the
// refresh_token grant.
func (s *Server) IssueRefreshToken(username string) string {
	t := "5Aep" + randomToken(32)
	s.mu.Lock()
	s.refresh[t] = username
	s.mu.Unlock()
	return t
}

func tokenError(w http.ResponseWriter, code, desc string) {
	writeJSON(w, 400, map[string]string{"error": code, "error_description": desc})
}

// token is POST /services/oauth2/token.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeJSON(w, 405, errf(405, "METHOD_NOT_ALLOWED", "HTTP Method '%s' not allowed. Allowed are POST", r.Method).body())
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		tokenError(w, "invalid_request", "invalid request body")
		return
	}
	f := r.PostForm
	var username string
	switch f.Get("grant_type") {
	case "password":
		if f.Get("client_id") != DefaultClientID || f.Get("client_secret") != DefaultClientSecret {
			tokenError(w, "invalid_client", "invalid client credentials")
			return
		}
		username = f.Get("username")
		if !s.validUser(r, username) || f.Get("password") != DefaultPassword {
			tokenError(w, "invalid_grant", "authentication failure")
			return
		}
	case "client_credentials":
		if f.Get("client_id") != DefaultClientID || f.Get("client_secret") != DefaultClientSecret {
			tokenError(w, "invalid_client", "invalid client credentials")
			return
		}
		username = DefaultUsername
	case "refresh_token":
		if id := f.Get("client_id"); id != "" && id != DefaultClientID {
			tokenError(w, "invalid_client", "invalid client credentials")
			return
		}
		s.mu.Lock()
		username = s.refresh[f.Get("refresh_token")]
		s.mu.Unlock()
		if username == "" || !s.validUser(r, username) {
			tokenError(w, "invalid_grant", "expired access/refresh token")
			return
		}
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		u, code, desc := s.verifyAssertion(r, f.Get("assertion"))
		if code != "" {
			tokenError(w, code, desc)
			return
		}
		username = u
	case "":
		tokenError(w, "unsupported_grant_type", "grant type not supported")
		return
	default:
		tokenError(w, "unsupported_grant_type", "grant type not supported")
		return
	}
	userID := s.userID(r, username)
	access := OrgID[:15] + "!" + randomToken(48)
	now := s.now()
	s.mu.Lock()
	s.sessions[access] = &session{username: username, userID: userID, expires: now.Add(s.opts.TokenTTL)}
	s.mu.Unlock()
	inst := s.instanceURL(r)
	id := inst + "/id/" + OrgID + "/" + userID
	issued := strconv.FormatInt(now.UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(DefaultClientSecret))
	mac.Write([]byte(id + issued))
	sig := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	s.log.Debug("token issued", "grant", f.Get("grant_type"), "user", username)
	w.Header().Set("Cache-Control", "no-cache,must-revalidate,max-age=0,no-store,private")
	writeJSON(w, 200, map[string]string{"access_token": access, "instance_url": inst, "id": id,
		"token_type": "Bearer", "issued_at": issued, "signature": sig})
}

func (s *Server) instanceURL(r *http.Request) string {
	if s.opts.InstanceURL != "" {
		return strings.TrimRight(s.opts.InstanceURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) validUser(r *http.Request, username string) bool {
	return username != "" && s.userID(r, username) != ""
}

// userID is the id of an active user by username ("" when none).
func (s *Server) userID(r *http.Request, username string) string {
	c, err := s.st.read(r.Context())
	if err != nil {
		return ""
	}
	defer s.st.release(c)
	id, _, err := c.queryText(`SELECT "Id" FROM "User" WHERE "Username" = ?1 AND "IsActive" = 1 AND "IsDeleted" = 0`, username)
	if err != nil {
		return ""
	}
	return id
}

// verifyAssertion checks a jwt-bearer assertion: RS256 signed by the
// configured key, iss the client id, sub an active user, aud present, exp
// in the future.
func (s *Server) verifyAssertion(r *http.Request, assertion string) (string, string, string) {
	if s.opts.JWTPublicKey == nil || assertion == "" {
		return "", "invalid_grant", "invalid assertion"
	}
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(assertion, &claims, func(*jwt.Token) (any, error) { return s.opts.JWTPublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(s.now), jwt.WithExpirationRequired())
	if err != nil {
		return "", "invalid_grant", "invalid assertion"
	}
	if claims.Issuer != DefaultClientID {
		return "", "invalid_client_id", "client identifier invalid"
	}
	if len(claims.Audience) == 0 {
		return "", "invalid_grant", "audience is invalid"
	}
	if !s.validUser(r, claims.Subject) {
		return "", "invalid_grant", "user hasn't approved this consumer"
	}
	return claims.Subject, "", ""
}

// authorize returns the request's live session, or nil.
func (s *Server) authorize(r *http.Request) *session {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(h, "OAuth ")
	}
	if !ok || tok == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessions[tok]
	if sess == nil {
		return nil
	}
	if !s.now().Before(sess.expires) {
		delete(s.sessions, tok)
		return nil
	}
	return sess
}
