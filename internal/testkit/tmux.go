package testkit

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Tmux is a tmux server of one test's own: its socket is in a temporary
// directory, its configuration is the lines given to NewTmux (never the
// user's ~/.tmux.conf), and Cleanup kills it. The methods fail the test when
// tmux does.
type Tmux struct {
	// Timeout bounds WaitFor and WaitUntil; NewTmux sets 10s.
	Timeout time.Duration
	// Context, when set, adds to the message of a wait that fails: the
	// program's stderr or log, say.
	Context func() string

	t    testing.TB
	sock string
	conf string
}

// NewTmux prepares the server; it starts with the first session, with conf
// as its tmux.conf, a line each (e.g. "set -g set-clipboard on").
func NewTmux(t testing.TB, conf ...string) *Tmux {
	t.Helper()
	dir := t.TempDir()
	if len(dir) > 80 { // a socket's path has room for about 100 bytes
		var err error
		if dir, err = os.MkdirTemp("", "tmux-"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	tm := &Tmux{Timeout: 10 * time.Second, t: t, sock: filepath.Join(dir, "tmux.sock"), conf: filepath.Join(dir, "tmux.conf")}
	var text string
	for _, l := range conf {
		text += l + "\n"
	}
	if err := os.WriteFile(tm.conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("tmux", "-S", tm.sock, "kill-server").Run() })
	return tm
}

// must runs a tmux command on this server and returns its output.
func (tm *Tmux) must(args ...string) string {
	tm.t.Helper()
	out, err := tm.run(args...)
	if err != nil {
		tm.t.Fatal(err)
	}
	return out
}

func (tm *Tmux) run(args ...string) (string, error) {
	cmd := exec.Command("tmux", append([]string{"-S", tm.sock, "-f", tm.conf}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("tmux %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return string(out), nil
}

// Start opens the detached session name of width×height cells running
// command: one string is a line for sh, more are the argv of a program.
func (tm *Tmux) Start(name string, width, height int, command ...string) {
	tm.t.Helper()
	tm.must(append([]string{"new-session", "-d", "-s", name, "-x", strconv.Itoa(width), "-y", strconv.Itoa(height)}, command...)...)
}

// Send sends keys (tmux key names, e.g. "Enter", "Down", "q") in one
// send-keys.
func (tm *Tmux) Send(name string, keys ...string) {
	tm.t.Helper()
	tm.must(append([]string{"send-keys", "-t", name}, keys...)...)
}

// SendLiteral types text as it is, without reading key names.
func (tm *Tmux) SendLiteral(name, text string) {
	tm.t.Helper()
	tm.must("send-keys", "-t", name, "-l", text)
}

// Resize makes the session's window width×height cells.
func (tm *Tmux) Resize(name string, width, height int) {
	tm.t.Helper()
	tm.must("resize-window", "-t", name, "-x", strconv.Itoa(width), "-y", strconv.Itoa(height))
}

// PipePane appends all the pane's output from now on, escape sequences
// included, to file.
func (tm *Tmux) PipePane(name, file string) {
	tm.t.Helper()
	tm.must("pipe-pane", "-o", "-t", name, "cat >> "+ShellQuote(file))
}

// Buffer returns tmux's newest paste buffer (where OSC 52 copies land with
// set-clipboard on).
func (tm *Tmux) Buffer() string {
	tm.t.Helper()
	return tm.must("show-buffer")
}

// Display returns tmux's format (e.g. "#{pane_pid}") for the pane.
func (tm *Tmux) Display(name, format string) string {
	tm.t.Helper()
	return tm.must("display-message", "-p", "-t", name, format)
}

// Capture returns the screen of the pane as text.
func (tm *Tmux) Capture(name string) string {
	tm.t.Helper()
	return tm.must("capture-pane", "-p", "-t", name)
}

// CaptureEscapes returns the screen with its colour and attribute escape
// sequences.
func (tm *Tmux) CaptureEscapes(name string) string {
	tm.t.Helper()
	return tm.must("capture-pane", "-e", "-p", "-t", name)
}

// WaitFor waits until the pane shows every part and returns that screen.
func (tm *Tmux) WaitFor(name string, parts ...string) string {
	tm.t.Helper()
	return tm.WaitUntil(name, func(screen string) bool {
		for _, p := range parts {
			if !strings.Contains(screen, p) {
				return false
			}
		}
		return true
	}, fmt.Sprintf("%q", parts))
}

// WaitUntil waits until cond holds for the pane's screen and returns that
// screen; after Timeout it fails the test with what, the last screen and
// Context.
func (tm *Tmux) WaitUntil(name string, cond func(screen string) bool, what string) string {
	tm.t.Helper()
	deadline := time.Now().Add(tm.Timeout)
	for {
		screen, err := tm.run("capture-pane", "-p", "-t", name)
		if err == nil && cond(screen) {
			return screen
		}
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("pane %s never showed %s within %v; it shows:\n%s", name, what, tm.Timeout, screen)
			if err != nil {
				msg += "\n" + err.Error()
			}
			if tm.Context != nil {
				msg += "\n" + tm.Context()
			}
			tm.t.Fatal(msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ShellQuote quotes each arg for sh and joins them with spaces.
func ShellQuote(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
