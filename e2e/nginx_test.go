package e2e

// End-to-end test of the gate behind a real nginx (issues 4 and 9): the
// nginx configuration of docs/nginx.md, a real `tmaps serve` built from this
// tree, a stand-in Mapping API, and the real curl binary as the client. It
// covers the gate's decisions, CORS (refusals readable, preflights), the
// management API and its event stream through nginx, the JSON answers when
// the API or the gate is down, and nginx's own logs, which must hold no
// secret.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tmaps/console/internal/testkit"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testkit.Cleanup()
	os.Exit(code)
}

// curlReply is what curl received.
type curlReply struct {
	code   int
	header http.Header
	body   string
}

// curlDo sends one request with curl, trusting cert, and returns the answer.
// Each header is "Name: value", or "@" and a request body; a POST without
// one sends a small JSON body.
func curlDo(t *testing.T, curl, cert, method, target string, headers ...string) curlReply {
	t.Helper()
	dir := t.TempDir()
	hfile, bfile := filepath.Join(dir, "h"), filepath.Join(dir, "b")
	args := []string{"-sS", "--max-time", "10", "--cacert", cert, "-X", method, "-D", hfile, "-o", bfile}
	body := ""
	for _, h := range headers {
		if b, ok := strings.CutPrefix(h, "@"); ok {
			body = b
			continue
		}
		args = append(args, "-H", h)
	}
	if method == http.MethodPost && body == "" {
		body = `{"points":[[36.8,10.18]]}`
	}
	if body != "" {
		args = append(args, "--data", body)
	}
	args = append(args, target)
	if out, err := exec.Command(curl, args...).CombinedOutput(); err != nil {
		t.Fatalf("curl %s %s: %v\n%s", method, target, err, out)
	}
	hb, err := os.ReadFile(hfile)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := os.ReadFile(bfile)
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(hb)))
	status, err := tp.ReadLine()
	if err != nil {
		t.Fatalf("curl %s: no status line: %v\n%s", target, err, hb)
	}
	var r curlReply
	var proto string
	if _, err := fmt.Sscan(status, &proto, &r.code); err != nil {
		t.Fatalf("curl %s: status line %q", target, status)
	}
	mh, err := tp.ReadMIMEHeader()
	if err != nil && len(mh) == 0 {
		t.Fatalf("curl %s: headers: %v\n%s", target, err, hb)
	}
	r.header = http.Header(mh)
	r.body = string(answer)
	return r
}

// nginxSetup is the store the nginx tests start from: keys in every state,
// made with the CLI before the daemon takes the store's lock.
type nginxSetup struct {
	db                                   string
	webID, web, server, pausedID, paused string
	oldID, old, soonID, soon, token      string
	limitedID, limited, officeID, office string
}

func newNginxSetup(t *testing.T, bin, dir string) nginxSetup {
	t.Helper()
	s := nginxSetup{db: filepath.Join(dir, "console.db")}
	stackRun(t, bin, nil, "--db", s.db, "domains", "add", "mysite.tn")
	stackRun(t, bin, nil, "--db", s.db, "domains", "add", "localhost")
	s.webID, s.web = stackCreateKey(t, bin, s.db, "web app")
	stackRun(t, bin, nil, "--db", s.db, "keys", "link", s.webID, "mysite.tn", "localhost")
	_, s.server = stackCreateKey(t, bin, s.db, "backend")
	s.pausedID, s.paused = stackCreateKey(t, bin, s.db, "paused")
	stackRun(t, bin, nil, "--db", s.db, "keys", "link", s.pausedID, "mysite.tn")
	stackRun(t, bin, nil, "--db", s.db, "keys", "disable", s.pausedID, "--yes")
	s.oldID, s.old = stackCreateKey(t, bin, s.db, "old")
	stackRun(t, bin, nil, "--db", s.db, "keys", "revoke", s.oldID, "--confirm", "old")
	s.soonID, s.soon = stackCreateKey(t, bin, s.db, "soon revoked")
	stackRun(t, bin, nil, "--db", s.db, "keys", "link", s.soonID, "mysite.tn")
	s.limitedID, s.limited = stackCreateKey(t, bin, s.db, "rate limited")
	s.officeID, s.office = stackCreateKey(t, bin, s.db, "office only")
	s.token = strings.TrimSpace(string(stackRun(t, bin, nil, "--db", s.db, "tokens", "create", "nginx-e2e")))
	return s
}

// TestNginxAuthRequest runs the gate's decisions, CORS, the management
// API, the gate down and the logs through nginx twice: with the gate on
// its unix socket
// (docs/nginx.md's configuration, nginx trusted as the socket's peer) and
// over TCP (a gate on another host, nginx trusted by --trusted-proxy).
func TestNginxAuthRequest(t *testing.T) {
	t.Run("socket", func(t *testing.T) { testNginxAuthRequest(t, nginxOptions{}) })
	t.Run("tcp", func(t *testing.T) { testNginxAuthRequest(t, nginxOptions{GateTCP: true}) })
}

func testNginxAuthRequest(t *testing.T, opt nginxOptions) {
	curl := stackTool(t, "curl")
	dir := t.TempDir()
	bin := testkit.Binary(t)
	st := newNginxSetup(t, bin, dir)
	serve := startServe(t, bin, st.db, "--flush-every", "100ms")
	up := startUpstream(t)
	ngx := startNginx(t, dir, serve, up.Addr(), opt)

	base := fmt.Sprintf("https://127.0.0.1:%d", ngx.HTTPSPort)
	mgmt := fmt.Sprintf("https://127.0.0.1:%d", ngx.MgmtPort)
	do := func(method, target string, headers ...string) curlReply {
		t.Helper()
		return curlDo(t, curl, ngx.Cert, method, target, headers...)
	}
	tile := func(secret string) string {
		return base + "/v1/tiles/9/271/190.png?style=streets&as=text&api_key=" + secret
	}
	// Every answer of the API server is readable by a browser's fetch().
	cors := func(name string, r curlReply) {
		t.Helper()
		if got := r.header.Values("Access-Control-Allow-Origin"); len(got) != 1 || got[0] != "*" {
			t.Errorf("%s: Access-Control-Allow-Origin %q, want one *", name, got)
		}
	}
	allowed := func(name string, r curlReply, method string) {
		t.Helper()
		if r.code != 200 || r.body != "upstream "+method+" /v1/tiles/9/271/190.png" {
			t.Errorf("%s: got %d %q, want the upstream's 200", name, r.code, r.body)
		}
		cors(name, r)
		if cc := r.header.Get("Cache-Control"); cc != "" {
			t.Errorf("%s: Cache-Control %q on an allowed answer, want the API's own (none)", name, cc)
		}
	}
	refused := func(name string, r curlReply, code int, msg string) {
		t.Helper()
		want := `{"error":"` + msg + `"}`
		if r.code != code || r.body != want || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: got %d %q (%s), want %d %s (application/json)", name, r.code, r.body, r.header.Get("Content-Type"), code, want)
		}
		cors(name, r)
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", name, cc)
		}
	}

	hits := up.count()
	allowed("origin of a linked domain", do("GET", tile(st.web), "Origin: https://mysite.tn"), "GET")
	if got := up.last().Header.Get("X-Tmaps-Key-Id"); got != st.webID {
		t.Errorf("upstream got X-Tmaps-Key-Id %q, want the key id %q", got, st.webID)
	}
	allowed("origin of a dev server", do("GET", tile(st.web), "Origin: http://localhost:5173"), "GET")
	allowed("referer of a linked domain", do("GET", tile(st.web), "Referer: https://mysite.tn/map"), "GET")
	allowed("origin null, linked referer", do("GET", tile(st.web), "Origin: null", "Referer: https://mysite.tn/"), "GET")
	allowed("no origin, no referer", do("GET", tile(st.web)), "GET")
	allowed("unrestricted key from anywhere", do("GET", tile(st.server), "Origin: https://evil.com"), "GET")
	allowed("POST with a body", do("POST", tile(st.web), "Origin: https://mysite.tn", "Content-Type: application/json"), "POST")
	allowed("forged X-Forwarded-Proto and X-Original-URI are replaced",
		do("GET", tile(st.web), "X-Original-URI: /x", "X-Forwarded-Proto: http"), "GET")
	if got := up.count() - hits; got != 8 {
		t.Errorf("the upstream got %d requests, want the 8 allowed ones", got)
	}

	hits = up.count()
	refused("origin of another site", do("GET", tile(st.web), "Origin: https://evil.com"), 403, "domain not authorized")
	refused("referer of another site", do("GET", tile(st.web), "Referer: https://evil.com/page"), 403, "domain not authorized")
	refused("subdomain not linked", do("GET", tile(st.web), "Origin: https://app.mysite.tn"), 403, "domain not authorized")
	refused("disabled key", do("GET", tile(st.paused), "Origin: https://mysite.tn"), 401, "api_key disabled")
	refused("disabled key, no headers", do("GET", tile(st.paused)), 401, "api_key disabled")
	refused("revoked key", do("GET", tile(st.old), "Referer: https://mysite.tn/"), 401, "api_key revoked")
	refused("revoked key, no headers", do("GET", tile(st.old)), 401, "api_key revoked")
	refused("no api_key", do("GET", base+"/v1/tiles/9/271/190.png"), 401, "missing api_key")
	refused("empty api_key", do("GET", base+"/v1/geocode?api_key=&q=tunis"), 401, "missing api_key")
	refused("api_key twice", do("GET", tile(st.web)+"&api_key="+st.web), 401, "invalid api_key")
	refused("malformed api_key", do("GET", tile("ak_123")), 401, "invalid api_key")
	refused("unknown api_key", do("GET", tile("ak_0123456789abcdef0123456789abcdef")), 401, "invalid api_key")
	refused("POST from another site", do("POST", tile(st.web), "Origin: https://evil.com"), 403, "domain not authorized")
	plain := fmt.Sprintf("http://127.0.0.1:%d/v1/tiles/9/271/190.png?api_key=%s", ngx.HTTPPort, st.server)
	refused("plain HTTP", do("GET", plain), 403, "https required")
	refused("plain HTTP claiming https", do("GET", plain, "X-Forwarded-Proto: https"), 403, "https required")
	if got := up.count() - hits; got != 0 {
		t.Errorf("%d refused requests reached the upstream", got)
	}

	// A CORS preflight is answered by nginx: it reaches neither the gate
	// nor the API, whatever its key and Origin.
	metrics := func() string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, serve.URL+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+st.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return b.String()
	}
	decisions := regexp.MustCompile(`(?m)^tmaps_gate_decisions_total\{[^}]*\} (\d+)$`)
	countDecisions := func() (n int) {
		for _, m := range decisions.FindAllStringSubmatch(metrics(), -1) {
			var v int
			fmt.Sscan(m[1], &v)
			n += v
		}
		return n
	}
	before, hits := countDecisions(), up.count()
	for _, c := range []struct{ name, target, origin string }{
		{"preflight from a linked domain", tile(st.web), "https://mysite.tn"},
		{"preflight from another site", tile(st.web), "https://evil.com"},
		{"preflight with a revoked key", tile(st.old), "https://mysite.tn"},
		{"preflight without a key", base + "/v1/geocode", "https://mysite.tn"},
	} {
		r := do("OPTIONS", c.target, "Origin: "+c.origin, "Access-Control-Request-Method: POST",
			"Access-Control-Request-Headers: content-type")
		if r.code != 204 || r.body != "" {
			t.Errorf("%s: got %d %q, want 204 and no body", c.name, r.code, r.body)
		}
		cors(c.name, r)
		for h, want := range map[string]string{
			"Access-Control-Allow-Methods": "GET, HEAD, POST",
			"Access-Control-Allow-Headers": "Content-Type",
			"Access-Control-Max-Age":       "7200",
		} {
			if got := r.header.Get(h); got != want {
				t.Errorf("%s: %s %q, want %q", c.name, h, got, want)
			}
		}
	}
	if got := up.count() - hits; got != 0 {
		t.Errorf("%d preflights reached the upstream", got)
	}
	if after := countDecisions(); after != before {
		t.Errorf("the gate decided %d preflights, want none", after-before)
	}
	// Only a preflight gets the preflight headers.
	if r := do("GET", tile(st.web), "Origin: https://mysite.tn"); r.header.Get("Access-Control-Allow-Methods") != "" {
		t.Errorf("a GET got Access-Control-Allow-Methods %q", r.header.Get("Access-Control-Allow-Methods"))
	}

	// The management API through nginx: the real CLI with --api on the
	// management server, trusting its certificate. A change is refused on
	// the very next request through nginx.
	apiEnv := []string{"TMAPS_TOKEN=" + st.token, "SSL_CERT_FILE=" + ngx.Cert}
	apiRun := func(args ...string) string {
		t.Helper()
		return string(stackRun(t, bin, apiEnv, append([]string{"--api", mgmt}, args...)...))
	}
	if out := apiRun("keys", "list", "--json"); !strings.Contains(out, st.webID) || !strings.Contains(out, st.soonID) {
		t.Errorf("keys list through nginx lacks the keys:\n%s", out)
	}
	allowed("before revoke", do("GET", tile(st.soon), "Origin: https://mysite.tn"), "GET")
	apiRun("keys", "revoke", st.soonID, "--confirm", "soon revoked")
	refused("the request right after the revoke", do("GET", tile(st.soon), "Origin: https://mysite.tn"), 401, "api_key revoked")
	apiRun("keys", "disable", st.webID, "--yes")
	refused("the request right after disable", do("GET", tile(st.web), "Origin: https://mysite.tn"), 401, "api_key disabled")
	apiRun("keys", "enable", st.webID)
	allowed("the request right after enable", do("GET", tile(st.web), "Origin: https://mysite.tn"), "GET")
	apiRun("keys", "unlink", st.webID, "localhost")
	refused("the request right after unlink", do("GET", tile(st.web), "Origin: http://localhost:5173"), 403, "domain not authorized")

	// While the daemon holds the store, `tmaps check` runs through it.
	var check struct{ Status int }
	if out := apiRun("check", "--key", st.web, "--origin", "https://evil.com", "--json"); json.Unmarshal([]byte(out), &check) != nil || check.Status != 403 {
		t.Errorf("check --api through nginx: %s, want status 403", out)
	}

	// The gate counted what nginx sent.
	m := metrics()
	for _, want := range []string{
		`tmaps_gate_decisions_total{outcome="unauthorized",reason="key_revoked"} 3`,
		`tmaps_gate_decisions_total{outcome="forbidden",reason="https_required"} 2`,
		`tmaps_gate_decisions_total{outcome="unauthorized",reason="key_disabled"} 3`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, m)
		}
	}

	// Key policies through nginx: a 429 keeps its status, JSON body and
	// Retry-After; the client address is nginx's peer, whatever the client
	// claims.
	patch := func(id, body string) {
		t.Helper()
		r := curlDo(t, curl, ngx.Cert, "PATCH", mgmt+"/v1/keys/"+id, "Authorization: Bearer "+st.token,
			"Content-Type: application/json", "@"+body)
		if r.code != 200 {
			t.Fatalf("PATCH %s %s: %d %s", id, body, r.code, r.body)
		}
	}
	patch(st.limitedID, `{"rate":0.05,"burst":1}`)
	allowed("rate limit: the first call", do("GET", tile(st.limited)), "GET")
	r := do("GET", tile(st.limited), "Origin: https://evil.com")
	refused("rate limit: the next call", r, 429, "rate limit exceeded")
	if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("rate limit: Retry-After %q, want whole seconds", ra)
	}
	if ra := do("GET", tile(st.web), "Origin: https://mysite.tn").header.Get("Retry-After"); ra != "" {
		t.Errorf("an allowed call got Retry-After %q", ra)
	}
	patch(st.officeID, `{"allow_ips":["10.0.0.0/8"]}`)
	refused("IP allowlist, another address", do("GET", tile(st.office)), 403, "ip not authorized")
	refused("IP allowlist, a forged X-Real-IP", do("GET", tile(st.office), "X-Real-IP: 10.1.2.3"), 403, "ip not authorized")
	patch(st.officeID, `{"allow_ips":["127.0.0.1"]}`)
	allowed("IP allowlist, the client's address", do("GET", tile(st.office)), "GET")

	// The management server answers without CORS headers (it is not for
	// browsers) and keeps the gate's endpoint to itself.
	if r := do("GET", mgmt+"/v1/keys", "Authorization: Bearer "+st.token, "Origin: https://evil.com"); r.code != 200 || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("management GET /v1/keys: %d, Access-Control-Allow-Origin %q; want 200 and none", r.code, r.header.Get("Access-Control-Allow-Origin"))
	}
	if r := do("GET", mgmt+"/v1/authorize?api_key="+st.server); r.code != 404 || r.body != `{"error":"not found"}` {
		t.Errorf("management GET /v1/authorize: %d %q, want 404 {\"error\":\"not found\"}", r.code, r.body)
	}

	// The event stream through nginx: a change made through nginx arrives
	// at once, not when a buffer fills.
	nginxEventStream(t, mgmt, ngx.Cert, st.token, func() { apiRun("keys", "rename", st.webID, "web app 2") }, st.webID)

	// Secrets in other spellings and places: nginx's logs must hold none.
	// (The gate reads an escaped api_key as the key itself.)
	webHex, serverHex := strings.TrimPrefix(st.web, "ak_"), strings.TrimPrefix(st.server, "ak_")
	escapedHex := ""
	for _, c := range []byte(serverHex) {
		escapedHex += fmt.Sprintf("%%%02X", c)
	}
	tiles := base + "/v1/tiles/9/271/190.png?as=text"
	allowed("escaped underscore", do("GET", tiles+"&api_key=ak%5F"+serverHex), "GET")
	allowed("escaped name", do("GET", tiles+"&%61pi_key="+st.server), "GET")
	allowed("every byte escaped", do("GET", tiles+"&api_key=%61%6B%5F"+escapedHex), "GET")
	refused("three api_keys", do("GET", tiles+"&api_key="+st.web+"&x=1&api_key="+st.server+"&y=2&api_key="+st.web), 401, "invalid api_key")
	refused("a secret in the path", do("GET", base+"/v1/keys/"+st.web+"/x"), 401, "missing api_key")
	allowed("a secret in the referer", do("GET", tile(st.web), "Referer: https://mysite.tn/map?api_key="+st.web), "GET")
	refused("a secret in the origin", do("GET", tile(st.web), "Origin: https://"+st.server+".evil.com"), 403, "domain not authorized")
	allowed("a secret in the user agent", do("GET", tile(st.server), "User-Agent: app/1 (key "+st.server+")"), "GET")
	refused("an operator token in the query", do("GET", tiles+"&t="+st.token), 401, "missing api_key")

	// The Mapping API goes down: the gate still decides, an allowed call
	// gets a JSON 502.
	up.srv.Close()
	r = do("GET", tile(st.server), "Origin: https://mysite.tn")
	refused("API down", r, 502, "api unavailable")
	refused("API down, refused key", do("GET", tile(st.old)), 401, "api_key revoked")

	// The gate goes down: nginx fails closed with a JSON 503; preflights
	// still work; the console over nginx says what is wrong.
	if err := serve.Stop(); err != nil {
		t.Errorf("tmaps serve: %v", err)
	}
	for _, k := range []string{st.server, st.web, st.old} {
		refused("gate down", do("GET", tile(k), "Origin: https://mysite.tn"), 503, "gate unavailable")
	}
	refused("gate down, POST", do("POST", tile(st.web), "Origin: https://mysite.tn"), 503, "gate unavailable")
	if r := do("OPTIONS", tile(st.web), "Origin: https://mysite.tn", "Access-Control-Request-Method: POST"); r.code != 204 {
		t.Errorf("preflight with the gate down: %d, want 204", r.code)
	}
	cmd := exec.Command(bin, "--api", mgmt, "keys", "list")
	cmd.Env = append(os.Environ(), apiEnv...)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "502 Bad Gateway from a proxy in front of the API") || !strings.Contains(string(out), "is `tmaps serve` running?") {
		t.Errorf("keys list through nginx with the daemon down: %v\n%s\nwant an error naming the proxy's 502 and tmaps serve", err, out)
	}

	// nginx's logs: no secret in any spelling, yet enough to work with.
	extra := []string{webHex, serverHex, escapedHex, strings.TrimPrefix(st.token, "tm_"),
		strings.TrimPrefix(st.old, "ak_"), strings.TrimPrefix(st.soon, "ak_"), strings.TrimPrefix(st.paused, "ak_")}
	logs := ngx.checkLogsHaveNoSecrets(t, extra...)
	access, err := os.ReadFile(filepath.Join(ngx.Logs, "tmaps-api.access.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"api_key=" + st.web[:11] + "...", // the display prefix
		"key=" + st.webID,                // the id of the allowed key
		"gate=204", "gate=401", "gate=403",
		`" 503 `, "gate=502", // the gate was down
		`" 502 `,                              // the API was down
		`"https://mysite.tn/[redacted]"`,      // the referer keeps its host
		"/v1/tiles/9/271/190.png?[redacted] ", // other spellings: the query goes
		`"GET [redacted] HTTP/1.1" 401`,       // a secret in the path: the URI goes
		`"OPTIONS /v1/tiles/9/271/190.png?style=streets&as=text&api_key=` + st.web[:11] + `... HTTP/1.1" 204`,
	} {
		if !strings.Contains(string(access), want) {
			t.Errorf("the access log lacks %q", want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(ngx.Logs, "tmaps-api.error.log")); len(b) != 0 {
		t.Errorf("the API server's error log (crit) is not empty:\n%s", b)
	}
	if t.Failed() {
		t.Logf("nginx logs:\n%s", logs)
	}
}

// nginxEventStream opens GET /v1/events through nginx, runs change and
// waits for an event naming id, within 5 s.
func nginxEventStream(t *testing.T, base, cert, token string, change func(), id string) {
	t.Helper()
	pem, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer hc.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET /v1/events through nginx: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /v1/events through nginx: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
		close(lines)
	}()
	// The stream's first comment comes through before any event: nginx
	// does not hold it back.
	select {
	case l := <-lines:
		if l != ": connected" {
			t.Fatalf("first line of the event stream %q, want \": connected\"", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the event stream's first line did not come through nginx within 5 s")
	}
	change()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the event stream ended")
			}
			if strings.HasPrefix(l, "data: ") && strings.Contains(l, id) {
				return
			}
		case <-deadline:
			t.Fatalf("no event for %s came through nginx within 5 s of the change", id)
		}
	}
}
