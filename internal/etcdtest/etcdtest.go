// Package etcdtest starts real etcd clusters for tests: one process per
// member on loopback ports in a temporary directory. The members run the
// small embed-based binary in ./member (built once per test process,
// without the race detector, so etcd runs at its real speed while the
// tests' own code is checked) or, with Options.Binary, another etcd such as
// Debian's etcd-server. Test binaries never link the etcd server: only
// the member binary does.
package etcdtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Options tune Start.
type Options struct {
	// Members is the cluster size; 0 means 3.
	Members int
	// Binary is the etcd to run; "" means the member binary of this tree.
	Binary string
	// Fsync keeps etcd's fsync on each commit. Off by default (tests), when
	// the binary supports --unsafe-no-fsync (etcd 3.5 and later).
	Fsync bool
	// Flags are added to every member's command line.
	Flags []string
}

// Cluster is an etcd cluster of member processes.
type Cluster struct {
	dir     string
	opt     Options
	token   string
	initial string
	members []*member
	// Endpoints are the client URLs of the members, in order.
	Endpoints []string
}

type member struct {
	name   string
	dir    string
	client string
	peer   string
	mu     sync.Mutex
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan struct{}
}

// Start starts a cluster in dir (created) and waits until every member
// serves quorum reads. Ports are picked free on 127.0.0.1 just before; a
// start that loses a port to another process is tried again.
func Start(dir string, opt Options) (*Cluster, error) {
	if opt.Members == 0 {
		opt.Members = 3
	}
	if opt.Binary == "" {
		b, err := memberBinary()
		if err != nil {
			return nil, err
		}
		opt.Binary = b
	}
	var err error
	for attempt := range 3 {
		var c *Cluster
		c, err = start(filepath.Join(dir, fmt.Sprintf("c%d", attempt)), opt)
		if err == nil {
			return c, nil
		}
	}
	return nil, err
}

var memberBin struct {
	once sync.Once
	path string
	err  error
}

// memberBinary installs ./member into the user's cache directory, once
// per process: `go install` relinks only when the sources changed, so
// later test runs start at once.
func memberBinary() (string, error) {
	memberBin.once.Do(func() {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		dir = filepath.Join(dir, "tmaps-test-bin")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			memberBin.err = err
			return
		}
		goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
		if p, err := exec.LookPath("go"); err == nil {
			goBin = p
		}
		cmd := exec.Command(goBin, "install", "github.com/tmaps/console/internal/etcdtest/member")
		cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-buildvcs=false")
		if out, err := cmd.CombinedOutput(); err != nil {
			memberBin.err = fmt.Errorf("build the etcd member binary: %v\n%s", err, out)
			return
		}
		memberBin.path = filepath.Join(dir, "member")
	})
	return memberBin.path, memberBin.err
}

func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

func start(dir string, opt Options) (*Cluster, error) {
	ports, err := freePorts(2 * opt.Members)
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, opt: opt, token: fmt.Sprintf("tmaps-test-%d", time.Now().UnixNano())}
	var initial []string
	for i := range opt.Members {
		m := &member{
			name:   fmt.Sprintf("m%d", i),
			dir:    filepath.Join(dir, fmt.Sprintf("m%d", i)),
			client: fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]),
			peer:   fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]),
		}
		c.members = append(c.members, m)
		c.Endpoints = append(c.Endpoints, m.client)
		initial = append(initial, m.name+"="+m.peer)
	}
	c.initial = strings.Join(initial, ",")
	for _, m := range c.members {
		if err := c.startMember(m, "new"); err != nil {
			c.Close()
			return nil, err
		}
	}
	for i := range c.members {
		if err := c.WaitMember(i, time.Minute); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

func (c *Cluster) startMember(m *member, state string) error {
	if err := os.MkdirAll(m.dir, 0o700); err != nil {
		return err
	}
	args := []string{
		"--name=" + m.name,
		"--data-dir=" + filepath.Join(m.dir, "data"),
		"--listen-client-urls=" + m.client,
		"--advertise-client-urls=" + m.client,
		"--listen-peer-urls=" + m.peer,
		"--initial-advertise-peer-urls=" + m.peer,
		"--initial-cluster=" + c.initial,
		"--initial-cluster-token=" + c.token,
		"--initial-cluster-state=" + state,
		"--log-level=error",
	}
	if !c.opt.Fsync && c.opt.Binary == memberBin.path {
		args = append(args, "--unsafe-no-fsync")
	}
	args = append(args, c.opt.Flags...)
	log, err := os.OpenFile(filepath.Join(m.dir, "etcd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.opt.Binary, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		log.Close()
		return err
	}
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start etcd member %s: %w", m.name, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); log.Close(); close(exited) }()
	m.mu.Lock()
	m.cmd, m.stdin, m.exited = cmd, stdin, exited
	m.mu.Unlock()
	return nil
}

// WaitMember waits until member i answers a quorum read.
func (c *Cluster) WaitMember(i int, timeout time.Duration) error {
	m := c.members[i]
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{m.client}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer cli.Close()
	deadline := time.Now().Add(timeout)
	for {
		m.mu.Lock()
		exited := m.exited
		m.mu.Unlock()
		select {
		case <-exited:
			out, _ := os.ReadFile(filepath.Join(m.dir, "etcd.log"))
			return fmt.Errorf("etcd member %s exited:\n%s", m.name, tail(string(out), 2000))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cli.Get(ctx, "health-probe")
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("etcd member %s not serving after %v: %w", m.name, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// Stop stops member i with SIGTERM (its data stays) and waits for it.
func (c *Cluster) Stop(i int) { c.signal(i, syscall.SIGTERM) }

// Kill kills member i with SIGKILL and waits for it.
func (c *Cluster) Kill(i int) { c.signal(i, syscall.SIGKILL) }

func (c *Cluster) signal(i int, sig syscall.Signal) {
	m := c.members[i]
	m.mu.Lock()
	cmd, stdin, exited := m.cmd, m.stdin, m.exited
	m.cmd = nil
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
	stdin.Close()
}

// Restart starts a stopped member i again on its ports and data and, when
// wait > 0, waits until it serves (which needs a quorum of members).
func (c *Cluster) Restart(i int, wait time.Duration) error {
	if err := c.startMember(c.members[i], "existing"); err != nil {
		return err
	}
	if wait > 0 {
		return c.WaitMember(i, wait)
	}
	return nil
}

// Close stops every member and removes the data.
func (c *Cluster) Close() {
	var wg sync.WaitGroup
	for i := range c.members {
		wg.Add(1)
		go func() { defer wg.Done(); c.Kill(i) }()
	}
	wg.Wait()
	os.RemoveAll(c.dir)
}

// Client returns a client of every member.
func (c *Cluster) Client() (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{Endpoints: c.Endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
}

// Compact compacts the history up to the current revision and returns it.
func (c *Cluster) Compact(ctx context.Context) (int64, error) {
	cli, err := c.Client()
	if err != nil {
		return 0, err
	}
	defer cli.Close()
	resp, err := cli.Get(ctx, "compact-probe")
	if err != nil {
		return 0, err
	}
	_, err = cli.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical())
	return resp.Header.Revision, err
}

var shared struct {
	once sync.Once
	c    *Cluster
	dir  string
	err  error
}

// Shared returns the 3-member cluster shared by the tests of this binary,
// starting it on first use. Run the tests with Main so that it is stopped.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "tmaps-etcd-")
		if shared.err == nil {
			shared.c, shared.err = Start(shared.dir, Options{})
		}
	})
	if shared.err != nil {
		t.Fatalf("start an etcd cluster: %v", shared.err)
	}
	return shared.c
}

// Main runs the tests, then stops the shared cluster: call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Cleanup()
	os.Exit(code)
}

// Cleanup stops the shared cluster.
func Cleanup() {
	if shared.c != nil {
		shared.c.Close()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
}

// ErrNoBinary is returned by Debian when Debian's etcd is not installed.
var ErrNoBinary = errors.New("no etcd binary")

// Debian returns the path of Debian's etcd (package etcd-server), or
// ErrNoBinary.
func Debian() (string, error) {
	for _, p := range []string{"/usr/bin/etcd", "/usr/sbin/etcd"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: install Debian's etcd-server (scripts/deps.sh does)", ErrNoBinary)
}
