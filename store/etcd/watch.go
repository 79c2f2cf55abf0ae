package etcd

import (
	"context"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// DefaultProgressEvery is how often a Follow subscriber gets a freshness
// proof (ChangeProgress).
const DefaultProgressEvery = time.Second

// follow watches the store's prefix from rev+1 until ctx ends, calling
// handle with each batch of events (one watch response, in revision order)
// and resync when history was lost (compaction). A watch that breaks (no
// leader, members down) is opened again from the next revision it has not
// seen, so nothing is missed while etcd keeps the history. progress, when
// not nil, asks for a progress notification: it is called with a function
// that the loop calls back with each notified revision.
type watchLoop struct {
	s        *Store
	rev      int64 // next revision to watch from
	handle   func(rev int64, evs []*mvccpb.Event)
	resync   func()
	progress func(rev int64) // a progress notification (every event before rev was handled)
	requests chan struct{}   // asks the loop for a progress notification
}

func (w *watchLoop) run(ctx context.Context) {
	pause := 50 * time.Millisecond
	for ctx.Err() == nil {
		// The context's metadata names the gRPC stream: RequestProgress must
		// use the same one.
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		wch := w.s.cli.Watch(wctx, w.s.p, clientv3.WithPrefix(), clientv3.WithRev(w.rev), clientv3.WithProgressNotify())
		healthy := w.consume(ctx, wctx, wch)
		cancel()
		if healthy {
			pause = 50 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 2*time.Second)
	}
}

// consume reads one watch until it breaks; it reports whether it got any
// answer at all.
func (w *watchLoop) consume(ctx, wctx context.Context, wch clientv3.WatchChan) bool {
	got := false
	for {
		select {
		case <-ctx.Done():
			return got
		case <-w.requests:
			_ = w.s.cli.RequestProgress(wctx)
		case resp, ok := <-wch:
			if !ok {
				return got
			}
			got = true
			if resp.CompactRevision != 0 {
				w.s.log.Warn("etcd history was compacted past what this node had seen: reloading every key",
					"wanted", w.rev, "compacted", resp.CompactRevision)
				w.rev = resp.CompactRevision
				w.resync()
				return got
			}
			if err := resp.Err(); err != nil {
				w.s.log.Warn("etcd watch broke; watching again", "from", w.rev, "err", err)
				return got
			}
			if resp.IsProgressNotify() {
				if w.progress != nil {
					w.progress(resp.Header.Revision)
				}
				continue
			}
			if len(resp.Events) == 0 {
				continue
			}
			w.handle(resp.Header.Revision, resp.Events)
			w.rev = resp.Events[len(resp.Events)-1].Kv.ModRevision + 1
		}
	}
}

// startRev returns the store's current revision (a quorum read).
func (s *Store) startRev(ctx context.Context) (int64, error) {
	resp, err := s.get(ctx, clientv3.OpGet(s.p+"meta/version", clientv3.WithKeysOnly()))
	if err != nil {
		return 0, err
	}
	return resp.Header.Revision, nil
}

// subscribe starts a watch loop for a subscriber whose context is ctx: it
// learns the current revision (retrying while etcd cannot answer, then
// calling resync once it can) and runs until ctx ends or the store closes.
func (s *Store) subscribe(ctx context.Context, w *watchLoop, done func()) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.closeCtx, cancel)
	rev, err := s.startRev(ctx)
	go func() {
		defer done()
		defer stop()
		defer cancel()
		pause := 100 * time.Millisecond
		for err != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
			pause = min(2*pause, 2*time.Second)
			if rev, err = s.startRev(ctx); err == nil {
				w.resync() // the subscriber may have loaded nothing, or too early
			}
		}
		w.rev = rev + 1
		w.run(ctx)
	}()
}

// Watch delivers change events until ctx ends or the store is closed:
// EventKey, EventDomain (a domain or its links), EventToken (a token
// revoked or changed), EventUsage, and EventResync when etcd's history no longer holds what was missed. The
// events come from an etcd watch on the store's prefix, so changes made by
// any node are delivered.
func (s *Store) Watch(ctx context.Context) (<-chan store.Event, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	hub := &store.Hub{}
	ch := hub.Subscribe(ctx)
	w := &watchLoop{s: s, resync: func() { hub.Publish(store.Event{Kind: store.EventResync}) }}
	w.handle = func(_ int64, evs []*mvccpb.Event) { hub.Publish(s.events(evs)...) }
	s.subscribe(ctx, w, hub.Close)
	return ch, nil
}

// events maps one watch response to store events: per change (revision),
// deduplicated, carrying the revision, the last one marked RevEnd.
func (s *Store) events(evs []*mvccpb.Event) []store.Event {
	var out []store.Event
	for i := 0; i < len(evs); {
		rev := evs[i].Kv.ModRevision
		j := i
		for j < len(evs) && evs[j].Kv.ModRevision == rev {
			j++
		}
		one := s.changeEvents(evs[i:j])
		for k := range one {
			one[k].Rev = uint64(rev)
		}
		if len(one) > 0 {
			one[len(one)-1].RevEnd = true
		}
		out = append(out, one...)
		i = j
	}
	return out
}

// changeEvents maps the etcd events of one change to store events
// (deduplicated), naming each key event's action from the audit record of
// the change.
func (s *Store) changeEvents(evs []*mvccpb.Event) []store.Event {
	var out []store.Event
	seen := map[store.Event]bool{}
	add := func(e store.Event) {
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	actions := map[string]string{}
	for _, ev := range evs {
		k := string(ev.Kv.Key)
		if strings.HasPrefix(k, s.auditPrefix()) && ev.Type == mvccpb.PUT {
			if es, err := decodeAudit(ev.Kv.Value); err == nil {
				for _, e := range es {
					if id, ok := strings.CutPrefix(e.Object, "key:"); ok {
						actions[id] = e.Action
					}
				}
			}
		}
	}
	usage := false
	for _, ev := range evs {
		rest, ok := strings.CutPrefix(string(ev.Kv.Key), s.p)
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(rest, "k/"):
			id := rest[2:]
			add(store.Event{Kind: store.EventKey, ID: id, Action: actions[id]})
		case strings.HasPrefix(rest, "d/"):
			add(store.Event{Kind: store.EventDomain, ID: rest[2:]})
		case strings.HasPrefix(rest, "dk/"):
			if n, _, ok := strings.Cut(rest[3:], "/"); ok {
				add(store.Event{Kind: store.EventDomain, ID: n})
			}
		case strings.HasPrefix(rest, "t/"):
			add(store.Event{Kind: store.EventToken, ID: rest[2:]})
		case strings.HasPrefix(rest, "al/") && len(rest) > 3+16:
			add(store.Event{Kind: store.EventAlert, ID: rest[3+16:]})
		case strings.HasPrefix(rest, "u/"):
			usage = true
		}
	}
	if usage {
		add(store.Event{Kind: store.EventUsage})
	}
	return out
}

// Follow implements store.Follower: key changes with their new records,
// ChangeResync when history was lost, and a ChangeProgress about every
// second proving how fresh the subscriber is. The channel is closed when
// ctx ends or the store closes.
func (s *Store) Follow(ctx context.Context) (<-chan store.Change, error) {
	return s.FollowEvery(ctx, DefaultProgressEvery)
}

// FollowEvery is Follow with progress marks every period.
func (s *Store) FollowEvery(ctx context.Context, period time.Duration) (<-chan store.Change, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make(chan store.Change, 256)
	ctx, cancel := context.WithCancel(ctx)
	send := func(c store.Change) {
		select {
		case out <- c:
		case <-ctx.Done():
		}
	}
	// Progress: a quorum read gives the newest revision L at time At; once
	// the watch has delivered everything up to L (a progress notification
	// at or past L), the subscriber is fresh as of At.
	w := &watchLoop{s: s, requests: make(chan struct{}, 1)}
	f := &follow{w: w}
	w.resync = func() { send(store.Change{Kind: store.ChangeResync}) }
	w.handle = func(_ int64, evs []*mvccpb.Event) {
		// The events of one revision come in one response; the last key
		// change of each revision is marked.
		var pending *store.Change
		flush := func(end bool) {
			if pending != nil {
				pending.RevEnd = end
				send(*pending)
				pending = nil
			}
		}
		for _, ev := range evs {
			id, ok := strings.CutPrefix(string(ev.Kv.Key), s.keysPrefix())
			if !ok {
				continue
			}
			c := store.Change{Kind: store.ChangeKey, Rev: ev.Kv.ModRevision, ID: id}
			if ev.Type == mvccpb.PUT {
				k, err := decodeKey(id, ev.Kv.Value, nil)
				if err != nil {
					s.log.Error("undecodable key record in the watch: reloading every key", "key_id", model.Escape(id), "err", err)
					flush(true)
					send(store.Change{Kind: store.ChangeResync})
					continue
				}
				c.Key = &k
			}
			if pending != nil {
				flush(pending.Rev != c.Rev)
			}
			pending = &c
		}
		flush(true)
	}
	w.progress = func(rev int64) {
		if last, ok := f.ready(rev); ok {
			send(store.Change{Kind: store.ChangeProgress, Rev: last.rev, At: last.at})
		}
	}
	s.followMu.Lock()
	if s.follows == nil {
		s.follows = map[*follow]bool{}
	}
	s.follows[f] = true
	s.followMu.Unlock()
	s.subscribe(ctx, w, func() {
		cancel()
		s.followMu.Lock()
		delete(s.follows, f)
		s.followMu.Unlock()
		close(out)
	})
	go func() {
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			at := time.Now()
			rev, err := s.startRev(ctx)
			if err != nil {
				continue // no quorum: no proof; the subscriber grows stale
			}
			f.want(rev, at)
		}
	}()
	return out, nil
}

// follow is one Follow subscription's pending freshness proofs: the
// revisions read by quorum reads that its watch has yet to reach.
type follow struct {
	w     *watchLoop
	mu    sync.Mutex
	wants []want
}

type want struct {
	rev int64
	at  time.Time
}

// want records that rev was current at at, and asks the watch for a
// progress notification.
func (f *follow) want(rev int64, at time.Time) {
	f.mu.Lock()
	f.wants = append(f.wants, want{rev, at})
	if len(f.wants) > 16 {
		f.wants = f.wants[len(f.wants)-16:]
	}
	f.mu.Unlock()
	select {
	case f.w.requests <- struct{}{}:
	default:
	}
}

// ready takes the proofs the watch has reached at rev and returns the
// newest of them.
func (f *follow) ready(rev int64) (want, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var last want
	ok := false
	keep := f.wants[:0]
	for _, x := range f.wants {
		if x.rev <= rev {
			last, ok = x, true
		} else {
			keep = append(keep, x)
		}
	}
	f.wants = keep
	return last, ok
}

// Revision implements store.Revisioner: the newest revision of the cluster
// (a quorum read), at least that of every change committed before the
// call. Every Follow subscriber of this store is asked to prove it has
// reached it, so that a gate waiting for it (gate.Sync, read your writes)
// hears so within a round trip.
func (s *Store) Revision(ctx context.Context) (uint64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	at := time.Now()
	rev, err := s.startRev(ctx)
	if err != nil {
		return 0, err
	}
	s.followMu.Lock()
	for f := range s.follows {
		f.want(rev, at)
	}
	s.followMu.Unlock()
	return uint64(rev), nil
}

var _ store.Revisioner = (*Store)(nil)

// Health implements store.HealthChecker: the cluster answers a quorum read.
func (s *Store) Health(ctx context.Context) store.Health {
	h := store.Health{Backend: "etcd"}
	if s.closed.Load() {
		h.Error = "the store is closed"
		return h
	}
	if _, err := s.startRev(ctx); err != nil {
		h.Error = "etcd has no quorum or cannot be reached"
		return h
	}
	h.OK = true
	return h
}
