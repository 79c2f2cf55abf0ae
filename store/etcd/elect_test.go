package etcd_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/tmaps/console/store/etcd"
)

// One node of three leads at a time; when it closes (giving its role up)
// another leads within a second, and never two at once.
func TestCampaignOneLeader(t *testing.T) {
	a := fresh(t, etcd.Options{Node: "a"})
	stores := []*etcd.Store{a, fresh(t, etcd.Options{Prefix: a.Prefix(), Node: "b"}), fresh(t, etcd.Options{Prefix: a.Prefix(), Node: "c"})}
	var changes atomic.Int64
	els := make([]*etcd.Election, len(stores))
	for i, s := range stores {
		els[i] = s.Campaign("leader", 2*time.Second, func(bool) { changes.Add(1) })
	}
	leaders := func() []int {
		var out []int
		for i, e := range els {
			if e.Leader() {
				out = append(out, i)
			}
		}
		return out
	}
	waitLeader := func(skip int) int {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			l := leaders()
			if len(l) > 1 {
				t.Fatalf("nodes %v lead at once", l)
			}
			if len(l) == 1 && l[0] != skip {
				return l[0]
			}
			if time.Now().After(deadline) {
				t.Fatalf("no leader after 10 s (leaders %v)", l)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	first := waitLeader(-1)
	for range 100 { // no other node leads while it holds the role
		if l := leaders(); len(l) > 1 || (len(l) == 1 && l[0] != first) {
			t.Fatalf("leaders %v, want only %d", l, first)
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	stores[first].Close()
	if els[first].Leader() {
		t.Fatal("a closed store still leads")
	}
	next := waitLeader(first)
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Fatalf("node %d took over after %v, want within a second of the leader's Close", next, took)
	}
	if changes.Load() < 3 {
		t.Fatalf("%d role changes seen, want 3 (elected, resigned, elected)", changes.Load())
	}
}
