package model

import (
	"math"
	"testing"
	"time"
	_ "time/tzdata" // the DST tests need zone data on any machine
)

func hb(t time.Time, a, u, f uint64) Bucket {
	return Bucket{Start: t, Counts: Counts{Allowed: a, Unauthorized: u, Forbidden: f}}
}

func TestHourlyZeroFillsAndPlaces(t *testing.T) {
	now := time.Date(2026, 3, 10, 14, 37, 0, 0, time.UTC)
	got := Hourly(nil, now, 24)
	if len(got) != 24 {
		t.Fatalf("len = %d, want 24", len(got))
	}
	if !got[23].Start.Equal(time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)) || !got[0].Start.Equal(time.Date(2026, 3, 9, 15, 0, 0, 0, time.UTC)) {
		t.Fatalf("range = %v … %v", got[0].Start, got[23].Start)
	}
	if Sum(got).Total() != 0 {
		t.Fatal("empty series must be zero")
	}
	in := []Bucket{
		hb(time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC), 5, 1, 2),
		hb(time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC), 1, 0, 0),   // same hour again: added
		hb(time.Date(2026, 3, 9, 15, 0, 0, 0, time.UTC), 7, 0, 0),    // first hour
		hb(time.Date(2026, 3, 9, 14, 0, 0, 0, time.UTC), 100, 0, 0),  // too old
		hb(time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC), 100, 0, 0), // future
		// A time in another zone is the same instant.
		hb(time.Date(2026, 3, 10, 13, 0, 0, 0, time.FixedZone("X", 3600)), 3, 0, 0), // 12:00 UTC
	}
	got = Hourly(in, now, 24)
	if got[23].Counts != (Counts{Allowed: 6, Unauthorized: 1, Forbidden: 2}) {
		t.Errorf("last hour = %+v", got[23].Counts)
	}
	if got[0].Allowed != 7 {
		t.Errorf("first hour = %+v", got[0].Counts)
	}
	if got[21].Allowed != 3 {
		t.Errorf("12:00 UTC = %+v", got[21].Counts)
	}
	if Sum(got) != (Counts{Allowed: 16, Unauthorized: 1, Forbidden: 2}) {
		t.Errorf("sum = %+v", Sum(got))
	}
	if len(Hourly(in, now, 0)) != 0 {
		t.Error("n = 0 must give no bucket")
	}
}

func TestDailyTimeZonesAndDST(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	// 2026-03-29 is the spring-forward day in Paris: 23 hours.
	now := time.Date(2026, 3, 30, 10, 0, 0, 0, paris)
	var hours []Bucket
	for h := time.Date(2026, 3, 27, 0, 0, 0, 0, time.UTC); h.Before(now); h = h.Add(time.Hour) {
		hours = append(hours, hb(h, 1, 0, 0))
	}
	got := Daily(hours, now, 3, paris)
	if len(got) != 3 {
		t.Fatalf("len = %d", len(got))
	}
	wantStarts := []time.Time{
		time.Date(2026, 3, 28, 0, 0, 0, 0, paris),
		time.Date(2026, 3, 29, 0, 0, 0, 0, paris),
		time.Date(2026, 3, 30, 0, 0, 0, 0, paris),
	}
	for i, w := range wantStarts {
		if !got[i].Start.Equal(w) {
			t.Errorf("day %d starts %v, want %v", i, got[i].Start, w)
		}
	}
	if got[0].Allowed != 24 || got[1].Allowed != 23 {
		t.Errorf("hours per day = %d, %d; want 24, 23 (DST)", got[0].Allowed, got[1].Allowed)
	}
	// 30 March 00:00 Paris (CEST) = 29 March 22:00 UTC; now is 10:00 → 08:00 UTC: 10 hours.
	if got[2].Allowed != 10 {
		t.Errorf("today = %d, want 10", got[2].Allowed)
	}
	// Autumn: 2026-10-25 has 25 hours.
	now = time.Date(2026, 10, 26, 1, 0, 0, 0, paris)
	hours = hours[:0]
	for h := time.Date(2026, 10, 23, 0, 0, 0, 0, time.UTC); h.Before(now); h = h.Add(time.Hour) {
		hours = append(hours, hb(h, 1, 0, 0))
	}
	got = Daily(hours, now, 2, paris)
	if got[0].Allowed != 25 {
		t.Errorf("autumn DST day = %d hours, want 25", got[0].Allowed)
	}
}

func TestDailyDayBoundaryDependsOnZone(t *testing.T) {
	// 23:00 UTC on 1 May is 00:00 on 2 May in Tunis (UTC+1).
	tunis := time.FixedZone("Tunis", 3600)
	now := time.Date(2026, 5, 2, 12, 0, 0, 0, time.UTC)
	in := []Bucket{hb(time.Date(2026, 5, 1, 23, 0, 0, 0, time.UTC), 4, 0, 0)}
	utc := Daily(in, now, 2, nil)
	if utc[0].Allowed != 4 || utc[1].Allowed != 0 {
		t.Errorf("UTC: %+v", utc)
	}
	tn := Daily(in, now, 2, tunis)
	if tn[0].Allowed != 0 || tn[1].Allowed != 4 {
		t.Errorf("Tunis: %+v", tn)
	}
	empty := Daily(nil, now, 30, tunis)
	if len(empty) != 30 || Sum(empty).Total() != 0 {
		t.Errorf("empty series: %d buckets, sum %d", len(empty), Sum(empty).Total())
	}
	for i := 1; i < len(empty); i++ {
		if empty[i].Start.Sub(empty[i-1].Start) != 24*time.Hour {
			t.Fatalf("fixed zone days must be 24 h apart")
		}
	}
}

// series builds hourly buckets from start for len(v) hours.
func series(start time.Time, v func(i int, h time.Time) uint64, n int) []Bucket {
	out := make([]Bucket, 0, n)
	for i := 0; i < n; i++ {
		h := start.Add(time.Duration(i) * time.Hour)
		out = append(out, hb(h, v(i, h), 0, 0))
	}
	return out
}

// daily is a day curve: quiet nights, busy afternoons.
func dayCurve(h time.Time, peak float64) uint64 {
	x := float64(h.Hour()) - 14
	return uint64(peak * (0.05 + 0.95*math.Exp(-x*x/18)))
}

func TestSpikeRule(t *testing.T) {
	now := time.Date(2026, 6, 15, 3, 20, 0, 0, time.UTC) // a quiet night hour
	start := now.Truncate(time.Hour).Add(-10 * 24 * time.Hour)
	n := 10*24 + 1
	rule := DefaultSpikeRule
	cases := []struct {
		name  string
		hours []Bucket
		want  bool
	}{
		{"empty", nil, false},
		{"flat", series(start, func(int, time.Time) uint64 { return 200 }, n), false},
		{"daily pattern", series(start, func(_ int, h time.Time) uint64 { return dayCurve(h, 1000) }, n), false},
		{"growing 15% a day", series(start, func(i int, _ time.Time) uint64 {
			return uint64(100 * math.Pow(1.15, float64(i)/24))
		}, n), false},
		{"new key, first hours", series(now.Truncate(time.Hour).Add(-3*time.Hour), func(int, time.Time) uint64 { return 5000 }, 4), false},
		{"spike in the last complete hour", series(start, func(i int, h time.Time) uint64 {
			if i == n-2 {
				return 10 * dayCurve(h, 1000)
			}
			return dayCurve(h, 1000)
		}, n), true},
		{"spike in the current hour so far", series(start, func(i int, h time.Time) uint64 {
			if i == n-1 {
				return 600
			}
			return dayCurve(h, 1000)
		}, n), true},
		{"night surge at an afternoon's level", series(start, func(i int, h time.Time) uint64 {
			if i >= n-2 {
				return 1000
			}
			return dayCurve(h, 1000)
		}, n), true},
		{"single noisy hour in the history", series(start, func(i int, h time.Time) uint64 {
			if i == n-2-24 {
				return 50000 // yesterday same hour
			}
			if i == n-2 {
				return 3 * 50 // 3× the usual 50: not a spike
			}
			return 50
		}, n), false},
		{"below the floor", series(start, func(i int, _ time.Time) uint64 {
			if i == n-2 {
				return 40
			}
			return 1
		}, n), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := CheckSpike(c.hours, now, rule)
			if got.Spiking != c.want {
				t.Errorf("spiking = %v, want %v (%+v)", got.Spiking, c.want, got)
			}
			if got.Why == "" {
				t.Error("no explanation")
			}
		})
	}
}

func TestSpikeValues(t *testing.T) {
	now := time.Date(2026, 6, 15, 3, 20, 0, 0, time.UTC)
	start := now.Truncate(time.Hour).Add(-8 * 24 * time.Hour)
	n := 8*24 + 1
	hours := series(start, func(i int, _ time.Time) uint64 {
		if i == n-2 {
			return 1000
		}
		return 100
	}, n)
	sp := CheckSpike(hours, now, DefaultSpikeRule)
	if !sp.Spiking || sp.Value != 1000 || sp.Usual != 100 || sp.Ratio != 10 {
		t.Fatalf("%+v", sp)
	}
	if !sp.Hour.Equal(time.Date(2026, 6, 15, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("hour = %v", sp.Hour)
	}
}

func TestCountsLimited(t *testing.T) {
	c := Counts{Allowed: 1, Unauthorized: 2, Forbidden: 3, Limited: 4}.Add(Counts{Limited: 10})
	if c.Limited != 14 || c.Total() != 20 {
		t.Fatalf("429s are their own outcome and part of the total: %+v, total %d", c, c.Total())
	}
}
