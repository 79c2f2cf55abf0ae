package e2e

// Key policies through nginx (issue 12): a server key with an IP allowlist,
// the client address coming from nginx's X-Real-IP; a rate-limited key
// answering 429 with Retry-After under a burst from curl; an expired key.
// Same stack as nginx_test.go: docs/nginx.md's block, a real `tmaps serve`,
// the stand-in Mapping API, the real curl.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tmaps/console/internal/testkit"
)

// policyKey creates a key with policy flags through the CLI (before the
// daemon locks the store) and returns its id and secret.
func policyKey(t *testing.T, bin, db, name string, flags ...string) (string, string) {
	t.Helper()
	var out struct {
		Key    struct{ ID string }
		Secret string
	}
	b := stackRun(t, bin, nil, append([]string{"--db", db, "keys", "create", "--name", name, "--json"}, flags...)...)
	if err := json.Unmarshal(b, &out); err != nil || out.Secret == "" {
		t.Fatalf("keys create %v: %v\n%s", flags, err, b)
	}
	return out.Key.ID, out.Secret
}

// TestNginxKeyPolicies runs the key policies (IP allowlist through
// X-Real-IP, rate limit, expiry) through nginx twice: with the gate on its
// unix socket
// (docs/nginx.md's configuration, nginx trusted as the socket's peer) and
// over TCP (a gate on another host, nginx trusted by --trusted-proxy).
func TestNginxKeyPolicies(t *testing.T) {
	t.Run("socket", func(t *testing.T) { testNginxKeyPolicies(t, nginxOptions{}) })
	t.Run("tcp", func(t *testing.T) { testNginxKeyPolicies(t, nginxOptions{GateTCP: true}) })
}

func testNginxKeyPolicies(t *testing.T, opt nginxOptions) {
	curl := stackTool(t, "curl")
	dir := t.TempDir()
	bin := testkit.Binary(t)
	db := dir + "/console.db"
	// The office is 127.0.0.2: curl connects from there with --interface
	// (all of 127.0.0.0/8 is the loopback interface on Linux).
	_, office := policyKey(t, bin, db, "tiles backend", "--kind", "server", "--allow-ip", "127.0.0.2", "--allow-ip", "2001:db8::/32")
	limitedID, limited := policyKey(t, bin, db, "limited", "--kind", "server", "--rate", "0.1", "--burst", "3")
	_, expiring := policyKey(t, bin, db, "expiring", "--expires-in", "2s")
	token := strings.TrimSpace(string(stackRun(t, bin, nil, "--db", db, "tokens", "create", "policy-e2e")))

	serve := startServe(t, bin, db, "--flush-every", "100ms")
	up := startUpstream(t)
	ngx := startNginx(t, dir, serve, up.Addr(), opt)
	base := fmt.Sprintf("https://127.0.0.1:%d", ngx.HTTPSPort)
	tile := func(secret string) string {
		return base + "/v1/tiles/9/271/190.png?as=text&api_key=" + secret
	}
	do := func(target string, args ...string) curlReply {
		t.Helper()
		return curlFrom(t, curl, ngx.Cert, target, args...)
	}
	refused := func(name string, r curlReply, code int, msg string) {
		t.Helper()
		if r.code != code || r.body != `{"error":"`+msg+`"}` || r.header.Get("Content-Type") != "application/json" ||
			r.header.Get("Access-Control-Allow-Origin") != "*" || r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d %q %v; want %d %s, JSON, CORS, no-store", name, r.code, r.body, r.header, code, msg)
		}
	}

	// The IP allowlist: the client address is nginx's $remote_addr.
	hits := up.count()
	if r := do(tile(office), "--interface", "127.0.0.2"); r.code != 200 || r.body != "upstream GET /v1/tiles/9/271/190.png" {
		t.Errorf("from the office: %d %q", r.code, r.body)
	}
	if r := do(tile(office), "--interface", "127.0.0.2", "-H", "Origin: https://anything.example"); r.code != 200 {
		t.Errorf("from the office with an Origin (a server key has no domain): %d %q", r.code, r.body)
	}
	refused("from elsewhere", do(tile(office)), 403, "ip not authorized")
	// A client cannot claim the office's address: nginx replaces X-Real-IP.
	refused("forged X-Real-IP", do(tile(office), "-H", "X-Real-IP: 127.0.0.2", "-H", "X-Forwarded-For: 127.0.0.2"), 403, "ip not authorized")
	if got := up.count() - hits; got != 2 {
		t.Errorf("the upstream got %d requests, want the 2 from the office", got)
	}

	// A burst on a key limited to 0.1 request/s with a burst of 3: one curl,
	// one connection, ten requests back to back.
	hits = up.count()
	args := []string{"-sS", "--max-time", "20", "--cacert", ngx.Cert, "-w", `%{http_code} %header{retry-after}\n`}
	for range 10 {
		args = append(args, "-o", "/dev/null", tile(limited))
	}
	out, err := exec.Command(curl, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl burst: %v\n%s", err, out)
	}
	var ok, tooMany int
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		code, retry, _ := strings.Cut(line, " ")
		switch code {
		case "200":
			ok++
		case "429":
			tooMany++
			if n, err := strconv.Atoi(retry); err != nil || n < 1 || n > 10 {
				t.Errorf("429 with Retry-After %q; want whole seconds, 1 to 10", retry)
			}
		default:
			t.Errorf("burst answer %q", line)
		}
	}
	if ok != 3 || tooMany != 7 {
		t.Errorf("a burst of 10 on a key with a burst of 3: %d allowed, %d refused with 429\n%s", ok, tooMany, out)
	}
	if got := up.count() - hits; got != 3 {
		t.Errorf("the upstream got %d of the burst, want 3", got)
	}
	r := do(tile(limited))
	refused("over the rate limit", r, 429, "rate limit exceeded")
	if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 || n > 10 {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}

	// The expired key, once its 2 s are over.
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := do(tile(expiring))
		if r.code == 401 {
			refused("expired", r, 401, "api_key expired")
			break
		}
		if r.code != 200 || time.Now().After(deadline) {
			t.Fatalf("expiring key: %d %q", r.code, r.body)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The 429s are counted as their own outcome: usage over the API.
	env := []string{"TMAPS_API=" + serve.URL, "TMAPS_TOKEN=" + token}
	var u struct {
		Totals struct{ Allowed, Limited uint64 }
	}
	for {
		b := stackRun(t, bin, env, "usage", limitedID, "--since", "1h", "--json")
		if err := json.Unmarshal(b, &u); err != nil {
			t.Fatalf("usage --json: %v\n%s", err, b)
		}
		if u.Totals.Limited == 8 && u.Totals.Allowed == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("usage of the limited key: %+v; want 3 allowed, 8 limited (429)", u.Totals)
		}
		time.Sleep(100 * time.Millisecond)
	}
	ngx.checkLogsHaveNoSecrets(t, office[3:], limited[3:], expiring[3:])
}

// curlFrom sends one GET with curl and extra curl arguments (-H, --interface).
func curlFrom(t *testing.T, curl, cert, target string, args ...string) curlReply {
	t.Helper()
	var headers []string
	var extra []string
	for i := 0; i < len(args); i++ {
		if args[i] == "-H" && i+1 < len(args) {
			headers = append(headers, args[i+1])
			i++
			continue
		}
		extra = append(extra, args[i])
	}
	if len(extra) == 0 {
		return curlDo(t, curl, cert, "GET", target, headers...)
	}
	// curlDo takes headers only: a wrapper script adds the other arguments.
	script := "#!/bin/sh\nexec " + shellQuote(curl)
	for _, a := range extra {
		script += " " + shellQuote(a)
	}
	wrap := filepath.Join(t.TempDir(), "curl")
	if err := os.WriteFile(wrap, []byte(script+` "$@"`+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return curlDo(t, wrap, cert, "GET", target, headers...)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
