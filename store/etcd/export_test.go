package etcd

import (
	"context"
	"fmt"
	"slices"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// SeedKeys adds n keys quickly (100 per transaction, no audit entries) for
// tests and benchmarks, each linked to 0–2 of the given domains (which must
// exist; their link keys are written too), and returns their secrets.
func SeedKeys(ctx context.Context, s *Store, n int, domains []string) ([]string, error) {
	secrets := make([]string, 0, n)
	for done := 0; done < n; {
		batch := min(40, n-done)
		var ops []clientv3.Op
		for i := range batch {
			secret := model.NewSecret()
			k := model.Key{ID: model.NewID(), Name: fmt.Sprintf("key %d", done+i), Prefix: model.DisplayPrefix(secret),
				Digest: model.DigestOf(secret), Status: model.Active, Created: s.now().UTC()}
			k.StatusChanged = k.Created
			for j := range (done + i) % 3 {
				if len(domains) > 0 {
					k.Domains = append(k.Domains, domains[(done+i+j)%len(domains)])
				}
			}
			slices.Sort(k.Domains)
			k.Domains = slices.Compact(k.Domains)
			for _, d := range k.Domains {
				ops = append(ops, clientv3.OpPut(s.linkKey(d, k.ID), ""))
			}
			ops = append(ops, clientv3.OpPut(s.keyKey(k.ID), string(encodeKey(&k))), clientv3.OpPut(s.digestKey(k.Digest), k.ID))
			secrets = append(secrets, secret)
		}
		if _, err := s.cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			return nil, err
		}
		done += batch
	}
	return secrets, nil
}

// SeedKeysParallel is SeedKeys with 8 writers (keys not in creation
// order), for benchmarks.
func SeedKeysParallel(ctx context.Context, s *Store, n int, domains []string) error {
	errs := make(chan error, 8)
	for w := range 8 {
		go func() {
			_, err := SeedKeys(ctx, s, n/8+min(1, max(0, n%8-w)), domains)
			errs <- err
		}()
	}
	var first error
	for range 8 {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// FailUsageWrites makes the usage transactions fail as fn says (nil: stop).
func FailUsageWrites(s *Store, fn func(err error) error) { s.afterUsageWrite = fn }

// WriteUsageShape writes the usage records that ids leave when each key
// is used every hour by every one of nodes for `days` days up to today
// (now's day), after the leader's maintenance: hourly records of the last
// 35 days (per node), daily blocks before, per key a matched host per
// node and day for the last 8 days plus the folded record, and a last use
// per node. Eight writers, 120 records a transaction.
func WriteUsageShape(ctx context.Context, s *Store, ids, nodes []string, days int, now time.Time) error {
	today := hourIndex(now) / 24
	first := today - int64(days) + 1
	hourlyFrom := hourIndex(now.Add(-store.HourlyRetention)) / 24 // days before it are daily
	matchedFrom := today - matchedKeepDays
	put := func(ops *[]clientv3.Op, k string, v []byte) error {
		*ops = append(*ops, clientv3.OpPut(k, string(v)))
		if len(*ops) >= maxTxnOps {
			_, err := s.cli.Txn(ctx).Then(*ops...).Commit()
			*ops = (*ops)[:0]
			return err
		}
		return nil
	}
	work := func(part []string, seed int) error {
		var ops []clientv3.Op
		for i, id := range part {
			n := uint64(20 + (seed+i)%80)
			var hourly dayRec
			for h := range hourly {
				hourly[h] = counts{n + uint64(h), 0, uint64(min(1, h%9/8)), 0}
			}
			daily := map[int64]*daysRec{}
			host := fmt.Sprintf("site%d.tn", (seed+i)%500)
			for day := first; day <= today; day++ {
				if day < hourlyFrom {
					d := daily[day/blockDays]
					if d == nil {
						d = &daysRec{}
						daily[day/blockDays] = d
					}
					d[day%blockDays] = counts{uint64(len(nodes)) * 24 * (n + 12), 0, uint64(len(nodes)) * 2, 0}
					continue
				}
				for _, node := range nodes {
					if err := put(&ops, s.p+"u/h/"+dayName(day)+"/"+id+"/"+node, hourly.encode()); err != nil {
						return err
					}
					if day >= matchedFrom {
						m := hostsRec{Hosts: map[string]hostCount{host: {N: 24 * n, Last: now.UnixNano()}}}
						if err := put(&ops, s.p+"u/m/"+id+"/"+dayName(day)+"/"+node, m.encode()); err != nil {
							return err
						}
					}
				}
			}
			for block, d := range daily {
				if err := put(&ops, s.p+"u/d/"+dayName(block)+"/"+id, d.encode()); err != nil {
					return err
				}
			}
			all := hostsRec{Hosts: map[string]hostCount{host: {N: uint64(days) * 24 * n, Last: now.UnixNano()}}}
			if err := put(&ops, s.matchedAllKey(id), all.encode()); err != nil {
				return err
			}
			for _, node := range nodes {
				if err := put(&ops, s.p+"u/l/"+id+"/"+node, lastUse{at: now, host: host}.encode()); err != nil {
					return err
				}
			}
		}
		if len(ops) > 0 {
			_, err := s.cli.Txn(ctx).Then(ops...).Commit()
			return err
		}
		return nil
	}
	// The totals, per node and day; daily totals per block.
	var ops []clientv3.Op
	for day := first; day <= today; day++ {
		if day < hourlyFrom {
			continue
		}
		for _, node := range nodes {
			var d dayRec
			for h := range d {
				d[h] = counts{uint64(len(ids)) * 60, 0, uint64(len(ids)) / 9, 0}
			}
			if err := put(&ops, s.p+"u/t/"+dayName(day)+"/"+node, d.encode()); err != nil {
				return err
			}
		}
	}
	blocks := map[int64]*daysRec{}
	for day := first; day < hourlyFrom; day++ {
		d := blocks[day/blockDays]
		if d == nil {
			d = &daysRec{}
			blocks[day/blockDays] = d
		}
		d[day%blockDays] = counts{uint64(len(ids)) * 60 * 24, 0, uint64(len(ids)) / 9 * 24, 0}
	}
	for block, d := range blocks {
		if err := put(&ops, s.dailyTotalKey(block*blockDays), d.encode()); err != nil {
			return err
		}
	}
	if len(ops) > 0 {
		if _, err := s.cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			return err
		}
	}
	errs := make(chan error, 8)
	for w := range 8 {
		lo, hi := w*len(ids)/8, (w+1)*len(ids)/8
		go func() { errs <- work(ids[lo:hi], lo) }()
	}
	var first1 error
	for range 8 {
		if err := <-errs; err != nil && first1 == nil {
			first1 = err
		}
	}
	return first1
}
