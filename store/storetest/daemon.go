package storetest

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// DaemonBackend is a store a daemon serves: the data, the operator tokens
// with their roles, and the audit entries that are not changes (refusals).
// The bolt file and the etcd cluster implement it; the remote store does
// not (the daemon it talks to does).
type DaemonBackend interface {
	store.Store
	store.TokenStore
	store.AuditAppender
	store.AlertStore
	store.LeakStore
}

// RunDaemon runs the conformance tests of what a daemon's store adds to
// store.Store, each on a fresh store from open. Run it beside Run.
func RunDaemon(t *testing.T, open func(t *testing.T) DaemonBackend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s DaemonBackend)
	}{
		{"TokenRoles", testTokenRoles},
		{"TokenSetRole", testTokenSetRole},
		{"AppendAudit", testAppendAudit},
		{"Alerts", testAlerts},
		{"AlertDedupRace", testAlertDedupRace},
		{"AlertDeliveries", testAlertDeliveries},
		{"PruneAlerts", testPruneAlerts},
		{"LeakReports", testLeakReports},
		{"LeakDisable", testLeakDisable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

func testTokenRoles(t *testing.T, s DaemonBackend) {
	c := ctx(t)
	for _, r := range model.Roles() {
		tok, secret, err := s.CreateToken(c, "t-"+string(r), r)
		if err != nil {
			t.Fatal(err)
		}
		if tok.Role != r || !strings.HasPrefix(secret, "tm_") {
			t.Fatalf("CreateToken(%s) = %+v", r, tok)
		}
		got, err := s.TokenByDigest(c, model.DigestOf(secret))
		if err != nil || got.Role != r || got.Name != "t-"+string(r) {
			t.Fatalf("TokenByDigest = %+v, %v; want role %s", got, err, r)
		}
	}
	ts := r(s.Tokens(c)).must(t)
	if len(ts) != 3 || ts[0].Role != model.RoleAdmin || ts[1].Role != model.RoleAuditor || ts[2].Role != model.RoleOperator {
		t.Fatalf("Tokens = %+v (by name: t-admin, t-auditor, t-operator)", ts)
	}
	for _, bad := range []model.Role{"", "root", "Admin"} {
		if _, _, err := s.CreateToken(c, "bad", bad); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("CreateToken with role %q: %v, want ErrInvalid", bad, err)
		}
	}
	if len(r(s.Tokens(c)).must(t)) != 3 {
		t.Fatal("a refused CreateToken made a token")
	}
}

func testTokenSetRole(t *testing.T, s DaemonBackend) {
	c := ctx(t)
	_, secret, err := s.CreateToken(c, "ops", model.RoleOperator)
	if err != nil {
		t.Fatal(err)
	}
	tok := r(s.SetTokenRole(c, "ops", model.RoleAuditor)).must(t)
	if tok.Role != model.RoleAuditor || tok.Name != "ops" {
		t.Fatalf("SetTokenRole = %+v", tok)
	}
	if got := r(s.TokenByDigest(c, model.DigestOf(secret))).must(t); got.Role != model.RoleAuditor {
		t.Fatalf("after SetTokenRole the token is %+v", got)
	}
	// Setting the same role again changes nothing and is not audited.
	r(s.SetTokenRole(c, "ops", model.RoleAuditor)).must(t)
	es := r(s.Audit(c, store.AuditQuery{Object: "token:ops"})).must(t)
	if len(es) != 2 || es[0].Action != model.AuditRole || es[0].Before != "operator" || es[0].After != "auditor" || es[0].Actor != Actor {
		t.Fatalf("audit of token:ops = %+v", es)
	}
	if _, err := s.SetTokenRole(c, "nobody", model.RoleAdmin); !errors.Is(err, store.ErrTokenNotFound) {
		t.Fatalf("SetTokenRole(unknown) = %v", err)
	}
	if _, err := s.SetTokenRole(c, "ops", "superuser"); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("SetTokenRole(bad role) = %v", err)
	}
	if got := r(s.TokenByDigest(c, model.DigestOf(secret))).must(t); got.Role != model.RoleAuditor {
		t.Fatalf("a refused SetTokenRole changed the role to %q", got.Role)
	}
}

func testAppendAudit(t *testing.T, s DaemonBackend) {
	c := ctx(t)
	k, _ := createKey(t, s, "web")
	if err := s.AppendAudit(c, model.AuditRefused, "key:"+k.ID, "", string(model.OpKeysRevoke)); err != nil {
		t.Fatal(err)
	}
	es := r(s.Audit(c, store.AuditQuery{Object: "key:" + k.ID})).must(t)
	if len(es) != 2 || es[0].Action != model.AuditRefused || es[0].After != "keys.revoke" || es[0].Actor != Actor || es[0].Seq <= es[1].Seq {
		t.Fatalf("audit after AppendAudit = %+v", es)
	}
	if got := r(s.Key(c, k.ID)).must(t); got.Status != model.Active || got.Name != "web" {
		t.Fatalf("AppendAudit changed the key: %+v", got)
	}
}

func newAlert(kind model.AlertKind, keyID string, at time.Time) model.Alert {
	return model.Alert{ID: model.NewAlertID(), Kind: kind, Time: at, KeyID: keyID, KeyName: "web",
		KeyPrefix: "ak_01234567", Summary: "x", Count: 42, TopHosts: []model.HostCount{{Host: "evil.example", Count: 40}},
		Dedup: model.AlertDedup(kind, keyID, at)}
}

func testAlerts(t *testing.T, s DaemonBackend) {
	c := ctx(t)
	events, err := s.Watch(c)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour)
	a1 := newAlert(model.AlertSpike, "k1", base.Add(5*time.Minute))
	got, added, err := s.AddAlert(c, a1)
	if err != nil || !added || got.ID != a1.ID || got.Dedup != a1.Dedup || !got.Time.Equal(a1.Time) || got.Count != 42 ||
		len(got.TopHosts) != 1 || got.TopHosts[0].Host != "evil.example" {
		t.Fatalf("AddAlert = %+v, %v, %v", got, added, err)
	}
	waitEvent(t, events, "the alert", func(ev store.Event) bool { return ev.Kind == store.EventAlert && ev.ID == a1.ID })
	// The same condition in the same hour is not added again.
	dup := newAlert(model.AlertSpike, "k1", base.Add(50*time.Minute))
	got, added, err = s.AddAlert(c, dup)
	if err != nil || added || got.ID != a1.ID {
		t.Fatalf("duplicate AddAlert = %+v, %v, %v; want the first alert", got, added, err)
	}
	// Another hour, another key or another condition is a new alert.
	a2 := newAlert(model.AlertSpike, "k1", base.Add(time.Hour+time.Minute))
	a3 := newAlert(model.AlertRefused, "k1", base.Add(time.Hour+2*time.Minute))
	a4 := newAlert(model.AlertSpike, "k2", base.Add(2*time.Hour))
	for _, a := range []model.Alert{a2, a3, a4} {
		if _, added, err := s.AddAlert(c, a); err != nil || !added {
			t.Fatalf("AddAlert(%s) = %v, %v", a.Dedup, added, err)
		}
	}
	ids := func(as []model.Alert) string {
		var out []string
		for _, a := range as {
			out = append(out, a.ID)
		}
		return strings.Join(out, ",")
	}
	all := r(s.Alerts(c, store.AlertQuery{})).must(t)
	if ids(all) != ids([]model.Alert{a4, a3, a2, a1}) {
		t.Fatalf("Alerts = %s, want newest first %s", ids(all), ids([]model.Alert{a4, a3, a2, a1}))
	}
	if got := r(s.Alerts(c, store.AlertQuery{KeyID: "k1", Limit: 2})).must(t); ids(got) != ids([]model.Alert{a3, a2}) {
		t.Fatalf("Alerts(k1, limit 2) = %s", ids(got))
	}
	if got := r(s.Alerts(c, store.AlertQuery{Since: base.Add(time.Hour)})).must(t); ids(got) != ids([]model.Alert{a4, a3, a2}) {
		t.Fatalf("Alerts(since) = %s", ids(got))
	}
	for _, bad := range []model.Alert{{Kind: model.AlertSpike, Time: base}, {ID: model.NewAlertID(), Time: base}} {
		if _, _, err := s.AddAlert(c, bad); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("AddAlert(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	if es := r(s.Audit(c, store.AuditQuery{})).must(t); len(es) != 0 {
		t.Fatalf("alerts wrote audit entries: %+v", es)
	}
}

// testAlertDedupRace: nodes racing to record the same condition record
// it once.
func testAlertDedupRace(t *testing.T, s DaemonBackend) {
	c := ctx(t)
	at := time.Now().UTC()
	var wg sync.WaitGroup
	var added atomic.Int32
	for range 8 {
		wg.Go(func() {
			if _, ok, err := s.AddAlert(c, newAlert(model.AlertLeak, "k1", at)); err != nil {
				t.Error(err)
			} else if ok {
				added.Add(1)
			}
		})
	}
	wg.Wait()
	if n := added.Load(); n != 1 {
		t.Fatalf("%d of 8 racing AddAlert calls added the alert, want 1", n)
	}
	if got := r(s.Alerts(c, store.AlertQuery{})).must(t); len(got) != 1 {
		t.Fatalf("%d alerts stored", len(got))
	}
}

func testAlertDeliveries(t *testing.T, s DaemonBackend) {
	c := ctx(t)
	a, _, err := s.AddAlert(c, newAlert(model.AlertLeak, "k1", time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	next := time.Now().Add(time.Minute).UTC().Truncate(time.Millisecond)
	if err := s.SetAlertDelivery(c, a.ID, model.Delivery{Target: "t1", Attempts: 1, Next: next, LastError: "503"}); err != nil {
		t.Fatal(err)
	}
	done := time.Now().UTC().Truncate(time.Millisecond)
	if err := s.SetAlertDelivery(c, a.ID, model.Delivery{Target: "t2", Attempts: 1, Delivered: done}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAlertDelivery(c, a.ID, model.Delivery{Target: "t1", Attempts: 2, Delivered: done}); err != nil {
		t.Fatal(err)
	}
	got := r(s.Alerts(c, store.AlertQuery{})).must(t)
	if len(got) != 1 || len(got[0].Deliveries) != 2 {
		t.Fatalf("deliveries = %+v", got)
	}
	d1, ok1 := got[0].Delivery("t1")
	d2, ok2 := got[0].Delivery("t2")
	if !ok1 || !ok2 || d1.Attempts != 2 || !d1.Delivered.Equal(done) || !d1.Done() || d2.Attempts != 1 || !d2.Done() {
		t.Fatalf("deliveries = %+v", got[0].Deliveries)
	}
	if err := s.SetAlertDelivery(c, "al0000000000000000", model.Delivery{Target: "t1"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetAlertDelivery(unknown) = %v", err)
	}
	if err := s.SetAlertDelivery(c, a.ID, model.Delivery{}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("SetAlertDelivery(no target) = %v", err)
	}
}

func testPruneAlerts(t *testing.T, s DaemonBackend) {
	c := ctx(t)
	now := time.Now().UTC()
	old := newAlert(model.AlertSpike, "k1", now.Add(-40*24*time.Hour))
	recent := newAlert(model.AlertSpike, "k1", now.Add(-time.Hour))
	for _, a := range []model.Alert{old, recent} {
		if _, _, err := s.AddAlert(c, a); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PruneAlerts(c, now.Add(-30*24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("PruneAlerts = %d, %v", n, err)
	}
	got := r(s.Alerts(c, store.AlertQuery{})).must(t)
	if len(got) != 1 || got[0].ID != recent.ID {
		t.Fatalf("after prune: %+v", got)
	}
	// The pruned alert's condition can be recorded again.
	again := old
	again.ID = model.NewAlertID()
	if _, added, err := s.AddAlert(c, again); err != nil || !added {
		t.Fatalf("re-adding a pruned condition: %v, %v", added, err)
	}
}

func testLeakReports(t *testing.T, s DaemonBackend) {
	c := store.WithActor(ctx(t), "leak-report")
	a, secretA := createKey(t, s, "web")
	rk, secretR := createKey(t, s, "old")
	r(s.RevokeKey(c, rk.ID, "old")).must(t)
	other, _ := createKey(t, s, "untouched")
	unknown := model.DigestOf(model.NewSecret())
	url := "https://github.com/octo/app/blob/0123/.env"
	auditBefore := len(r(s.Audit(c, store.AuditQuery{})).must(t))

	// Unknown secrets only: nothing at all.
	res := r(s.ReportLeaks(c, []model.Leak{{Digest: unknown, URL: url}}, false)).must(t)
	if len(res) != 0 || len(r(s.Audit(c, store.AuditQuery{})).must(t)) != auditBefore || len(r(s.Alerts(c, store.AlertQuery{})).must(t)) != 0 {
		t.Fatalf("a report of unknown secrets left a trace: %+v", res)
	}

	report := []model.Leak{
		{Digest: model.DigestOf(secretA), URL: url, Source: "content"},
		{Digest: unknown, URL: "https://example.com/x"},
		{Digest: model.DigestOf(secretR), URL: "https://gist.github.com/x\x1b[31m", Source: "gist"},
	}
	res = r(s.ReportLeaks(c, report, false)).must(t)
	if len(res) != 2 || res[0].Key.ID != a.ID || !res[0].New || res[0].Disabled || res[1].Key.ID != rk.ID || !res[1].New {
		t.Fatalf("ReportLeaks = %+v", res)
	}
	ka := r(s.Key(c, a.ID)).must(t)
	if ka.Leaked.IsZero() || ka.LeakURL != url || ka.Status != model.Active || !res[0].Key.Leaked.Equal(ka.Leaked) {
		t.Fatalf("leaked key: %+v", ka)
	}
	if kr := r(s.Key(c, rk.ID)).must(t); kr.Leaked.IsZero() || kr.Status != model.Revoked || strings.ContainsRune(kr.LeakURL, 0x1b) {
		t.Fatalf("leaked revoked key: %+v (the URL must be escaped)", kr)
	}
	if ko := r(s.Key(c, other.ID)).must(t); !ko.Leaked.IsZero() || ko.LeakURL != "" {
		t.Fatalf("a key not in the report is marked: %+v", ko)
	}
	es := r(s.Audit(c, store.AuditQuery{Object: "key:" + a.ID})).must(t)
	if es[0].Action != model.AuditLeak || es[0].After != url || es[0].Actor != "leak-report" {
		t.Fatalf("leak audit: %+v", es[0])
	}
	as := r(s.Alerts(c, store.AlertQuery{})).must(t)
	if len(as) != 2 {
		t.Fatalf("%d alerts after the report, want 2", len(as))
	}
	for _, al := range as {
		if al.Kind != model.AlertLeak || (al.KeyID == a.ID && (al.URL != url || al.Source != "content" || al.KeyPrefix != a.Prefix)) {
			t.Fatalf("leak alert: %+v", al)
		}
	}
	auditAfter := len(r(s.Audit(c, store.AuditQuery{})).must(t))

	// The same report again changes nothing.
	res = r(s.ReportLeaks(c, report, false)).must(t)
	if len(res) != 2 || res[0].New || res[1].New {
		t.Fatalf("replayed report: %+v", res)
	}
	if n := len(r(s.Audit(c, store.AuditQuery{})).must(t)); n != auditAfter {
		t.Fatalf("a replayed report wrote %d audit entries", n-auditAfter)
	}
	if n := len(r(s.Alerts(c, store.AlertQuery{})).must(t)); n != 2 {
		t.Fatalf("a replayed report added alerts: %d", n)
	}
	if again := r(s.Key(c, a.ID)).must(t); !again.Leaked.Equal(ka.Leaked) || again.LeakURL != url {
		t.Fatalf("replay changed the key: %+v", again)
	}

	// Another place: the URL follows, the first time stays.
	url2 := "https://github.com/octo/app/blob/4567/config.js?" + strings.Repeat("x", 3000)
	res = r(s.ReportLeaks(c, []model.Leak{{Digest: model.DigestOf(secretA), URL: url2}}, false)).must(t)
	k2 := r(s.Key(c, a.ID)).must(t)
	if len(res) != 1 || !res[0].New || !k2.Leaked.Equal(ka.Leaked) || len(k2.LeakURL) != model.MaxLeakURL || !strings.HasPrefix(url2, k2.LeakURL) {
		t.Fatalf("second place: %+v; key %q", res, k2.LeakURL)
	}
}

func testLeakDisable(t *testing.T, s DaemonBackend) {
	c := store.WithActor(ctx(t), "leak-report")
	a, secretA := createKey(t, s, "web")
	d, secretD := createKey(t, s, "paused")
	r(s.DisableKey(c, d.ID)).must(t)
	res := r(s.ReportLeaks(c, []model.Leak{{Digest: model.DigestOf(secretA), URL: "u1"}, {Digest: model.DigestOf(secretD), URL: "u2"}}, true)).must(t)
	if len(res) != 2 || !res[0].Disabled || res[0].Key.Status != model.Disabled || res[1].Disabled {
		t.Fatalf("ReportLeaks(disable) = %+v", res)
	}
	ka := r(s.Key(c, a.ID)).must(t)
	if ka.Status != model.Disabled || ka.Leaked.IsZero() {
		t.Fatalf("key after a leak with disable: %+v", ka)
	}
	es := r(s.Audit(c, store.AuditQuery{Object: "key:" + a.ID})).must(t)
	if len(es) < 2 || es[0].Action != "disable" || es[1].Action != model.AuditLeak {
		t.Fatalf("audit: %+v", es)
	}
	var leakAlert model.Alert
	for _, al := range r(s.Alerts(c, store.AlertQuery{KeyID: a.ID})).must(t) {
		if al.Kind == model.AlertLeak {
			leakAlert = al
		}
	}
	if !leakAlert.Disabled {
		t.Fatalf("the leak alert does not say the key was disabled: %+v", leakAlert)
	}
	// The key can be enabled again by an operator; a replay does not
	// disable it a second time.
	r(s.EnableKey(c, a.ID)).must(t)
	res = r(s.ReportLeaks(c, []model.Leak{{Digest: model.DigestOf(secretA), URL: "u1"}}, true)).must(t)
	if len(res) != 1 || res[0].New || res[0].Disabled || r(s.Key(c, a.ID)).must(t).Status != model.Active {
		t.Fatalf("replay after enabling: %+v", res)
	}
}
