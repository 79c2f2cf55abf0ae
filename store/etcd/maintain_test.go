package etcd_test

import (
	"testing"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// Rollups sum the nodes' hourly records into one daily bucket per day and
// key; matched hosts older than a week fold into one record that
// MatchedHosts still counts (outside Last7d); a node's old last use goes; a node's late write into a
// rolled-up day counts once more, not twice; a second run does nothing.
func TestMaintainUsageAcrossNodes(t *testing.T) {
	a, b := twoNodes(t)
	c := actx(t)
	k, _, err := a.CreateKey(c, "k", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	old := now.Truncate(24 * time.Hour).Add(-40 * 24 * time.Hour)
	week := now.Truncate(24 * time.Hour).Add(-20 * 24 * time.Hour)
	rec := func(n int, hour time.Time, allowed uint64, host string) {
		t.Helper()
		st := a
		if n == 1 {
			st = b
		}
		if err := st.RecordUsage(c, []store.UsageDelta{{KeyID: k.ID, Hour: hour, Allowed: allowed,
			MatchedHosts: map[string]uint64{host: allowed}, LastUsed: hour, LastHost: host}}); err != nil {
			t.Fatal(err)
		}
	}
	rec(0, old.Add(2*time.Hour), 5, "a.tn")
	rec(1, old.Add(3*time.Hour), 7, "b.tn")
	rec(0, week.Add(time.Hour), 11, "a.tn")
	rep, err := a.MaintainUsage(c, now)
	if err != nil {
		t.Fatal(err)
	}
	// One key-day and one total-day rolled up; three matched day records
	// (two nodes on the old day, one on the other) folded; node b's last
	// use, older than a's and than 35 days, pruned.
	if rep.RolledUpDays != 5 || rep.PrunedRecords != 1 {
		t.Fatalf("MaintainUsage = %+v, want 5 rolled up, 1 pruned", rep)
	}
	for _, q := range []store.UsageQuery{{KeyID: k.ID, Since: old, Until: old.Add(24 * time.Hour)}, {Since: old, Until: old.Add(24 * time.Hour)}} {
		u, err := b.Usage(c, q)
		if err != nil || len(u) != 1 || !u[0].Daily || !u[0].Hour.Equal(old) || u[0].Allowed != 12 {
			t.Fatalf("Usage(%+v) = %+v, %v; want one daily bucket of 12 (both nodes)", q, u, err)
		}
	}
	m, err := b.MatchedHosts(c, k.ID)
	if err != nil || len(m) != 2 || m[0].Host != "a.tn" || m[0].Count != 16 || m[0].Last7d != 0 || m[1].Count != 7 {
		t.Fatalf("MatchedHosts = %+v, %v; want a.tn 16, b.tn 7, none this week", m, err)
	}
	// A late flush into the rolled-up day: counted once more.
	rec(1, old.Add(5*time.Hour), 1, "b.tn")
	if rep, err = a.MaintainUsage(c, now); err != nil || rep.RolledUpDays != 3 {
		t.Fatalf("MaintainUsage after a late write = %+v, %v; want the day (key, total) and its matched hosts rolled up again", rep, err)
	}
	u, err := a.Usage(c, store.UsageQuery{KeyID: k.ID, Since: old, Until: old.Add(24 * time.Hour)})
	if err != nil || len(u) != 1 || u[0].Allowed != 13 {
		t.Fatalf("Usage after the late write = %+v, %v; want 13", u, err)
	}
	if rep, err = b.MaintainUsage(c, now); err != nil || rep != (store.UsageMaintenance{}) {
		t.Fatalf("a run on the other node = %+v, %v; want nothing left to do", rep, err)
	}
	if got, _ := a.Key(c, k.ID); !got.LastUsed.Equal(week.Add(time.Hour)) {
		t.Fatalf("last used %v", got.LastUsed)
	}
}
