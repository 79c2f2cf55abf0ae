package model

import (
	"encoding/json"
	"strings"
	"testing"
)

const goodSecret = "ak_0123456789abcdef0123456789abcdef"

func keyWith(status Status, domains ...string) *Key {
	return &Key{ID: "k1", Name: "test", Prefix: goodSecret[:DisplayPrefixLen], Status: status,
		Digest: DigestOf(goodSecret), Domains: domains}
}

// restricted is a key linked to the domains of the seed (and a few more).
var restricted = keyWith(Active, "mysite.tn", "app.mysite.tn", "localhost", "127.0.0.1", "::1", "xn--caf-dma.tn")

func TestDecideSteps(t *testing.T) {
	one := []string{goodSecret}
	tests := []struct {
		name   string
		in     GateInput
		status int
		reason Reason
		msg    string
		host   string
	}{
		// Step 1.
		{"plain http", GateInput{Key: restricted, APIKeys: one, Origin: "https://mysite.tn"}, 403, ReasonHTTPSRequired, ErrMsgHTTPSRequired, ""},
		{"plain http before missing key", GateInput{}, 403, ReasonHTTPSRequired, ErrMsgHTTPSRequired, ""},
		// Step 2.
		{"api_key absent", GateInput{HTTPS: true}, 401, ReasonMissingKey, ErrMsgMissingKey, ""},
		{"api_key empty", GateInput{HTTPS: true, APIKeys: []string{""}}, 401, ReasonMissingKey, ErrMsgMissingKey, ""},
		{"api_key twice", GateInput{HTTPS: true, Key: restricted, APIKeys: []string{goodSecret, goodSecret}}, 401, ReasonDuplicateKey, ErrMsgInvalidKey, ""},
		{"api_key twice, one empty", GateInput{HTTPS: true, APIKeys: []string{"", goodSecret}}, 401, ReasonDuplicateKey, ErrMsgInvalidKey, ""},
		{"api_key twice, both empty", GateInput{HTTPS: true, APIKeys: []string{"", ""}}, 401, ReasonDuplicateKey, ErrMsgInvalidKey, ""},
		// Step 3.
		{"malformed", GateInput{HTTPS: true, APIKeys: []string{"hello"}}, 401, ReasonMalformedKey, ErrMsgInvalidKey, ""},
		{"uppercase hex", GateInput{HTTPS: true, Key: restricted, APIKeys: []string{strings.ToUpper(goodSecret[3:])}}, 401, ReasonMalformedKey, ErrMsgInvalidKey, ""},
		{"uppercase hex after ak_", GateInput{HTTPS: true, Key: restricted, APIKeys: []string{"ak_" + strings.ToUpper(goodSecret[3:])}}, 401, ReasonMalformedKey, ErrMsgInvalidKey, ""},
		{"uppercase AK_", GateInput{HTTPS: true, Key: restricted, APIKeys: []string{"AK_" + goodSecret[3:]}}, 401, ReasonMalformedKey, ErrMsgInvalidKey, ""},
		{"too short", GateInput{HTTPS: true, Key: restricted, APIKeys: []string{goodSecret[:34]}}, 401, ReasonMalformedKey, ErrMsgInvalidKey, ""},
		{"too long", GateInput{HTTPS: true, Key: restricted, APIKeys: []string{goodSecret + "0"}}, 401, ReasonMalformedKey, ErrMsgInvalidKey, ""},
		{"trailing space", GateInput{HTTPS: true, Key: restricted, APIKeys: []string{goodSecret + " "}}, 401, ReasonMalformedKey, ErrMsgInvalidKey, ""},
		{"NUL inside", GateInput{HTTPS: true, Key: restricted, APIKeys: []string{goodSecret[:10] + "\x00" + goodSecret[11:]}}, 401, ReasonMalformedKey, ErrMsgInvalidKey, ""},
		{"8 KB api_key", GateInput{HTTPS: true, APIKeys: []string{"ak_" + strings.Repeat("a", 8192)}}, 401, ReasonMalformedKey, ErrMsgInvalidKey, ""},
		{"unknown", GateInput{HTTPS: true, APIKeys: one}, 401, ReasonUnknownKey, ErrMsgInvalidKey, ""},
		// Step 4: status before domains.
		{"disabled", GateInput{HTTPS: true, Key: keyWith(Disabled, "mysite.tn"), APIKeys: one, Origin: "https://mysite.tn"}, 401, ReasonDisabled, ErrMsgDisabled, ""},
		{"revoked", GateInput{HTTPS: true, Key: keyWith(Revoked, "mysite.tn"), APIKeys: one, Origin: "https://mysite.tn"}, 401, ReasonRevoked, ErrMsgRevoked, ""},
		{"disabled, no domain", GateInput{HTTPS: true, Key: keyWith(Disabled), APIKeys: one}, 401, ReasonDisabled, ErrMsgDisabled, ""},
		{"revoked, bad origin", GateInput{HTTPS: true, Key: keyWith(Revoked, "mysite.tn"), APIKeys: one, Origin: "https://evil.com"}, 401, ReasonRevoked, ErrMsgRevoked, ""},
		{"unknown status fails closed", GateInput{HTTPS: true, Key: keyWith("paused"), APIKeys: one}, 401, ReasonDisabled, ErrMsgDisabled, ""},
		{"empty status fails closed", GateInput{HTTPS: true, Key: keyWith(""), APIKeys: one}, 401, ReasonDisabled, ErrMsgDisabled, ""},
		// Step 5.
		{"unrestricted", GateInput{HTTPS: true, Key: keyWith(Active), APIKeys: one, Origin: "https://evil.com"}, 200, ReasonUnrestricted, "", "evil.com"},
		{"unrestricted, referer only", GateInput{HTTPS: true, Key: keyWith(Active), APIKeys: one, Referer: "https://shop.tn/x"}, 200, ReasonUnrestricted, "", "shop.tn"},
		{"unrestricted, server call", GateInput{HTTPS: true, Key: keyWith(Active), APIKeys: one}, 200, ReasonUnrestricted, "", ""},
		// Step 6.
		{"no headers", GateInput{HTTPS: true, Key: restricted, APIKeys: one}, 200, ReasonNoHeaders, "", ""},
		{"blank headers count as absent", GateInput{HTTPS: true, Key: restricted, APIKeys: one, Origin: " ", Referer: "\t"}, 200, ReasonNoHeaders, "", ""},
		// Step 7.
		{"origin matches", GateInput{HTTPS: true, Key: restricted, APIKeys: one, Origin: "https://mysite.tn"}, 200, ReasonOriginMatched, "", "mysite.tn"},
		{"origin matches, bad referer ignored", GateInput{HTTPS: true, Key: restricted, APIKeys: one, Origin: "https://app.mysite.tn", Referer: "https://evil.com/"}, 200, ReasonOriginMatched, "", "app.mysite.tn"},
		// Step 8.
		{"referer matches", GateInput{HTTPS: true, Key: restricted, APIKeys: one, Referer: "https://mysite.tn/map?x=1"}, 200, ReasonRefererMatched, "", "mysite.tn"},
		{"origin null, good referer", GateInput{HTTPS: true, Key: restricted, APIKeys: one, Origin: "null", Referer: "https://mysite.tn/page"}, 200, ReasonRefererMatched, "", "mysite.tn"},
		{"bad origin, good referer", GateInput{HTTPS: true, Key: restricted, APIKeys: one, Origin: "https://evil.com", Referer: "https://mysite.tn/"}, 200, ReasonRefererMatched, "", "mysite.tn"},
		// Step 9.
		{"origin refused", GateInput{HTTPS: true, Key: restricted, APIKeys: one, Origin: "https://evil.com"}, 403, ReasonDomainNotAuthorized, ErrMsgDomain, "evil.com"},
		{"referer refused", GateInput{HTTPS: true, Key: restricted, APIKeys: one, Referer: "https://evil.com/x"}, 403, ReasonDomainNotAuthorized, ErrMsgDomain, "evil.com"},
		{"both refused: origin's host", GateInput{HTTPS: true, Key: restricted, APIKeys: one, Origin: "https://a.evil.com", Referer: "https://b.evil.com/"}, 403, ReasonDomainNotAuthorized, ErrMsgDomain, "a.evil.com"},
		{"origin null, bad referer: referer's host", GateInput{HTTPS: true, Key: restricted, APIKeys: one, Origin: "null", Referer: "https://evil.com/"}, 403, ReasonDomainNotAuthorized, ErrMsgDomain, "evil.com"},
		{"origin null alone", GateInput{HTTPS: true, Key: restricted, APIKeys: one, Origin: "null"}, 403, ReasonDomainNotAuthorized, ErrMsgDomain, ""},
		{"nothing parses", GateInput{HTTPS: true, Key: restricted, APIKeys: one, Origin: "null", Referer: "mysite.tn"}, 403, ReasonDomainNotAuthorized, ErrMsgDomain, ""},
		{"refused host keeps its case", GateInput{HTTPS: true, Key: restricted, APIKeys: one, Origin: "https://Evil.COM"}, 403, ReasonDomainNotAuthorized, ErrMsgDomain, "Evil.COM"},
	}
	for _, tt := range tests {
		d := Decide(tt.in)
		if d.Status != tt.status || d.Reason != tt.reason || d.Error != tt.msg || d.Host != tt.host {
			t.Errorf("%s: Decide = %+v (%s); want status %d, reason %s, error %q, host %q",
				tt.name, d, d.Reason, tt.status, tt.reason, tt.msg, tt.host)
		}
		if d.Allowed() != (tt.status == 200) {
			t.Errorf("%s: Allowed() = %v", tt.name, d.Allowed())
		}
	}
}

// TestDecideHostile runs the gate's host matching against hostile Origin
// and Referer values, for a key linked to mysite.tn, app.mysite.tn,
// localhost, 127.0.0.1, ::1 and café.tn.
func TestDecideHostile(t *testing.T) {
	big := "https://mysite.tn/" + strings.Repeat("a", 8192)
	tests := []struct {
		origin, referer string
		allowed         bool
		host            string // Decision.Host
	}{
		// Exact matches, with the variations SPEC.md ignores.
		{"https://mysite.tn", "", true, "mysite.tn"},
		{"http://mysite.tn", "", true, "mysite.tn"},               // scheme ignored
		{"https://mysite.tn:8443", "", true, "mysite.tn"},         // port ignored
		{"https://MYSITE.TN", "", true, "MYSITE.TN"},              // ASCII lowercased
		{"https://mysite.tn.", "", true, "mysite.tn"},             // one trailing dot dropped
		{"http://localhost:5173", "", true, "localhost"},          // dev server
		{"http://127.0.0.1:8080", "", true, "127.0.0.1"},          //
		{"http://[::1]:8080", "", true, "::1"},                    // IPv6
		{"http://[0:0:0:0:0:0:0:1]", "", true, "0:0:0:0:0:0:0:1"}, // IPv6, another spelling
		{"https://xn--caf-dma.tn", "", true, "xn--caf-dma.tn"},    // IDN as browsers send it
		{"https://mysite.tn/", "", true, "mysite.tn"},
		{"https://user:pw@mysite.tn", "", true, "mysite.tn"}, // userinfo skipped
		{"", big, true, "mysite.tn"},                         // 8 KB referer
		// Suffix and prefix attacks.
		{"https://evilmysite.tn", "", false, "evilmysite.tn"},
		{"https://mysite.tn.evil.com", "", false, "mysite.tn.evil.com"},
		{"https://evil.mysite.tn", "", false, "evil.mysite.tn"}, // no implicit subdomain
		{"https://mysite.tnx", "", false, "mysite.tnx"},
		{"https://mysite.t", "", false, "mysite.t"},
		{"https://ysite.tn", "", false, "ysite.tn"},
		{"https://app.mysite.tn.evil.com", "", false, "app.mysite.tn.evil.com"},
		{"https://mysite-tn.com", "", false, "mysite-tn.com"},
		{"https://localhost.evil.com", "", false, "localhost.evil.com"},
		{"https://127.0.0.1.evil.com", "", false, "127.0.0.1.evil.com"},
		{"https://mysite.tn..", "", false, "mysite.tn."}, // only one dot dropped
		// Userinfo never counts.
		{"https://mysite.tn@evil.com", "", false, "evil.com"},
		{"https://mysite.tn:443@evil.com", "", false, "evil.com"},
		{"https://a@mysite.tn@evil.com", "", false, "evil.com"},
		{"https://evil.com#@mysite.tn", "", false, "evil.com"},
		{"https://evil.com?@mysite.tn", "", false, "evil.com"},
		{"https://evil.com/@mysite.tn", "", false, "evil.com"},
		{`https://mysite.tn\@evil.com`, "", false, ""},
		// Not absolute URLs.
		{"null", "", false, ""},
		{"mysite.tn", "", false, ""},
		{"//mysite.tn", "", false, ""},
		{"https:mysite.tn", "", false, ""},
		{"https:/mysite.tn", "", false, ""},
		{"://mysite.tn", "", false, ""},
		{"1http://mysite.tn", "", false, ""},
		{"https://", "", false, ""},
		{"https://:443", "", false, ""},
		{"https://.", "", false, ""},
		{"https://user@", "", false, ""},
		{"file:///etc/passwd", "", false, ""},
		// Unicode never folds.
		{"https://ｍysite.tn", "", false, ""},              // fullwidth m
		{"https://mуsite.tn", "", false, ""},              // Cyrillic у
		{"https://café.tn", "", false, ""},                // raw Unicode, not punycode
		{"https://mysite.tn\u212a", "", false, ""},        // Kelvin sign
		{"https://mysıte.tn", "", false, ""},              // dotless ı
		{"https://mysite%2Etn", "", false, ""},            // no percent-decoding
		{"https://%6Dysite.tn", "", false, ""},            //
		{"https://mysite.tn\x00.evil.com", "", false, ""}, // control characters
		{"https://mysite.tn\r\nX-Evil: 1", "", false, ""},
		{"https://my site.tn", "", false, ""},
		{"https://mysite.tn\x7f", "", false, ""},
		{"https://mysite.tn:80a", "", false, ""}, // bad port
		{"https://mysite.tn:-1", "", false, ""},
		{"https://mysite.tn::80", "", false, ""},
		{"https://[::1", "", false, ""},
		{"https://[::1]x", "", false, ""},
		{"https://[mysite.tn]", "", false, ""},
		{"https://[fe80::1%25eth0]", "", false, ""}, // zone
		{"https://::1", "", false, ""},              // IPv6 without brackets
		{"https://[::2]", "", false, "::2"},
		{"https://[::ffff:127.0.0.1]", "", false, "::ffff:127.0.0.1"}, // not 127.0.0.1
		{"https://2130706433", "", false, "2130706433"},
		{"https://my_site.tn", "", false, "my_site.tn"},
		{"https://mysite.tn;evil.com", "", false, ""},
		{"https://evil.com!mysite.tn", "", false, ""},
		{strings.Repeat("x", 8192), "", false, ""},
		{"https://" + strings.Repeat("a", 8192) + ".tn", "", false, strings.Repeat("a", 8192) + ".tn"},
		// Origin null from a sandboxed frame passes on a listed Referer.
		{"null", "https://mysite.tn/app", true, "mysite.tn"},
		{"null", "http://localhost:5173/", true, "localhost"},
		{"https://evil.com", "https://mysite.tn@evil.com/", false, "evil.com"},
	}
	if len(tests) < 40 {
		t.Fatalf("only %d hostile inputs", len(tests))
	}
	for _, tt := range tests {
		d := Decide(GateInput{HTTPS: true, Key: restricted, APIKeys: []string{goodSecret}, Origin: tt.origin, Referer: tt.referer})
		if d.Allowed() != tt.allowed || d.Host != tt.host {
			t.Errorf("Origin %q, Referer %q: Decide = %+v; want allowed %v, host %q",
				clip(tt.origin), clip(tt.referer), d, tt.allowed, clip(tt.host))
		}
		if !d.Allowed() && (d.Status != 403 || d.Reason != ReasonDomainNotAuthorized || d.Error != ErrMsgDomain) {
			t.Errorf("Origin %q, Referer %q: refused with %+v; want 403 domain not authorized", clip(tt.origin), clip(tt.referer), d)
		}
	}
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

func TestHeaderHost(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"https://mysite.tn", "mysite.tn", true},
		{"https://MySite.TN:8443/x", "mysite.tn", true},
		{"https://mysite.tn.", "mysite.tn", true},
		{"  https://mysite.tn\t", "mysite.tn", true},
		{"http://[::1]:8080", "::1", true},
		{"http://[2001:DB8::1]/", "2001:db8::1", true},
		{"https://u:p@evil.com:1/", "evil.com", true},
		{"https://mysite.tn@evil.com", "evil.com", true},
		{"https://mysite.tn:", "mysite.tn", true},
		{"HTTPS://A.B", "a.b", true},
		{"web+app://mysite.tn", "mysite.tn", true},
		{"null", "", false},
		{"", "", false},
		{"mysite.tn", "", false},
		{"//mysite.tn", "", false},
		{"https://", "", false},
		{"https://ｍysite.tn", "", false},
		{"https://mysite.tn\u212a", "", false},
		{"https://a%2eb", "", false},
		{"https://a b", "", false},
		{"https://a\x01b", "", false},
		{"https://[::1]:x", "", false},
	}
	for _, tt := range tests {
		got, ok := HeaderHost(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("HeaderHost(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestMatchHost(t *testing.T) {
	tests := []struct {
		host, domain string
		want         bool
	}{
		{"mysite.tn", "mysite.tn", true},
		{"MYSITE.tn", "mysite.tn", true},
		{"mysite.tn", "app.mysite.tn", false},
		{"app.mysite.tn", "mysite.tn", false},
		{"::1", "::1", true},
		{"0:0::1", "::1", true},
		{"::1", "::2", false},
		{"::ffff:7f00:1", "::ffff:127.0.0.1", true},
		{"::ffff:127.0.0.1", "127.0.0.1", false},
		{"::1", "mysite.tn", false},
		{"ｍysite.tn", "mysite.tn", false},
		{"", "", true},
	}
	for _, tt := range tests {
		if got := MatchHost(tt.host, tt.domain); got != tt.want {
			t.Errorf("MatchHost(%q, %q) = %v; want %v", tt.host, tt.domain, got, tt.want)
		}
	}
}

func TestDecisionBody(t *testing.T) {
	for _, msg := range []string{ErrMsgHTTPSRequired, ErrMsgMissingKey, ErrMsgInvalidKey, ErrMsgDisabled, ErrMsgRevoked, ErrMsgDomain, `odd "quoted" <msg>`} {
		b := Decision{Status: 403, Error: msg}.Body()
		var v map[string]string
		if err := json.Unmarshal(b, &v); err != nil || len(v) != 1 || v["error"] != msg {
			t.Errorf("Body for %q = %s (%v)", msg, b, err)
		}
		if shared := !strings.Contains(msg, "odd"); shared && cap(b) != len(b) {
			t.Errorf("Body for %q has spare capacity: appends would write into the shared body", msg)
		}
	}
	if got := string(Decision{Status: 403, Error: ErrMsgDomain}.Body()); got != `{"error":"domain not authorized"}` {
		t.Errorf("Body = %s", got)
	}
	if b := (Decision{Status: 200}).Body(); b != nil {
		t.Errorf("allowed Body = %q; want nil", b)
	}
	// Every refusal of Decide has a body; no allowed decision has one.
	for _, in := range []GateInput{{}, {HTTPS: true}, {HTTPS: true, APIKeys: []string{"x"}}, {HTTPS: true, APIKeys: []string{goodSecret}}} {
		d := Decide(in)
		if d.Allowed() || d.Body() == nil {
			t.Errorf("Decide(%+v) = %+v, body %q", in, d, d.Body())
		}
	}
}

func TestDecideAllocs(t *testing.T) {
	in := GateInput{HTTPS: true, Key: keyWith(Active, "app.mysite.tn", "localhost", "mysite.tn"), APIKeys: []string{goodSecret}}
	for _, c := range []struct{ origin, referer string }{
		{"https://mysite.tn", ""},
		{"https://MySite.tn:8443", ""},
		{"https://evil.com", "https://evil.com/page"},
		{"null", "https://mysite.tn/page"},
		{"http://[::1]:8080", ""},
	} {
		in.Origin, in.Referer = c.origin, c.referer
		if n := testing.AllocsPerRun(100, func() { _ = Decide(in).Body() }); n != 0 {
			t.Errorf("Decide(%q, %q) allocates %v times", c.origin, c.referer, n)
		}
	}
}
