package emulator

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Paging cookies ($skiptoken) and delta tokens ($deltatoken).
//
// A $skiptoken looks like Dataverse's (Microsoft: "Page results using
// OData"):
//
//	<cookie pagenumber="2" pagingcookie="%3ccookie%20page%3d%221%22%3e%3caccountid%20last%3d%22%7b…%7d%22%20first%3d%22%7b…%7d%22%20%2f%3e%3c%2fcookie%3e" istracking="False" />
//
// The emulator's own state rides in extra attributes of the outer cookie:
// datatoken (the delta token the last page of a change-tracking read
// hands out, fixed when its first page was read), and, for a paged delta
// read, phase (0 changed rows, 1 deleted rows) and lastversion. Clients
// treat the whole value as opaque.
//
// A $deltatoken is "<version>!<MM/dd/yyyy HH:mm:ss>" (UTC), the version
// being the row-version clock when the token was made; it looks like the
// documented "919042!08/22/2017 08:10:44".

type pageCookie struct {
	page        int
	last        string // last primary key sent (lower-case GUID)
	first       string
	tracking    bool
	token       deltaToken // tracking: the token for the final deltaLink
	hasToken    bool
	phase       int   // delta paging: 0 changed rows, 1 deletes
	lastVersion int64 // delta paging: last version sent in the phase
}

type deltaToken struct {
	version int64
	stamp   time.Time
}

const deltaStampLayout = "01/02/2006 15:04:05"

func (t deltaToken) String() string {
	return strconv.FormatInt(t.version, 10) + "!" + t.stamp.UTC().Format(deltaStampLayout)
}

func parseDeltaToken(s string) (deltaToken, bool) {
	v, stamp, ok := strings.Cut(s, "!")
	if !ok {
		return deltaToken{}, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return deltaToken{}, false
	}
	t, err := time.Parse(deltaStampLayout, stamp)
	if err != nil {
		return deltaToken{}, false
	}
	return deltaToken{version: n, stamp: t}, true
}

// escapeQuery percent-encodes everything but unreserved characters, with
// lower-case hex as Dataverse writes it.
func escapeQuery(s string) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}

func braceGUID(g string) string { return "{" + strings.ToUpper(g) + "}" }

func (c pageCookie) String(pk string) string {
	inner := fmt.Sprintf(`<cookie page="%d"><%s last="%s" first="%s" /></cookie>`, c.page-1, pk, braceGUID(c.last), braceGUID(c.first))
	if c.last == "" {
		inner = fmt.Sprintf(`<cookie page="%d" />`, c.page-1)
	}
	tracking := "False"
	if c.tracking {
		tracking = "True"
	}
	out := fmt.Sprintf(`<cookie pagenumber="%d" pagingcookie="%s" istracking="%s"`, c.page, escapeQuery(inner), tracking)
	if c.hasToken {
		out += fmt.Sprintf(` datatoken="%s"`, c.token)
		out += fmt.Sprintf(` phase="%d" lastversion="%d"`, c.phase, c.lastVersion)
	}
	return out + " />"
}

// xmlAttrs reads name="value" pairs from a cookie element; it is lenient
// about layout and strict about quoting.
func xmlAttrs(s string) (map[string]string, bool) {
	out := map[string]string{}
	for {
		eq := strings.Index(s, `="`)
		if eq < 0 {
			return out, true
		}
		name := s[:eq]
		if i := strings.LastIndexAny(name, " <"); i >= 0 {
			name = name[i+1:]
		}
		rest := s[eq+2:]
		end := strings.IndexByte(rest, '"')
		if end < 0 {
			return nil, false
		}
		if len(out) > 32 {
			return nil, false
		}
		out[name] = rest[:end]
		s = rest[end+1:]
	}
}

func badSkipToken() *apiError {
	return badRequest(codeQuery, "The $skiptoken value is not valid; use the @odata.nextLink as it was returned.")
}

// parsePageCookie reads a $skiptoken (already query-decoded).
func parsePageCookie(s, pk string) (pageCookie, error) {
	var c pageCookie
	if !strings.HasPrefix(s, "<cookie") || len(s) > 4096 {
		return c, badSkipToken()
	}
	attrs, ok := xmlAttrs(s)
	if !ok {
		return c, badSkipToken()
	}
	page, err := strconv.Atoi(attrs["pagenumber"])
	if err != nil || page < 2 {
		return c, badSkipToken()
	}
	c.page = page
	c.tracking = attrs["istracking"] == "True"
	inner, err := url.PathUnescape(attrs["pagingcookie"])
	if err != nil {
		return c, badSkipToken()
	}
	if in, ok := xmlAttrs(inner); ok && in["last"] != "" {
		if !strings.Contains(inner, "<"+pk+" ") {
			return c, badSkipToken()
		}
		c.last, ok = parseGUID(in["last"])
		if !ok {
			return c, badSkipToken()
		}
		c.first, _ = parseGUID(in["first"])
	}
	if dt := attrs["datatoken"]; dt != "" {
		c.token, ok = parseDeltaToken(dt)
		if !ok {
			return c, badSkipToken()
		}
		c.hasToken = true
		c.phase, err = strconv.Atoi(attrs["phase"])
		if err != nil || c.phase < 0 || c.phase > 1 {
			return c, badSkipToken()
		}
		c.lastVersion, err = strconv.ParseInt(attrs["lastversion"], 10, 64)
		if err != nil {
			return c, badSkipToken()
		}
	}
	return c, nil
}

// linkQuery returns the raw query of r without the given system query
// options, so a nextLink repeats the client's options as it wrote them.
func linkQuery(raw string, drop ...string) string {
	var keep []string
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		key, _, _ := strings.Cut(part, "=")
		if k, err := url.QueryUnescape(key); err == nil {
			key = k
		}
		dropped := false
		for _, d := range drop {
			dropped = dropped || key == d
		}
		if !dropped {
			keep = append(keep, part)
		}
	}
	return strings.Join(keep, "&")
}
