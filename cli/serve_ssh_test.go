package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tmaps/console/cli"
	"github.com/tmaps/console/internal/testkit"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store/bolt"
)

// TestServeSSHEndToEnd is issue 5's scenario with the real binary, the
// OpenSSH client and tmux: log in with an authorized key and read the key
// list; create a key and see its OSC 52 copy in the terminal's raw output;
// a second session sees the new key live; `ssh … keys list --json` equals
// the local command's output; resizing the window moves the layout; an
// unauthorized key is refused; the audit actor is the SSH user and key.
func TestServeSSHEndToEnd(t *testing.T) {
	testkit.NeedSSHTools(t, "ssh", "ssh-keygen", "tmux")
	bin := testkit.Binary(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "data", "console.db")
	baseEnv := append(os.Environ(), "HOME="+dir, "TMAPS_DB=", "TMAPS_API=", "TMAPS_TOKEN=", "XDG_DATA_HOME=")

	local := func(args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--db", db}, args...)...)
		cmd.Env = baseEnv
		out, errOut, code, err := testkit.RunCaptured(cmd)
		if err != nil {
			t.Fatalf("tmaps %v: %v", args, err)
		}
		return out, errOut, code
	}
	if _, errOut, code := local("keys", "create", "--name", "seed-key"); code != 0 {
		t.Fatalf("seed: exit %d: %s", code, errOut)
	}

	keygen := func(name string) (path, fingerprint string) {
		path = filepath.Join(dir, name)
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
		out, err := exec.Command("ssh-keygen", "-l", "-E", "sha256", "-f", path+".pub").Output()
		if err != nil {
			t.Fatal(err)
		}
		return path, strings.Fields(string(out))[1]
	}
	opKey, opFP := keygen("operator")
	strangerKey, _ := keygen("stranger")
	pub, _ := os.ReadFile(opKey + ".pub")
	authKeys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authKeys, pub, 0o600); err != nil {
		t.Fatal(err)
	}

	// The daemon.
	daemon := exec.Command(bin, "serve", "--db", db, "--allow-http", "--listen", "127.0.0.1:0",
		"--ssh-listen", "127.0.0.1:0", "--authorized-keys", authKeys, "--metrics-listen", "127.0.0.1:0")
	daemon.Env = baseEnv
	logs := &testkit.SyncBuffer{}
	daemon.Stderr = logs
	stdout, err := daemon.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		daemon.Process.Signal(os.Interrupt)
		select {
		case err := <-waited:
			if err != nil {
				t.Errorf("serve exited with %v; log:\n%s", err, logs.String())
			}
		case <-time.After(20 * time.Second):
			daemon.Process.Kill()
			t.Errorf("serve did not stop on SIGINT; log:\n%s", logs.String())
		}
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		waited <- daemon.Wait()
	}()
	t.Cleanup(stop)
	sshLine := regexp.MustCompile(`^ssh 127\.0\.0\.1:(\d+) host key (SHA256:\S+)$`)
	var port, hostFP, apiURL, metricsURL string
	for port == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("serve ended before announcing SSH; log:\n%s", logs.String())
			}
			if m := sshLine.FindStringSubmatch(l); m != nil {
				port, hostFP = m[1], m[2]
			}
			if u, ok := strings.CutPrefix(l, "ready "); ok {
				apiURL = u
			}
			if u, ok := strings.CutPrefix(l, "metrics "); ok {
				metricsURL = u
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("serve never announced SSH; log:\n%s", logs.String())
		}
	}

	// The host key was generated beside the store, private, and its
	// fingerprint is the one announced.
	hostKey := filepath.Join(filepath.Dir(db), "ssh_host_ed25519_key")
	if fi, err := os.Stat(hostKey); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("host key: %v, %v; want mode 0600", fi, err)
	}
	if out, err := exec.Command("ssh-keygen", "-l", "-E", "sha256", "-f", hostKey+".pub").Output(); err != nil || !strings.Contains(string(out), hostFP) {
		t.Fatalf("host key fingerprint: ssh-keygen says %q (%v), serve announced %s", out, err, hostFP)
	}

	sshArgs := func(key string, extra ...string) []string {
		return append([]string{"-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "LogLevel=ERROR",
			"-i", key, "-p", port, "-l", "operator"}, extra...)
	}
	remote := func(key string, args ...string) (string, string, int) {
		t.Helper()
		out, errOut, code, err := testkit.RunCaptured(exec.Command("ssh", append(sshArgs(key, "127.0.0.1"), args...)...))
		if err != nil {
			t.Fatalf("ssh: %v", err)
		}
		return out, errOut, code
	}

	// An unauthorized key gets nothing.
	if out, errOut, code := remote(strangerKey, "keys", "list", "--json"); code != 255 || out != "" || !strings.Contains(errOut, "Permission denied (publickey)") {
		t.Fatalf("stranger: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// Two consoles in tmux, one with its raw output captured.
	tm := testkit.NewTmux(t)
	tm.Timeout = 20 * time.Second
	tm.Context = func() string { return "log:\n" + logs.String() }
	contains := func(s string) func(string) bool { return func(v string) bool { return strings.Contains(v, s) } }
	sshLineCmd := "env TERM=xterm-256color ssh -tt " + testkit.ShellQuote(sshArgs(opKey, "127.0.0.1")...) + "; echo SSH-EXIT=$?; sleep 60"
	raw := filepath.Join(t.TempDir(), "a.raw")
	tm.Start("a", 100, 30, sshLineCmd)
	tm.PipePane("a", raw)
	tm.Start("b", 100, 30, sshLineCmd)

	// Log in and read the key list.
	screenA := tm.WaitUntil("a", contains("seed-key"), "the key list with seed-key")
	if !strings.Contains(screenA, "API Keys") || !strings.Contains(screenA, "Active") {
		t.Fatalf("console A:\n%s", screenA)
	}
	tm.WaitUntil("b", contains("seed-key"), "the key list in the second session")
	if body := httpGet(t, metricsURL); !strings.Contains(body, "\ntmaps_ssh_sessions 2\n") {
		t.Fatalf("metrics with two SSH sessions open:\n%s", body)
	}

	// The layout fills the window: the help line is on the last row.
	lastRow := func(s string) string {
		rows := strings.Split(strings.TrimRight(s, "\n"), "\n")
		return rows[len(rows)-1]
	}
	rowCount := func(s string) int { return len(strings.Split(strings.TrimRight(s, "\n"), "\n")) }
	screenA = tm.WaitUntil("a", func(s string) bool { return rowCount(s) == 30 && strings.Contains(lastRow(s), "new key") }, "the help line on row 30")

	// Create a key in console A and copy its secret.
	tm.Send("a", "n")
	tm.WaitUntil("a", contains("Name"), "the create dialog")
	tm.SendLiteral("a", "made-over-ssh")
	tm.Send("a", "Enter")
	screenA = tm.WaitUntil("a", contains("will not be shown again"), "the new secret")
	tm.Send("a", "c")
	osc52 := regexp.MustCompile("\x1b\\]52;c;([A-Za-z0-9+/=]+)")
	var secret string
	deadline := time.Now().Add(20 * time.Second)
	for secret == "" {
		b, _ := os.ReadFile(raw)
		if m := osc52.FindSubmatch(b); m != nil {
			dec, err := base64.StdEncoding.DecodeString(string(m[1]))
			if err != nil {
				t.Fatalf("OSC 52 payload %q: %v", m[1], err)
			}
			secret = string(dec)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no OSC 52 sequence in the raw output of the pane (%d bytes)", len(b))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !model.ValidSecret(secret) || !strings.Contains(screenA, secret) {
		t.Fatalf("OSC 52 carried %q; the dialog shows:\n%s", secret, screenA)
	}

	// The second console sees the new key without any key press.
	tm.WaitUntil("b", contains("made-over-ssh"), "the key created in the other session")

	// SIGHUP re-reads the authorized keys and keeps both sessions: the
	// resize below is answered by the same session.
	if err := daemon.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(logs.String(), "ssh authorized keys reloaded"); {
		if time.Now().After(deadline) {
			t.Fatalf("no reload after SIGHUP; log:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Resize console A: the layout follows (help line on the new last row,
	// dialog re-wrapped within 60 columns).
	tm.Resize("a", 60, 20)
	tm.WaitUntil("a", func(s string) bool {
		return rowCount(s) == 20 && strings.Contains(lastRow(s), "copy secret") && strings.Contains(s, "made-over-ssh")
	}, "the layout at 60x20")

	// The CLI over SSH: same JSON as the local command, exit codes kept.
	overSSH, errOut, code := remote(opKey, "keys", "list", "--json")
	if code != 0 {
		t.Fatalf("ssh keys list --json: exit %d, stderr %q", code, errOut)
	}
	var listed []struct {
		Name, Prefix string
	}
	if err := json.Unmarshal([]byte(overSSH), &listed); err != nil || len(listed) != 2 {
		t.Fatalf("ssh keys list --json: %v: %q", err, overSSH)
	}
	if _, errOut, code := remote(opKey, "keys", "show", "no-such-key"); code != 4 || !strings.Contains(errOut, "no-such-key") {
		t.Fatalf("ssh keys show no-such-key: exit %d, stderr %q", code, errOut)
	}
	// An online backup over SSH comes to the client's side; the daemon
	// writes no file of its own.
	backupOut, errOut, code := remote(opKey, "backup", "-")
	if code != 0 || !strings.Contains(errOut, "backed up") {
		t.Fatalf("ssh backup -: exit %d, stderr %q", code, errOut)
	}
	copyPath := filepath.Join(t.TempDir(), "over-ssh.db")
	if err := os.WriteFile(copyPath, []byte(backupOut), 0o600); err != nil {
		t.Fatal(err)
	}
	if sum, err := bolt.Verify(copyPath); err != nil || sum.Keys != 2 {
		t.Fatalf("the backup over SSH: %+v %v", sum, err)
	}
	if _, errOut, code := remote(opKey, "backup", "/tmp/x.db"); code != 2 || !strings.Contains(errOut, "backup - > FILE") {
		t.Fatalf("ssh backup FILE: exit %d, stderr %q", code, errOut)
	}
	// migrate works on the daemon's host only.
	if _, errOut, code := remote(opKey, "migrate", "--from", "bolt:/tmp/a.db", "--to", "bolt:/tmp/b.db"); code != 2 || !strings.Contains(errOut, "not over SSH") {
		t.Fatalf("ssh migrate: exit %d, stderr %q", code, errOut)
	}

	// Stopping the daemon tells the consoles and releases the store.
	// Read your writes over SSH too: once a command that disables a key
	// returns, this node's gate refuses the key.
	for i := range 3 {
		name := fmt.Sprintf("ryw-%d", i)
		out, errOut, code := remote(opKey, "keys", "create", "--name", name)
		if code != 0 {
			t.Fatalf("keys create over SSH: %d %s", code, errOut)
		}
		s := strings.TrimSpace(out)
		if _, errOut, code := remote(opKey, "keys", "disable", name, "--yes"); code != 0 {
			t.Fatalf("keys disable over SSH: %d %s", code, errOut)
		}
		resp, err := http.Get(apiURL + "/v1/authorize?api_key=" + s)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.Contains(string(body), "disabled") {
			t.Fatalf("round %d: right after an SSH disable the gate answered %d %s", i, resp.StatusCode, body)
		}
	}

	stop()
	screenB := tm.WaitUntil("b", contains("SSH-EXIT="), "the end of the session")
	if !strings.Contains(screenB, "tmaps: the server is shutting down") {
		t.Errorf("console B at shutdown:\n%s", screenB)
	}
	localOut, errOut, code := local("keys", "list", "--json")
	if code != 0 {
		t.Fatalf("local keys list --json: exit %d, %s", code, errOut)
	}
	// The keys of the read-your-writes rounds were used since: leave them out.
	localOut = withoutKeys(t, localOut, "ryw-")
	if localOut != overSSH {
		t.Fatalf("ssh output differs from local output:\nssh:   %s\nlocal: %s", overSSH, localOut)
	}

	// The change made in the console is audited with the SSH user and key.
	auditOut, errOut, code := local("audit", "--json")
	if code != 0 {
		t.Fatalf("audit: exit %d, %s", code, errOut)
	}
	var entries []model.AuditEntry
	if err := json.Unmarshal([]byte(auditOut), &entries); err != nil {
		t.Fatalf("audit --json: %v: %q", err, auditOut)
	}
	wantActor := "ssh:operator " + opFP
	bySSH := 0
	for _, e := range entries {
		if e.Action == model.AuditCreate && e.Actor == wantActor {
			bySSH++
		}
	}
	if bySSH != 1+3 { // the console's key and the three read-your-writes keys
		t.Fatalf("no create entry by %q in the audit log:\n%s", wantActor, auditOut)
	}

	// Logs: connects, the refusal and disconnects, never a secret.
	l := logs.String()
	for _, want := range []string{"ssh connect", "ssh key refused", "ssh session start", "ssh disconnect", opFP} {
		if !strings.Contains(l, want) {
			t.Errorf("daemon log lacks %q", want)
		}
	}
	if strings.Contains(l, secret) || strings.Contains(l, secret[3:]) {
		t.Errorf("the secret reached the daemon log")
	}
}

// TestServeSSHFlagErrors checks the SSH flags of serve fail early, clearly,
// and before serving anything.
func TestServeSSHFlagErrors(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "console.db")
	ak := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(ak, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	base := []string{"serve", "--db", db, "--allow-http", "--listen", "127.0.0.1:0"}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--ssh-listen", "127.0.0.1:0"}, cli.ExitUsage, "--ssh-listen needs --authorized-keys FILE"},
		{[]string{"--authorized-keys", ak}, cli.ExitUsage, "add --ssh-listen ADDR"},
		{[]string{"--ssh-listen", "127.0.0.1:0", "--authorized-keys", ak, "--ssh-max-sessions", "-1"}, cli.ExitUsage, "--ssh-max-sessions -1"},
		{[]string{"--ssh-listen", "127.0.0.1:0", "--authorized-keys", ak, "--ssh-idle-timeout", "-1s"}, cli.ExitUsage, "--ssh-idle-timeout"},
		{[]string{"--ssh-listen", "127.0.0.1:0", "--authorized-keys", filepath.Join(dir, "missing")}, cli.ExitError, "cat ~/.ssh/id_ed25519.pub >>"},
		{[]string{"--ssh-listen", busy.Addr().String(), "--authorized-keys", ak}, cli.ExitError, "choose another --ssh-listen address"},
	} {
		var out, errb bytes.Buffer
		code := cli.Execute(context.Background(), append(append([]string{}, base...), tc.args...), strings.NewReader(""), &out, &errb, func(string) string { return "" })
		if code != tc.code || !strings.Contains(errb.String(), tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errb.String(), tc.code, tc.msg)
		}
		if strings.Contains(out.String(), "ready") {
			t.Errorf("%v: serve announced ready: %q", tc.args, out.String())
		}
	}
}

// TestSSHDocFlags checks every flag docs/ssh.md names exists on serve.
func TestSSHDocFlags(t *testing.T) {
	doc, err := os.ReadFile("../docs/ssh.md")
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := cli.Execute(context.Background(), []string{"serve", "--help"}, strings.NewReader(""), &out, &errb, func(string) string { return "" }); code != 0 {
		t.Fatalf("serve --help: exit %d: %s", code, errb.String())
	}
	flags := regexp.MustCompile("`(--(?:ssh-[a-z-]+|authorized-keys|host-key))").FindAllStringSubmatch(string(doc), -1)
	if len(flags) < 5 {
		t.Fatalf("docs/ssh.md names %d SSH flags, want at least 5", len(flags))
	}
	for _, f := range flags {
		if !strings.Contains(out.String(), f[1]+" ") {
			t.Errorf("docs/ssh.md names %s, which serve does not have", f[1])
		}
	}
}

// withoutKeys removes from a `keys list --json` output the keys whose name
// starts with prefix, keeping the output's layout.
func withoutKeys(t *testing.T, listJSON, prefix string) string {
	t.Helper()
	var keys []json.RawMessage
	if err := json.Unmarshal([]byte(listJSON), &keys); err != nil {
		t.Fatalf("keys list --json: %v", err)
	}
	kept := []json.RawMessage{}
	for _, k := range keys {
		var named struct{ Name string }
		if json.Unmarshal(k, &named) == nil && !strings.HasPrefix(named.Name, prefix) {
			kept = append(kept, k)
		}
	}
	out, err := json.MarshalIndent(kept, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(out) + "\n"
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}
