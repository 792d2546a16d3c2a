package deconflict

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Egress is the rule of contract section 8 for where webhook deliveries may
// go. By default an address is refused when it is loopback, link-local,
// private (RFC 1918, RFC 4193), multicast or unspecified, or one of a few
// other ranges that are never a party's public receiver: 0.0.0.0/8 ("this
// network"), 100.64.0.0/10 (carrier-grade NAT, RFC 6598), 192.0.0.0/24
// (IETF protocol assignments), 198.18.0.0/15 (benchmarking, often used
// inside networks), 240.0.0.0/4 (reserved, with the broadcast address)
// and the deprecated IPv6 site-local fec0::/10. An IPv4-mapped, NAT64
// (64:ff9b::/96) or 6to4 (2002::/16) IPv6 address is judged by the IPv4
// address inside it. IPv6 forms whose IPv4 address a network may
// translate to but this rule cannot judge are refused: IPv4-compatible
// (::/96) and IPv4-translated (::ffff:0:0:0/96) addresses, the local-use
// NAT64 prefix 64:ff9b:1::/48 (where the address sits depends on the
// network) and Teredo (2001::/32). Allow lists ranges that are permitted all the same
// (`serve --webhook-allow`), such as a party's own network or 127.0.0.0/8
// for tests on one machine.
//
// The rule is checked twice: on the URL when a head puts a webhook (an IP
// literal that is refused is a 400, field url), and on every address a
// delivery actually dials, after DNS, so a name that resolves to a
// refused address fails its delivery.
type Egress struct {
	Allow []netip.Prefix
}

var refusedRanges = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("fec0::/10"),
	netip.MustParsePrefix("::/96"),
	netip.MustParsePrefix("::ffff:0:0:0/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2001::/32"),
}

var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4 = netip.MustParsePrefix("2002::/16")
)

// Permits reports whether a delivery may connect to ip.
func (e Egress) Permits(ip netip.Addr) bool {
	ip = ip.WithZone("").Unmap()
	for _, p := range e.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	if refusedAddr(ip) {
		return false
	}
	if ip.Is6() && nat64.Contains(ip) {
		b := ip.As16()
		return Egress{Allow: e.Allow}.Permits(netip.AddrFrom4([4]byte(b[12:16])))
	}
	if ip.Is6() && sixTo4.Contains(ip) {
		b := ip.As16()
		return Egress{Allow: e.Allow}.Permits(netip.AddrFrom4([4]byte(b[2:6])))
	}
	return true
}

func refusedAddr(ip netip.Addr) bool {
	if !ip.IsValid() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsPrivate() || ip.IsUnspecified() {
		return true
	}
	for _, p := range refusedRanges {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// CheckURL returns an error naming field url when the host of the webhook
// URL raw is an IP address that Permits refuses. A host name is not looked
// up here: its addresses are checked when a delivery dials them.
func (e Egress) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return FieldErrorf(EInvalid, "url", "url must be an absolute http or https URL")
	}
	ip, ok := HostAddr(u.Hostname())
	if ok && !e.Permits(ip) {
		return FieldErrorf(EInvalid, "url", "url points to an address webhooks may not reach (loopback, link-local, private, multicast or unspecified); the server's operator can allow ranges with serve --webhook-allow")
	}
	return nil
}

// HostAddr parses the host of a URL as an IP address the way resolvers do:
// an IPv6 literal (with or without a zone), or an IPv4 address in any of
// the forms inet_aton accepts — one to four parts, each decimal, octal
// (leading 0) or hexadecimal (0x), such as 127.1, 2130706433, 0x7f.1 or
// 0177.0.0.1 — with or without a trailing dot. ok is false for a name.
func HostAddr(host string) (ip netip.Addr, ok bool) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip, true
	}
	if strings.Contains(host, ":") {
		return netip.Addr{}, false
	}
	return parseInetAton(strings.TrimSuffix(host, "."))
}

// parseInetAton parses the IPv4 forms of inet_aton(3).
func parseInetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if s == "" || len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		base, digits := 10, p
		switch {
		case len(p) > 1 && (p[:2] == "0x" || p[:2] == "0X"):
			base, digits = 16, p[2:]
			if digits == "" { // "0x" alone is 0 to inet_aton
				digits = "0"
			}
		case len(p) > 1 && p[0] == '0':
			base, digits = 8, p[1:]
		}
		if digits == "" || digits[0] == '+' || digits[0] == '-' {
			return netip.Addr{}, false
		}
		v, err := strconv.ParseUint(digits, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	// The last part fills the bytes the others leave.
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 0xff {
			return netip.Addr{}, false
		}
		n |= v << (24 - 8*i)
	}
	last := vals[len(vals)-1]
	if last >= 1<<(32-8*(len(vals)-1)) {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

// ParseEgressAllow parses the value of `serve --webhook-allow`: CIDR ranges
// or single addresses separated by commas ("127.0.0.0/8,::1"). Spaces
// around each are ignored and an empty value allows nothing. Host bits are
// cleared (10.1.2.3/8 is 10.0.0.0/8) and an IPv4-mapped IPv6 range is the
// IPv4 range it maps.
func ParseEgressAllow(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		var (
			p   netip.Prefix
			err error
		)
		if strings.Contains(part, "/") {
			p, err = netip.ParsePrefix(part)
		} else {
			var ip netip.Addr
			if ip, err = netip.ParseAddr(part); err == nil {
				if ip.Zone() != "" {
					err = fmt.Errorf("a zone is not allowed")
				}
				p = netip.PrefixFrom(ip, ip.BitLen())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR range: %w", part, err)
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
