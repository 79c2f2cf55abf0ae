// Command screenshots takes the README's pictures of the console (`make
// screenshots`): it runs `tmaps --demo` at a fixed TMAPS_DEMO_NOW in a
// private tmux server at 100×30 cells, drives it with send-keys to the keys
// list, the create dialog showing the new secret, a key's screen and the
// usage page, captures each screen with its colours (capture-pane -e) and
// writes it as SVG (internal/ansisvg). The same binary gives the same files.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tmaps/console/internal/ansisvg"
)

// Size of the screenshots, in cells, and the demo's fixed time.
const (
	cols, rows = 100, 30
	demoNow    = "2026-06-15T23:30:00Z"
)

// NewKeyName is the name of the key the create screenshot makes.
const NewKeyName = "Website (staging)"

// Shots are the files take writes, in order.
var Shots = []string{"keys.svg", "create-key.svg", "key.svg", "usage.svg"}

func main() {
	bin := flag.String("bin", "bin/tmaps", "the tmaps binary to run")
	out := flag.String("out", "docs/screenshots", "the directory to write the SVG files to")
	flag.Parse()
	if err := take(*bin, *out, 15*time.Second); err != nil {
		fmt.Fprintln(os.Stderr, "screenshots:", err)
		os.Exit(1)
	}
	fmt.Printf("screenshots: wrote %s to %s\n", strings.Join(Shots, ", "), *out)
}

// take runs bin and writes Shots to dir; each wait for a screen gives up
// after timeout.
func take(bin, dir string, timeout time.Duration) (err error) {
	if _, err := exec.LookPath("tmux"); err != nil {
		return errors.New("tmux is not installed (make deps installs it)")
	}
	bin, err = filepath.Abs(bin)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "tmaps-shots-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	tm := &tmux{sock: filepath.Join(tmp, "tmux.sock"), conf: filepath.Join(tmp, "tmux.conf"), timeout: timeout}
	// no status line: the console has every row; the console sees a
	// 256-colour terminal with truecolor
	if err := os.WriteFile(tm.conf, []byte("set -g status off\nset -g default-terminal tmux-256color\n"), 0o600); err != nil {
		return err
	}
	defer tm.run("kill-server")

	home := filepath.Join(tmp, "home")
	// A fresh HOME and no store settings: the demo's throw-away store is
	// the only one the console can reach, and TMAPS_DEMO_NOW fixes its
	// clock and secrets. TZ fixes the times it shows.
	command := []string{"env", "-u", "NO_COLOR", "-u", "DISPLAY", "-u", "WAYLAND_DISPLAY",
		"HOME=" + home, "XDG_RUNTIME_DIR=" + tmp, "XDG_DATA_HOME=" + home, "TZ=UTC", "LC_ALL=C.UTF-8",
		"COLORTERM=truecolor", "TMAPS_DB=", "TMAPS_API=", "TMAPS_TOKEN=", "TMAPS_DEMO_NOW=" + demoNow,
		bin, "--demo"}
	if _, err := tm.run(append([]string{"-u", "new-session", "-d", "-s", "shot",
		"-x", strconv.Itoa(cols), "-y", strconv.Itoa(rows)}, command...)...); err != nil {
		return err
	}
	shot := func(name, title string) error {
		screen, err := tm.stable()
		if err != nil {
			return err
		}
		img := ansisvg.Render(screen, ansisvg.Options{Cols: cols, Rows: rows, Title: title})
		return os.WriteFile(filepath.Join(dir, name), img, 0o644)
	}
	steps := []func() error{
		// 1. The keys list.
		func() error { return tm.waitFor("API Keys", "19 keys", "Production fron") },
		func() error { return shot(Shots[0], "tmaps console: the API keys list (demo data)") },
		// 2. The create dialog, then the new key's secret.
		func() error { return tm.send("n") },
		func() error { return tm.waitFor("Create API Key") },
		func() error { return tm.send("-l", NewKeyName) },
		func() error { return tm.waitFor("> " + NewKeyName) },
		func() error { return tm.send("Enter") },
		func() error { return tm.waitFor("will not be shown again") },
		func() error {
			return shot(Shots[1], "tmaps console: a new key's secret, shown once (a throw-away demo key)")
		},
		// closing without copying asks first
		func() error { return tm.send("Escape") },
		func() error { return tm.waitFor("Close without copying?") },
		func() error { return tm.send("y") },
		func() error {
			return tm.waitUntil("the keys list", func(s string) bool {
				return strings.Contains(s, "20 keys") && !strings.Contains(s, "API key created")
			})
		},
		// 3. A key's screen: the spiking key, below the new one.
		func() error { return tm.send("Down") },
		func() error { return tm.waitFor("› ▲ Production") },
		func() error { return tm.send("Enter") },
		func() error { return tm.waitFor("API Keys › Production frontend", "Authorized Domains (") },
		func() error { return shot(Shots[2], "tmaps console: a key's screen (demo data)") },
		// 4. The usage page.
		func() error { return tm.send("Escape") },
		func() error { return tm.waitFor("/ to filter") },
		func() error { return tm.send("3") },
		func() error { return tm.waitFor("Usage · all keys", "Keys used lately", "Last 30 days") },
		func() error { return shot(Shots[3], "tmaps console: usage of all keys (demo data)") },
		func() error { return tm.send("q") },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// tmux is a private tmux server (its own socket and configuration) with
// one session, "shot".
type tmux struct {
	sock, conf string
	timeout    time.Duration
}

func (tm *tmux) run(args ...string) (string, error) {
	cmd := exec.Command("tmux", append([]string{"-S", tm.sock, "-f", tm.conf}, args...)...)
	// run from inside tmux, make screenshots still starts its own server
	cmd.Env = slices.DeleteFunc(os.Environ(), func(v string) bool { return strings.HasPrefix(v, "TMUX=") })
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("tmux %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return string(out), nil
}

// send sends keys (tmux key names; "-l", text for literal text).
func (tm *tmux) send(keys ...string) error {
	_, err := tm.run(append([]string{"send-keys", "-t", "shot"}, keys...)...)
	return err
}

// capture returns the screen, with its colours when escapes is set.
func (tm *tmux) capture(escapes bool) (string, error) {
	args := []string{"capture-pane", "-p", "-N", "-t", "shot"}
	if escapes {
		args = append(args, "-e")
	}
	return tm.run(args...)
}

// waitFor waits until the screen shows every part.
func (tm *tmux) waitFor(parts ...string) error {
	return tm.waitUntil(fmt.Sprintf("%q", parts), func(s string) bool {
		for _, p := range parts {
			if !strings.Contains(s, p) {
				return false
			}
		}
		return true
	})
}

// waitUntil waits until cond holds for the screen, then fails with what
// and the last screen.
func (tm *tmux) waitUntil(what string, cond func(string) bool) error {
	deadline := time.Now().Add(tm.timeout)
	for {
		s, err := tm.capture(false)
		if err == nil && cond(s) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the console never showed %s within %v; it shows:\n%s%v", what, tm.timeout, s, errOrNil(err))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stable returns the screen with its colours once two captures 300 ms
// apart are the same (data still loading or a redraw in flight would
// otherwise make a picture of a passing moment).
func (tm *tmux) stable() (string, error) {
	deadline := time.Now().Add(tm.timeout)
	last, err := tm.capture(true)
	for err == nil {
		time.Sleep(300 * time.Millisecond)
		var s string
		if s, err = tm.capture(true); err == nil && s == last {
			return s, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("the screen kept changing for %v", tm.timeout)
		}
		last = s
	}
	return "", err
}

func errOrNil(err error) any {
	if err == nil {
		return ""
	}
	return err
}
