package server

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/tmaps/console/model"
)

// decodeAll percent-decodes s until it no longer changes (leniently).
func decodeAll(s string) string {
	for i := 0; i < 8; i++ {
		d, err := url.PathUnescape(s)
		if err != nil {
			d = lenientUnescape(s)
		}
		if d == s {
			return s
		}
		s = d
	}
	return s
}

// encodeSome percent-encodes the bytes of s whose index is in the mask
// (bit i of mask, cycling), in upper or lower case hex.
func encodeSome(s string, mask uint64, lower bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if mask>>(uint(i)%64)&1 == 1 {
			f := "%%%02X"
			if lower {
				f = "%%%02x"
			}
			fmt.Fprintf(&b, f, s[i])
		} else {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// Secrets hidden by percent-encoding are redacted too (issue 9, item 5).
func TestRedactStringPercentEncoded(t *testing.T) {
	s := model.NewSecret()
	tok := "tm_" + s[3:]
	hex := s[3:]
	cases := []string{
		"/v1/keys/ak%5F" + hex,
		"/v1/keys/ak%5f" + hex,
		"/v1/keys/%61k_" + hex,
		"/v1/keys/%41K%5F" + hex,
		"/v1/keys/ak%255F" + hex, // encoded twice
		"/v1/events?t=tm%5F" + hex,
		"/v1/events?t=tm_%5F" + hex,
		"/v1/events?t=%74%6D%5f" + hex,
		"/x?api_key=" + encodeSome(s, 0xAAAAAAAAAAAAAAAA, false),
		"/x?api%5Fkey=" + encodeSome(s, 0x5555555555555555, true),
		"/x?api%5fkey%3d" + s,
		"/v1/keys/" + encodeSome(s, ^uint64(0), false),
		"GET /v1/tokens/" + encodeSome(tok, 0x0F0F0F0F0F0F0F0F, true) + " 404",
		"Authorization: Bearer%20" + tok,
	}
	for _, in := range cases {
		out := RedactString(in)
		plain := strings.ToLower(decodeAll(out))
		if strings.Contains(plain, hex[:8]) || strings.Contains(plain, hex[len(hex)-8:]) {
			t.Errorf("RedactString(%q) = %q: the secret is still there (decoded: %q)", in, out, plain)
		}
		if !strings.Contains(out, Redacted) {
			t.Errorf("RedactString(%q) = %q: not visibly redacted", in, out)
		}
	}
	// Text around an encoded secret is kept as it was.
	if got := RedactString("GET /v1/keys/ak%5F" + hex + "/rename 200"); got != "GET /v1/keys/ak_"+Redacted+"/rename 200" {
		t.Errorf("context not kept: %q", got)
	}
	for _, in := range []string{"/v1/keys/k0123456789ab", "/x?q=caf%C3%A9&n=%25", "100%", "%zz%5"} {
		if got := RedactString(in); got != in {
			t.Errorf("RedactString(%q) = %q, want it unchanged", in, got)
		}
	}
	// RedactURL on a request URL whose path holds an encoded secret.
	u, _ := url.Parse("http://x/v1/keys/ak%5F" + hex + "?t=tm%5f" + hex)
	if got := RedactURL(u); strings.Contains(strings.ToLower(decodeAll(got)), hex[:8]) {
		t.Errorf("RedactURL = %q", got)
	}
}

func FuzzRedactString(f *testing.F) {
	f.Add("/v1/keys/", "/rename", uint64(0x3), false, true)
	f.Add("?api_key=", "&x=1", uint64(0xFF), true, false)
	f.Add("Bearer ", "", uint64(0), false, false)
	f.Fuzz(func(t *testing.T, before, after string, mask uint64, lower, token bool) {
		s := model.NewSecret()
		if token {
			s = "tm_" + s[3:]
		}
		in := before + encodeSome(s, mask, lower) + after
		out := RedactString(in)
		hex := s[3:]
		if strings.Contains(strings.ToLower(decodeAll(out)), hex) {
			t.Fatalf("RedactString(%q) = %q keeps the secret", in, out)
		}
	})
}
