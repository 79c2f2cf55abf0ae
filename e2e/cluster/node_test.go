// Package cluster tests `tmaps serve --etcd`: real tmaps processes built
// from this tree, on real etcd clusters (member processes of the embed-based
// binary of internal/etcdtest, and once Debian's etcd-server), on loopback.
package cluster

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tmaps/console/internal/etcdtest"
	"github.com/tmaps/console/internal/testkit"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testkit.Cleanup()
	etcdtest.Cleanup()
	os.Exit(code)
}

var prefixes atomic.Int64

// env is one tmaps installation on a cluster: its endpoints and prefix, and
// a HOME of its own (each node's SSH host key and default paths).
type env struct {
	bin       string
	endpoints []string
	prefix    string
	home      string
	token     string
}

// newEnv makes an installation under a fresh prefix of cluster c, with an
// operator token made by the CLI straight on the cluster.
func newEnv(t *testing.T, endpoints []string) *env {
	t.Helper()
	e := &env{
		bin:       testkit.Binary(t),
		endpoints: endpoints,
		prefix:    fmt.Sprintf("/e2e/%d-%d/", os.Getpid(), prefixes.Add(1)),
		home:      t.TempDir(),
	}
	out := e.cli(t, "tokens", "create", "e2e")
	e.token = strings.TrimSpace(string(out))
	if !strings.HasPrefix(e.token, "tm_") {
		t.Fatalf("tokens create printed %q, want the token", out)
	}
	return e
}

// environ is the environment of every tmaps process of e.
func (e *env) environ() []string {
	return append(os.Environ(), "HOME="+e.home, "XDG_DATA_HOME="+e.home, "NO_COLOR=1",
		"TMAPS_ETCD="+strings.Join(e.endpoints, ","), "TMAPS_ETCD_PREFIX="+e.prefix)
}

// cli runs the tmaps CLI on the cluster and returns its stdout.
func (e *env) cli(t testing.TB, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(e.bin, args...)
	cmd.Env = e.environ()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tmaps %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return out
}

// node is a running `tmaps serve --etcd`.
type node struct {
	name   string
	url    string
	stderr *testkit.SyncBuffer
	cmd    *exec.Cmd
	done   chan error
	once   sync.Once
}

// start starts a node of e (plain HTTP on loopback, for tests) and waits
// for its "ready" line. Cleanup stops it.
func (e *env) start(t *testing.T, name string, extra ...string) *node {
	t.Helper()
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--allow-http", "--flush-every", "200ms"}, extra...)
	n := &node{name: name, stderr: &testkit.SyncBuffer{}, done: make(chan error, 1)}
	n.cmd = exec.Command(e.bin, args...)
	n.cmd.Env = e.environ()
	n.cmd.Stderr = n.stderr
	stdout, err := n.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start tmaps serve: %v", err)
	}
	go func() { n.done <- n.cmd.Wait() }()
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
		n.stop()
		if t.Failed() {
			t.Logf("node %s stderr:\n%s", n.name, n.stderr.Bytes())
		}
	})
	select {
	case n.url = <-ready:
	case err := <-n.done:
		n.done <- err
		t.Fatalf("node %s exited: %v\n%s", name, err, n.stderr.Bytes())
	case <-time.After(60 * time.Second):
		t.Fatalf("node %s never printed ready\n%s", name, n.stderr.Bytes())
	}
	return n
}

func (n *node) stop() {
	n.once.Do(func() {
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.done:
		case <-time.After(20 * time.Second):
			_ = n.cmd.Process.Kill()
			<-n.done
		}
	})
}

// kill sends SIGKILL and waits for the process to end.
func (n *node) kill() {
	n.once.Do(func() {
		_ = n.cmd.Process.Kill()
		<-n.done
	})
}

var client = &http.Client{Timeout: 30 * time.Second}

// api calls the management API of n and returns the status and body.
func (e *env) api(t testing.TB, n *node, method, path string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, n.url+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, path, n.name, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// must calls the API and fails unless it answers want.
func (e *env) must(t testing.TB, n *node, want int, method, path string, body any) []byte {
	t.Helper()
	st, out := e.api(t, n, method, path, body)
	if st != want {
		t.Fatalf("%s %s on %s: %d %s, want %d", method, path, n.name, st, out, want)
	}
	return out
}

// createKey creates a key through n and returns its id and secret.
func (e *env) createKey(t testing.TB, n *node, name string) (string, string) {
	t.Helper()
	var out struct {
		Key    struct{ ID string }
		Secret string
	}
	b := e.must(t, n, http.StatusCreated, "POST", "/v1/keys", map[string]string{"name": name})
	if err := json.Unmarshal(b, &out); err != nil || out.Secret == "" {
		t.Fatalf("create key: %v %s", err, b)
	}
	return out.Key.ID, out.Secret
}

// decide asks n's gate about a request with secret and origin ("" for
// none) and returns the status and error body.
func decide(t testing.TB, n *node, secret, origin string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", n.url+"/v1/authorize?api_key="+url.QueryEscape(secret), nil)
	if err != nil {
		t.Fatal(err)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("authorize on %s: %v", n.name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// within polls n's gate until it answers want (a status) or d passes, and
// returns how long that took.
func within(t testing.TB, n *node, secret, origin string, want int, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		st, body := decide(t, n, secret, origin)
		if st == want {
			return time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("node %s answers %d %s after %v, want %d", n.name, st, body, d, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readyz returns n's /readyz status code and "status" field.
func readyz(t testing.TB, n *node) (int, string) {
	t.Helper()
	resp, err := client.Get(n.url + "/readyz")
	if err != nil {
		t.Fatalf("readyz on %s: %v", n.name, err)
	}
	defer resp.Body.Close()
	var body struct{ Status string }
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("readyz on %s: %v: %s", n.name, err, b)
	}
	return resp.StatusCode, body.Status
}

// metric returns the value of an unlabelled metric of n.
func (e *env) metric(t testing.TB, n *node, name string) float64 {
	t.Helper()
	_, b := e.api(t, n, "GET", "/metrics", nil)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	t.Fatalf("no metric %s on %s", name, n.name)
	return 0
}

// ownCluster starts a 3-member cluster for one test (faults stop members).
func ownCluster(t *testing.T, opt etcdtest.Options) *etcdtest.Cluster {
	t.Helper()
	c, err := etcdtest.Start(filepath.Join(t.TempDir(), "etcd"), opt)
	if err != nil {
		t.Fatalf("start an etcd cluster: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}
