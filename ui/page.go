package ui

import (
	"context"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/ui/keymap"
	"github.com/tmaps/console/ui/text"
	"github.com/tmaps/console/ui/theme"
)

// Page is the contract every screen of the console implements: the page
// of each tab, the detail screens stacked over them, and the dialogs. The
// shell routes to the page on top through it and knows nothing else of
// pages.
//
// A page lays itself out in SetSize (and again when its data changes) into
// regions that View draws and Click reads, so what is drawn and what is
// clicked never disagree.
type Page interface {
	// Title names the page in breadcrumbs, or the dialog in its frame.
	Title() string
	// SetSize gives the page its size in cells. A dialog gets the inner
	// width of its frame and the most lines it may have.
	SetSize(w, h int)
	// Update handles a key press or a paste (when on top), and the
	// messages the shell sends every page: shownMsg, dataChangedMsg,
	// usageChangedMsg, storeChangedMsg, and the results of commands.
	Update(msg tea.Msg) tea.Cmd
	// View draws the page: at most h lines of at most w cells.
	View() []string
	// Click handles a left click on cell (x, y) of the page. A dialog gets
	// the line of its View that was clicked and the column in it, or y < 0
	// for a click outside it.
	Click(x, y int) tea.Cmd
	// Scroll moves the page's list by delta rows (the mouse wheel).
	Scroll(delta int) tea.Cmd
	// Typing reports whether a text field has the keyboard: the shell then
	// leaves q, digits and tab to it.
	Typing() bool
	// ShortHelp is the footer; FullHelp is the ? help, and lists every
	// action of the page with its key.
	help.KeyMap
}

// tabs are the console's pages, in tab order; the digit before each title
// shows it. Adding a page is a new file with its type and one line here.
var tabs = []struct {
	title string
	new   func(c *common) Page
}{
	{"API Keys", newKeysPage},
	{"Authorized Domains", newDomainsPage},
	{"Usage", newUsagePage},
	{"Audit", newAuditPage},
}

// Messages the shell sends to every page and dialog.

// shownMsg tells a page it is on screen again (its tab was chosen, or the
// page above it closed).
type shownMsg struct{}

// dataChangedMsg tells that the console's copy of keys or domains changed.
type dataChangedMsg struct{ keys, domains bool }

// usageChangedMsg tells that the usage summaries were reloaded.
type usageChangedMsg struct{}

// storeChangedMsg tells that the store changed (an event arrived), before
// the console's copy is reloaded.
type storeChangedMsg struct{}

// shell is what a page may ask of the console around it.
type shell interface {
	// push opens p over the current page of the active tab.
	push(p Page)
	// back closes the page on top of the active tab (not its root).
	back()
	// remove takes p, and the pages above it, off their stack.
	remove(p Page)
	// dialog shows a dialog over everything (nil closes it).
	dialog(p Page)
	// isDialog reports whether p is the dialog shown.
	isDialog(p Page) bool
	// shown reports whether p is on screen.
	shown(p Page) bool
	// trail is the titles of the pages under p in its stack: where the
	// user came from, for p's breadcrumb.
	trail(p Page) []string
	// notify shows a message in the banner above the page.
	notify(k bannerKind, msg string)
}

// common is what every page shares: the console's configuration, its copy
// of the store, the theme and key map, and the shell. It is passed down
// instead of the App.
type common struct {
	cfg   Config
	ctx   context.Context
	th    *theme.Theme
	km    *keymap.KeyMap
	data  *dataset
	us    *usageState
	shell shell
}

// sctx is the context of a change made from this console.
func (c *common) sctx() context.Context { return store.WithActor(c.ctx, c.cfg.Actor) }

// now is the console's clock.
func (c *common) now() time.Time { return c.cfg.Now() }

// op runs a change in the background and reports it with opDoneMsg.
func (c *common) op(fn func(ctx context.Context, st store.Store) opDoneMsg) tea.Cmd {
	st, ctx := c.cfg.Store, c.sctx()
	return func() tea.Msg { return fn(ctx, st) }
}

func (c *common) info(s string)  { c.shell.notify(bannerInfo, s) }
func (c *common) warn(s string)  { c.shell.notify(bannerWarn, s) }
func (c *common) fail(err error) { c.shell.notify(bannerErr, describeErr(err)) }

// openKey shows a key's screen over the current page.
func (c *common) openKey(id string) { c.shell.push(newKeyDetail(c, id)) }

// openDomain shows a domain's screen over the current page.
func (c *common) openDomain(name string) { c.shell.push(newDomainDetail(c, name)) }

// crumbs is a detail page's first line: where the user came from, then
// its own title, in w cells (the oldest steps are cut first).
func (c *common) crumbs(p Page, title string, w int) string {
	t := c.th
	trail := c.shell.trail(p)
	for len(trail) > 1 && text.Width(" "+strings.Join(trail, " › ")+" › "+title) > w {
		trail = trail[1:]
		trail[0] = "…"
	}
	if len(trail) == 0 {
		return " " + t.Bold.Render(title)
	}
	return " " + t.Faint.Render(strings.Join(trail, " › ")+" ›") + " " + t.Bold.Render(title)
}

// indentWrap wraps s to lines of w cells, each indented by one space.
func indentWrap(s string, w int) []string {
	lines := text.Wrap(s, max(1, w-1))
	for i, l := range lines {
		lines[i] = " " + l
	}
	return lines
}

// ago describes how long ago t was, by the console's clock.
func (c *common) ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := c.now().Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return text.Plural(int(d/time.Minute), "minute") + " ago"
	case d < 48*time.Hour:
		return text.Plural(int(d/time.Hour), "hour") + " ago"
	}
	return text.Plural(int(d/(24*time.Hour)), "day") + " ago"
}
