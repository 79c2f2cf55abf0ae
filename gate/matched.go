package gate

import (
	"strings"
	"sync/atomic"

	"github.com/tmaps/console/model"
)

// hostCount counts the allowed requests of one matched host in one hour.
type hostCount struct {
	hour int64
	host string // lowercase
	n    atomic.Uint64
}

// match counts an allowed request whose Origin or Referer host matched one
// of the key's domains, in hour h. The same host as the previous request
// of the key, in the same hour, costs one atomic add; otherwise the
// counter's lock is taken once. At most MaxRefusedHosts hosts are kept per
// key and hour (a key has few domains; the cap is a guard).
func (c *counter) match(h int64, host string) {
	if p := c.matchedCur.Load(); p != nil && p.hour == h && model.EqualFoldASCII(p.host, host) {
		p.n.Add(1)
		return
	}
	c.matchSlow(h, host)
}

func (c *counter) matchSlow(h int64, host string) {
	if len(host) > maxHostLen {
		host = host[:maxHostLen]
	}
	host = strings.ToLower(host)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.matched == nil {
		c.matched = map[hostHour]*hostCount{}
	}
	k := hostHour{h, host}
	p := c.matched[k]
	if p == nil {
		if len(c.matched) >= MaxRefusedHosts {
			return
		}
		p = &hostCount{hour: h, host: strings.Clone(host)}
		c.matched[hostHour{h, p.host}] = p
	}
	p.n.Add(1)
	c.matchedCur.Store(p)
}

// takeMatched hands the counts of the matched hosts to fn and resets them.
// Entries of hours before the previous one are dropped: no request counts
// into them any more. Call with c.mu held.
func (c *counter) takeMatched(fn func(hour int64, host string, n uint64)) {
	newest := int64(-1)
	for k := range c.matched {
		newest = max(newest, k.hour)
	}
	for k, p := range c.matched {
		if n := p.n.Swap(0); n > 0 {
			fn(k.hour, k.host, n)
		}
		if k.hour < newest-1 {
			delete(c.matched, k)
		}
	}
}
