package cli

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tmaps/console/internal/testkit"
)

// daemonProc is `tmaps serve` of the real binary, started by startDaemon.
type daemonProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	logs   *testkit.SyncBuffer
	lines  chan string
	waited chan error
	done   bool
	// URL is the API's address from the "ready" line; SSHPort the SSH
	// port from the "ssh" line, when SSH is on.
	URL, SSHPort string
}

var (
	readyLine = regexp.MustCompile(`^ready (\S+)$`)
	sshLine   = regexp.MustCompile(`^ssh 127\.0\.0\.1:(\d+) host key SHA256:\S+$`)
)

// startDaemon runs `tmaps serve ARGS` with env and waits for its "ready"
// line (and its "ssh" line when wantSSH). The daemon is stopped at cleanup.
func startDaemon(t *testing.T, env []string, wantSSH bool, args ...string) *daemonProc {
	t.Helper()
	d := &daemonProc{t: t, logs: &testkit.SyncBuffer{}, lines: make(chan string, 64), waited: make(chan error, 1)}
	d.cmd = exec.Command(testkit.Binary(t), append([]string{"serve"}, args...)...)
	d.cmd.Env = env
	d.cmd.Stderr = d.logs
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case d.lines <- sc.Text():
			default:
			}
		}
		close(d.lines)
		d.waited <- d.cmd.Wait()
	}()
	t.Cleanup(func() { d.Stop() })
	deadline := time.After(30 * time.Second)
	for d.URL == "" || (wantSSH && d.SSHPort == "") {
		select {
		case l, ok := <-d.lines:
			if !ok {
				t.Fatalf("serve ended before it was ready; log:\n%s", d.logs.String())
			}
			if m := readyLine.FindStringSubmatch(l); m != nil {
				d.URL = m[1]
			}
			if m := sshLine.FindStringSubmatch(l); m != nil {
				d.SSHPort = m[1]
			}
		case <-deadline:
			t.Fatalf("serve was not ready in 30 s; log:\n%s", d.logs.String())
		}
	}
	return d
}

// Stop sends SIGINT and waits for the daemon to exit cleanly.
func (d *daemonProc) Stop() {
	if d.done {
		return
	}
	d.done = true
	d.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-d.waited:
		if err != nil {
			d.t.Errorf("serve exited with %v; log:\n%s", err, d.logs.String())
		}
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		d.t.Errorf("serve did not stop on SIGINT; log:\n%s", d.logs.String())
	}
}

// sshKey is a client key pair made with ssh-keygen.
type sshKey struct {
	path, pub, fingerprint string
}

func newSSHKey(t *testing.T, dir, name string) sshKey {
	t.Helper()
	path := filepath.Join(dir, name)
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	pub, err := os.ReadFile(path + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ssh-keygen", "-l", "-E", "sha256", "-f", path+".pub").Output()
	if err != nil {
		t.Fatal(err)
	}
	return sshKey{path: path, pub: strings.TrimSpace(string(pub)), fingerprint: strings.Fields(string(out))[1]}
}

// sshRun runs a command over SSH with OpenSSH's client as user with key,
// without a terminal, and returns stdout, stderr and the exit status. It
// may run on any goroutine: a failure to run ssh at all is reported with
// t.Errorf and exit status -1.
func sshRun(t *testing.T, port string, key sshKey, user string, args ...string) (string, string, int) {
	t.Helper()
	base := []string{"-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "LogLevel=ERROR",
		"-i", key.path, "-p", port, "-l", user, "127.0.0.1"}
	out, errOut, code, err := testkit.RunCaptured(exec.Command("ssh", append(base, args...)...))
	if err != nil {
		t.Errorf("ssh: %v", err)
		return "", "", -1
	}
	return out, errOut, code
}
