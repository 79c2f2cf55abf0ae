package remote_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/server"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
	"github.com/tmaps/console/store/remote"
	"github.com/tmaps/console/store/storetest"
)

// backend is a bolt store served by the management API.
type backend struct {
	st     *bolt.Store
	srv    *server.Server
	tokens memTokens
	token  string
}

// memTokens is a read-only token store for the tests.
type memTokens map[model.Digest]store.Token

func (m memTokens) CreateToken(context.Context, string, model.Role) (store.Token, string, error) {
	return store.Token{}, "", errors.New("read-only")
}
func (m memTokens) SetTokenRole(context.Context, string, model.Role) (store.Token, error) {
	return store.Token{}, errors.New("read-only")
}
func (m memTokens) Tokens(context.Context) ([]store.Token, error) { return nil, nil }
func (m memTokens) RevokeToken(context.Context, string) error     { return errors.New("read-only") }
func (m memTokens) TokenByDigest(_ context.Context, d model.Digest) (store.Token, error) {
	if t, ok := m[d]; ok {
		return t, nil
	}
	return store.Token{}, store.ErrTokenNotFound
}

func newBackend(t *testing.T, trustActor bool) *backend {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "remote.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// The tokens live apart from the store, so that the conformance suite
	// starts from a store with an empty audit log.
	tokens := memTokens{}
	token := "tm_" + model.NewSecret()[3:]
	tokens[model.DigestOf(token)] = store.Token{Name: "remote-test", Prefix: token[:11], Digest: model.DigestOf(token), Role: model.RoleAdmin}
	srv, err := server.New(st, server.Options{Tokens: tokens, TrustActorHeader: trustActor, Heartbeat: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return &backend{st: st, srv: srv, tokens: tokens, token: token}
}

func serve(t *testing.T, b *backend) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(b.srv.Handler())
	ts.Config.RegisterOnShutdown(b.srv.Close)
	t.Cleanup(ts.Close)
	return ts
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		b := newBackend(t, true)
		ts := serve(t, b)
		s, err := remote.New(ts.URL, b.token, remote.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestActorIsTokenNameByDefault(t *testing.T) {
	b := newBackend(t, false)
	ts := serve(t, b)
	s, err := remote.New(ts.URL, b.token, remote.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := store.WithActor(context.Background(), "mallory-claims-to-be-alice")
	k, _, err := s.CreateKey(ctx, "k", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	es, err := s.Audit(ctx, store.AuditQuery{Object: "key:" + k.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Actor != "remote-test" {
		t.Fatalf("audit = %+v, want one entry by the token's name remote-test", es)
	}
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	s, err := remote.New("http://"+addr, "tm_00000000000000000000000000000000", remote.Options{RetryDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Keys(context.Background())
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Keys: %v, want ErrUnavailable", err)
	}
	for _, want := range []string{"cannot reach the tmaps API at http://" + addr, "is `tmaps serve` running?"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not say %q", err, want)
		}
	}
	if _, err := s.Watch(context.Background()); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Watch: %v, want ErrUnavailable", err)
	}
}

func TestBadTokenAndBadURL(t *testing.T) {
	b := newBackend(t, false)
	ts := serve(t, b)
	s, err := remote.New(ts.URL, "tm_ffffffffffffffffffffffffffffffff", remote.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Keys(context.Background())
	if !errors.Is(err, remote.ErrUnauthorized) || !strings.Contains(err.Error(), "TMAPS_TOKEN") {
		t.Fatalf("Keys with a wrong token: %v", err)
	}
	if strings.Contains(err.Error(), "tm_ffff") {
		t.Fatal("the error repeats the token")
	}
	for _, u := range []string{"", "localhost:8443", "ftp://x", "http://", "http://u:p@host"} {
		if _, err := remote.New(u, "tm_x", remote.Options{}); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
	if _, err := remote.New(ts.URL, " ", remote.Options{}); err == nil || !strings.Contains(err.Error(), "TMAPS_TOKEN") {
		t.Errorf("New without a token: %v", err)
	}
}

// flaky drops the first n connections' requests without an answer.
func flaky(next http.Handler, n int32, hits *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) <= n {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		next.ServeHTTP(w, r)
	})
}

func TestReadsRetryWritesDoNot(t *testing.T) {
	b := newBackend(t, false)
	var hits atomic.Int32
	ts := httptest.NewServer(flaky(b.srv.Handler(), 2, &hits))
	defer ts.Close()
	s, err := remote.New(ts.URL, b.token, remote.Options{RetryDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Keys(context.Background()); err != nil {
		t.Fatalf("Keys after two dropped connections: %v", err)
	}
	if hits.Load() != 3 {
		t.Fatalf("%d requests, want 3 (two retries)", hits.Load())
	}

	hits.Store(0)
	_, _, err = s.CreateKey(context.Background(), "once", model.Policy{})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("CreateKey on a dropped connection: %v, want ErrUnavailable", err)
	}
	if hits.Load() != 1 {
		t.Fatalf("a write was sent %d times", hits.Load())
	}
	keys, _ := b.st.Keys(context.Background())
	if len(keys) != 0 {
		t.Fatalf("keys: %+v", keys)
	}
}

func TestWatchReconnectsWithResync(t *testing.T) {
	b := newBackend(t, false)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	hs := &http.Server{Handler: b.srv.Handler()}
	go hs.Serve(ln)

	s, err := remote.New("http://"+addr, b.token, remote.Options{ReconnectDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ch, err := s.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	k, _, err := b.st.CreateKey(ctx, "before", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	next := func(what string) store.Event {
		t.Helper()
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("channel closed waiting for %s", what)
			}
			return ev
		case <-ctx.Done():
			t.Fatalf("no event: %s", what)
		}
		return store.Event{}
	}
	if ev := next("create"); ev.Kind != store.EventKey || ev.ID != k.ID {
		t.Fatalf("first event %+v", ev)
	}

	// The daemon goes away and comes back on the same address.
	hs.Close()
	time.Sleep(50 * time.Millisecond)
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv2, err := server.New(b.st, server.Options{Tokens: b.tokens})
	if err != nil {
		t.Fatal(err)
	}
	hs2 := &http.Server{Handler: srv2.Handler()}
	go hs2.Serve(ln2)
	defer hs2.Close()

	ev := next("resync")
	if ev.Kind == store.EventOffline { // the daemon was away for 50 ms
		ev = next("resync")
	}
	if ev.Kind != store.EventResync {
		t.Fatalf("after the reconnect: %+v, want resync", ev)
	}
	k2, _, err := b.st.CreateKey(ctx, "after", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if ev := next("create after reconnect"); ev.Kind != store.EventKey || ev.ID != k2.ID {
		t.Fatalf("after the reconnect: %+v", ev)
	}
	cancel()
	for range ch {
	}
}

// TestWatchSaysOffline: when the daemon is gone the stream says so at once
// (EventOffline, so a console can mark its data stale), keeps trying, and
// says EventResync once the daemon is back. Before this, a console showed
// old data as if live.
func TestWatchSaysOffline(t *testing.T) {
	b := newBackend(t, false)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	hs := &http.Server{Handler: b.srv.Handler()}
	go hs.Serve(ln)

	s, err := remote.New("http://"+addr, b.token, remote.Options{ReconnectDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ch, err := s.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	next := func(what string) store.Event {
		t.Helper()
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("channel closed waiting for %s", what)
			}
			return ev
		case <-time.After(5 * time.Second):
			t.Fatalf("no event after 5s: %s", what)
		}
		return store.Event{}
	}
	hs.Close()
	if ev := next("offline"); ev.Kind != store.EventOffline {
		t.Fatalf("with the daemon gone: %+v, want offline", ev)
	}
	// It keeps trying: several attempts fail, and no other event comes.
	select {
	case ev := <-ch:
		t.Fatalf("while the daemon is gone: %+v", ev)
	case <-time.After(300 * time.Millisecond):
	}
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	hs2 := &http.Server{Handler: b.srv.Handler()}
	go hs2.Serve(ln2)
	defer hs2.Close()
	if ev := next("resync"); ev.Kind != store.EventResync {
		t.Fatalf("with the daemon back: %+v, want resync", ev)
	}
	cancel()
	for range ch {
	}
}

func TestDigestNeverSecret(t *testing.T) {
	b := newBackend(t, false)
	var bodies []string
	inner := b.srv.Handler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/keys/by-digest" {
			buf := make([]byte, 1024)
			n, _ := r.Body.Read(buf)
			bodies = append(bodies, string(buf[:n]))
			r.Body = http.NoBody
			r2 := r.Clone(r.Context())
			r2.Body = &readCloser{strings.NewReader(string(buf[:n]))}
			inner.ServeHTTP(w, r2)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	defer ts.Close()
	s, err := remote.New(ts.URL, b.token, remote.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	k, secret, err := s.CreateKey(context.Background(), "d", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.KeyByDigest(context.Background(), model.DigestOf(secret))
	if err != nil || got.ID != k.ID || got.Digest != model.DigestOf(secret) {
		t.Fatalf("KeyByDigest = %+v, %v", got, err)
	}
	if len(bodies) != 1 || strings.Contains(bodies[0], secret[3:]) {
		t.Fatalf("the lookup sent %q", bodies)
	}
}

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }

func TestPathSegmentsAreEscaped(t *testing.T) {
	b := newBackend(t, false)
	ts := serve(t, b)
	s, err := remote.New(ts.URL+"/", b.token, remote.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.AddDomain(ctx, "café.tn"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"café.tn", "CAFÉ.tn.", "xn--caf-dma.tn"} {
		d, err := s.Domain(ctx, name)
		if err != nil || d.Name != "xn--caf-dma.tn" {
			t.Fatalf("Domain(%q) = %+v, %v", name, d, err)
		}
	}
	for _, name := range []string{"a/b.tn", "../keys", "x?y", "a%2Fb", "#frag"} {
		if _, err := s.Domain(ctx, name); !errors.Is(err, store.ErrDomainNotFound) {
			t.Errorf("Domain(%q): %v, want ErrDomainNotFound", name, err)
		}
		if _, err := s.Key(ctx, name); !errors.Is(err, store.ErrKeyNotFound) {
			t.Errorf("Key(%q): %v, want ErrKeyNotFound", name, err)
		}
	}
}

// TestRolesOverTheAPI: tokens with roles are made and changed through the
// API by an admin; a refusal comes back as model.ErrForbidden with the
// server's words; WhoAmI says the token's role.
func TestRolesOverTheAPI(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "roles.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := store.WithActor(context.Background(), "setup")
	_, adminSecret, err := st.CreateToken(c, "root", model.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(st, server.Options{Tokens: st})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	admin, err := remote.New(ts.URL, adminSecret, remote.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if w, err := admin.WhoAmI(c); err != nil || w.Role != model.RoleAdmin || w.Token != "root" {
		t.Fatalf("WhoAmI = %+v, %v", w, err)
	}
	tok, secret, err := admin.CreateToken(c, "dash", model.RoleAuditor)
	if err != nil || tok.Role != model.RoleAuditor {
		t.Fatalf("CreateToken = %+v, %v", tok, err)
	}
	if _, _, err := admin.CreateToken(c, "bad", "root"); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("CreateToken with a bad role: %v", err)
	}
	auditor, err := remote.New(ts.URL, secret, remote.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer auditor.Close()
	if w, err := auditor.WhoAmI(c); err != nil || w.Role != model.RoleAuditor {
		t.Fatalf("auditor WhoAmI = %+v, %v", w, err)
	}
	_, _, err = auditor.CreateKey(c, "x", model.Policy{})
	if !errors.Is(err, model.ErrForbidden) || err.Error() != "forbidden: auditor cannot create keys" {
		t.Fatalf("auditor CreateKey: %v", err)
	}
	if _, err := auditor.Tokens(c); !errors.Is(err, model.ErrForbidden) {
		t.Fatalf("auditor Tokens: %v", err)
	}
	if tok, err := admin.SetTokenRole(c, "dash", model.RoleOperator); err != nil || tok.Role != model.RoleOperator {
		t.Fatalf("SetTokenRole = %+v, %v", tok, err)
	}
	if _, _, err := auditor.CreateKey(c, "now allowed", model.Policy{}); err != nil {
		t.Fatalf("after promotion: %v", err)
	}
	if _, err := admin.SetTokenRole(c, "nobody", model.RoleOperator); !errors.Is(err, store.ErrTokenNotFound) {
		t.Fatalf("SetTokenRole(unknown): %v", err)
	}
}

// TestAlertsOverTheAPI: the alert history, with its deliveries, reads the
// same through GET /v1/alerts.
func TestAlertsOverTheAPI(t *testing.T) {
	b := newBackend(t, false)
	ts := serve(t, b)
	s, err := remote.New(ts.URL, b.token, remote.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	a := model.Alert{ID: model.NewAlertID(), Kind: model.AlertRefused, Time: now, KeyID: "k1", KeyName: "web", KeyPrefix: "ak_01234567",
		Summary: "burst", Count: 150, TopHosts: []model.HostCount{{Host: "evil.example", Count: 140}}, Dedup: model.AlertDedup(model.AlertRefused, "k1", now)}
	if _, _, err := b.st.AddAlert(c, a); err != nil {
		t.Fatal(err)
	}
	if err := b.st.SetAlertDelivery(c, a.ID, model.Delivery{Target: "hooks.example.tn 0a1b2c3d", Attempts: 2, Delivered: now}); err != nil {
		t.Fatal(err)
	}
	old := a
	old.ID, old.Time, old.KeyID, old.Dedup = model.NewAlertID(), now.Add(-48*time.Hour), "k2", "x"
	if _, _, err := b.st.AddAlert(c, old); err != nil {
		t.Fatal(err)
	}
	got, err := s.Alerts(c, store.AlertQuery{Since: now.Add(-time.Hour)})
	if err != nil || len(got) != 1 {
		t.Fatalf("Alerts = %+v, %v", got, err)
	}
	g := got[0]
	if g.ID != a.ID || g.Kind != a.Kind || !g.Time.Equal(a.Time) || g.Count != 150 || len(g.TopHosts) != 1 || g.TopHosts[0].Host != "evil.example" ||
		len(g.Deliveries) != 1 || g.Deliveries[0].Attempts != 2 || !g.Deliveries[0].Delivered.Equal(now) {
		t.Fatalf("Alerts over the API = %+v", g)
	}
	if got, err := s.Alerts(c, store.AlertQuery{KeyID: "k2"}); err != nil || len(got) != 1 || got[0].ID != old.ID {
		t.Fatalf("Alerts(k2) = %+v, %v", got, err)
	}
}
