package model

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestHygiene(t *testing.T) {
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	keys := []Key{
		{ID: "k1", Name: "open", Status: Active, Created: now.Add(-40 * day), LastUsed: now.Add(-time.Hour)},
		{ID: "k2", Name: "fresh", Status: Active, Created: now.Add(-time.Hour), Domains: []string{"a.tn"}},
		{ID: "k3", Name: "unused", Status: Active, Created: now.Add(-3 * day), Domains: []string{"a.tn"}},
		{ID: "k4", Name: "idle", Status: Disabled, Created: now.Add(-90 * day), LastUsed: now.Add(-31 * day), Domains: []string{"b.tn"}},
		{ID: "k5", Name: "gone", Status: Revoked, Created: now.Add(-90 * day)},
		{ID: "k6", Name: "busy", Status: Active, Created: now.Add(-90 * day), LastUsed: now.Add(-29 * day), Domains: []string{"a.tn", "b.tn"}},
	}
	domains := []Domain{{Name: "a.tn", Keys: []string{"k2", "k3", "k6"}}, {Name: "b.tn", Keys: []string{"k4", "k6"}}, {Name: "z.tn"}}
	got := Hygiene(HygieneInput{Keys: keys, Domains: domains, Now: now})
	want := []Finding{
		{Kind: FindUnrestricted, KeyID: "k1", Fix: "link"},
		{Kind: FindNeverUsed, KeyID: "k3", Fix: "disable"},
		{Kind: FindIdle, KeyID: "k4", Fix: "revoke"},
		{Kind: FindOrphanDomain, Domain: "z.tn", Fix: "delete_domain"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d findings, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Kind != w.Kind || g.KeyID != w.KeyID || g.Domain != w.Domain || g.Fix != w.Fix || g.Detail == "" {
			t.Errorf("finding %d = %+v, want %+v", i, g, w)
		}
	}

	// With link data: k6's b.tn matched 40 days ago, a.tn yesterday; k2 and k3 never.
	seen := map[LinkUse]time.Time{
		{"k6", "a.tn"}: now.Add(-day),
		{"k6", "b.tn"}: now.Add(-40 * day),
	}
	got = Hygiene(HygieneInput{Keys: keys, Domains: domains, Now: now, LinksSeen: seen})
	var stale []string
	for _, f := range got {
		if f.Kind == FindStaleLink {
			stale = append(stale, f.KeyID+"/"+f.Domain)
		}
	}
	// by key name: busy, idle, unused; fresh's link is an hour old (grace)
	wantStale := []string{"k6/b.tn", "k4/b.tn", "k3/a.tn"}
	if len(stale) != len(wantStale) {
		t.Fatalf("stale = %v, want %v", stale, wantStale)
	}
	for i := range stale {
		if stale[i] != wantStale[i] {
			t.Errorf("stale = %v, want %v", stale, wantStale)
			break
		}
	}
	if len(Hygiene(HygieneInput{Now: now})) != 0 {
		t.Error("an empty store has no finding")
	}
}

// Issue 11, defect 6: a link (or a domain) made a minute ago is not a
// finding yet, with the grace a new key gets; a key without domains is a
// finding when it is a browser key, or, kind unset, when browsers used it
// (as far as the store can tell).
func TestHygieneGraceAndBrowserUse(t *testing.T) {
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	old := now.Add(-90 * day)
	keys := []Key{
		{ID: "k1", Name: "web", Status: Active, Created: old, LastUsed: now.Add(-time.Hour), Domains: []string{"new.tn", "old.tn"}},
		{ID: "k2", Name: "backend", Status: Active, Created: old, LastUsed: now, Policy: Policy{Kind: KindServer}},
		{ID: "k3", Name: "android", Status: Active, Created: old, LastUsed: now, Policy: Policy{Kind: KindMobile}},
		{ID: "k4", Name: "spa", Status: Active, Created: old, LastUsed: now, Policy: Policy{Kind: KindBrowser}},
		{ID: "k5", Name: "legacy seen", Status: Active, Created: old, LastUsed: now},
		{ID: "k6", Name: "legacy unseen", Status: Active, Created: old, LastUsed: now},
	}
	doms := []Domain{{Name: "new.tn", Created: old, Keys: []string{"k1"}}, {Name: "old.tn", Created: old, Keys: []string{"k1"}},
		{Name: "fresh.tn", Created: now.Add(-time.Minute)}, {Name: "stale.tn", Created: old}}
	in := HygieneInput{Keys: keys, Domains: doms, Now: now,
		LinksSeen:   map[LinkUse]time.Time{},
		LinksMade:   map[LinkUse]time.Time{{"k1", "new.tn"}: now.Add(-time.Minute), {"k1", "old.tn"}: old},
		BrowserSeen: map[string]bool{"k5": true}}
	var got []string
	for _, f := range Hygiene(in) {
		got = append(got, f.Kind+" "+f.KeyID+f.Domain)
	}
	want := []string{"unrestricted k5", "unrestricted k4", "orphan_domain stale.tn", "stale_link k1old.tn", "server_no_ip k2"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("findings %q\nwant     %q", got, want)
	}
	// Without the store's word on browser use, every key of unset kind
	// without domains is reported, as before kinds existed.
	in.BrowserSeen = nil
	n := 0
	for _, f := range Hygiene(in) {
		if f.Kind == FindUnrestricted {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("%d unrestricted findings without browser data, want 3 (k4, k5, k6)", n)
	}
	// Without the time a link was made, the later of its key's and its
	// domain's creation stands in for it.
	in.LinksMade = nil
	doms[0].Created = now.Add(-time.Minute)
	for _, f := range Hygiene(in) {
		if f.Kind == FindStaleLink && f.Domain == "new.tn" {
			t.Fatal("a link to a domain added a minute ago is stale")
		}
	}
}

// TestHygienePolicies: the kind decides what is advised, and expiries and
// 429s are findings (SPEC.md "Key policies", issue 12).
func TestHygienePolicies(t *testing.T) {
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	used := now.Add(-time.Hour)
	keys := []Key{
		{ID: "b1", Name: "web", Status: Active, Created: now.Add(-9 * day), LastUsed: used, Policy: Policy{Kind: KindBrowser}},
		{ID: "s1", Name: "backend", Status: Active, Created: now.Add(-9 * day), LastUsed: used, Policy: Policy{Kind: KindServer}},
		{ID: "s2", Name: "backend office", Status: Active, Created: now.Add(-9 * day), LastUsed: used,
			Policy: Policy{Kind: KindServer, AllowIPs: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}}},
		{ID: "m1", Name: "ios", Status: Active, Created: now.Add(-9 * day), LastUsed: used, Policy: Policy{Kind: KindMobile}},
		{ID: "x1", Name: "old rotated", Status: Active, Created: now.Add(-90 * day), LastUsed: now.Add(-60 * day),
			Policy: Policy{Kind: KindMobile, Expires: now.Add(-2 * day)}},
		{ID: "x2", Name: "paused expired", Status: Disabled, Created: now.Add(-90 * day),
			Policy: Policy{Kind: KindMobile, Expires: now.Add(-time.Minute)}},
		{ID: "e1", Name: "soon", Status: Active, Created: now.Add(-9 * day), LastUsed: used,
			Policy: Policy{Kind: KindMobile, Expires: now.Add(3*day + time.Hour)}},
		{ID: "e2", Name: "later", Status: Active, Created: now.Add(-9 * day), LastUsed: used,
			Policy: Policy{Kind: KindMobile, Expires: now.Add(8 * day)}},
		{ID: "r1", Name: "throttled", Status: Active, Created: now.Add(-9 * day), LastUsed: used,
			Policy: Policy{Kind: KindMobile, Rate: 5, Burst: 10}},
		{ID: "gone", Name: "revoked expired", Status: Revoked, Created: now.Add(-90 * day), Policy: Policy{Expires: now.Add(-day)}},
	}
	got := Hygiene(HygieneInput{Keys: keys, Now: now, Limited: map[string]uint64{"r1": 1234, "gone": 5}})
	want := []struct {
		kind, id, fix string
		advice        bool
	}{
		{FindUnrestricted, "b1", "link", false},
		{FindExpired, "x1", "revoke", false},
		{FindExpired, "x2", "revoke", false},
		{FindExpiring, "e1", "extend", false},
		{FindLimited, "r1", "raise_limit", false},
		{FindServerNoIP, "s1", "allow_ip", true},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d findings, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Kind != w.kind || g.KeyID != w.id || g.Fix != w.fix || g.Advice != w.advice || g.Detail == "" {
			t.Errorf("finding %d = %+v, want %+v", i, g, w)
		}
	}
	if d := got[0].Detail; d != "a browser key with no domain: any site may use it" {
		t.Errorf("browser detail %q", d)
	}
	if d := got[3].Detail; d != "expires in 3 d (2026-06-18 13:00 UTC)" {
		t.Errorf("expiring detail %q", d)
	}
	if d := got[4].Detail; d != "1,234 requests refused with 429 in the last 24 hours (rate limit 5/s, burst 10, quota none)" {
		t.Errorf("limited detail %q", d)
	}
}
