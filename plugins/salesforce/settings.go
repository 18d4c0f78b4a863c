package salesforce

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/sdk"
)

// Grants the connector signs in with (PROTOCOLS.md, "Salesforce REST",
// Auth). All go to {login_url}/services/oauth2/token; SOAP login is never
// used (it ends with API 65.0).
const (
	grantPassword          = "password"
	grantClientCredentials = "client_credentials"
	grantJWT               = "jwt"
	grantRefreshToken      = "refresh_token"
)

// Defaults and bounds of the settings.
const (
	defaultAPIVersion     = "60.0"
	defaultBatchSize      = 2000
	minBatchSize          = 200  // Sforce-Query-Options batchSize floor
	maxBatchSize          = 2000 // and ceiling
	defaultExternalID     = "FieldsyncId__c"
	defaultChangeIDField  = "FieldsyncChangeId__c"
	defaultOverlap        = 5 * time.Minute
	maxOverlap            = 24 * time.Hour
	defaultRetries        = 4
	defaultBackoff        = 500 * time.Millisecond
	defaultObjectsSetting = "Account,Contact,Opportunity"
)

// config is the parsed settings. Secrets (client_secret, password,
// private_key, refresh_token) live here and nowhere else; String never
// prints them.
type config struct {
	loginURL      *url.URL
	grant         string
	clientID      string
	clientSecret  string
	username      string
	password      string
	privateKey    string
	refreshToken  string
	apiVersion    string
	batchSize     int
	objects       []string
	externalID    string
	changeIDField string
	overlap       time.Duration
	retries       int
	backoff       time.Duration
}

// settingNames are the settings Factory knows; any other is refused so a
// typo does not silently fall back to a default.
var settingNames = []string{
	"login_url", "grant", "client_id", "client_secret", "username", "password",
	"private_key", "refresh_token", "api_version", "batch_size", "objects",
	"external_id_field", "change_id_field", "overlap", "retries", "retry_backoff",
}

// secretSettings are never echoed, not even their length.
var secretSettings = map[string]bool{"client_secret": true, "password": true, "private_key": true, "refresh_token": true}

func settingError(format string, args ...any) error {
	return sdk.Errorf(sdk.Permanent, "salesforce: "+format, args...)
}

// parseSettings checks the host's settings; every problem is a Permanent
// error naming the setting (and, for non-secrets, its value).
func parseSettings(s map[string]string) (*config, error) {
	for name := range s {
		if !slices.Contains(settingNames, name) {
			return nil, settingError("unknown setting %q (known: %s)", name, strings.Join(settingNames, ", "))
		}
	}
	get := func(name string) string { return strings.TrimSpace(s[name]) }
	cfg := &config{
		grant:         get("grant"),
		clientID:      get("client_id"),
		clientSecret:  s["client_secret"],
		username:      get("username"),
		password:      s["password"],
		privateKey:    s["private_key"],
		refreshToken:  strings.TrimSpace(s["refresh_token"]),
		apiVersion:    strings.TrimPrefix(get("api_version"), "v"),
		batchSize:     defaultBatchSize,
		externalID:    get("external_id_field"),
		changeIDField: get("change_id_field"),
		overlap:       defaultOverlap,
		retries:       defaultRetries,
		backoff:       defaultBackoff,
	}
	raw := get("login_url")
	if raw == "" {
		return nil, settingError("setting \"login_url\" is required (https://login.salesforce.com, a My Domain URL, or an emulator's URL)")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, settingError("setting \"login_url\" = %q is not an http(s) URL with a host", raw)
	}
	if u.User != nil {
		return nil, settingError("setting \"login_url\" carries credentials; use the grant's settings")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	cfg.loginURL = u

	need := func(names ...string) error {
		for _, n := range names {
			if strings.TrimSpace(s[n]) == "" {
				return settingError("grant %q needs setting %q", cfg.grant, n)
			}
		}
		return nil
	}
	switch cfg.grant {
	case grantPassword:
		err = need("client_id", "client_secret", "username", "password")
	case grantClientCredentials:
		err = need("client_id", "client_secret")
	case grantJWT:
		err = need("client_id", "username", "private_key")
	case grantRefreshToken:
		err = need("client_id", "refresh_token")
	case "":
		err = settingError("setting \"grant\" is required: one of password, client_credentials, jwt, refresh_token")
	default:
		err = settingError("setting \"grant\" = %q is not one of password, client_credentials, jwt, refresh_token", cfg.grant)
	}
	if err != nil {
		return nil, err
	}

	if cfg.apiVersion == "" {
		cfg.apiVersion = defaultAPIVersion
	}
	if !validAPIVersion(cfg.apiVersion) {
		return nil, settingError("setting \"api_version\" = %q is not a version like 60.0", s["api_version"])
	}
	if v := get("batch_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < minBatchSize || n > maxBatchSize {
			return nil, settingError("setting \"batch_size\" = %q is not a whole number from %d to %d", v, minBatchSize, maxBatchSize)
		}
		cfg.batchSize = n
	}
	objects := get("objects")
	if objects == "" {
		objects = defaultObjectsSetting
	}
	for _, o := range strings.Split(objects, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if !validName(o) {
			return nil, settingError("setting \"objects\" names %q, which is not an API name", o)
		}
		if !slices.Contains(cfg.objects, o) {
			cfg.objects = append(cfg.objects, o)
		}
	}
	if len(cfg.objects) == 0 {
		return nil, settingError("setting \"objects\" = %q names no object", s["objects"])
	}
	if cfg.externalID == "" {
		cfg.externalID = defaultExternalID
	}
	if cfg.changeIDField == "" {
		cfg.changeIDField = defaultChangeIDField
	}
	for _, n := range []string{"external_id_field", "change_id_field"} {
		v := cfg.externalID
		if n == "change_id_field" {
			v = cfg.changeIDField
		}
		if !validName(v) {
			return nil, settingError("setting %q = %q is not an API name", n, v)
		}
	}
	if cfg.externalID == cfg.changeIDField {
		return nil, settingError("settings \"external_id_field\" and \"change_id_field\" name the same field %q", cfg.externalID)
	}
	if v := get("overlap"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > maxOverlap {
			return nil, settingError("setting \"overlap\" = %q is not a duration from 0 to %v", v, maxOverlap)
		}
		cfg.overlap = d
	}
	if v := get("retries"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 20 {
			return nil, settingError("setting \"retries\" = %q is not a whole number from 0 to 20", v)
		}
		cfg.retries = n
	}
	if v := get("retry_backoff"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > time.Minute {
			return nil, settingError("setting \"retry_backoff\" = %q is not a duration above 0 and at most 1m", v)
		}
		cfg.backoff = d
	}
	return cfg, nil
}

func validAPIVersion(v string) bool {
	major, minor, ok := strings.Cut(v, ".")
	if !ok || major == "" || minor == "" || len(v) > 8 {
		return false
	}
	for _, c := range major + minor {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// validName accepts Salesforce API names (letters, digits, underscores,
// starting with a letter): anything else could change a SOQL text or a URL
// path around it.
func validName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && (c == '_' || '0' <= c && c <= '9') {
			continue
		}
		return false
	}
	return true
}

// String describes the configuration without its secrets.
func (c *config) String() string {
	return fmt.Sprintf("login_url=%s grant=%s client_id=%s username=%s api_version=%s objects=%s", c.loginURL.Redacted(), c.grant, c.clientID, c.username, c.apiVersion, strings.Join(c.objects, ","))
}
