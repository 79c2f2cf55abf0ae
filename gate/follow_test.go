package gate

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// followStore is a store.Follower driven by the test: it serves a load of
// keys at a revision and delivers the changes the test sends.
type followStore struct {
	store.Store // methods the gate never calls panic

	mu      sync.Mutex
	keys    []model.Key
	rev     int64
	loadErr error
	loads   int
	ch      chan store.Change
	used    uint64 // allowed requests Usage reports for every key
}

func newFollowStore(keys ...model.Key) *followStore {
	return &followStore{keys: keys, rev: 10, ch: make(chan store.Change, 64)}
}

func (f *followStore) KeysRevision(context.Context) ([]model.Key, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loads++
	if f.loadErr != nil {
		return nil, 0, f.loadErr
	}
	return append([]model.Key(nil), f.keys...), f.rev, nil
}

func (f *followStore) Follow(context.Context) (<-chan store.Change, error) { return f.ch, nil }

func (f *followStore) RecordUsage(context.Context, []store.UsageDelta) error { return nil }

func (f *followStore) Usage(_ context.Context, q store.UsageQuery) ([]store.UsageBucket, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.used == 0 {
		return nil, nil
	}
	return []store.UsageBucket{{Hour: q.Since, Allowed: f.used}}, nil
}

func followKey(name, secret string, domains ...string) model.Key {
	return model.Key{ID: "k" + name, Name: name, Digest: model.DigestOf(secret), Status: model.Active, Domains: domains}
}

// authorize asks g's handler about a request with secret and origin.
func authorize(g *Gate, secret, origin string) (int, string) {
	r := httptest.NewRequest("GET", "/v1/authorize?api_key="+secret, nil)
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	w := httptest.NewRecorder()
	g.AuthorizeHandler().ServeHTTP(w, r)
	return w.Code, strings.TrimSpace(w.Body.String())
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// A change of several keys in one revision is applied whole: the first
// key's change does not make the gate skip the others (seen: a domain
// delete unlinked three keys, the gate applied one).
func TestFollowAppliesEveryKeyOfARevision(t *testing.T) {
	a, b, c := model.NewSecret(), model.NewSecret(), model.NewSecret()
	src := newFollowStore(followKey("a", a, "mysite.tn"), followKey("b", b, "mysite.tn"), followKey("c", c, "mysite.tn"))
	g, err := New(t.Context(), src, Options{AllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the load", func() bool { return g.Applied() == 10 })
	for _, s := range []string{a, b, c} {
		if st, _ := authorize(g, s, "https://mysite.tn"); st != http.StatusNoContent {
			t.Fatalf("before: %d", st)
		}
	}
	// One revision (a domain delete) unlinks all three keys.
	for i, name := range []string{"a", "b", "c"} {
		k := followKey(name, []string{a, b, c}[i])
		src.ch <- store.Change{Kind: store.ChangeKey, Rev: 11, ID: k.ID, Key: &k, RevEnd: i == 2}
	}
	waitFor(t, "revision 11", func() bool { return g.Applied() == 11 })
	for _, s := range []string{a, b, c} {
		if st, body := authorize(g, s, "https://evil.com"); st != http.StatusNoContent {
			t.Fatalf("after the unlink of every domain: %d %s, want 204 (unrestricted)", st, body)
		}
	}
	// A change at or below the load's revision is already in the index.
	old := followKey("a", a, "mysite.tn")
	src.ch <- store.Change{Kind: store.ChangeKey, Rev: 9, ID: old.ID, Key: &old, RevEnd: true}
	src.ch <- store.Change{Kind: store.ChangeProgress, Rev: 12, At: time.Now()}
	waitFor(t, "revision 12", func() bool { return g.Applied() == 12 })
	if st, _ := authorize(g, a, "https://evil.com"); st != http.StatusNoContent {
		t.Fatalf("a change older than the load was applied: %d", st)
	}
}

// A resync reloads every key; a never-loaded gate answers 503 gate not
// ready; a gate not proven current for MaxStaleness answers 503 gate stale
// and decides again once a progress mark proves it current.
func TestFollowFreshness(t *testing.T) {
	s1 := model.NewSecret()
	src := newFollowStore(followKey("a", s1))
	src.loadErr = errors.New("no quorum")
	now := time.Now()
	var clock sync.Mutex
	g, err := New(t.Context(), src, Options{AllowHTTP: true, MaxStaleness: time.Minute, Now: func() time.Time {
		clock.Lock()
		defer clock.Unlock()
		return now
	}})
	if err != nil {
		t.Fatalf("a gate over an unreachable store must start: %v", err)
	}
	if st, body := authorize(g, s1, ""); st != http.StatusServiceUnavailable || body != `{"error":"gate not ready"}` {
		t.Fatalf("never loaded: %d %s", st, body)
	}
	if fs, _ := g.Following(); fs.State != FollowNotLoaded {
		t.Fatalf("state %q", fs.State)
	}
	wantMetrics(t, g, "tmaps_gate_staleness_seconds -1", "tmaps_gate_stale_refusals_total 1")
	// (the waits below count more refusals: the test reads its count at the end)
	src.mu.Lock()
	src.loadErr = nil
	src.mu.Unlock()
	waitFor(t, "the first load", func() bool { st, _ := authorize(g, s1, ""); return st == http.StatusNoContent })

	// Lost changes: the key was revoked meanwhile; a resync reloads it.
	src.mu.Lock()
	src.keys[0].Status = model.Revoked
	src.rev = 20
	src.mu.Unlock()
	src.ch <- store.Change{Kind: store.ChangeResync}
	waitFor(t, "the reload", func() bool { st, _ := authorize(g, s1, ""); return st == http.StatusUnauthorized })

	// Staleness, by the gate's clock.
	clock.Lock()
	now = now.Add(2 * time.Minute)
	clock.Unlock()
	if st, body := authorize(g, s1, ""); st != http.StatusServiceUnavailable || body != `{"error":"gate stale"}` {
		t.Fatalf("stale: %d %s", st, body)
	}
	src.ch <- store.Change{Kind: store.ChangeProgress, Rev: 21, At: now}
	waitFor(t, "the proof", func() bool { st, _ := authorize(g, s1, ""); return st == http.StatusUnauthorized })
	wantMetrics(t, g, "tmaps_gate_store_revision 21", "tmaps_gate_staleness_seconds 0", "tmaps_gate_max_staleness_seconds 60",
		"tmaps_gate_full_reloads_total 2")
}

// wantMetrics checks that g's /metrics text holds each line of want.
func wantMetrics(t *testing.T, g *Gate, want ...string) {
	t.Helper()
	var b strings.Builder
	if err := g.WriteMetrics(&b); err != nil {
		t.Fatal(err)
	}
	lines := "\n" + b.String()
	for _, w := range want {
		if !strings.Contains(lines, "\n"+w+"\n") {
			t.Errorf("metrics lack %q:\n%s", w, grepLines(b.String(), "tmaps_gate_s", "tmaps_gate_full", "tmaps_gate_max"))
		}
	}
}

func grepLines(s string, prefixes ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				out = append(out, l)
			}
		}
	}
	return strings.Join(out, "\n")
}

// A quota that reaches a following gate through the watch counts the
// month's usage in the store from its first decision (seen: the follower
// indexed the quota with no base, so a key over its quota was let through).
func TestFollowNewQuotaCountsStoredUsage(t *testing.T) {
	s1 := model.NewSecret()
	src := newFollowStore(followKey("a", s1))
	src.used = 50
	g, err := New(t.Context(), src, Options{AllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first load", func() bool { st, _ := authorize(g, s1, ""); return st == http.StatusNoContent })
	k := followKey("a", s1)
	k.Quota = 50
	src.ch <- store.Change{Kind: store.ChangeKey, ID: k.ID, Key: &k, Rev: 11, RevEnd: true}
	waitFor(t, "the change", func() bool { return g.Applied() == 11 })
	// nginx's auth_request knows 401 and 403 only: a 429 is a 403 with
	// the status in a header, and its body.
	if st, body := authorize(g, s1, ""); st != http.StatusForbidden || !strings.Contains(body, model.ErrMsgQuota) {
		t.Fatalf("a quota of 50 with 50 used in the store: %d %s", st, body)
	}
}

// BenchmarkAuthorizeHandlerFollowing is BenchmarkAuthorizeHandler on a gate
// that follows a shared store (etcd): the same index, plus the freshness
// check of each request.
func BenchmarkAuthorizeHandlerFollowing(b *testing.B) {
	secret := model.NewSecret()
	src := newFollowStore(followKey("hot", secret, "example.tn", "mysite.tn", "localhost"))
	g, err := New(b.Context(), src, Options{AllowHTTP: true})
	if err != nil {
		b.Fatal(err)
	}
	for g.Applied() != 10 {
		time.Sleep(time.Millisecond)
	}
	r := httptest.NewRequest(http.MethodGet, "/v1/authorize", nil)
	r.Header.Set(HeaderOriginalURI, "/v1/tiles/9/271/190.png?style=streets&api_key="+secret)
	r.Header.Set("Origin", "https://mysite.tn")
	h := g.AuthorizeHandler()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNoContent {
		b.Fatalf("decision %d %s", w.Code, w.Body)
	}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.Header())
		h.ServeHTTP(w, r)
	}
}
