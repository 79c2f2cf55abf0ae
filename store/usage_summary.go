package store

import (
	"context"
	"time"

	"github.com/tmaps/console/model"
)

// Buckets converts the store's hourly buckets to the model's.
func Buckets(us []UsageBucket) []model.Bucket {
	out := make([]model.Bucket, len(us))
	for i, u := range us {
		out[i] = model.Bucket{Start: u.Hour, Counts: model.Counts{Allowed: u.Allowed, Unauthorized: u.Unauthorized, Forbidden: u.Forbidden, Limited: u.Limited}}
	}
	return out
}

// SpikeWindow is how much hourly history model.CheckSpike needs with
// model.DefaultSpikeRule: the rule's days, the day before the first of them,
// and the current hour.
func SpikeWindow() time.Duration {
	return time.Duration(model.DefaultSpikeRule.Days+2) * 24 * time.Hour
}

// UsageSummary is what the console shows of one key's recent usage (or of
// every key's, for KeyID "").
type UsageSummary struct {
	KeyID string `json:"key_id"`
	// Hourly is the last 24 hours, oldest first, the current hour last.
	Hourly  []model.Bucket `json:"hourly"`
	Last24h model.Counts   `json:"last_24h"`
	Last7d  model.Counts   `json:"last_7d"`
	Spike   model.Spike    `json:"spike"`
}

// Summarize loads a key's usage ("" for the total) and computes its
// summary at now, in one Usage call.
func Summarize(ctx context.Context, st Store, keyID string, now time.Time) (UsageSummary, error) {
	us, err := st.Usage(ctx, UsageQuery{KeyID: keyID, Since: now.Add(-SpikeWindow()), Until: now.Add(time.Hour)})
	if err != nil {
		return UsageSummary{}, err
	}
	return SummaryOf(keyID, Buckets(us), now), nil
}

// SummaryOf computes a summary from hourly counts that cover at least
// SpikeWindow before now.
func SummaryOf(keyID string, hours []model.Bucket, now time.Time) UsageSummary {
	s := UsageSummary{KeyID: keyID, Hourly: model.Hourly(hours, now, 24)}
	s.Last24h = model.Sum(s.Hourly)
	s.Last7d = model.Sum(model.Hourly(hours, now, 7*24))
	s.Spike = model.CheckSpike(hours, now, model.DefaultSpikeRule)
	return s
}
