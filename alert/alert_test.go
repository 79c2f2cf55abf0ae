package alert

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func openStore(t *testing.T, c *clock) *bolt.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "a.db"), bolt.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// receiver is a webhook receiver that checks each signature and can be
// down (503) or up.
type receiver struct {
	t    *testing.T
	srv  *httptest.Server
	now  func() time.Time
	down atomic.Bool

	mu       sync.Mutex
	received []model.Alert // delivered (2xx) bodies, in order
	attempts int
	badSig   int
}

func newReceiver(t *testing.T, now func() time.Time) *receiver {
	r := &receiver{t: t, now: now}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.attempts++
		if err := Verify(secret, req.Header.Get(SignatureHeader), body, r.now(), DefaultTolerance); err != nil {
			r.badSig++
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if r.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		var a model.Alert
		if err := json.Unmarshal(body, &a); err != nil || a.ID != req.Header.Get(IDHeader) || string(a.Kind) != req.Header.Get(KindHeader) {
			r.t.Errorf("webhook body %s, headers %v: %v", body, req.Header, err)
		}
		r.received = append(r.received, a)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) got() ([]model.Alert, int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]model.Alert(nil), r.received...), r.attempts, r.badSig
}

func TestSignVerify(t *testing.T) {
	now := time.Unix(1767225600, 0)
	body := []byte(`{"id":"al0123","kind":"spike"}`)
	h := Sign(secret, now, body)
	if !strings.HasPrefix(h, "t=1767225600,v1=") || len(h) != len("t=1767225600,v1=")+64 {
		t.Fatalf("header %q", h)
	}
	if err := Verify(secret, h, body, now.Add(time.Minute), DefaultTolerance); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		secret []byte
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		"other body":   {secret, h, []byte(`{"id":"al0123","kind":"leak"}`), now, ErrBadSignature},
		"other secret": {[]byte("another secret of 32 characters"), h, body, now, ErrBadSignature},
		"time changed": {secret, strings.Replace(h, "t=1767225600", "t=1767225601", 1), body, now, ErrBadSignature},
		"no v1":        {secret, "t=1767225600", body, now, ErrBadSignature},
		"garbage":      {secret, "nonsense", body, now, ErrBadSignature},
		"replayed":     {secret, h, body, now.Add(10 * time.Minute), ErrStale},
		"from future":  {secret, h, body, now.Add(-10 * time.Minute), ErrStale},
	} {
		if err := Verify(c.secret, c.header, c.body, c.now, DefaultTolerance); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

func TestCheckWebhook(t *testing.T) {
	for _, ok := range []string{"https://hooks.example.tn/tmaps", "http://127.0.0.1:9000/x", "http://localhost/x", "http://[::1]:80/"} {
		if err := CheckWebhook(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "hooks.example.tn", "ftp://x/", "http://hooks.example.tn/", "https://user:pw@hooks.example.tn/"} {
		if err := CheckWebhook(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := New(openStore(t, &clock{t: time.Now()}), Config{Webhooks: []string{"https://x.tn/"}}); err == nil {
		t.Error("webhooks without a secret accepted")
	}
	name := TargetName("https://hooks.example.tn/T0KEN/secret?sig=abc")
	if !strings.HasPrefix(name, "hooks.example.tn ") || strings.Contains(name, "T0KEN") || strings.Contains(name, "abc") {
		t.Errorf("TargetName = %q", name)
	}
}

// TestFindConditions: each condition gives one alert, and finding again in
// the same hour gives no other.
func TestFindConditions(t *testing.T) {
	c := &clock{t: time.Date(2026, 5, 10, 14, 30, 0, 0, time.UTC)}
	st := openStore(t, c)
	ctx := store.WithActor(context.Background(), "ops")
	mk := func(name string, p model.Policy) model.Key {
		k, _, err := st.CreateKey(ctx, name, p)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	spiky := mk("spiky", model.Policy{})
	burst := mk("burst", model.Policy{})
	expiring := mk("expiring", model.Policy{Expires: c.Now().Add(3 * 24 * time.Hour)})
	later := mk("later", model.Policy{Expires: c.Now().Add(30 * 24 * time.Hour)})
	revoked := mk("revoked", model.Policy{})
	disabled := mk("disabled", model.Policy{})
	mk("quiet", model.Policy{})
	if _, err := st.RevokeKey(ctx, revoked.ID, "revoked"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DisableKey(ctx, disabled.ID); err != nil {
		t.Fatal(err)
	}
	now := c.Now()
	hour := now.Truncate(time.Hour)
	var deltas []store.UsageDelta
	for h := 1; h <= 5*24; h++ { // five days of 10 requests an hour
		deltas = append(deltas, store.UsageDelta{KeyID: spiky.ID, Hour: hour.Add(-time.Duration(h) * time.Hour), Allowed: 10})
	}
	deltas = append(deltas,
		store.UsageDelta{KeyID: spiky.ID, Hour: hour, Allowed: 500, LastUsed: now},
		store.UsageDelta{KeyID: burst.ID, Hour: hour, Forbidden: 150, LastUsed: now,
			RefusedHosts: map[string]uint64{"evil.example": 120, "bad.example": 20, "a.example": 3, "b.example": 3, "c.example": 2, "d.example": 2}})
	if err := st.RecordUsage(ctx, deltas); err != nil {
		t.Fatal(err)
	}
	s, err := New(st, Config{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.Find(ctx); err != nil {
			t.Fatal(err)
		}
	}
	as, err := st.Alerts(ctx, store.AlertQuery{})
	if err != nil {
		t.Fatal(err)
	}
	byKind := map[model.AlertKind][]model.Alert{}
	for _, a := range as {
		byKind[a.Kind] = append(byKind[a.Kind], a)
	}
	one := func(kind model.AlertKind, k model.Key) model.Alert {
		t.Helper()
		if len(byKind[kind]) != 1 || byKind[kind][0].KeyID != k.ID || byKind[kind][0].KeyName != k.Name || byKind[kind][0].KeyPrefix != k.Prefix {
			t.Fatalf("%s alerts: %+v", kind, byKind[kind])
		}
		return byKind[kind][0]
	}
	if a := one(model.AlertSpike, spiky); a.Count != 500 || a.Usual != 10 || !a.Hour.Equal(hour) {
		t.Errorf("spike: %+v", a)
	}
	a := one(model.AlertRefused, burst)
	if a.Count != 150 || len(a.TopHosts) != TopHosts || a.TopHosts[0] != (model.HostCount{Host: "evil.example", Count: 120}) || !strings.Contains(a.Summary, "evil.example") {
		t.Errorf("burst: %+v", a)
	}
	if a := one(model.AlertExpiring, expiring); !a.Expires.Equal(expiring.Expires) {
		t.Errorf("expiring: %+v", a)
	}
	one(model.AlertRevoked, revoked)
	one(model.AlertDisabled, disabled)
	if len(as) != 5 {
		t.Errorf("%d alerts, want 5 (none for %s, quiet)", len(as), later.Name)
	}

	// The next hour the spike and the burst go on: one more alert each;
	// the status and expiry alerts are not repeated.
	c.Add(time.Hour)
	now = c.Now()
	if err := st.RecordUsage(ctx, []store.UsageDelta{
		{KeyID: spiky.ID, Hour: now.Truncate(time.Hour), Allowed: 600, LastUsed: now},
		{KeyID: burst.ID, Hour: now.Truncate(time.Hour), Forbidden: 200, LastUsed: now},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Find(ctx); err != nil {
		t.Fatal(err)
	}
	as, _ = st.Alerts(ctx, store.AlertQuery{})
	if len(as) != 7 || as[0].Time != now || as[1].Time != now {
		t.Fatalf("after an hour: %d alerts, want 7 (a new spike and burst)", len(as))
	}
}

// TestDeliverRetriesUntilDelivered: a receiver that is down gets the
// alert again with backoff, then exactly once with a good signature once
// up; an alert never delivered is given up after GiveUp.
func TestDeliverRetriesUntilDelivered(t *testing.T) {
	c := &clock{t: time.Now().UTC()}
	st := openStore(t, c)
	ctx := context.Background()
	rcv := newReceiver(t, c.Now)
	rcv.down.Store(true)
	// A second webhook that never answers: connection refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/hook"
	ln.Close()
	s, err := New(st, Config{Webhooks: []string{rcv.srv.URL + "/hook", dead}, Secret: secret, Now: c.Now, RetryMin: time.Second, RetryMax: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	add := func(kind model.AlertKind) model.Alert {
		a, added, err := st.AddAlert(ctx, model.Alert{ID: model.NewAlertID(), Kind: kind, Time: c.Now(), KeyID: "k1", KeyName: "web",
			KeyPrefix: "ak_01234567", Summary: string(kind), Dedup: model.AlertDedup(kind, "k1", c.Now())})
		if err != nil || !added {
			t.Fatal(added, err)
		}
		return a
	}
	a1 := add(model.AlertLeak)
	c.Add(time.Millisecond)
	a2 := add(model.AlertRevoked)
	deliveries := func(a model.Alert) (model.Delivery, model.Delivery) {
		t.Helper()
		as, err := st.Alerts(ctx, store.AlertQuery{})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range as {
			if x.ID == a.ID {
				d1, _ := x.Delivery(TargetName(rcv.srv.URL + "/hook"))
				d2, _ := x.Delivery(TargetName(dead))
				return d1, d2
			}
		}
		t.Fatalf("alert %s gone", a.ID)
		return model.Delivery{}, model.Delivery{}
	}
	pass := func() {
		t.Helper()
		if err := s.Deliver(ctx); err != nil {
			t.Fatal(err)
		}
	}

	pass()
	_, attempts, _ := rcv.got()
	d1, d2 := deliveries(a1)
	if attempts != 1 || d1.Attempts != 1 || d1.LastError != "answered 503 Service Unavailable" || !d1.Next.Equal(c.Now().Add(time.Second)) ||
		d2.Attempts != 1 || !strings.Contains(d2.LastError, "connection refused") {
		t.Fatalf("first pass: %d attempts; %+v; %+v", attempts, d1, d2)
	}
	// The webhook failed: the second alert waits for the next pass.
	if d, _ := deliveries(a2); d.Attempts != 0 {
		t.Fatalf("a down webhook was tried again in the same pass: %+v", d)
	}
	pass() // nothing is due yet for a1; a2 is tried once
	if _, attempts, _ = rcv.got(); attempts != 2 {
		t.Fatalf("attempts before the backoff ended: %d, want 2", attempts)
	}
	// Backoff doubles: 1 s, 2 s, 4 s, capped at 4 s.
	for i, want := range []time.Duration{2 * time.Second, 4 * time.Second, 4 * time.Second} {
		c.Add(time.Hour)
		pass()
		d1, _ = deliveries(a1)
		if d1.Attempts != i+2 || !d1.Next.Equal(c.Now().Add(want)) {
			t.Fatalf("attempt %d: %+v, want the next in %s", i+2, d1, want)
		}
	}
	rcv.down.Store(false)
	c.Add(time.Hour)
	pass()
	pass()
	c.Add(time.Hour)
	pass()
	got, _, bad := rcv.got()
	if bad != 0 || len(got) != 2 || got[0].ID != a1.ID || got[1].ID != a2.ID || got[0].KeyPrefix != "ak_01234567" {
		t.Fatalf("received %+v (bad signatures: %d), want a1 then a2 once each", got, bad)
	}
	d1, d2 = deliveries(a1)
	if !d1.Done() || d1.Delivered.IsZero() || d1.LastError != "" || d2.Done() {
		t.Fatalf("after delivery: %+v; %+v", d1, d2)
	}
	// A day later the dead webhook's deliveries are given up: by a pass
	// while the alert is in its window, else by Expire.
	c.Add(19*time.Hour + 30*time.Minute)
	pass()
	if _, d2 = deliveries(a1); !d2.Failed || !d2.Done() {
		t.Fatalf("after a day: %+v, want failed", d2)
	}
	a3 := add(model.AlertSpike)
	c.Add(3 * 24 * time.Hour)
	pass()
	if err := s.Expire(ctx); err != nil {
		t.Fatal(err)
	}
	if d1, d2 := deliveries(a3); !d1.Failed || !d2.Failed || d1.Attempts != 0 {
		t.Fatalf("after three days away: %+v; %+v, want both failed, never tried", d1, d2)
	}
	if got, _, _ = rcv.got(); len(got) != 2 {
		t.Fatalf("redelivered: %d", len(got))
	}
}

// TestLeaderOnly: a node that does not lead neither finds nor sends; once
// it leads, it does both.
func TestLeaderOnly(t *testing.T) {
	c := &clock{t: time.Now().UTC()}
	st := openStore(t, c)
	ctx := store.WithActor(context.Background(), "ops")
	rcv := newReceiver(t, time.Now)
	var leads atomic.Bool
	s, err := New(st, Config{Webhooks: []string{rcv.srv.URL}, Secret: secret, Now: c.Now, CheckEvery: 20 * time.Millisecond,
		RetryMin: 20 * time.Millisecond, Leader: leads.Load})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(ctx)
	k, _, err := st.CreateKey(ctx, "web", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.RevokeKey(ctx, k.ID, "web"); err != nil {
		t.Fatal(err)
	}
	// Many search periods pass without an alert.
	time.Sleep(300 * time.Millisecond)
	if as, _ := st.Alerts(ctx, store.AlertQuery{}); len(as) != 0 {
		t.Fatalf("a node that does not lead found %d alerts", len(as))
	}
	leads.Store(true)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got, _, _ := rcv.got(); len(got) == 1 && got[0].Kind == model.AlertRevoked && got[0].KeyID == k.ID {
			break
		}
		if time.Now().After(deadline) {
			got, n, _ := rcv.got()
			t.Fatalf("the leader did not send the revoked alert: %+v (%d attempts)", got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestStopFinishesTheAttemptInFlight: stopping while a webhook is
// answering records the delivery, so a restart does not send it again
// (a duplicate seen with the real binary stopped right after a delivery).
func TestStopFinishesTheAttemptInFlight(t *testing.T) {
	c := &clock{t: time.Now().UTC()}
	st := openStore(t, c)
	ctx := context.Background()
	arrived := make(chan struct{})
	answer := make(chan struct{})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		close(arrived)
		<-answer
	}))
	defer srv.Close()
	a, _, err := st.AddAlert(ctx, model.Alert{ID: model.NewAlertID(), Kind: model.AlertRevoked, Time: c.Now(), KeyID: "k1", Dedup: "revoked:k1:x"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(st, Config{Webhooks: []string{srv.URL}, Secret: secret, Now: c.Now, CheckEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	<-arrived
	stopped := make(chan error, 1)
	go func() {
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		stopped <- s.Stop(sctx)
	}()
	// Let Stop cancel the loops (no event to wait on), then answer.
	time.Sleep(50 * time.Millisecond)
	close(answer)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	as, err := st.Alerts(ctx, store.AlertQuery{})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := as[0].Delivery(TargetName(srv.URL))
	if as[0].ID != a.ID || d.Delivered.IsZero() || d.Attempts != 1 || calls.Load() != 1 {
		t.Fatalf("after stopping during the attempt: %+v (%d calls), want it delivered once", d, calls.Load())
	}
}
