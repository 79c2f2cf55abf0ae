package store

import (
	"context"
	"time"

	"github.com/tmaps/console/model"
)

// LimitedLastDay returns, for the hygiene report (model.HygieneInput.Limited),
// the requests refused with 429 in the 24 hours before now of each key that
// is not revoked and has a rate limit or a quota; keys without 429s are left
// out. It reads the usage of those keys only.
func LimitedLastDay(ctx context.Context, st UsageReader, keys []model.Key, now time.Time) (map[string]uint64, error) {
	out := map[string]uint64{}
	for _, k := range keys {
		if k.Status == model.Revoked || !k.Limited() {
			continue
		}
		bs, err := st.Usage(ctx, UsageQuery{KeyID: k.ID, Since: now.Add(-24 * time.Hour), Until: now.Add(time.Hour)})
		if err != nil {
			return nil, err
		}
		var n uint64
		for _, b := range bs {
			n += b.Limited
		}
		if n > 0 {
			out[k.ID] = n
		}
	}
	return out, nil
}
