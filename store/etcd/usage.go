package etcd

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// Usage is written per node: each node owns the records that end in its
// node id and writes their absolute values (what it counted so far), never
// increments. A flush that failed, or whose answer was lost, is sent again
// by the gate with the same counts; since the store rolls its memory back
// to the values etcd confirmed before that flush, the retry writes the same
// totals again instead of adding them twice. Readers sum the nodes.

// maxHosts caps the distinct hosts a record keeps per key, day and node;
// more hosts add to one "other hosts" count (SPEC.md, usage storage bounds).
const maxHosts = store.MaxRefusedHostsPerDay

// keepDays is how many recent days of records a node keeps in memory.
const keepDays = 2

func hourIndex(t time.Time) int64 {
	u := t.Unix()
	if u < 0 {
		return 0
	}
	return u / 3600
}

func hourTime(h int64) time.Time { return time.Unix(h*3600, 0).UTC() }

// hourCeil is the first hour index whose start is not before t.
func hourCeil(t time.Time) int64 {
	h := hourIndex(t)
	if hourTime(h).Before(t) {
		h++
	}
	return h
}

func (s *Store) dayKey(day int64, id string) string {
	return s.p + "u/h/" + dayName(day) + "/" + id + "/" + s.node
}
func (s *Store) totalKey(day int64) string { return s.p + "u/t/" + dayName(day) + "/" + s.node }
func (s *Store) refusedKey(id string, day int64) string {
	return s.p + "u/r/" + id + "/" + dayName(day) + "/" + s.node
}
func (s *Store) matchedKey(id string, day int64) string {
	return s.p + "u/m/" + id + "/" + dayName(day) + "/" + s.node
}
func (s *Store) lastUsedKey(id string) string    { return s.p + "u/l/" + id + "/" + s.node }
func (s *Store) lastUsedPrefix(id string) string { return s.p + "u/l/" + id + "/" }

// counts are allowed, 401, 403 and 429.
type counts [4]uint64

// dayRec is one day of hourly counts. Encoded: a 3-byte bitmap of the hours
// that have counts, then 4 uvarints per such hour.
type dayRec [24]counts

func (d *dayRec) encode() []byte {
	var mask uint32
	b := make([]byte, 3, 3+24*4*2)
	for h := range d {
		if d[h] != (counts{}) {
			mask |= 1 << h
			for _, v := range d[h] {
				b = binary.AppendUvarint(b, v)
			}
		}
	}
	b[0], b[1], b[2] = byte(mask), byte(mask>>8), byte(mask>>16)
	return b
}

func decodeDayRec(b []byte) (dayRec, error) {
	var d dayRec
	if len(b) == 0 {
		return d, nil
	}
	if len(b) < 3 {
		return d, errCorrupt
	}
	mask := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
	b = b[3:]
	for h := range d {
		if mask&(1<<h) == 0 {
			continue
		}
		for i := range d[h] {
			v, w := binary.Uvarint(b)
			if w <= 0 {
				return d, errCorrupt
			}
			d[h][i] = v
			b = b[w:]
		}
	}
	return d, nil
}

// hostCount is one host's count and last time (unix nanoseconds).
type hostCount struct {
	N    uint64 `json:"n"`
	Last int64  `json:"l"`
}

// hostsRec is the hosts of one key, day and node, capped at maxHosts.
type hostsRec struct {
	Hosts map[string]hostCount `json:"h"`
	Other hostCount            `json:"o,omitzero"`
}

func decodeHosts(b []byte) (hostsRec, error) {
	r := hostsRec{Hosts: map[string]hostCount{}}
	if len(b) == 0 {
		return r, nil
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, errCorrupt
	}
	if r.Hosts == nil {
		r.Hosts = map[string]hostCount{}
	}
	return r, nil
}

// add counts n requests of host, last seen at last; a sum past 2^64−1 is
// refused.
func (r *hostsRec) add(host string, n uint64, last int64) error {
	host = strings.ToLower(host)
	c, ok := r.Hosts[host]
	dst := &c
	if !ok && len(r.Hosts) >= maxHosts {
		dst = &r.Other
	}
	var err error
	if dst.N, err = store.AddCount(dst.N, n); err != nil {
		return &invalid{fmt.Errorf("host %s: %w", model.Escape(host), err)}
	}
	dst.Last = max(dst.Last, last)
	if dst == &c {
		r.Hosts[host] = c
	}
	return nil
}

func (r *hostsRec) encode() []byte {
	b, _ := json.Marshal(r)
	return b
}

// lastUse is the latest use of a key seen by one node. Encoded as the unix
// nanoseconds in 20 decimal digits, a space and the host, so that byte
// order is time order.
type lastUse struct {
	at   time.Time
	host string
}

func (u lastUse) encode() []byte {
	return []byte(pad20(u.at.UnixNano()) + " " + u.host)
}

func pad20(n int64) string {
	s := strconv.FormatInt(max(n, 0), 10)
	return strings.Repeat("0", 20-len(s)) + s
}

func decodeLastUse(v []byte) (lastUse, error) {
	ns, host, ok := strings.Cut(string(v), " ")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil {
		return lastUse{}, errCorrupt
	}
	return lastUse{at: time.Unix(0, n).UTC(), host: host}, nil
}

// latestUse returns the latest use among the nodes' records.
func latestUse(kvs []*mvccpb.KeyValue) (time.Time, string) {
	var best lastUse
	for _, kv := range kvs {
		if u, err := decodeLastUse(kv.Value); err == nil && u.at.After(best.at) {
			best = u
		}
	}
	return best.at, best.host
}

// usageCache holds the values of this node's usage records as etcd last
// confirmed them.
type usageCache struct {
	mu        sync.Mutex        // one RecordUsage at a time
	confirmed map[string][]byte // etcd key → value etcd has (nil: absent)
	day       map[string]int64  // etcd key → its day (-1: not per day)
	unsettled map[string]bool   // keys a failed flush may have written
	known     map[string]bool   // key ids seen in the store (keys are never deleted)
}

func (c *usageCache) init() {
	c.confirmed = map[string][]byte{}
	c.day = map[string]int64{}
	c.unsettled = map[string]bool{}
	c.known = map[string]bool{}
}

// RecordUsage merges the deltas into this node's records: hourly counts per
// key and in the total, refused and matched hosts, and each key's last use.
// It writes no audit entry; watchers get one store.EventUsage. It refuses
// the whole batch (store.ErrInvalid) when store.CheckUsage does, when a
// delta names a key id the store does not have, or when a sum would pass
// 2^64−1. When it fails, nothing counts as recorded and the same deltas may
// be sent again.
func (s *Store) RecordUsage(ctx context.Context, deltas []store.UsageDelta) error {
	if len(deltas) == 0 {
		return nil
	}
	if err := store.CheckUsage(deltas, s.now()); err != nil {
		return err
	}
	if err := s.check(ctx); err != nil {
		return err
	}
	c := &s.usage
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := s.checkKnown(ctx, deltas); err != nil {
		return err
	}

	// What each delta touches, with the day of per-day records.
	touched := map[string]int64{}
	for _, d := range deltas {
		day := hourIndex(d.Hour) / 24
		if d.Allowed|d.Unauthorized|d.Forbidden|d.Limited != 0 {
			touched[s.dayKey(day, d.KeyID)] = day
			touched[s.totalKey(day)] = day
		}
		if len(d.RefusedHosts) > 0 || d.OtherHosts > 0 {
			touched[s.refusedKey(d.KeyID, day)] = day
		}
		if len(d.MatchedHosts) > 0 && d.KeyID != "" {
			touched[s.matchedKey(d.KeyID, day)] = day
		}
		if d.KeyID != "" && !d.LastUsed.IsZero() {
			touched[s.lastUsedKey(d.KeyID)] = -1
		}
	}
	if err := s.loadUsage(ctx, touched); err != nil {
		return err
	}

	// Apply the deltas to copies of the confirmed values.
	days := map[string]*dayRec{}
	hosts := map[string]*hostsRec{}
	uses := map[string]*lastUse{}
	dayOf := func(k string) (*dayRec, error) {
		if d := days[k]; d != nil {
			return d, nil
		}
		d, err := decodeDayRec(c.confirmed[k])
		days[k] = &d
		return &d, err
	}
	hostsOf := func(k string) (*hostsRec, error) {
		if h := hosts[k]; h != nil {
			return h, nil
		}
		h, err := decodeHosts(c.confirmed[k])
		hosts[k] = &h
		return &h, err
	}
	for _, d := range deltas {
		h := hourIndex(d.Hour)
		day := h / 24
		add := counts{d.Allowed, d.Unauthorized, d.Forbidden, d.Limited}
		if add != (counts{}) {
			for _, k := range []string{s.dayKey(day, d.KeyID), s.totalKey(day)} {
				rec, err := dayOf(k)
				if err != nil {
					return err
				}
				for i := range add {
					if rec[h%24][i], err = store.AddCount(rec[h%24][i], add[i]); err != nil {
						return &invalid{fmt.Errorf("usage of %s: %w", hourTime(h).Format(time.RFC3339), err)}
					}
				}
			}
		}
		seen := d.LastUsed
		if seen.IsZero() || hourIndex(seen) != h {
			seen = hourTime(h)
		}
		if len(d.RefusedHosts) > 0 || d.OtherHosts > 0 {
			rec, err := hostsOf(s.refusedKey(d.KeyID, day))
			if err != nil {
				return err
			}
			if d.OtherHosts > 0 {
				if rec.Other.N, err = store.AddCount(rec.Other.N, d.OtherHosts); err != nil {
					return &invalid{fmt.Errorf("other hosts: %w", err)}
				}
				rec.Other.Last = max(rec.Other.Last, seen.UnixNano())
			}
			for host, n := range d.RefusedHosts {
				if n > 0 {
					if err := rec.add(host, n, seen.UnixNano()); err != nil {
						return err
					}
				}
			}
		}
		if len(d.MatchedHosts) > 0 && d.KeyID != "" {
			rec, err := hostsOf(s.matchedKey(d.KeyID, day))
			if err != nil {
				return err
			}
			for host, n := range d.MatchedHosts {
				if n > 0 {
					if err := rec.add(host, n, seen.UnixNano()); err != nil {
						return err
					}
				}
			}
		}
		if d.KeyID != "" && !d.LastUsed.IsZero() {
			k := s.lastUsedKey(d.KeyID)
			u := uses[k]
			if u == nil {
				u = &lastUse{}
				if v := c.confirmed[k]; v != nil {
					if cur, err := decodeLastUse(v); err == nil {
						*u = cur
					}
				}
				uses[k] = u
			}
			if d.LastUsed.After(u.at) {
				*u = lastUse{at: d.LastUsed.UTC(), host: strings.ToLower(d.LastHost)}
			}
		}
	}
	next := make(map[string][]byte, len(days)+len(hosts)+len(uses))
	for k, d := range days {
		next[k] = d.encode()
	}
	for k, h := range hosts {
		next[k] = h.encode()
	}
	for k, u := range uses {
		next[k] = u.encode()
	}

	// Write the new absolute values, many records per transaction.
	var ops []clientv3.Op
	var keys []string
	size := 0
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		cctx, cancel := s.reqCtx(ctx)
		_, err := s.cli.Txn(cctx).Then(ops...).Commit()
		cancel()
		if s.afterUsageWrite != nil {
			err = s.afterUsageWrite(err)
		}
		for _, k := range keys {
			c.unsettled[k] = true // until the whole flush is confirmed
		}
		ops, keys, size = ops[:0], keys[:0], 0
		return err
	}
	for k, v := range next {
		if string(c.confirmed[k]) == string(v) {
			continue
		}
		if len(ops) >= maxTxnOps || size+len(k)+len(v) > maxTxnBytes {
			if err := flush(); err != nil {
				return s.mapErr(ctx, err)
			}
		}
		ops = append(ops, clientv3.OpPut(k, string(v)))
		keys = append(keys, k)
		size += len(k) + len(v)
	}
	if err := flush(); err != nil {
		return s.mapErr(ctx, err)
	}
	for k, v := range next {
		c.confirmed[k] = v
		delete(c.unsettled, k)
	}
	s.evictUsage()
	return nil
}

// checkKnown refuses usage for key ids the store does not have. Keys are
// never deleted, so an id seen once is not read again.
func (s *Store) checkKnown(ctx context.Context, deltas []store.UsageDelta) error {
	c := &s.usage
	var ids []string
	seen := map[string]bool{}
	for _, d := range deltas {
		if d.KeyID != "" && !c.known[d.KeyID] && !seen[d.KeyID] {
			seen[d.KeyID] = true
			ids = append(ids, d.KeyID)
		}
	}
	for len(ids) > 0 {
		n := min(len(ids), maxTxnOps)
		ops := make([]clientv3.Op, 0, n)
		for _, id := range ids[:n] {
			if !validID(id) {
				return &invalid{fmt.Errorf("usage for the unknown key id \"%s\": nothing was recorded", model.Escape(id))}
			}
			ops = append(ops, clientv3.OpGet(s.keyKey(id), clientv3.WithKeysOnly()))
		}
		resp, err := s.get(ctx, ops...)
		if err != nil {
			return err
		}
		for i, r := range resp.Responses {
			if len(r.GetResponseRange().Kvs) == 0 {
				return &invalid{fmt.Errorf("usage for the unknown key id \"%s\": nothing was recorded", model.Escape(ids[i]))}
			}
			c.known[ids[i]] = true
		}
		ids = ids[n:]
	}
	return nil
}

// loadUsage reads into the cache the touched records it does not hold.
func (s *Store) loadUsage(ctx context.Context, touched map[string]int64) error {
	c := &s.usage
	var missing []string
	for k, day := range touched {
		if _, ok := c.confirmed[k]; !ok {
			missing = append(missing, k)
		}
		c.day[k] = day
	}
	for len(missing) > 0 {
		n := min(len(missing), maxTxnOps)
		ops := make([]clientv3.Op, n)
		for i, k := range missing[:n] {
			ops[i] = clientv3.OpGet(k)
		}
		resp, err := s.get(ctx, ops...)
		if err != nil {
			return err
		}
		for i, r := range resp.Responses {
			var v []byte
			if kvs := r.GetResponseRange().Kvs; len(kvs) == 1 {
				v = kvs[0].Value
			}
			c.confirmed[missing[i]] = v
		}
		missing = missing[n:]
	}
	return nil
}

// evictUsage forgets settled records of days a node no longer counts.
func (s *Store) evictUsage() {
	c := &s.usage
	oldest := hourIndex(s.now())/24 - keepDays
	for k, day := range c.day {
		if day >= 0 && day < oldest && !c.unsettled[k] {
			delete(c.confirmed, k)
			delete(c.day, k)
		}
	}
}

// Usage returns the hourly buckets whose hour is in [q.Since, q.Until),
// oldest first, summed over the nodes. KeyID "" sums every key, unknown
// keys included.
func (s *Store) Usage(ctx context.Context, q store.UsageQuery) ([]store.UsageBucket, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	until := q.Until
	if until.IsZero() {
		until = s.now()
	}
	from, to := hourCeil(q.Since), hourCeil(until)
	out := []store.UsageBucket{}
	if from >= to {
		return out, nil
	}
	firstDay, lastDay := from/24, (to-1)/24
	sum := map[int64]*dayRec{}
	add := func(day int64, v []byte) error {
		d, err := decodeDayRec(v)
		if err != nil {
			return err
		}
		acc := sum[day]
		if acc == nil {
			acc = &dayRec{}
			sum[day] = acc
		}
		for h := range d {
			for i := range d[h] {
				acc[h][i] += d[h][i]
			}
		}
		return nil
	}
	if q.KeyID == "" {
		var rev int64
		p := s.p + "u/t/"
		err := s.scan(ctx, &rev, p+dayName(firstDay), p+dayName(lastDay+1), false, func(k, v []byte, _, _ int64) error {
			day, err := strconv.ParseInt(strings.SplitN(strings.TrimPrefix(string(k), p), "/", 2)[0], 10, 64)
			if err != nil {
				return errCorrupt
			}
			return add(day, v)
		})
		if err != nil {
			return nil, err
		}
	} else {
		if !validID(q.KeyID) {
			return out, nil
		}
		var rev int64
		for day := firstDay; day <= lastDay; {
			n := min(lastDay-day+1, maxTxnOps)
			ops := make([]clientv3.Op, 0, n)
			for i := range n {
				o := []clientv3.OpOption{clientv3.WithPrefix()}
				if rev > 0 {
					o = append(o, clientv3.WithRev(rev))
				}
				ops = append(ops, clientv3.OpGet(s.p+"u/h/"+dayName(day+i)+"/"+q.KeyID+"/", o...))
			}
			resp, err := s.get(ctx, ops...)
			if err != nil {
				return nil, err
			}
			if rev == 0 {
				rev = resp.Header.Revision
			}
			for i, r := range resp.Responses {
				for _, kv := range r.GetResponseRange().Kvs {
					if err := add(day+int64(i), kv.Value); err != nil {
						return nil, err
					}
				}
			}
			day += n
		}
	}
	daily, err := s.dailyUsage(ctx, q.KeyID, firstDay, lastDay)
	if err != nil {
		return nil, err
	}
	for day := firstDay; day <= lastDay; day++ {
		if c, ok := daily[day]; ok {
			out = append(out, store.UsageBucket{Hour: hourTime(day * 24), Daily: true, Allowed: c[0], Unauthorized: c[1], Forbidden: c[2], Limited: c[3]})
		}
		d := sum[day]
		if d == nil {
			continue
		}
		for i, cnt := range d {
			h := day*24 + int64(i)
			if h < from || h >= to || cnt == (counts{}) {
				continue
			}
			out = append(out, store.UsageBucket{Hour: hourTime(h), Allowed: cnt[0], Unauthorized: cnt[1], Forbidden: cnt[2], Limited: cnt[3]})
		}
	}
	return out, nil
}

// hostsOfKey merges the host records of one key (refused or matched) over
// days and nodes; perDay, when not nil, also receives each record's day.
func (s *Store) hostsOfKey(ctx context.Context, kind, id string, perDay func(day int64, r hostsRec)) (hostsRec, error) {
	all := hostsRec{Hosts: map[string]hostCount{}}
	if err := s.check(ctx); err != nil {
		return all, err
	}
	if strings.ContainsAny(id, "/\x00") {
		return all, nil
	}
	p := s.p + "u/" + kind + "/" + id + "/"
	var rev int64
	err := s.scan(ctx, &rev, p, prefixEnd(p), false, func(k, v []byte, _, _ int64) error {
		r, err := decodeHosts(v)
		if err != nil {
			return err
		}
		for h, c := range r.Hosts {
			cur := all.Hosts[h]
			all.Hosts[h] = hostCount{N: cur.N + c.N, Last: max(cur.Last, c.Last)}
		}
		all.Other.N += r.Other.N
		all.Other.Last = max(all.Other.Last, r.Other.Last)
		if perDay != nil {
			name := strings.SplitN(strings.TrimPrefix(string(k), p), "/", 2)[0]
			if name == "all" { // days folded by MaintainUsage
				return nil
			}
			day, err := strconv.ParseInt(name, 10, 64)
			if err != nil {
				return errCorrupt
			}
			perDay(day, r)
		}
		return nil
	})
	return all, err
}

// RefusedHosts returns the hosts refused for a key, summed over the days
// kept and the nodes, in store.RefusedBefore order; the refusals of the
// hosts past a day's bound are one entry with Other set.
func (s *Store) RefusedHosts(ctx context.Context, keyID string) ([]store.RefusedHost, error) {
	all, err := s.hostsOfKey(ctx, "r", keyID, nil)
	if err != nil {
		return nil, err
	}
	out := []store.RefusedHost{}
	for h, c := range all.Hosts {
		out = append(out, store.RefusedHost{Host: h, Count: c.N, LastSeen: time.Unix(0, c.Last).UTC()})
	}
	if all.Other.N > 0 {
		out = append(out, store.RefusedHost{Other: true, Count: all.Other.N, LastSeen: time.Unix(0, all.Other.Last).UTC()})
	}
	sort.Slice(out, func(i, j int) bool { return store.RefusedBefore(out[i], out[j]) })
	return out, nil
}

// MatchedHosts implements store.LinkUsage: the hosts that allowed requests
// for the key, summed over the days kept and the nodes, most used first.
// Last7d counts the UTC days of the last week, today included.
func (s *Store) MatchedHosts(ctx context.Context, keyID string) ([]store.MatchedHost, error) {
	first := hourIndex(s.now())/24 - 6
	week := map[string]uint64{}
	all, err := s.hostsOfKey(ctx, "m", keyID, func(day int64, r hostsRec) {
		if day >= first {
			for h, c := range r.Hosts {
				week[h] += c.N
			}
		}
	})
	if err != nil {
		return nil, err
	}
	out := []store.MatchedHost{}
	for h, c := range all.Hosts {
		out = append(out, store.MatchedHost{Host: h, Count: c.N, Last7d: week[h], LastSeen: time.Unix(0, c.Last).UTC()})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Host < out[j].Host
	})
	return out, nil
}

// LastHost returns the host (from Origin or Referer) of the last request a
// gate counted for the key, "" when none was recorded, or
// store.ErrKeyNotFound.
func (s *Store) LastHost(ctx context.Context, id string) (string, error) {
	if err := s.check(ctx); err != nil {
		return "", err
	}
	if !validID(id) {
		return "", keyNotFound(id)
	}
	resp, err := s.get(ctx, clientv3.OpGet(s.keyKey(id), clientv3.WithKeysOnly()), clientv3.OpGet(s.lastUsedPrefix(id), clientv3.WithPrefix()))
	if err != nil {
		return "", err
	}
	if len(resp.Responses[0].GetResponseRange().Kvs) == 0 {
		return "", keyNotFound(id)
	}
	_, host := latestUse(resp.Responses[1].GetResponseRange().Kvs)
	return host, nil
}

// dailyUsage reads the rolled-up days in [first, last] of a key (id "":
// the total), leaving out days without counts.
func (s *Store) dailyUsage(ctx context.Context, id string, first, last int64) (map[int64]counts, error) {
	out := map[int64]counts{}
	add := func(block int64, v []byte) error {
		d, err := decodeDaysRec(v)
		if err != nil {
			return err
		}
		for i, c := range d {
			if day := block*blockDays + int64(i); c != (counts{}) && day >= first && day <= last {
				out[day] = c
			}
		}
		return nil
	}
	fb, lb := first/blockDays, last/blockDays
	if id == "" {
		var rev int64
		p := s.p + "u/dt/"
		err := s.scan(ctx, &rev, p+dayName(fb), p+dayName(lb+1), false, func(k, v []byte, _, _ int64) error {
			block, err := strconv.ParseInt(strings.TrimPrefix(string(k), p), 10, 64)
			if err != nil {
				return errCorrupt
			}
			return add(block, v)
		})
		return out, err
	}
	for b := fb; b <= lb; {
		n := min(lb-b+1, maxTxnOps)
		ops := make([]clientv3.Op, 0, n)
		for i := range n {
			ops = append(ops, clientv3.OpGet(s.dailyKey((b+i)*blockDays, id)))
		}
		resp, err := s.get(ctx, ops...)
		if err != nil {
			return nil, err
		}
		for i, r := range resp.Responses {
			if kvs := r.GetResponseRange().Kvs; len(kvs) == 1 {
				if err := add(b+int64(i), kvs[0].Value); err != nil {
					return nil, err
				}
			}
		}
		b += n
	}
	return out, nil
}
