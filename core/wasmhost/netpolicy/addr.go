package netpolicy

import (
	"fmt"
	"net/netip"
)

// addrClass says why an address is not an ordinary public unicast address.
type addrClass struct {
	// what names the range for an error message ("private", "loopback", …);
	// empty for a public address.
	what string
	// never is set for addresses no TCP connection should go to whatever
	// the policy says (multicast, broadcast).
	never bool
}

func (c addrClass) public() bool { return c.what == "" }

type prefixClass struct {
	prefix netip.Prefix
	class  addrClass
}

// special lists the non-public ranges. They are refused unless the admin set
// AllowPrivate, because a plugin that can reach them can reach the host's own
// services (loopback), the office or cluster network (RFC 1918, unique local,
// CGNAT), or a cloud metadata service holding credentials (link-local
// 169.254.169.254). Documentation ranges (192.0.2.0/24, 2001:db8::/32) are
// not listed: nothing answers there, so they are harmless.
var special = func() []prefixClass {
	var out []prefixClass
	add := func(cidr, what string, never bool) {
		out = append(out, prefixClass{netip.MustParsePrefix(cidr), addrClass{what, never}})
	}
	// IPv4.
	add("0.0.0.0/8", "unspecified", false) // "this network"; 0.0.0.0 dials the local host on Linux
	add("10.0.0.0/8", "private", false)
	add("100.64.0.0/10", "carrier-grade NAT", false)
	add("127.0.0.0/8", "loopback", false)
	add("169.254.0.0/16", "link-local", false)
	add("172.16.0.0/12", "private", false)
	add("192.0.0.0/24", "reserved", false)
	add("192.168.0.0/16", "private", false)
	add("198.18.0.0/15", "reserved (benchmarking)", false)
	add("224.0.0.0/4", "multicast", true)
	add("255.255.255.255/32", "broadcast", true)
	add("240.0.0.0/4", "reserved", false)
	// IPv6 (IPv4-mapped addresses are unmapped before the lookup).
	add("::/128", "unspecified", false)
	add("::1/128", "loopback", false)
	add("::/96", "reserved (IPv4-compatible)", false)
	add("64:ff9b:1::/48", "private (local-use NAT64)", false)
	add("100::/64", "reserved (discard-only)", false)
	add("2001::/32", "reserved (Teredo tunnel)", false)
	add("fc00::/7", "private", false)
	add("fe80::/10", "link-local", false)
	add("fec0::/10", "private (site-local)", false)
	add("ff00::/8", "multicast", true)
	return out
}()

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// classify says whether a is public, and if not, what it is. Addresses that
// embed an IPv4 address and are routed to it by a translator (NAT64
// 64:ff9b::/96, 6to4 2002::/16) are judged by the embedded address, so
// 64:ff9b::a00:5 is as private as 10.0.0.5.
func classify(a netip.Addr) addrClass {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		b := a.As16()
		var v4 netip.Addr
		switch {
		case nat64.Contains(a):
			v4 = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
		case sixToFour.Contains(a):
			v4 = netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
		}
		if v4.IsValid() {
			c := classify(v4)
			if !c.public() {
				c.what = fmt.Sprintf("%s (embeds %s)", c.what, v4)
			}
			return c
		}
	}
	for _, s := range special {
		if s.prefix.Contains(a) {
			return s.class
		}
	}
	return addrClass{}
}

// article returns "a" or "an" for a class name in a sentence.
func article(what string) string {
	switch what[0] {
	case 'a', 'e', 'i', 'o', 'u':
		return "an"
	}
	return "a"
}
