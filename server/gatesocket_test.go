package server_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tmaps/console/internal/testkit"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/server"
	"github.com/tmaps/console/store/bolt"
)

// unixClient is an HTTP client whose every connection goes to the unix
// socket at path, keeping connections alive like nginx's upstream pool.
func unixClient(path string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		},
	}}
}

// gateAsk sends what nginx's auth_request sends and returns the status and
// the X-Tmaps-Error header.
func gateAsk(t *testing.T, c *http.Client, base, method, secret string, headers ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+"/v1/authorize", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Original-URI", "/v1/tiles/9/271/190.png?api_key="+secret)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s /v1/authorize: %v", method, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Tmaps-Error")
}

// staleSocket leaves a socket file at path that nothing listens on, as a
// daemon killed with SIGKILL does.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
}

// The daemon's gate socket (DaemonConfig.GateSocket): it replaces a stale
// socket file, is made 0660, serves the gate and /healthz and nothing else,
// treats its peers as the trusted proxy (X-Forwarded-Proto, X-Real-IP)
// where the TCP listener trusts nobody, survives Reload with its
// keep-alive connections, refuses to take over a live socket or a file
// that is not a socket, and at shutdown stops accepting but leaves the file
// (nginx then gets "connection refused", which it logs below crit), which
// the next start replaces.
func TestDaemonGateSocket(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "console.db")
	st, err := bolt.Open(db, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, open, err := st.CreateKey(ctx, "open", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	_, office, err := st.CreateKey(ctx, "office", model.Policy{Kind: model.KindServer,
		AllowIPs: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	sock := filepath.Join(dir, "gate.sock")
	staleSocket(t, sock)
	var out testkit.SyncBuffer
	d, err := server.NewDaemon(server.DaemonConfig{
		OpenStore: boltOpener(db), Location: db, Listen: "127.0.0.1:0", GateSocket: sock,
		Stdout: &out, FlushEvery: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx); err != nil {
		t.Fatalf("start over a stale socket file: %v", err)
	}
	stopped := false
	defer func() {
		if !stopped {
			d.Shutdown()
		}
	}()
	if want := "ready " + d.URL() + "\ngate unix:" + sock + "\n"; out.String() != want || d.GateSocket() != sock {
		t.Fatalf("stdout %q (GateSocket %q), want %q", out.String(), d.GateSocket(), want)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o660 {
		t.Fatalf("the gate socket: %v %v; want a socket with mode 0660", fi.Mode(), err)
	}
	if _, err := os.Lstat(sock + ".new"); err == nil {
		t.Fatal("the temporary socket name was left behind")
	}

	c := unixClient(sock)
	const base = "http://gate"
	for _, tc := range []struct {
		name    string
		secret  string
		headers []string
		code    int
		msg     string
	}{
		{"https through the proxy", open, []string{"X-Forwarded-Proto", "https"}, 204, ""},
		{"plain http through the proxy", open, []string{"X-Forwarded-Proto", "http"}, 403, model.ErrMsgHTTPSRequired},
		{"no X-Forwarded-Proto", open, nil, 403, model.ErrMsgHTTPSRequired},
		{"client in the allowlist", office, []string{"X-Forwarded-Proto", "https", "X-Real-IP", "203.0.113.9"}, 204, ""},
		{"client elsewhere", office, []string{"X-Forwarded-Proto", "https", "X-Real-IP", "198.51.100.7"}, 403, model.ErrMsgIP},
		{"no X-Real-IP", office, []string{"X-Forwarded-Proto", "https"}, 403, model.ErrMsgIP},
	} {
		code, msg := gateAsk(t, c, base, http.MethodGet, tc.secret, tc.headers...)
		if code != tc.code || (tc.msg != "" && !strings.Contains(msg, tc.msg)) {
			t.Errorf("socket, %s: %d %q; want %d %q", tc.name, code, msg, tc.code, tc.msg)
		}
	}
	// The TCP listener trusts no proxy (no TrustedProxies): the same
	// headers from 127.0.0.1 are not believed.
	if code, msg := gateAsk(t, http.DefaultClient, d.URL(), http.MethodGet, open, "X-Forwarded-Proto", "https"); code != 403 || !strings.Contains(msg, model.ErrMsgHTTPSRequired) {
		t.Errorf("TCP with X-Forwarded-Proto https: %d %q; want 403 https required", code, msg)
	}
	if code, _ := gateAsk(t, c, base, http.MethodHead, open, "X-Forwarded-Proto", "https"); code != 204 {
		t.Errorf("HEAD on the socket: %d", code)
	}
	if code, _ := gateAsk(t, c, base, http.MethodPost, open, "X-Forwarded-Proto", "https"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /v1/authorize on the socket: %d; want 405", code)
	}
	for path, want := range map[string]int{"/healthz": 200, "/v1/keys": 404, "/readyz": 404, "/metrics": 404, "/v1/backup": 404} {
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s on the socket: %d %s; want %d", path, resp.StatusCode, body, want)
		}
	}

	// A second daemon does not take over the live socket, nor a file
	// that is not a socket.
	other := filepath.Join(dir, "other.db")
	for _, tc := range []struct{ path, want string }{
		{sock, "another process listens on it"},
		{filepath.Join(dir, "notes.txt"), "not a socket"},
		{filepath.Join(dir, "no-such-dir", "gate.sock"), "does its directory exist"},
		{"/" + strings.Repeat("d", 110) + ".sock", "at most 103"},
	} {
		if tc.path == filepath.Join(dir, "notes.txt") {
			if err := os.WriteFile(tc.path, []byte("keep me"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		d2, err := server.NewDaemon(server.DaemonConfig{OpenStore: boltOpener(other), Listen: "127.0.0.1:0", GateSocket: tc.path})
		if err != nil {
			t.Fatal(err)
		}
		if err := d2.Start(ctx); err == nil || !strings.Contains(err.Error(), tc.want) {
			d2.Shutdown()
			t.Fatalf("a second daemon on %s: %v; want an error saying %q", tc.path, err, tc.want)
		}
		// The failed start released its store.
		st2, err := bolt.Open(other, bolt.Options{Timeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatalf("the store is still held after a refused gate socket: %v", err)
		}
		st2.Close()
		if tc.path == filepath.Join(dir, "notes.txt") {
			if b, err := os.ReadFile(tc.path); err != nil || string(b) != "keep me" {
				t.Fatalf("the file in the way was changed: %q %v", b, err)
			}
		}
	}
	if fi2, err := os.Stat(sock); err != nil || !os.SameFile(fi, fi2) {
		t.Fatalf("the refused daemon touched the live socket: %v", err)
	}

	// Reload keeps the socket and its keep-alive connections.
	if err := d.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if code, _ := gateAsk(t, c, base, http.MethodGet, open, "X-Forwarded-Proto", "https"); code != 204 {
		t.Fatalf("after Reload: %d", code)
	}
	if fi2, err := os.Stat(sock); err != nil || !os.SameFile(fi, fi2) {
		t.Fatalf("Reload replaced the socket file: %v", err)
	}

	stopped = true
	if err := d.Shutdown(); err != nil {
		t.Fatal(err)
	}
	refused(t, sock)
	d3, err := server.NewDaemon(server.DaemonConfig{OpenStore: boltOpener(db), Listen: "127.0.0.1:0", GateSocket: sock})
	if err != nil {
		t.Fatal(err)
	}
	if err := d3.Start(ctx); err != nil {
		t.Fatalf("a restart over the socket file of a stopped daemon: %v", err)
	}
	defer d3.Shutdown()
	if code, _ := gateAsk(t, unixClient(sock), base, http.MethodGet, open, "X-Forwarded-Proto", "https"); code != 204 {
		t.Fatalf("after a restart: %d", code)
	}
}

// refused checks that the socket file at path is still there and that
// connecting to it is refused (no listener), as after a daemon's shutdown.
func refused(t *testing.T, path string) {
	t.Helper()
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("the socket file is gone after shutdown (nginx would log its requests at crit): %v", err)
	}
	c, err := net.Dial("unix", path)
	if err == nil {
		c.Close()
		t.Fatal("the socket still accepts connections after shutdown")
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("connecting after shutdown: %v; want connection refused", err)
	}
}

// `tmaps serve --gate-socket` (here from TMAPS_GATE_SOCKET) through the
// binary: it allows plain HTTP on a loopback --listen without
// --trusted-proxy, replaces a stale socket file, serves the gate to curl
// over the socket as a trusted proxy, keeps the socket across SIGHUP, and
// stops accepting on SIGTERM (the file stays). On a public address it still
// wants TLS.
func TestServeGateSocket(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "console.db")
	out, stderr, code := run(t, nil, "keys", "create", "--name", "socket", "--db", db)
	if code != 0 {
		t.Fatalf("keys create: %d %s", code, stderr)
	}
	secret := strings.TrimSpace(out)
	sock := filepath.Join(dir, "gate.sock")
	env := []string{"TMAPS_GATE_SOCKET=" + sock}
	if _, stderr, code := run(t, env, "serve", "--db", db, "--listen", "0.0.0.0:0"); code != 2 || !strings.Contains(stderr, "refusing to serve without TLS") {
		t.Fatalf("public plain HTTP with a gate socket: exit %d %s", code, stderr)
	}
	staleSocket(t, sock)
	d := startDaemon(t, env, "--db", db, "--listen", "127.0.0.1:0", "--log-level", "info", "--flush-every", "1h")
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o660 {
		t.Fatalf("the gate socket: %v %v", fi, err)
	}
	ask := func(headers ...string) (int, string) {
		args := []string{"--unix-socket", sock}
		for _, h := range headers {
			args = append(args, "-H", h)
		}
		return curl(t, append(args, "-H", "X-Original-URI: /v1/tiles/1/2/3.png?api_key="+secret, "http://gate/v1/authorize")...)
	}
	if status, body := ask("X-Forwarded-Proto: https"); status != 204 {
		t.Fatalf("curl over the socket, https: %d %s", status, body)
	}
	if status, body := ask(); status != 403 || !strings.Contains(body, "https required") {
		t.Fatalf("curl over the socket, plain: %d %s", status, body)
	}
	if status, body := curl(t, "-H", "X-Forwarded-Proto: https", d.url+"/v1/authorize?api_key="+secret); status != 403 || !strings.Contains(body, "https required") {
		t.Fatalf("TCP, not a trusted proxy: %d %s", status, body)
	}

	d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitLog(t, "reloaded")
	if fi2, err := os.Stat(sock); err != nil || !os.SameFile(fi, fi2) {
		t.Fatalf("SIGHUP replaced or removed the socket: %v", err)
	}
	if status, body := ask("X-Forwarded-Proto: https"); status != 204 {
		t.Fatalf("after SIGHUP: %d %s", status, body)
	}

	d.cmd.Process.Signal(syscall.SIGTERM)
	d.wait(t)
	if d.err != nil {
		t.Fatalf("tmaps serve: %v\n%s", d.err, d.stderr)
	}
	refused(t, sock)
	if !strings.Contains(d.stderr.String(), "gate_socket="+sock) {
		t.Errorf("the ready log line does not name the socket:\n%s", d.stderr)
	}
}
