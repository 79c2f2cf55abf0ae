package e2e

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tmaps/console/internal/testkit"
)

// serveProc is a `tmaps serve` on a fixed address.
type serveProc struct {
	cmd    *exec.Cmd
	stderr *testkit.SyncBuffer
	exited chan struct{}
}

// startServe runs `tmaps serve` on db at addr and waits for its ready line.
func startServe(t *testing.T, db, addr string) *serveProc {
	t.Helper()
	cmd := exec.Command(testkit.Binary(t), "serve", "--db", db, "--allow-http", "--listen", addr)
	cmd.Env = append(os.Environ(), "HOME="+filepath.Dir(db))
	p := &serveProc{cmd: cmd, stderr: &testkit.SyncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "ready ") {
				close(ready)
			}
		}
	}()
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { p.kill(t) })
	select {
	case <-ready:
	case <-p.exited:
		t.Fatalf("tmaps serve exited before ready:\n%s", p.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("tmaps serve not ready after 30s:\n%s", p.stderr)
	}
	return p
}

// kill ends the daemon with SIGKILL, as a crash would, and waits for it.
func (p *serveProc) kill(t *testing.T) {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("tmaps serve did not die on SIGKILL")
	}
}

// freeAddr returns a loopback address nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestAPIConsoleSurvivesDaemon runs the console over --api in tmux against
// the real daemon: started while the daemon is down it says "disconnected
// — retrying" and fills in once the daemon starts; with the daemon killed
// it says so again and marks its data stale (an action fails with a
// banner); once the daemon is back, the header and the banner clear and
// what changed meanwhile shows. Before, the console stayed empty until
// restarted and showed old data as if live.
func TestAPIConsoleSurvivesDaemon(t *testing.T) {
	tm := newTerm(t)
	db := filepath.Join(tm.dir, "console.db")
	out, err := exec.Command(testkit.Binary(t), "tokens", "create", "ops", "--db", db).Output()
	token := strings.TrimSpace(string(out))
	if err != nil || !strings.HasPrefix(token, "tm_") {
		t.Fatalf("tokens create: %v, printed %q", err, token)
	}
	tm.cli("keys", "create", "--name", "alpha web", "--db", db)
	addr := freeAddr(t)
	tm.env = append(tm.env, "TMAPS_TOKEN="+token)
	tm.start("--api", "http://"+addr)
	tm.tmux.Timeout = 20 * time.Second

	// Started while the daemon is down.
	tm.waitFor("disconnected — retrying", "Could not load the store", "Retrying")
	d := startServe(t, db, addr)
	tm.waitFor("alpha web", "1 key")
	tm.waitGone("disconnected")

	// The daemon dies.
	d.kill(t)
	scr := tm.waitFor("disconnected — retrying", "stale")
	if !strings.Contains(scr, "alpha web") {
		t.Fatalf("the stale data should stay on screen:\n%s", scr)
	}
	// An action fails and says why.
	tm.keys("Enter", ".", "d")
	tm.waitFor("Disable")
	tm.keys("y")
	tm.waitFor("cannot reach the tmaps API")
	// The store changes while the daemon is down (the file is free).
	tm.cli("keys", "create", "--name", "beta mobile", "--db", db)

	startServe(t, db, addr)
	tm.waitGone("disconnected")
	tm.waitGone("cannot reach")
	tm.keys("Escape")
	tm.waitFor("beta mobile", "alpha web", "2 keys")
}
