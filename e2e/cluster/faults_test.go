package cluster

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tmaps/console/internal/etcdtest"
)

// Quorum loss: one member down changes nothing; two down and writes answer
// 503 store unavailable with nothing half-written, the gate decides from
// its index (fail static, /readyz "stale") for --max-staleness and then
// answers 503 gate stale (/readyz "closed"); a node started meanwhile
// serves no decision; with the members back every node recovers without a
// restart.
func TestQuorumLoss(t *testing.T) {
	c := ownCluster(t, etcdtest.Options{})
	e := newEnv(t, c.Endpoints)
	const maxStale = 8 * time.Second
	a := e.start(t, "A", "--max-staleness", maxStale.String())
	e.must(t, a, http.StatusCreated, "POST", "/v1/domains", map[string]string{"name": "mysite.tn"})
	good, goodSecret := e.createKey(t, a, "good")
	e.must(t, a, http.StatusOK, "POST", "/v1/keys/"+good+"/link", map[string][]string{"domains": {"mysite.tn"}})
	_, revokedSecret := e.createKey(t, a, "gone")
	keys := func() int {
		var ks []json.RawMessage
		json.Unmarshal(e.must(t, a, http.StatusOK, "GET", "/v1/keys", nil), &ks)
		return len(ks)
	}
	revokeID := func() string {
		var ks []struct{ ID, Name string }
		json.Unmarshal(e.must(t, a, http.StatusOK, "GET", "/v1/keys", nil), &ks)
		for _, k := range ks {
			if k.Name == "gone" {
				return k.ID
			}
		}
		t.Fatal("no key gone")
		return ""
	}()
	e.must(t, a, http.StatusOK, "POST", "/v1/keys/"+revokeID+"/revoke", map[string]string{"confirm": "gone"})
	within(t, a, goodSecret, "https://mysite.tn", http.StatusNoContent, 5*time.Second)

	// One member of three down: everything works.
	c.Stop(0)
	e.createKey(t, a, "with two members")
	within(t, a, goodSecret, "https://mysite.tn", http.StatusNoContent, 5*time.Second)
	if st, s := readyz(t, a); st != http.StatusOK || s != "ready" {
		t.Fatalf("readyz with 2 of 3 members: %d %s", st, s)
	}
	before := keys()

	// Two down: no quorum.
	lost := time.Now() // the last proof of freshness is at most a progress period (1 s) older
	c.Stop(1)
	st, body := e.api(t, a, "POST", "/v1/keys", map[string]string{"name": "no quorum"})
	if st != http.StatusServiceUnavailable || !strings.Contains(string(body), `"error":"store unavailable"`) {
		t.Fatalf("a write without quorum: %d %s, want 503 store unavailable", st, body)
	}
	// Fail static: the gate still decides from its index.
	if st, b := decide(t, a, goodSecret, "https://mysite.tn"); st != http.StatusNoContent {
		t.Fatalf("fail static: the linked key got %d %s", st, b)
	}
	if st, b := decide(t, a, goodSecret, "https://evil.com"); st != http.StatusForbidden {
		t.Fatalf("fail static: a foreign origin got %d %s", st, b)
	}
	if st, b := decide(t, a, revokedSecret, ""); st != http.StatusUnauthorized || !strings.Contains(b, "revoked") {
		t.Fatalf("fail static: the revoked key got %d %s", st, b)
	}
	waitReady(t, a, http.StatusOK, "stale", 10*time.Second)
	// A node that never loaded serves no decision.
	fresh := e.start(t, "C", "--max-staleness", maxStale.String())
	if st, b := decide(t, fresh, goodSecret, "https://mysite.tn"); st != http.StatusServiceUnavailable || b != `{"error":"gate not ready"}` {
		t.Fatalf("a node that never loaded: %d %s, want 503 gate not ready", st, b)
	}
	if st, s := readyz(t, fresh); st != http.StatusServiceUnavailable || s != "not ready" {
		t.Fatalf("readyz of a node that never loaded: %d %s", st, s)
	}
	// Past --max-staleness: fail closed.
	waitDecision(t, a, goodSecret, http.StatusServiceUnavailable, 3*maxStale)
	if since := time.Since(lost); since < maxStale-1500*time.Millisecond {
		t.Fatalf("the gate closed %v after the quorum was lost, before --max-staleness %v", since, maxStale)
	}
	if _, b := decide(t, a, goodSecret, "https://mysite.tn"); b != `{"error":"gate stale"}` {
		t.Fatalf("a stale gate answers %s, want {\"error\":\"gate stale\"}", b)
	}
	waitReady(t, a, http.StatusServiceUnavailable, "closed", 10*time.Second)

	// Members back: caught up without restarting tmaps.
	if err := c.Restart(0, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(1, time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*node{a, fresh} {
		within(t, n, goodSecret, "https://mysite.tn", http.StatusNoContent, 30*time.Second)
		within(t, n, revokedSecret, "", http.StatusUnauthorized, 5*time.Second)
		waitReady(t, n, http.StatusOK, "ready", 30*time.Second)
	}
	if n := keys(); n != before {
		t.Fatalf("%d keys after the outage, %d before: the refused write left something", n, before)
	}
	e.createKey(t, fresh, "after the outage")
}

// waitReady polls /readyz until it answers code and status.
func waitReady(t *testing.T, n *node, code int, status string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		c, s := readyz(t, n)
		if c == code && s == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz of %s: %d %s after %v, want %d %s", n.name, c, s, d, code, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitDecision polls n's gate until it answers code.
func waitDecision(t *testing.T, n *node, secret string, code int, d time.Duration) time.Duration {
	t.Helper()
	return within(t, n, secret, "https://mysite.tn", code, d)
}

// Compacting etcd's history while a node is cut off: the node reloads every
// key when it comes back and misses no revoke.
func TestCompactionWhileDisconnected(t *testing.T) {
	c := ownCluster(t, etcdtest.Options{})
	proxy, err := etcdtest.NewProxy(c.Endpoints[0])
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	e := newEnv(t, c.Endpoints)
	a := e.start(t, "A")
	cut := &env{bin: e.bin, endpoints: []string{proxy.URL()}, prefix: e.prefix, home: t.TempDir(), token: e.token}
	b := cut.start(t, "B")
	id, secret := e.createKey(t, a, "doomed")
	within(t, b, secret, "", http.StatusNoContent, 5*time.Second)
	reloads := e.metric(t, b, "tmaps_gate_full_reloads_total")

	proxy.Block()
	e.must(t, a, http.StatusOK, "POST", "/v1/keys/"+id+"/revoke", map[string]string{"confirm": "doomed"})
	for i := range 5 {
		e.createKey(t, a, fmt.Sprint("later ", i))
	}
	if _, err := c.Compact(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Cut off, B still decides from its index (fail static).
	if st, _ := decide(t, b, secret, ""); st != http.StatusNoContent {
		t.Fatalf("the cut-off node answers %d before it is back", st)
	}
	proxy.Unblock()
	within(t, b, secret, "", http.StatusUnauthorized, 30*time.Second)
	if got := e.metric(t, b, "tmaps_gate_full_reloads_total"); got <= reloads {
		t.Fatalf("full reloads %v → %v: the node did not reload after the compaction", reloads, got)
	}
}

// SIGKILL of a node while it takes writes: every write it acknowledged is
// in the store.
func TestKillNodeDuringWrites(t *testing.T) {
	e := newEnv(t, etcdtest.Shared(t).Endpoints)
	a := e.start(t, "A")
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("w%d-%d", w, i)
				req, _ := http.NewRequest("POST", a.url+"/v1/domains", strings.NewReader(fmt.Sprintf(`{"name":"%s.tn"}`, name)))
				req.Header.Set("Authorization", "Bearer "+e.token)
				resp, err := client.Do(req)
				if err != nil {
					return // the node is gone
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusCreated {
					mu.Lock()
					acked = append(acked, name+".tn")
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	a.kill()
	close(stop)
	wg.Wait()
	if len(acked) < 5 {
		t.Fatalf("only %d writes acknowledged before the kill", len(acked))
	}
	b := e.start(t, "B")
	var doms []struct{ Name string }
	json.Unmarshal(e.must(t, b, http.StatusOK, "GET", "/v1/domains", nil), &doms)
	have := map[string]bool{}
	for _, d := range doms {
		have[d.Name] = true
	}
	for _, name := range acked {
		if !have[name] {
			t.Fatalf("acknowledged domain %s is missing after the kill (%d acknowledged, %d stored)", name, len(acked), len(doms))
		}
	}
	t.Logf("%d writes acknowledged before SIGKILL, all present", len(acked))
}
