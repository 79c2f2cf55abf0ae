package sshd

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tmaps/console/internal/testkit"
)

func TestUnauthorizedKeyRefused(t *testing.T) {
	h := newHarness(t, nil)
	r := h.run(h.mallory, nil, "", "echo", "hi")
	if r.code != 255 || !strings.Contains(r.stderr, "Permission denied (publickey)") {
		t.Fatalf("mallory's key: exit %d, stderr %q; want 255 and Permission denied (publickey)", r.code, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("refused login printed %q", r.stdout)
	}
	// With a terminal too: no console is built for a refused key.
	r = h.run(h.mallory, []string{"-tt"}, "")
	if r.code != 255 {
		t.Fatalf("mallory with -tt: exit %d, want 255", r.code)
	}
	if n := len(h.consoleModels()) + len(h.commandCalls()); n != 0 {
		t.Fatalf("%d consoles or commands started for a refused key", n)
	}
	waitFor(t, "the refusal in the log", func() bool {
		return strings.Contains(h.logs.String(), "ssh key refused") && strings.Contains(h.logs.String(), h.mallory.fingerprint)
	})
	// The authorized key gets in.
	if r := h.run(h.alice, nil, "", "echo", "hi"); r.code != 0 {
		t.Fatalf("alice: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestPasswordAndKeyboardInteractiveRefused(t *testing.T) {
	h := newHarness(t, nil)
	for _, method := range []string{"password", "keyboard-interactive"} {
		r := h.run(h.alice, []string{"-v", "-o", "PreferredAuthentications=" + method, "-o", "PubkeyAuthentication=no"}, "", "echo", "hi")
		if r.code != 255 || !strings.Contains(r.stderr, "Permission denied (publickey)") {
			t.Fatalf("%s: exit %d; want 255 and Permission denied (publickey); stderr:\n%s", method, r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, "Authentications that can continue: publickey\r\n") &&
			!strings.Contains(r.stderr, "Authentications that can continue: publickey\n") {
			t.Fatalf("%s: the server must offer publickey only; stderr:\n%s", method, r.stderr)
		}
	}
	if n := len(h.commandCalls()); n != 0 {
		t.Fatalf("%d commands ran without public key authentication", n)
	}
}

func TestCommandOutputAndExitStatus(t *testing.T) {
	h := newHarness(t, nil)
	r := h.run(h.alice, nil, "", "echo", "keys", "list", "--json", "'two words'")
	if r.code != 0 {
		t.Fatalf("echo: exit %d, stderr %q", r.code, r.stderr)
	}
	wantActor := "ssh:alice " + h.alice.fingerprint
	want := "args=[\"keys\" \"list\" \"--json\" \"two words\"]\nactor=" + wantActor + "\n"
	if r.stdout != want {
		t.Fatalf("stdout = %q, want %q", r.stdout, want)
	}
	calls := h.commandCalls()
	if len(calls) != 1 {
		t.Fatalf("%d command calls, want 1", len(calls))
	}
	s := calls[0].s
	if s.Actor != wantActor || s.User != "alice" || s.Fingerprint != h.alice.fingerprint || s.PTY || s.KeyComment != "alice@test" {
		t.Fatalf("session = %+v", s)
	}

	r = h.run(h.alice, nil, "", "exit", "4")
	if r.code != 4 || r.stderr != "exiting with 4\n" || r.stdout != "" {
		t.Fatalf("exit 4: got exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = h.run(h.alice, nil, "line one\nline two\n", "cat")
	if r.code != 0 || r.stdout != "line one\nline two\n" {
		t.Fatalf("cat: exit %d, stdout %q", r.code, r.stdout)
	}
	// A command with a terminal runs the command, not the console.
	r = h.run(h.alice, []string{"-tt"}, "", "exit", "3")
	if r.code != 3 || !strings.Contains(r.stdout+r.stderr, "exiting with 3") {
		t.Fatalf("exit 3 with -tt: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if calls := h.commandCalls(); !calls[len(calls)-1].s.PTY {
		t.Fatal("the session of ssh -tt has no PTY")
	}
	// No command and no terminal: a usage message, not a console.
	r = h.run(h.alice, []string{"-T"}, "")
	if r.code != 2 || !strings.Contains(r.stderr, "ssh -t") {
		t.Fatalf("shell without a terminal: exit %d, stderr %q", r.code, r.stderr)
	}
	if len(h.consoleModels()) != 0 {
		t.Fatal("a console started without a terminal")
	}
	logs := h.logs.String()
	for _, want := range []string{"ssh connect", "ssh session start", `command="echo keys"`, "ssh session end", "ssh disconnect", h.alice.fingerprint} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "two words") || strings.Contains(logs, "--json") {
		t.Errorf("log shows command arguments:\n%s", logs)
	}
}

func TestConsoleInTmuxFollowsResize(t *testing.T) {
	h := newHarness(t, nil)
	tm := newTmux(t)
	line := "env TERM=xterm-256color ssh -tt " + testkit.ShellQuote(h.sshArgs(h.alice, nil)...) + "; echo SSH-EXIT=$?; sleep 60"
	tm.Start("c", 100, 30, line)
	screen := tm.WaitFor("c", "size=100x30")
	if !strings.Contains(screen, "TEST CONSOLE") || !strings.Contains(screen, "actor=ssh:alice "+h.alice.fingerprint) {
		t.Fatalf("screen:\n%s", screen)
	}
	models := h.consoleModels()
	if len(models) != 1 {
		t.Fatalf("%d consoles, want 1", len(models))
	}
	m := models[0]
	if m.s.Term != "xterm-256color" || !m.s.PTY || m.s.Width != 100 || m.s.Height != 30 {
		t.Fatalf("session = %+v", m.s)
	}
	waitFor(t, "the colour profile", func() bool { return m.colorProfile() != "" })
	if p := m.colorProfile(); p != "ANSI256" {
		t.Errorf("colour profile for TERM=xterm-256color = %q, want ANSI256", p)
	}

	tm.Resize("c", 72, 20)
	tm.WaitFor("c", "size=72x20")
	if w, hgt := m.size(); w != 72 || hgt != 20 {
		t.Fatalf("model size after resize = %dx%d, want 72x20", w, hgt)
	}

	if m.isClosed() {
		t.Fatal("the model was closed while the session runs")
	}
	tm.Send("c", "q")
	tm.WaitFor("c", "SSH-EXIT=0")
	waitFor(t, "the model to be closed", m.isClosed)
}

func TestConsoleColourProfileFollowsClient(t *testing.T) {
	h := newHarness(t, nil)
	tm := newTmux(t)
	// NO_COLOR sent by the client turns colours off for that session only.
	extra := []string{"-o", "SetEnv=NO_COLOR=1"}
	tm.Start("a", 80, 24, "env TERM=xterm-256color ssh -tt "+testkit.ShellQuote(h.sshArgs(h.alice, extra)...)+"; sleep 60")
	tm.Start("b", 80, 24, "env TERM=xterm-256color COLORTERM=truecolor ssh -tt "+testkit.ShellQuote(h.sshArgs(h.alice, []string{"-o", "SendEnv=COLORTERM"})...)+"; sleep 60")
	tm.WaitFor("a", "TEST CONSOLE")
	tm.WaitFor("b", "TEST CONSOLE")
	var profiles []string
	waitFor(t, "two consoles with a colour profile", func() bool {
		profiles = profiles[:0]
		for _, m := range h.consoleModels() {
			if p := m.colorProfile(); p != "" {
				profiles = append(profiles, m.s.Term+"/"+strings.Join(m.s.Environ, ",")+"="+p)
			}
		}
		return len(profiles) == 2
	})
	joined := strings.Join(profiles, " ")
	if !strings.Contains(joined, "NO_COLOR=1=Ascii") || !strings.Contains(joined, "COLORTERM=truecolor=TrueColor") {
		t.Fatalf("profiles = %v; want Ascii with NO_COLOR and TrueColor with COLORTERM=truecolor", profiles)
	}
}

func TestConsoleOSC52ReachesClient(t *testing.T) {
	h := newHarness(t, nil)
	tm := newTmux(t)
	raw := filepath.Join(t.TempDir(), "raw.out")
	tm.Start("c", 80, 24, "env TERM=xterm-256color ssh -tt "+testkit.ShellQuote(h.sshArgs(h.alice, nil)...)+"; sleep 60")
	tm.PipePane("c", raw)
	tm.WaitFor("c", "TEST CONSOLE")
	tm.Send("c", "c")
	// OSC 52 with "copied-text" in base64.
	want := "\x1b]52;c;Y29waWVkLXRleHQ="
	waitFor(t, "the OSC 52 sequence in the pane's raw output", func() bool {
		b, _ := os.ReadFile(raw)
		return strings.Contains(string(b), want)
	})
}

func TestMaxSessions(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxSessions = 1 })
	// The first session holds the only slot until its stdin closes.
	first := exec.Command("ssh", h.sshArgs(h.alice, nil, "cat")...)
	stdin, err := first.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first session", func() bool { return len(h.commandCalls()) == 1 })

	r := h.run(h.alice, nil, "", "echo", "second")
	if r.code != 1 || !strings.Contains(r.stderr, "tmaps: too many sessions (max 1); try again later") {
		t.Fatalf("second session: exit %d, stderr %q", r.code, r.stderr)
	}
	if len(h.commandCalls()) != 1 {
		t.Fatal("the refused session ran its command")
	}
	if !strings.Contains(h.logs.String(), "too many sessions") {
		t.Errorf("the refusal is not logged:\n%s", h.logs.String())
	}
	io.WriteString(stdin, "bye\n")
	stdin.Close()
	if err := first.Wait(); err != nil {
		t.Fatalf("first session: %v", err)
	}
	// The slot is free again.
	if r := h.run(h.alice, nil, "", "echo", "third"); r.code != 0 {
		t.Fatalf("third session: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestIdleTimeoutCommand(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.IdleTimeout = 2 * time.Second })
	// An active session is not cut: input keeps it alive past the timeout.
	busy := exec.Command("ssh", h.sshArgs(h.alice, nil, "cat")...)
	stdin, _ := busy.StdinPipe()
	var out strings.Builder
	busy.Stdout = &out
	if err := busy.Start(); err != nil {
		t.Fatal(err)
	}
	const ticks = 12
	for i := 0; i < ticks; i++ {
		io.WriteString(stdin, "tick\n")
		time.Sleep(300 * time.Millisecond)
	}
	stdin.Close()
	if err := busy.Wait(); err != nil {
		t.Fatalf("busy session ended with %v (output %q)", err, out.String())
	}
	if strings.Count(out.String(), "tick") != ticks {
		t.Fatalf("busy session output %q", out.String())
	}

	// A session waiting on input with nothing coming is ended with a message.
	idle := exec.Command("ssh", h.sshArgs(h.alice, nil, "cat")...)
	idleIn, _ := idle.StdinPipe()
	defer idleIn.Close()
	var errb strings.Builder
	idle.Stderr = &errb
	began := time.Now()
	err := idle.Run()
	var ee *exec.ExitError
	if !errorsAs(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("idle session: %v, want exit status 1", err)
	}
	if !strings.Contains(errb.String(), "tmaps: idle for 2s, disconnecting") {
		t.Fatalf("idle session stderr %q", errb.String())
	}
	if d := time.Since(began); d < 2*time.Second {
		t.Fatalf("idle session ended after %s, before the 2s timeout", d)
	}
	waitFor(t, "the idle end in the log", func() bool { return strings.Contains(h.logs.String(), "reason=idle") })
}

func TestIdleTimeoutConsole(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.IdleTimeout = time.Second })
	tm := newTmux(t)
	tm.Start("c", 80, 24, "env TERM=xterm-256color ssh -tt "+testkit.ShellQuote(h.sshArgs(h.alice, nil)...)+"; echo SSH-EXIT=$?; sleep 60")
	screen := tm.WaitFor("c", "SSH-EXIT=1")
	if !strings.Contains(screen, "tmaps: idle for 1s, disconnecting") {
		t.Fatalf("screen after the idle timeout:\n%s", screen)
	}
	models := h.consoleModels()
	if len(models) != 1 || !models[0].isClosed() {
		t.Fatalf("%d consoles; want one, closed at the end", len(models))
	}
}

func TestAuthorizedKeysReread(t *testing.T) {
	h := newHarness(t, nil)
	if r := h.run(h.mallory, nil, "", "echo", "x"); r.code != 255 {
		t.Fatalf("mallory before being added: exit %d", r.code)
	}
	h.writeAuthorized(h.alice.pub, h.mallory.pub)
	if r := h.run(h.mallory, nil, "", "echo", "x"); r.code != 0 {
		t.Fatalf("mallory after being added: exit %d, stderr %q", r.code, r.stderr)
	}
	// Replace the file (as editors do) without alice.
	tmp := h.authKeys + ".new"
	if err := os.WriteFile(tmp, []byte("# only mallory now\n"+h.mallory.pub+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, h.authKeys); err != nil {
		t.Fatal(err)
	}
	if r := h.run(h.alice, nil, "", "echo", "x"); r.code != 255 {
		t.Fatalf("alice after removal: exit %d", r.code)
	}
	// A file that others may write is refused as a whole.
	if err := os.Chmod(h.authKeys, 0o666); err != nil {
		t.Fatal(err)
	}
	if r := h.run(h.mallory, nil, "", "echo", "x"); r.code != 255 {
		t.Fatalf("mallory with a world-writable file: exit %d", r.code)
	}
	if !strings.Contains(h.logs.String(), "writable by group or others") {
		t.Errorf("the bad mode is not logged:\n%s", h.logs.String())
	}
}

func TestShutdownEndsSessionsWithMessage(t *testing.T) {
	h := newHarness(t, nil)
	cmd := exec.Command("ssh", h.sshArgs(h.alice, nil, "block")...)
	var errb strings.Builder
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the session", func() bool { return len(h.commandCalls()) == 1 })
	ctxDone := make(chan error, 1)
	go func() { ctxDone <- cmd.Wait() }()
	if err := shutdownWithin(h.srv, 5*time.Second); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case <-ctxDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the client did not end after Shutdown")
	}
	if !strings.Contains(errb.String(), "tmaps: the server is shutting down") {
		t.Fatalf("client stderr %q", errb.String())
	}
}

func TestRemovedKeyEndsItsSessions(t *testing.T) {
	h := newHarness(t, nil)
	h.writeAuthorized(h.alice.pub, h.mallory.pub)
	start := func(key clientKey) (*exec.Cmd, *strings.Builder, chan error) {
		cmd := exec.Command("ssh", h.sshArgs(key, nil, "block")...)
		var errb strings.Builder
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		return cmd, &errb, done
	}
	_, _, aliceDone := start(h.alice)
	_, malloryErr, malloryDone := start(h.mallory)
	waitFor(t, "both sessions", func() bool { return len(h.commandCalls()) == 2 })

	h.writeAuthorized(h.alice.pub)
	select {
	case err := <-malloryDone:
		var ee *exec.ExitError
		if !errorsAs(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("mallory's session ended with %v, want exit status 1", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the session of the removed key is still open")
	}
	if !strings.Contains(malloryErr.String(), "tmaps: your key is no longer authorized; disconnecting") {
		t.Fatalf("mallory's stderr %q", malloryErr.String())
	}
	select {
	case err := <-aliceDone:
		t.Fatalf("alice's session ended too (%v)", err)
	case <-time.After(500 * time.Millisecond):
	}
}
