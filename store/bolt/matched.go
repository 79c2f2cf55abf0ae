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

// matchedDays is how many days of counts a matched-host record keeps (a
// ring of day slots; 7 days plus today).
const matchedDays = 8

// matchedRecord is the use of one link: the allowed requests of a matched
// host for a key, in total, per day for the last days, and the last time.
// Encoded as count(8) last(8) then matchedDays × (day(4) count(8)).
type matchedRecord struct {
	count uint64
	last  int64 // unix nanoseconds
	days  [matchedDays]struct {
		day   uint32
		count uint64
	}
}

const matchedLen = 16 + matchedDays*12

func decodeMatched(v []byte) matchedRecord {
	var r matchedRecord
	if len(v) != matchedLen {
		return r
	}
	r.count = binary.BigEndian.Uint64(v)
	r.last = int64(binary.BigEndian.Uint64(v[8:]))
	for i := range r.days {
		o := 16 + i*12
		r.days[i].day = binary.BigEndian.Uint32(v[o:])
		r.days[i].count = binary.BigEndian.Uint64(v[o+4:])
	}
	return r
}

func (r *matchedRecord) encode() []byte {
	b := make([]byte, matchedLen)
	binary.BigEndian.PutUint64(b, r.count)
	binary.BigEndian.PutUint64(b[8:], uint64(r.last))
	for i, d := range r.days {
		o := 16 + i*12
		binary.BigEndian.PutUint32(b[o:], d.day)
		binary.BigEndian.PutUint64(b[o+4:], d.count)
	}
	return b
}

// add counts n requests of hour h (an hour index) seen last at seen. It
// refuses a count that would pass 2^64−1.
func (r *matchedRecord) add(h uint64, n uint64, seen time.Time) error {
	c, err := store.AddCount(r.count, n)
	if err != nil {
		return err
	}
	r.count = c
	if ns := seen.UnixNano(); ns > r.last {
		r.last = ns
	}
	day := uint32(h / 24)
	s := &r.days[day%matchedDays]
	if s.day != day {
		if s.day > day {
			return nil // older than the ring holds
		}
		s.day, s.count = day, 0
	}
	s.count += n // at most r.count
	return nil
}

// since sums the day slots from day first on.
func (r *matchedRecord) since(first uint32) uint64 {
	var n uint64
	for _, s := range r.days {
		if s.day >= first && s.count > 0 {
			n += s.count
		}
	}
	return n
}

// addMatched records the matched hosts of one delta.
func addMatched(b *bbolt.Bucket, d store.UsageDelta) error {
	if d.KeyID == "" || len(d.MatchedHosts) == 0 {
		return nil
	}
	h := hourIndex(d.Hour)
	seen := d.LastUsed
	if seen.IsZero() || hourIndex(seen) != h {
		seen = hourTime(h)
	}
	for host, n := range d.MatchedHosts {
		if n == 0 || host == "" {
			continue
		}
		host = strings.ToLower(host)
		k := append([]byte(d.KeyID+"\x00"), host...)
		r := decodeMatched(b.Get(k))
		if err := r.add(h, n, seen); err != nil {
			return &invalid{fmt.Errorf("matched host %s: %w", host, err)}
		}
		if err := b.Put(k, r.encode()); err != nil {
			return err
		}
	}
	return nil
}

// MatchedHosts implements store.LinkUsage: the hosts that allowed requests
// for the key, most used first (then by name). Last7d counts the UTC days
// of the last week, today included.
func (s *Store) MatchedHosts(ctx context.Context, keyID string) ([]store.MatchedHost, error) {
	out := []store.MatchedHost{}
	first := uint32(hourIndex(s.now())/24) - 6
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		prefix := []byte(keyID + "\x00")
		c := tx.Bucket(bMatched).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			r := decodeMatched(v)
			out = append(out, store.MatchedHost{
				Host:     string(k[len(prefix):]),
				Count:    r.count,
				Last7d:   r.since(first),
				LastSeen: time.Unix(0, r.last).UTC(),
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

var _ store.LinkUsage = (*Store)(nil)
