package bolt_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
)

// seeded returns the path of a closed store holding n keys and 200 domains,
// and the keys' secrets.
func seeded(b *testing.B, n int) (string, []string) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "console.db")
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var domains []string
	for i := range 200 {
		d, err := s.AddDomain(context.Background(), fmt.Sprintf("site%d.example.tn", i))
		if err != nil {
			b.Fatal(err)
		}
		domains = append(domains, d.Name)
	}
	secrets, err := bolt.SeedKeys(s, n, domains)
	if err != nil {
		b.Fatal(err)
	}
	return path, secrets
}

// BenchmarkOpenAndListKeys100k opens a store of 100k keys, lists every key
// with its domains, and closes it: what `tmaps` does at start-up.
func BenchmarkOpenAndListKeys100k(b *testing.B) {
	path, _ := seeded(b, 100_000)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		s, err := bolt.Open(path, bolt.Options{})
		if err != nil {
			b.Fatal(err)
		}
		keys, err := s.Keys(ctx)
		if err != nil || len(keys) != 100_000 {
			b.Fatalf("%d keys, %v", len(keys), err)
		}
		s.Close()
	}
}

// BenchmarkKeys100k lists 100k keys on an open store. It reports the
// memory the listed keys hold (held-MB: the live heap with them, less
// without).
func BenchmarkKeys100k(b *testing.B) {
	path, _ := seeded(b, 100_000)
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for b.Loop() {
		if _, err := s.Keys(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	live := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := live()
	keys, err := s.Keys(ctx)
	if err != nil {
		b.Fatal(err)
	}
	held := live() - before
	runtime.KeepAlive(keys)
	b.ReportMetric(float64(held)/(1<<20), "held-MB")
}

// BenchmarkKeyByDigest looks keys up by digest in a store of 100k keys.
func BenchmarkKeyByDigest(b *testing.B) {
	path, secrets := seeded(b, 100_000)
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	digests := make([]model.Digest, len(secrets))
	for i, sec := range secrets {
		digests[i] = model.DigestOf(sec)
	}
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, err := s.KeyByDigest(ctx, digests[(i*7919)%len(digests)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkRecordUsage records one flush of the gate's counters: 1000 keys
// with traffic in the current hour, a few refused hosts each.
func BenchmarkRecordUsage(b *testing.B) {
	s, err := bolt.Open(filepath.Join(b.TempDir(), "console.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	ids := make([]string, 1000)
	for i := range ids {
		k, _, err := s.CreateKey(ctx, "k", model.Policy{})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = k.ID
	}
	hour := time.Now().UTC().Truncate(time.Hour)
	deltas := make([]store.UsageDelta, len(ids))
	for i, id := range ids {
		deltas[i] = store.UsageDelta{KeyID: id, Hour: hour, Allowed: 100, Forbidden: 3,
			RefusedHosts: map[string]uint64{"evil.com": 2, "bad.net": 1}, LastUsed: hour, LastHost: "mysite.tn"}
	}
	for b.Loop() {
		if err := s.RecordUsage(ctx, deltas); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateKey is one key creation (its own transaction, audited);
// NoSync is the throw-away mode of the demo.
func BenchmarkCreateKey(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		b.Run(fmt.Sprintf("NoSync=%v", noSync), func(b *testing.B) {
			s, err := bolt.Open(filepath.Join(b.TempDir(), "console.db"), bolt.Options{NoSync: noSync})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			for b.Loop() {
				if _, _, err := s.CreateKey(ctx, "k", model.Policy{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkUsageSize fills 30 days of hourly usage for 1000 keys (every key
// used every hour, the worst case) and reports the file size per key-hour,
// to extrapolate to 100k keys × 720 hours.
func BenchmarkUsageSize(b *testing.B) {
	for b.Loop() {
		path := filepath.Join(b.TempDir(), "console.db")
		s, err := bolt.Open(path, bolt.Options{NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		const keys, hours = 1000, 720
		start := time.Now().UTC().Truncate(time.Hour).Add(-hours * time.Hour)
		deltas := make([]store.UsageDelta, keys)
		for h := range hours {
			for i := range deltas {
				deltas[i] = store.UsageDelta{KeyID: fmt.Sprintf("k%012x", i), Hour: start.Add(time.Duration(h) * time.Hour),
					Allowed: uint64(100 + i%50), Unauthorized: uint64(i % 3), Forbidden: uint64(i % 7)}
			}
			if err := s.RecordUsage(context.Background(), deltas); err != nil {
				b.Fatal(err)
			}
		}
		alloc, size := bolt.UsageAlloc(s)
		s.Close()
		b.ReportMetric(float64(alloc)/(keys*hours), "usage-bytes/key-hour")
		b.ReportMetric(float64(size)/(keys*hours), "file-bytes/key-hour")
	}
}
