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

	"github.com/tmaps/console/store"
)

// maxHostLen bounds a refused host as stored (a DNS name is at most 253).
const maxHostLen = 255

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

// dayKey is the key of a day record: the key id (empty for the total
// bucket), a 0 byte when there is an id, and the day number in 4 bytes.
func dayKey(id string, day uint64, total bool) []byte {
	b := make([]byte, 0, len(id)+5)
	if !total {
		b = append(b, id...)
		b = append(b, 0)
	}
	return binary.BigEndian.AppendUint32(b, uint32(day))
}

// addUsage adds c to hour h of the day record at k.
func addUsage(b *bbolt.Bucket, k []byte, h uint64, c counters) error {
	d, err := decodeDay(b.Get(k))
	if err != nil {
		return err
	}
	for i := range c {
		d[h%24][i] += c[i]
	}
	return b.Put(k, d.encode())
}

// RecordUsage merges the deltas into their hourly buckets (per key and in
// the total), the refused-host counters and each key's last use, in one
// transaction, and publishes one store.EventUsage.
func (s *Store) RecordUsage(ctx context.Context, deltas []store.UsageDelta) error {
	if len(deltas) == 0 {
		return nil
	}
	return s.update(ctx, func(tx *bbolt.Tx) ([]store.Event, error) {
		usage, total, refused := tx.Bucket(bUsage), tx.Bucket(bUsageTotal), tx.Bucket(bRefused)
		for _, d := range deltas {
			if strings.IndexByte(d.KeyID, 0) >= 0 {
				continue // cannot be a key id; it would break the layout
			}
			h := hourIndex(d.Hour)
			add := counters{d.Allowed, d.Unauthorized, d.Forbidden}
			if add != (counters{}) {
				if err := addUsage(usage, dayKey(d.KeyID, h/24, false), h, add); err != nil {
					return nil, err
				}
				if err := addUsage(total, dayKey("", h/24, true), h, add); err != nil {
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
				if len(host) > maxHostLen {
					host = host[:maxHostLen]
				}
				k := append([]byte(d.KeyID+"\x00"), host...)
				var cnt uint64
				var last int64
				if v := refused.Get(k); len(v) == 16 {
					cnt = binary.BigEndian.Uint64(v)
					last = int64(binary.BigEndian.Uint64(v[8:]))
				}
				cnt += n
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
			if d.KeyID == "" || d.LastUsed.IsZero() {
				continue
			}
			r, err := getKey(tx, d.KeyID)
			if err != nil {
				continue // usage of a key that is not (or no longer) here
			}
			if d.LastUsed.After(r.key.LastUsed) {
				r.key.LastUsed = d.LastUsed.UTC()
				host := d.LastHost
				if len(host) > maxHostLen {
					host = host[:maxHostLen]
				}
				r.lastHost = host
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
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bUsage)
		if q.KeyID == "" {
			b = tx.Bucket(bUsageTotal)
		}
		c := b.Cursor()
		start, end := dayKey(q.KeyID, from/24, q.KeyID == ""), dayKey(q.KeyID, (to-1)/24, q.KeyID == "")
		for k, v := c.Seek(start); k != nil && bytes.Compare(k, end) <= 0; k, v = c.Next() {
			day, err := decodeDay(v)
			if err != nil {
				return fmt.Errorf("usage %x: %w", k, err)
			}
			first := uint64(binary.BigEndian.Uint32(k[len(k)-4:])) * 24
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
				})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
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
