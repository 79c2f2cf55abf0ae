package e2e

// The stack the nginx, browser and load tests share: a real `tmaps serve`
// built from this tree, a stand-in Mapping API, and a real nginx running the
// configuration of docs/nginx.md with only its addresses, ports, certificate
// and log paths replaced.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tmaps/console/internal/testkit"
)

// stackTool finds a binary the test needs, or fails with the next step
// (TMAPS_SKIP_NGINX=1 skips instead, saying so).
func stackTool(t testing.TB, name string, extra ...string) string {
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
		t.Skipf("%s not found and TMAPS_SKIP_NGINX=1: this end-to-end test did not run", name)
	}
	t.Fatalf("%s not found: run `make test` (scripts/deps.sh installs it), or set TMAPS_SKIP_NGINX=1 to skip this test knowingly", name)
	return ""
}

// stackRun runs the tmaps CLI with env added and returns its stdout.
func stackRun(t testing.TB, bin string, env []string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), "NO_COLOR=1"), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tmaps %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return out
}

// stackCreateKey creates a key through the CLI on the local store and
// returns its id and secret.
func stackCreateKey(t testing.TB, bin, db, name string) (id, secret string) {
	t.Helper()
	var out struct {
		Key    struct{ ID string }
		Secret string
	}
	b := stackRun(t, bin, nil, "--db", db, "keys", "create", "--name", name, "--json")
	if err := json.Unmarshal(b, &out); err != nil || out.Key.ID == "" || out.Secret == "" {
		t.Fatalf("keys create --json: %v\n%s", err, b)
	}
	return out.Key.ID, out.Secret
}

func stackFreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// serveProc is a running `tmaps serve`.
type serveProc struct {
	URL    string // http://127.0.0.1:PORT
	Addr   string // 127.0.0.1:PORT
	Socket string // the gate's unix socket (--gate-socket)
	Stderr *testkit.SyncBuffer
	cmd    *exec.Cmd
	done   chan error
	once   sync.Once
}

// startServe starts `tmaps serve` on a loopback port of its choice, trusting
// a proxy on 127.0.0.1, with its gate also on a unix socket, and waits for
// its "ready" line. Cleanup stops it.
func startServe(t testing.TB, bin, db string, extra ...string) *serveProc {
	t.Helper()
	// A short directory of its own (a socket path has at most 107 bytes),
	// given to nginx's workers' group as docs/tmaps.service does with
	// /run/tmaps: setgid, so that the socket (0660) is in that group.
	sockDir, err := os.MkdirTemp("", "tmaps-gate-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	if gid, ok := nginxWorkerGroup(); ok {
		if err := os.Chown(sockDir, -1, gid); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(sockDir, 0o750|os.ModeSetgid); err != nil {
			t.Fatal(err)
		}
	}
	args := append([]string{"serve", "--db", db, "--listen", "127.0.0.1:0",
		"--trusted-proxy", "127.0.0.1/32", "--gate-socket", filepath.Join(sockDir, "gate.sock")}, extra...)
	s := &serveProc{Stderr: &testkit.SyncBuffer{}, done: make(chan error, 1), Socket: filepath.Join(sockDir, "gate.sock")}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stderr = s.Stderr
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start tmaps serve: %v", err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
				ready <- u
			}
		}
	}()
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("tmaps serve: %v\n%s", err, s.Stderr.Bytes())
		}
	})
	select {
	case s.URL = <-ready:
	case err := <-s.done:
		s.done <- err
		t.Fatalf("tmaps serve exited: %v\n%s", err, s.Stderr.Bytes())
	case <-time.After(30 * time.Second):
		t.Fatalf("tmaps serve never printed ready\n%s", s.Stderr.Bytes())
	}
	s.Addr = strings.TrimPrefix(s.URL, "http://")
	if _, err := netip.ParseAddrPort(s.Addr); err != nil {
		t.Fatalf("tmaps serve is ready at %q, want http://127.0.0.1:PORT", s.URL)
	}
	if fi, err := os.Stat(s.Socket); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("tmaps serve is ready without its gate socket: %v", err)
	}
	return s
}

// nginxWorkerUser is the user nginx's workers run as when the tests run as
// root (with more than one worker nginx drops root for them).
const nginxWorkerUser = "www-data"

// nginxWorkerGroup returns the group id of nginxWorkerUser when the tests
// run as root and that user exists.
func nginxWorkerGroup() (int, bool) {
	if os.Geteuid() != 0 {
		return 0, false
	}
	u, err := user.Lookup(nginxWorkerUser)
	if err != nil {
		return 0, false
	}
	gid, err := strconv.Atoi(u.Gid)
	return gid, err == nil
}

// Stop sends SIGTERM and waits; it reports an unclean exit. Calls after the
// first return nil.
func (s *serveProc) Stop() error {
	var err error
	s.once.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM) // an error means it already exited
		select {
		case err = <-s.done:
			if err != nil {
				err = fmt.Errorf("stopped with %v", err)
			}
		case <-time.After(15 * time.Second):
			_ = s.cmd.Process.Kill()
			err = fmt.Errorf("did not stop within 15 s of SIGTERM")
		}
	})
	return err
}

// upstream is the stand-in Mapping API behind nginx; it records the headers
// of what reaches it. Paths ending in .png get a small PNG (unless the query
// says as=text), in .pbf 20 KB standing for a vector tile, others the text
// "upstream METHOD PATH".
type upstream struct {
	mu   sync.Mutex
	hits []upstreamHit
	srv  *httptest.Server
}

type upstreamHit struct {
	Method, Path string
	Header       http.Header
}

var tilePNG = func() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	for i := range img.Pix {
		img.Pix[i] = 0x80
	}
	img.Set(0, 0, color.RGBA{R: 255, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}()

// tileVector is as large as a vector tile of a city, and as incompressible.
var tileVector = func() []byte {
	b := make([]byte, 20<<10)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}()

func startUpstream(t testing.TB) *upstream { return newUpstream(t, true) }

// newUpstream starts the stand-in; with record false it keeps nothing of
// what it serves (the load benchmark's upstream, as lean as it can be).
func newUpstream(t testing.TB, record bool) *upstream {
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if record {
			u.mu.Lock()
			u.hits = append(u.hits, upstreamHit{r.Method, r.URL.Path, r.Header.Clone()})
			u.mu.Unlock()
		}
		if strings.HasSuffix(r.URL.Path, ".png") && r.URL.Query().Get("as") != "text" {
			w.Header().Set("Content-Type", "image/png")
			w.Write(tilePNG)
			return
		}
		if strings.HasSuffix(r.URL.Path, ".pbf") {
			w.Header().Set("Content-Type", "application/x-protobuf")
			w.Header().Set("Content-Length", strconv.Itoa(len(tileVector)))
			w.Write(tileVector)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "upstream %s %s", r.Method, r.URL.Path)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) Addr() string { return strings.TrimPrefix(u.srv.URL, "http://") }

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.hits)
}

func (u *upstream) last() upstreamHit {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits[len(u.hits)-1]
}

// docsNginxBlock returns the nginx block of docs/nginx.md that the doc says
// the tests run.
func docsNginxBlock(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs", "nginx.md"))
	if err != nil {
		t.Fatalf("read docs/nginx.md: %v", err)
	}
	_, after, ok := strings.Cut(string(b), "<!-- nginx-e2e: the test runs the next nginx block -->")
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

// replaceN replaces old by new in s and fails unless old occurs exactly n
// times (so that the doc and the tests cannot drift apart silently).
func replaceN(t testing.TB, s, old, new string, n int) string {
	t.Helper()
	if got := strings.Count(s, old); got != n {
		t.Fatalf("docs/nginx.md: %q occurs %d times in the nginx block, the tests expect %d", old, got, n)
	}
	return strings.ReplaceAll(s, old, new)
}

// nginxProc is a running nginx with the configuration of docs/nginx.md.
type nginxProc struct {
	Prefix    string // nginx -p
	Logs      string // every log file is in here
	Cert      string // the self-signed certificate (and CA) of every server
	Key       string // its private key
	HTTPPort  int    // the API server, plain HTTP
	HTTPSPort int    // the API server
	MgmtPort  int    // the management API server
	// BaselinePort is the server without the gate (nginxOptions.Baseline).
	BaselinePort int
	// GatedTCPPort is a copy of the docs' API server whose gate upstream is
	// tmaps serve's TCP address (nginxOptions.GatedTCP).
	GatedTCPPort int
	done         chan error
	out          *testkit.SyncBuffer
	cmd          *exec.Cmd
}

// nginxOptions change the test's wrapper around the docs' block, never the
// block.
type nginxOptions struct {
	Workers     int      // worker_processes; 1 when 0
	CertHosts   []string // DNS names of the certificate besides 127.0.0.1
	Connections int      // worker_connections; 256 when 0
	// Edit, when set, changes the docs' block before the addresses are
	// replaced (the load benchmark's variants of the keep-alive settings).
	Edit func(t testing.TB, block string) string
	// Baseline adds a server on BaselinePort that proxies to the same
	// Mapping API as the docs' API server, with the same proxy and log
	// settings, without the gate: nginx alone, for the load benchmark.
	Baseline bool
	// GateTCP puts tmaps serve's TCP address in the docs' upstream
	// tmaps_gate instead of its unix socket: a gate on another host, as
	// section 1 of docs/nginx.md describes it.
	GateTCP bool
	// GatedTCP adds, on GatedTCPPort, the docs' API server again with an
	// upstream of its own on the gate's TCP address: the socket and TCP
	// in one nginx, for the load benchmark.
	GatedTCP bool
}

// startNginx runs nginx with the block of docs/nginx.md in front of serve
// (its gate socket, or its TCP address with opt.GateTCP; its management API
// on TCP) and the Mapping API at apiAddr. Cleanup stops it and, when the
// test failed, logs nginx's logs.
func startNginx(t testing.TB, dir string, serve *serveProc, apiAddr string, opt nginxOptions) *nginxProc {
	t.Helper()
	nginx := stackTool(t, "nginx", "/usr/sbin/nginx")
	if opt.Workers == 0 {
		opt.Workers = 1
	}
	if opt.Connections == 0 {
		opt.Connections = 256
	}
	n := &nginxProc{Prefix: filepath.Join(dir, "nginx"), done: make(chan error, 1), out: &testkit.SyncBuffer{}}
	n.Logs = filepath.Join(n.Prefix, "logs")
	for _, sub := range []string{"logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(n.Prefix, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	n.Cert, n.Key = testkit.SelfSignedCert(t, n.Prefix, append([]string{"api.tmaps.test"}, opt.CertHosts...)...)
	n.HTTPPort, n.HTTPSPort, n.MgmtPort = stackFreePort(t), stackFreePort(t), stackFreePort(t)

	block := docsNginxBlock(t)
	if opt.Edit != nil {
		block = opt.Edit(t, block)
	}
	gate := "server unix:" + serve.Socket + ";"
	if opt.GateTCP {
		gate = "server " + serve.Addr + ";"
	}
	block = replaceN(t, block, "server unix:/run/tmaps/gate.sock;", gate, 1)
	block = replaceN(t, block, "server 127.0.0.1:8443;", "server "+serve.Addr+";", 1)
	servers := 1 // copies of the API server
	if opt.GatedTCP {
		// The API server again, before its ports and paths are replaced,
		// with its own upstream on the gate's TCP address.
		api := "# ---- The Mapping API, behind the gate ------------------------------------"
		_, rest, _ := strings.Cut(block, api)
		server, _, ok := strings.Cut(rest, "# ---- The management API")
		if !ok {
			t.Fatal("docs/nginx.md: the API server is not followed by the management API's")
		}
		server = replaceN(t, server, "http://tmaps_gate/", "http://tmaps_gate_tcp/", 1)
		server = replaceN(t, server, "    listen 80;\n", "", 1)
		n.GatedTCPPort = stackFreePort(t)
		server = replaceN(t, server, "listen 443 ssl;", fmt.Sprintf("listen 127.0.0.1:%d ssl;", n.GatedTCPPort), 1)
		server = replaceN(t, server, "tmaps-api.", "tmaps-api-tcp.", 2)
		block += fmt.Sprintf("upstream tmaps_gate_tcp {\n    server %s;\n    keepalive 32;\n}\n", serve.Addr) + server
		servers = 2
	}
	block = replaceN(t, block, "server 127.0.0.1:9000;", "server "+apiAddr+";", 1)
	block = replaceN(t, block, "listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", n.HTTPPort), 1)
	block = replaceN(t, block, "listen 443 ssl;", fmt.Sprintf("listen 127.0.0.1:%d ssl;", n.HTTPSPort), 1)
	block = replaceN(t, block, "listen 8444 ssl;", fmt.Sprintf("listen 127.0.0.1:%d ssl;", n.MgmtPort), 1)
	block = replaceN(t, block, "/etc/ssl/tmaps/fullchain.pem", n.Cert, 1+servers)
	block = replaceN(t, block, "/etc/ssl/tmaps/privkey.pem", n.Key, 1+servers)
	block = replaceN(t, block, "/var/log/nginx/", n.Logs+"/", 2+2*servers)
	ports := []int{n.HTTPPort, n.HTTPSPort, n.MgmtPort}
	if opt.GatedTCP {
		ports = append(ports, n.GatedTCPPort)
	}
	if opt.Baseline {
		n.BaselinePort = stackFreePort(t)
		ports = append(ports, n.BaselinePort)
		block += fmt.Sprintf(`
server {
    listen 127.0.0.1:%[1]d ssl;
    ssl_certificate     %[2]s;
    ssl_certificate_key %[3]s;
    access_log %[4]s/baseline.access.log tmaps;
    error_log %[4]s/baseline.error.log crit;
    add_header Access-Control-Allow-Origin  * always;
    add_header Access-Control-Allow-Methods $tmaps_cors_methods always;
    add_header Access-Control-Allow-Headers $tmaps_cors_headers always;
    add_header Access-Control-Max-Age       $tmaps_cors_max_age always;
    add_header Cache-Control                $tmaps_no_store always;
    location / {
        proxy_pass http://maps_api;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_hide_header Access-Control-Allow-Origin;
    }
}
`, n.BaselinePort, n.Cert, n.Key, n.Logs)
	}
	// The wrapper logs everything outside the docs' servers at info, into
	// files the log checks read too.
	// As root with workers, nginx runs them as nginxWorkerUser, the group
	// startServe gave the gate socket.
	userLine := ""
	if _, ok := nginxWorkerGroup(); ok && opt.Workers > 1 {
		userLine = "user " + nginxWorkerUser + ";"
	}
	conf := fmt.Sprintf(`daemon off;
%[6]s
master_process %[4]s;
worker_processes %[3]d;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log info;
events { worker_connections %[5]d; }
http {
    access_log %[1]s/logs/access.log;
    client_body_temp_path %[1]s/tmp/body;
    proxy_temp_path %[1]s/tmp/proxy;
    fastcgi_temp_path %[1]s/tmp/fastcgi;
    uwsgi_temp_path %[1]s/tmp/uwsgi;
    scgi_temp_path %[1]s/tmp/scgi;
%[2]s
}
`, n.Prefix, block, opt.Workers, map[bool]string{true: "on", false: "off"}[opt.Workers > 1], opt.Connections, userLine)
	confPath := filepath.Join(n.Prefix, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	errLog := filepath.Join(n.Logs, "error.log")
	if b, err := exec.Command(nginx, "-t", "-p", n.Prefix, "-e", errLog, "-c", confPath).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t refuses the configuration of docs/nginx.md: %v\n%s\n%s", err, b, conf)
	}
	n.cmd = exec.Command(nginx, "-p", n.Prefix, "-e", errLog, "-c", confPath)
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	go func() { n.done <- n.cmd.Wait() }()
	t.Cleanup(func() {
		_ = n.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-n.done:
		case <-time.After(10 * time.Second):
			_ = n.cmd.Process.Kill()
		}
		if t.Failed() {
			files, _ := filepath.Glob(filepath.Join(n.Logs, "*"))
			for _, f := range files {
				b, _ := os.ReadFile(f)
				t.Logf("nginx %s:\n%s", filepath.Base(f), b)
			}
		}
	})
	for _, p := range ports {
		n.waitPort(t, p)
	}
	return n
}

// waitPort waits until nginx accepts connections on port, or exits.
func (n *nginxProc) waitPort(t testing.TB, port int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case err := <-n.done:
			n.done <- err
			t.Fatalf("nginx exited: %v\n%s", err, n.out.Bytes())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx does not listen on %d: %v\n%s", port, err, n.out.Bytes())
		}
	}
}

// logSecretRE finds an API key secret or an operator token, whole or cut
// after more than the 8 hex digits of a display prefix, with its underscore
// percent-encoded or not.
var logSecretRE = regexp.MustCompile(`(?i)(ak|tm)(_|%5f)[0-9a-f]{9,}`)

// checkLogsHaveNoSecrets fails the test for every secret, and for every
// string of extra (the secrets the test used, in other spellings), found in
// a file of nginx's log directory. It returns the logs' text.
func (n *nginxProc) checkLogsHaveNoSecrets(t testing.TB, extra ...string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(n.Logs, "*"))
	if len(files) == 0 {
		t.Fatalf("no log files in %s", n.Logs)
	}
	var all strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
		if m := logSecretRE.FindAll(b, -1); len(m) > 0 {
			t.Errorf("nginx %s holds %d secrets (first: %.12s…)", filepath.Base(f), len(m), m[0])
		}
		for _, s := range extra {
			if c := bytes.Count(bytes.ToLower(b), []byte(strings.ToLower(s))); c > 0 {
				t.Errorf("nginx %s holds %q %d times", filepath.Base(f), s[:min(len(s), 12)]+"…", c)
			}
		}
	}
	return all.String()
}
