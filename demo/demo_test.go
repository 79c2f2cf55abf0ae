package demo_test

import (
	"context"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tmaps/console/demo"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
)

func filled(t *testing.T, now time.Time, timed bool) store.Store {
	t.Helper()
	clock := demo.NewClock(func() time.Time { return now })
	st, err := bolt.Open(filepath.Join(t.TempDir(), "demo.db"), bolt.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if timed {
		err = demo.FillTimed(context.Background(), st, now, clock)
	} else {
		err = demo.Fill(context.Background(), st, now)
	}
	if err != nil {
		t.Fatalf("Fill: %v", err)
	}
	return st
}

func TestFillShape(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 9, 40, 0, 0, time.UTC)
	st := filled(t, now, true)

	keys, err := st.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 15 || len(keys) > 22 {
		t.Errorf("got %d keys, want about 19", len(keys))
	}
	count := map[model.Status]int{}
	byName := map[string][]model.Key{}
	unrestrictedActive := 0
	for _, k := range keys {
		count[k.Status]++
		byName[k.Name] = append(byName[k.Name], k)
		if k.Status == model.Active && k.Unrestricted() {
			unrestrictedActive++
		}
		if strings.TrimSpace(k.Name) == "" || len(k.Name) < 5 {
			t.Errorf("unrealistic key name %q", k.Name)
		}
	}
	if count[model.Active] != 14 || count[model.Disabled] != 2 || count[model.Revoked] != 3 {
		t.Errorf("statuses = %v, want 14 active, 2 disabled, 3 revoked", count)
	}
	if unrestrictedActive == 0 {
		t.Error("no Active key without a domain")
	}
	if ks := byName[demo.UnrestrictedKey]; len(ks) != 1 || !ks[0].Unrestricted() || ks[0].Status != model.Active {
		t.Errorf("%s: %+v, want one Active unrestricted key", demo.UnrestrictedKey, ks)
	}
	// The rotation: the old key revoked, replaced by the new Active one.
	pf := byName[demo.SpikeKey]
	if len(pf) != 2 {
		t.Fatalf("%d keys named %q, want 2 (rotated)", len(pf), demo.SpikeKey)
	}
	oldK, newK := pf[0], pf[1]
	if oldK.Status != model.Revoked || newK.Status != model.Active || oldK.ReplacedBy != newK.ID || newK.Replaces != oldK.ID {
		t.Errorf("rotation not recorded: old %+v new %+v", oldK, newK)
	}
	// History spreads over the past: created dates differ by days.
	if d := newK.Created.Sub(keys[0].Created); d < 7*24*time.Hour {
		t.Errorf("created dates span %v, want weeks", d)
	}
	if keys[0].Created.After(now.Add(-29 * 24 * time.Hour)) {
		t.Errorf("oldest key created %v, want about 30 days before %v", keys[0].Created, now)
	}

	ds, err := st.Domains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) < 10 || len(ds) > 14 {
		t.Errorf("got %d domains, want about 12", len(ds))
	}
	var names []string
	idn, unlinked, tn := false, false, 0
	for _, d := range ds {
		names = append(names, d.Name)
		if strings.HasPrefix(d.Name, "xn--") || strings.Contains(d.Name, ".xn--") {
			idn = idn || d.Unicode != d.Name
		}
		if len(d.Keys) == 0 {
			unlinked = true
		}
		if strings.HasSuffix(d.Name, ".tn") {
			tn++
		}
	}
	for _, want := range []string{"localhost", "127.0.0.1", "xn--caf-dma.tn"} {
		if !slices.Contains(names, want) {
			t.Errorf("domain %s missing from %v", want, names)
		}
	}
	if !idn {
		t.Error("no IDN domain with a Unicode form")
	}
	if !unlinked {
		t.Error("no domain without keys (for the obsolete-links report)")
	}
	if tn < 6 {
		t.Errorf("%d .tn domains, want most of them", tn)
	}
	// N:N: a domain with several keys and a key with several domains.
	manyKeys, manyDomains := false, false
	for _, d := range ds {
		manyKeys = manyKeys || len(d.Keys) >= 2
	}
	for _, k := range keys {
		manyDomains = manyDomains || len(k.Domains) >= 2
	}
	if !manyKeys || !manyDomains {
		t.Errorf("links are not N:N: domain with ≥2 keys %v, key with ≥2 domains %v", manyKeys, manyDomains)
	}

	// Audit history by several actors with every kind of change.
	entries, err := st.Audit(ctx, store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	actors, actions := map[string]bool{}, map[string]bool{}
	for _, e := range entries {
		actors[e.Actor] = true
		actions[e.Action] = true
	}
	if len(actors) < 3 {
		t.Errorf("audit actors %v, want several", actors)
	}
	for _, a := range []string{model.AuditCreate, model.AuditRename, model.AuditDisable, model.AuditEnable,
		model.AuditRevoke, model.AuditRotate, model.AuditDomainAdd, model.AuditLink, model.AuditUnlink} {
		if !actions[a] {
			t.Errorf("no %q entry in the audit history", a)
		}
	}
}

func TestFillUsage(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 9, 40, 0, 0, time.UTC)
	st := filled(t, now, true)
	keys, _ := st.Keys(ctx)
	var spike, leaky model.Key
	for _, k := range keys {
		switch {
		case k.Name == demo.SpikeKey && k.Status == model.Active:
			spike = k
		case k.Name == demo.LeakyKey:
			leaky = k
		}
	}
	if spike.ID == "" || leaky.ID == "" {
		t.Fatal("spike or leaky key missing")
	}
	buckets, err := st.Usage(ctx, store.UsageQuery{KeyID: spike.ID, Since: now.Add(-10 * 24 * time.Hour), Until: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(buckets) < 200 {
		t.Fatalf("%d hourly buckets for the spike key over 10 days, want ~240", len(buckets))
	}
	last := buckets[len(buckets)-1]
	if !last.Hour.Equal(now.Truncate(time.Hour)) {
		t.Errorf("last bucket %v, want the current hour %v", last.Hour, now.Truncate(time.Hour))
	}
	var usual []float64
	for _, b := range buckets[:len(buckets)-2] {
		usual = append(usual, float64(b.Allowed))
	}
	sort.Float64s(usual)
	p90 := usual[len(usual)*9/10]
	if float64(last.Allowed) < 4*p90 {
		t.Errorf("last hour %d allowed, usual p90 %.0f: no visible spike", last.Allowed, p90)
	}
	hosts, err := st.RefusedHosts(ctx, leaky.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) < 3 || hosts[0].Count < 100 {
		t.Errorf("refused hosts of %s: %+v, want several with hundreds of requests", demo.LeakyKey, hosts)
	}
	// 30 days of totals, with 401s and 403s as well as allowed requests.
	total, err := st.Usage(ctx, store.UsageQuery{Since: now.Add(-31 * 24 * time.Hour), Until: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var ok, u, f uint64
	for _, b := range total {
		ok, u, f = ok+b.Allowed, u+b.Unauthorized, f+b.Forbidden
	}
	if len(total) < 30*24 || ok == 0 || u == 0 || f == 0 {
		t.Errorf("totals: %d buckets, %d allowed, %d 401, %d 403", len(total), ok, u, f)
	}
}

// The same now gives the same data (names, links, counts), secrets aside.
func TestFillDeterministic(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 9, 40, 0, 0, time.UTC)
	summary := func(st store.Store) (string, []store.UsageBucket) {
		keys, _ := st.Keys(ctx)
		var b strings.Builder
		for _, k := range keys {
			b.WriteString(k.Name + "|" + string(k.Status) + "|" + strings.Join(k.Domains, ",") + "\n")
		}
		u, _ := st.Usage(ctx, store.UsageQuery{Since: now.Add(-31 * 24 * time.Hour), Until: now.Add(time.Hour)})
		return b.String(), u
	}
	s1, u1 := summary(filled(t, now, false))
	s2, u2 := summary(filled(t, now, true))
	if s1 != s2 {
		t.Errorf("keys differ:\n%s\n---\n%s", s1, s2)
	}
	if !slices.Equal(u1, u2) {
		t.Error("usage differs between two fills")
	}
}

func TestClockFollowsRealTimeAfterFill(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 40, 0, 0, time.UTC)
	real := now.Add(time.Minute)
	clock := demo.NewClock(func() time.Time { return real })
	st, err := bolt.Open(filepath.Join(t.TempDir(), "demo.db"), bolt.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := demo.FillTimed(context.Background(), st, now, clock); err != nil {
		t.Fatal(err)
	}
	if got := clock.Now(); !got.Equal(real) {
		t.Errorf("clock after fill = %v, want the real time %v", got, real)
	}
	k, _, err := st.CreateKey(context.Background(), "after the demo", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if !k.Created.Equal(real) {
		t.Errorf("key created at %v after the fill, want %v", k.Created, real)
	}
}

// TestFillPolicies: keys of every kind, one expiring soon, one expired (not
// revoked), one rate-limited with 429s in its last day, one server key with
// an IP allowlist; the hygiene report finds each of them.
func TestFillPolicies(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 9, 40, 0, 0, time.UTC)
	st := filled(t, now, true)
	keys, err := st.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[model.Kind]int{}
	byName := map[string]model.Key{}
	for _, k := range keys {
		kinds[k.Kind]++
		byName[k.Name] = k
	}
	for _, kind := range model.Kinds {
		if kinds[kind] == 0 {
			t.Errorf("no %s key in the demo: %v", kind, kinds)
		}
	}
	office := byName[demo.OfficeKey]
	if office.Kind != model.KindServer || len(office.AllowIPs) == 0 || office.Status != model.Active {
		t.Errorf("%s: %+v, want an active server key with an IP allowlist", demo.OfficeKey, office)
	}
	if k := byName[demo.ExpiredKey]; !k.Expired(now) || k.Status == model.Revoked {
		t.Errorf("%s: %+v, want expired and not revoked", demo.ExpiredKey, k)
	}
	if k := byName[demo.ExpiringKey]; k.Expired(now) || k.Expires.IsZero() || k.Expires.Sub(now) > model.ExpiringSoon {
		t.Errorf("%s expires %v, want within a week of %v", demo.ExpiringKey, k.Expires, now)
	}
	limited := byName[demo.LimitedKey]
	if limited.Rate == 0 {
		t.Fatalf("%s has no rate limit", demo.LimitedKey)
	}
	bs, err := st.Usage(ctx, store.UsageQuery{KeyID: limited.ID, Since: now.Add(-24 * time.Hour), Until: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	day := model.Sum(store.Buckets(bs))
	if day.Limited == 0 || day.Allowed == 0 {
		t.Errorf("%s's last 24 hours: %+v, want 429s and allowed requests", demo.LimitedKey, day)
	}
	for _, b := range bs {
		if b.Allowed > uint64(limited.Rate*3600) {
			t.Errorf("%s allowed %d requests in hour %v, more than its rate limit lets through", demo.LimitedKey, b.Allowed, b.Hour)
		}
	}
	lim, err := store.LimitedLastDay(ctx, st, keys, now)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, f := range model.Hygiene(model.HygieneInput{Keys: keys, Now: now, Limited: lim}) {
		found[f.Kind+" "+f.Key] = true
	}
	for _, want := range []string{
		model.FindExpired + " " + demo.ExpiredKey,
		model.FindExpiring + " " + demo.ExpiringKey,
		model.FindLimited + " " + demo.LimitedKey,
		model.FindServerNoIP + " " + demo.LimitedKey,
		model.FindUnrestricted + " " + demo.UnrestrictedKey,
	} {
		if !found[want] {
			t.Errorf("hygiene of the demo lacks %q: %v", want, found)
		}
	}
	if found[model.FindServerNoIP+" "+demo.OfficeKey] {
		t.Errorf("%s has an allowlist: no advice", demo.OfficeKey)
	}
}
