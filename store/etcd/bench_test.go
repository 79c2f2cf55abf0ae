package etcd_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tmaps/console/gate"
	"github.com/tmaps/console/internal/etcdtest"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/etcd"
)

// Benchmarks of the etcd store and of gates following it (issue 10,
// "Speed"); results and commands are in BENCHMARKS.md. They run on a
// 3-member cluster of their own with fsync on, as in production.

var fsyncCluster struct {
	once sync.Once
	c    *etcdtest.Cluster
	err  error
}

func benchCluster(b *testing.B) *etcdtest.Cluster {
	fsyncCluster.once.Do(func() {
		fsyncCluster.c, fsyncCluster.err = etcdtest.Start(filepath.Join(b.TempDir(), "fsync"), etcdtest.Options{Fsync: true})
	})
	if fsyncCluster.err != nil {
		b.Fatal(fsyncCluster.err)
	}
	b.Cleanup(func() {}) // the cluster lives until TestMain ends the process
	return fsyncCluster.c
}

func benchStore(b *testing.B, prefix string) *etcd.Store {
	s, err := etcd.Open(context.Background(), etcd.Options{Endpoints: benchCluster(b).Endpoints, Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// quantiles reports p50 and p99 of ds in milliseconds.
func quantiles(b *testing.B, ds []time.Duration, what string) {
	slices.Sort(ds)
	q := func(p float64) float64 { return float64(ds[int(p*float64(len(ds)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.50), what+"-p50-ms")
	b.ReportMetric(q(0.99), what+"-p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkWrite: create, link and revoke latency on the cluster (each a
// read and one transaction), one after the other.
func BenchmarkWrite(b *testing.B) {
	s := benchStore(b, fmt.Sprintf("/bench/write/%d/", time.Now().UnixNano()))
	c := store.WithActor(context.Background(), "bench")
	if _, err := s.AddDomain(c, "mysite.tn"); err != nil {
		b.Fatal(err)
	}
	var create, link, revoke []time.Duration
	for b.Loop() {
		t0 := time.Now()
		k, _, err := s.CreateKey(c, "bench key", model.Policy{})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := s.LinkKey(c, k.ID, "mysite.tn"); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if _, err := s.RevokeKey(c, k.ID, "bench key"); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		create, link, revoke = append(create, t1.Sub(t0)), append(link, t2.Sub(t1)), append(revoke, t3.Sub(t2))
	}
	quantiles(b, create, "create")
	quantiles(b, link, "link")
	quantiles(b, revoke, "revoke")
}

// BenchmarkRevokePropagation: a revoke committed through node A's store is
// refused by node B's gate (its own client, following the cluster): the
// time from A's acknowledgement to B's first refusal, and from the start of
// the call.
func BenchmarkRevokePropagation(b *testing.B) {
	prefix := fmt.Sprintf("/bench/prop/%d/", time.Now().UnixNano())
	a, sb := benchStore(b, prefix), benchStore(b, prefix)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, err := gate.New(ctx, sb, gate.Options{AllowHTTP: true, FlushEvery: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	c := store.WithActor(context.Background(), "bench")
	status := func(secret string) int {
		r := httptest.NewRequest(http.MethodGet, "/v1/authorize?api_key="+secret, nil)
		w := httptest.NewRecorder()
		g.AuthorizeHandler().ServeHTTP(w, r)
		return w.Code
	}
	// waitStatus waits (on the gate's version, not a spin) until secret gets want.
	waitStatus := func(secret string, want int) {
		deadline, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		for {
			v := g.Version()
			if status(secret) == want {
				return
			}
			if err := g.WaitVersion(deadline, v); err != nil {
				b.Fatalf("gate B never answered %d", want)
			}
		}
	}
	var afterAck, fromCall []time.Duration
	for b.Loop() {
		b.StopTimer()
		k, secret, err := a.CreateKey(c, "prop", model.Policy{})
		if err != nil {
			b.Fatal(err)
		}
		waitStatus(secret, http.StatusNoContent)
		b.StartTimer()
		t0 := time.Now()
		if _, err := a.RevokeKey(c, k.ID, "prop"); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		waitStatus(secret, http.StatusUnauthorized)
		t2 := time.Now()
		afterAck, fromCall = append(afterAck, t2.Sub(t1)), append(fromCall, t2.Sub(t0))
	}
	quantiles(b, afterAck, "after-ack")
	quantiles(b, fromCall, "from-call")
}

// BenchmarkReady100k: a node's gate loads 100,000 keys from the cluster
// (every key record, paged, at one revision): time to ready and the heap
// the index holds.
func BenchmarkReady100k(b *testing.B) {
	const n = 100_000
	prefix := fmt.Sprintf("/bench/ready/%d/", time.Now().UnixNano())
	s := benchStore(b, prefix)
	c := context.Background()
	domains := []string{"a.tn", "b.tn", "c.tn", "d.tn", "e.tn"}
	for _, d := range domains {
		if _, err := s.AddDomain(store.WithActor(c, "bench"), d); err != nil {
			b.Fatal(err)
		}
	}
	if err := etcd.SeedKeysParallel(c, s, n, domains); err != nil {
		b.Fatal(err)
	}
	var ms runtime.MemStats
	var heap []float64
	t0 := time.Now()
	if keys, _, err := s.KeysRevision(c); err != nil || len(keys) != n {
		b.Fatalf("%d keys seeded (%v)", len(keys), err)
	}
	b.ReportMetric(float64(time.Since(t0).Milliseconds()), "keys-read-ms")
	for b.Loop() {
		b.StopTimer()
		node := benchStore(b, prefix)
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.HeapAlloc
		ctx, cancel := context.WithCancel(c)
		b.StartTimer()
		g, err := gate.New(ctx, node, gate.Options{FlushEvery: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		for g.Size() < n {
			time.Sleep(time.Millisecond)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		heap = append(heap, float64(ms.HeapAlloc-before)/(1<<20))
		runtime.KeepAlive(g)
		cancel()
		node.Close()
		b.StartTimer()
	}
	slices.Sort(heap)
	b.ReportMetric(heap[len(heap)/2], "heap-MiB")
}

// BenchmarkUsageSpace: the etcd space the usage of 10,000 keys takes when
// each is used every hour for 90 days through two nodes (each node counts
// every key every hour: its own hourly records), with a matched host per
// key: the records as the leader's maintenance leaves them (hourly for 35
// days, daily blocks before, matched hosts of the last 8 days per node
// and day plus one folded record, a last use per node), written directly
// (MaintainUsage then finds nothing to do, which the benchmark checks),
// compacted and defragmented: dbSize from the maintenance Status API, less
// the same store with its keys and no usage. Run once (-benchtime=1x), on
// a one-member cluster of its own (every member holds the same).
func BenchmarkUsageSpace(b *testing.B) {
	const keys, days = 10000, 90
	c, err := etcdtest.Start(filepath.Join(b.TempDir(), "space"), etcdtest.Options{Members: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	s, err := etcd.Open(ctx, etcd.Options{Endpoints: c.Endpoints, RequestTimeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := etcd.SeedKeys(ctx, s, keys, nil); err != nil {
		b.Fatal(err)
	}
	all, err := s.Keys(ctx)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, len(all))
	for i, k := range all {
		ids[i] = k.ID
	}
	cli, err := c.Client()
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	space := func() int64 {
		if _, err := c.Compact(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := cli.Defragment(ctx, c.Endpoints[0]); err != nil {
			b.Fatal(err)
		}
		st, err := cli.Status(ctx, c.Endpoints[0])
		if err != nil {
			b.Fatal(err)
		}
		return st.DbSize
	}
	base := space()
	for b.Loop() {
		now := time.Now().UTC()
		if err := etcd.WriteUsageShape(ctx, s, ids, []string{"node-a", "node-b"}, days, now); err != nil {
			b.Fatal(err)
		}
		if rep, err := s.MaintainUsage(ctx, now); err != nil || rep != (store.UsageMaintenance{}) {
			b.Fatalf("MaintainUsage on the written shape: %+v, %v; want nothing to do", rep, err)
		}
		u, err := s.Usage(ctx, store.UsageQuery{KeyID: ids[0], Since: now.Add(-days * 24 * time.Hour)})
		if err != nil || len(u) < 35*24 || !u[0].Daily {
			b.Fatalf("Usage of a key over 90 days: %d buckets, %v", len(u), err)
		}
		after := space()
		b.ReportMetric(float64(after-base)/(1<<20), "MiB-usage")
		b.ReportMetric(float64(after-base)/keys, "bytes/key")
		b.ReportMetric(float64(after)/(1<<20), "MiB-db")
		b.ReportMetric(0, "ns/op")
	}
}
