package model

import (
	"strings"
	"testing"
)

func FuzzHeaderHost(f *testing.F) {
	for _, s := range []string{
		"https://mysite.tn", "http://localhost:5173", "http://[::1]:8080", "null", "",
		"https://mysite.tn@evil.com", "https://a@b@c/d", "//mysite.tn", "mysite.tn",
		"https://MYSITE.TN.", "https://ｍysite.tn", "https://[fe80::1%25eth0]",
		"https://mysite.tn:8443/x?y#z", "web+app://x", "https://[::ffff:127.0.0.1]",
		"https://a\\@b", "https://a%2eb", "https://mysite.tn\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		host, ok := HeaderHost(h)
		span, spanOK := hostSpan(h)
		if ok != spanOK {
			t.Fatalf("HeaderHost(%q) ok=%v but hostSpan ok=%v", h, ok, spanOK)
		}
		if !ok {
			if host != "" {
				t.Fatalf("HeaderHost(%q) = %q, false", h, host)
			}
			return
		}
		if host == "" {
			t.Fatalf("HeaderHost(%q) = \"\", true", h)
		}
		// Derived from a substring of h, lowercased.
		if !strings.Contains(h, span) || strings.ToLower(span) != host {
			t.Fatalf("HeaderHost(%q) = %q: not the lowercased substring %q", h, host, span)
		}
		if !strings.Contains(strings.ToLower(h), host) {
			t.Fatalf("HeaderHost(%q) = %q: not derived from the header", h, host)
		}
		for i := 0; i < len(host); i++ {
			c := host[i]
			if c >= 0x80 || c <= ' ' || c == 0x7f || ('A' <= c && c <= 'Z') || strings.IndexByte("@/?#%\\[]", c) >= 0 {
				t.Fatalf("HeaderHost(%q) = %q: byte %q not allowed", h, host, c)
			}
		}
		if strings.Contains(host, ":") && !strings.Contains(h, "["+span+"]") {
			t.Fatalf("HeaderHost(%q) = %q: a ':' outside an IPv6 literal in brackets", h, host)
		}
		// The host matches itself as a stored domain, and Decide agrees.
		if !MatchHost(host, host) {
			t.Fatalf("MatchHost(%q, itself) = false", host)
		}
		d := Decide(GateInput{HTTPS: true, Key: keyWith(Active, host), APIKeys: []string{goodSecret}, Origin: h})
		if !d.Allowed() || d.Host != span {
			t.Fatalf("Decide with Origin %q and domain %q = %+v", h, host, d)
		}
	})
}
