package model

import (
	"errors"
	"strings"
	"testing"
	"unicode"
)

func TestNormalizeDomainAccepted(t *testing.T) {
	tests := []struct{ in, want string }{
		// ✅ examples of the seed and SPEC.md.
		{"mysite.tn", "mysite.tn"},
		{"app.mysite.tn", "app.mysite.tn"},
		{"localhost", "localhost"},
		{"127.0.0.1", "127.0.0.1"},
		{"::1", "::1"},
		{"café.tn", "xn--caf-dma.tn"},
		// Normalisation: trim, lowercase, one trailing dot.
		{"  mysite.tn  ", "mysite.tn"},
		{"\tmysite.tn\n", "mysite.tn"},
		{"MySite.TN", "mysite.tn"},
		{"mysite.tn.", "mysite.tn"},
		{"LOCALHOST.", "localhost"},
		{"CAFÉ.TN", "xn--caf-dma.tn"},
		{"cafe\u0301.tn", "xn--caf-dma.tn"}, // decomposed é is composed first
		{"xn--caf-dma.tn", "xn--caf-dma.tn"},
		{"XN--CAF-DMA.TN", "xn--caf-dma.tn"},
		{"bücher.de", "xn--bcher-kva.de"},
		{"пример.рф", "xn--e1afmkfd.xn--p1ai"},
		{"日本.jp", "xn--wgv71a.jp"},
		{"ß.tn", "xn--zca.tn"},            // registration keeps ß (no transitional mapping)
		{"mуsite.tn", "xn--msite-eze.tn"}, // accepted, but MixedScript warns
		{"my-site.tn", "my-site.tn"},
		{"a.b.c.d.e.tn", "a.b.c.d.e.tn"},
		{"1password.tn", "1password.tn"},
		{"mysite.123tn", "mysite.123tn"}, // last label not purely numeric
		{strings.Repeat("a", 63) + ".tn", strings.Repeat("a", 63) + ".tn"},
		{long253(), long253()},
		{long253() + ".", long253()},
		// IPv6: canonical form without brackets.
		{"[::1]", "::1"},
		{"0:0:0:0:0:0:0:1", "::1"},
		{"2001:DB8::0001", "2001:db8::1"},
		{"[2001:db8:0:0:0:0:0:1]", "2001:db8::1"},
		{"::ffff:127.0.0.1", "::ffff:127.0.0.1"},
		{"10.0.0.254", "10.0.0.254"},
	}
	for _, tt := range tests {
		got, err := NormalizeDomain(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
			continue
		}
		// Normalising is idempotent.
		if again, err := NormalizeDomain(got); err != nil || again != got {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want it unchanged", got, again, err)
		}
	}
}

// long253 is a valid name of exactly 253 characters.
func long253() string {
	l := strings.Repeat("a", 63)
	return l + "." + l + "." + l + "." + strings.Repeat("b", 61) // 63*3+61+3 = 253
}

func TestNormalizeDomainRefused(t *testing.T) {
	tests := []struct {
		in      string
		problem string // substring of Problem
		fix     string // substring of Fix
	}{
		// ❌ examples of the seed and SPEC.md.
		{"https://mysite.tn", "scheme", "remove the scheme: enter mysite.tn"},
		{"mysite.tn/dashboard", "path (/dashboard)", "remove the path: enter mysite.tn"},
		{"*.mysite.tn", "wildcard", "wildcards are not supported: add each subdomain, e.g. app.mysite.tn"},
		{"mysite.tn:8443", "port (:8443)", "remove the port: enter mysite.tn"},
		{"a..mysite.tn", "empty label", "remove the extra dot: enter a.mysite.tn"},
		{".mysite.tn", "starts with a dot", "enter mysite.tn"},
		{"mysite.tn..", "empty label", "enter mysite.tn"},
		{strings.Repeat("a", 64) + ".tn", "64 characters long; a label can have at most 63", "shorten"},
		{strings.Repeat("é", 60) + ".tn", "a label can have at most 63", "shorten"}, // long once encoded
		{strings.Repeat("é", 100000) + ".tn", "100003 characters long; a domain name can have at most 253", "shorter"},
		{strings.Repeat("a.", 600), "1200 characters long", "shorter"},
		{long253() + "c", "254 characters long; a domain name can have at most 253", "shorter"},
		{"my_site.tn", "'_'", "use only letters, digits, hyphens and dots: e.g. my-site.tn"},
		{"_dmarc.mysite.tn", "'_'", "use only letters, digits, hyphens and dots: e.g. my-site.tn"}, // "-dmarc" is no better
		{"foo_bar.tn", "'_'", "e.g. foo-bar.tn"},
		{"-mysite.tn", `"-mysite" starts with a hyphen`, "remove the hyphen: enter mysite.tn"},
		{"mysite-.tn", `"mysite-" ends with a hyphen`, "remove the hyphen: enter mysite.tn"},
		{"app.-x-.tn", "starts with a hyphen", "enter app.x.tn"},
		// The Fix derives the corrected name when it can.
		{"https://mysite.tn/dashboard", "scheme (https://)", "enter mysite.tn"},
		{"HTTP://User:pw@MySite.tn:8080/x?y#z", "scheme (HTTP://)", "enter mysite.tn"},
		{"//mysite.tn", "starts with //", "remove the //: enter mysite.tn"},
		{"user@mysite.tn", "user name (user@)", "remove everything up to the @: enter mysite.tn"},
		{"mysite.tn?x=1", "query (?x=1)", "remove the query: enter mysite.tn"},
		{"mysite.tn#top", "fragment (#top)", "remove the fragment: enter mysite.tn"},
		{`mysite.tn\x`, "path", "enter mysite.tn"},
		{"mysite.tn:", "port", "enter mysite.tn"},
		{"[::1]:8080", "port (:8080)", "remove the port: enter ::1"},
		{"*", "wildcard", "add each subdomain"},
		{"app.*.mysite.tn", "wildcard", "add each subdomain"},
		{"my site.tn", "space", "remove the space: enter mysite.tn"},
		// Empty input.
		{"", "empty", "enter a host name such as mysite.tn"},
		{"   ", "empty", "mysite.tn"},
		{".", "only a dot", "mysite.tn"},
		// Control and bidi characters are named, escaped.
		{"my\x1bsite.tn", `\x1b`, "remove it: enter mysite.tn"},
		{"mysite.tn\x00", `\x00`, "enter mysite.tn"},
		{"my\u202esite.tn", `\u202e`, "enter mysite.tn"},
		{"\xff.tn", `\xff`, "retype"},
		// Other invalid characters, named.
		{"my!site.tn", "'!'", "letters, digits, hyphens and dots: e.g. mysite.tn"},
		{"my$site.tn", "'$'", "e.g. mysite.tn"},
		{"my\"site.tn", `'"'`, "e.g. mysite.tn"},
		{"ｍysite.tn", "ｍ (U+FF4D fullwidth latin small letter m)", "full-width form: type 'm'"},
		{"mysite。tn", "U+3002", "ordinary dot"},
		{"my\u200bsite.tn", "U+200B", "replace it"},
		// IDNA registration rules.
		{"xn--zz.tn", `"xn--zz"`, "Unicode form"},
		{"ab--cd.tn", "third and fourth positions", "single hyphen"},
		// Numeric hosts that are not dotted-decimal IPv4 addresses.
		{"127.1", "not an IPv4 address", "127.0.0.1"},
		{"0x7f.0.0.1", "not an IPv4 address", "127.0.0.1"},
		{"2130706433", "not an IPv4 address", "127.0.0.1"},
		{"1.2.3.4.5", "not an IPv4 address", "127.0.0.1"},
		{"256.0.0.1", "not an IPv4 address", "127.0.0.1"},
		{"127.000.0.1", "not an IPv4 address", "127.0.0.1"},
		// IPv6 oddities.
		{"fe80::1%eth0", "zone (%eth0)", "remove the zone: enter fe80::1"},
		{"[::1", "without a closing ]", "::1"},
		{"::1]", "not a valid IPv6 address", "::1"},
		{"[::1]x", "after the ]", ""},
		{":::1", "not a valid IPv6 address", ""},
		{"[mysite.tn]", "not a valid IPv6 address", ""},
	}
	for _, tt := range tests {
		got, err := NormalizeDomain(tt.in)
		var de *DomainError
		if !errors.As(err, &de) {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want a *DomainError", tt.in, got, err)
			continue
		}
		if got != "" {
			t.Errorf("NormalizeDomain(%q) returned %q with an error", tt.in, got)
		}
		if de.Input != tt.in {
			t.Errorf("NormalizeDomain(%q): Input = %q", tt.in, de.Input)
		}
		if !strings.Contains(de.Problem, tt.problem) {
			t.Errorf("NormalizeDomain(%q): Problem = %q; want it to contain %q", tt.in, de.Problem, tt.problem)
		}
		if !strings.Contains(de.Fix, tt.fix) || de.Fix == "" {
			t.Errorf("NormalizeDomain(%q): Fix = %q; want it to contain %q", tt.in, de.Fix, tt.fix)
		}
		if de.Error() != de.Problem+": "+de.Fix {
			t.Errorf("NormalizeDomain(%q): Error() = %q", tt.in, de.Error())
		}
		// Problem and Fix are printable: no raw control or bidi character.
		for _, r := range de.Problem + de.Fix {
			if unicode.IsControl(r) || IsBidi(r) {
				t.Errorf("NormalizeDomain(%q): message holds raw %U: %q", tt.in, r, de.Error())
			}
		}
	}
}

func TestDomainErrorWithoutFix(t *testing.T) {
	e := &DomainError{Problem: "it is bad"}
	if e.Error() != "it is bad" {
		t.Errorf("Error() = %q", e.Error())
	}
}

func TestDomainUnicode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"xn--caf-dma.tn", "café.tn"},
		{"xn--e1afmkfd.xn--p1ai", "пример.рф"},
		{"mysite.tn", "mysite.tn"},
		{"::1", "::1"},
		{"127.0.0.1", "127.0.0.1"},
		{"xn--zz.tn", "xn--zz.tn"}, // does not decode: shown as stored
	}
	for _, tt := range tests {
		if got := DomainUnicode(tt.in); got != tt.want {
			t.Errorf("DomainUnicode(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestMixedScript(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"mysite.tn", false},
		{"app-2.mysite.tn", false},
		{"mуsite.tn", true},        // Cyrillic у among Latin
		{"xn--msite-eze.tn", true}, // the same, ASCII form
		{"XN--MSITE-EZE.TN", true},
		{"mysite.tn", false},
		{"paypal.tn", false},
		{"pаypal.tn", true},  // Cyrillic а
		{"αpple.tn", true},   // Greek alpha + Latin
		{"пример.рф", false}, // all Cyrillic
		{"xn--e1afmkfd.xn--p1ai", false},
		{"пример.tn", false}, // scripts differ between labels only
		{"café.tn", false},
		{"bücher-2.de", false},
		{"日本語テキスト.jp", false},  // Han + Katakana (Japanese)
		{"abc日本.jp", false},    // Latin + Han is allowed
		{"한국abc.kr", false},    // Hangul + Latin
		{"한국ひらがな.kr", true},    // Hangul + Hiragana
		{"ελλάδαabc.gr", true}, // Greek + Latin
		{"mysitе1.tn", true},   // Cyrillic е
		{"", false},
		{"::1", false},
	}
	for _, tt := range tests {
		if got := MixedScript(tt.in); got != tt.want {
			t.Errorf("MixedScript(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

// TestNormalizeDomainRefusesCompatibilityForms: UTS 46 registration accepts
// only characters that are valid as they stand; a character that lowercasing
// or normalisation would fold into another (the Kelvin sign into an ASCII k,
// the Angstrom sign into å, fullwidth letters, ligatures) is refused, naming
// the character, so that no input is silently stored as a different name.
func TestNormalizeDomainRefusesCompatibilityForms(t *testing.T) {
	tests := []struct{ in, problem, fix string }{
		{"\u212Aelvin.tn", "U+212A kelvin sign", `type "k"`},
		{"\u212Belvin.tn", "U+212B angstrom sign", `type "å"`},
		{"\u2126mega.tn", "U+2126 ohm sign", `type "ω"`},
		{"\u0130nfo.tn", "U+0130 latin capital letter i with dot above", ""},
		{"stra\u1E9Ee.de", "U+1E9E latin capital letter sharp s", `type "ß"`},
		{"ｍysite.tn", "U+FF4D", "type 'm'"},
		{"ＭＹSITE.tn", "U+FF2D", "type 'M'"},
		{"\uFB01le.tn", "U+FB01", `type "fi"`},
		{"\u017Fite.tn", "U+017F", `type "s"`},
		{"\u00B5site.tn", "U+00B5", `type "μ"`},
		{"\u2460site.tn", "U+2460", `type "1"`},
		{"\u00BDsite.tn", "U+00BD", ""},
		{"\uF900site.tn", "U+F900", ""}, // CJK compatibility ideograph (a canonical singleton)
	}
	for _, tt := range tests {
		got, err := NormalizeDomain(tt.in)
		var de *DomainError
		if !errors.As(err, &de) {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want a refusal", tt.in, got, err)
			continue
		}
		if !strings.Contains(de.Problem, tt.problem) || !strings.Contains(de.Fix, tt.fix) {
			t.Errorf("NormalizeDomain(%q) = %q; want the problem to name %q and the fix %q", tt.in, de.Error(), tt.problem, tt.fix)
		}
	}
	// Plain upper case still folds (SPEC.md: lowercase), in every script.
	for in, want := range map[string]string{"CAFÉ.TN": "xn--caf-dma.tn", "ΑΘΗΝΑ.gr": "xn--mxaard0a.gr", "ПРИМЕР.РФ": "xn--e1afmkfd.xn--p1ai"} {
		if got, err := NormalizeDomain(in); err != nil || got != want {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
