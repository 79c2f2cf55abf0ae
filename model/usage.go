package model

import (
	"slices"
	"sort"
	"time"
)

// Counts are the gate's decisions in some period, split by outcome.
type Counts struct {
	Allowed      uint64 `json:"allowed"`
	Unauthorized uint64 `json:"unauthorized"` // 401
	Forbidden    uint64 `json:"forbidden"`    // 403
	Limited      uint64 `json:"limited"`      // 429: rate limit or quota
}

// Total is every decision counted.
func (c Counts) Total() uint64 { return c.Allowed + c.Unauthorized + c.Forbidden + c.Limited }

// Add returns c plus o.
func (c Counts) Add(o Counts) Counts {
	return Counts{c.Allowed + o.Allowed, c.Unauthorized + o.Unauthorized, c.Forbidden + o.Forbidden, c.Limited + o.Limited}
}

// Bucket is the counts of one period that starts at Start: an hour (UTC
// aligned) or a calendar day in some time zone.
type Bucket struct {
	Start time.Time `json:"start"`
	Counts
}

// Sum adds up the counts of buckets.
func Sum(bs []Bucket) Counts {
	var c Counts
	for _, b := range bs {
		c = c.Add(b.Counts)
	}
	return c
}

// hourOf is the start of the UTC-aligned hour holding t (every time zone in
// use has offsets of whole quarter hours, but the store counts whole UTC
// hours, so hours are always aligned on UTC).
func hourOf(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// Hourly returns n hourly buckets, oldest first, whose last one is the hour
// holding now (the current, incomplete hour). Hours with no data are zero;
// counts outside the n hours are ignored; several counts of the same hour
// are added up. hours need not be sorted. n ≤ 0 gives no bucket.
func Hourly(hours []Bucket, now time.Time, n int) []Bucket {
	if n <= 0 {
		return []Bucket{}
	}
	last := hourOf(now)
	first := last.Add(-time.Duration(n-1) * time.Hour)
	out := make([]Bucket, n)
	for i := range out {
		out[i].Start = first.Add(time.Duration(i) * time.Hour)
	}
	for _, h := range hours {
		i := int(hourOf(h.Start).Sub(first) / time.Hour)
		if i >= 0 && i < n {
			out[i].Counts = out[i].Counts.Add(h.Counts)
		}
	}
	return out
}

// DayStart is midnight of the calendar day holding t in loc (UTC when nil).
func DayStart(t time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
}

// Daily returns the last days calendar days in loc (UTC when nil), oldest
// first, the last one being the day holding now (so far). Each bucket starts
// at local midnight; days are found with the calendar, not by adding 24
// hours, so a day of a daylight-saving change holds its 23 or 25 hours. An
// hourly count belongs to the local day its hour starts in. Days with no
// data are zero; counts outside the period are ignored.
func Daily(hours []Bucket, now time.Time, days int, loc *time.Location) []Bucket {
	if days <= 0 {
		return []Bucket{}
	}
	if loc == nil {
		loc = time.UTC
	}
	today := DayStart(now, loc)
	out := make([]Bucket, days)
	for i := range out {
		y, m, d := today.Date()
		out[i].Start = time.Date(y, m, d-(days-1-i), 0, 0, 0, 0, loc)
	}
	end := time.Date(today.Year(), today.Month(), today.Day()+1, 0, 0, 0, 0, loc)
	for _, h := range hours {
		t := hourOf(h.Start)
		if t.Before(out[0].Start) || !t.Before(end) {
			continue
		}
		// The last day starting at or before t.
		i := sort.Search(days, func(i int) bool { return out[i].Start.After(t) }) - 1
		if i >= 0 {
			out[i].Counts = out[i].Counts.Add(h.Counts)
		}
	}
	return out
}

// SpikeRule says when a key's recent traffic is a spike. See CheckSpike.
type SpikeRule struct {
	// Factor: the recent hour must be more than Factor times the usual
	// level of that hour of the day.
	Factor float64
	// Floor: the recent hour must have at least Floor requests, so that a
	// quiet key going from 2 to 20 requests is not an alarm.
	Floor uint64
	// Days of history the usual level is taken from.
	Days int
	// MinDays: with fewer days of history that saw any traffic, there is
	// no usual level yet and nothing is a spike (a new key).
	MinDays int
}

// DefaultSpikeRule is the rule the console, the CLI and the API use.
var DefaultSpikeRule = SpikeRule{Factor: 4, Floor: 50, Days: 7, MinDays: 2}

// Spike is the outcome of CheckSpike.
type Spike struct {
	Spiking bool `json:"spiking"`
	// Hour is the hour that was judged (the one that spiked, or the last
	// complete hour), Value its requests, Usual its usual level (the median
	// of the same hour of the day over the history), Ratio Value/Usual (0
	// when Usual is 0).
	Hour  time.Time `json:"hour"`
	Value uint64    `json:"value"`
	Usual float64   `json:"usual"`
	Ratio float64   `json:"ratio"`
	// Why explains the outcome in a sentence.
	Why string `json:"why"`
}

// CheckSpike applies rule to one key's hourly counts (or the total's). All
// outcomes count (allowed, 401, 403 and 429): a leaked key shows as many 403s.
//
// The rule: look at the last complete hour and at the current hour so far
// (the current hour can only grow, so if it is already too high it is a
// spike). For each, the usual level is the median of the totals of the same
// hour of the day on each of the previous rule.Days days (the hour 24 h
// before, 48 h before, …), counting only the days whose 24 hours up to that
// hour saw any traffic: a daily pattern (quiet nights, busy afternoons) is
// not a spike, one noisy hour in the history does not raise the level (a
// median), and days before the key existed do not lower it. The hour is a
// spike when its total is at least rule.Floor and more than rule.Factor
// times the usual level. With fewer than rule.MinDays days of history there
// is no usual level and nothing is a spike.
func CheckSpike(hours []Bucket, now time.Time, rule SpikeRule) Spike {
	if rule.Days <= 0 {
		rule.Days = 7
	}
	n := (rule.Days+1)*24 + 1
	series := Hourly(hours, now, n) // last = current hour, n-2 = last complete
	cur, prev := n-1, n-2
	sp := judge(series, prev, rule)
	if sp.Spiking {
		return sp
	}
	if c := judge(series, cur, rule); c.Spiking {
		return c
	}
	return sp
}

// judge applies the rule to the hour at index i of an hourly series.
func judge(series []Bucket, i int, rule SpikeRule) Spike {
	sp := Spike{Hour: series[i].Start, Value: series[i].Total()}
	var samples []float64
	for d := 1; d <= rule.Days; d++ {
		j := i - 24*d
		if j < 0 {
			break
		}
		var day uint64
		for k := max(0, j-23); k <= j; k++ {
			day += series[k].Total()
		}
		if day > 0 {
			samples = append(samples, float64(series[j].Total()))
		}
	}
	if len(samples) < max(rule.MinDays, 1) {
		sp.Why = "not enough history to know the usual level"
		return sp
	}
	sp.Usual = median(samples)
	if sp.Usual > 0 {
		sp.Ratio = float64(sp.Value) / sp.Usual
	}
	switch {
	case sp.Value < rule.Floor:
		sp.Why = "below the minimum of requests for a spike"
	case float64(sp.Value) > rule.Factor*sp.Usual:
		sp.Spiking = true
		sp.Why = "far above the usual level of this hour of the day"
	default:
		sp.Why = "within the usual level of this hour of the day"
	}
	return sp
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}
