package netpolicy

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseRule(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Rule
	}{
		{"https://api.example.com:443", Rule{"https", "api.example.com", 443}},
		{"https://api.example.com", Rule{"https", "api.example.com", 443}},
		{"https://api.example.com/", Rule{"https", "api.example.com", 443}},
		{"  HTTP://API.Example.COM.:8080  ", Rule{"http", "api.example.com", 8080}},
		{"http://127.0.0.1:8080", Rule{"http", "127.0.0.1", 8080}},
		{"http://[::1]:8080", Rule{"http", "::1", 8080}},
		{"http://[::ffff:10.0.0.1]", Rule{"http", "10.0.0.1", 80}},
		{"https://*.example.com", Rule{"https", "*.example.com", 443}},
		{"https://login_svc.example.com", Rule{"https", "login_svc.example.com", 443}},
		{"https://xn--bcher-kva.example", Rule{"https", "xn--bcher-kva.example", 443}},
	} {
		got, err := ParseRule(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseRule(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

func TestParseRuleErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "is empty"},
		{"api.example.com", `has no scheme; write it as "https://api.example.com"`},
		{"ftp://api.example.com", `scheme "ftp" is not supported`},
		{"https://", "has no host"},
		{"https:api.example.com", `has no host; write it as "https://api.example.com"`},
		{"https://user:pw@api.example.com", "user information"},
		{"https://api.example.com/v1", `has a path "/v1"`},
		{"https://api.example.com?x=1", "has a query"},
		{"https://api.example.com#x", "has a fragment"},
		{"https://api.example.com:", "empty port"},
		{"https://api.example.com:0", `port "0" is not in 1..65535`},
		{"https://api.example.com:70000", `port "70000" is not in 1..65535`},
		{"https://api.example.com:https", "is not a URL"},
		{"https://*.com", "too broad"},
		{"https://*", "wildcard"},
		{"https://api.*.example.com", "wildcard may only be the whole first label"},
		{"https://*api.example.com", "wildcard may only be the whole first label"},
		{"https://bücher.example", "punycode"},
		{"https://a..example.com", "empty label"},
		{"https://-a.example.com", "starting or ending with '-'"},
		{"http://127.1", "neither a valid IP address nor a host name"},
		{"http://2130706433", "neither a valid IP address nor a host name"},
		{"http://0x7f000001", "neither a valid IP address nor a host name"},
		{"http://[fe80::1%25eth0]", "has a zone"},
		{"https://" + strings.Repeat("a", 64) + ".com", "longer than 63"},
	} {
		_, err := ParseRule(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseRule(%q) error = %v; want it to contain %q", c.in, err, c.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), "allow-list entry ") {
			t.Errorf("ParseRule(%q) error %q does not name the entry", c.in, err)
		}
	}
}

func TestParseRules(t *testing.T) {
	rules, err := ParseRules([]string{"https://a.example.com", "ftp://b", "https://c.example.com", "nope"})
	if len(rules) != 2 || err == nil || !strings.Contains(err.Error(), "ftp://b") || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("ParseRules: %v, %v", rules, err)
	}
}

func TestRuleMatching(t *testing.T) {
	wild, _ := ParseRule("https://*.example.com")
	exact, _ := ParseRule("https://api.example.com")
	for _, c := range []struct {
		r      Rule
		host   string
		scheme string
		port   int
		want   bool
	}{
		{wild, "a.example.com", "https", 443, true},
		{wild, "a.b.example.com", "https", 443, true},
		{wild, "example.com", "https", 443, false},
		{wild, "badexample.com", "https", 443, false},
		{wild, "a.example.com", "http", 443, false},
		{wild, "a.example.com", "https", 8443, false},
		{exact, "api.example.com", "https", 443, true},
		{exact, "x.api.example.com", "https", 443, false},
	} {
		if got := c.r.matches(c.scheme, c.host, c.port); got != c.want {
			t.Errorf("%s matches %s://%s:%d = %v", c.r, c.scheme, c.host, c.port, got)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		addr, what string
		never      bool
	}{
		{"8.8.8.8", "", false},
		{"203.0.113.7", "", false},
		{"2606:4700::1111", "", false},
		{"10.0.0.5", "private", false},
		{"172.16.0.1", "private", false},
		{"172.32.0.1", "", false},
		{"192.168.1.1", "private", false},
		{"127.0.0.1", "loopback", false},
		{"127.255.255.254", "loopback", false},
		{"0.0.0.0", "unspecified", false},
		{"169.254.169.254", "link-local", false},
		{"100.64.0.1", "carrier-grade NAT", false},
		{"100.128.0.1", "", false},
		{"224.0.0.1", "multicast", true},
		{"255.255.255.255", "broadcast", true},
		{"::", "unspecified", false},
		{"::1", "loopback", false},
		{"::ffff:10.0.0.5", "private", false},
		{"::ffff:127.0.0.1", "loopback", false},
		{"fc00::1", "private", false},
		{"fd12:3456::1", "private", false},
		{"fe80::1", "link-local", false},
		{"ff02::1", "multicast", true},
		{"64:ff9b::a00:5", "private (embeds 10.0.0.5)", false},
		{"64:ff9b::808:808", "", false},
		{"2002:7f00:1::1", "loopback (embeds 127.0.0.1)", false},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "reserved (Teredo tunnel)", false},
	} {
		got := classify(netip.MustParseAddr(c.addr))
		if got.what != c.what || got.never != c.never {
			t.Errorf("classify(%s) = %+v; want %q never=%v", c.addr, got, c.what, c.never)
		}
	}
}

func TestRedactRaw(t *testing.T) {
	for in, want := range map[string]string{
		"http://u:p@h/x?q=1#f": `"http://h/x"`,
		"u:p@h/x":              `"h/x"`,
		"http://h/a@b":         `"http://h/a@b"`,
	} {
		if got := redactRaw(in); got != want {
			t.Errorf("redactRaw(%q) = %s; want %s", in, got, want)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{16 << 20: "16 MiB", 1024: "1 KiB", 1000: "1000 bytes", 3 << 30: "3 GiB", 1536: "1536 bytes"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q; want %q", n, got, want)
		}
	}
}

// FuzzParseRule: ParseRule never panics; what it accepts is normalised,
// round-trips through String, and matches its own host.
func FuzzParseRule(f *testing.F) {
	for _, s := range []string{
		"https://api.example.com:443", "http://127.0.0.1:8080", "http://[::1]:8080",
		"https://*.example.com", "api.example.com", "https://u:p@h", "https://h/p?q#f",
		"http://[fe80::1%25eth0]:80", "https://*.com", "http://127.1", "https://H.Example.COM.:0443",
		"http://[::ffff:1.2.3.4]", "https://xn--bcher-kva.example", "HTTPS://a_b.c:65535/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRule(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "allow-list entry ") {
				t.Fatalf("error %q does not name the entry", err)
			}
			return
		}
		if r.Scheme != "http" && r.Scheme != "https" {
			t.Fatalf("scheme %q accepted", r.Scheme)
		}
		if r.Port < 1 || r.Port > 65535 {
			t.Fatalf("port %d accepted", r.Port)
		}
		if r.Host == "" || r.Host != strings.ToLower(r.Host) || strings.HasSuffix(r.Host, ".") {
			t.Fatalf("host %q not normalised", r.Host)
		}
		if strings.Contains(strings.TrimPrefix(r.Host, "*."), "*") {
			t.Fatalf("host %q has a wildcard beyond the first label", r.Host)
		}
		back, err := ParseRule(r.String())
		if err != nil || back != r {
			t.Fatalf("%q parsed to %+v, whose String %q parses to %+v, %v", s, r, r.String(), back, err)
		}
		if n, err := r.normalize(); err != nil || n != r {
			t.Fatalf("normalize(%+v) = %+v, %v", r, n, err)
		}
		host := r.Host
		if strings.HasPrefix(host, "*.") {
			host = "x" + host[1:]
		}
		if !r.matches(r.Scheme, host, r.Port) {
			t.Fatalf("%s does not match its own host %s", r, host)
		}
	})
}
