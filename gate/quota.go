package gate

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// Monthly quotas (SPEC.md step 10): a key's allowed requests this UTC month
// are the store's usage of the month, read back after every flush (so other
// nodes' flushed counts are in it), plus what this node counted since.
// A flush moves its counts into the base at once, so nothing is counted
// twice or dropped while the store write is in flight. Between two reads
// of the store a cluster may overshoot by one flush interval of the other
// nodes' traffic, as SPEC.md allows.

// quotaState is the base of one key's quota: the allowed requests of the
// month [start, end) known to be in the store or being flushed by this
// node. It is replaced, never changed, except base, which a flush raises.
type quotaState struct {
	start, end int64 // unix nanoseconds: the UTC month
	startHour  int64 // unix hour of start
	endHour    int64
	base       atomic.Uint64
}

func newQuotaState(now int64, base uint64) *quotaState {
	t := time.Unix(0, now)
	start, end := model.MonthStart(t), model.NextMonthStart(t)
	q := &quotaState{start: start.UnixNano(), end: end.UnixNano(),
		startHour: start.Unix() / 3600, endHour: end.Unix() / 3600}
	q.base.Store(base)
	return q
}

// quotaUsed is the key's allowed requests of the month holding now: the
// base plus the unflushed allowed counts of this month's hours. It takes
// no lock and does not allocate.
func (c *counter) quotaUsed(now int64) uint64 {
	q := c.quota.Load()
	var used uint64
	var startHour int64
	if q != nil && now >= q.start && now < q.end {
		used, startHour = q.base.Load(), q.startHour
	} else {
		// No base yet, or a new month the next flush has not read yet.
		startHour = model.MonthStart(time.Unix(0, now)).Unix() / 3600
	}
	for i := range c.slots {
		if s := &c.slots[i]; s.hour.Load() >= startHour {
			used += s.n[0].Load()
		}
	}
	return used
}

// flushed adds allowed requests of hour h, taken from the counter by a
// flush, to the quota base of their month.
func (c *counter) flushed(h int64, allowed uint64) {
	if q := c.quota.Load(); q != nil && allowed > 0 && h >= q.startHour && h < q.endHour {
		q.base.Add(allowed)
	}
}

// quotaSet holds the ids of the keys that have a quota, for the refresh
// after each flush.
type quotaSet struct {
	mu  sync.Mutex
	ids map[string]struct{}
}

func (s *quotaSet) init() { s.ids = map[string]struct{}{} }

// set records whether key id has a quota and reports whether it just got
// one.
func (s *quotaSet) set(id string, has bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, had := s.ids[id]
	if has {
		s.ids[id] = struct{}{}
	} else {
		delete(s.ids, id)
	}
	return has && !had
}

func (s *quotaSet) replace(keys []model.Key) {
	ids := map[string]struct{}{}
	for i := range keys {
		if keys[i].Quota > 0 {
			ids[keys[i].ID] = struct{}{}
		}
	}
	s.mu.Lock()
	s.ids = ids
	s.mu.Unlock()
}

func (s *quotaSet) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.ids))
	for id := range s.ids {
		out = append(out, id)
	}
	return out
}

// refreshQuotas reads the month's usage of every key with a quota from the
// store. A read that fails keeps the key's previous base.
func (g *Gate) refreshQuotas(ctx context.Context) {
	now := g.usageNow()
	for _, id := range g.quotas.list() {
		if ctx.Err() != nil {
			return
		}
		g.refreshQuota(ctx, id, now)
	}
}

// refreshQuota reads one key's allowed requests of the month holding now
// from the store and makes them its quota base.
func (g *Gate) refreshQuota(ctx context.Context, id string, now int64) {
	q := newQuotaState(now, 0)
	bs, err := g.st.Usage(ctx, store.UsageQuery{KeyID: id, Since: time.Unix(0, q.start), Until: time.Unix(0, q.end)})
	if err != nil {
		g.log.Warn("reading a key's monthly usage for its quota failed; the previous count is kept", "key_id", id, "err", err)
		return
	}
	var n uint64
	for _, b := range bs {
		n += b.Allowed
	}
	q.base.Store(n)
	g.usage.counter(id).quota.Store(q)
}
