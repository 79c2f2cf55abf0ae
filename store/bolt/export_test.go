package bolt

import (
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/tmaps/console/model"
)

// SeedKeys adds n keys quickly (10k per transaction, no audit entries) for
// benchmarks, each linked to 0–2 of the given domains (which must exist),
// and returns their secrets.
func SeedKeys(s *Store, n int, domains []string) ([]string, error) {
	secrets := make([]string, 0, n)
	for done := 0; done < n; {
		batch := min(10000, n-done)
		err := s.db.Update(func(tx *bbolt.Tx) error {
			for i := range batch {
				r, secret, err := s.newKey(tx, fmt.Sprintf("key %d", done+i), model.Policy{})
				if err != nil {
					return err
				}
				if len(domains) > 0 {
					for j := range (done + i) % 3 {
						if err := link(tx, r, domains[(done+i+j)%len(domains)]); err != nil {
							return err
						}
					}
				}
				secrets = append(secrets, secret)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		done += batch
	}
	return secrets, nil
}

// UsageAlloc returns the bytes of pages allocated to the usage buckets and
// the high-water mark of the file (pages in use or free).
func UsageAlloc(s *Store) (alloc, size int64) {
	s.db.View(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bUsage, bUsageTotal} {
			st := tx.Bucket(name).Stats()
			alloc += int64(st.BranchAlloc + st.LeafAlloc)
		}
		size = tx.Size()
		return nil
	})
	return alloc, size
}
