package gate

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/tmaps/console/model"
)

// Benchmarks of the gate (issue 4, "Speed"); results and commands are in
// BENCHMARKS.md. Run: go test -run '^$' -bench . -benchmem ./gate

func hotKeyGate(b *testing.B, opt Options) (*Gate, *http.Request) {
	m := &memStore{}
	k, secret := memKey("khot", model.Active, "example.tn", "mysite.tn", "localhost")
	m.add(k)
	g := newMemGate(b, m, opt)
	r := httptest.NewRequest(http.MethodGet, "/v1/tiles/9/271/190.png?style=streets&api_key="+secret, nil)
	r.Header.Set("Origin", "https://mysite.tn")
	if d := g.Decide(r); d.Reason != model.ReasonOriginMatched {
		b.Fatalf("decision %+v, want origin_matched", d)
	}
	return g, r
}

// BenchmarkGateHotKeyOrigin: one key, an allowed Origin, usage counted.
func BenchmarkGateHotKeyOrigin(b *testing.B) {
	g, r := hotKeyGate(b, Options{})
	b.ReportAllocs()
	for b.Loop() {
		g.Decide(r)
	}
}

// BenchmarkGateHotKeyOriginNoUsage is the same without usage counting, to
// show what counting costs.
func BenchmarkGateHotKeyOriginNoUsage(b *testing.B) {
	g, r := hotKeyGate(b, Options{DisableUsage: true})
	b.ReportAllocs()
	for b.Loop() {
		g.Decide(r)
	}
}

// BenchmarkGateHotKeyOriginParallel: the hot key from every core at once
// (shared per-key counters).
func BenchmarkGateHotKeyOriginParallel(b *testing.B) {
	g, r := hotKeyGate(b, Options{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			g.Decide(r)
		}
	})
}

// BenchmarkGateRandomKey100k: 100k keys, each request names a random one
// (cache misses in the index), with a linked Origin.
func BenchmarkGateRandomKey100k(b *testing.B) {
	const n = 100_000
	m := &memStore{}
	reqs := make([]*http.Request, 4096)
	secrets := make([]string, n)
	for i := range n {
		k, s := memKey(fmt.Sprintf("k%06d", i), model.Active, "mysite.tn")
		m.keys = append(m.keys, k)
		secrets[i] = s
	}
	g := newMemGate(b, m, Options{})
	if g.Size() != n {
		b.Fatalf("index holds %d keys", g.Size())
	}
	for i := range reqs {
		// A multiplicative step spreads the requests over all the keys.
		r := httptest.NewRequest(http.MethodGet, "/v1/tiles/1/2/3.png?api_key="+secrets[(i*7919)%n], nil)
		r.Header.Set("Origin", "https://mysite.tn")
		reqs[i] = r
	}
	for _, r := range reqs {
		if d := g.Decide(r); !d.Allowed() {
			b.Fatalf("decision %+v", d)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		g.Decide(reqs[i&(len(reqs)-1)])
		i++
	}
}

// BenchmarkSHA256Secret is the digest of one secret, the floor of a decision.
func BenchmarkSHA256Secret(b *testing.B) {
	s := model.NewSecret()
	b.ReportAllocs()
	var d [sha256.Size]byte
	for b.Loop() {
		d = model.DigestOf(s)
	}
	_ = d
}

// BenchmarkAuthorizeHandler is the nginx endpoint without the network.
func BenchmarkAuthorizeHandler(b *testing.B) {
	g, r := hotKeyGate(b, Options{})
	r.Header.Set(HeaderOriginalURI, r.URL.RequestURI())
	r.URL.RawQuery = ""
	h := g.AuthorizeHandler()
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		clear(w.Header())
		h.ServeHTTP(w, r)
	}
}

// BenchmarkDigestOf is the gate's allocation-free digest of a secret.
func BenchmarkDigestOf(b *testing.B) {
	s := model.NewSecret()
	b.ReportAllocs()
	var d model.Digest
	for b.Loop() {
		d = model.DigestOf(s)
	}
	_ = d
}

// BenchmarkNew100k is the gate's share of "serve ready with 100k keys":
// reading the keys from an in-memory store and building the index.
func BenchmarkNew100k(b *testing.B) {
	const n = 100_000
	m := &memStore{}
	for i := range n {
		k, _ := memKey(fmt.Sprintf("k%06d", i), model.Active, "mysite.tn")
		m.keys = append(m.keys, k)
	}
	b.ReportAllocs()
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		g, err := New(ctx, m, Options{})
		if err != nil || g.Size() != n {
			b.Fatalf("New: %v, size %d", err, g.Size())
		}
		cancel()
	}
}

// BenchmarkGateHotKeyPolicy: the hot key with an IP allowlist of 10 entries
// (the client's is the last), a rate limit it never reaches, an allowed
// Origin and X-Real-IP from a trusted nginx; usage counted. Target (issue
// 12): ≤ 350 ns, 0 allocs/op.
func BenchmarkGateHotKeyPolicy(b *testing.B) {
	g, r := policyKeyGate(b, Options{})
	b.ReportAllocs()
	for b.Loop() {
		g.Decide(r)
	}
}

// twoKeysGate is a gate over two keys with the given policy and one
// request per key, without headers (server-to-server).
func twoKeysGate(b *testing.B, p model.Policy) (*Gate, [2]*http.Request) {
	m := &memStore{}
	var reqs [2]*http.Request
	for i := range reqs {
		k, secret := memKey(fmt.Sprintf("k%d", i), model.Active)
		k.Policy = p
		m.add(k)
		reqs[i] = httptest.NewRequest(http.MethodGet, "/v1/tiles/9/271/190.png?api_key="+secret, nil)
	}
	g := newMemGate(b, m, Options{})
	for _, r := range reqs {
		if d := g.Decide(r); !d.Allowed() {
			b.Fatalf("decision %+v", d)
		}
	}
	return g, reqs
}

// benchTwoKeys runs the goroutines of RunParallel each on its own key
// (goroutine i on key i%2): with -cpu 2, two cores on two keys.
func benchTwoKeys(b *testing.B, p model.Policy) {
	g, reqs := twoKeysGate(b, p)
	var next atomic.Int32
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := reqs[next.Add(1)%2]
		for pb.Next() {
			g.Decide(r)
		}
	})
}

// BenchmarkGateTwoKeysUnlimited and BenchmarkGateTwoKeysRateLimited: two
// cores hammering two different keys, without and with a rate limit (never
// reached). Run with -cpu 1,2: the limited keys scale like the unlimited
// ones because their token buckets share no lock and no cache line.
func BenchmarkGateTwoKeysUnlimited(b *testing.B) { benchTwoKeys(b, model.Policy{}) }

func BenchmarkGateTwoKeysRateLimited(b *testing.B) {
	benchTwoKeys(b, model.Policy{Rate: 1e6, Burst: 1e6})
}
