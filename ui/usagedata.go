package ui

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/ui/chart"
	"github.com/tmaps/console/ui/text"
)

// usageState is the console's copy of recent usage: the summaries (last 24
// hours, spike check) of the total and of every key used lately. Pages only
// read it; the shell loads it in the background (loadUsage), so drawing the
// keys list never touches the store.
type usageState struct {
	loaded  bool
	gen     int // generation of the latest load asked for
	applied int // generation of the load shown
	total   store.UsageSummary
	byKey   map[string]store.UsageSummary
	// order is the keys of byKey: spiking first, then busiest in 24 h.
	order []string
	// lastHost is the host of each key's last request, where the store
	// keeps it.
	lastHost map[string]string
	// matched is the use of each link of the keys of byKey (nil when the
	// store does not count usage per link).
	matched map[string][]store.MatchedHost
	// soon is set while a reload after usage events is scheduled.
	soon bool
}

// usageRefresh is how long usage events wait before a reload: the gate
// flushes every few seconds, and hourly charts need no more than this.
const usageRefresh = 10 * time.Second

// usageTickMsg asks for the reload that usageSoon scheduled.
type usageTickMsg struct{}

// usageSoon schedules one reload of the usage, however many usage events
// arrive meanwhile.
func (a *App) usageSoon() tea.Cmd {
	if a.us.soon {
		return nil
	}
	a.us.soon = true
	return a.tick(usageRefresh, func(time.Time) tea.Msg { return usageTickMsg{} })
}

// usageLoadedMsg carries the summaries of a load.
type usageLoadedMsg struct {
	gen     int
	total   store.UsageSummary
	byKey   map[string]store.UsageSummary
	hosts   map[string]string // last host per key
	matched map[string][]store.MatchedHost
	err     error
}

// loadUsage summarises the total and every key whose last use falls in the
// spike window (a key unused for longer has an empty 24 hours and cannot
// spike), in a command.
func (a *App) loadUsage() tea.Cmd {
	a.us.gen++
	gen := a.us.gen
	now := a.c.now()
	var ids []string
	for i := range a.data.keys {
		k := &a.data.keys[i]
		if !k.LastUsed.IsZero() && now.Sub(k.LastUsed) <= store.SpikeWindow() {
			ids = append(ids, k.ID)
		}
	}
	st, ctx := a.c.cfg.Store, a.c.ctx
	return func() tea.Msg {
		msg := usageLoadedMsg{gen: gen, byKey: make(map[string]store.UsageSummary, len(ids))}
		msg.total, msg.err = store.Summarize(ctx, st, "", now)
		if msg.err != nil {
			return msg
		}
		for _, id := range ids {
			s, err := store.Summarize(ctx, st, id, now)
			if err != nil {
				msg.err = err
				return msg
			}
			msg.byKey[id] = s
			if lu, ok := st.(store.LinkUsage); ok {
				if hs, err := lu.MatchedHosts(ctx, id); err == nil {
					if msg.matched == nil {
						msg.matched = map[string][]store.MatchedHost{}
					}
					msg.matched[id] = hs
				}
			}
			if lh, ok := st.(store.LastHoster); ok {
				if h, err := lh.LastHost(ctx, id); err == nil && h != "" {
					if msg.hosts == nil {
						msg.hosts = map[string]string{}
					}
					msg.hosts[id] = h
				}
			}
		}
		return msg
	}
}

// recentDays is the span the console keeps summaries for: "9 days".
func recentDays() string {
	return text.Plural(int(store.SpikeWindow()/(24*time.Hour)), "day")
}

func (a *App) onUsageTick() tea.Cmd {
	a.us.soon = false
	return a.loadUsage()
}

func (a *App) onUsageLoaded(msg usageLoadedMsg) tea.Cmd {
	if msg.gen < a.us.applied {
		return nil // an older load finishing late
	}
	if unreachable(msg.err) {
		return a.loadFailed()
	}
	if msg.err != nil {
		if !errors.Is(msg.err, context.Canceled) {
			a.setBanner(bannerWarn, "Usage could not be loaded: "+describeErr(msg.err))
		}
		return nil
	}
	u := &a.us
	u.loaded, u.applied = true, msg.gen
	u.total, u.byKey, u.lastHost, u.matched = msg.total, msg.byKey, msg.hosts, msg.matched
	u.order = u.order[:0]
	for id := range msg.byKey {
		u.order = append(u.order, id)
	}
	slices.SortFunc(u.order, func(x, y string) int {
		sx, sy := u.byKey[x], u.byKey[y]
		if sx.Spike.Spiking != sy.Spike.Spiking {
			if sx.Spike.Spiking {
				return -1
			}
			return 1
		}
		if c := compareDesc(sx.Last24h.Total(), sy.Last24h.Total()); c != 0 {
			return c
		}
		var nx, ny string
		if k, ok := a.data.key(x); ok {
			nx = k.Name
		}
		if k, ok := a.data.key(y); ok {
			ny = k.Name
		}
		if c := strings.Compare(nx, ny); c != 0 {
			return c
		}
		return strings.Compare(x, y)
	})
	return a.broadcast(usageChangedMsg{})
}

func compareDesc(x, y uint64) int {
	switch {
	case x > y:
		return -1
	case x < y:
		return 1
	}
	return 0
}

// spiking reports whether key id spiked, as of the last load.
func (u *usageState) spiking(id string) bool {
	s, ok := u.byKey[id]
	return ok && s.Spike.Spiking
}

// spikeMark goes before a key's name in lists: "▲ " on a spike.
func (u *usageState) spikeMark(id string) string {
	if u.spiking(id) {
		return "▲ "
	}
	return ""
}

// spark is the 24-hour sparkline of a key in width cells ("" when the key
// was not used lately).
func (u *usageState) spark(id string, width int) string {
	s, ok := u.byKey[id]
	if !ok {
		return ""
	}
	vals := make([]uint64, len(s.Hourly))
	for i, b := range s.Hourly {
		vals[i] = b.Total()
	}
	return chart.Spark(vals, width)
}
