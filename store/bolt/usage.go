package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sort"
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
		usage, total, refused := tx.Bucket(bUsage), tx.Bucket(bUsageTotal), tx.Bucket(bRefused)
		ids := tx.Bucket(bKeyIDs)
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
			for host, n := range d.RefusedHosts {
				if n == 0 {
					continue
				}
				host = strings.ToLower(host)
				k := append([]byte(d.KeyID+"\x00"), host...)
				var cnt uint64
				var last int64
				var err error
				if v := refused.Get(k); len(v) == 16 {
					cnt = binary.BigEndian.Uint64(v)
					last = int64(binary.BigEndian.Uint64(v[8:]))
				}
				if cnt, err = store.AddCount(cnt, n); err != nil {
					return nil, &invalid{fmt.Errorf("refused host %s: %w", host, err)}
				}
				if ns := seen.UnixNano(); ns > last {
					last = ns
				}
				v := make([]byte, 16)
				binary.BigEndian.PutUint64(v, cnt)
				binary.BigEndian.PutUint64(v[8:], uint64(last))
				if err := refused.Put(k, v); err != nil {
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
// oldest first. KeyID "" sums every key, unknown keys included.
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
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		firstDay, lastDay := from/24, (to-1)/24
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
		c := b.Cursor()
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
	return out, nil
}

// PruneUsage deletes the usage of the days that ended before before, and the
// refused hosts last seen before it, in one transaction. It returns how many
// records it deleted.
func (s *Store) PruneUsage(ctx context.Context, before time.Time) (int, error) {
	n := 0
	err := s.update(ctx, func(tx *bbolt.Tx) ([]store.Event, error) {
		n = 0
		end := hourIndex(before) / 24 // days < end are over
		for _, name := range [][]byte{bUsage, bUsageTotal} {
			c := tx.Bucket(name).Cursor()
			for k, _ := c.First(); k != nil && keyDay(k) < end; k, _ = c.First() {
				if err := c.Delete(); err != nil {
					return nil, err
				}
				n++
			}
		}
		c := tx.Bucket(bRefused).Cursor()
		cut := before.UnixNano()
		for k, v := c.First(); k != nil; {
			if len(v) == 16 && int64(binary.BigEndian.Uint64(v[8:])) < cut {
				if err := c.Delete(); err != nil {
					return nil, err
				}
				n++
				k, v = c.Seek(k)
				continue
			}
			k, v = c.Next()
		}
		if n == 0 {
			return nil, nil
		}
		return []store.Event{{Kind: store.EventUsage}}, nil
	})
	return n, err
}

// RefusedHosts returns the hosts refused for a key, most refused first (then
// by name).
func (s *Store) RefusedHosts(ctx context.Context, keyID string) ([]store.RefusedHost, error) {
	out := []store.RefusedHost{}
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		prefix := []byte(keyID + "\x00")
		c := tx.Bucket(bRefused).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if len(v) != 16 {
				continue
			}
			out = append(out, store.RefusedHost{
				Host:     string(k[len(prefix):]),
				Count:    binary.BigEndian.Uint64(v),
				LastSeen: time.Unix(0, int64(binary.BigEndian.Uint64(v[8:]))).UTC(),
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Host < out[j].Host
	})
	return out, nil
}
