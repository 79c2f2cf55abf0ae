package cluster

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tmaps/console/alert"
	"github.com/tmaps/console/internal/etcdtest"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/etcd"
)

// leads reports n's "leader" field in /readyz.
func leads(t testing.TB, n *node) bool {
	t.Helper()
	resp, err := client.Get(n.url + "/readyz")
	if err != nil {
		t.Fatalf("readyz on %s: %v", n.name, err)
	}
	defer resp.Body.Close()
	var body struct{ Leader *bool }
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &body); err != nil || body.Leader == nil {
		t.Fatalf("readyz on %s: %v: %s, want a leader field", n.name, err, b)
	}
	return *body.Leader
}

// oneLeader waits until exactly one of nodes leads and returns it; two
// leaders at once fail the test.
func oneLeader(t *testing.T, d time.Duration, nodes ...*node) *node {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		var l []*node
		for _, n := range nodes {
			if leads(t, n) {
				l = append(l, n)
			}
		}
		if len(l) > 1 {
			t.Fatalf("%s and %s lead at once", l[0].name, l[1].name)
		}
		if len(l) == 1 {
			return l[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no node leads after %v", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Usage maintenance and alerts run on the elected node only: one node
// rolls old usage up and sends the alerts; SIGKILL it, and the other takes
// over within the lease (2 s here), rolls up what is left, and sends the
// next alerts; no alert reaches the webhook twice.
func TestElectedNodeMaintainsAndAlerts(t *testing.T) {
	e := newEnv(t, etcdtest.Shared(t).Endpoints)
	var mu sync.Mutex
	got := map[string]int{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Header.Get(alert.IDHeader)]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	received := func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]int{}
		for k, v := range got {
			out[k] = v
		}
		return out
	}
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Old usage written as a third node would have: 40 days ago, before
	// the nodes start, and 41 days ago once the leader is killed.
	seed, err := etcd.Open(context.Background(), etcd.Options{Endpoints: e.endpoints, Prefix: e.prefix, Node: "seed"})
	if err != nil {
		t.Fatal(err)
	}
	defer seed.Close()
	k, _, err := seed.CreateKey(context.Background(), "traffic", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Truncate(24 * time.Hour)
	record := func(daysAgo int) {
		t.Helper()
		if err := seed.RecordUsage(context.Background(), []store.UsageDelta{{KeyID: k.ID, Hour: day.Add(time.Duration(-daysAgo*24+5) * time.Hour), Allowed: 9}}); err != nil {
			t.Fatal(err)
		}
	}
	record(40)
	rolled := func(n *node) int { return strings.Count(n.stderr.String(), "usage maintained") }

	flags := []string{"--leader-ttl", "2s", "--alert-webhook", hook.URL, "--alert-secret-file", secret, "--alert-retry", "200ms"}
	a := e.start(t, "A", flags...)
	b := e.start(t, "B", flags...)
	leader := oneLeader(t, 10*time.Second, a, b)
	other := b
	if leader == b {
		other = a
	}
	waitUntil(t, 10*time.Second, "usage maintenance on the leader", func() bool { return rolled(leader) == 1 })
	if !dailyUsage(t, seed, k.ID, day.Add(-40*24*time.Hour)) {
		t.Fatal("the leader's maintenance did not roll up the old day")
	}
	// Alerts: a disabled key is one alert, sent once, by the leader.
	id1, _ := e.createKey(t, other, "first")
	e.must(t, other, http.StatusOK, "POST", "/v1/keys/"+id1+"/disable", nil)
	waitUntil(t, 10*time.Second, "the first alert at the webhook", func() bool { return len(received()) == 1 })
	if rolled(other) != 0 {
		t.Fatalf("node %s maintained usage while %s leads:\n%s", other.name, leader.name, other.stderr.String())
	}

	// Kill the leader once it has recorded the delivery (killed between
	// the webhook's answer and that write, it would be sent again: at
	// least once, docs/alerts.md).
	waitUntil(t, 10*time.Second, "the first delivery recorded", func() bool {
		as, err := seed.Alerts(context.Background(), store.AlertQuery{})
		if err != nil {
			t.Fatal(err)
		}
		return len(as) == 1 && len(as[0].Deliveries) == 1 && !as[0].Deliveries[0].Delivered.IsZero()
	})
	leader.kill()
	start := time.Now()
	// Recorded while no node can be elected yet (the dead leader's lease
	// runs for up to 2 s): the next leader's first run rolls it up.
	record(41)
	oneLeader(t, 10*time.Second, other)
	t.Logf("%s took over %v after %s was killed (lease 2 s)", other.name, time.Since(start).Round(time.Millisecond), leader.name)
	// The new leader maintains at once.
	waitUntil(t, 10*time.Second, "the new leader's maintenance", func() bool { return rolled(other) == 1 })
	if !dailyUsage(t, seed, k.ID, day.Add(-41*24*time.Hour)) {
		t.Fatal("the day recorded at the kill is not rolled up by the new leader")
	}
	if rolled(leader) != 1 {
		t.Fatalf("node %s maintained usage %d times; want once (at its election)", leader.name, rolled(leader))
	}
	id2, _ := e.createKey(t, other, "second")
	e.must(t, other, http.StatusOK, "POST", "/v1/keys/"+id2+"/disable", nil)
	waitUntil(t, 10*time.Second, "the second alert at the webhook", func() bool { return len(received()) == 2 })
	time.Sleep(time.Second) // room for a duplicate to arrive
	for id, n := range received() {
		if n != 1 {
			t.Fatalf("alert %s reached the webhook %d times", id, n)
		}
	}
}

// dailyUsage reports whether the key's usage of day is one daily bucket.
func dailyUsage(t testing.TB, s *etcd.Store, id string, day time.Time) bool {
	t.Helper()
	u, err := s.Usage(context.Background(), store.UsageQuery{KeyID: id, Since: day, Until: day.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return len(u) == 1 && u[0].Daily
}

// waitUntil polls cond every 20 ms for d.
func waitUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
