package sshd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/tmaps/console/internal/testkit"
)

// clientKey is a key pair made with ssh-keygen.
type clientKey struct {
	path        string // private key
	pub         string // authorized_keys line
	fingerprint string // SHA256:...
}

func newClientKey(t *testing.T, dir, name string) clientKey {
	t.Helper()
	path := filepath.Join(dir, name)
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name+"@test", "-f", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	pub, err := os.ReadFile(path + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	fp, err := exec.Command("ssh-keygen", "-l", "-E", "sha256", "-f", path+".pub").Output()
	if err != nil {
		t.Fatalf("ssh-keygen -l: %v", err)
	}
	fields := strings.Fields(string(fp))
	if len(fields) < 2 {
		t.Fatalf("ssh-keygen -l printed %q", fp)
	}
	return clientKey{path: path, pub: strings.TrimSpace(string(pub)), fingerprint: fields[1]}
}

// harness is a Server on 127.0.0.1 with a random port, an authorized key
// (alice) and a key that is not authorized (mallory).
type harness struct {
	t        *testing.T
	dir      string
	srv      *Server
	port     string
	authKeys string
	alice    clientKey
	mallory  clientKey
	logs     *testkit.SyncBuffer

	mu       sync.Mutex
	consoles []*testModel
	commands []commandCall
}

// commandCall records one call of Config.Command.
type commandCall struct {
	s    Session
	args []string
}

// newHarness starts a server; change cfg before start with edit.
func newHarness(t *testing.T, edit func(*Config)) *harness {
	t.Helper()
	testkit.NeedSSHTools(t, "ssh", "ssh-keygen")
	dir := t.TempDir()
	h := &harness{t: t, dir: dir, logs: &testkit.SyncBuffer{}}
	h.alice = newClientKey(t, dir, "alice")
	h.mallory = newClientKey(t, dir, "mallory")
	h.authKeys = filepath.Join(dir, "authorized_keys")
	h.writeAuthorized(h.alice.pub)
	cfg := Config{
		AuthorizedKeysFile: h.authKeys,
		HostKeyFile:        filepath.Join(dir, "host", "ssh_host_ed25519_key"),
		Logger:             slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Console: func(s Session) tea.Model {
			m := newTestModel(s)
			h.mu.Lock()
			h.consoles = append(h.consoles, m)
			h.mu.Unlock()
			return m
		},
		Command: h.command,
	}
	if edit != nil {
		edit(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.keyCheck = 100 * time.Millisecond
	h.srv = srv
	h.port = strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", h.logs.String())
		}
	})
	return h
}

func (h *harness) writeAuthorized(lines ...string) {
	h.t.Helper()
	data := strings.Join(lines, "\n") + "\n"
	if err := os.WriteFile(h.authKeys, []byte(data), 0o600); err != nil {
		h.t.Fatal(err)
	}
}

// command is the test Config.Command: "echo ARGS..." prints its args and
// the actor, "cat" copies stdin, "exit N" exits with N after writing to
// stderr, "block" waits until its context ends.
func (h *harness) command(ctx context.Context, s Session, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	h.mu.Lock()
	h.commands = append(h.commands, commandCall{s, append([]string(nil), args...)})
	h.mu.Unlock()
	switch args[0] {
	case "echo":
		fmt.Fprintf(stdout, "args=%q\nactor=%s\n", args[1:], s.Actor)
		return 0
	case "cat":
		if _, err := io.Copy(stdout, stdin); err != nil {
			return 1
		}
		return 0
	case "exit":
		n, _ := strconv.Atoi(args[1])
		fmt.Fprintf(stderr, "exiting with %d\n", n)
		return n
	case "block":
		<-ctx.Done()
		return 0
	}
	fmt.Fprintf(stderr, "unknown command %q\n", args[0])
	return 2
}

func (h *harness) commandCalls() []commandCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]commandCall(nil), h.commands...)
}

func (h *harness) consoleModels() []*testModel {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*testModel(nil), h.consoles...)
}

// sshArgs is the ssh command line for key, with extra options, running
// remote (nothing for a shell).
func (h *harness) sshArgs(key clientKey, extra []string, remote ...string) []string {
	args := []string{
		"-F", "/dev/null",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
		"-o", "ConnectTimeout=10",
		"-i", key.path, "-p", h.port, "-l", "alice",
	}
	if !containsPrefix(extra, "-v") {
		args = append(args, "-o", "LogLevel=ERROR")
	}
	args = append(args, extra...)
	args = append(args, "127.0.0.1")
	return append(args, remote...)
}

func containsPrefix(list []string, p string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// result is what one ssh run produced.
type result struct {
	stdout, stderr string
	code           int
}

// run runs ssh to completion with stdin.
func (h *harness) run(key clientKey, extra []string, stdin string, remote ...string) result {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ssh", h.sshArgs(key, extra, remote...)...)
	var out, errb bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		h.t.Fatalf("ssh: %v", err)
	}
	return result{out.String(), errb.String(), code}
}

// waitFor polls cond until it holds or 15 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// testModel is a small console: it shows who is logged in and the size it
// was given, records the sizes and colour profile it receives, copies
// "copied-text" with OSC 52 on "c" and quits on "q".
type testModel struct {
	s Session

	mu      sync.Mutex
	width   int
	height  int
	sizes   [][2]int
	profile string
	closed  bool
}

func newTestModel(s Session) *testModel { return &testModel{s: s} }

func (m *testModel) Init() tea.Cmd { return nil }

func (m *testModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.sizes = append(m.sizes, [2]int{msg.Width, msg.Height})
	case tea.ColorProfileMsg:
		m.profile = msg.Profile.String()
	case tea.KeyPressMsg:
		switch msg.String() {
		case "q":
			return m, tea.Quit
		case "c":
			return m, tea.SetClipboard("copied-text")
		}
	}
	return m, nil
}

func (m *testModel) View() tea.View {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := tea.NewView(fmt.Sprintf("TEST CONSOLE\nactor=%s\nsize=%dx%d\n", m.s.Actor, m.width, m.height))
	v.AltScreen = true
	return v
}

func (m *testModel) size() (int, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.width, m.height
}

func (m *testModel) colorProfile() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.profile
}

// newTmux is a private tmux server for one test; a screen is waited for up
// to 15s.
func newTmux(t *testing.T) *testkit.Tmux {
	t.Helper()
	testkit.NeedSSHTools(t, "tmux")
	tm := testkit.NewTmux(t)
	tm.Timeout = 15 * time.Second
	return tm
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func shutdownWithin(s *Server, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return s.Shutdown(ctx)
}

// Close records that the session closed the model.
func (m *testModel) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
}

func (m *testModel) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}
