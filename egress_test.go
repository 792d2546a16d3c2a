package deconflict

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// refusedOracle lists, independently of Permits, every range the egress
// rule refuses by default.
var refusedOracle = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
		"192.168.0.0/16", "224.0.0.0/4", "255.255.255.255/32", "192.0.0.0/24", "198.18.0.0/15", "240.0.0.0/4",
		"::/128", "::1/128", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
		"::/96", "::ffff:0:0:0/96", "64:ff9b:1::/48", "2001::/32",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

func oraclePermits(ip netip.Addr, allow []netip.Prefix) bool {
	ip = ip.WithZone("").Unmap()
	in := func(ps []netip.Prefix, a netip.Addr) bool {
		return slices.ContainsFunc(ps, func(p netip.Prefix) bool { return p.Contains(a) })
	}
	if in(allow, ip) {
		return true
	}
	if in(refusedOracle, ip) {
		return false
	}
	if netip.MustParsePrefix("64:ff9b::/96").Contains(ip) {
		b := ip.As16()
		return oraclePermits(netip.AddrFrom4([4]byte(b[12:])), allow)
	}
	if netip.MustParsePrefix("2002::/16").Contains(ip) {
		b := ip.As16()
		return oraclePermits(netip.AddrFrom4([4]byte(b[2:6])), allow)
	}
	return true
}

func TestEgressPermits(t *testing.T) {
	allow, err := ParseEgressAllow("127.0.0.0/8, 10.1.0.0/16")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ip          string
		def, listed bool
	}{
		{"127.0.0.1", false, true}, {"::ffff:127.0.0.1", false, true}, {"64:ff9b::7f00:1", false, true},
		{"10.1.2.3", false, true}, {"10.2.0.1", false, false}, {"::1", false, false}, {"169.254.169.254", false, false},
		{"fe80::1%eth0", false, false}, {"fd00::1", false, false}, {"224.0.0.1", false, false}, {"0.0.0.0", false, false},
		{"::", false, false}, {"100.100.100.100", false, false}, {"8.8.8.8", true, true}, {"2001:4860:4860::8888", true, true},
		{"64:ff9b::808:808", true, true},
		// IPv6 forms that carry an IPv4 address some networks translate
		// to: 6to4 is judged by the address inside; the deprecated
		// IPv4-compatible and IPv4-translated forms, the local-use NAT64
		// prefix (whose embedding depends on the network) and Teredo are
		// refused.
		{"2002:7f00:1::1", false, true}, {"2002:a9fe:a9fe::", false, false}, {"2002:a02:203::", false, false},
		{"2002:808:808::1", true, true}, {"::7f00:1", false, false}, {"::808:808", false, false},
		{"::ffff:0:7f00:1", false, false}, {"64:ff9b:1::7f00:1", false, false},
		{"2001:0:4136:e378:8000:63bf:80ff:fffe", false, false}, {"2001:db8::1", true, true},
		// IPv4 ranges that are never a public receiver.
		{"192.0.0.170", false, false}, {"198.18.0.1", false, false}, {"240.0.0.1", false, false},
		{"192.0.2.1", true, true}, {"198.51.100.1", true, true},
	} {
		ip := netip.MustParseAddr(c.ip)
		if got := (Egress{}).Permits(ip); got != c.def {
			t.Errorf("Permits(%s) = %v by default, want %v", c.ip, got, c.def)
		}
		if got := (Egress{Allow: allow}).Permits(ip); got != c.listed {
			t.Errorf("Permits(%s) = %v with %v, want %v", c.ip, got, allow, c.listed)
		}
	}
}

func TestHostAddr(t *testing.T) {
	for host, want := range map[string]string{
		"127.0.0.1": "127.0.0.1", "127.1": "127.0.0.1", "127.0.1": "127.0.0.1", "2130706433": "127.0.0.1",
		"0x7f000001": "127.0.0.1", "0x7F.1": "127.0.0.1", "0177.0.0.1": "127.0.0.1", "127.0.0.1.": "127.0.0.1",
		"0": "0.0.0.0", "10.0x10.0377.1": "10.16.255.1", "::1": "::1", "fe80::1%eth0": "fe80::1%eth0",
		"example.com": "", "1.2.3.4.5": "", "256.1.1.1": "", "1.256.1.1": "", "1.2.65536": "", "4294967296": "",
		"08.1.1.1": "", "1.2.3.-4": "", "": "", ".": "", "1..2": "", "0x": "0.0.0.0", "+1": "",
	} {
		ip, ok := HostAddr(host)
		if got := map[bool]string{true: ip.String(), false: ""}[ok]; got != want {
			t.Errorf("HostAddr(%q) = %q, want %q", host, got, want)
		}
	}
}

func TestParseEgressAllow(t *testing.T) {
	got, err := ParseEgressAllow(" 127.0.0.0/8 ,::1, 10.1.2.3/16,,::ffff:192.168.0.0/112 ")
	if err != nil {
		t.Fatal(err)
	}
	if s := prefixes(got); s != "127.0.0.0/8,::1/128,10.1.0.0/16,192.168.0.0/16" {
		t.Fatalf("parsed %s", s)
	}
	for _, bad := range []string{"127.0.0.0/33", "localhost", "10.0.0.0/8;", "fe80::1%eth0", "1.2.3", "::/129"} {
		if _, err := ParseEgressAllow(bad); err == nil {
			t.Errorf("ParseEgressAllow(%q) accepted", bad)
		}
	}
}

func prefixes(ps []netip.Prefix) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.String())
	}
	return strings.Join(s, ",")
}

// FuzzParseEgressAllow: any input parses or is refused without a panic;
// what parses is masked and parses again to the same ranges.
func FuzzParseEgressAllow(f *testing.F) {
	for _, s := range []string{"", "127.0.0.0/8", "127.0.0.0/8,::1", "10.1.2.3/8", "::ffff:10.0.0.0/104", "fe80::/10", " , ", "1.2.3.4/33", "a,b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := ParseEgressAllow(s)
		if err != nil {
			return
		}
		for _, p := range ps {
			if !p.IsValid() || p != p.Masked() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
				t.Fatalf("ParseEgressAllow(%q) gave %v", s, p)
			}
		}
		again, err := ParseEgressAllow(prefixes(ps))
		if err != nil || !slices.Equal(again, ps) {
			t.Fatalf("ParseEgressAllow(%q) = %v; again %v, %v", s, ps, again, err)
		}
	})
}

// FuzzHostAddr: a host that parses as an address is judged as that
// address by CheckURL, and Permits agrees with the independent oracle.
func FuzzHostAddr(f *testing.F) {
	for _, s := range []string{"127.1", "2130706433", "0x7f.1", "0177.0.0.1", "::ffff:127.0.0.1", "64:ff9b::a00:1", "example.com", "8.8.8.8", "fe80::1%eth0", "1.2.3.4."} {
		f.Add(s)
	}
	allow := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}
	f.Fuzz(func(t *testing.T, host string) {
		ip, ok := HostAddr(host)
		if !ok {
			return
		}
		if ip.Is4() {
			if again, ok := HostAddr(ip.String()); !ok || again != ip {
				t.Fatalf("HostAddr(%q) = %v, of its text %v", host, ip, again)
			}
		}
		for _, e := range []Egress{{}, {Allow: allow}} {
			if got, want := e.Permits(ip), oraclePermits(ip, e.Allow); got != want {
				t.Fatalf("Permits(%v) = %v, oracle %v", ip, got, want)
			}
			if ip.Is4() && !e.Permits(ip) && e.CheckURL("http://"+host+"/") == nil && !strings.ContainsAny(host, "/?#@[]") {
				t.Fatalf("CheckURL accepts %q (%v)", host, ip)
			}
		}
	})
}
