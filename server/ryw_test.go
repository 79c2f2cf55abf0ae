package server_test

// Read your writes (issue 9, item 1; SPEC.md "Read your writes"): a
// management call that changes a key or a link answers only once the gate
// of the node that took it decides with the change.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/server"
	"github.com/tmaps/console/store/bolt"
)

// rywClient talks to a daemon's API and gate.
type rywClient struct {
	t     testing.TB
	base  string
	token string
	http  *http.Client
}

// call sends a management request and decodes a 2xx answer into out.
func (c *rywClient) call(method, path, body string, out any) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		c.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// authorize asks the gate about secret with an Origin ("" for none) and
// returns the status and the error message.
func (c *rywClient) authorize(secret, origin string) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+"/v1/authorize?api_key="+secret, nil)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Error string }
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e.Error
}

type keyOut struct {
	Key struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"key"`
	Secret string `json:"secret"`
}

// changeThenAuthorize runs rounds of one change followed at once by a gate
// decision that depends on it, cycling through every kind of change, and
// returns the rounds whose decision did not see the change.
func changeThenAuthorize(c *rywClient, rounds int) (stale []string) {
	c.call("POST", "/v1/domains", `{"name":"a.tn"}`, nil)
	c.call("POST", "/v1/domains", `{"name":"b.tn"}`, nil)
	var k keyOut
	check := func(i int, what, secret, origin string, want int, wantMsg string) {
		got, msg := c.authorize(secret, origin)
		if got != want || (wantMsg != "" && msg != wantMsg) {
			stale = append(stale, fmt.Sprintf("round %d, after %s: %d %q, want %d %q", i, what, got, msg, want, wantMsg))
		}
	}
	for i := 0; i < rounds; i++ {
		switch i % 9 {
		case 0:
			c.call("POST", "/v1/keys", fmt.Sprintf(`{"name":"round %d"}`, i), &k)
			check(i, "create", k.Secret, "https://b.tn", 204, "")
		case 1:
			c.call("POST", "/v1/keys/"+k.Key.ID+"/link", `{"domains":["a.tn"]}`, nil)
			check(i, "link", k.Secret, "https://b.tn", 403, "domain not authorized")
		case 2:
			c.call("POST", "/v1/keys/"+k.Key.ID+"/link", `{"domains":["b.tn"]}`, nil)
			check(i, "link", k.Secret, "https://b.tn", 204, "")
		case 3:
			c.call("POST", "/v1/keys/"+k.Key.ID+"/unlink", `{"domains":["a.tn"]}`, nil)
			check(i, "unlink", k.Secret, "https://a.tn", 403, "domain not authorized")
		case 4:
			c.call("POST", "/v1/keys/"+k.Key.ID+"/disable", "", nil)
			check(i, "disable", k.Secret, "https://b.tn", 401, "api_key disabled")
		case 5:
			c.call("POST", "/v1/keys/"+k.Key.ID+"/enable", "", nil)
			check(i, "enable", k.Secret, "https://b.tn", 204, "")
			c.call("PATCH", "/v1/keys/"+k.Key.ID, `{"allow_ips":["203.0.113.7"]}`, nil)
			check(i, "an IP allowlist", k.Secret, "https://b.tn", 403, "ip not authorized")
			c.call("PATCH", "/v1/keys/"+k.Key.ID, `{"allow_ips":null}`, nil)
			check(i, "clearing the IP allowlist", k.Secret, "https://b.tn", 204, "")
		case 6:
			var nk keyOut
			c.call("POST", "/v1/keys/"+k.Key.ID+"/rotate", "", &nk)
			check(i, "rotate", nk.Secret, "https://b.tn", 204, "")
			c.call("POST", "/v1/keys/"+k.Key.ID+"/revoke", fmt.Sprintf(`{"confirm":%q}`, k.Key.Name), nil)
			check(i, "revoke", k.Secret, "https://b.tn", 401, "api_key revoked")
			k = nk
		case 7:
			d := fmt.Sprintf("d%d.tn", i)
			c.call("POST", "/v1/domains", fmt.Sprintf(`{"name":%q}`, d), nil)
			c.call("POST", "/v1/keys/"+k.Key.ID+"/link", fmt.Sprintf(`{"domains":[%q]}`, d), nil)
			check(i, "link", k.Secret, "https://"+d, 204, "")
			c.call("DELETE", "/v1/domains/"+d, "", nil)
			check(i, "domain delete", k.Secret, "https://"+d, 403, "domain not authorized")
		case 8:
			c.call("POST", "/v1/keys/"+k.Key.ID+"/revoke", fmt.Sprintf(`{"confirm":%q}`, k.Key.Name), nil)
			check(i, "revoke", k.Secret, "", 401, "api_key revoked")
		}
	}
	return stale
}

func TestReadYourWrites(t *testing.T) {
	db := filepath.Join(t.TempDir(), "console.db")
	st, err := bolt.Open(db, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	_, token, err := st.CreateToken(context.Background(), "ops", model.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	d, err := server.NewDaemon(server.DaemonConfig{
		OpenStore: func(context.Context) (server.DaemonStore, error) {
			return bolt.Open(db, bolt.Options{NoSync: true})
		},
		Location: db, Listen: "127.0.0.1:0", AllowHTTP: true, FlushEvery: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown()
	c := &rywClient{t: t, base: d.URL(), token: token, http: &http.Client{Timeout: 30 * time.Second}}
	const rounds = 1000
	if stale := changeThenAuthorize(c, rounds); len(stale) > 0 {
		t.Fatalf("%d of %d change-then-authorize rounds decided without the change, e.g.:\n%s",
			len(stale), rounds, strings.Join(stale[:min(len(stale), 10)], "\n"))
	}
}

// The same rounds through the real binary, with fsync on: fewer, as the
// race is the same code, but with `tmaps serve` wired as it ships.
func TestReadYourWritesBinary(t *testing.T) {
	db := filepath.Join(t.TempDir(), "console.db")
	token, stderr, code := run(t, nil, "tokens", "create", "ryw", "--db", db)
	if code != 0 {
		t.Fatalf("tokens create: %d %s", code, stderr)
	}
	d := startDaemon(t, nil, "--db", db, "--listen", "127.0.0.1:0", "--allow-http")
	c := &rywClient{t: t, base: d.url, token: strings.TrimSpace(token), http: &http.Client{Timeout: 30 * time.Second}}
	const rounds = 54
	if stale := changeThenAuthorize(c, rounds); len(stale) > 0 {
		t.Fatalf("%d of %d rounds decided without the change:\n%s", len(stale), rounds, strings.Join(stale, "\n"))
	}
}
