package model

import (
	"net/netip"
	"strings"
	"testing"
)

func FuzzNormalizeDomain(f *testing.F) {
	for _, s := range []string{
		"mysite.tn", "app.mysite.tn", "localhost", "127.0.0.1", "::1", "[::1]", "café.tn",
		"https://mysite.tn", "mysite.tn/dashboard", "*.mysite.tn", "mysite.tn:8443",
		"my_site.tn", "-a.tn", "a..b", "", "mysite.tn.", "ｍysite.tn", "mуsite.tn",
		"xn--caf-dma.tn", "xn--zz", "ab--cd.tn", "fe80::1%eth0", "127.1", "0x7f.1",
		"user@host", "\x1b[31m", "\xff", "ß.tn", "日本.jp", "a\u200db.tn",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := NormalizeDomain(in)
		if err != nil {
			de, ok := err.(*DomainError)
			if !ok || de.Problem == "" || de.Fix == "" || got != "" {
				t.Fatalf("NormalizeDomain(%q) = %q, %#v", in, got, err)
			}
			return
		}
		if got == "" || len(got) > MaxDomainLen {
			t.Fatalf("NormalizeDomain(%q) = %q: empty or too long", in, got)
		}
		for i := 0; i < len(got); i++ {
			c := got[i]
			ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == ':'
			if !ok {
				t.Fatalf("NormalizeDomain(%q) = %q: byte %q is not allowed", in, got, c)
			}
		}
		if strings.Contains(got, ":") {
			ip, err := netip.ParseAddr(got)
			if err != nil || !ip.Is6() || ip.String() != got {
				t.Fatalf("NormalizeDomain(%q) = %q: not a canonical IPv6 address", in, got)
			}
		} else {
			for _, label := range strings.Split(got, ".") {
				if label == "" || len(label) > MaxLabelLen || label[0] == '-' || label[len(label)-1] == '-' {
					t.Fatalf("NormalizeDomain(%q) = %q: bad label %q", in, got, label)
				}
			}
		}
		again, err := NormalizeDomain(got)
		if err != nil || again != got {
			t.Fatalf("NormalizeDomain(%q) = %q, but it re-normalises to %q, %v", in, got, again, err)
		}
	})
}
