package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// Full is a store with every kind of data that `tmaps migrate` moves.
type Full interface {
	store.Store
	store.TokenStore
	store.AlertStore
	store.LeakStore
	store.UsageMaintainer
	store.LastHoster
}

// Fill puts every kind of data into s through its own methods: keys with
// policies, links, a rotation, a revoke and a leak mark; domains; tokens;
// audit entries; hourly usage of today and of 50 days ago (rolled up into
// a daily bucket by MaintainUsage), refused and matched hosts, last uses;
// alerts with a delivery. It returns the secret of one active key.
func Fill(t testing.TB, s Full) string {
	t.Helper()
	c := store.WithActor(context.Background(), Actor)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"mysite.tn", "other.tn", "xn--80ak6aa92e.com"} {
		_, err := s.AddDomain(c, d)
		must(err)
	}
	rate, burst, owner := 5.0, uint32(10), "maps team"
	web, secret, err := s.CreateKey(c, "web", model.Policy{Kind: model.KindBrowser})
	must(err)
	_, err = s.UpdateKey(c, web.ID, model.KeyUpdate{Rate: &rate, Burst: &burst, Owner: &owner})
	must(err)
	_, err = s.LinkKey(c, web.ID, "mysite.tn", "other.tn")
	must(err)
	srv, srvSecret, err := s.CreateKey(c, "server", model.Policy{Kind: model.KindServer})
	must(err)
	_, _, err = s.RotateKey(c, srv.ID, time.Hour)
	must(err)
	old, _, err := s.CreateKey(c, "old", model.Policy{})
	must(err)
	_, err = s.RevokeKey(c, old.ID, "old")
	must(err)
	_, err = s.ReportLeaks(c, []model.Leak{{Digest: model.DigestOf(srvSecret), URL: "https://paste.example/1", Source: "content"}}, false)
	must(err)
	for _, n := range []string{"ops", "audit"} {
		role := model.RoleAdmin
		if n == "audit" {
			role = model.RoleAuditor
		}
		_, _, err := s.CreateToken(c, n, role)
		must(err)
	}
	now := time.Now().UTC()
	hour := now.Truncate(time.Hour)
	past := now.Truncate(24 * time.Hour).Add(-50*24*time.Hour + 7*time.Hour)
	must(s.RecordUsage(c, []store.UsageDelta{
		{KeyID: web.ID, Hour: hour, Allowed: 40, Forbidden: 3, Limited: 1,
			RefusedHosts: map[string]uint64{"evil.tn": 2, "bad.tn": 1}, OtherHosts: 4,
			MatchedHosts: map[string]uint64{"mysite.tn": 30, "www.other.tn": 10}, LastUsed: now, LastHost: "mysite.tn"},
		{KeyID: srv.ID, Hour: hour, Allowed: 5, Unauthorized: 1, LastUsed: now.Add(-time.Minute)},
		{Hour: hour, Unauthorized: 9},
		{KeyID: web.ID, Hour: past, Allowed: 70, RefusedHosts: map[string]uint64{"old.tn": 5}, MatchedHosts: map[string]uint64{"mysite.tn": 70}},
	}))
	_, err = s.MaintainUsage(c, now)
	must(err)
	a, _, err := s.AddAlert(c, model.Alert{ID: model.NewAlertID(), Kind: model.AlertRevoked, Time: now.Add(-time.Minute),
		KeyID: old.ID, KeyName: "old", Summary: "key old was revoked", Dedup: "revoked:" + old.ID})
	must(err)
	must(s.SetAlertDelivery(c, a.ID, model.Delivery{Target: "hooks.example a1b2c3d4", Attempts: 1, Delivered: now.Truncate(time.Second)}))
	return secret
}

// Snapshot is everything s answers about its data, through its own
// methods, as JSON: two stores with equal snapshots hold the same data.
func Snapshot(t testing.TB, s Full) string {
	t.Helper()
	c := context.Background()
	snap := map[string]any{}
	must := func(name string, v any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		snap[name] = v
	}
	keys, err := s.Keys(c)
	must("keys", keys, err)
	doms, err := s.Domains(c)
	must("domains", doms, err)
	audit, err := s.Audit(c, store.AuditQuery{})
	must("audit", audit, err)
	toks, err := s.Tokens(c)
	must("tokens", toks, err)
	alerts, err := s.Alerts(c, store.AlertQuery{})
	must("alerts", alerts, err)
	since := time.Now().Add(-store.DailyRetention)
	tot, err := s.Usage(c, store.UsageQuery{Since: since})
	must("usage total", tot, err)
	for _, k := range keys {
		u, err := s.Usage(c, store.UsageQuery{KeyID: k.ID, Since: since})
		must("usage "+k.Name, u, err)
		r, err := s.RefusedHosts(c, k.ID)
		must("refused "+k.Name, r, err)
		h, err := s.LastHost(c, k.ID)
		must("last host "+k.Name, h, err)
		if lu, ok := s.(store.LinkUsage); ok {
			m, err := lu.MatchedHosts(c, k.ID)
			must("matched "+k.Name, m, err)
		}
	}
	b, err := json.MarshalIndent(snap, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// SnapshotDiff returns "" when two snapshots are equal, else the first
// line that differs.
func SnapshotDiff(a, b string) string {
	if a == b {
		return ""
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			lo := max(0, i-300)
			return fmt.Sprintf("differ at byte %d:\n--- first\n%s\n--- second\n%s", i, a[lo:min(len(a), i+200)], b[lo:min(len(b), i+200)])
		}
	}
	return fmt.Sprintf("one snapshot is longer (%d vs %d bytes)", len(a), len(b))
}
