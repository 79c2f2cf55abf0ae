package gate

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}

// createWith creates a key with a policy in the fixture's store and waits
// until the gate's index holds it.
func (f *fixture) createWith(name string, p model.Policy, domains ...string) (model.Key, string) {
	f.t.Helper()
	k, secret, err := f.st.CreateKey(f.ctx, name, p)
	if err != nil {
		f.t.Fatalf("create key: %v", err)
	}
	if len(domains) > 0 {
		k = f.link(k.ID, domains...)
	}
	f.waitKey(k.ID, func(x *model.Key) bool { return len(x.Domains) == len(domains) })
	return k, secret
}

// update changes a key's policy in the store and waits until the gate has
// applied it.
func (f *fixture) update(id string, u model.KeyUpdate, ok func(k *model.Key) bool) {
	f.t.Helper()
	f.change(func() error { _, err := f.st.UpdateKey(f.ctx, id, u); return err }, id, ok)
}

// TestGateExpiry: SPEC step 4a through the handler; an expiry set, extended
// and cleared in the store applies on the next request.
func TestGateExpiry(t *testing.T) {
	f := newFixture(t, Options{TrustedProxies: loopback})
	exp := t0.Add(time.Hour)
	k, secret := f.createWith("expiring", model.Policy{Expires: exp}, "mysite.tn")
	if got := f.authorize(req(tile(secret), "Origin", "https://mysite.tn")); got != allowed {
		t.Fatalf("before the expiry: %+v", got)
	}
	f.clock.Store(exp.UnixNano())
	expired := result{401, errBody(model.ErrMsgExpired)}
	if got := f.authorize(req(tile(secret), "Origin", "https://mysite.tn")); got != expired {
		t.Fatalf("at the expiry: %+v", got)
	}
	// Disabled beats expired (step 4 before 4a).
	f.change(func() error { _, err := f.st.DisableKey(f.ctx, k.ID); return err }, k.ID, status(model.Disabled))
	if got := f.authorize(req(tile(secret))); got != (result{401, errBody(model.ErrMsgDisabled)}) {
		t.Fatalf("disabled and expired: %+v", got)
	}
	f.change(func() error { _, err := f.st.EnableKey(f.ctx, k.ID); return err }, k.ID, status(model.Active))
	later := exp.Add(24 * time.Hour)
	f.update(k.ID, model.KeyUpdate{Expires: &later}, func(x *model.Key) bool { return x.Expires.Equal(later) })
	if got := f.authorize(req(tile(secret))); got != allowed {
		t.Fatalf("after extending the expiry: %+v", got)
	}
	f.clock.Store(later.Add(time.Minute).UnixNano())
	if got := f.authorize(req(tile(secret))); got != expired {
		t.Fatalf("after the extended expiry: %+v", got)
	}
	var never time.Time
	f.update(k.ID, model.KeyUpdate{Expires: &never}, func(x *model.Key) bool { return x.Expires.IsZero() })
	if got := f.authorize(req(tile(secret))); got != allowed {
		t.Fatalf("after clearing the expiry: %+v", got)
	}
}

// TestGateIPAllowlist: SPEC step 4b, with the client address from the peer
// or from X-Real-IP when the peer is a trusted proxy.
func TestGateIPAllowlist(t *testing.T) {
	f := newFixture(t, Options{TrustedProxies: loopback})
	office := []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8::/32")}
	_, secret := f.createWith("tiles backend", model.Policy{Kind: model.KindServer, AllowIPs: office})
	_, browser := f.createWith("web", model.Policy{AllowIPs: office}, "mysite.tn")
	ipRefused := result{403, errBody(model.ErrMsgIP)}
	for _, c := range []struct {
		name    string
		headers []string
		want    result
	}{
		{"from the office, through nginx", []string{"X-Real-IP", "203.0.113.9"}, allowed},
		{"IPv6 from the office", []string{"X-Real-IP", "2001:db8:5::1"}, allowed},
		{"IPv4-mapped from the office", []string{"X-Real-IP", "::ffff:203.0.113.9"}, allowed},
		{"elsewhere", []string{"X-Real-IP", "198.51.100.7"}, ipRefused},
		{"no X-Real-IP: the peer (nginx) is not in the list", nil, ipRefused},
		{"X-Real-IP that is not an address", []string{"X-Real-IP", "203.0.113.9, 10.0.0.1"}, ipRefused},
		{"X-Real-IP with a zone", []string{"X-Real-IP", "fe80::1%eth0"}, ipRefused},
	} {
		if got := f.authorize(req(tile(secret), c.headers...)); got != c.want {
			t.Errorf("%s: %+v; want %+v", c.name, got, c.want)
		}
	}
	// The allowlist applies with or without Origin/Referer, and before the
	// domains: a listed Origin from elsewhere is refused for its address.
	if got := f.authorize(req(tile(browser), "X-Real-IP", "198.51.100.7", "Origin", "https://mysite.tn")); got != ipRefused {
		t.Errorf("listed origin from outside the allowlist: %+v", got)
	}
	if got := f.authorize(req(tile(browser), "X-Real-IP", "203.0.113.1", "Origin", "https://evil.com")); got != (result{403, errBody(model.ErrMsgDomain)}) {
		t.Errorf("allowed address, refused origin: %+v", got)
	}
	// X-Real-IP from a peer that is not trusted is ignored: the peer counts.
	r := req(tile(secret), "X-Real-IP", "203.0.113.9")
	r.RemoteAddr = "198.51.100.50:5000"
	r.Header.Del("X-Forwarded-Proto")
	r.TLS = new(tls.ConnectionState)
	if got := f.authorize(r); got != ipRefused {
		t.Errorf("X-Real-IP from an untrusted peer was believed: %+v", got)
	}
	r.RemoteAddr = "203.0.113.77:5000"
	if got := f.authorize(r); got != allowed {
		t.Errorf("a direct client in the allowlist: %+v", got)
	}
}

// TestGateRateLimit: SPEC step 10 through the handler (a 403 with
// X-Tmaps-Status 429 for nginx) and the middleware (a 429), with
// Retry-After; refused requests do not spend tokens; 429s are counted as
// their own outcome and flushed.
func TestGateRateLimit(t *testing.T) {
	f := newFixture(t, Options{TrustedProxies: loopback})
	k, secret := f.createWith("limited", model.Policy{Rate: 1, Burst: 3}, "mysite.tn")
	// Refusals of earlier steps do not spend the burst.
	for range 5 {
		if got := f.authorize(req(tile(secret), "Origin", "https://evil.com")); got.code != 403 {
			t.Fatalf("evil origin: %+v", got)
		}
	}
	for i := range 3 {
		if got := f.authorize(req(tile(secret), "Origin", "https://mysite.tn")); got != allowed {
			t.Fatalf("request %d of the burst: %+v", i+1, got)
		}
	}
	w := httptest.NewRecorder()
	f.g.AuthorizeHandler().ServeHTTP(w, req(tile(secret), "Origin", "https://mysite.tn"))
	if w.Code != 403 || w.Header().Get(HeaderStatus) != "429" || w.Header().Get("Retry-After") != "1" ||
		w.Body.String() != errBody(model.ErrMsgRateLimited) || w.Header().Get(HeaderError) != errBody(model.ErrMsgRateLimited) {
		t.Fatalf("4th request at once through the handler: %d %v %s", w.Code, w.Header(), w.Body)
	}
	// The middleware answers 429 itself.
	h := f.g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	mw := httptest.NewRecorder()
	direct := call(tile(secret), "Origin", "https://mysite.tn")
	direct.TLS = new(tls.ConnectionState)
	h.ServeHTTP(mw, direct)
	if mw.Code != 429 || mw.Header().Get("Retry-After") != "1" || mw.Body.String() != errBody(model.ErrMsgRateLimited) {
		t.Fatalf("middleware at the limit: %d %v %s", mw.Code, mw.Header(), mw.Body)
	}
	// A change to the key (a rename reloads its entry) keeps the bucket.
	name := "limited 2"
	f.update(k.ID, model.KeyUpdate{Name: &name}, func(x *model.Key) bool { return x.Name == name })
	if got := f.authorize(req(tile(secret))); got.code != 403 {
		t.Fatalf("a reload refilled the bucket: %+v", got)
	}
	// Two seconds later two tokens are back.
	f.clock.Add(int64(2 * time.Second))
	for i := range 2 {
		if got := f.authorize(req(tile(secret))); got != allowed {
			t.Fatalf("refilled token %d: %+v", i+1, got)
		}
	}
	if got := f.authorize(req(tile(secret))); got.code != 403 {
		t.Fatalf("third request after 2 s: %+v", got)
	}
	// Another key is not limited by this one's bucket.
	if got := f.authorize(req(tile(f.open))); got != allowed {
		t.Fatalf("another key: %+v", got)
	}
	// Raising the rate applies on the next request.
	rate := 1000.0
	f.update(k.ID, model.KeyUpdate{Rate: &rate}, func(x *model.Key) bool { return x.Rate == rate })
	if got := f.authorize(req(tile(secret))); got != allowed {
		t.Fatalf("after raising the rate: %+v", got)
	}
	if err := f.g.Flush(f.ctx); err != nil {
		t.Fatal(err)
	}
	bs, err := f.st.Usage(f.ctx, store.UsageQuery{KeyID: k.ID, Since: t0.Add(-time.Hour), Until: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	sum := model.Sum(store.Buckets(bs))
	if sum.Allowed != 6 || sum.Limited != 4 || sum.Forbidden != 5 {
		t.Fatalf("flushed usage %+v; want 6 allowed, 4 limited (429), 5 forbidden", sum)
	}
	var out strings.Builder
	f.g.WriteMetrics(&out)
	for _, want := range []string{`tmaps_gate_decisions_total{outcome="limited",reason="rate_limited"} 4`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, out.String())
		}
	}
}

// TestGateQuota: SPEC step 10's monthly quota counts this node's requests
// at once, the store's usage of the month (other nodes' flushes) after a
// flush, and a new UTC month starts from zero.
func TestGateQuota(t *testing.T) {
	f := newFixture(t, Options{TrustedProxies: loopback})
	k, secret := f.createWith("quota", model.Policy{Quota: 10})
	for i := range 4 {
		if got := f.authorize(req(tile(secret))); got != allowed {
			t.Fatalf("request %d: %+v", i+1, got)
		}
	}
	// Another node counted 5 this month (and 100 last month, which do not count).
	hour := t0.Truncate(time.Hour)
	lastMonth := model.MonthStart(t0).Add(-time.Hour)
	if err := f.st.RecordUsage(f.ctx, []store.UsageDelta{{KeyID: k.ID, Hour: hour, Allowed: 5}, {KeyID: k.ID, Hour: lastMonth, Allowed: 100}}); err != nil {
		t.Fatal(err)
	}
	if err := f.g.Flush(f.ctx); err != nil {
		t.Fatal(err)
	}
	// 4 + 5 = 9 used: one more passes, the next is refused.
	if got := f.authorize(req(tile(secret))); got != allowed {
		t.Fatalf("10th request of the month: %+v", got)
	}
	w := httptest.NewRecorder()
	f.g.AuthorizeHandler().ServeHTTP(w, req(tile(secret)))
	wantRetry := int(model.NextMonthStart(t0).Sub(t0).Seconds())
	if w.Code != 403 || w.Header().Get(HeaderStatus) != "429" || w.Body.String() != errBody(model.ErrMsgQuota) ||
		w.Header().Get("Retry-After") != strconv.Itoa(wantRetry) {
		t.Fatalf("11th request: %d %v %s; want quota exceeded, Retry-After %d", w.Code, w.Header(), w.Body, wantRetry)
	}
	// Flushing does not count the node's requests twice or drop them.
	if err := f.g.Flush(f.ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.authorize(req(tile(secret))); got.code != 403 {
		t.Fatalf("after a flush: %+v", got)
	}
	// Raising the quota applies at once, from the same count.
	q := uint64(12)
	f.update(k.ID, model.KeyUpdate{Quota: &q}, func(x *model.Key) bool { return x.Quota == q })
	for i := range 2 {
		if got := f.authorize(req(tile(secret))); got != allowed {
			t.Fatalf("request %d after raising the quota to 12: %+v", i+11, got)
		}
	}
	if got := f.authorize(req(tile(secret))); got.code != 403 {
		t.Fatalf("13th request with a quota of 12: %+v", got)
	}
	// The next UTC month starts from zero, before any flush.
	f.clock.Store(model.NextMonthStart(t0).Add(time.Second).UnixNano())
	if got := f.authorize(req(tile(secret))); got != allowed {
		t.Fatalf("first request of the next month: %+v", got)
	}
	if err := f.g.Flush(f.ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.authorize(req(tile(secret))); got != allowed {
		t.Fatalf("second request of the next month, after a flush: %+v", got)
	}
}

// A key that gets a quota counts the month's usage already in the store.
func TestGateQuotaSetLater(t *testing.T) {
	f := newFixture(t, Options{TrustedProxies: loopback})
	k, secret := f.createWith("busy", model.Policy{})
	if err := f.st.RecordUsage(f.ctx, []store.UsageDelta{{KeyID: k.ID, Hour: t0.Truncate(time.Hour), Allowed: 50}}); err != nil {
		t.Fatal(err)
	}
	q := uint64(50)
	f.update(k.ID, model.KeyUpdate{Quota: &q}, func(x *model.Key) bool { return x.Quota == q })
	if got := f.authorize(req(tile(secret))); got.code != 403 {
		t.Fatalf("a quota of 50 with 50 used: %+v", got)
	}
}

// TestGateRateLimitConcurrent: goroutines hammering one limited key never
// get more than the burst through at one instant, and do not slow another
// key.
func TestGateRateLimitConcurrent(t *testing.T) {
	f := newFixture(t, Options{TrustedProxies: loopback})
	_, secret := f.createWith("hammered", model.Policy{Rate: 10, Burst: 20})
	var mu sync.Mutex
	codes := map[string]int{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				w := httptest.NewRecorder()
				f.g.AuthorizeHandler().ServeHTTP(w, req(tile(secret)))
				mu.Lock()
				codes[w.Header().Get(HeaderStatus)]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if codes[""] != 20 || codes["429"] != 380 {
		t.Fatalf("400 requests at one instant: %v; want 20 allowed (the burst), 380 refused with 429", codes)
	}
}

func TestClientIP(t *testing.T) {
	g := &Gate{trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}}
	for _, c := range []struct {
		remote string
		real   []string
		want   string
	}{
		{"203.0.113.5:443", nil, "203.0.113.5"},
		{"[2001:db8::1]:443", nil, "2001:db8::1"},
		{"[::ffff:203.0.113.5]:443", nil, "203.0.113.5"},
		{"203.0.113.5:443", []string{"10.0.0.1"}, "203.0.113.5"}, // untrusted peer
		{"127.0.0.1:5000", []string{"10.0.0.1"}, "10.0.0.1"},
		{"[::1]:5000", []string{" 2001:db8::7 "}, "2001:db8::7"},
		{"127.0.0.1:5000", []string{"1.1.1.1", "10.0.0.2"}, "10.0.0.2"}, // the nearest proxy's
		{"127.0.0.1:5000", []string{"nonsense"}, "invalid IP"},
		{"127.0.0.1:5000", nil, "127.0.0.1"},
		{"garbage", nil, "invalid IP"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = c.remote
		for _, v := range c.real {
			r.Header.Add("X-Real-IP", v)
		}
		if got := g.clientIP(r).String(); got != c.want {
			t.Errorf("peer %s, X-Real-IP %q: %s; want %s", c.remote, c.real, got, c.want)
		}
	}
	// Without trusted proxies X-Real-IP is never read.
	g = &Gate{}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "127.0.0.1:1"
	r.Header.Set("X-Real-IP", "10.0.0.1")
	if got := g.clientIP(r).String(); got != "127.0.0.1" {
		t.Errorf("no trusted proxy: %s", got)
	}
}

// TestDecideWithPolicyDoesNotAllocate: the gate's decision for a key with
// an IP allowlist of 10 entries and a rate limit allocates nothing.
func TestDecideWithPolicyDoesNotAllocate(t *testing.T) {
	g, r := policyKeyGate(t, Options{})
	if n := testing.AllocsPerRun(200, func() { g.Decide(r) }); n != 0 {
		t.Fatalf("Decide allocates %v times", n)
	}
}

// policyKeyGate is a gate over one key with 3 domains, an IP allowlist of
// 10 entries (the client's is the last) and a rate limit it never reaches,
// and a request from nginx with X-Real-IP and an allowed Origin.
func policyKeyGate(t testing.TB, opt Options) (*Gate, *http.Request) {
	m := &memStore{}
	k, secret := memKey("kpolicy", model.Active, "example.tn", "mysite.tn", "localhost")
	for i := range 9 {
		k.AllowIPs = append(k.AllowIPs, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 16))
	}
	k.AllowIPs = append(k.AllowIPs, netip.MustParsePrefix("203.0.113.0/24"))
	k.Rate, k.Burst = 1e6, 1e6
	m.add(k)
	opt.TrustedProxies = loopback
	g := newMemGate(t, m, opt)
	r := httptest.NewRequest(http.MethodGet, "/v1/tiles/9/271/190.png?style=streets&api_key="+secret, nil)
	r.RemoteAddr = "127.0.0.1:40000"
	r.Header.Set("Origin", "https://mysite.tn")
	r.Header.Set("X-Real-IP", "203.0.113.9")
	if d := g.Decide(r); d.Reason != model.ReasonOriginMatched {
		t.Fatalf("decision %+v, want origin_matched", d)
	}
	return g, r
}

// TestTrustedProxyContext: a connection marked by TrustedProxyContext (the
// daemon's unix socket for nginx) is a trusted proxy without any
// TrustedProxies CIDR: its X-Forwarded-Proto and X-Real-IP are believed,
// its missing address fails an IP allowlist closed, and the decision still
// allocates nothing. An unmarked peer without an address is not trusted.
func TestTrustedProxyContext(t *testing.T) {
	f := newFixture(t, Options{})
	office := []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}
	_, open := f.createWith("open", model.Policy{})
	_, backend := f.createWith("tiles backend", model.Policy{Kind: model.KindServer, AllowIPs: office})
	unix := func(marked bool, uri string, headers ...string) *http.Request {
		r := req(uri, headers...)
		r.RemoteAddr = "@" // what net/http reports for a unix socket's peer
		if marked {
			r = r.WithContext(TrustedProxyContext(r.Context()))
		}
		return r
	}
	httpsRefused := result{403, errBody(model.ErrMsgHTTPSRequired)}
	ipRefused := result{403, errBody(model.ErrMsgIP)}
	for _, c := range []struct {
		name string
		r    *http.Request
		want result
	}{
		{"marked socket, https", unix(true, tile(open)), allowed},
		{"marked socket, plain http", unix(true, tile(open), "X-Forwarded-Proto", "http"), httpsRefused},
		{"marked socket, no X-Forwarded-Proto", unix(true, tile(open), "X-Forwarded-Proto", "<absent>"), httpsRefused},
		{"unmarked socket peer", unix(false, tile(open)), httpsRefused},
		{"loopback TCP without a trusted CIDR", req(tile(open)), httpsRefused},
		{"marked socket, client in the allowlist", unix(true, tile(backend), "X-Real-IP", "203.0.113.9"), allowed},
		{"marked socket, client elsewhere", unix(true, tile(backend), "X-Real-IP", "198.51.100.7"), ipRefused},
		{"marked socket, no X-Real-IP", unix(true, tile(backend)), ipRefused},
	} {
		if got := f.authorize(c.r); got != c.want {
			t.Errorf("%s: %+v; want %+v", c.name, got, c.want)
		}
	}

	h := f.g.AuthorizeHandler()
	for _, c := range []struct {
		name string
		r    *http.Request
	}{
		{"open key", unix(true, tile(open))},
		{"allowlisted key", unix(true, tile(backend), "X-Real-IP", "203.0.113.9")},
	} {
		w := httptest.NewRecorder()
		if n := testing.AllocsPerRun(200, func() {
			clear(w.Header())
			h.ServeHTTP(w, c.r)
		}); n != 0 {
			t.Errorf("%s over a marked connection: %.1f allocations per decision, want 0", c.name, n)
		}
	}
}
