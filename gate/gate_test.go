package gate

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
)

// fixture is a gate over a real bolt store in a temp dir, with keys in
// every state.
type fixture struct {
	t   *testing.T
	ctx context.Context
	st  store.Store
	g   *Gate

	clock atomic.Int64 // unix nanoseconds the gate's clock reads

	// secrets by role
	open, linked, disabled, revoked string
	linkedKey                       model.Key
	logs                            *lockedWriter
}

var t0 = time.Date(2026, 11, 23, 9, 59, 58, 0, time.UTC)

func openBolt(t testing.TB) store.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "tmaps.db"), bolt.Options{})
	if err != nil {
		t.Fatalf("open bolt store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newFixture(t *testing.T, opt Options) *fixture {
	t.Helper()
	ctx, cancel := context.WithCancel(store.WithActor(context.Background(), "gate-test"))
	t.Cleanup(cancel)
	f := &fixture{t: t, ctx: ctx, st: openBolt(t), logs: &lockedWriter{w: &bytes.Buffer{}}}
	f.clock.Store(t0.UnixNano())

	for _, d := range []string{"mysite.tn", "localhost", "app.mysite.tn"} {
		if _, err := f.st.AddDomain(ctx, d); err != nil {
			t.Fatalf("add domain %s: %v", d, err)
		}
	}
	var k model.Key
	k, f.open = f.create("server to server")
	k, f.linked = f.create("web app")
	f.linkedKey = f.link(k.ID, "mysite.tn", "localhost")
	k, f.disabled = f.create("paused")
	f.link(k.ID, "mysite.tn")
	if _, err := f.st.DisableKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	k, f.revoked = f.create("leaked")
	f.link(k.ID, "mysite.tn")
	if _, err := f.st.RevokeKey(ctx, k.ID, "leaked"); err != nil {
		t.Fatal(err)
	}

	if opt.Now == nil {
		opt.Now = func() time.Time { return time.Unix(0, f.clock.Load()).UTC() }
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	g, err := New(ctx, f.st, opt)
	if err != nil {
		t.Fatalf("gate.New: %v", err)
	}
	f.g = g
	t.Cleanup(func() {
		logs := f.logs.String()
		for _, s := range []string{f.open, f.linked, f.disabled, f.revoked} {
			if strings.Contains(logs, s) {
				t.Errorf("a secret reached the logs:\n%s", logs)
			}
		}
	})
	return f
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (f *fixture) create(name string) (model.Key, string) {
	f.t.Helper()
	k, secret, err := f.st.CreateKey(f.ctx, name, model.Policy{})
	if err != nil {
		f.t.Fatalf("create key: %v", err)
	}
	return k, secret
}

func (f *fixture) link(id string, domains ...string) model.Key {
	f.t.Helper()
	k, err := f.st.LinkKey(f.ctx, id, domains...)
	if err != nil {
		f.t.Fatalf("link %v: %v", domains, err)
	}
	return k
}

// change runs fn against the store, then waits (on the gate's index
// version, never by sleeping) until the index entry of key id satisfies ok:
// a store event can be followed by others, so the version alone does not
// say which change was applied.
func (f *fixture) change(fn func() error, id string, ok func(k *model.Key) bool) {
	f.t.Helper()
	if err := fn(); err != nil {
		f.t.Fatalf("store change: %v", err)
	}
	f.waitKey(id, ok)
}

// waitKey waits until the index entry of key id satisfies ok.
func (f *fixture) waitKey(id string, ok func(k *model.Key) bool) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(f.ctx, 5*time.Second)
	defer cancel()
	for {
		v := f.g.Version()
		if k := f.g.indexed(id); k != nil && ok(k) {
			return
		}
		if err := f.g.WaitVersion(ctx, v); err != nil {
			f.t.Fatalf("the gate never applied the change to key %s: %v", id, err)
		}
	}
}

func status(s model.Status) func(*model.Key) bool {
	return func(k *model.Key) bool { return k.Status == s }
}

func domains(d ...string) func(*model.Key) bool {
	return func(k *model.Key) bool { return slices.Equal(k.Domains, d) }
}

// req builds a request as nginx sends it to /v1/authorize: from 127.0.0.1
// with X-Forwarded-Proto https and the original URI.
func req(uri string, headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/v1/authorize", nil)
	r.RemoteAddr = "127.0.0.1:40000"
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Original-URI", uri)
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "<absent>" {
			r.Header.Del(headers[i])
			continue
		}
		r.Header.Set(headers[i], headers[i+1])
	}
	return r
}

func tile(secret string) string { return "/v1/tiles/9/271/190.png?style=streets&api_key=" + secret }

type result struct {
	code int
	body string
}

func (f *fixture) authorize(r *http.Request) result {
	f.t.Helper()
	w := httptest.NewRecorder()
	f.g.AuthorizeHandler().ServeHTTP(w, r)
	res := result{w.Code, w.Body.String()}
	switch w.Code {
	case http.StatusNoContent:
		if w.Body.Len() != 0 {
			f.t.Errorf("204 with a body %q", w.Body.String())
		}
	case http.StatusUnauthorized, http.StatusForbidden:
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			f.t.Errorf("refusal Content-Type = %q, want application/json", ct)
		}
		if h := w.Header().Get(HeaderError); h != res.body {
			f.t.Errorf("%s = %q, want the body %q", HeaderError, h, res.body)
		}
	default:
		f.t.Errorf("unexpected status %d", w.Code)
	}
	return res
}

func errBody(msg string) string { return `{"error":"` + msg + `"}` }

var allowed = result{204, ""}

func TestAuthorizeHandler(t *testing.T) {
	f := newFixture(t, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	unknown := model.NewSecret()
	cases := []struct {
		name string
		r    *http.Request
		want result
	}{
		{"origin of a linked domain", req(tile(f.linked), "Origin", "https://mysite.tn"), allowed},
		{"origin with a port and another scheme", req(tile(f.linked), "Origin", "http://localhost:5173"), allowed},
		{"origin upper case with trailing dot", req(tile(f.linked), "Origin", "https://MYSITE.TN."), allowed},
		{"origin of another domain", req(tile(f.linked), "Origin", "https://evil.com"), result{403, errBody(model.ErrMsgDomain)}},
		{"no implicit subdomain", req(tile(f.linked), "Origin", "https://app.mysite.tn"), result{403, errBody(model.ErrMsgDomain)}},
		{"no suffix match", req(tile(f.linked), "Origin", "https://evilmysite.tn"), result{403, errBody(model.ErrMsgDomain)}},
		{"userinfo is not the host", req(tile(f.linked), "Origin", "https://mysite.tn@evil.com"), result{403, errBody(model.ErrMsgDomain)}},
		{"referer of a linked domain", req(tile(f.linked), "Referer", "https://mysite.tn/map?x=1"), allowed},
		{"referer of another domain", req(tile(f.linked), "Referer", "https://evil.com/page"), result{403, errBody(model.ErrMsgDomain)}},
		{"origin null falls back to referer", req(tile(f.linked), "Origin", "null", "Referer", "https://mysite.tn/"), allowed},
		{"bad origin, good referer", req(tile(f.linked), "Origin", "https://evil.com", "Referer", "https://mysite.tn/"), allowed},
		{"neither origin nor referer", req(tile(f.linked)), allowed},
		{"empty origin counts as absent", req(tile(f.linked), "Origin", ""), allowed},
		{"unrestricted key, any origin", req(tile(f.open), "Origin", "https://evil.com"), allowed},
		{"disabled key", req(tile(f.disabled), "Origin", "https://mysite.tn"), result{401, errBody(model.ErrMsgDisabled)}},
		{"disabled key, no headers", req(tile(f.disabled)), result{401, errBody(model.ErrMsgDisabled)}},
		{"revoked key", req(tile(f.revoked), "Origin", "https://mysite.tn"), result{401, errBody(model.ErrMsgRevoked)}},
		{"revoked key, no headers", req(tile(f.revoked)), result{401, errBody(model.ErrMsgRevoked)}},
		{"missing api_key", req("/v1/tiles/1/2/3.png?style=streets", "Origin", "https://mysite.tn"), result{401, errBody(model.ErrMsgMissingKey)}},
		{"no query at all", req("/v1/tiles/1/2/3.png"), result{401, errBody(model.ErrMsgMissingKey)}},
		{"empty api_key", req("/v1/geocode?api_key=&q=tunis"), result{401, errBody(model.ErrMsgMissingKey)}},
		{"duplicate api_key", req(tile(f.linked) + "&api_key=" + f.linked), result{401, errBody(model.ErrMsgInvalidKey)}},
		{"duplicate api_key, one escaped", req(tile(f.linked) + "&api%5Fkey=" + f.open), result{401, errBody(model.ErrMsgInvalidKey)}},
		{"malformed api_key", req(tile(strings.ToUpper(f.linked))), result{401, errBody(model.ErrMsgInvalidKey)}},
		{"unknown api_key", req(tile(unknown)), result{401, errBody(model.ErrMsgInvalidKey)}},
		{"percent-encoded api_key", req("/x?api_key=" + strings.Replace(f.open, "ak_", "ak%5F", 1)), allowed},
		{"fragment is not part of the key", req(tile(f.open) + "#top"), allowed},
		{"plain http", req(tile(f.open), "X-Forwarded-Proto", "<absent>"), result{403, errBody(model.ErrMsgHTTPSRequired)}},
		{"forwarded http", req(tile(f.open), "X-Forwarded-Proto", "http"), result{403, errBody(model.ErrMsgHTTPSRequired)}},
		{"https checked before the key", req("/x", "X-Forwarded-Proto", "<absent>"), result{403, errBody(model.ErrMsgHTTPSRequired)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := f.authorize(c.r); got != c.want {
				t.Errorf("got %d %s, want %d %s", got.code, got.body, c.want.code, c.want.body)
			}
		})
	}

	t.Run("X-Forwarded-Proto from an untrusted peer is ignored", func(t *testing.T) {
		r := req(tile(f.open))
		r.RemoteAddr = "10.0.0.7:5000"
		if got := f.authorize(r); got != (result{403, errBody(model.ErrMsgHTTPSRequired)}) {
			t.Errorf("got %v", got)
		}
	})
	t.Run("trusted IPv4-mapped peer", func(t *testing.T) {
		r := req(tile(f.open))
		r.RemoteAddr = "[::ffff:127.0.0.1]:5000"
		if got := f.authorize(r); got != allowed {
			t.Errorf("got %v", got)
		}
	})
	t.Run("TLS connection needs no header", func(t *testing.T) {
		r := req(tile(f.open), "X-Forwarded-Proto", "<absent>")
		r.RemoteAddr = "203.0.113.9:5000"
		r.TLS = &tls.ConnectionState{}
		if got := f.authorize(r); got != allowed {
			t.Errorf("got %v", got)
		}
	})
	t.Run("own query without X-Original-URI", func(t *testing.T) {
		r := req("", "X-Original-URI", "<absent>")
		r.URL.RawQuery = "api_key=" + f.linked
		r.Header.Set("Referer", "https://localhost/")
		if got := f.authorize(r); got != allowed {
			t.Errorf("got %v", got)
		}
	})
	t.Run("allowed names the key id, never the secret", func(t *testing.T) {
		w := httptest.NewRecorder()
		f.g.AuthorizeHandler().ServeHTTP(w, req(tile(f.linked), "Origin", "https://mysite.tn"))
		if got := w.Header().Get(HeaderKeyID); got != f.linkedKey.ID {
			t.Errorf("%s = %q, want %q", HeaderKeyID, got, f.linkedKey.ID)
		}
	})
	t.Run("POST is decided the same way", func(t *testing.T) {
		r := req(tile(f.linked), "Origin", "https://evil.com")
		r.Method = http.MethodPost
		if got := f.authorize(r); got.code != 403 {
			t.Errorf("got %v", got)
		}
	})
}

func TestAllowHTTP(t *testing.T) {
	f := newFixture(t, Options{AllowHTTP: true})
	r := req(tile(f.open), "X-Forwarded-Proto", "<absent>")
	r.RemoteAddr = "10.1.2.3:4000"
	if got := f.authorize(r); got != allowed {
		t.Errorf("AllowHTTP: got %v", got)
	}
	// AllowHTTP changes step 1 only.
	if got := f.authorize(req(tile(f.revoked))); got.code != 401 {
		t.Errorf("revoked with AllowHTTP: got %v", got)
	}
}

func TestNoTrustedProxyMeansNoForwardedProto(t *testing.T) {
	f := newFixture(t, Options{})
	if got := f.authorize(req(tile(f.open))); got != (result{403, errBody(model.ErrMsgHTTPSRequired)}) {
		t.Errorf("got %v", got)
	}
}

// A change in the store reaches the index as soon as its event is applied:
// the very next request sees it.
func TestStoreChangesApplyOnTheNextRequest(t *testing.T) {
	f := newFixture(t, Options{AllowHTTP: true})
	k := f.linkedKey
	fromSite := func() *http.Request { return req(tile(f.linked), "Origin", "https://mysite.tn") }
	fromApp := func() *http.Request { return req(tile(f.linked), "Origin", "https://app.mysite.tn") }

	if got := f.authorize(fromSite()); got != allowed {
		t.Fatalf("before: %v", got)
	}
	f.change(func() error { _, err := f.st.DisableKey(f.ctx, k.ID); return err }, k.ID, status(model.Disabled))
	if got := f.authorize(fromSite()); got != (result{401, errBody(model.ErrMsgDisabled)}) {
		t.Errorf("after disable: %v", got)
	}
	f.change(func() error { _, err := f.st.EnableKey(f.ctx, k.ID); return err }, k.ID, status(model.Active))
	if got := f.authorize(fromSite()); got != allowed {
		t.Errorf("after enable: %v", got)
	}

	if got := f.authorize(fromApp()); got.code != 403 {
		t.Errorf("app.mysite.tn before link: %v", got)
	}
	f.change(func() error { _, err := f.st.LinkKey(f.ctx, k.ID, "app.mysite.tn"); return err },
		k.ID, domains("app.mysite.tn", "localhost", "mysite.tn"))
	if got := f.authorize(fromApp()); got != allowed {
		t.Errorf("after link: %v", got)
	}
	f.change(func() error { _, err := f.st.UnlinkKey(f.ctx, k.ID, "app.mysite.tn"); return err },
		k.ID, domains("localhost", "mysite.tn"))
	if got := f.authorize(fromApp()); got.code != 403 {
		t.Errorf("after unlink: %v", got)
	}

	// Deleting a domain unlinks it from every key (a domain event).
	f.change(func() error { _, err := f.st.DeleteDomain(f.ctx, "localhost"); return err }, k.ID, domains("mysite.tn"))
	if got := f.authorize(req(tile(f.linked), "Origin", "http://localhost:3000")); got.code != 403 {
		t.Errorf("after deleting localhost: %v", got)
	}

	var fresh string
	var nk model.Key
	nk, fresh = f.create("new")
	f.waitKey(nk.ID, status(model.Active))
	if got := f.authorize(req(tile(fresh))); got != allowed {
		t.Errorf("new key: %v", got)
	}

	f.change(func() error { _, err := f.st.RevokeKey(f.ctx, k.ID, k.Name); return err }, k.ID, status(model.Revoked))
	if got := f.authorize(fromSite()); got != (result{401, errBody(model.ErrMsgRevoked)}) {
		t.Errorf("after revoke: %v", got)
	}
}

// Requests racing with revocations: every answer is either allowed (before
// the event) or revoked (after it), and nothing races (go test -race).
func TestConcurrentRequestsDuringRevoke(t *testing.T) {
	f := newFixture(t, Options{AllowHTTP: true})
	k := f.linkedKey
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				d := f.g.Decide(call(tile(f.linked), "Origin", "https://mysite.tn"))
				if d.Status != 200 && d.Error != model.ErrMsgRevoked {
					t.Errorf("unexpected decision %+v", d)
					return
				}
			}
		}()
	}
	f.change(func() error { _, err := f.st.RevokeKey(f.ctx, k.ID, k.Name); return err }, k.ID, status(model.Revoked))
	close(stop)
	wg.Wait()
	if d := f.g.Decide(call(tile(f.linked))); d.Error != model.ErrMsgRevoked {
		t.Errorf("after revoke: %+v", d)
	}
}

func TestMiddleware(t *testing.T) {
	f := newFixture(t, Options{AllowHTTP: true})
	var reached int
	h := f.g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached++
		w.WriteHeader(http.StatusTeapot)
	}))
	do := func(target string, headers ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(`{"q":"tunis"}`))
		for i := 0; i+1 < len(headers); i += 2 {
			r.Header.Set(headers[i], headers[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := do("/geocode?api_key="+f.linked, "Origin", "https://mysite.tn"); w.Code != http.StatusTeapot || reached != 1 {
		t.Errorf("allowed: code %d, reached %d", w.Code, reached)
	}
	w := do("/geocode?api_key="+f.linked, "Origin", "https://evil.com")
	if w.Code != 403 || w.Body.String() != errBody(model.ErrMsgDomain) || w.Header().Get("Content-Type") != "application/json" || reached != 1 {
		t.Errorf("refused: %d %q %q, reached %d", w.Code, w.Body.String(), w.Header().Get("Content-Type"), reached)
	}
	// The middleware reads the request's own query, not X-Original-URI.
	w = do("/geocode", "X-Original-URI", "/x?api_key="+f.open)
	if w.Code != 401 || w.Body.String() != errBody(model.ErrMsgMissingKey) || reached != 1 {
		t.Errorf("missing: %d %q, reached %d", w.Code, w.Body.String(), reached)
	}
}

// What the gate counts is what the store shows after a flush.
func TestUsageFlushedEqualsSent(t *testing.T) {
	f := newFixture(t, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	send := func(n int, r func() *http.Request) {
		for range n {
			f.authorize(r())
		}
	}
	// Hour 09:00 (the clock starts at 09:59:58).
	send(5, func() *http.Request { return req(tile(f.linked), "Origin", "https://mysite.tn") })
	send(3, func() *http.Request { return req(tile(f.linked), "Origin", "https://evil.com") })
	send(2, func() *http.Request { return req(tile(f.linked), "Referer", "https://leak.example/page") })
	send(4, func() *http.Request { return req(tile(f.disabled)) })
	send(6, func() *http.Request { return req(tile(model.NewSecret())) })
	send(1, func() *http.Request { return req(tile(f.linked), "X-Forwarded-Proto", "<absent>") })
	// Hour 10:00, before any flush: both hours stay apart.
	f.clock.Store(t0.Add(5 * time.Second).UnixNano())
	send(7, func() *http.Request { return req(tile(f.linked), "Referer", "http://localhost:8080/") })
	send(1, func() *http.Request { return req(tile(f.linked), "Origin", "https://evil.com") })

	if err := f.g.Flush(f.ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	h9, h10 := t0.Truncate(time.Hour), t0.Truncate(time.Hour).Add(time.Hour)
	usage := func(id string) []store.UsageBucket {
		t.Helper()
		b, err := f.st.Usage(f.ctx, store.UsageQuery{KeyID: id, Since: h9.Add(-time.Hour), Until: h10.Add(2 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	want := []store.UsageBucket{
		{Hour: h9, Allowed: 5, Forbidden: 3 + 2 + 1},
		{Hour: h10, Allowed: 7, Forbidden: 1},
	}
	if got := nonZero(usage(f.linkedKey.ID)); !equalBuckets(got, want) {
		t.Errorf("linked key usage = %+v, want %+v", got, want)
	}
	wantAll := []store.UsageBucket{
		{Hour: h9, Allowed: 5, Unauthorized: 4 + 6, Forbidden: 6},
		{Hour: h10, Allowed: 7, Forbidden: 1},
	}
	if got := nonZero(usage("")); !equalBuckets(got, wantAll) {
		t.Errorf("total usage = %+v, want %+v", got, wantAll)
	}
	hosts, err := f.st.RefusedHosts(f.ctx, f.linkedKey.ID)
	if err != nil {
		t.Fatal(err)
	}
	gotHosts := map[string]uint64{}
	for _, h := range hosts {
		gotHosts[h.Host] = h.Count
	}
	if len(gotHosts) != 2 || gotHosts["evil.com"] != 4 || gotHosts["leak.example"] != 2 {
		t.Errorf("refused hosts = %+v, want evil.com 4, leak.example 2", hosts)
	}
	k, err := f.st.Key(f.ctx, f.linkedKey.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !k.LastUsed.Equal(t0.Add(5 * time.Second)) {
		t.Errorf("last used = %v, want %v", k.LastUsed, t0.Add(5*time.Second))
	}

	// A second flush adds nothing.
	if err := f.g.Flush(f.ctx); err != nil {
		t.Fatal(err)
	}
	if got := nonZero(usage(f.linkedKey.ID)); !equalBuckets(got, want) {
		t.Errorf("after a second flush: %+v", got)
	}
}

func nonZero(b []store.UsageBucket) []store.UsageBucket {
	var out []store.UsageBucket
	for _, x := range b {
		if x.Allowed+x.Unauthorized+x.Forbidden > 0 {
			out = append(out, x)
		}
	}
	return out
}

func equalBuckets(a, b []store.UsageBucket) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Hour.Equal(b[i].Hour) || a[i].Allowed != b[i].Allowed ||
			a[i].Unauthorized != b[i].Unauthorized || a[i].Forbidden != b[i].Forbidden {
			return false
		}
	}
	return true
}

// Run flushes on its period and once more when it stops.
func TestRunFlushesAndFinalFlush(t *testing.T) {
	f := newFixture(t, Options{AllowHTTP: true, FlushEvery: time.Hour})
	for range 3 {
		f.authorize(req(tile(f.open)))
	}
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan error, 1)
	go func() { done <- f.g.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	k, _ := f.st.Keys(f.ctx)
	var id string
	for _, x := range k {
		if x.Name == "server to server" {
			id = x.ID
		}
	}
	b, err := f.st.Usage(f.ctx, store.UsageQuery{KeyID: id, Since: t0.Add(-time.Hour), Until: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if got := nonZero(b); len(got) != 1 || got[0].Allowed != 3 {
		t.Errorf("after Run stopped: %+v, want 3 allowed", got)
	}
}

func TestMetrics(t *testing.T) {
	f := newFixture(t, Options{AllowHTTP: true})
	f.authorize(req(tile(f.linked), "Origin", "https://mysite.tn"))
	f.authorize(req(tile(f.linked), "Origin", "https://evil.com"))
	f.authorize(req(tile(f.revoked)))
	f.authorize(req(tile(f.revoked)))
	if err := f.g.Flush(f.ctx); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	f.g.WriteMetrics(&b)
	out := b.String()
	for _, want := range []string{
		`tmaps_gate_decisions_total{outcome="allowed",reason="origin_matched"} 1`,
		`tmaps_gate_decisions_total{outcome="forbidden",reason="domain_not_authorized"} 1`,
		`tmaps_gate_decisions_total{outcome="unauthorized",reason="key_revoked"} 2`,
		`tmaps_gate_request_duration_seconds_count 4`,
		`tmaps_gate_request_duration_seconds_bucket{le="+Inf"} 4`,
		`tmaps_gate_usage_flush_duration_seconds_count 1`,
		`tmaps_gate_index_keys 4`,
		"# TYPE tmaps_gate_request_duration_seconds histogram",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q:\n%s", want, out)
		}
	}
}

// call builds a request to a protected API route itself, as Middleware and
// Decide see it: the api_key is in its own query.
func call(uri string, headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, uri, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	return r
}
