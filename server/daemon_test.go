package server_test

// End-to-end tests of the real binary: `tmaps serve`, `tmaps tokens`,
// `tmaps --api`, curl, and a SIGKILL in the middle of a write load.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/tmaps/console/internal/testkit"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testkit.Cleanup()
	if seed100k.path != "" {
		os.RemoveAll(filepath.Dir(seed100k.path))
	}
	os.Exit(code)
}

// run runs tmaps to completion with env added to a minimal environment.
func run(t testing.TB, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(testkit.Binary(t), args...)
	cmd.Env = append([]string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}, env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return o.String(), e.String(), ee.ExitCode()
		}
		t.Fatalf("run tmaps %v: %v", args, err)
	}
	return o.String(), e.String(), 0
}

type daemon struct {
	cmd    *exec.Cmd
	url    string
	stderr *testkit.SyncBuffer
	exited chan struct{}
	err    error
}

// startDaemon starts `tmaps serve` and waits for its "ready URL" line.
func startDaemon(t testing.TB, env []string, args ...string) *daemon {
	t.Helper()
	cmd := exec.Command(testkit.Binary(t), append([]string{"serve"}, args...)...)
	cmd.Env = append([]string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}, env...)
	d := &daemon{cmd: cmd, stderr: &testkit.SyncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = d.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
				ready <- u
			}
		}
	}()
	go func() {
		d.err = cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			cmd.Process.Kill()
			<-d.exited
		}
	})
	select {
	case d.url = <-ready:
	case <-d.exited:
		t.Fatalf("tmaps serve exited before ready: %v\n%s", d.err, d.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("tmaps serve not ready after 30s:\n%s", d.stderr)
	}
	return d
}

// waitLog waits until the daemon's stderr holds s.
func (d *daemon) waitLog(t testing.TB, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(d.stderr.String(), s) {
		select {
		case <-d.exited:
			t.Fatalf("tmaps serve exited (%v) before logging %q:\n%s", d.err, s, d.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("tmaps serve did not log %q in 20s:\n%s", s, d.stderr)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (d *daemon) wait(t testing.TB) {
	t.Helper()
	select {
	case <-d.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("tmaps serve did not stop:\n%s", d.stderr)
	}
}

func curl(t *testing.T, args ...string) (status int, body string) {
	t.Helper()
	path, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("curl is needed by this test: apt-get install -y curl")
	}
	out, err := exec.Command(path, append([]string{"-sS", "-w", "\n%{http_code}"}, args...)...).Output()
	if err != nil {
		t.Fatalf("curl %v: %v", args, err)
	}
	s := string(out)
	i := strings.LastIndexByte(s, '\n')
	fmt.Sscan(s[i+1:], &status)
	return status, s[:i]
}

var secretLine = regexp.MustCompile(`^ak_[0-9a-f]{32}\n$`)

func TestDaemonEndToEnd(t *testing.T) {
	db := filepath.Join(t.TempDir(), "console.db")
	token, stderr, code := run(t, nil, "tokens", "create", "e2e-ops", "--db", db)
	token = strings.TrimSpace(token)
	if code != 0 || !regexp.MustCompile(`^tm_[0-9a-f]{32}$`).MatchString(token) {
		t.Fatalf("tokens create: %d %q %s", code, token, stderr)
	}

	d := startDaemon(t, nil, "--db", db, "--listen", "127.0.0.1:0", "--allow-http", "--log-level", "debug")
	// stderr reaches the buffer through its own pipe: it may trail stdout's
	// "ready" line.
	d.waitLog(t, "WARNING: --allow-http")
	env := []string{"TMAPS_TOKEN=" + token}

	out, stderr, code := run(t, env, "--api", d.url, "keys", "create", "--name", "E2E key")
	if code != 0 || !secretLine.MatchString(out) {
		t.Fatalf("keys create over the API: %d %q %s", code, out, stderr)
	}
	secret := strings.TrimSpace(out)
	out, stderr, code = run(t, env, "--api", d.url, "keys", "list")
	if code != 0 || !strings.Contains(out, "E2E key") || !strings.Contains(out, secret[:11]) {
		t.Fatalf("keys list over the API: %d %q %s", code, out, stderr)
	}
	// The token works from a flag too, and a wrong one is refused.
	if _, stderr, code = run(t, nil, "--api", d.url, "--token", "tm_0123", "keys", "list"); code == 0 || !strings.Contains(stderr, "TMAPS_TOKEN") {
		t.Fatalf("wrong token: %d %s", code, stderr)
	}
	// A second token over the API, then listed without its secret.
	out, _, code = run(t, env, "--api", d.url, "tokens", "create", "second")
	if code != 0 || !strings.HasPrefix(out, "tm_") {
		t.Fatalf("tokens create over the API: %d %q", code, out)
	}

	status, body := curl(t, "-H", "Authorization: Bearer "+token, d.url+"/v1/keys")
	var keys []struct {
		ID, Name, Prefix string
		Status           model.Status
	}
	if status != 200 || json.Unmarshal([]byte(body), &keys) != nil || len(keys) != 1 || keys[0].Name != "E2E key" {
		t.Fatalf("curl /v1/keys: %d %s", status, body)
	}
	status, body = curl(t, "-H", "Authorization: Bearer "+token, d.url+"/v1/audit?object=key:"+keys[0].ID)
	var audit []model.AuditEntry
	if status != 200 || json.Unmarshal([]byte(body), &audit) != nil || len(audit) != 1 || audit[0].Actor != "e2e-ops" {
		t.Fatalf("the audit actor over the API is not the token's name: %d %s", status, body)
	}
	status, body = curl(t, d.url+"/v1/keys")
	if status != 401 || strings.TrimSpace(body) != `{"error":"unauthorized"}` {
		t.Fatalf("curl without a token: %d %s", status, body)
	}
	status, body = curl(t, "-H", "Authorization: Bearer "+token, "-X", "POST", "-d", `{"name":"mysite.tn","x":1}`, d.url+"/v1/domains")
	if status != 400 || !strings.Contains(body, "unknown field") {
		t.Fatalf("curl with an unknown field: %d %s", status, body)
	}
	// The gate is mounted and the key is unrestricted.
	status, _ = curl(t, d.url+"/v1/authorize?api_key="+secret)
	if status != 204 {
		t.Fatalf("gate: %d", status)
	}
	status, body = curl(t, "-H", "Authorization: Bearer "+token, d.url+"/metrics")
	if status != 200 || !strings.Contains(body, "tmaps_") {
		t.Fatalf("metrics: %d %s", status, body)
	}

	// Health without a token.
	status, body = curl(t, d.url+"/healthz")
	if status != 200 || !strings.Contains(body, `"status":"alive"`) {
		t.Fatalf("/healthz: %d %s", status, body)
	}
	status, body = curl(t, d.url+"/readyz")
	if status != 200 || !strings.Contains(body, `"status":"ready"`) || !strings.Contains(body, `"keys":1`) {
		t.Fatalf("/readyz: %d %s", status, body)
	}

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	d.wait(t)
	logs := d.stderr.String()
	if d.err != nil || !strings.Contains(logs, "stopped") {
		t.Fatalf("SIGTERM: exit %v\n%s", d.err, logs)
	}
	if !strings.Contains(logs, "api_key=REDACTED") {
		t.Fatalf("the gate request is not in the debug log, redacted:\n%s", logs)
	}
	for _, s := range []string{secret, secret[3:], token, token[3:]} {
		if strings.Contains(logs, s) {
			t.Fatalf("the daemon's log holds a secret:\n%s", logs)
		}
	}
	// The usage of the gate request was flushed at shutdown.
	st, err := bolt.Open(db, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	k, err := st.KeyByDigest(context.Background(), model.DigestOf(secret))
	if err != nil {
		t.Fatal(err)
	}
	if k.LastUsed.IsZero() {
		t.Fatal("the final flush did not record the gate request (last used is zero)")
	}
}

func TestServeRefusesPlainHTTP(t *testing.T) {
	db := filepath.Join(t.TempDir(), "console.db")
	_, stderr, code := run(t, nil, "serve", "--db", db, "--listen", "127.0.0.1:0")
	if code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	for _, flag := range []string{"--tls-cert", "--tls-key", "--allow-http"} {
		if !strings.Contains(stderr, flag) {
			t.Fatalf("the refusal does not name %s: %s", flag, stderr)
		}
	}
	if _, err := os.Stat(db); err == nil {
		t.Fatal("a refused start created the store")
	}
	// Behind a proxy on this host: loopback plus --trusted-proxy is accepted,
	// but not on a public address.
	_, stderr, code = run(t, nil, "serve", "--db", db, "--listen", "0.0.0.0:0", "--trusted-proxy", "127.0.0.1/32")
	if code != 2 {
		t.Fatalf("public plain HTTP with --trusted-proxy: exit %d %s", code, stderr)
	}
	d := startDaemon(t, nil, "--db", db, "--listen", "127.0.0.1:0", "--trusted-proxy", "127.0.0.1/32")
	status, body := curl(t, d.url+"/v1/authorize?api_key="+model.NewSecret())
	if status != 403 || !strings.Contains(body, "https required") {
		t.Fatalf("plain HTTP through the gate without X-Forwarded-Proto: %d %s", status, body)
	}
	status, body = curl(t, "-H", "X-Forwarded-Proto: https", d.url+"/v1/authorize?api_key="+model.NewSecret())
	if status != 401 || !strings.Contains(body, "invalid api_key") {
		t.Fatalf("through a trusted proxy: %d %s", status, body)
	}
}

func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := testkit.SelfSignedCert(t, dir)
	db := filepath.Join(dir, "console.db")
	token, _, code := run(t, nil, "tokens", "create", "tls", "--db", db)
	token = strings.TrimSpace(token)
	if code != 0 {
		t.Fatal("tokens create failed")
	}
	d := startDaemon(t, nil, "--db", db, "--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key)
	if !strings.HasPrefix(d.url, "https://") || strings.Contains(d.stderr.String(), "WARNING") {
		t.Fatalf("TLS serve: %s\n%s", d.url, d.stderr)
	}
	env := []string{"TMAPS_TOKEN=" + token, "SSL_CERT_FILE=" + cert}
	out, stderr, code := run(t, env, "--api", d.url, "keys", "create", "--name", "over TLS")
	if code != 0 || !secretLine.MatchString(out) {
		t.Fatalf("keys create over TLS: %d %q %s", code, out, stderr)
	}
	status, _ := curl(t, "--cacert", cert, d.url+"/v1/authorize?api_key="+strings.TrimSpace(out))
	if status != 204 {
		t.Fatalf("gate over TLS: %d", status)
	}
	// Plain HTTP to the TLS port gets no API.
	resp, err := http.Get(strings.Replace(d.url, "https://", "http://", 1) + "/v1/keys")
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || strings.Contains(string(b), "[") {
			t.Fatalf("plain HTTP on the TLS port: %d %s", resp.StatusCode, b)
		}
	}
}

// TestAPITLSErrors: a private CA is trusted with --ca-cert (or
// TMAPS_CA_CERT); without it, or with the wrong host name or an expired
// certificate, the client names the problem and the next step.
func TestAPITLSErrors(t *testing.T) {
	dir := t.TempDir()
	cert, key := testkit.SelfSignedCert(t, dir)
	db := filepath.Join(dir, "console.db")
	token, _, code := run(t, nil, "tokens", "create", "tls", "--db", db)
	if code != 0 {
		t.Fatal("tokens create failed")
	}
	d := startDaemon(t, nil, "--db", db, "--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key)
	env := []string{"TMAPS_TOKEN=" + strings.TrimSpace(token)}
	expect := func(code int, want ...string) func(string, string, int) {
		return func(stdout, stderr string, got int) {
			t.Helper()
			if got != code {
				t.Fatalf("exit %d, want %d: %s", got, code, stderr)
			}
			for _, w := range want {
				if !strings.Contains(stderr, w) {
					t.Fatalf("stderr lacks %q: %s", w, stderr)
				}
			}
		}
	}
	expect(1, "unknown authority", "--ca-cert FILE")(run(t, env, "--api", d.url, "keys", "list"))
	expect(0)(run(t, env, "--api", d.url, "--ca-cert", cert, "keys", "list"))
	expect(0)(run(t, append(env, "TMAPS_CA_CERT="+cert), "--api", d.url, "keys", "list"))
	port := d.url[strings.LastIndexByte(d.url, ':')+1:]
	expect(1, "certificate is for 127.0.0.1, not localhost")(run(t, env, "--api", "https://localhost:"+port, "--ca-cert", cert, "keys", "list"))
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	expect(1, "does not speak TLS")(run(t, env, "--api", strings.Replace(plain.URL, "http://", "https://", 1), "keys", "list"))
	expect(2, "no PEM certificate")(run(t, env, "--api", d.url, "--ca-cert", db, "keys", "list"))
	expect(2, "--ca-cert is for --api")(run(t, nil, "--db", db+".other", "--ca-cert", cert, "keys", "list"))

	// An expired certificate, swapped in with SIGHUP.
	oldDir := t.TempDir()
	oc, ok := testkit.SelfSignedCertValid(t, oldDir, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	for _, p := range [][2]string{{oc, cert}, {ok, key}} {
		b, _ := os.ReadFile(p[0])
		os.WriteFile(p[1], b, 0o600)
	}
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitLog(t, "msg=reloaded")
	expect(1, "not now", "renew it on the server")(run(t, env, "--api", d.url, "--ca-cert", cert, "keys", "list"))
}

// TestKillDuringWrites SIGKILLs the daemon under a write load: the file must
// open, pass bbolt's consistency check, and hold every acknowledged write.
func TestKillDuringWrites(t *testing.T) {
	db := filepath.Join(t.TempDir(), "console.db")
	token, _, code := run(t, nil, "tokens", "create", "load", "--db", db)
	token = strings.TrimSpace(token)
	if code != 0 {
		t.Fatal("tokens create failed")
	}
	// Frequent usage flushes, so that the kill also lands among them.
	d := startDaemon(t, nil, "--db", db, "--listen", "127.0.0.1:0", "--allow-http", "--log-level", "warn", "--flush-every", "10ms")

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	post := func(path, body string) (int, []byte, error) {
		req, _ := http.NewRequest("POST", d.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}

	var mu sync.Mutex
	ackedKeys := map[string]string{} // id → name
	var ackedDomains []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if i%4 == 3 {
					name := fmt.Sprintf("w%d-%d.load.tn", w, i)
					status, _, err := post("/v1/domains", `{"name":"`+name+`"}`)
					if err == nil && status == http.StatusCreated {
						mu.Lock()
						ackedDomains = append(ackedDomains, name)
						mu.Unlock()
					}
					continue
				}
				name := fmt.Sprintf("load %d-%d", w, i)
				status, body, err := post("/v1/keys", `{"name":"`+name+`"}`)
				if err != nil || status != http.StatusCreated {
					continue // the daemon is gone, or the answer was cut: not acknowledged
				}
				var ks struct {
					Key    struct{ ID, Name string }
					Secret string
				}
				if json.Unmarshal(body, &ks) == nil {
					mu.Lock()
					ackedKeys[ks.Key.ID] = ks.Key.Name
					mu.Unlock()
					// Gate traffic with it: usage counts to flush.
					for range 3 {
						if resp, err := client.Get(d.url + "/v1/authorize?api_key=" + ks.Secret); err == nil {
							resp.Body.Close()
						}
					}
				}
			}
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(ackedKeys)
		mu.Unlock()
		if n >= 150 {
			break
		}
		if time.Now().After(deadline) {
			close(stop)
			t.Fatalf("only %d writes acknowledged in 30s", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.wait(t)
	close(stop)
	wg.Wait()

	// bbolt's own consistency check, on a read-only open.
	bdb, err := bbolt.Open(db, 0o600, &bbolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("the file does not open after SIGKILL: %v", err)
	}
	err = bdb.View(func(tx *bbolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	})
	bdb.Close()
	if err != nil {
		t.Fatalf("bbolt check failed after SIGKILL: %v", err)
	}

	st, err := bolt.Open(db, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	for id, name := range ackedKeys {
		k, err := st.Key(ctx, id)
		if err != nil || k.Name != name {
			t.Fatalf("acknowledged key %s %q is missing after SIGKILL: %+v %v", id, name, k, err)
		}
	}
	for _, name := range ackedDomains {
		if _, err := st.Domain(ctx, name); err != nil {
			t.Fatalf("acknowledged domain %s is missing after SIGKILL: %v", name, err)
		}
	}
	all, err := st.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	used := 0
	for _, k := range all {
		if !k.LastUsed.IsZero() {
			used++
		}
	}
	if used == 0 {
		t.Fatal("no usage was flushed during the load: the kill did not land among flushes")
	}
	t.Logf("SIGKILL after %d acknowledged keys and %d domains; the store holds %d keys, %d with flushed usage", len(ackedKeys), len(ackedDomains), len(all), used)
}

// seed100k is a store file with 100k keys (some linked to domains), made
// once per benchmark run; on tmpfs when there is one, to seed quickly.
var seed100k struct {
	once sync.Once
	path string
	err  error
}

func seededStore(b *testing.B) string {
	b.Helper()
	seed100k.once.Do(func() {
		dir, err := os.MkdirTemp("/dev/shm", "tmaps-bench-")
		if err != nil {
			dir, err = os.MkdirTemp("", "tmaps-bench-")
		}
		if err != nil {
			seed100k.err = err
			return
		}
		seed100k.path = filepath.Join(dir, "console.db")
		st, err := bolt.Open(seed100k.path, bolt.Options{})
		if err != nil {
			seed100k.err = err
			return
		}
		defer st.Close()
		ctx := context.Background()
		for i := range 20 {
			if _, err := st.AddDomain(ctx, fmt.Sprintf("site%d.example.tn", i)); err != nil {
				seed100k.err = err
				return
			}
		}
		for i := range 100_000 {
			k, _, err := st.CreateKey(ctx, fmt.Sprintf("bench key %d", i), model.Policy{})
			if err == nil && i%10 == 0 {
				_, err = st.LinkKey(ctx, k.ID, fmt.Sprintf("site%d.example.tn", i%20))
			}
			if err != nil {
				seed100k.err = err
				return
			}
		}
	})
	if seed100k.err != nil {
		b.Fatal(seed100k.err)
	}
	return seed100k.path
}

// BenchmarkServeReady100k measures the real binary from exec to its "ready"
// line over a store of 100k keys (open the store, load the gate's index,
// listen). Target: ≤ 300 ms.
func BenchmarkServeReady100k(b *testing.B) {
	db := seededStore(b)
	testkit.Binary(b)
	b.ResetTimer()
	for range b.N {
		d := startDaemon(b, nil, "--db", db, "--listen", "127.0.0.1:0", "--allow-http", "--log-level", "warn")
		b.StopTimer()
		d.cmd.Process.Signal(syscall.SIGTERM)
		d.wait(b)
		if d.err != nil {
			b.Fatalf("serve: %v\n%s", d.err, d.stderr)
		}
		b.StartTimer()
	}
}

// TestServeSIGHUP reloads the TLS certificate of the real binary with
// SIGHUP in the middle of a gate load on kept-alive and new connections:
// no request fails, new connections get the new certificate, and every
// counted request reaches the store after SIGTERM. (Before the daemon
// caught SIGHUP, it died with exit 129 and lost the unflushed counts.)
func TestServeSIGHUP(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := testkit.SelfSignedCert(t, dir, "old.test")
	db := filepath.Join(dir, "console.db")
	out, stderr, code := run(t, nil, "keys", "create", "--name", "hup", "--db", db)
	if code != 0 {
		t.Fatalf("keys create: %d %s", code, stderr)
	}
	secret := strings.TrimSpace(out)
	d := startDaemon(t, nil, "--db", db, "--listen", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile,
		"--flush-every", "1h", "--log-level", "info")
	addr := strings.TrimPrefix(d.url, "https://")

	newDir := t.TempDir()
	newCert, newKey := testkit.SelfSignedCert(t, newDir, "new.test")
	pool := x509.NewCertPool()
	for _, f := range []string{certFile, newCert} {
		b, _ := os.ReadFile(f)
		pool.AppendCertsFromPEM(b)
	}
	served := func() string {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool})
		if err != nil {
			t.Fatalf("TLS handshake: %v", err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if cn := served(); cn != "old.test" {
		t.Fatalf("served %q before SIGHUP", cn)
	}

	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 6 {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: w%2 == 1}
		client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		wg.Go(func() {
			defer tr.CloseIdleConnections()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(d.url + "/v1/authorize?api_key=" + secret)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusNoContent {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				ok.Add(1)
			}
		})
	}
	waitN := func(n int64) {
		deadline := time.Now().Add(30 * time.Second)
		for ok.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("only %d requests in 30s", ok.Load())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitN(200)
	for _, p := range [][2]string{{newCert, certFile}, {newKey, keyFile}} {
		b, _ := os.ReadFile(p[0])
		if err := os.WriteFile(p[1], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	d.waitLog(t, "msg=reloaded")
	waitN(ok.Load() + 200)
	close(stop)
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d of %d requests failed around SIGHUP, first: %v", n, n+ok.Load(), firstErr.Load())
	}
	if cn := served(); cn != "new.test" {
		t.Fatalf("served %q after SIGHUP, want the new certificate", cn)
	}

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	d.wait(t)
	if d.err != nil {
		t.Fatalf("SIGTERM after SIGHUP: %v\n%s", d.err, d.stderr)
	}
	st, err := bolt.Open(db, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	k, err := st.KeyByDigest(context.Background(), model.DigestOf(secret))
	if err != nil {
		t.Fatal(err)
	}
	buckets, err := st.Usage(context.Background(), store.UsageQuery{KeyID: k.ID, Since: time.Now().Add(-2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var counted uint64
	for _, b := range buckets {
		counted += b.Allowed
	}
	if counted != uint64(ok.Load()) {
		t.Fatalf("the store counted %d allowed requests, the clients got %d answers", counted, ok.Load())
	}
	t.Logf("%d requests, 0 failed, all counted; certificate swapped by SIGHUP", ok.Load())
}

// TestServeSystemdNotify plays systemd's notify socket (a unixgram socket
// in NOTIFY_SOCKET) against the real binary: READY=1 once it serves,
// RELOADING=1 with MONOTONIC_USEC then READY=1 around a SIGHUP,
// WATCHDOG=1 within WATCHDOG_USEC, STOPPING=1 on SIGTERM.
func TestServeSystemdNotify(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	next := func(what string, skipWatchdog bool) string {
		t.Helper()
		for {
			select {
			case m, ok := <-msgs:
				if !ok {
					t.Fatalf("notify socket closed, waiting for %s", what)
				}
				if skipWatchdog && m == "WATCHDOG=1" {
					continue
				}
				return m
			case <-time.After(20 * time.Second):
				t.Fatalf("no %s on the notify socket in 20s", what)
			}
		}
	}

	db := filepath.Join(dir, "console.db")
	d := startDaemon(t, []string{"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=400000"},
		"--db", db, "--listen", "127.0.0.1:0", "--allow-http")
	if m := next("READY=1", true); m != "READY=1" {
		t.Fatalf("first message %q, want READY=1", m)
	}
	if m := next("WATCHDOG=1", false); m != "WATCHDOG=1" {
		t.Fatalf("got %q, want a watchdog ping within WATCHDOG_USEC", m)
	}

	before := monotonicUsec(t)
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	m := next("RELOADING=1", true)
	var usec int64
	if _, err := fmt.Sscanf(m, "RELOADING=1\nMONOTONIC_USEC=%d\n", &usec); err != nil || usec < before || usec > monotonicUsec(t) {
		t.Fatalf("reload message %q (monotonic µs between %d and now): %v", m, before, err)
	}
	if m := next("READY=1 after the reload", true); m != "READY=1" {
		t.Fatalf("after RELOADING: %q, want READY=1", m)
	}

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if m := next("STOPPING=1", true); m != "STOPPING=1" {
		t.Fatalf("at SIGTERM: %q, want STOPPING=1", m)
	}
	d.wait(t)
	if d.err != nil {
		t.Fatalf("exit: %v\n%s", d.err, d.stderr)
	}
}

func monotonicUsec(t *testing.T) int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	return ts.Nano() / 1e3
}

// TestUnitFile checks docs/tmaps.service with systemd's own tools: it
// verifies, and its hardening scores "OK" or better (exposure ≤ 2.0).
func TestUnitFile(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze is needed: run `make test` (scripts/deps.sh installs the systemd package)")
	}
	unit, err := os.ReadFile("../docs/tmaps.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Type=notify\n", "ExecReload=/bin/kill -HUP $MAINPID\n", "ProtectSystem=strict\n", "StateDirectory=tmaps\n", "RuntimeDirectory=tmaps\n", "User=tmaps\n", "WatchdogSec="} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("the unit lacks %q", want)
		}
	}
	// verify wants ExecStart's binary to exist: point it at ours.
	dir := t.TempDir()
	path := filepath.Join(dir, "tmaps.service")
	body := strings.ReplaceAll(string(unit), "/usr/local/bin/tmaps", testkit.Binary(t))
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sa, "verify", path).CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err := exec.Command(sa, "security", "--offline=yes", path).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for tmaps\.service: ([0-9.]+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	var exposure float64
	fmt.Sscan(string(m[1]), &exposure)
	if exposure > 2.0 {
		t.Fatalf("exposure %.1f, want ≤ 2.0:\n%s", exposure, out)
	}
	t.Logf("systemd-analyze security: exposure %.1f", exposure)
}
