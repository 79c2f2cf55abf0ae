package gate

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// memKey makes a key with a fresh secret for the in-memory store.
func memKey(id string, st model.Status, domains ...string) (model.Key, string) {
	s := model.NewSecret()
	return model.Key{ID: id, Name: id, Prefix: model.DisplayPrefix(s), Digest: model.DigestOf(s), Status: st, Domains: domains}, s
}

func newMemGate(t testing.TB, m *memStore, opt Options) *Gate {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	opt.AllowHTTP = true
	g, err := New(ctx, m, opt)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestFlushIsOneCallAndRetriesAfterFailure(t *testing.T) {
	m := &memStore{}
	k, secret := memKey("k1", model.Active, "mysite.tn")
	m.add(k)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	g := newMemGate(t, m, Options{Now: func() time.Time { return now }})
	ctx := context.Background()

	if err := g.Flush(ctx); err != nil || m.calls != 0 {
		t.Fatalf("empty flush: err %v, %d store calls, want none", err, m.calls)
	}
	for range 3 {
		g.Decide(call(tile(secret), "Origin", "https://mysite.tn"))
	}
	g.Decide(call(tile(secret), "Origin", "https://evil.com"))
	g.Decide(call(tile("ak_nope")))

	m.failNext = errStoreDown
	if err := g.Flush(ctx); err != errStoreDown {
		t.Fatalf("flush: %v, want the store's error", err)
	}
	g.Decide(call(tile(secret)))
	if err := g.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if m.calls != 2 {
		t.Errorf("store calls = %d, want 2 (one per flush)", m.calls)
	}
	hour := now.Truncate(time.Hour)
	want := []store.UsageDelta{
		{KeyID: "", Hour: hour, Unauthorized: 1},
		{KeyID: "k1", Hour: hour, Allowed: 4, Forbidden: 1, RefusedHosts: map[string]uint64{"evil.com": 1},
			MatchedHosts: map[string]uint64{"mysite.tn": 3}, LastUsed: now, LastHost: "mysite.tn"},
	}
	if !reflect.DeepEqual(m.usage, want) {
		t.Errorf("recorded %+v\nwant     %+v", m.usage, want)
	}
}

func TestRefusedHostsAreCapped(t *testing.T) {
	m := &memStore{}
	k, secret := memKey("k1", model.Active, "mysite.tn")
	m.add(k)
	g := newMemGate(t, m, Options{})
	for i := range MaxRefusedHosts + 50 {
		g.Decide(call(tile(secret), "Origin", fmt.Sprintf("https://h%d.evil.com", i)))
	}
	g.Decide(call(tile(secret), "Origin", "https://h0.evil.com")) // already kept: counted
	if err := g.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var forbidden, hosts, h0, other uint64
	for _, d := range m.usage {
		forbidden += d.Forbidden
		hosts += uint64(len(d.RefusedHosts))
		h0 += d.RefusedHosts["h0.evil.com"]
		other += d.OtherHosts
	}
	if forbidden != MaxRefusedHosts+51 || hosts != MaxRefusedHosts || h0 != 2 || other != 50 {
		t.Errorf("forbidden %d, distinct hosts %d, h0 %d, other hosts %d; want %d, %d, 2, 50", forbidden, hosts, h0, other, MaxRefusedHosts+51, MaxRefusedHosts)
	}
	var b strings.Builder
	g.WriteMetrics(&b)
	if !strings.Contains(b.String(), "tmaps_gate_refused_hosts_dropped_total 50\n") {
		t.Errorf("dropped hosts not in metrics:\n%s", b.String())
	}
	// The cap is per flush window: new hosts are kept again after a flush.
	g.Decide(call(tile(secret), "Origin", "https://late.evil.com"))
	if err := g.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if last := m.usage[len(m.usage)-1]; last.RefusedHosts["late.evil.com"] != 1 {
		t.Errorf("after the flush: %+v", last)
	}
}

// Counting across an hour boundary that no flush separates keeps each
// decision in its own hour, even two hours apart.
func TestUsageHourRollover(t *testing.T) {
	m := &memStore{}
	k, secret := memKey("k1", model.Active)
	m.add(k)
	base := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	now := base
	g := newMemGate(t, m, Options{Now: func() time.Time { return now }})
	for h := range 4 {
		now = base.Add(time.Duration(h)*time.Hour + time.Minute)
		for range h + 1 {
			g.Decide(call(tile(secret)))
		}
	}
	if err := g.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := map[time.Time]uint64{}
	for _, d := range m.usage {
		got[d.Hour] += d.Allowed
	}
	want := map[time.Time]uint64{base: 1, base.Add(time.Hour): 2, base.Add(2 * time.Hour): 3, base.Add(3 * time.Hour): 4}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("per hour %v, want %v", got, want)
	}
}

func TestKeyRemovedFromStoreIsUnknown(t *testing.T) {
	m := &memStore{}
	k, secret := memKey("k1", model.Active)
	m.add(k)
	g := newMemGate(t, m, Options{})
	if d := g.Decide(call(tile(secret))); !d.Allowed() {
		t.Fatalf("before: %+v", d)
	}
	v := g.Version()
	m.mu.Lock()
	m.keys = nil
	m.mu.Unlock()
	m.hub.Publish(store.Event{Kind: store.EventKey, ID: "k1"})
	if err := g.WaitVersion(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	if d := g.Decide(call(tile(secret))); d.Reason != model.ReasonUnknownKey || g.Size() != 0 {
		t.Errorf("after removal: %+v, size %d", d, g.Size())
	}
}

func TestAPIKeys(t *testing.T) {
	cases := []struct {
		q    string
		want []string
	}{
		{"", nil},
		{"style=streets", nil},
		{"api_key=ak_1", []string{"ak_1"}},
		{"a=1&api_key=&b=2", []string{""}},
		{"api_key", []string{""}},
		{"api_key=a&api_key=b", []string{"a", "b"}},
		{"api_key=a&api_key=b&api_key=c", []string{"a", "b", "c"}},
		{"api%5Fkey=x", []string{"x"}},
		{"api_key=ak%5F12", []string{"ak_12"}},
		{"api_key=a+b", []string{"a b"}},
		{"api_key=%zz", []string{"%zz"}},
		{"xapi_key=1&api_keyx=2&API_KEY=3", nil},
		{"&&api_key=v&&", []string{"v"}},
	}
	for _, c := range cases {
		if got := apiKeys(c.q, nil); !reflect.DeepEqual(got, c.want) {
			t.Errorf("apiKeys(%q) = %q, want %q", c.q, got, c.want)
		}
	}
	for uri, want := range map[string]string{
		"/a?b=c":       "b=c",
		"/a?b=c#d?e":   "b=c",
		"/a":           "",
		"/a#x?api_key": "",
		"?":            "",
	} {
		if got := uriQuery(uri); got != want {
			t.Errorf("uriQuery(%q) = %q, want %q", uri, got, want)
		}
	}
}

func TestForwardedProto(t *testing.T) {
	for v, want := range map[string]bool{
		"https": true, "HTTPS": true, " https ": true, "http, https": true,
		"https, http": false, "http": false, "": false, "httpsx": false, "wss": false,
	} {
		if got := forwardedHTTPS(v); got != want {
			t.Errorf("forwardedHTTPS(%q) = %v", v, got)
		}
	}
	g := &Gate{trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
	for addr, want := range map[string]bool{
		"10.1.2.3:80": true, "[::1]:80": true, "[::ffff:10.0.0.1]:5": true, "10.1.2.3": true,
		"11.0.0.1:80": false, "[::2]:80": false, "garbage": false, "": false,
	} {
		if got := g.trustedPeer(addr); got != want {
			t.Errorf("trustedPeer(%q) = %v", addr, got)
		}
	}
}

// The hot path allocates nothing (checked outside benchmarks too).
func TestDecideDoesNotAllocate(t *testing.T) {
	m := &memStore{}
	k, secret := memKey("k1", model.Active, "mysite.tn")
	m.add(k)
	g := newMemGate(t, m, Options{})
	r := httptest.NewRequest(http.MethodGet, "/v1/tiles/1/2/3.png?style=streets&api_key="+secret, nil)
	r.Header.Set("Origin", "https://mysite.tn")
	g.Decide(r) // first use puts the counter on the dirty list
	if n := testing.AllocsPerRun(1000, func() { g.Decide(r) }); n != 0 {
		t.Errorf("Decide allocates %.1f times per request, want 0", n)
	}
	if d := g.Decide(r); !d.Allowed() {
		t.Errorf("decision %+v", d)
	}
}

func TestDigestOfMatchesModel(t *testing.T) {
	for range 10 {
		s := model.NewSecret()
		if model.DigestOf(s) != model.DigestOf(s) {
			t.Fatalf("model.DigestOf(%s) differs from model.DigestOf", s)
		}
	}
}

func TestCanonicalHeaderNames(t *testing.T) {
	for _, h := range []string{canonicalOriginalURI, "X-Forwarded-Proto", "X-Real-Ip", "Retry-After", "Origin", "Referer", HeaderError, HeaderKeyID, HeaderStatus} {
		if c := http.CanonicalHeaderKey(h); c != h {
			t.Errorf("%q is read or written as a raw map key but its canonical form is %q", h, c)
		}
	}
	if http.CanonicalHeaderKey(HeaderOriginalURI) != canonicalOriginalURI {
		t.Errorf("canonicalOriginalURI does not match HeaderOriginalURI")
	}
}

// When the store cannot be read after a change, the gate keeps reloading
// until it can: a missed revoke must not stay allowed.
func TestReloadRetriesUntilTheStoreAnswers(t *testing.T) {
	m := &memStore{}
	k, secret := memKey("k1", model.Active)
	m.add(k)
	g := newMemGate(t, m, Options{})
	v := g.Version()
	m.mu.Lock()
	m.readErrs = 3 // the key's reload, then two full reloads fail
	m.mu.Unlock()
	m.set("k1", func(k *model.Key) { k.Status = model.Revoked })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.WaitVersion(ctx, v); err != nil {
		t.Fatal(err)
	}
	if d := g.Decide(call(tile(secret))); d.Reason != model.ReasonRevoked {
		t.Errorf("after the store recovered: %+v, want revoked", d)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.readErrs != 0 {
		t.Errorf("%d injected failures left: the gate gave up early", m.readErrs)
	}
}

// apiKeys reads api_key exactly as url.ParseQuery does, wherever
// ParseQuery accepts the query.
func FuzzAPIKeys(f *testing.F) {
	for _, s := range []string{"api_key=ak_1", "a=1&api_key=&api_key", "api%5Fkey=x&api_key=y", "api_key=a+b%20c",
		"api_keyx=1", "api%5Fkey%3D=2", "x=%zz&api_key=1", "&&api_key=v&&", "API_KEY=1", "api_key==x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		want, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		got := apiKeys(q, nil)
		if !reflect.DeepEqual(got, want["api_key"]) {
			t.Errorf("apiKeys(%q) = %q, url.ParseQuery says %q", q, got, want["api_key"])
		}
	})
}

// A key without domains keeps the host a browser sent as its last host
// (the hygiene report tells keys browsers use), but no per-link count: it
// has no link, and random Origins must not grow the store.
func TestUnrestrictedKeyKeepsBrowserHost(t *testing.T) {
	m := &memStore{}
	k, secret := memKey("k1", model.Active)
	m.add(k)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	g := newMemGate(t, m, Options{Now: func() time.Time { return now }})
	g.Decide(call(tile(secret), "Origin", "https://shop.tn"))
	g.Decide(call(tile(secret)))
	if err := g.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []store.UsageDelta{{KeyID: "k1", Hour: now.Truncate(time.Hour), Allowed: 2, LastUsed: now, LastHost: "shop.tn"}}
	if !reflect.DeepEqual(m.usage, want) {
		t.Errorf("recorded %+v\nwant     %+v", m.usage, want)
	}
}

// A batch the store refuses as invalid is sent again one delta at a time:
// only the refused deltas are lost, and nothing is retried forever.
func TestFlushDropsOnlyRefusedDeltas(t *testing.T) {
	m := &memStore{}
	good, goodSecret := memKey("kgood", model.Active)
	bad, badSecret := memKey("kbad", model.Active)
	m.add(good)
	m.add(bad)
	m.refuse = func(d store.UsageDelta) error {
		if d.KeyID == "kbad" {
			return fmt.Errorf("%w: no such key", store.ErrInvalid)
		}
		return nil
	}
	g := newMemGate(t, m, Options{})
	g.Decide(call(tile(goodSecret)))
	g.Decide(call(tile(badSecret)))
	if err := g.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var allowed uint64
	for _, d := range m.usage {
		if d.KeyID == "kbad" {
			t.Fatalf("a refused delta was recorded: %+v", d)
		}
		allowed += d.Allowed
	}
	if allowed != 1 {
		t.Fatalf("the good key's request was lost: %+v", m.usage)
	}
	calls := m.calls
	if err := g.Flush(context.Background()); err != nil || m.calls != calls {
		t.Fatalf("a later flush sent the refused counts again: %v, %d calls", err, m.calls-calls)
	}
}

// A secret sent as an Origin's host (a pasted key, a probe) is never kept
// in plain form: the refused host and an unrestricted key's last host are
// redacted before they reach the store.
func TestSecretInHostIsRedacted(t *testing.T) {
	m := &memStore{}
	k, secret := memKey("k1", model.Active, "mysite.tn")
	open, openSecret := memKey("k2", model.Active)
	m.add(k)
	m.add(open)
	g := newMemGate(t, m, Options{})
	leaked := model.NewSecret()
	token := "tm_" + strings.Repeat("ab", 16)
	g.Decide(call(tile(secret), "Origin", "https://"+leaked+".evil.com"))
	g.Decide(call(tile(secret), "Origin", "https://x."+strings.ToUpper(token)))
	g.Decide(call(tile(openSecret), "Origin", "https://"+leaked))
	if err := g.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var hosts []string
	for _, d := range m.usage {
		for h := range d.RefusedHosts {
			hosts = append(hosts, h)
		}
		if d.LastHost != "" {
			hosts = append(hosts, d.LastHost)
		}
	}
	if len(hosts) != 3 {
		t.Fatalf("hosts kept: %q (want 3)", hosts)
	}
	for _, h := range hosts {
		l := strings.ToLower(h)
		if strings.Contains(l, leaked[3:11]) || strings.Contains(l, token[3:11]) || !strings.Contains(h, "REDACTED") {
			t.Errorf("host kept as %q: the secret must be redacted", h)
		}
	}
}
