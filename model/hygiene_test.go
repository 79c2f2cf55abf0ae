package model

import (
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
	wantStale := []string{"k6/b.tn", "k2/a.tn", "k4/b.tn", "k3/a.tn"} // by key name: busy, fresh, idle, unused
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
