package etcd

import (
	"context"
	"fmt"
	"slices"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tmaps/console/model"
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
