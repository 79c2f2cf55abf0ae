package gate

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tmaps/console/store"
)

// DefaultMaxStaleness is how long a gate that follows a shared store
// (store.Follower: an etcd cluster) keeps deciding from its index once it
// can no longer prove it is current (Options.MaxStaleness).
const DefaultMaxStaleness = 5 * time.Minute

// Messages of the gate's own 503 answers, when it follows a shared store.
const (
	// ErrMsgStale: the index was not proven current for MaxStaleness.
	ErrMsgStale = "gate stale"
	// ErrMsgNotLoaded: the index was never loaded (no store since start).
	ErrMsgNotLoaded = "gate not ready"
)

var (
	bodyStale     = []byte(`{"error":"` + ErrMsgStale + `"}`)
	bodyNotLoaded = []byte(`{"error":"` + ErrMsgNotLoaded + `"}`)
)

// follower is the state of a gate whose store is a store.Follower: it
// loads every key at one revision, applies the changes after it in order,
// and learns from progress marks when its index was last proven current.
type follower struct {
	src      store.Follower
	maxStale int64 // nanoseconds

	freshAt atomic.Int64 // unix nanoseconds when the index was last proven current; 0: never loaded
	loadRev atomic.Int64 // revision of the latest full load: changes up to it are in the index
	reloads atomic.Uint64
	stale   atomic.Uint64 // requests answered 503 (stale or not loaded)
}

// FollowStatus is the freshness of a gate that follows a shared store.
type FollowStatus struct {
	// Revision is the store revision the index holds every change up to.
	Revision int64 `json:"revision"`
	// FreshAt is when the index was last proven current (a quorum read
	// whose revision the index had reached); StalenessSeconds is the time
	// since, MaxStalenessSeconds the limit past which the gate answers 503.
	FreshAt             time.Time `json:"fresh_at,omitzero"`
	StalenessSeconds    float64   `json:"staleness_seconds"`
	MaxStalenessSeconds float64   `json:"max_staleness_seconds"`
	// State is "fresh", "stale" (deciding from the index, not proven
	// current for over a second), "closed" (past the limit: 503) or "not
	// loaded" (never loaded: 503).
	State   string `json:"state"`
	Reloads uint64 `json:"reloads"`
}

// Follow states.
const (
	FollowFresh     = "fresh"
	FollowStale     = "stale"
	FollowClosed    = "closed"
	FollowNotLoaded = "not loaded"
)

// staleAfter is how old a proof may be before FollowStatus says "stale"
// (progress marks come about every second).
const staleAfter = 3 * time.Second

// startFollowing subscribes to the store's changes, then loads the index at
// one revision. When the store cannot be read, the gate starts anyway and
// keeps trying: until the first load it answers 503 "gate not ready".
func (g *Gate) startFollowing(ctx context.Context, src store.Follower) error {
	f := &follower{src: src, maxStale: int64(g.opt.MaxStaleness)}
	if f.maxStale <= 0 {
		f.maxStale = int64(DefaultMaxStaleness)
	}
	g.fol = f
	changes, err := src.Follow(ctx)
	if err != nil {
		return fmt.Errorf("gate: following the store: %w", err)
	}
	g.watching.Store(true)
	go func() {
		defer close(g.stopped)
		defer g.watching.Store(false)
		if err := g.followLoad(ctx); err != nil {
			g.log.Warn("gate index not loaded: the store cannot be read; retrying (the gate answers 503 until then)", "err", err)
			if !g.followReloadUntilDone(ctx) {
				return
			}
		}
		g.follow(ctx, changes)
	}()
	return nil
}

// followLoad loads every key at one revision.
func (g *Gate) followLoad(ctx context.Context) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	at := time.Now()
	keys, rev, err := g.fol.src.KeysRevision(ctx)
	if err != nil {
		return err
	}
	g.idx.replace(keys, g.usage.existing)
	g.fol.loadRev.Store(rev)
	g.fol.freshAt.Store(at.UnixNano())
	g.fol.reloads.Add(1)
	g.loadedAt.CompareAndSwap(0, time.Now().UnixNano())
	g.log.Info("gate index loaded", "keys", len(keys), "revision", rev, "took", time.Since(at))
	g.advance(uint64(rev), true)
	return nil
}

func (g *Gate) followReloadUntilDone(ctx context.Context) bool {
	pause := 100 * time.Millisecond
	for {
		err := g.followLoad(ctx)
		if err == nil {
			return true
		}
		g.log.Error("gate index reload failed; retrying", "in", pause, "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// follow applies the store's changes until the channel closes.
func (g *Gate) follow(ctx context.Context, changes <-chan store.Change) {
	f := g.fol
	for c := range changes {
		switch c.Kind {
		case store.ChangeKey:
			if c.Rev <= f.loadRev.Load() {
				continue // the load already had it
			}
			g.reloadMu.Lock()
			if c.Key != nil {
				k := *c.Key
				g.putKey(ctx, &k)
			} else {
				g.idx.remove(c.ID)
			}
			g.reloadMu.Unlock()
			if c.RevEnd {
				// Every key of the change is in the index: Sync may pass.
				g.advance(uint64(c.Rev), true)
			}
		case store.ChangeResync:
			g.log.Warn("gate: changes were lost (compacted etcd history, or a reconnect): reloading every key")
			if !g.followReloadUntilDone(ctx) {
				return
			}
		case store.ChangeProgress:
			if at := c.At.UnixNano(); at > f.freshAt.Load() {
				f.freshAt.Store(at)
			}
			g.advance(uint64(c.Rev), false)
		}
	}
	if ctx.Err() == nil {
		g.log.Warn("gate stopped following the store: the index is no longer refreshed")
	}
}

// refuseStale answers 503 when the gate follows a shared store and has
// never loaded its index, or has not proven it current for MaxStaleness.
// It reports whether it answered. It costs two atomic loads.
func (g *Gate) refuseStale(w http.ResponseWriter) bool {
	f := g.fol
	if f == nil {
		return false
	}
	fresh := f.freshAt.Load()
	var body []byte
	switch {
	case fresh == 0:
		body = bodyNotLoaded
	case g.usageNow()-fresh > f.maxStale:
		body = bodyStale
	default:
		return false
	}
	f.stale.Add(1)
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Cache-Control"] = noStore
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	h[HeaderError] = []string{string(body)}
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write(body)
	return true
}

// Following returns the freshness of a gate that follows a shared store;
// ok is false for a gate over a local store.
func (g *Gate) Following() (s FollowStatus, ok bool) {
	f := g.fol
	if f == nil {
		return s, false
	}
	s.Revision = int64(g.Applied())
	s.Reloads = f.reloads.Load()
	s.MaxStalenessSeconds = time.Duration(f.maxStale).Seconds()
	fresh := f.freshAt.Load()
	if fresh == 0 {
		s.State = FollowNotLoaded
		return s, true
	}
	s.FreshAt = time.Unix(0, fresh).UTC()
	age := time.Duration(g.usageNow() - fresh) // the clock decisions use
	s.StalenessSeconds = age.Round(time.Millisecond).Seconds()
	switch {
	case age > time.Duration(f.maxStale):
		s.State = FollowClosed
	case age > staleAfter:
		s.State = FollowStale
	default:
		s.State = FollowFresh
	}
	return s, true
}

// Metrics of a gate that follows a store with revisions (Follow).
var (
	descRevision = prometheus.NewDesc("tmaps_gate_store_revision",
		"The store revision the gate's index holds every change up to.", nil, nil)
	descStaleness = prometheus.NewDesc("tmaps_gate_staleness_seconds",
		"Seconds since the gate's index was last proven current (-1: never loaded).", nil, nil)
	descMaxStaleness = prometheus.NewDesc("tmaps_gate_max_staleness_seconds",
		"Staleness past which the gate answers 503 (fail closed).", nil, nil)
	descReloads = prometheus.NewDesc("tmaps_gate_full_reloads_total",
		"Full loads of the index from the store (start, compaction, lost changes).", nil, nil)
	descStaleRefusals = prometheus.NewDesc("tmaps_gate_stale_refusals_total",
		"Requests answered 503 because the index was stale or never loaded.", nil, nil)
)

// collectFollow sends the follow metrics, only while the gate follows a
// store with revisions.
func (g *Gate) collectFollow(ch chan<- prometheus.Metric) {
	s, ok := g.Following()
	if !ok {
		return
	}
	staleness := s.StalenessSeconds
	if s.State == FollowNotLoaded {
		staleness = -1
	}
	ch <- prometheus.MustNewConstMetric(descRevision, prometheus.GaugeValue, float64(s.Revision))
	ch <- prometheus.MustNewConstMetric(descStaleness, prometheus.GaugeValue, staleness)
	ch <- prometheus.MustNewConstMetric(descMaxStaleness, prometheus.GaugeValue, s.MaxStalenessSeconds)
	ch <- prometheus.MustNewConstMetric(descReloads, prometheus.CounterValue, float64(s.Reloads))
	ch <- prometheus.MustNewConstMetric(descStaleRefusals, prometheus.CounterValue, float64(g.fol.stale.Load()))
}
