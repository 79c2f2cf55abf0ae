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

// Refused hosts are kept per key and UTC day (SPEC.md "Usage storage
// bounds"): bucket refused_days, key = key id, 0x00, day (4 bytes, big
// endian), host → count (8) and last seen (8, unix nanoseconds). At most
// store.MaxRefusedHostsPerDay hosts per key and day; further hosts add to
// the day's "other hosts" record, whose host is empty.

// refusedPrefix is the key prefix of one key's refused hosts, or of one
// day of them when day >= 0.
func refusedPrefix(keyID string, day int64) []byte {
	b := append([]byte(keyID), 0)
	if day >= 0 {
		b = binary.BigEndian.AppendUint32(b, uint32(day))
	}
	return b
}

type refusedRecord struct {
	count uint64
	last  int64
}

func decodeRefused(v []byte) (refusedRecord, bool) {
	if len(v) != 16 {
		return refusedRecord{}, false
	}
	return refusedRecord{binary.BigEndian.Uint64(v), int64(binary.BigEndian.Uint64(v[8:]))}, true
}

func (r refusedRecord) encode() []byte {
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v, r.count)
	binary.BigEndian.PutUint64(v[8:], uint64(r.last))
	return v
}

// addRefused counts n refusals of host (other when host is "") for a key
// on a day, seen last at seen. A new host past the day's bound goes to the
// other-hosts record. distinct caches the number of named hosts of each
// day prefix within the transaction.
func addRefused(b *bbolt.Bucket, keyID string, day int64, host string, n uint64, seen int64, distinct map[string]int) error {
	prefix := refusedPrefix(keyID, day)
	k := append(bytes.Clone(prefix), host...)
	v := b.Get(k)
	if v == nil && host != "" {
		c, ok := distinct[string(prefix)]
		if !ok {
			cur := b.Cursor()
			for ck, _ := cur.Seek(prefix); ck != nil && bytes.HasPrefix(ck, prefix); ck, _ = cur.Next() {
				if len(ck) > len(prefix) {
					c++
				}
			}
		}
		if c >= store.MaxRefusedHostsPerDay {
			distinct[string(prefix)] = c
			return addRefused(b, keyID, day, "", n, seen, distinct)
		}
		distinct[string(prefix)] = c + 1
	}
	r, _ := decodeRefused(v)
	var err error
	if r.count, err = store.AddCount(r.count, n); err != nil {
		return &invalid{fmt.Errorf("refused host %s: %w", host, err)}
	}
	r.last = max(r.last, seen)
	return b.Put(k, r.encode())
}

// migrateRefused moves the records of the former refused bucket (key id,
// 0x00, host; no day) into refused_days under the day they were last seen,
// within the bound, and deletes the old bucket.
func migrateRefused(tx *bbolt.Tx) error {
	old := tx.Bucket(bRefusedV1)
	if old == nil {
		return nil
	}
	b := tx.Bucket(bRefusedDays)
	distinct := map[string]int{}
	err := old.ForEach(func(k, v []byte) error {
		id, host, ok := bytes.Cut(k, []byte{0})
		r, valid := decodeRefused(v)
		if !ok || !valid || store.UsageHost(string(host)) != nil {
			return nil // not a record this version can read: dropped
		}
		day := max(r.last, 0) / int64(24*time.Hour)
		return addRefused(b, string(id), day, strings.ToLower(string(host)), r.count, r.last, distinct)
	})
	if err != nil {
		return err
	}
	return tx.DeleteBucket(bRefusedV1)
}

// RefusedHosts returns the hosts refused for a key over the days kept,
// summed per host, most refused first (then by name); the refusals of
// hosts past the daily bound come last as one entry with Other set.
func (s *Store) RefusedHosts(ctx context.Context, keyID string) ([]store.RefusedHost, error) {
	byHost := map[string]*store.RefusedHost{}
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		prefix := refusedPrefix(keyID, -1)
		c := tx.Bucket(bRefusedDays).Cursor()
		var err error
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			r, ok := decodeRefused(v)
			if !ok || len(k) < len(prefix)+4 {
				continue
			}
			host := string(k[len(prefix)+4:])
			h := byHost[host]
			if h == nil {
				h = &store.RefusedHost{Host: host, Other: host == ""}
				byHost[host] = h
			}
			if h.Count, err = store.AddCount(h.Count, r.count); err != nil {
				h.Count = ^uint64(0) // a sum over days saturates
			}
			if t := time.Unix(0, r.last).UTC(); t.After(h.LastSeen) {
				h.LastSeen = t
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]store.RefusedHost, 0, len(byHost))
	for _, h := range byHost {
		out = append(out, *h)
	}
	sort.Slice(out, func(i, j int) bool { return store.RefusedBefore(out[i], out[j]) })
	return out, nil
}
