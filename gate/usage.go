package gate

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// MaxRefusedHosts caps the distinct refused hosts remembered per key between
// two flushes, so that a flood of made-up Origins cannot exhaust memory.
// Refusals past the cap are still counted as 403s, and flushed as the
// key's "other hosts" (UsageDelta.OtherHosts).
const MaxRefusedHosts = 100

// maxHostLen caps the length of a remembered refused host (the longest DNS
// name is 253 characters).
const maxHostLen = 253

// maxPending caps the deltas kept for a retry after failed flushes.
const maxPending = 100_000

// usage holds the in-memory counts between flushes. Counting on the request
// path touches only the key's own counter with atomic operations; it never
// takes a lock shared by keys, except the first time a key is counted in a
// flush window (to put it on the dirty list) and on a refused host.
type usage struct {
	mu      sync.Mutex
	byID    map[string]*counter // guarded by mu; counters outlive index entries
	unknown *counter            // requests that named no known key (KeyID "")

	dirtyMu sync.Mutex
	dirty   []*counter // counters counted since the last flush

	flushMu sync.Mutex         // one flush at a time
	pending []store.UsageDelta // guarded by flushMu: deltas a failed flush keeps
}

// counter is one key's counts. The two slots hold the current and the
// previous hour, indexed by hour parity, so that a decision never waits for
// a flush.
type counter struct {
	id    string
	u     *usage
	slots [2]slot

	lastUsed atomic.Int64           // unix nanoseconds of the latest decision
	lastHost atomic.Pointer[string] // host of the latest allowed Origin/Referer
	dirty    atomic.Bool
	// bucket is the key's rate limit on this node, quota its monthly
	// quota's base (quota.go); both unused for keys without them.
	bucket model.TokenBucket
	quota  atomic.Pointer[quotaState]
	// matchedCur is the matched host counted last: the same host in the
	// same hour again is one atomic add (matched.go).
	matchedCur atomic.Pointer[hostCount]

	mu      sync.Mutex
	hosts   map[hostHour]*uint64    // guarded by mu: refused hosts since the last flush
	matched map[hostHour]*hostCount // guarded by mu: allowed requests per matched host
	spill   []store.UsageDelta      // guarded by mu: hours rolled out of a slot before a flush
	dropped map[int64]uint64        // guarded by mu: refusals per hour whose host was not kept (cap)

	reported int64 // guarded by usage.flushMu: lastUsed as last flushed
}

type slot struct {
	hour atomic.Int64     // unix hour the counts belong to
	n    [4]atomic.Uint64 // allowed, 401, 403, 429
}

type hostHour struct {
	hour int64
	host string
}

func (u *usage) init() {
	u.byID = map[string]*counter{}
	u.unknown = u.newCounter("")
}

func (u *usage) newCounter(id string) *counter {
	c := &counter{id: id, u: u}
	c.slots[0].hour.Store(-1)
	c.slots[1].hour.Store(-1)
	return c
}

// counter returns the counter of key id, creating it on first use.
func (u *usage) counter(id string) *counter {
	u.mu.Lock()
	defer u.mu.Unlock()
	c := u.byID[id]
	if c == nil {
		c = u.newCounter(id)
		u.byID[id] = c
	}
	return c
}

// existing returns the counter of key id, or nil when the key was never
// counted.
func (u *usage) existing(id string) *counter {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.byID[id]
}

// count records one decision taken at ns (unix nanoseconds).
func (u *usage) count(c *counter, ns int64, d model.Decision) {
	h := ns / int64(time.Hour)
	s := &c.slots[h&1]
	if s.hour.Load() != h {
		c.roll(s, h)
	}
	switch d.Status {
	case 200:
		s.n[0].Add(1)
		if d.Host != "" {
			if d.Reason != model.ReasonUnrestricted {
				c.match(h, d.Host) // per link; an unrestricted key has none
			}
			if p := c.lastHost.Load(); p == nil || !model.EqualFoldASCII(*p, d.Host) {
				host := clip(d.Host)
				c.lastHost.Store(&host)
			}
		}
	case 401:
		s.n[1].Add(1)
	case 429:
		s.n[3].Add(1)
	default:
		s.n[2].Add(1)
		if d.Reason == model.ReasonDomainNotAuthorized && d.Host != "" {
			c.refused(h, d.Host)
		}
	}
	if ns > c.lastUsed.Load() {
		c.lastUsed.Store(ns)
	}
	// Mark dirty after counting: a flush clears the mark before it reads
	// the counts, so no count is ever left unmarked.
	if !c.dirty.Load() && c.dirty.CompareAndSwap(false, true) {
		u.dirtyMu.Lock()
		u.dirty = append(u.dirty, c)
		u.dirtyMu.Unlock()
	}
}

// clip copies a host out of its header, at most maxHostLen bytes, in
// lowercase (a header's host keeps the case it was sent in), with any
// secret in it redacted.
func clip(h string) string {
	if len(h) > maxHostLen {
		h = h[:maxHostLen]
	}
	return model.RedactSecrets(strings.ToLower(strings.Clone(h)))
}

// roll moves the counts of an older hour out of slot s, to be flushed, and
// gives the slot to hour h.
func (c *counter) roll(s *slot, h int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := s.hour.Load()
	if old == h {
		return
	}
	if d, ok := takeSlot(c.id, old, s); ok {
		c.spill = append(c.spill, d)
		c.flushed(old, d.Allowed) // unflushed, but out of the slots
	}
	s.hour.Store(h)
}

// takeSlot empties slot s (whose hour is hour) into a delta; ok is false
// when it held nothing.
func takeSlot(id string, hour int64, s *slot) (store.UsageDelta, bool) {
	a, u, f, l := s.n[0].Swap(0), s.n[1].Swap(0), s.n[2].Swap(0), s.n[3].Swap(0)
	if a|u|f|l == 0 || hour < 0 {
		return store.UsageDelta{}, false
	}
	return store.UsageDelta{KeyID: id, Hour: hourTime(hour), Allowed: a, Unauthorized: u, Forbidden: f, Limited: l}, true
}

func hourTime(h int64) time.Time { return time.Unix(h*3600, 0).UTC() }

func (c *counter) refused(h int64, host string) {
	if len(host) > maxHostLen {
		host = host[:maxHostLen]
	}
	host = model.RedactSecrets(strings.ToLower(host)) // allocates only for upper case or a secret
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hosts == nil {
		c.hosts = map[hostHour]*uint64{}
	}
	// Count through a pointer: assigning to an existing string key would
	// store this header's bytes in the map (and make every request's
	// input escape).
	if n := c.hosts[hostHour{h, host}]; n != nil {
		*n++
		return
	}
	if len(c.hosts) >= MaxRefusedHosts {
		if c.dropped == nil {
			c.dropped = map[int64]uint64{}
		}
		c.dropped[h]++
		return
	}
	one := uint64(1)
	c.hosts[hostHour{h, strings.Clone(host)}] = &one
}

// Flush writes the usage counted since the last flush to the store in one
// RecordUsage call: one delta per key and hour, with the refused hosts and
// the last-used time and host. When the store fails, the counts are kept
// and sent again by the next flush; when it refuses them as invalid
// (store.ErrInvalid, e.g. a key deleted from the store), they are sent one
// delta at a time and the refused deltas are dropped. A flush with nothing to write does not
// call the store. After a flush that did not fail, the monthly usage of
// every key with a quota is read back from the store (quota.go).
func (g *Gate) Flush(ctx context.Context) error {
	u := &g.usage
	u.flushMu.Lock()
	defer u.flushMu.Unlock()
	err := g.flush(ctx)
	if err == nil {
		g.refreshQuotas(ctx)
	}
	return err
}

// flush is Flush without the quota refresh; u.flushMu is held.
func (g *Gate) flush(ctx context.Context) error {
	u := &g.usage
	start := time.Now()

	u.dirtyMu.Lock()
	list := u.dirty
	u.dirty = nil
	u.dirtyMu.Unlock()

	type dk struct {
		id   string
		hour int64
	}
	merged := map[dk]*store.UsageDelta{}
	add := func(d store.UsageDelta) *store.UsageDelta {
		k := dk{d.KeyID, d.Hour.Unix()}
		m := merged[k]
		if m == nil {
			m = &store.UsageDelta{KeyID: d.KeyID, Hour: d.Hour}
			merged[k] = m
		}
		m.Allowed += d.Allowed
		m.Unauthorized += d.Unauthorized
		m.Forbidden += d.Forbidden
		m.Limited += d.Limited
		for h, n := range d.RefusedHosts {
			if m.RefusedHosts == nil {
				m.RefusedHosts = map[string]uint64{}
			}
			m.RefusedHosts[h] += n
		}
		m.OtherHosts += d.OtherHosts
		for h, n := range d.MatchedHosts {
			if m.MatchedHosts == nil {
				m.MatchedHosts = map[string]uint64{}
			}
			m.MatchedHosts[h] += n
		}
		if d.LastUsed.After(m.LastUsed) {
			m.LastUsed, m.LastHost = d.LastUsed, d.LastHost
		}
		return m
	}
	for _, d := range u.pending {
		add(d)
	}
	var dropped uint64
	for _, c := range list {
		c.dirty.Store(false)
		c.mu.Lock()
		for i := range c.slots {
			s := &c.slots[i]
			h := s.hour.Load()
			if d, ok := takeSlot(c.id, h, s); ok {
				add(d)
				c.flushed(h, d.Allowed)
			}
		}
		for _, d := range c.spill {
			add(d)
		}
		for hh, n := range c.hosts {
			add(store.UsageDelta{KeyID: c.id, Hour: hourTime(hh.hour), RefusedHosts: map[string]uint64{hh.host: *n}})
		}
		c.takeMatched(func(hour int64, host string, n uint64) {
			m := add(store.UsageDelta{KeyID: c.id, Hour: hourTime(hour)})
			if m.MatchedHosts == nil {
				m.MatchedHosts = map[string]uint64{}
			}
			m.MatchedHosts[host] += n
		})
		for hour, n := range c.dropped {
			m := add(store.UsageDelta{KeyID: c.id, Hour: hourTime(hour)})
			m.OtherHosts += n
			dropped += n
		}
		c.spill, c.hosts, c.dropped = nil, nil, nil
		c.mu.Unlock()

		if lu := c.lastUsed.Load(); c.id != "" && lu > c.reported {
			t := time.Unix(0, lu).UTC()
			var host string
			if p := c.lastHost.Load(); p != nil {
				host = *p
			}
			add(store.UsageDelta{KeyID: c.id, Hour: t.Truncate(time.Hour), LastUsed: t, LastHost: host})
			c.reported = lu
		}
	}
	if dropped > 0 {
		g.met.droppedHosts.Add(dropped)
	}
	if len(merged) == 0 {
		u.pending = nil
		return nil
	}
	deltas := make([]store.UsageDelta, 0, len(merged))
	for _, d := range merged {
		deltas = append(deltas, *d)
	}
	slices.SortFunc(deltas, func(a, b store.UsageDelta) int {
		return cmp.Or(strings.Compare(a.KeyID, b.KeyID), a.Hour.Compare(b.Hour))
	})
	err := g.st.RecordUsage(ctx, deltas)
	g.met.flushed(time.Since(start), err)
	if errors.Is(err, store.ErrInvalid) {
		// A refusal is final: sending the same batch again cannot work.
		// Send the deltas one by one, so only the refused ones are lost.
		err = nil
		var keep []store.UsageDelta
		for _, d := range deltas {
			e := g.st.RecordUsage(ctx, []store.UsageDelta{d})
			switch {
			case errors.Is(e, store.ErrInvalid):
				g.log.Error("usage refused by the store; dropped", "key_id", d.KeyID, "hour", d.Hour, "err", e)
			case e != nil:
				keep, err = append(keep, d), e // kept for the next flush
			}
		}
		u.pending = keep
		return err
	}
	if err != nil {
		if len(deltas) > maxPending {
			g.log.Error("usage flush failed; dropping the oldest counts", "dropped_deltas", len(deltas)-maxPending)
			slices.SortFunc(deltas, func(a, b store.UsageDelta) int { return a.Hour.Compare(b.Hour) })
			deltas = deltas[len(deltas)-maxPending:]
		}
		u.pending = deltas
		return err
	}
	u.pending = nil
	return nil
}

// Run flushes usage every Options.FlushEvery until ctx ends, then flushes
// one last time (with up to 10 seconds of grace) and returns that flush's
// error. Stop Run before closing the store.
func (g *Gate) Run(ctx context.Context) error {
	t := time.NewTicker(g.opt.FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := g.Flush(ctx); err != nil && ctx.Err() == nil {
				g.log.Error("usage flush failed; the counts are kept for the next flush", "err", err)
			}
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			err := g.Flush(fctx)
			if err != nil {
				g.log.Error("final usage flush failed", "err", err)
			}
			return err
		}
	}
}
