// Package e2e runs the real tmaps binary in tmux and reads its screen, as a
// person would: create a key and copy its secret (X clipboard and OSC 52),
// disable, enable and revoke it, link and unlink from both sides, add
// invalid domains, delete a domain that leaves a key unrestricted.
//
// It needs tmux, Xvfb and xclip (`make test` installs them); a missing tool
// fails the test with the command that installs it.
package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tmaps/console/internal/testkit"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testkit.Cleanup()
	os.Exit(code)
}

func need(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: run `make test` (it installs it) or `apt-get install -y tmux xvfb xclip`", tool)
		}
	}
}

// term is one tmaps console running in its own tmux server.
type term struct {
	t    *testing.T
	dir  string
	env  []string
	tmux *testkit.Tmux
}

// newTerm prepares a console with its data under a temporary XDG_DATA_HOME.
func newTerm(t *testing.T, env ...string) *term {
	t.Helper()
	need(t, "tmux")
	dir := t.TempDir()
	tm := &term{t: t, dir: dir}
	tm.env = append([]string{"XDG_DATA_HOME=" + filepath.Join(dir, "data"), "TERM=xterm-256color"}, env...)
	return tm
}

// start runs `tmaps args...` in a 120×40 tmux window. OSC 52 copies land in
// tmux's paste buffer. A wait that fails shows the console's stderr.
func (tm *term) start(args ...string) *term {
	t, dir := tm.t, tm.dir
	t.Helper()
	tm.tmux = testkit.NewTmux(t, "set -g set-clipboard on", "set -g escape-time 0")
	tm.tmux.Context = func() string {
		stderr, _ := os.ReadFile(filepath.Join(dir, "stderr"))
		return "stderr: " + string(stderr)
	}
	cmd := "env " + testkit.ShellQuote(tm.env...) + " " + testkit.Binary(t) + " " + testkit.ShellQuote(args...) +
		" 2>" + filepath.Join(dir, "stderr")
	tm.tmux.Start("c", 120, 40, cmd)
	return tm
}

// cli runs a tmaps command on the same data directory (before the console
// starts: the store file is locked while it runs).
func (tm *term) cli(args ...string) string {
	tm.t.Helper()
	c := exec.Command(testkit.Binary(tm.t), args...)
	c.Env = append(os.Environ(), tm.env...)
	out, err := c.CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmaps %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// try runs a tmaps command like cli, returning its failure instead of
// failing the test.
func (tm *term) try(args ...string) (string, error) {
	tm.t.Helper()
	c := exec.Command(testkit.Binary(tm.t), args...)
	c.Env = append(os.Environ(), tm.env...)
	out, err := c.CombinedOutput()
	return string(out), err
}

// waitFor waits until every string is on screen.
func (tm *term) waitFor(subs ...string) string {
	tm.t.Helper()
	return tm.tmux.WaitFor("c", subs...)
}

func (tm *term) waitGone(s string) {
	tm.t.Helper()
	tm.tmux.WaitUntil("c", func(scr string) bool { return !strings.Contains(scr, s) }, fmt.Sprintf("%q gone", s))
}

// keys sends tmux key names one at a time (so Escape is never read as Alt).
func (tm *term) keys(keys ...string) {
	tm.t.Helper()
	for _, k := range keys {
		tm.tmux.Send("c", k)
		time.Sleep(60 * time.Millisecond)
	}
}

// typeText types literal text.
func (tm *term) typeText(s string) {
	tm.t.Helper()
	tm.tmux.SendLiteral("c", s)
	time.Sleep(80 * time.Millisecond)
}

var (
	secretRe = regexp.MustCompile(`ak_[0-9a-f]{32}`)
	sgrRe    = regexp.MustCompile(`\x1b\[([0-9;:]*)m`)
)

// colourSGR returns the first SGR sequence of s that sets a foreground or
// background colour ("" when there is none); bold, faint, reverse and the
// default-colour resets (39, 49) are fine without colour.
func colourSGR(s string) string {
	for _, m := range sgrRe.FindAllStringSubmatch(s, -1) {
		for _, p := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ';' || r == ':' }) {
			var n int
			fmt.Sscan(p, &n)
			if (n >= 30 && n <= 38) || (n >= 40 && n <= 48) || (n >= 90 && n <= 97) || (n >= 100 && n <= 107) {
				return m[0]
			}
		}
	}
	return ""
}

// xvfb starts a virtual X display and returns its DISPLAY value. Xvfb
// picks a free display number itself (-displayfd), so stale locks left by
// other runs never exhaust a range; it is stopped with SIGTERM, so it
// removes its own socket and lock.
func xvfb(t *testing.T) string {
	t.Helper()
	need(t, "Xvfb", "xclip")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{w}
	logPath := filepath.Join(t.TempDir(), "xvfb.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stderr = logFile // a file: no copying goroutine to race with
	errOut := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	if err := cmd.Start(); err != nil {
		w.Close()
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		got <- strings.TrimSpace(line)
	}()
	select {
	case n := <-got:
		if n == "" {
			t.Fatalf("Xvfb did not report a display: %s", errOut())
		}
		return ":" + n
	case <-time.After(10 * time.Second):
		t.Fatalf("Xvfb did not start within 10 s: %s", errOut())
	}
	return ""
}

func TestCreateKeySecretOnceAndCopy(t *testing.T) {
	display := xvfb(t)
	tm := newTerm(t, "DISPLAY="+display).start()
	tm.waitFor("No API keys yet", "Press n to create your first key")
	tm.keys("n")
	tm.waitFor("Create API Key")
	tm.typeText("Checkout web")
	tm.keys("Enter")
	scr := tm.waitFor("will not be shown again")
	secret := secretRe.FindString(scr)
	if secret == "" {
		t.Fatalf("no secret on screen:\n%s", scr)
	}
	tm.keys("Escape")
	tm.waitFor("Close without copying?")
	tm.keys("n")
	tm.waitGone("Close without copying?")
	tm.keys("c")
	tm.waitFor("Copied the secret to the system clipboard")

	// the X clipboard holds it
	xc := exec.Command("xclip", "-o", "-selection", "clipboard")
	xc.Env = append(os.Environ(), "DISPLAY="+display)
	got, err := xc.Output()
	if err != nil || strings.TrimSpace(string(got)) != secret {
		t.Fatalf("X clipboard: %q, %v (want the secret)", got, err)
	}
	// and the OSC 52 sequence reached the terminal: tmux stored it
	if buf := tm.tmux.Buffer(); buf != secret {
		t.Fatalf("OSC 52 buffer %q, want the secret", buf)
	}

	tm.keys("Escape")
	tm.waitFor("Created “Checkout web”")
	tm.waitGone(secret)
	// never again: not in the key's screen either
	tm.keys("Enter")
	scr = tm.waitFor("API Keys › Checkout web")
	if secretRe.MatchString(scr) {
		t.Fatalf("a secret is on the key's screen:\n%s", scr)
	}
	tm.keys("q")
}

func TestCopyWithoutNativeClipboardSaysOSC52(t *testing.T) {
	tm := newTerm(t, "DISPLAY=").start() // no X server: xclip fails
	tm.waitFor("No API keys yet")
	tm.keys("n")
	tm.typeText("No X here")
	tm.keys("Enter")
	scr := tm.waitFor("will not be shown again")
	secret := secretRe.FindString(scr)
	tm.keys("c")
	tm.waitFor("OSC 52")
	if buf := tm.tmux.Buffer(); buf != secret {
		t.Fatalf("OSC 52 buffer %q, want the secret", buf)
	}
}

func TestDisableEnableRevoke(t *testing.T) {
	tm := newTerm(t)
	tm.cli("keys", "create", "--name", "Partner portal")
	tm.start()
	tm.waitFor("Partner portal", "Active")

	tm.keys(".")
	tm.waitFor("Actions", "Disable", "Revoke")
	tm.keys("d")
	tm.waitFor("Disable “Partner portal”?", "will be refused (401")
	tm.keys("y")
	tm.waitFor("Disabled “Partner portal”")
	tm.waitFor("Disabled  ")

	tm.keys(".")
	tm.waitFor("e  Enable")
	tm.keys("e") // no confirmation
	tm.waitFor("Enabled “Partner portal”")

	tm.keys(".", "x")
	tm.waitFor("Revoking is permanent", "Type the key's name")
	tm.typeText("Partner")
	tm.keys("Enter")
	tm.waitFor("does not match yet")
	tm.typeText(" portal")
	tm.keys("Enter")
	tm.waitFor("Revoked “Partner portal” for good", "Revoked  ")
	tm.keys("q")
	time.Sleep(300 * time.Millisecond)
	if out := tm.cli("keys", "list"); !strings.Contains(out, "Revoked") && !strings.Contains(out, "revoked") {
		t.Fatalf("the store does not say revoked:\n%s", out)
	}
}

func TestDomainsLinkUnlinkAndDelete(t *testing.T) {
	tm := newTerm(t, "NO_COLOR=1") // the console must read well without colour
	tm.cli("keys", "create", "--name", "Solo")
	tm.start()
	tm.waitFor("Solo", "unrestricted")
	if sgr := colourSGR(tm.tmux.CaptureEscapes("c")); sgr != "" {
		t.Fatalf("NO_COLOR is set but the screen has the colour sequence %q", sgr)
	}

	// invalid domains, with their reasons
	tm.keys("2")
	tm.waitFor("No authorized domains yet")
	tm.keys("n")
	tm.waitFor("Add Domain")
	for in, reason := range map[string]string{
		"https://mysite.tn":   "remove the scheme",
		"mysite.tn/dashboard": "remove the path",
		"*.mysite.tn":         "wildcards are not supported",
		"mysite.tn:8443":      "remove the port",
	} {
		tm.keys("C-u")
		tm.typeText(in)
		tm.waitFor(reason)
	}
	tm.keys("C-u")
	tm.typeText("mysite.tn")
	tm.waitFor("✓ valid: stored as mysite.tn")
	tm.keys("Enter")
	tm.waitFor("Added mysite.tn")

	// link from the domain's side
	tm.keys("Enter")
	tm.waitFor("Authorized Domains › mysite.tn", "API Keys (0)")
	tm.keys("l")
	tm.waitFor("Link keys to mysite.tn", "[ ] Solo")
	tm.keys("Tab")
	tm.waitFor("[x] Solo")
	tm.keys("Enter")
	tm.waitFor("Linked mysite.tn to 1 key", "API Keys (1)")

	// unlink from the key's side: the last domain warns
	tm.keys("1")
	tm.waitFor("Solo", "mysite.tn")
	tm.keys("Enter")
	tm.waitFor("API Keys › Solo", "Authorized Domains (1)")
	tm.keys("u")
	tm.waitFor("last domain", "UNRESTRICTED")
	tm.keys("y")
	tm.waitFor("now unrestricted", "Authorized Domains (0)")

	// link from the key's side, adding a new domain inline
	tm.keys("l")
	tm.waitFor("Link domains to “Solo”", "[ ] mysite.tn")
	tm.typeText("app.mysite.tn")
	tm.waitFor("+ Add new domain app.mysite.tn")
	tm.keys("Enter")
	tm.waitFor("Authorized Domains (1)", "app.mysite.tn")
	tm.keys("l")
	tm.waitFor("[ ] mysite.tn")
	tm.keys("Tab", "Enter")
	tm.waitFor("Authorized Domains (2)")

	// unlink from the domain's side (Solo keeps app.mysite.tn: no warning)
	tm.keys("Down")
	tm.keys("Enter") // open mysite.tn, over Solo's screen
	tm.waitFor("API Keys › Solo › mysite.tn", "API Keys (1)")
	tm.keys("u")
	scr := tm.waitFor("Unlink mysite.tn from “Solo”?")
	if strings.Contains(scr, "UNRESTRICTED") {
		t.Fatalf("warned although Solo keeps a domain:\n%s", scr)
	}
	tm.keys("y")
	tm.waitFor("API Keys (0)")

	// esc goes back where we came from: Solo's screen
	tm.keys("Escape")
	tm.waitFor("API Keys › Solo", "Authorized Domains (1)")

	// deleting Solo's only domain names it before confirming
	tm.keys("2")
	tm.waitFor("Authorized Domains › mysite.tn") // still open on its tab
	tm.keys("Escape")
	tm.waitFor("app.mysite.tn", "domains · sort")
	tm.keys("/")
	tm.typeText("app.")
	tm.keys("Enter", "D")
	tm.waitFor("Delete domain app.mysite.tn?", "become UNRESTRICTED", "“Solo”")
	tm.keys("y")
	tm.waitFor("Deleted app.mysite.tn")
	tm.keys("1") // the key's screen is still open on the keys page
	tm.waitFor("API Keys › Solo", "Authorized Domains (0)", "Unrestricted")
	tm.keys("q")
}

// Issue 11, defect 9: CLI commands work while the console is open on the
// same store (the console shares it on a private socket), and the console
// shows their changes at once; the audit actor is the CLI's OS user.
func TestCLIWhileConsoleRuns(t *testing.T) {
	tm := newTerm(t)
	tm.env = append(tm.env, "XDG_RUNTIME_DIR="+filepath.Join(tm.dir, "run"))
	tm.cli("keys", "create", "--name", "Before the console")
	tm.start()
	tm.waitFor("Before the console")
	t0 := time.Now()
	out := tm.cli("keys", "create", "--name", "Made by the CLI")
	if !secretRe.MatchString(out) {
		t.Fatalf("keys create while the console runs: %q", out)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("keys create took %v", d)
	}
	tm.waitFor("Made by the CLI", "2 keys")
	var es []struct{ Actor, Action, After string }
	if err := json.Unmarshal([]byte(tm.cli("audit", "--json", "--limit", "1")), &es); err != nil {
		t.Fatal(err)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Action != "create" || es[0].After != "Made by the CLI" || es[0].Actor != me.Username {
		t.Fatalf("audit of the CLI's change: %+v, want actor %q", es, me.Username)
	}
	tm.keys("q")
}
