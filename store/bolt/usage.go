package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// hourIndex is the hour of t counted from the Unix epoch (floor), clamped
// at the epoch.
func hourIndex(t time.Time) uint64 {
	u := t.Unix()
	if u < 0 {
		return 0
	}
	return uint64(u / 3600)
}

// hourCeil is the first hour index whose start is not before t.
func hourCeil(t time.Time) uint64 {
	h := hourIndex(t)
	if time.Unix(int64(h)*3600, 0).Before(t) {
		h++
	}
	return h
}

func hourTime(h uint64) time.Time { return time.Unix(int64(h)*3600, 0).UTC() }

// dayKey is the key of a day record: the day number in 4 bytes, then the
// key id (nothing for the total bucket). Day first keeps each day's records
// together: a new day appends at the end of the bucket, old days can be
// pruned as one range, and pages stay full.
func dayKey(day uint64, id string) []byte {
	b := make([]byte, 0, 4+len(id))
	b = binary.BigEndian.AppendUint32(b, uint32(day))
	return append(b, id...)
}

func keyDay(k []byte) uint64 { return uint64(binary.BigEndian.Uint32(k[:4])) }

// addUsage adds c to hour h of the day record at k.
func addUsage(b *bbolt.Bucket, k []byte, h uint64, c counters) error {
	d, err := decodeDay(b.Get(k))
	if err != nil {
		return err
	}
	for i := range c {
		n, err := store.AddCount(d[h%24][i], c[i])
		if err != nil {
			return &invalid{fmt.Errorf("usage of %s: %w", hourTime(h).Format(time.RFC3339), err)}
		}
		d[h%24][i] = n
	}
	return b.Put(k, d.encode())
}

// RecordUsage merges the deltas into their hourly buckets (per key and in
// the total), the refused-host counters and each key's last use, in one
// transaction, and publishes one store.EventUsage. It refuses the whole
// batch (store.ErrInvalid) when store.CheckUsage does, when a delta names a
// key id the store does not have, or when a sum would pass 2^64−1.
func (s *Store) RecordUsage(ctx context.Context, deltas []store.UsageDelta) error {
	if len(deltas) == 0 {
		return nil
	}
	if err := store.CheckUsage(deltas, s.now()); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bbolt.Tx) ([]store.Event, error) {
		usage, total, refused := tx.Bucket(bUsage), tx.Bucket(bUsageTotal), tx.Bucket(bRefusedDays)
		ids := tx.Bucket(bKeyIDs)
		distinct := map[string]int{}
		for i, d := range deltas {
			if d.KeyID != "" && ids.Get([]byte(d.KeyID)) == nil {
				return nil, &invalid{fmt.Errorf("delta %d: usage for the unknown key id \"%s\": nothing was recorded", i, model.Escape(d.KeyID))}
			}
		}
		for _, d := range deltas {
			h := hourIndex(d.Hour)
			add := counters{d.Allowed, d.Unauthorized, d.Forbidden, d.Limited}
			if add != (counters{}) {
				if err := addUsage(usage, dayKey(h/24, d.KeyID), h, add); err != nil {
					return nil, err
				}
				if err := addUsage(total, dayKey(h/24, ""), h, add); err != nil {
					return nil, err
				}
			}
			seen := d.LastUsed
			if seen.IsZero() {
				seen = hourTime(h)
			}
			day, last := int64(h/24), seen.UnixNano()
			for host, n := range d.RefusedHosts {
				if n > 0 {
					if err := addRefused(refused, d.KeyID, day, strings.ToLower(host), n, last, distinct); err != nil {
						return nil, err
					}
				}
			}
			if d.OtherHosts > 0 {
				if err := addRefused(refused, d.KeyID, day, "", d.OtherHosts, last, distinct); err != nil {
					return nil, err
				}
			}
			if err := addMatched(tx.Bucket(bMatched), d); err != nil {
				return nil, err
			}
			if d.KeyID == "" || d.LastUsed.IsZero() {
				continue
			}
			r, err := getKey(tx, d.KeyID)
			if err != nil {
				continue // usage of a key that is not (or no longer) here
			}
			if d.LastUsed.After(r.key.LastUsed) {
				r.key.LastUsed = d.LastUsed.UTC()
				r.lastHost = strings.ToLower(d.LastHost)
				if err := putKey(tx, &r); err != nil {
					return nil, err
				}
			}
		}
		return []store.Event{{Kind: store.EventUsage}}, nil
	})
}

// Usage returns the hourly buckets whose hour is in [q.Since, q.Until),
// and the daily buckets of the rolled-up days that overlap it, oldest
// first. KeyID "" sums every key, unknown keys included.
func (s *Store) Usage(ctx context.Context, q store.UsageQuery) ([]store.UsageBucket, error) {
	until := q.Until
	if until.IsZero() {
		until = s.now()
	}
	from, to := hourCeil(q.Since), hourCeil(until)
	out := []store.UsageBucket{}
	if from >= to {
		return out, s.check(ctx)
	}
	emit := func(k, v []byte) error {
		day, err := decodeDay(v)
		if err != nil {
			return fmt.Errorf("usage %x: %w", k, err)
		}
		first := keyDay(k) * 24
		for i, cnt := range day {
			h := first + uint64(i)
			if h < from || h >= to || cnt == (counters{}) {
				continue
			}
			out = append(out, store.UsageBucket{
				Hour:         hourTime(h),
				Allowed:      cnt[0],
				Unauthorized: cnt[1],
				Forbidden:    cnt[2],
				Limited:      cnt[3],
			})
		}
		return nil
	}
	// Days rolled up (older than the hourly retention) come as one daily
	// bucket each, when the day overlaps [from, to).
	emitDaily := func(k, v []byte) error {
		day, err := decodeDay(v)
		if err != nil {
			return fmt.Errorf("daily usage %x: %w", k, err)
		}
		if cnt := day[0]; cnt != (counters{}) {
			out = append(out, store.UsageBucket{Hour: hourTime(keyDay(k) * 24), Daily: true,
				Allowed: cnt[0], Unauthorized: cnt[1], Forbidden: cnt[2], Limited: cnt[3]})
		}
		return nil
	}
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		firstDay, lastDay := from/24, (to-1)/24
		daily := tx.Bucket(bUsageDaily)
		if q.KeyID == "" {
			daily = tx.Bucket(bUsageTotalDaily)
		}
		c := daily.Cursor()
		for k, v := c.Seek(dayKey(firstDay, "")); k != nil && keyDay(k) <= lastDay; k, v = c.Next() {
			if q.KeyID == "" && len(k) != 4 || q.KeyID != "" && string(k[4:]) != q.KeyID {
				continue
			}
			if err := emitDaily(k, v); err != nil {
				return err
			}
		}
		if q.KeyID == "" {
			c := tx.Bucket(bUsageTotal).Cursor()
			for k, v := c.Seek(dayKey(firstDay, "")); k != nil && len(k) == 4 && keyDay(k) <= lastDay; k, v = c.Next() {
				if err := emit(k, v); err != nil {
					return err
				}
			}
			return nil
		}
		b := tx.Bucket(bUsage)
		c = b.Cursor()
		// Only visit the days that have data at all.
		if k, _ := c.First(); k == nil {
			return nil
		} else if d := keyDay(k); d > firstDay {
			firstDay = d
		}
		if k, _ := c.Last(); keyDay(k) < lastDay {
			lastDay = keyDay(k)
		}
		for day := firstDay; day <= lastDay; day++ {
			k := dayKey(day, q.KeyID)
			if v := b.Get(k); v != nil {
				if err := emit(k, v); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b store.UsageBucket) int { return a.Hour.Compare(b.Hour) })
	return out, nil
}

// MaintainUsage implements store.UsageMaintainer in one transaction.
func (s *Store) MaintainUsage(ctx context.Context, now time.Time) (store.UsageMaintenance, error) {
	var rep store.UsageMaintenance
	rollEnd := hourIndex(now.Add(-store.HourlyRetention)) / 24 // days before it roll up
	pruneEnd := hourIndex(now.Add(-store.DailyRetention)) / 24 // days before it go
	err := s.update(ctx, func(tx *bbolt.Tx) ([]store.Event, error) {
		rep = store.UsageMaintenance{}
		for _, pair := range [][2][]byte{{bUsage, bUsageDaily}, {bUsageTotal, bUsageTotalDaily}} {
			hourly, daily := tx.Bucket(pair[0]), tx.Bucket(pair[1])
			var old [][]byte
			c := hourly.Cursor()
			for k, _ := c.First(); k != nil && keyDay(k) < rollEnd; k, _ = c.Next() {
				old = append(old, bytes.Clone(k))
			}
			for _, k := range old {
				if keyDay(k) >= pruneEnd {
					d, err := decodeDay(hourly.Get(k))
					if err != nil {
						return nil, fmt.Errorf("usage %x: %w", k, err)
					}
					var sum counters
					for _, h := range d {
						for i := range sum {
							sum[i] = satAdd(sum[i], h[i])
						}
					}
					if err := addDaily(daily, k, sum); err != nil {
						return nil, err
					}
					rep.RolledUpDays++
				} else {
					rep.PrunedRecords++
				}
				if err := hourly.Delete(k); err != nil {
					return nil, err
				}
			}
			var gone [][]byte
			c = daily.Cursor()
			for k, _ := c.First(); k != nil && keyDay(k) < pruneEnd; k, _ = c.Next() {
				gone = append(gone, bytes.Clone(k))
			}
			for _, k := range gone {
				if err := daily.Delete(k); err != nil {
					return nil, err
				}
				rep.PrunedRecords++
			}
		}
		refused := tx.Bucket(bRefusedDays)
		var gone [][]byte
		err := refused.ForEach(func(k, _ []byte) error {
			_, rest, ok := bytes.Cut(k, []byte{0})
			if ok && len(rest) >= 4 && uint64(binary.BigEndian.Uint32(rest)) < pruneEnd {
				gone = append(gone, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, k := range gone {
			if err := refused.Delete(k); err != nil {
				return nil, err
			}
			rep.PrunedRecords++
		}
		if rep == (store.UsageMaintenance{}) {
			return nil, nil
		}
		return []store.Event{{Kind: store.EventUsage}}, nil
	})
	return rep, err
}

var _ store.UsageMaintainer = (*Store)(nil)

// addDaily adds c to the daily record at k (its counts in slot 0).
func addDaily(b *bbolt.Bucket, k []byte, c counters) error {
	d, err := decodeDay(b.Get(k))
	if err != nil {
		return fmt.Errorf("daily usage %x: %w", k, err)
	}
	for i := range c {
		d[0][i] = satAdd(d[0][i], c[i])
	}
	return b.Put(k, d.encode())
}

// satAdd adds without wrapping: a sum of stored counts saturates.
func satAdd(a, b uint64) uint64 {
	if s, err := store.AddCount(a, b); err == nil {
		return s
	}
	return ^uint64(0)
}
