package e2e

// End-to-end tests of issue 6 (usage, spikes, refused hosts, hygiene) with
// the real binary: traffic sent through the gate of a running `tmaps serve`
// shows in `tmaps --api URL usage --json` after a flush; and in tmux, the
// console on the demo store marks the spiking key, authorizes a refused host
// in one flow and reports the unrestricted key.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tmaps/console/internal/testkit"
)

// usageRun runs tmaps with env added; it fails the test on a non-zero exit.
func usageRun(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), "NO_COLOR=1"), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tmaps %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return string(out)
}

type usageOut struct {
	Totals struct {
		Allowed, Unauthorized, Forbidden, Total uint64
	} `json:"totals"`
	Refused []struct {
		Host  string `json:"host"`
		Count uint64 `json:"count"`
	} `json:"refused_hosts"`
	Matched []struct {
		Host   string `json:"host"`
		Count  uint64 `json:"count"`
		Last7d uint64 `json:"last_7d"`
	} `json:"matched_hosts"`
}

func TestUsageThroughServe(t *testing.T) {
	dir := t.TempDir()
	bin := testkit.Binary(t)
	db := filepath.Join(dir, "console.db")
	token := strings.TrimSpace(usageRun(t, bin, nil, "tokens", "create", "usage-e2e", "--db", db))

	cmd := exec.Command(bin, "serve", "--db", db, "--listen", "127.0.0.1:0", "--allow-http", "--flush-every", "300ms")
	cmd.Env = os.Environ()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
				ready <- u
			}
		}
	}()
	var url string
	select {
	case url = <-ready:
	case <-time.After(30 * time.Second):
		t.Fatalf("tmaps serve not ready:\n%s", stderr.String())
	}
	env := []string{"TMAPS_TOKEN=" + token}
	secret := strings.TrimSpace(usageRun(t, bin, env, "--api", url, "keys", "create", "--name", "web"))
	usageRun(t, bin, env, "--api", url, "domains", "add", "mysite.tn")
	usageRun(t, bin, env, "--api", url, "keys", "link", "web", "mysite.tn")

	send := func(key, origin string, want int) {
		t.Helper()
		req, _ := http.NewRequest("GET", url+"/v1/authorize?api_key="+key, nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != want/100 {
			t.Fatalf("gate with origin %q: %d, want %d", origin, resp.StatusCode, want)
		}
	}
	for i := 0; i < 3; i++ {
		send(secret, "https://mysite.tn", 200)
	}
	send(secret, "https://evil.example", 403)
	send(secret, "https://evil.example:8443", 403)
	send("ak_00000000000000000000000000000000", "", 401)

	// After a flush (300 ms), the key's usage shows every decision.
	var u usageOut
	deadline := time.Now().Add(15 * time.Second)
	for {
		out := usageRun(t, bin, env, "--api", url, "usage", "web", "--since", "24h", "--json")
		if err := json.Unmarshal([]byte(out), &u); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if u.Totals.Total >= 5 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if u.Totals.Allowed != 3 || u.Totals.Forbidden != 2 || u.Totals.Unauthorized != 0 {
		t.Fatalf("usage of the key over the API: %+v\n%s", u.Totals, stderr.String())
	}
	if len(u.Refused) != 1 || u.Refused[0].Host != "evil.example" || u.Refused[0].Count != 2 {
		t.Fatalf("refused hosts: %+v", u.Refused)
	}
	if len(u.Matched) != 1 || u.Matched[0].Host != "mysite.tn" || u.Matched[0].Count != 3 || u.Matched[0].Last7d != 3 {
		t.Fatalf("matched hosts (the link's use): %+v", u.Matched)
	}
	// The total counts the unknown key's 401 too.
	var total usageOut
	out := usageRun(t, bin, env, "--api", url, "usage", "--since", "24h", "--json")
	if err := json.Unmarshal([]byte(out), &total); err != nil {
		t.Fatal(err)
	}
	if total.Totals.Allowed != 3 || total.Totals.Forbidden != 2 || total.Totals.Unauthorized != 1 {
		t.Fatalf("total usage over the API: %+v", total.Totals)
	}
	// Hygiene over the API: the key has a domain, so it is not
	// unrestricted, and its link matched requests, so it is not stale.
	out = usageRun(t, bin, env, "--api", url, "hygiene", "--json")
	if strings.Contains(out, `"unrestricted"`) || strings.Contains(out, `"stale_link"`) || !strings.Contains(out, `"links_checked": true`) {
		t.Fatalf("hygiene over the API:\n%s", out)
	}
}

// tmuxSession runs the binary in a detached tmux session of w×h cells.
type tmuxSession struct {
	t    *testing.T
	name string
}

func newTmux(t *testing.T, w, h int, argv ...string) *tmuxSession {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is needed by this test: apt-get install -y tmux (make test installs it)")
	}
	s := &tmuxSession{t: t, name: "tmaps-usage-" + filepath.Base(t.TempDir())}
	args := append([]string{"new-session", "-d", "-s", s.name, "-x", itoa(w), "-y", itoa(h),
		"env", "NO_COLOR=1", "TERM=xterm-256color", "HOME=" + t.TempDir()}, argv...)
	if out, err := exec.Command("tmux", args...).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "kill-session", "-t", s.name).Run() })
	return s
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func (s *tmuxSession) send(keys ...string) {
	s.t.Helper()
	if out, err := exec.Command("tmux", append([]string{"send-keys", "-t", s.name}, keys...)...).CombinedOutput(); err != nil {
		s.t.Fatalf("tmux send-keys %v: %v\n%s", keys, err, out)
	}
}

func (s *tmuxSession) capture() string {
	out, _ := exec.Command("tmux", "capture-pane", "-p", "-t", s.name).Output()
	return string(out)
}

// waitFor waits until the pane shows every part.
func (s *tmuxSession) waitFor(parts ...string) string {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		scr := s.capture()
		ok := true
		for _, p := range parts {
			if !strings.Contains(scr, p) {
				ok = false
			}
		}
		if ok {
			return scr
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the screen never showed %q:\n%s", parts, scr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestUsageConsoleInTmux(t *testing.T) {
	bin := testkit.Binary(t)
	s := newTmux(t, 120, 40, bin, "--demo")
	scr := s.waitFor("API Keys", "▲ Production frontend")
	if n := strings.Count(scr, "▲"); n != 1 {
		t.Fatalf("%d spike marks on the keys list, want 1:\n%s", n, scr)
	}
	// Usage page: the spiking key is first; open it.
	s.send("3")
	s.waitFor("Usage · all keys", "Last 24 hours", "▲ Production frontend")
	s.send("Enter")
	s.waitFor("▲ SPIKE ×", "Refused hosts (403)")
	// Back, then the leaky key: find its row and open it.
	s.send("Escape")
	s.waitFor("Usage · all keys")
	for i := 0; i < 20 && !strings.Contains(s.capture(), "› Souk Digital storefront"); i++ {
		s.send("Down")
		time.Sleep(50 * time.Millisecond)
	}
	s.send("Enter")
	s.waitFor("Usage · “Souk Digital storefront”", "souk-digital-clone.com")
	s.send("a")
	s.waitFor("Authorize souk-digital-clone.com?", "Add the authorized domain souk-digital-clone.com")
	s.send("y")
	s.waitFor("Authorized souk-digital-clone.com", "(now authorized)")
	// The domains page lists it, linked to one key.
	s.send("2")
	s.waitFor("souk-digital-clone.com")
	// The hygiene report lists the unrestricted key, with its fix.
	s.send("4")
	s.waitFor("Audit log", "amira.benali")
	s.send("Right")
	scr = s.waitFor("Unrestricted", "Server-to-server geocoding", "link a domain")
	if strings.Contains(scr, "Unrestricted      Souk Digital storefront") {
		t.Fatalf("the leaky key has domains:\n%s", scr)
	}
	s.send("q")
}
