package store_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
)

func TestSummarize(t *testing.T) {
	now := time.Date(2026, 6, 15, 10, 30, 0, 0, time.UTC)
	st, err := bolt.Open(filepath.Join(t.TempDir(), "s.db"), bolt.Options{Now: func() time.Time { return now }, NoSync: true})
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
	var deltas []store.UsageDelta
	for i := 1; i <= 9*24; i++ { // nine days of 100 an hour
		deltas = append(deltas, store.UsageDelta{KeyID: k.ID, Hour: h.Add(-time.Duration(i) * time.Hour), Allowed: 100})
	}
	deltas = append(deltas, store.UsageDelta{KeyID: k.ID, Hour: h, Allowed: 700, Forbidden: 300}) // the current hour
	if err := st.RecordUsage(ctx, deltas); err != nil {
		t.Fatal(err)
	}
	s, err := store.Summarize(ctx, st, k.ID, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Hourly) != 24 || !s.Hourly[23].Start.Equal(h) {
		t.Fatalf("hourly: %d buckets, last %v", len(s.Hourly), s.Hourly[len(s.Hourly)-1].Start)
	}
	if s.Last24h.Allowed != 23*100+700 || s.Last24h.Forbidden != 300 {
		t.Errorf("last 24h = %+v", s.Last24h)
	}
	if s.Last7d.Allowed != (7*24-1)*100+700 {
		t.Errorf("last 7 days = %+v", s.Last7d)
	}
	if !s.Spike.Spiking || s.Spike.Value != 1000 || s.Spike.Usual != 100 {
		t.Errorf("spike = %+v", s.Spike)
	}
	total, err := store.Summarize(ctx, st, "", now)
	if err != nil || total.Last24h != s.Last24h {
		t.Errorf("total = %+v, %v", total.Last24h, err)
	}
}

func TestLimitedLastDay(t *testing.T) {
	now := time.Date(2026, 6, 15, 10, 30, 0, 0, time.UTC)
	st, err := bolt.Open(filepath.Join(t.TempDir(), "s.db"), bolt.Options{Now: func() time.Time { return now }, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	limited, _, _ := st.CreateKey(ctx, "limited", model.Policy{Rate: 5})
	quota, _, _ := st.CreateKey(ctx, "quota", model.Policy{Quota: 10})
	plain, _, _ := st.CreateKey(ctx, "plain", model.Policy{})
	h := now.Truncate(time.Hour)
	err = st.RecordUsage(ctx, []store.UsageDelta{
		{KeyID: limited.ID, Hour: h, Limited: 7},
		{KeyID: limited.ID, Hour: h.Add(-23 * time.Hour), Limited: 3},
		{KeyID: limited.ID, Hour: h.Add(-30 * time.Hour), Limited: 100}, // older than a day
		{KeyID: quota.ID, Hour: h.Add(-2 * time.Hour), Allowed: 10},
		{KeyID: plain.ID, Hour: h, Limited: 1}, // no limit any more: not reported
	})
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := st.Keys(ctx)
	got, err := store.LimitedLastDay(ctx, st, keys, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[limited.ID] != 10 {
		t.Fatalf("LimitedLastDay = %v; want only %s with 10", got, limited.ID)
	}
}
