package cluster

import (
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tmaps/console/internal/etcdtest"
	"github.com/tmaps/console/internal/testkit"
)

// The console on `tmaps --etcd` shows, live, a change made through a
// node's API: the watch of the cluster refreshes it.
func TestConsoleOnCluster(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is needed by this test: apt-get install -y tmux (make test installs it)")
	}
	e := newEnv(t, etcdtest.Shared(t).Endpoints)
	b := e.start(t, "B")
	id, _ := e.createKey(t, b, "Checkout web")
	tm := testkit.NewTmux(t)
	tm.Timeout = 30 * time.Second
	args := []string{"env"}
	for _, kv := range e.environ() {
		if strings.HasPrefix(kv, "TMAPS_") || strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "XDG_") {
			args = append(args, kv)
		}
	}
	args = append(args, "NO_COLOR=1", "TERM=xterm-256color", e.bin)
	tm.Start("c", 120, 30, args...)
	scr := tm.WaitFor("c", "API Keys", "Checkout web", "Active")
	if !strings.Contains(scr, "etcd") {
		t.Fatalf("the console does not say it runs on etcd:\n%s", scr)
	}
	// Through node B: disable the key, add a domain.
	e.must(t, b, http.StatusOK, "POST", "/v1/keys/"+id+"/disable", nil)
	e.must(t, b, http.StatusOK, "POST", "/v1/keys/"+id+"/rename", map[string]string{"name": "Checkout web (moved)"})
	tm.WaitFor("c", "Checkout web (moved)", "Disabled")
	e.must(t, b, http.StatusCreated, "POST", "/v1/domains", map[string]string{"name": "made-on-b.tn"})
	tm.Send("c", "2")
	tm.WaitFor("c", "made-on-b.tn")
	tm.Send("c", "q")
}
