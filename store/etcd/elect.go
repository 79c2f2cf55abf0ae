package etcd

import (
	"context"
	"math"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// DefaultLeaderTTL is the lease of an elected node when Campaign is given 0.
const DefaultLeaderTTL = 10 * time.Second

// Election is this node's part in the election of the one node that does
// a cluster's shared work (usage maintenance, alerts): etcd's election
// (client/v3/concurrency) on a lease this node keeps alive.
type Election struct {
	s        *Store
	name     string
	ttl      time.Duration
	onChange func(leader bool)

	mu      sync.Mutex
	leader  bool
	renewed time.Time // last lease renewal etcd confirmed (monotonic)
}

// Campaign runs for the role name (e.g. "leader") among the stores under
// this prefix until the store closes, and again whenever it loses it. At
// most one node holds a role at a time: the holder's lease lasts ttl (0:
// DefaultLeaderTTL, at least 2 s) after its last renewal, and Leader
// answers false from 3/4 of ttl after the last renewal it saw, before any
// other node can be elected. onChange (may be nil) is called on each
// change of this node's role. Close gives the role up at once.
func (s *Store) Campaign(name string, ttl time.Duration, onChange func(leader bool)) *Election {
	if ttl <= 0 {
		ttl = DefaultLeaderTTL
	}
	ttl = max(ttl, 2*time.Second)
	if onChange == nil {
		onChange = func(bool) {}
	}
	e := &Election{s: s, name: name, ttl: ttl, onChange: onChange}
	s.bg.Go(func() { e.run(s.closeCtx) })
	return e
}

// Leader reports whether this node holds the role now.
func (e *Election) Leader() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leader && time.Since(e.renewed) < e.ttl-e.ttl/4
}

func (e *Election) setLeader(v bool) {
	e.mu.Lock()
	changed := e.leader != v
	e.leader = v
	e.mu.Unlock()
	if changed {
		e.onChange(v)
	}
}

func (e *Election) run(ctx context.Context) {
	for ctx.Err() == nil {
		if err := e.term(ctx); err != nil && ctx.Err() == nil {
			e.s.log.Debug("election: campaign again", "role", e.name, "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// term is one lease: campaign on it, then hold the role until the lease
// is lost or the store closes.
func (e *Election) term(ctx context.Context) error {
	cli := e.s.cli
	gctx, cancel := e.s.reqCtx(ctx)
	lease, err := cli.Grant(gctx, int64(math.Ceil(e.ttl.Seconds())))
	cancel()
	if err != nil {
		return err
	}
	granted := time.Now()
	kctx, stop := context.WithCancel(ctx)
	defer func() {
		stop()
		e.setLeader(false)
		// Give the role up at once (a closing store or a lost lease).
		rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, _ = cli.Revoke(rctx, lease.ID)
		cancel()
	}()
	e.mu.Lock()
	e.renewed = granted
	e.mu.Unlock()
	ka, err := cli.KeepAlive(kctx, lease.ID)
	if err != nil {
		return err
	}
	lost := make(chan struct{})
	go func() {
		defer close(lost)
		for range ka {
			e.mu.Lock()
			e.renewed = time.Now()
			e.mu.Unlock()
		}
	}()
	sess, err := concurrency.NewSession(cli, concurrency.WithLease(lease.ID), concurrency.WithContext(kctx))
	if err != nil {
		return err
	}
	defer sess.Close()
	el := concurrency.NewElection(sess, e.s.p+"elect/"+e.name)
	cctx, ccancel := context.WithCancel(kctx)
	defer ccancel()
	go func() {
		select {
		case <-lost:
		case <-sess.Done():
		case <-cctx.Done():
		}
		ccancel()
	}()
	if err := el.Campaign(clientv3.WithRequireLeader(cctx), e.s.node); err != nil {
		return err
	}
	if cctx.Err() != nil {
		return cctx.Err()
	}
	e.setLeader(true)
	select {
	case <-lost:
	case <-sess.Done():
	case <-ctx.Done():
	}
	e.setLeader(false)
	return nil
}
