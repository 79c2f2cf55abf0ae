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

func TestUsageConsoleInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is needed by this test: apt-get install -y tmux (make test installs it)")
	}
	bin := testkit.Binary(t)
	tm := testkit.NewTmux(t)
	tm.Timeout = 20 * time.Second
	tm.Start("u", 120, 40, "env", "NO_COLOR=1", "TERM=xterm-256color", "HOME="+t.TempDir(), bin, "--demo")
	scr := tm.WaitFor("u", "API Keys", "▲ Production frontend")
	if n := strings.Count(scr, "▲"); n != 1 {
		t.Fatalf("%d spike marks on the keys list, want 1:\n%s", n, scr)
	}
	// Usage page: the spiking key is first; open it.
	tm.Send("u", "3")
	tm.WaitFor("u", "Usage · all keys", "Last 24 hours", "▲ Production frontend")
	tm.Send("u", "Enter")
	tm.WaitFor("u", "▲ SPIKE ×", "Refused hosts (403)")
	// Back, then the leaky key: find its row and open it.
	tm.Send("u", "Escape")
	tm.WaitFor("u", "Usage · all keys")
	for i := 0; i < 20 && !strings.Contains(tm.Capture("u"), "› Souk Digital storefront"); i++ {
		tm.Send("u", "Down")
		time.Sleep(50 * time.Millisecond)
	}
	tm.Send("u", "Enter")
	tm.WaitFor("u", "Usage · “Souk Digital storefront”", "souk-digital-clone.com")
	tm.Send("u", "a")
	tm.WaitFor("u", "Authorize souk-digital-clone.com?", "Add the authorized domain souk-digital-clone.com")
	tm.Send("u", "y")
	tm.WaitFor("u", "Authorized souk-digital-clone.com", "(now authorized)")
	// The domains page lists it, linked to one key.
	tm.Send("u", "2")
	tm.WaitFor("u", "souk-digital-clone.com")
	// The hygiene report lists the unrestricted key browsers use, with its
	// fix; the server's key without domains is not a finding.
	tm.Send("u", "4")
	tm.WaitFor("u", "Audit log", "amira.benali")
	tm.Send("u", "Right")
	scr = tm.WaitFor("u", "Unrestricted", "Summer promo landing", "link a domain")
	if strings.Contains(scr, "Unrestricted      Souk Digital storefront") || strings.Contains(scr, "Server-to-server geocoding") {
		t.Fatalf("a key with domains, or a server's key, is listed as unrestricted:\n%s", scr)
	}
	tm.Send("u", "q")
}
