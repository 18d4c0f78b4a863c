package netpolicy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Rule is one allow-list entry: a scheme, a host and a port a plugin may
// reach. It is deliberately no finer (no paths): a path prefix is trivially
// escaped with "..", encodings or redirects, and an admin reasons about
// destinations as origins.
type Rule struct {
	// Scheme is "http" or "https".
	Scheme string
	// Host is an exact host name, an IP address, or "*.example.com", which
	// matches every name under example.com (any depth) but not example.com
	// itself. Names are compared case-insensitively, ignoring a trailing dot.
	Host string
	// Port is the TCP port; 0 means the scheme's default (80 or 443).
	Port int
}

// ParseRule parses an allow-list entry from configuration, written as
// scheme://host[:port]: "https://api.example.com", "https://*.example.com",
// "http://127.0.0.1:8080", "http://[::1]:8080". The returned rule has an
// explicit port and a normalised (lower-case) host. Anything beyond scheme,
// host and port (a path, a query, user:password@) is an error, so that an
// admin who writes one does not believe it restricts or authenticates
// anything.
func ParseRule(s string) (Rule, error) {
	in := strings.TrimSpace(s)
	fail := func(format string, args ...any) (Rule, error) {
		return Rule{}, fmt.Errorf("allow-list entry %q: %s", s, fmt.Sprintf(format, args...))
	}
	if in == "" {
		return fail("is empty")
	}
	if !strings.Contains(in, "://") {
		if scheme, rest, ok := strings.Cut(in, ":"); ok && (strings.EqualFold(scheme, "http") || strings.EqualFold(scheme, "https")) {
			return fail("has no host; write it as %q", strings.ToLower(scheme)+"://"+strings.TrimLeft(rest, "/"))
		}
		return fail("has no scheme; write it as %q", "https://"+in)
	}
	u, err := url.Parse(in)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail("is not a URL (%v)", err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return fail("scheme %q is not supported; use http or https", u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" {
		return fail("has no host")
	}
	if u.User != nil {
		return fail("contains user information (user:password@); credentials are configured separately and never belong in a URL")
	}
	if u.Path != "" && u.Path != "/" {
		return fail("has a path %q; an entry names only scheme, host and port", u.Path)
	}
	if u.RawQuery != "" || u.ForceQuery {
		return fail("has a query; an entry names only scheme, host and port")
	}
	if u.Fragment != "" {
		return fail("has a fragment; an entry names only scheme, host and port")
	}
	port := 0
	if strings.HasSuffix(u.Host, ":") {
		return fail("has an empty port after the colon")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return fail("port %q is not in 1..65535", p)
		}
		port = n
	}
	r, err := Rule{Scheme: scheme, Host: u.Hostname(), Port: port}.normalize()
	if err != nil {
		return fail("%v", err)
	}
	return r, nil
}

// ParseRules parses a list of entries with [ParseRule] and reports every bad
// one, not just the first.
func ParseRules(entries []string) ([]Rule, error) {
	var rules []Rule
	var errs []error
	for _, e := range entries {
		r, err := ParseRule(e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rules = append(rules, r)
	}
	return rules, errors.Join(errs...)
}

// String formats the rule as scheme://host:port, always with the port, the
// form ParseRule reads back.
func (r Rule) String() string {
	port := r.Port
	if port == 0 {
		port = defaultPort(r.Scheme)
	}
	return r.Scheme + "://" + net.JoinHostPort(r.Host, strconv.Itoa(port))
}

// normalize checks a rule (possibly written as a Go literal rather than
// parsed) and returns it with a lower-case scheme and host and an explicit
// port.
func (r Rule) normalize() (Rule, error) {
	scheme := strings.ToLower(r.Scheme)
	if scheme != "http" && scheme != "https" {
		return Rule{}, fmt.Errorf("scheme %q is not supported; use http or https", r.Scheme)
	}
	if r.Port < 0 || r.Port > 65535 {
		return Rule{}, fmt.Errorf("port %d is not in 1..65535", r.Port)
	}
	port := r.Port
	if port == 0 {
		port = defaultPort(scheme)
	}
	h := strings.TrimSuffix(strings.TrimPrefix(r.Host, "["), "]")
	var host string
	if rest, ok := strings.CutPrefix(h, "*."); ok {
		name, err := normalizeName(rest)
		if err != nil {
			return Rule{}, fmt.Errorf("wildcard host %q: %v", r.Host, err)
		}
		if !strings.Contains(name, ".") {
			return Rule{}, fmt.Errorf("wildcard host %q is too broad; name a domain with at least two labels, as *.example.com", r.Host)
		}
		host = "*." + name
	} else {
		if strings.Contains(h, "*") {
			return Rule{}, fmt.Errorf("host %q: a wildcard may only be the whole first label, as *.example.com", r.Host)
		}
		var err error
		if host, err = normalizeHost(h); err != nil {
			return Rule{}, err
		}
	}
	return Rule{Scheme: scheme, Host: host, Port: port}, nil
}

// matches reports whether a normalised rule allows a normalised destination.
func (r Rule) matches(scheme, host string, port int) bool {
	if r.Scheme != scheme || r.Port != port {
		return false
	}
	return r.matchesHost(host)
}

func (r Rule) matchesHost(host string) bool {
	if suffix, ok := strings.CutPrefix(r.Host, "*"); ok {
		// suffix is ".example.com": at least one label must precede it, and
		// an IP address is never matched by a name pattern.
		return len(host) > len(suffix) && strings.HasSuffix(host, suffix) && !isIP(host)
	}
	return host == r.Host
}

func defaultPort(scheme string) int {
	if scheme == "https" {
		return 443
	}
	return 80
}

func isIP(host string) bool {
	_, err := netip.ParseAddr(host)
	return err == nil
}

// normalizeHost returns the canonical form of a host from a rule or a URL:
// an IP address in its standard text form (zones refused: they name a local
// interface, not a destination), or a lower-case DNS name without a trailing
// dot.
func normalizeHost(h string) (string, error) {
	if h == "" {
		return "", errors.New("has no host")
	}
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Zone() != "" {
			return "", fmt.Errorf("IP address %q has a zone; name a destination, not an interface", h)
		}
		return a.Unmap().String(), nil
	}
	return normalizeName(h)
}

// normalizeName checks a DNS host name: ASCII letters, digits, '-' and '_'
// in dot-separated labels of 1 to 63 characters. Non-ASCII names must be
// written in their punycode (xn--) form so that what the admin reads is what
// is compared. A name whose last label is all digits is refused: it is no
// DNS name, and resolvers treat forms like "127.1" or "2130706433" as IPv4
// addresses, which would slip past an IP-based allow-list entry.
func normalizeName(h string) (string, error) {
	name := strings.ToLower(strings.TrimSuffix(h, "."))
	if name == "" {
		return "", fmt.Errorf("host %q is empty", h)
	}
	if len(name) > 253 {
		return "", fmt.Errorf("host name is longer than 253 characters")
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" {
			return "", fmt.Errorf("host %q has an empty label", h)
		}
		if len(l) > 63 {
			return "", fmt.Errorf("host %q has a label longer than 63 characters", h)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
			case c == '-':
				if i == 0 || i == len(l)-1 {
					return "", fmt.Errorf("host %q has a label starting or ending with '-'", h)
				}
			case c >= 0x80:
				return "", fmt.Errorf("host %q is not ASCII; write it in punycode (xn--...) form", h)
			default:
				return "", fmt.Errorf("host %q contains %q, which is not allowed in a host name", h, string(rune(c)))
			}
		}
	}
	last := labels[len(labels)-1]
	if strings.Trim(last, "0123456789") == "" || (strings.HasPrefix(last, "0x") && strings.Trim(last[2:], "0123456789abcdef") == "") {
		return "", fmt.Errorf("host %q is neither a valid IP address nor a host name", h)
	}
	return name, nil
}
