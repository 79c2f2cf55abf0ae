package bolt_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
)

func TestMatchedHosts(t *testing.T) {
	now := time.Date(2026, 6, 15, 10, 30, 0, 0, time.UTC)
	st, err := bolt.Open(filepath.Join(t.TempDir(), "m.db"), bolt.Options{Now: func() time.Time { return now }, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	k, _, err := st.CreateKey(ctx, "web", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	h := now.Truncate(time.Hour)
	day := 24 * time.Hour
	deltas := []store.UsageDelta{
		// 20 days ago: counts in total only; it left the 7-day window.
		{KeyID: k.ID, Hour: h.Add(-20 * day), MatchedHosts: map[string]uint64{"old.tn": 50, "mysite.tn": 1000}},
		{KeyID: k.ID, Hour: h.Add(-6 * day), MatchedHosts: map[string]uint64{"mysite.tn": 5}},
		{KeyID: k.ID, Hour: h.Add(-time.Hour), MatchedHosts: map[string]uint64{"mysite.tn": 7, "app.mysite.tn": 2}},
		{KeyID: k.ID, Hour: h, MatchedHosts: map[string]uint64{"mysite.tn": 1}, LastUsed: h.Add(12 * time.Minute)},
		{KeyID: "", Hour: h, MatchedHosts: map[string]uint64{"nokey.tn": 1}}, // no key: ignored
	}
	if err := st.RecordUsage(ctx, deltas); err != nil {
		t.Fatal(err)
	}
	// The ring reuses the slot of 8 days ago: 8 days back must not count.
	if err := st.RecordUsage(ctx, []store.UsageDelta{{KeyID: k.ID, Hour: h.Add(-8 * day), MatchedHosts: map[string]uint64{"app.mysite.tn": 100}}}); err != nil {
		t.Fatal(err)
	}
	got, err := st.MatchedHosts(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.MatchedHost{
		{Host: "mysite.tn", Count: 1013, Last7d: 13, LastSeen: h.Add(12 * time.Minute)},
		{Host: "app.mysite.tn", Count: 102, Last7d: 2, LastSeen: h.Add(-time.Hour)},
		{Host: "old.tn", Count: 50, Last7d: 0, LastSeen: h.Add(-20 * day)},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("host %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if hs, err := st.MatchedHosts(ctx, "kunknown"); err != nil || len(hs) != 0 {
		t.Errorf("unknown key: %v %v", hs, err)
	}
}
