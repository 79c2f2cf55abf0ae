package ui

import (
	"errors"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/ui/text"
)

// conn is the state of the console's link to its store. A store that
// cannot be reached (the daemon behind --api is down) is retried forever,
// with a pause growing up to maxRetryDelay; meanwhile the header says
// "disconnected — retrying" and that the data shown is stale. When both
// the event stream and a full reload work again, the header clears and so
// does any error banner.
type conn struct {
	streamDown bool      // the event stream is broken (EventOffline, or Watch failed)
	loadDown   bool      // the last load failed: the store could not be reached
	fresh      time.Time // when the data shown was last known current (set on going down)
	loadTries  int       // failed loads in a row
	watchTries int       // failed Watch calls in a row
	loadSoon   bool      // a reload is scheduled
	watchSoon  bool      // a new Watch is scheduled
	shown      bool      // the header says it is down
}

// maxRetryDelay caps the pause between two attempts to reach the store.
const maxRetryDelay = 5 * time.Second

// retryDelay is the pause before attempt n+1: 500 ms, doubled each time,
// at most maxRetryDelay.
func retryDelay(n int) time.Duration {
	d := 500 * time.Millisecond
	for i := 0; i < n && d < maxRetryDelay; i++ {
		d *= 2
	}
	return min(d, maxRetryDelay)
}

// down reports whether the store cannot be reached for now.
func (c *conn) down() bool { return c.streamDown || c.loadDown }

// retryLoadMsg asks for the reload that retryLoad scheduled.
type retryLoadMsg struct{}

// retryWatchMsg asks for the new Watch that retryWatch scheduled.
type retryWatchMsg struct{}

// watchEndedMsg says the store's event channel closed while the console
// was still running.
type watchEndedMsg struct{}

// unreachable reports whether err says the store cannot be reached (as
// opposed to an answer refusing something): such errors heal by retrying.
func unreachable(err error) bool { return errors.Is(err, store.ErrUnavailable) }

// loadFailed records a load that could not reach the store and schedules
// a full reload.
func (a *App) loadFailed() tea.Cmd {
	a.conn.loadDown = true
	a.connStatus()
	if a.conn.loadSoon {
		return nil
	}
	a.conn.loadSoon = true
	d := retryDelay(a.conn.loadTries)
	a.conn.loadTries++
	return a.tick(d, func(time.Time) tea.Msg { return retryLoadMsg{} })
}

// loadDone records a full load that worked.
func (a *App) loadDone() {
	a.conn.loadDown, a.conn.loadTries = false, 0
	a.connStatus()
}

// watchFailed records a Watch that could not reach the store (or a stream
// that ended) and schedules another.
func (a *App) watchFailed() tea.Cmd {
	a.conn.streamDown = true
	a.connStatus()
	if a.conn.watchSoon {
		return nil
	}
	a.conn.watchSoon = true
	d := retryDelay(a.conn.watchTries)
	a.conn.watchTries++
	return a.tick(d, func(time.Time) tea.Msg { return retryWatchMsg{} })
}

// onWatchStarted follows the new event channel; after failed attempts it
// also reloads everything, since changes were missed meanwhile.
func (a *App) onWatchStarted(msg watchStartedMsg) tea.Cmd {
	if msg.err != nil {
		if unreachable(msg.err) {
			return a.watchFailed()
		}
		a.conn.streamDown = false
		a.connStatus()
		a.status = banner{kind: bannerWarn, text: "live refresh off"}
		a.setBanner(bannerWarn, "Live refresh is off: "+describeErr(msg.err))
		return nil
	}
	cmd := waitEvents(msg.ch)
	if a.conn.watchTries > 0 || a.conn.streamDown {
		a.conn.watchTries, a.conn.streamDown = 0, false
		return tea.Batch(cmd, a.loadAll())
	}
	return cmd
}

// connStatus shows the state of the link in the header's status slot, and
// clears the error banners when the link is back.
func (a *App) connStatus() {
	c := &a.conn
	if c.down() {
		if !c.shown && a.loaded {
			c.fresh = a.c.now() // current until now
		}
		c.shown = true
		s := "disconnected — retrying"
		if a.loaded {
			s += " · data is stale, from " + c.fresh.Format("15:04:05")
		}
		a.status = banner{kind: bannerErr, text: s}
		return
	}
	if c.shown {
		c.shown = false
		a.status = banner{}
		if a.banner.kind == bannerErr || a.banner.kind == bannerWarn {
			a.banner = banner{}
		}
	}
}

// onConnMsg handles the messages of this file; ok is false for others.
func (a *App) onConnMsg(msg tea.Msg) (tea.Cmd, bool) {
	switch msg.(type) {
	case retryLoadMsg, retryWatchMsg, watchEndedMsg:
		if a.c.ctx.Err() != nil {
			return nil, true // the console is closing
		}
	}
	switch msg.(type) {
	case retryLoadMsg:
		a.conn.loadSoon = false
		return a.loadAll(), true
	case retryWatchMsg:
		a.conn.watchSoon = false
		return a.watch(), true
	case watchEndedMsg:
		return a.watchFailed(), true
	}
	return nil, false
}

// unreachableBody is the page area while the first load cannot reach the
// store: why, and that the console keeps trying.
func (a *App) unreachableBody() []string {
	var out []string
	for _, l := range text.Wrap("Could not load the store: "+describeErr(a.loadErr), max(1, a.w-2)) {
		out = append(out, " "+a.th.BannerErr.Render(l))
	}
	out = append(out, "")
	for _, l := range text.Wrap("Retrying every few seconds: the console fills in once the store answers.", max(1, a.w-2)) {
		out = append(out, " "+a.th.Faint.Render(l))
	}
	return out
}
