// Package gate enforces API keys at request time (SPEC.md, "Request-time
// authorization"). It keeps an in-memory index of every key, built at start
// and kept fresh from the store's change events, so that a revoke or a
// disable is refused within milliseconds. It serves the decision to reverse
// proxies (AuthorizeHandler, for nginx auth_request) and to Go services
// (Middleware), counts every decision for usage in memory and flushes the
// counts to the store in one transaction every few seconds (Run, Flush).
//
// The decision itself is model.Decide; this package only gathers its input
// (the api_key values, the Origin and Referer headers, the HTTPS state and
// the key found by the secret's digest) and never re-implements its rules.
package gate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// DefaultFlushEvery is how often Run flushes usage counts when
// Options.FlushEvery is zero.
const DefaultFlushEvery = 2 * time.Second

// Options configure a Gate. The zero value is a strict gate: HTTPS only, no
// trusted proxy, flushes every two seconds, the system clock, no logs.
type Options struct {
	// AllowHTTP treats every request as HTTPS. For local development only.
	AllowHTTP bool
	// TrustedProxies are the peers whose X-Forwarded-Proto and X-Real-IP
	// headers are believed. For nginx auth_request over TCP, nginx is the
	// peer (127.0.0.1/32). Connections marked by TrustedProxyContext are
	// trusted as well.
	TrustedProxies []netip.Prefix
	// FlushEvery is the period of Run's flushes; 0 means DefaultFlushEvery.
	FlushEvery time.Duration
	// Now is the clock of usage counting (hour buckets, last-used times).
	// Leave it nil in production: the gate then reads a clock it refreshes
	// every 100 ms, because calling time.Now on every decision costs about a
	// quarter of the decision on virtual machines. Set it in tests.
	Now func() time.Time
	// Logger receives the gate's logs; nil discards them. Logs never
	// contain api_key values, only key ids and display prefixes.
	Logger *slog.Logger
	// MaxStaleness is how long a gate over a shared store (store.Follower)
	// keeps deciding from its index once it cannot prove the index current
	// (no quorum); then it answers 503 {"error":"gate stale"}. 0 means
	// DefaultMaxStaleness.
	MaxStaleness time.Duration
	// DisableUsage turns usage counting off. It exists to measure what
	// counting costs (benchmarks); a real server always counts.
	DisableUsage bool
}

// Gate decides requests against an in-memory index of the store's keys.
// All its methods are safe for concurrent use.
type Gate struct {
	st      store.GateSource
	opt     Options
	now     func() time.Time
	log     *slog.Logger
	trusted []netip.Prefix

	idx      index
	reloadMu sync.Mutex // serialises store reads with their index updates

	// fol is set when the store is a store.Follower (follow.go).
	fol *follower

	// version counts the store changes applied to the index; applied is
	// the store revision the index has applied everything up to (see
	// Sync); changed is closed and replaced each time either moves.
	// stopped is closed when the watch loop ends.
	verMu   sync.Mutex
	version uint64
	applied uint64
	changed chan struct{}
	stopped chan struct{}

	// loadedAt and updatedAt are the unix nanoseconds of the first full
	// load and of the latest change applied to the index; watching is
	// true while store events reach the index (see Status).
	loadedAt  atomic.Int64
	updatedAt atomic.Int64
	watching  atomic.Bool

	usage  usage
	met    metrics
	quotas quotaSet // ids of the keys with a monthly quota

	// coarse is the time in unix nanoseconds, refreshed every clockTick
	// when Options.Now is nil: reading the clock costs more than a quarter
	// of a decision on some virtual machines, and usage needs no more.
	coarse atomic.Int64
}

// clockTick is the resolution of the usage clock (last-used times).
const clockTick = 100 * time.Millisecond

// New loads every key of s into the index, subscribes to s's change events
// and keeps the index fresh until ctx ends: on EventKey it reloads that key,
// on EventResync it reloads every key (a change of links publishes an
// EventKey per key, so EventDomain needs nothing). When s is a
// store.Revisioner it also follows the revisions the index has applied,
// for Sync. It returns an error when the store cannot be watched or read.
func New(ctx context.Context, s store.GateSource, opt Options) (*Gate, error) {
	if s == nil {
		return nil, errors.New("gate: no store")
	}
	g := &Gate{st: s, opt: opt, now: opt.Now, log: opt.Logger, changed: make(chan struct{}), stopped: make(chan struct{})}
	if g.now == nil {
		g.coarse.Store(time.Now().UnixNano())
		go g.tick(ctx)
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.opt.FlushEvery <= 0 {
		g.opt.FlushEvery = DefaultFlushEvery
	}
	for _, p := range opt.TrustedProxies {
		g.trusted = append(g.trusted, p.Masked())
	}
	g.idx.init()
	g.usage.init()
	g.quotas.init()
	g.met.init()

	if f, ok := s.(store.Follower); ok {
		if err := g.startFollowing(ctx, f); err != nil {
			return nil, err
		}
		return g, nil
	}
	// Subscribe before loading, so that no change between the load and the
	// subscription is missed.
	events, err := s.Watch(ctx)
	if err != nil {
		return nil, fmt.Errorf("gate: watching the store: %w", err)
	}
	start := time.Now()
	rev, err := g.reloadAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("gate: loading keys: %w", err)
	}
	g.applied = rev
	g.log.Info("gate index loaded", "keys", g.idx.size.Load(), "took", time.Since(start))
	g.refreshQuotas(ctx)
	now := time.Now().UnixNano()
	g.loadedAt.Store(now)
	g.updatedAt.Store(now)
	g.watching.Store(true)
	go g.watch(ctx, events)
	return g, nil
}

// tick refreshes the coarse clock until ctx ends.
func (g *Gate) tick(ctx context.Context) {
	t := time.NewTicker(clockTick)
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			g.coarse.Store(now.UnixNano())
		case <-ctx.Done():
			return
		}
	}
}

// usageNow is the time a decision is counted at, in unix nanoseconds.
func (g *Gate) usageNow() int64 {
	if g.now != nil {
		return g.now().UnixNano()
	}
	return g.coarse.Load()
}

// watch applies store events to the index until the channel closes.
func (g *Gate) watch(ctx context.Context, events <-chan store.Event) {
	defer close(g.stopped)
	defer g.watching.Store(false)
	for ev := range events {
		var err error
		rev, full := ev.Rev, false
		switch ev.Kind {
		case store.EventKey:
			err = g.ReloadKey(ctx, ev.ID)
		case store.EventResync:
			rev, err = g.reloadAll(ctx)
			full = true
		}
		if err != nil {
			// A change the index missed could leave a revoked key allowed:
			// reload everything until it works.
			g.log.Error("gate index reload failed; reloading every key", "event", ev.Kind, "key_id", ev.ID, "err", err)
			if rev, err = g.reloadUntilDone(ctx); err != nil {
				return
			}
			full = true
		}
		if !full && ev.Rev > 0 && !ev.RevEnd {
			rev = ev.Rev - 1 // more events of this change follow
		}
		// A full reload applied everything up to the revision it read first.
		g.advance(rev, ev.Kind != store.EventUsage)
	}
	if ctx.Err() == nil {
		g.log.Warn("gate stopped receiving store events: the index is no longer refreshed")
	}
}

// reloadUntilDone reloads every key, retrying with a growing pause until it
// works, and returns the revision it loaded; it fails only when ctx ends.
func (g *Gate) reloadUntilDone(ctx context.Context) (uint64, error) {
	pause := 50 * time.Millisecond
	for {
		rev, err := g.reloadAll(ctx)
		if err == nil {
			g.log.Info("gate index reloaded", "keys", g.idx.size.Load())
			return rev, nil
		}
		g.log.Error("gate index reload failed; retrying", "in", pause, "err", err)
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// ReloadKey reloads one key from the store into the index (or drops it when
// the store no longer has it). The watch loop calls it on EventKey; a server
// may call it after changing a key itself to make the change effective
// before it answers.
func (g *Gate) ReloadKey(ctx context.Context, id string) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	k, err := g.st.Key(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		g.idx.remove(id)
		return nil
	case err != nil:
		return err
	}
	g.putKey(ctx, &k)
	return nil
}

// putKey puts k into the index; the caller holds reloadMu. A key that
// gains a quota gets its base (the month's allowed requests in the store)
// before it is indexed with it, so that no decision sees the quota without
// the count; a changed rate limit starts with its whole burst.
func (g *Gate) putKey(ctx context.Context, k *model.Key) {
	if g.quotas.set(k.ID, k.Quota > 0) {
		g.refreshQuota(ctx, k.ID, g.usageNow())
	}
	c := g.usage.existing(k.ID)
	if old := g.indexed(k.ID); c != nil && old != nil && (old.Rate != k.Rate || old.Burst != k.Burst) {
		c.bucket.Reset()
	}
	g.idx.put(k, c)
}

// reloadAll replaces the index with every key of the store. It returns the
// store's revision read before the keys (0 without revisions): the index
// then holds every change up to it.
func (g *Gate) reloadAll(ctx context.Context) (uint64, error) {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	var rev uint64
	if rv, ok := g.st.(store.Revisioner); ok {
		var err error
		if rev, err = rv.Revision(ctx); err != nil {
			return 0, err
		}
	}
	keys, err := g.st.Keys(ctx)
	if err != nil {
		return 0, err
	}
	g.idx.replace(keys, g.usage.existing)
	g.quotas.replace(keys)
	return rev, nil
}

// advance records that the index has applied every change up to revision
// rev (and, when counted, one more change event), and wakes Sync and
// WaitVersion.
func (g *Gate) advance(rev uint64, counted bool) {
	if counted {
		g.updatedAt.Store(time.Now().UnixNano())
	}
	g.verMu.Lock()
	if counted {
		g.version++
	}
	g.applied = max(g.applied, rev)
	close(g.changed)
	g.changed = make(chan struct{})
	g.verMu.Unlock()
}

// ErrNotFollowing is returned by Sync when the index no longer follows the
// store's changes.
var ErrNotFollowing = errors.New("gate: the index no longer follows the store's changes")

// Sync waits until the index has applied every change the store committed
// before the call, so that the next decision sees them (read your writes),
// or until ctx ends (its error) or the index stops following the store
// (ErrNotFollowing). It needs a store.Revisioner source; with another
// source it returns nil at once, promising nothing. It never slows
// decisions: they take no lock.
func (g *Gate) Sync(ctx context.Context) error {
	rv, ok := g.st.(store.Revisioner)
	if !ok {
		return nil
	}
	target, err := rv.Revision(ctx)
	if err != nil {
		return fmt.Errorf("gate: reading the store's revision: %w", err)
	}
	for {
		g.verMu.Lock()
		cur, ch := g.applied, g.changed
		g.verMu.Unlock()
		if cur >= target {
			return nil
		}
		select {
		case <-ch:
		case <-g.stopped:
			return ErrNotFollowing
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Applied returns the store revision the index has applied every change
// up to (0 for a source without revisions).
func (g *Gate) Applied() uint64 {
	g.verMu.Lock()
	defer g.verMu.Unlock()
	return g.applied
}

// Version counts the store change events applied to the index so far.
// Tests read it before a change and pass it to WaitVersion.
func (g *Gate) Version() uint64 {
	g.verMu.Lock()
	defer g.verMu.Unlock()
	return g.version
}

// WaitVersion blocks until the index has applied a change event after
// version v (that is, Version() > v), or ctx ends.
func (g *Gate) WaitVersion(ctx context.Context, v uint64) error {
	for {
		g.verMu.Lock()
		cur, ch := g.version, g.changed
		g.verMu.Unlock()
		if cur > v {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// indexed returns the key with this id as the index holds it, or nil.
func (g *Gate) indexed(id string) *model.Key {
	g.idx.mu.Lock()
	d, ok := g.idx.byID[id]
	g.idx.mu.Unlock()
	if !ok {
		return nil
	}
	if e := g.idx.get(d); e != nil {
		return e.key
	}
	return nil
}

// Status describes the index for readiness checks (/readyz).
type Status struct {
	// Loaded is true once every key was loaded; Keys counts them now.
	Loaded bool `json:"loaded"`
	Keys   int  `json:"keys"`
	// Version counts the store changes applied since the load.
	Version uint64 `json:"version"`
	// Watching is true while the store's change events reach the index:
	// false means changes are no longer applied (the gate is stale).
	Watching bool `json:"watching"`
	// LoadedAt is the time of the load, UpdatedAt of the latest change
	// applied, AgeSeconds the seconds since UpdatedAt.
	LoadedAt   time.Time `json:"loaded_at,omitzero"`
	UpdatedAt  time.Time `json:"updated_at,omitzero"`
	AgeSeconds float64   `json:"age_seconds"`
}

// Status returns the index's state now.
func (g *Gate) Status() Status {
	s := Status{Keys: g.Size(), Version: g.Version(), Watching: g.watching.Load()}
	if l := g.loadedAt.Load(); l != 0 {
		s.Loaded = true
		s.LoadedAt = time.Unix(0, l).UTC()
		u := time.Unix(0, g.updatedAt.Load())
		s.UpdatedAt = u.UTC()
		s.AgeSeconds = time.Since(u).Round(time.Millisecond).Seconds()
	}
	return s
}

// Size returns how many keys the index holds.
func (g *Gate) Size() int { return int(g.idx.size.Load()) }

// Decide decides r with the api_key values of its own URL query, and counts
// the decision for usage.
func (g *Gate) Decide(r *http.Request) model.Decision {
	d, _ := g.decide(r, r.URL.RawQuery)
	return d
}

// decide gathers model.Decide's input from r and rawQuery, decides, and
// counts the decision. It also returns the index entry of the key the
// request named, or nil. A key without a policy costs nothing more: the
// client address, the token bucket and the quota are read only for keys
// with an IP allowlist, a rate limit or a quota.
func (g *Gate) decide(r *http.Request, rawQuery string) (model.Decision, *entry) {
	buf := keyBufs.Get().(*[2]string)
	defer func() { *buf = [2]string{}; keyBufs.Put(buf) }()
	now := g.usageNow()
	in := model.GateInput{
		APIKeys: apiKeys(rawQuery, buf[:0]),
		Origin:  headerValue(r.Header, "Origin"),
		Referer: headerValue(r.Header, "Referer"),
		HTTPS:   g.isHTTPS(r),
		Now:     time.Unix(0, now),
	}
	var e *entry
	var c *counter
	// Only the digest of a valid secret can be in the index; model.Decide
	// checks the form (so a malformed value of the right length that is
	// looked up in vain is still refused as malformed).
	if len(in.APIKeys) == 1 && len(in.APIKeys[0]) == model.SecretLen {
		if e = g.idx.get(model.DigestOf(in.APIKeys[0])); e != nil {
			k := e.key
			in.Key = k
			if len(k.AllowIPs) > 0 {
				in.ClientIP = g.clientIP(r)
			}
			if k.Rate > 0 || k.Quota > 0 {
				c = g.counterOf(e)
				in.Bucket = &c.bucket
				if k.Quota > 0 {
					in.QuotaUsed = c.quotaUsed(now)
				}
			}
		}
	}
	d := model.DecideInput(&in)
	g.met.decision(d)
	if !g.opt.DisableUsage {
		switch {
		case c != nil:
		case e != nil:
			c = g.counterOf(e)
		default:
			c = g.usage.unknown
		}
		g.usage.count(c, now, d)
	}
	return d, e
}

// counterOf returns the counter of e's key, made on its first use.
func (g *Gate) counterOf(e *entry) *counter {
	c := e.ctr.Load()
	if c == nil {
		c = g.usage.counter(e.key.ID)
		e.ctr.Store(c)
	}
	return c
}

// keyBufs recycles the small arrays that hold a request's api_key values.
// A buffer on decide's stack would move to the heap: escape analysis is not
// field-sensitive, and the returned Decision's Host comes from the same
// GateInput as the api_key values.
var keyBufs = sync.Pool{New: func() any { return new([2]string) }}

// headerValue returns the first value of a canonical header name, "" when
// absent, without allocating.
func headerValue(h http.Header, name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// isHTTPS reports whether r counts as HTTPS (SPEC.md step 1): a TLS
// connection, X-Forwarded-Proto: https from a trusted peer, or AllowHTTP.
func (g *Gate) isHTTPS(r *http.Request) bool {
	if g.opt.AllowHTTP || r.TLS != nil {
		return true
	}
	v := r.Header["X-Forwarded-Proto"]
	if len(v) == 0 || !forwardedHTTPS(v[len(v)-1]) {
		return false
	}
	return trustedConn(r) || g.trustedPeer(r.RemoteAddr)
}

// trustedConnKey marks a context as one of a trusted proxy's connection.
type trustedConnKey struct{}

// TrustedProxyContext returns ctx marked so that the gate treats every
// request whose context derives from it as coming from a trusted proxy
// (its X-Forwarded-Proto and X-Real-IP are believed), whatever the peer's
// address. It is for http.Server.BaseContext or ConnContext of a listener
// that only the proxy can reach, such as a unix socket whose permissions
// admit nginx alone; a peer without an IP address is otherwise never
// trusted.
func TrustedProxyContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, trustedConnKey{}, true)
}

// trustedConn reports whether r came on a connection marked by
// TrustedProxyContext; it does not allocate.
func trustedConn(r *http.Request) bool {
	return r.Context().Value(trustedConnKey{}) != nil
}

// forwardedHTTPS reports whether the nearest proxy's entry of an
// X-Forwarded-Proto value (the last comma-separated one) is https.
func forwardedHTTPS(v string) bool {
	for i := len(v) - 1; i >= 0; i-- {
		if v[i] == ',' {
			v = v[i+1:]
			break
		}
	}
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	if len(v) != 5 {
		return false
	}
	for i := 0; i < 5; i++ {
		if v[i]|0x20 != "https"[i] {
			return false
		}
	}
	return true
}

func (g *Gate) trustedPeer(remote string) bool {
	return g.trustedAddr(peerAddr(remote))
}

func (g *Gate) trustedAddr(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range g.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerAddr reads a connection's remote address ("ip:port", or an address
// alone), IPv4-mapped addresses unmapped; the zero Addr when unreadable.
func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(remote); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

// clientIP is the client's address for an IP allowlist (SPEC.md step 4b):
// the connection's peer, or, when the peer is a trusted proxy that sends
// X-Real-IP, that header's address (its last value: the nearest proxy's).
// A peer on a TrustedProxyContext connection is a trusted proxy; without
// X-Real-IP its address (none, on a unix socket) is the zero Addr.
// A trusted proxy's X-Real-IP that is not an address gives the zero Addr,
// which no allowlist contains (fail closed).
func (g *Gate) clientIP(r *http.Request) netip.Addr {
	v := r.Header["X-Real-Ip"]
	if trustedConn(r) {
		if len(v) == 0 {
			return netip.Addr{} // a socket's peer has no address
		}
	} else if peer := peerAddr(r.RemoteAddr); len(v) == 0 || !g.trustedAddr(peer) {
		return peer
	}
	a, err := netip.ParseAddr(trimSpace(v[len(v)-1]))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}
	}
	return a.Unmap()
}

func trimSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
