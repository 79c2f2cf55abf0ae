package etcd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tmaps/console/store"
)

// Usage maintenance (SPEC.md "Usage storage bounds"), run by one elected
// node at a time (Campaign):
//
//	P/u/d/<block>/<id>   daily counts of one key for the 32 days of a block,
//	                     summed over the nodes (days older than 35 days)
//	P/u/dt/<block>       the same for the total of every key
//	P/u/m/<id>/all       matched hosts of a key's days older than a week,
//	                     folded into one record (at most 100 hosts)
//
// <block> is the UTC day number divided by blockDays, in 6 digits. Every
// step is one transaction whose compares check that the records it read
// are unchanged (a late flush of a node, another maintainer): the hourly
// records of a day are deleted in the transaction that adds them to the
// daily record, so a run cut anywhere leaves each day counted once.

// blockDays is how many days one daily record holds.
const blockDays = 32

// matchedKeepDays is how many recent days of matched hosts stay per day
// (MatchedHosts counts the last 7 for Last7d).
const matchedKeepDays = 8

// errMoved is a maintenance transaction that lost a race; the pass is
// made again on fresh reads.
var errMoved = errors.New("usage records changed during maintenance")

func blockName(day int64) string { return dayName(day / blockDays) }

func (s *Store) dailyKey(day int64, id string) string {
	return s.p + "u/d/" + blockName(day) + "/" + id
}
func (s *Store) dailyTotalKey(day int64) string { return s.p + "u/dt/" + blockName(day) }
func (s *Store) matchedAllKey(id string) string { return s.p + "u/m/" + id + "/all" }

// daysRec is one block of daily counts. Encoded: a 4-byte little-endian
// bitmap of the days that have counts, then 4 uvarints per such day.
type daysRec [blockDays]counts

func (d *daysRec) encode() []byte {
	var mask uint32
	b := make([]byte, 4, 4+8*4*2)
	for i := range d {
		if d[i] != (counts{}) {
			mask |= 1 << i
			for _, v := range d[i] {
				b = binary.AppendUvarint(b, v)
			}
		}
	}
	binary.LittleEndian.PutUint32(b, mask)
	return b
}

func (d *daysRec) empty() bool { return *d == daysRec{} }

func decodeDaysRec(b []byte) (daysRec, error) {
	var d daysRec
	if len(b) == 0 {
		return d, nil
	}
	if len(b) < 4 {
		return d, errCorrupt
	}
	mask := binary.LittleEndian.Uint32(b)
	b = b[4:]
	for i := range d {
		if mask&(1<<i) == 0 {
			continue
		}
		for j := range d[i] {
			v, w := binary.Uvarint(b)
			if w <= 0 {
				return d, errCorrupt
			}
			d[i][j] = v
			b = b[w:]
		}
	}
	return d, nil
}

func satAdd(a, b uint64) uint64 {
	if a+b < a {
		return ^uint64(0)
	}
	return a + b
}

// MaintainUsage implements store.UsageMaintainer: the hourly records of
// days that ended more than store.HourlyRetention ago are summed over the
// nodes into daily records; daily records and refused hosts of days older
// than store.DailyRetention are deleted; matched hosts older than a week
// are folded into one record per key; each key keeps one last-use record
// once the others are older than the hourly retention.
func (s *Store) MaintainUsage(ctx context.Context, now time.Time) (store.UsageMaintenance, error) {
	if err := s.check(ctx); err != nil {
		return store.UsageMaintenance{}, err
	}
	var rep store.UsageMaintenance
	for attempt := 0; ; attempt++ {
		err := s.maintain(ctx, now, &rep)
		if !errors.Is(err, errMoved) || attempt >= 10 {
			return rep, err
		}
	}
}

func (s *Store) maintain(ctx context.Context, now time.Time, rep *store.UsageMaintenance) error {
	rollEnd := hourIndex(now.Add(-store.HourlyRetention)) / 24
	pruneEnd := hourIndex(now.Add(-store.DailyRetention)) / 24
	if err := s.rollUp(ctx, s.p+"u/h/", false, rollEnd, pruneEnd, rep); err != nil {
		return err
	}
	if err := s.rollUp(ctx, s.p+"u/t/", true, rollEnd, pruneEnd, rep); err != nil {
		return err
	}
	for _, p := range []string{s.p + "u/d/", s.p + "u/dt/"} {
		if err := s.pruneDaily(ctx, p, pruneEnd, rep); err != nil {
			return err
		}
	}
	if err := s.pruneRefused(ctx, pruneEnd, rep); err != nil {
		return err
	}
	if err := s.foldMatched(ctx, hourIndex(now)/24-matchedKeepDays, rep); err != nil {
		return err
	}
	return s.pruneLastUse(ctx, rollEnd, rep)
}

// hourlyGroup is the hourly records of one day and key (or of the total),
// one per node.
type hourlyGroup struct {
	day   int64
	id    string // "" for the total
	keys  []string
	revs  []int64
	sum   counts
	empty bool
}

// rollUp moves the hourly records under p of the days before rollEnd into
// daily records (or deletes them, for days before pruneEnd).
func (s *Store) rollUp(ctx context.Context, p string, total bool, rollEnd, pruneEnd int64, rep *store.UsageMaintenance) error {
	var groups []*hourlyGroup
	var rev int64
	err := s.scan(ctx, &rev, p, p+dayName(rollEnd), false, func(k, v []byte, _, mod int64) error {
		parts := strings.Split(strings.TrimPrefix(string(k), p), "/")
		want := 3
		if total {
			want = 2
		}
		if len(parts) != want {
			return errCorrupt
		}
		day, err := strconv.ParseInt(parts[0], 10, 64)
		if err != nil {
			return errCorrupt
		}
		id := ""
		if !total {
			id = parts[1]
		}
		d, err := decodeDayRec(v)
		if err != nil {
			return fmt.Errorf("usage record %s: %w", k, err)
		}
		g := groups[max(len(groups)-1, 0):]
		if len(g) == 0 || g[0].day != day || g[0].id != id {
			groups = append(groups, &hourlyGroup{day: day, id: id})
		}
		cur := groups[len(groups)-1]
		cur.keys = append(cur.keys, string(k))
		cur.revs = append(cur.revs, mod)
		for h := range d {
			for i := range d[h] {
				cur.sum[i] = satAdd(cur.sum[i], d[h][i])
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Batches of whole groups within a transaction's limits.
	for len(groups) > 0 {
		n, ops := 0, 0
		for n < len(groups) && (n == 0 || ops+len(groups[n].keys)+1 <= maxTxnOps) {
			ops += len(groups[n].keys) + 1
			n++
		}
		if err := s.rollBatch(ctx, groups[:n], total, pruneEnd, rep); err != nil {
			return err
		}
		groups = groups[n:]
	}
	return nil
}

func (s *Store) rollBatch(ctx context.Context, groups []*hourlyGroup, total bool, pruneEnd int64, rep *store.UsageMaintenance) error {
	dailyOf := func(g *hourlyGroup) string {
		if total {
			return s.dailyTotalKey(g.day)
		}
		return s.dailyKey(g.day, g.id)
	}
	// The daily records the batch adds to, as they are now.
	recs := map[string]*daysRec{}
	mods := map[string]int64{}
	var gets []clientv3.Op
	var names []string
	for _, g := range groups {
		if g.day < pruneEnd {
			continue
		}
		k := dailyOf(g)
		if _, ok := recs[k]; !ok {
			recs[k] = nil
			gets = append(gets, clientv3.OpGet(k))
			names = append(names, k)
		}
	}
	if len(gets) > 0 {
		resp, err := s.get(ctx, gets...)
		if err != nil {
			return err
		}
		for i, r := range resp.Responses {
			var v []byte
			if kvs := r.GetResponseRange().Kvs; len(kvs) == 1 {
				v, mods[names[i]] = kvs[0].Value, kvs[0].ModRevision
			}
			d, err := decodeDaysRec(v)
			if err != nil {
				return fmt.Errorf("daily usage %s: %w", names[i], err)
			}
			recs[names[i]] = &d
		}
	}
	var cmps []clientv3.Cmp
	var ops []clientv3.Op
	var rolled, pruned int
	for _, g := range groups {
		for i, k := range g.keys {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(k), "=", g.revs[i]))
			ops = append(ops, clientv3.OpDelete(k))
		}
		if g.day < pruneEnd {
			pruned++
			continue
		}
		rolled++
		d := recs[dailyOf(g)]
		slot := &d[g.day%blockDays]
		for i := range slot {
			slot[i] = satAdd(slot[i], g.sum[i])
		}
	}
	for _, k := range names {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(k), "=", mods[k]))
		ops = append(ops, clientv3.OpPut(k, string(recs[k].encode())))
	}
	if err := s.commitMaintenance(ctx, cmps, ops); err != nil {
		return err
	}
	rep.RolledUpDays += rolled
	rep.PrunedRecords += pruned
	return nil
}

// commitMaintenance commits one maintenance transaction: errMoved when a
// compare failed.
func (s *Store) commitMaintenance(ctx context.Context, cmps []clientv3.Cmp, ops []clientv3.Op) error {
	if len(ops) == 0 {
		return nil
	}
	cctx, cancel := s.reqCtx(ctx)
	defer cancel()
	resp, err := s.cli.Txn(cctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return s.mapErr(ctx, err)
	}
	if !resp.Succeeded {
		return errMoved
	}
	s.noteWrite(resp.Header.Revision)
	return nil
}

// pruneDaily removes the days before pruneEnd from the daily records under
// p, deleting the records left empty.
func (s *Store) pruneDaily(ctx context.Context, p string, pruneEnd int64, rep *store.UsageMaintenance) error {
	var rev int64
	var cmps []clientv3.Cmp
	var ops []clientv3.Op
	pruned := 0
	flush := func() error {
		err := s.commitMaintenance(ctx, cmps, ops)
		if err == nil {
			rep.PrunedRecords += pruned
		}
		cmps, ops, pruned = cmps[:0], ops[:0], 0
		return err
	}
	err := s.scan(ctx, &rev, p, p+blockName(pruneEnd+blockDays), false, func(k, v []byte, _, mod int64) error {
		block, err := strconv.ParseInt(strings.SplitN(strings.TrimPrefix(string(k), p), "/", 2)[0], 10, 64)
		if err != nil {
			return errCorrupt
		}
		d, err := decodeDaysRec(v)
		if err != nil {
			return fmt.Errorf("daily usage %s: %w", k, err)
		}
		n := 0
		for i := range d {
			if block*blockDays+int64(i) < pruneEnd && d[i] != (counts{}) {
				d[i] = counts{}
				n++
			}
		}
		if n == 0 {
			return nil
		}
		if len(ops) >= maxTxnOps {
			if err := flush(); err != nil {
				return err
			}
		}
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(string(k)), "=", mod))
		if d.empty() {
			ops = append(ops, clientv3.OpDelete(string(k)))
		} else {
			ops = append(ops, clientv3.OpPut(string(k), string(d.encode())))
		}
		pruned += n
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// pruneRefused deletes the refused hosts of the days before pruneEnd.
func (s *Store) pruneRefused(ctx context.Context, pruneEnd int64, rep *store.UsageMaintenance) error {
	p := s.p + "u/r/"
	var rev int64
	var cmps []clientv3.Cmp
	var ops []clientv3.Op
	flush := func() error {
		err := s.commitMaintenance(ctx, cmps, ops)
		if err == nil {
			rep.PrunedRecords += len(ops)
		}
		cmps, ops = cmps[:0], ops[:0]
		return err
	}
	err := s.scan(ctx, &rev, p, prefixEnd(p), true, func(k, _ []byte, _, mod int64) error {
		parts := strings.Split(strings.TrimPrefix(string(k), p), "/")
		if len(parts) != 3 {
			return errCorrupt
		}
		day, err := strconv.ParseInt(parts[1], 10, 64)
		if err != nil {
			return errCorrupt
		}
		if day >= pruneEnd {
			return nil
		}
		if len(ops) >= maxTxnOps {
			if err := flush(); err != nil {
				return err
			}
		}
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(string(k)), "=", mod))
		ops = append(ops, clientv3.OpDelete(string(k)))
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// foldMatched folds each key's matched hosts of the days before end into
// its all-time record, one key per transaction.
func (s *Store) foldMatched(ctx context.Context, end int64, rep *store.UsageMaintenance) error {
	p := s.p + "u/m/"
	type rec struct {
		key string
		mod int64
		r   hostsRec
	}
	var id string
	var old []rec
	fold := func() error {
		if len(old) == 0 {
			return nil
		}
		defer func() { old = old[:0] }()
		for len(old) > 0 {
			n := min(len(old), maxTxnOps-1)
			ak := s.matchedAllKey(id)
			resp, err := s.get(ctx, clientv3.OpGet(ak))
			if err != nil {
				return err
			}
			var v []byte
			var amod int64
			if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) == 1 {
				v, amod = kvs[0].Value, kvs[0].ModRevision
			}
			all, err := decodeHosts(v)
			if err != nil {
				return fmt.Errorf("matched hosts %s: %w", ak, err)
			}
			cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(ak), "=", amod)}
			var ops []clientv3.Op
			for _, o := range old[:n] {
				for h, c := range o.r.Hosts {
					if err := all.add(h, c.N, c.Last); err != nil {
						return err
					}
				}
				all.Other.N = satAdd(all.Other.N, o.r.Other.N)
				all.Other.Last = max(all.Other.Last, o.r.Other.Last)
				cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(o.key), "=", o.mod))
				ops = append(ops, clientv3.OpDelete(o.key))
			}
			ops = append(ops, clientv3.OpPut(ak, string(all.encode())))
			if err := s.commitMaintenance(ctx, cmps, ops); err != nil {
				return err
			}
			rep.RolledUpDays += n
			old = old[n:]
		}
		return nil
	}
	var rev int64
	err := s.scan(ctx, &rev, p, prefixEnd(p), false, func(k, v []byte, _, mod int64) error {
		parts := strings.Split(strings.TrimPrefix(string(k), p), "/")
		if len(parts) < 2 {
			return errCorrupt
		}
		if parts[0] != id {
			if err := fold(); err != nil {
				return err
			}
			id = parts[0]
		}
		if len(parts) != 3 {
			return nil // the all-time record
		}
		day, err := strconv.ParseInt(parts[1], 10, 64)
		if err != nil {
			return errCorrupt
		}
		if day >= end {
			return nil
		}
		r, err := decodeHosts(v)
		if err != nil {
			return fmt.Errorf("matched hosts %s: %w", k, err)
		}
		old = append(old, rec{key: string(k), mod: mod, r: r})
		return nil
	})
	if err != nil {
		return err
	}
	return fold()
}

// pruneLastUse deletes, for each key, the last-use records of other nodes
// (past runs of a node write under a new id) older than both the key's
// latest use and the day end.
func (s *Store) pruneLastUse(ctx context.Context, end int64, rep *store.UsageMaintenance) error {
	p := s.p + "u/l/"
	type rec struct {
		key string
		mod int64
		at  time.Time
	}
	var id string
	var recs []rec
	var cmps []clientv3.Cmp
	var ops []clientv3.Op
	flush := func() error {
		err := s.commitMaintenance(ctx, cmps, ops)
		if err == nil {
			rep.PrunedRecords += len(ops)
		}
		cmps, ops = cmps[:0], ops[:0]
		return err
	}
	settle := func() error {
		var latest time.Time
		for _, r := range recs {
			if r.at.After(latest) {
				latest = r.at
			}
		}
		for _, r := range recs {
			if r.at.Before(latest) && hourIndex(r.at)/24 < end {
				if len(ops) >= maxTxnOps {
					if err := flush(); err != nil {
						return err
					}
				}
				cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(r.key), "=", r.mod))
				ops = append(ops, clientv3.OpDelete(r.key))
			}
		}
		recs = recs[:0]
		return nil
	}
	var rev int64
	err := s.scan(ctx, &rev, p, prefixEnd(p), false, func(k, v []byte, _, mod int64) error {
		rid, _, _ := strings.Cut(strings.TrimPrefix(string(k), p), "/")
		if rid != id {
			if err := settle(); err != nil {
				return err
			}
			id = rid
		}
		u, err := decodeLastUse(v)
		if err != nil {
			return fmt.Errorf("last use %s: %w", k, err)
		}
		recs = append(recs, rec{key: string(k), mod: mod, at: u.at})
		return nil
	})
	if err != nil {
		return err
	}
	if err := settle(); err != nil {
		return err
	}
	return flush()
}

var _ store.UsageMaintainer = (*Store)(nil)
