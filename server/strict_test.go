package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tmaps/console/store/wire"
)

// TestStrictInput: what the API must refuse (issue 9, item 4), each answered
// 400 or 422 and leaving the store as it was.
func TestStrictInput(t *testing.T) {
	f := newFixture(t, Options{})
	status, body := f.do("POST", "/v1/keys", `{"name":"web"}`)
	expect(t, "create", status, body, http.StatusCreated, "")
	k := decodeInto[wire.KeyWithSecret](t, body).Key
	status, body = f.do("POST", "/v1/domains", `{"name":"mysite.tn"}`)
	expect(t, "add domain", status, body, http.StatusCreated, "")
	state := func() string {
		_, keys := f.do("GET", "/v1/keys", "")
		_, doms := f.do("GET", "/v1/domains", "")
		_, usage := f.do("GET", "/v1/usage?since=2000-01-01T00:00:00Z", "")
		_, hosts := f.do("GET", "/v1/keys/"+k.ID+"/refused-hosts", "")
		return string(keys) + string(doms) + string(usage) + string(hosts)
	}
	before := state()
	hour := time.Now().UTC().Truncate(time.Hour).Format(time.RFC3339)
	usage := func(deltas string) string { return `{"deltas":[` + deltas + `]}` }
	cases := []struct {
		what, method, path, body string
		status                   int
		msg                      string
	}{
		{"field name in capitals", "POST", "/v1/keys", `{"NAME":"x"}`, 400, `case-sensitive, send "name"`},
		{"duplicate field", "POST", "/v1/keys", `{"name":"x","name":"y"}`, 400, "appears twice"},
		{"invalid UTF-8", "POST", "/v1/keys", "{\"name\":\"a\xffb\"}", 400, "not valid UTF-8"},
		{"lone surrogate", "POST", "/v1/keys", `{"name":"a\ud800b"}`, 400, "lone surrogate"},
		{"zero width space", "POST", "/v1/keys", `{"name":"pay\u200bments"}`, 422, "U+200B zero width space"},
		{"name like a display prefix", "POST", "/v1/keys", `{"name":"ak_ec6283fc"}`, 422, "key reference"},
		{"rename to an id", "POST", "/v1/keys/" + k.ID + "/rename", `{"name":"k0123456789ab"}`, 422, "key reference"},
		{"token name with U+3164", "POST", "/v1/tokens", `{"name":"ci\u3164"}`, 422, "U+3164 hangul filler"},
		{"link without domains", "POST", "/v1/keys/" + k.ID + "/link", `{}`, 400, `"domains"`},
		{"link with no domain", "POST", "/v1/keys/" + k.ID + "/link", `{"domains":[]}`, 400, `"domains"`},
		{"unlink without domains", "POST", "/v1/keys/" + k.ID + "/unlink", `{}`, 400, `"domains"`},
		{"Kelvin sign", "POST", "/v1/domains", `{"name":"\u212aelvin.tn"}`, 422, "U+212A kelvin sign"},
		{"fullwidth letters", "POST", "/v1/domains", `{"name":"ｍｙsite.tn"}`, 422, "U+FF4D"},
		{"ligature", "POST", "/v1/domains", `{"name":"\ufb01le.tn"}`, 422, "U+FB01"},
		{"counter wraps", "POST", "/v1/usage", usage(fmt.Sprintf(`{"key_id":%q,"hour":%q,"allowed":18446744073709551615},{"key_id":%q,"hour":%q,"allowed":2}`, k.ID, hour, k.ID, hour)), 422, "2^64"},
		{"unknown key id", "POST", "/v1/usage", usage(fmt.Sprintf(`{"key_id":"k000000000000","hour":%q,"allowed":1}`, hour)), 422, "unknown key id"},
		{"year 9999", "POST", "/v1/usage", usage(fmt.Sprintf(`{"key_id":%q,"hour":"9999-01-01T00:00:00Z","allowed":1}`, k.ID)), 422, "outside the accepted window"},
		{"refused host with ESC", "POST", "/v1/usage", usage(fmt.Sprintf(`{"key_id":%q,"hour":%q,"forbidden":1,"refused_hosts":{"a\u001b[2Jb.com":1}}`, k.ID, hour)), 422, "U+001B escape"},
		{"refused host with bidi", "POST", "/v1/usage", usage(fmt.Sprintf(`{"key_id":%q,"hour":%q,"forbidden":1,"refused_hosts":{"a\u202eb.com":1}}`, k.ID, hour)), 422, "U+202E"},
		{"refused host with a newline", "POST", "/v1/usage", usage(fmt.Sprintf(`{"key_id":%q,"hour":%q,"forbidden":1,"refused_hosts":{"a\nb.com":1}}`, k.ID, hour)), 422, "U+000A line feed"},
		{"usage field in capitals", "POST", "/v1/usage", usage(fmt.Sprintf(`{"KEY_ID":%q,"hour":%q,"forbidden":1}`, k.ID, hour)), 400, "case-sensitive"},
		{"invalid UTF-8 in the path", "GET", "/v1/keys/k%ff", "", 400, "not valid UTF-8"},
		{"invalid UTF-8 in the query", "GET", "/v1/audit?actor=%ff", "", 400, "not valid UTF-8"},
	}
	for _, c := range cases {
		status, body := f.do(c.method, c.path, c.body)
		var e wire.Error
		if err := json.Unmarshal(body, &e); err != nil || status != c.status || !strings.Contains(e.Error, c.msg) {
			t.Errorf("%s: %d %s; want %d with %q", c.what, status, body, c.status, c.msg)
		}
	}
	if after := state(); after != before {
		t.Fatalf("refused requests changed the store:\nbefore %s\nafter  %s", before, after)
	}
	toks, _ := f.st.Tokens(t.Context())
	if len(toks) != 1 {
		t.Fatalf("tokens: %+v", toks)
	}
	// The actor a client declares follows the same text rules.
	g := newFixture(t, Options{TrustActorHeader: true})
	req, _ := http.NewRequest("POST", g.ts.URL+"/v1/keys", strings.NewReader(`{"name":"x"}`))
	req.Header.Set("Authorization", "Bearer "+g.token)
	req.Header.Set(ActorHeader, "alice%E2%80%8Bbob")
	resp, err := g.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("actor with U+200B: %d", resp.StatusCode)
	}
	if ks, _ := g.st.Keys(t.Context()); len(ks) != 0 {
		t.Fatal("the refused request created a key")
	}
}
