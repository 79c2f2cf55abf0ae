package e2e

// End-to-end test of the gate behind a real nginx (issue 4): the nginx
// configuration of docs/nginx.md, a real `tmaps serve` built from this tree,
// a static upstream, and the real curl binary as the client.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tmaps/console/internal/testkit"
)

// nginxTool finds a binary the test needs, or fails with the next step.
func nginxTool(t *testing.T, name string, extra ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, p := range extra {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("TMAPS_SKIP_NGINX") == "1" {
		t.Skipf("%s not found and TMAPS_SKIP_NGINX=1: the nginx end-to-end test did not run", name)
	}
	t.Fatalf("%s not found: run `make test` (it installs nginx and curl), or set TMAPS_SKIP_NGINX=1 to skip this test knowingly", name)
	return ""
}

func TestMain(m *testing.M) {
	code := m.Run()
	testkit.Cleanup()
	os.Exit(code)
}

// nginxRun runs the tmaps CLI and returns its stdout.
func nginxRun(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tmaps %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return out
}

// nginxCreateKey creates a key through the CLI and returns its id and secret.
func nginxCreateKey(t *testing.T, bin, db, name string) (id, secret string) {
	t.Helper()
	var out struct {
		Key    struct{ ID string }
		Secret string
	}
	b := nginxRun(t, bin, "--db", db, "keys", "create", "--name", name, "--json")
	if err := json.Unmarshal(b, &out); err != nil || out.Key.ID == "" || out.Secret == "" {
		t.Fatalf("keys create --json: %v\n%s", err, b)
	}
	return out.Key.ID, out.Secret
}

func nginxFreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// nginxDocsBlock returns the nginx block of docs/nginx.md that the doc says
// this test runs.
func nginxDocsBlock(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs", "nginx.md"))
	if err != nil {
		t.Fatalf("read docs/nginx.md: %v", err)
	}
	doc := string(b)
	_, after, ok := strings.Cut(doc, "<!-- nginx-e2e: the test runs the next nginx block -->")
	if !ok {
		t.Fatal("docs/nginx.md lost its nginx-e2e marker")
	}
	_, after, ok = strings.Cut(after, "```nginx\n")
	if !ok {
		t.Fatal("docs/nginx.md: no ```nginx block after the marker")
	}
	block, _, ok := strings.Cut(after, "```")
	if !ok {
		t.Fatal("docs/nginx.md: unterminated nginx block")
	}
	return block
}

// nginxReplace replaces old by new in s and fails unless old occurs exactly
// once (so that the doc and the test cannot drift apart silently).
func nginxReplace(t *testing.T, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("docs/nginx.md: %q occurs %d times in the nginx block, the test expects 1", old, n)
	}
	return strings.Replace(s, old, new, 1)
}

// nginxUpstream is the static Mapping API behind nginx; it records what
// reaches it.
type nginxUpstream struct {
	mu   sync.Mutex
	hits []http.Header
	srv  *httptest.Server
}

func (u *nginxUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.hits)
}

func (u *nginxUpstream) last() http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits[len(u.hits)-1]
}

// nginxReply is what curl printed.
type nginxReply struct {
	code        int
	contentType string
	body        string
}

var nginxTrailer = regexp.MustCompile(`\n@@(\d{3}) ([^\n]*)$`)

func TestNginxAuthRequest(t *testing.T) {
	nginx := nginxTool(t, "nginx", "/usr/sbin/nginx")
	curl := nginxTool(t, "curl")
	dir := t.TempDir()
	bin := testkit.Binary(t)
	db := filepath.Join(dir, "console.db")

	// The store: domains, and keys in every state, made with the CLI
	// before the daemon takes the store's lock.
	nginxRun(t, bin, "--db", db, "domains", "add", "mysite.tn")
	nginxRun(t, bin, "--db", db, "domains", "add", "localhost")
	webID, web := nginxCreateKey(t, bin, db, "web app")
	nginxRun(t, bin, "--db", db, "keys", "link", webID, "mysite.tn", "localhost")
	_, server := nginxCreateKey(t, bin, db, "backend")
	pausedID, paused := nginxCreateKey(t, bin, db, "paused")
	nginxRun(t, bin, "--db", db, "keys", "link", pausedID, "mysite.tn")
	nginxRun(t, bin, "--db", db, "keys", "disable", pausedID, "--yes")
	oldID, old := nginxCreateKey(t, bin, db, "old")
	nginxRun(t, bin, "--db", db, "keys", "revoke", oldID, "--confirm", "old")
	soonID, soon := nginxCreateKey(t, bin, db, "soon revoked")
	nginxRun(t, bin, "--db", db, "keys", "link", soonID, "mysite.tn")
	token := strings.TrimSpace(string(nginxRun(t, bin, "--db", db, "tokens", "create", "nginx-e2e")))

	// tmaps serve on loopback, trusting nginx on 127.0.0.1.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	serve := exec.CommandContext(ctx, bin, "serve", "--db", db, "--listen", "127.0.0.1:0",
		"--trusted-proxy", "127.0.0.1/32", "--flush-every", "100ms")
	serve.Cancel = func() error { return serve.Process.Signal(syscall.SIGTERM) }
	serve.WaitDelay = 10 * time.Second
	serveErr := &testkit.SyncBuffer{}
	serve.Stderr = serveErr
	stdout, err := serve.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.Start(); err != nil {
		t.Fatalf("start tmaps serve: %v", err)
	}
	serveDone := make(chan error, 1)
	go func() { serveDone <- serve.Wait() }()
	defer func() {
		_ = serve.Process.Signal(syscall.SIGTERM) // an error means it already exited
		select {
		case err := <-serveDone:
			if err != nil {
				t.Errorf("tmaps serve stopped with %v\n%s", err, serveErr.Bytes())
			}
		case <-time.After(15 * time.Second):
			t.Errorf("tmaps serve did not stop on SIGTERM")
		}
	}()
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
				ready <- u
			}
		}
	}()
	var apiURL string
	select {
	case apiURL = <-ready:
	case err := <-serveDone:
		t.Fatalf("tmaps serve exited: %v\n%s", err, serveErr.Bytes())
	case <-time.After(30 * time.Second):
		t.Fatalf("tmaps serve never printed ready\n%s", serveErr.Bytes())
	}
	gateAddr := strings.TrimPrefix(apiURL, "http://")
	if _, err := netip.ParseAddrPort(gateAddr); err != nil {
		t.Fatalf("tmaps serve is ready at %q, want http://127.0.0.1:PORT", apiURL)
	}

	// The Mapping API stand-in.
	up := &nginxUpstream{}
	up.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up.mu.Lock()
		up.hits = append(up.hits, r.Header.Clone())
		up.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "upstream %s %s", r.Method, r.URL.Path)
	}))
	defer up.srv.Close()

	// nginx with the configuration of docs/nginx.md.
	cert, key := testkit.SelfSignedCert(t, dir, "api.tmaps.test")
	httpPort, httpsPort := nginxFreePort(t), nginxFreePort(t)
	block := nginxDocsBlock(t)
	block = nginxReplace(t, block, "server 127.0.0.1:8443;", "server "+gateAddr+";")
	block = nginxReplace(t, block, "server 127.0.0.1:9000;", "server "+strings.TrimPrefix(up.srv.URL, "http://")+";")
	block = nginxReplace(t, block, "listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", httpPort))
	block = nginxReplace(t, block, "listen 443 ssl;", fmt.Sprintf("listen 127.0.0.1:%d ssl;", httpsPort))
	block = nginxReplace(t, block, "/etc/ssl/tmaps/fullchain.pem", cert)
	block = nginxReplace(t, block, "/etc/ssl/tmaps/privkey.pem", key)
	for _, sub := range []string{"logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, "nginx", sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	prefix := filepath.Join(dir, "nginx")
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log info;
events { worker_connections 64; }
http {
    access_log %[1]s/logs/access.log;
    client_body_temp_path %[1]s/tmp/body;
    proxy_temp_path %[1]s/tmp/proxy;
    fastcgi_temp_path %[1]s/tmp/fastcgi;
    uwsgi_temp_path %[1]s/tmp/uwsgi;
    scgi_temp_path %[1]s/tmp/scgi;
%[2]s
}
`, prefix, block)
	confPath := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(nginx, "-t", "-p", prefix, "-e", prefix+"/logs/error.log", "-c", confPath).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t refuses the configuration of docs/nginx.md: %v\n%s\n%s", err, b, conf)
	}
	ngx := exec.Command(nginx, "-p", prefix, "-e", prefix+"/logs/error.log", "-c", confPath)
	ngxOut := &testkit.SyncBuffer{}
	ngx.Stdout, ngx.Stderr = ngxOut, ngxOut
	if err := ngx.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	ngxDone := make(chan error, 1)
	go func() { ngxDone <- ngx.Wait() }()
	defer func() {
		_ = ngx.Process.Signal(syscall.SIGQUIT)
		select {
		case <-ngxDone:
		case <-time.After(10 * time.Second):
			_ = ngx.Process.Kill()
		}
		if t.Failed() {
			for _, f := range []string{"error.log", "access.log"} {
				b, _ := os.ReadFile(filepath.Join(prefix, "logs", f))
				t.Logf("nginx %s:\n%s", f, b)
			}
			t.Logf("tmaps serve stderr:\n%s", serveErr.Bytes())
		}
	}()
	nginxWaitPort(t, httpsPort, ngxDone, ngxOut)
	nginxWaitPort(t, httpPort, ngxDone, ngxOut)

	base := fmt.Sprintf("https://127.0.0.1:%d", httpsPort)
	do := func(method, target string, headers ...string) nginxReply {
		t.Helper()
		args := []string{"-sS", "--max-time", "10", "--cacert", cert, "-X", method,
			"-w", "\n@@%{http_code} %{content_type}"}
		for _, h := range headers {
			args = append(args, "-H", h)
		}
		if method == http.MethodPost {
			args = append(args, "--data", `{"points":[[36.8,10.18]]}`)
		}
		args = append(args, target)
		out, err := exec.Command(curl, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %s: %v\n%s", target, err, out)
		}
		m := nginxTrailer.FindSubmatchIndex(out)
		if m == nil {
			t.Fatalf("curl printed no status:\n%s", out)
		}
		var r nginxReply
		fmt.Sscan(string(out[m[2]:m[3]]), &r.code)
		r.contentType = string(out[m[4]:m[5]])
		r.body = string(out[:m[0]])
		return r
	}
	tile := func(secret string) string { return base + "/v1/tiles/9/271/190.png?style=streets&api_key=" + secret }
	allowed := func(name string, r nginxReply, method string) {
		t.Helper()
		if r.code != 200 || r.body != "upstream "+method+" /v1/tiles/9/271/190.png" {
			t.Errorf("%s: got %d %q, want the upstream's 200", name, r.code, r.body)
		}
	}
	refused := func(name string, r nginxReply, code int, msg string) {
		t.Helper()
		want := `{"error":"` + msg + `"}`
		if r.code != code || r.body != want || r.contentType != "application/json" {
			t.Errorf("%s: got %d %q (%s), want %d %s (application/json)", name, r.code, r.body, r.contentType, code, want)
		}
	}

	hits := up.count()
	allowed("origin of a linked domain", do("GET", tile(web), "Origin: https://mysite.tn"), "GET")
	if got := up.last().Get("X-Tmaps-Key-Id"); got != webID {
		t.Errorf("upstream got X-Tmaps-Key-Id %q, want the key id %q", got, webID)
	}
	allowed("origin of a dev server", do("GET", tile(web), "Origin: http://localhost:5173"), "GET")
	allowed("referer of a linked domain", do("GET", tile(web), "Referer: https://mysite.tn/map"), "GET")
	allowed("origin null, linked referer", do("GET", tile(web), "Origin: null", "Referer: https://mysite.tn/"), "GET")
	allowed("no origin, no referer", do("GET", tile(web)), "GET")
	allowed("unrestricted key from anywhere", do("GET", tile(server), "Origin: https://evil.com"), "GET")
	allowed("POST with a body", do("POST", tile(web), "Origin: https://mysite.tn", "Content-Type: application/json"), "POST")
	allowed("forged X-Forwarded-Proto and X-Original-URI are replaced",
		do("GET", tile(web), "X-Original-URI: /x", "X-Forwarded-Proto: http"), "GET")
	if got := up.count() - hits; got != 8 {
		t.Errorf("the upstream got %d requests, want the 8 allowed ones", got)
	}

	hits = up.count()
	refused("origin of another site", do("GET", tile(web), "Origin: https://evil.com"), 403, "domain not authorized")
	refused("referer of another site", do("GET", tile(web), "Referer: https://evil.com/page"), 403, "domain not authorized")
	refused("subdomain not linked", do("GET", tile(web), "Origin: https://app.mysite.tn"), 403, "domain not authorized")
	refused("disabled key", do("GET", tile(paused), "Origin: https://mysite.tn"), 401, "api_key disabled")
	refused("disabled key, no headers", do("GET", tile(paused)), 401, "api_key disabled")
	refused("revoked key", do("GET", tile(old), "Referer: https://mysite.tn/"), 401, "api_key revoked")
	refused("revoked key, no headers", do("GET", tile(old)), 401, "api_key revoked")
	refused("no api_key", do("GET", base+"/v1/tiles/9/271/190.png"), 401, "missing api_key")
	refused("empty api_key", do("GET", base+"/v1/geocode?api_key=&q=tunis"), 401, "missing api_key")
	refused("api_key twice", do("GET", tile(web)+"&api_key="+web), 401, "invalid api_key")
	refused("malformed api_key", do("GET", tile("ak_123")), 401, "invalid api_key")
	refused("unknown api_key", do("GET", tile("ak_0123456789abcdef0123456789abcdef")), 401, "invalid api_key")
	refused("POST from another site", do("POST", tile(web), "Origin: https://evil.com"), 403, "domain not authorized")
	plain := fmt.Sprintf("http://127.0.0.1:%d/v1/tiles/9/271/190.png?api_key=%s", httpPort, server)
	refused("plain HTTP", do("GET", plain), 403, "https required")
	refused("plain HTTP claiming https", do("GET", plain, "X-Forwarded-Proto: https"), 403, "https required")
	if got := up.count() - hits; got != 0 {
		t.Errorf("%d refused requests reached the upstream", got)
	}

	// A change through the management API (the real CLI with --api) is
	// refused on the very next request through nginx.
	api := []string{"--api", apiURL}
	apiRun := func(args ...string) {
		t.Helper()
		cmd := exec.Command(bin, append(api, args...)...)
		cmd.Env = append(os.Environ(), "TMAPS_TOKEN="+token, "NO_COLOR=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("tmaps %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	allowed("before revoke", do("GET", tile(soon), "Origin: https://mysite.tn"), "GET")
	apiRun("keys", "revoke", soonID, "--confirm", "soon revoked")
	refused("the request right after the revoke", do("GET", tile(soon), "Origin: https://mysite.tn"), 401, "api_key revoked")

	apiRun("keys", "disable", webID, "--yes")
	refused("the request right after disable", do("GET", tile(web), "Origin: https://mysite.tn"), 401, "api_key disabled")
	apiRun("keys", "enable", webID)
	allowed("the request right after enable", do("GET", tile(web), "Origin: https://mysite.tn"), "GET")
	apiRun("keys", "unlink", webID, "localhost")
	refused("the request right after unlink", do("GET", tile(web), "Origin: http://localhost:5173"), 403, "domain not authorized")

	// The gate counted what nginx sent: its metrics, read with the token.
	mreq, _ := http.NewRequest(http.MethodGet, apiURL+"/metrics", nil)
	mreq.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(mreq)
	if err != nil {
		t.Fatal(err)
	}
	var metrics bytes.Buffer
	_, _ = metrics.ReadFrom(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`tmaps_gate_decisions_total{outcome="unauthorized",reason="key_revoked"} 3`,
		`tmaps_gate_decisions_total{outcome="forbidden",reason="https_required"} 2`,
		`tmaps_gate_decisions_total{outcome="unauthorized",reason="key_disabled"} 3`,
	} {
		if !strings.Contains(metrics.String(), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, metrics.String())
		}
	}
}

// nginxWaitPort waits until nginx accepts connections on port, or exits.
func nginxWaitPort(t *testing.T, port int, done chan error, out *testkit.SyncBuffer) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("nginx exited: %v\n%s", err, out.Bytes())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx does not listen on %d: %v\n%s", port, err, out.Bytes())
		}
	}
}
