package etcd_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tmaps/console/internal/etcdtest"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/etcd"
)

func actx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(store.WithActor(context.Background(), "alice"), time.Minute)
	t.Cleanup(cancel)
	return c
}

// twoNodes opens two stores on one prefix, as two tmaps nodes would.
func twoNodes(t *testing.T) (*etcd.Store, *etcd.Store) {
	a := fresh(t, etcd.Options{Node: "a"})
	b := fresh(t, etcd.Options{Prefix: a.Prefix(), Node: "b"})
	return a, b
}

// The same domain added on two nodes at once: one wins, the other is told
// it exists, and there is one domain and one "domain.add" entry.
func TestDomainRaceOneWins(t *testing.T) {
	a, b := twoNodes(t)
	c := actx(t)
	for round := range 10 {
		name := fmt.Sprintf("race%d.tn", round)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, s := range []*etcd.Store{a, b} {
			wg.Add(1)
			go func() { defer wg.Done(); _, errs[i] = s.AddDomain(c, name) }()
		}
		wg.Wait()
		ok, exists := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, store.ErrDomainExists):
				exists++
			default:
				t.Fatalf("AddDomain: %v", err)
			}
		}
		if ok != 1 || exists != 1 {
			t.Fatalf("round %d: %d added, %d told it exists; want 1 and 1", round, ok, exists)
		}
		es, err := a.Audit(c, store.AuditQuery{Object: "domain:" + name})
		if err != nil || len(es) != 1 {
			t.Fatalf("audit of %s: %v %v", name, es, err)
		}
	}
	ds, err := b.Domains(c)
	if err != nil || len(ds) != 10 {
		t.Fatalf("Domains = %d (%v), want 10", len(ds), err)
	}
}

// A revoke racing an enable on another node: revoked stays terminal.
func TestRevokeIsTerminalAcrossNodes(t *testing.T) {
	a, b := twoNodes(t)
	c := actx(t)
	for round := range 10 {
		k, _, err := a.CreateKey(c, "k", model.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.DisableKey(c, k.ID); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); a.RevokeKey(c, k.ID, "k") }()
		go func() { defer wg.Done(); b.EnableKey(c, k.ID) }()
		wg.Wait()
		got, err := b.Key(c, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != model.Revoked {
			t.Fatalf("round %d: status %s after revoke and enable raced", round, got.Status)
		}
		if _, err := b.EnableKey(c, k.ID); !errors.Is(err, model.ErrKeyRevoked) {
			t.Fatalf("enable after revoke: %v", err)
		}
		es, _ := a.Audit(c, store.AuditQuery{Object: "key:" + k.ID})
		if es[0].Action != model.AuditRevoke {
			t.Fatalf("round %d: last audit entry %+v, want the revoke", round, es[0])
		}
	}
}

// Links stay symmetric under 8 writers spread over two nodes.
func TestLinksSymmetricEightWriters(t *testing.T) {
	a, b := twoNodes(t)
	c := actx(t)
	var ids []string
	for i := range 6 {
		k, _, err := a.CreateKey(c, fmt.Sprintf("key %d", i), model.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, k.ID)
	}
	doms := []string{"a.tn", "b.tn", "c.tn", "d.tn", "e.tn"}
	for _, d := range doms {
		if _, err := b.AddDomain(c, d); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for w := range 8 {
		s := []*etcd.Store{a, b}[w%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range 25 {
				id, d := ids[rng.IntN(len(ids))], doms[rng.IntN(len(doms))]
				var err error
				switch rng.IntN(4) {
				case 0, 1:
					_, err = s.LinkKey(c, id, d)
				case 2:
					_, err = s.UnlinkKey(c, id, d)
				case 3:
					if _, err = s.DeleteDomain(c, d); errors.Is(err, store.ErrDomainNotFound) {
						_, err = s.AddDomain(c, d)
					}
				}
				if err != nil && !errors.Is(err, store.ErrDomainNotFound) && !errors.Is(err, store.ErrDomainExists) {
					t.Errorf("worker %d: %v", w, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	keys, err := a.Keys(c)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := b.Domains(c)
	if err != nil {
		t.Fatal(err)
	}
	fromKeys, fromDomains := map[string]bool{}, map[string]bool{}
	exists := map[string]bool{}
	for _, d := range ds {
		exists[d.Name] = true
		for _, id := range d.Keys {
			fromDomains[id+" "+d.Name] = true
		}
	}
	for _, k := range keys {
		for _, d := range k.Domains {
			if !exists[d] {
				t.Fatalf("key %s links to deleted domain %s", k.ID, d)
			}
			fromKeys[k.ID+" "+d] = true
		}
	}
	for l := range fromKeys {
		if !fromDomains[l] {
			t.Fatalf("link %s only on the key's side", l)
		}
	}
	for l := range fromDomains {
		if !fromKeys[l] {
			t.Fatalf("link %s only on the domain's side", l)
		}
	}
}

// A domain linked to more keys than one transaction takes is unlinked in
// batches, then deleted; every key loses it and each unlink is audited.
func TestDeleteDomainManyKeys(t *testing.T) {
	s := fresh(t, etcd.Options{})
	c := actx(t)
	if _, err := s.AddDomain(c, "big.tn"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddDomain(c, "other.tn"); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 95 {
		k, _, err := s.CreateKey(c, fmt.Sprintf("key %d", i), model.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.LinkKey(c, k.ID, "big.tn", "other.tn"); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, k.ID)
	}
	d, err := s.DeleteDomain(c, "big.tn")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	if !slices.Equal(d.Keys, ids) {
		t.Fatalf("DeleteDomain returned %d keys, want %d", len(d.Keys), len(ids))
	}
	keys, _ := s.Keys(c)
	for _, k := range keys {
		if !slices.Equal(k.Domains, []string{"other.tn"}) {
			t.Fatalf("key %s domains %v after the delete", k.ID, k.Domains)
		}
	}
	es, _ := s.Audit(c, store.AuditQuery{Limit: 96})
	unlinks := 0
	for _, e := range es {
		if e.Action == model.AuditUnlink && e.Before == "big.tn" {
			unlinks++
		}
	}
	if es[0].Action != model.AuditDomainDelete || unlinks != 95 {
		t.Fatalf("audit: newest %s, %d unlinks; want domain.delete and 95", es[0].Action, unlinks)
	}
}

// Usage recorded by two nodes is summed; the last use is the latest of both.
func TestUsageSummedOverNodes(t *testing.T) {
	a, b := twoNodes(t)
	c := actx(t)
	k, _, err := a.CreateKey(c, "k", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	h := time.Now().UTC().Truncate(time.Hour)
	if err := a.RecordUsage(c, []store.UsageDelta{{KeyID: k.ID, Hour: h, Allowed: 3, Forbidden: 1,
		RefusedHosts: map[string]uint64{"evil.com": 1}, LastUsed: h.Add(time.Minute), LastHost: "a.tn"}}); err != nil {
		t.Fatal(err)
	}
	if err := b.RecordUsage(c, []store.UsageDelta{{KeyID: k.ID, Hour: h, Allowed: 4, Forbidden: 2,
		RefusedHosts: map[string]uint64{"evil.com": 2}, LastUsed: h.Add(2 * time.Minute), LastHost: "b.tn"}}); err != nil {
		t.Fatal(err)
	}
	us, err := a.Usage(c, store.UsageQuery{KeyID: k.ID, Since: h, Until: h.Add(time.Hour)})
	if err != nil || len(us) != 1 || us[0].Allowed != 7 || us[0].Forbidden != 3 {
		t.Fatalf("Usage = %+v, %v; want 7 allowed, 3 forbidden", us, err)
	}
	tot, _ := b.Usage(c, store.UsageQuery{Since: h, Until: h.Add(time.Hour)})
	if len(tot) != 1 || tot[0].Allowed != 7 {
		t.Fatalf("total = %+v", tot)
	}
	hs, _ := a.RefusedHosts(c, k.ID)
	if len(hs) != 1 || hs[0].Count != 3 {
		t.Fatalf("refused = %+v", hs)
	}
	got, _ := a.Key(c, k.ID)
	if !got.LastUsed.Equal(h.Add(2 * time.Minute)) {
		t.Fatalf("last used %v", got.LastUsed)
	}
	if host, _ := a.LastHost(c, k.ID); host != "b.tn" {
		t.Fatalf("last host %q", host)
	}
}

// A flush whose answer is lost after etcd committed it, then sent again by
// the gate, counts once; so does one that failed before committing.
func TestUsageRetryCountsOnce(t *testing.T) {
	s := fresh(t, etcd.Options{})
	c := actx(t)
	h := time.Now().UTC().Truncate(time.Hour)
	if _, err := etcd.SeedKeys(c, s, 300, nil); err != nil {
		t.Fatal(err)
	}
	keys, err := s.Keys(c)
	if err != nil {
		t.Fatal(err)
	}
	var deltas []store.UsageDelta
	for _, k := range keys { // several transactions per flush
		deltas = append(deltas, store.UsageDelta{KeyID: k.ID, Hour: h, Allowed: 2})
	}
	total := func() uint64 {
		us, err := s.Usage(c, store.UsageQuery{Since: h, Until: h.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if len(us) == 0 {
			return 0
		}
		return us[0].Allowed
	}
	// Lost answers: every transaction commits, the second one says it failed.
	n := 0
	etcd.FailUsageWrites(s, func(err error) error {
		n++
		if n == 2 {
			return errors.New("answer lost")
		}
		return err
	})
	if err := s.RecordUsage(c, deltas); err == nil {
		t.Fatal("RecordUsage did not report the lost answer")
	}
	etcd.FailUsageWrites(s, nil)
	if err := s.RecordUsage(c, deltas); err != nil { // the gate's retry
		t.Fatal(err)
	}
	if got := total(); got != 600 {
		t.Fatalf("total after a retried flush = %d, want 600", got)
	}
	// A failure before anything committed.
	etcd.FailUsageWrites(s, func(error) error { return errors.New("no quorum") })
	if err := s.RecordUsage(c, deltas); err == nil {
		t.Fatal("RecordUsage did not fail")
	}
	etcd.FailUsageWrites(s, nil)
	if err := s.RecordUsage(c, deltas); err != nil {
		t.Fatal(err)
	}
	if got := total(); got != 1200 {
		t.Fatalf("total = %d, want 1200", got)
	}
}

// Keys reads page by page past the page size, at one revision, in
// creation order.
func TestKeysPaged(t *testing.T) {
	s := fresh(t, etcd.Options{})
	c := actx(t)
	if _, err := s.AddDomain(c, "mysite.tn"); err != nil {
		t.Fatal(err)
	}
	secrets, err := etcd.SeedKeys(c, s, 4500, []string{"mysite.tn"})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := s.Keys(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(secrets) {
		t.Fatalf("Keys() = %d keys, want %d", len(keys), len(secrets))
	}
	for i, k := range keys {
		if k.Prefix != model.DisplayPrefix(secrets[i]) {
			t.Fatalf("key %d is %s, want %s (creation order)", i, k.Prefix, model.DisplayPrefix(secrets[i]))
		}
	}
	d, err := s.Domain(c, "mysite.tn")
	if err != nil || len(d.Keys) != 3000 {
		t.Fatalf("mysite.tn has %d keys (%v), want 3000", len(d.Keys), err)
	}
}

// A store under a prefix holding another schema version refuses to open.
func TestSchemaVersion(t *testing.T) {
	cli := client(t)
	p := fmt.Sprintf("/schema-test/%d/", time.Now().UnixNano())
	if _, err := cli.Put(context.Background(), p+"meta/version", "99"); err != nil {
		t.Fatal(err)
	}
	s, err := etcd.Open(context.Background(), etcd.Options{Endpoints: cli.Endpoints(), Prefix: p})
	if err == nil {
		s.Close()
		t.Fatal("opened a store of schema version 99")
	}
}

// An unreachable cluster is store.ErrUnavailable, quickly.
func TestUnreachable(t *testing.T) {
	start := time.Now()
	_, err := etcd.Open(context.Background(), etcd.Options{Endpoints: []string{"http://127.0.0.1:1"}, DialTimeout: 500 * time.Millisecond})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open(unreachable) = %v, want store.ErrUnavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Open(unreachable) took %v", d)
	}
}

// next reads ch until a change satisfying match arrives.
func next(t *testing.T, ch <-chan store.Change, what string, match func(store.Change) bool) store.Change {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case c, ok := <-ch:
			if !ok {
				t.Fatalf("follow channel closed while waiting for %s", what)
			}
			if match(c) {
				return c
			}
		case <-timeout:
			t.Fatalf("no change for %s", what)
		}
	}
}

// Follow delivers each key change with its new record and revision, and
// progress marks proving freshness; after the watch broke and the history
// it needed was compacted away, it says to reload.
func TestFollow(t *testing.T) {
	cluster := etcdtest.Shared(t)
	b := fresh(t, etcd.Options{})
	// The follower reaches the cluster through a proxy the test can cut.
	proxy, err := etcdtest.NewProxy(cluster.Endpoints[0])
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	f, err := etcd.Open(context.Background(), etcd.Options{Endpoints: []string{proxy.URL()}, Prefix: b.Prefix(), RequestTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := actx(t)
	ch, err := f.FollowEvery(c, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	_, rev, err := f.KeysRevision(c)
	if err != nil {
		t.Fatal(err)
	}
	k, _, err := b.CreateKey(c, "followed", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	got := next(t, ch, "the new key", func(c store.Change) bool { return c.Kind == store.ChangeKey && c.ID == k.ID })
	if got.Key == nil || got.Key.Name != "followed" || got.Key.Digest != k.Digest || got.Rev <= rev {
		t.Fatalf("change %+v (key %+v), want the new record after revision %d", got, got.Key, rev)
	}
	if got.Rev != b.LastWrite() {
		t.Fatalf("change at revision %d, the write committed at %d", got.Rev, b.LastWrite())
	}
	before := time.Now()
	p := next(t, ch, "a progress mark", func(c store.Change) bool { return c.Kind == store.ChangeProgress && c.Rev >= got.Rev })
	if p.At.Before(before.Add(-time.Second)) {
		t.Fatalf("progress mark at %v, want about now", p.At)
	}

	// Cut the follower off: no more progress marks. Revoke, write more,
	// compact the history past what the follower saw, reconnect.
	proxy.Block()
	time.Sleep(300 * time.Millisecond)
	drain(ch)
	if _, err := b.RevokeKey(c, k.ID, "followed"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, _, err := b.CreateKey(c, fmt.Sprint("later ", i), model.Policy{}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case c := <-ch:
		if c.Kind != store.ChangeResync { // the watch may notice the cut
			t.Fatalf("a cut-off follower got %+v", c)
		}
	case <-time.After(500 * time.Millisecond):
	}
	if _, err := cluster.Compact(c); err != nil {
		t.Fatal(err)
	}
	proxy.Unblock()
	next(t, ch, "a resync after compaction", func(c store.Change) bool { return c.Kind == store.ChangeResync })
	keys, _, err := f.KeysRevision(c)
	if err != nil || len(keys) != 4 || keys[0].Status != model.Revoked {
		t.Fatalf("after the resync: %d keys, first %+v, %v", len(keys), keys[0], err)
	}
}

// drain empties ch without waiting.
func drain(ch <-chan store.Change) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}
