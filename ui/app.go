// Package ui is the console's terminal user interface (Bubble Tea v2): a
// shell with a header, page tabs, a banner and a help footer, the API Keys
// and Authorized Domains pages, their detail screens and modals.
//
// The UI never knows where it runs (local, demo, remote API, SSH session): it
// is built from a Config and does all I/O in tea.Cmd closures.
package ui

import (
	"context"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// Config is what a console needs from its host.
type Config struct {
	Store store.Store
	// Location is shown in the header: a file path, "demo", or an API URL.
	Location string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Clipboard writes to the native clipboard; nil when there is none. OSC 52
	// is always tried as well.
	Clipboard func(string) error
	// Actor is the audit actor of every change made from this console.
	Actor string
}

// page is a tab of the shell. Later pages (Usage, Audit) are appended here
// and to pages().
type page int

const (
	pageKeys page = iota
	pageDomains
	pageUsage
	pageAudit
)

type tabInfo struct {
	p     page
	title string
}

// pages lists the tabs in order; the digit before each title switches to it.
func pages() []tabInfo {
	return []tabInfo{{pageKeys, "API Keys"}, {pageDomains, "Authorized Domains"}, {pageUsage, "Usage"}, {pageAudit, "Audit"}}
}

// Layout rows of the shell.
const (
	rowHeader = 0
	rowTabs   = 1
	rowBanner = 2
	rowBody   = 3
	// chromeRows is header + tabs + banner + footer.
	chromeRows = 4
)

type bannerKind int

const (
	bannerNone bannerKind = iota
	bannerInfo
	bannerWarn
	bannerErr
)

type banner struct {
	kind bannerKind
	text string
}

// App is the console: a tea.Model. Create it with New.
type App struct {
	cfg    Config
	ctx    context.Context
	cancel context.CancelFunc
	km     keyMap
	th     theme
	help   help.Model

	w, h     int
	page     page
	showHelp bool
	banner   banner
	loaded   bool
	loadErr  error
	quitting bool

	data dataset
	kp   keysPage
	dp   domainsPage
	// kd and dd are the detail screens open on each page (nil: the list).
	kd *keyDetail
	dd *domainDetail
	// us is the recent usage (usage.go); up the Usage page.
	us usageState
	up usagePage
	ap auditPage // the Audit page (auditpage.go)
	// modal is drawn over everything and gets every key first.
	modal modal
}

// New builds a console. Call Close (or let Run do it) when done.
func New(cfg Config) *App {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &App{
		cfg: cfg, ctx: ctx, cancel: cancel,
		km: newKeyMap(), th: newTheme(true),
		w: 80, h: 24,
	}
	a.help = help.New()
	a.help.Styles = a.th.Help
	a.kp.init()
	a.dp.init()
	return a
}

// Close stops the console's background work (the store subscription).
func (a *App) Close() { a.cancel() }

// Run runs a console until the user quits or ctx ends.
func Run(ctx context.Context, cfg Config, opts ...tea.ProgramOption) error {
	app := New(cfg)
	defer app.Close()
	opts = append([]tea.ProgramOption{tea.WithContext(ctx)}, opts...)
	_, err := tea.NewProgram(app, opts...).Run()
	if err != nil && ctx.Err() != nil {
		return nil // the host ended the session
	}
	return err
}

// Init loads the data and subscribes to the store's changes.
func (a *App) Init() tea.Cmd {
	return tea.Batch(a.loadAll(), a.watch(), tea.RequestBackgroundColor)
}

func (a *App) bodyHeight() int {
	h := a.h - chromeRows
	if h < 1 {
		h = 1
	}
	return h
}

func (a *App) setBanner(k bannerKind, format string) {
	a.banner = banner{kind: k, text: format}
}

func (a *App) errBanner(err error) {
	a.banner = banner{kind: bannerErr, text: describeErr(err)}
}

// Update handles one message. It changes state only; I/O runs in commands.
func (a *App) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		a.w, a.h = msg.Width, msg.Height
		a.help.SetWidth(a.w)
		a.clampLists()
		return a, nil
	case tea.BackgroundColorMsg:
		a.th = newTheme(msg.IsDark())
		a.help.Styles = a.th.Help
		return a, nil
	case tea.KeyPressMsg:
		return a, a.onKey(msg)
	case tea.PasteMsg:
		return a, a.onPaste(msg)
	case tea.MouseClickMsg:
		return a, a.onClick(msg.Mouse())
	case tea.MouseWheelMsg:
		return a, a.onWheel(msg.Mouse())
	}
	return a, a.onData(msg)
}

func (a *App) quit() tea.Cmd {
	a.quitting = true
	a.cancel()
	return tea.Quit
}

func (a *App) onKey(msg tea.KeyPressMsg) tea.Cmd {
	km := &a.km
	if key.Matches(msg, km.ForceQuit) {
		return a.quit()
	}
	a.banner = banner{}
	if a.showHelp {
		if key.Matches(msg, km.Quit) && !a.typing() {
			return a.quit()
		}
		a.showHelp = false
		return nil
	}
	if a.modal != nil {
		m, cmd := a.modal.update(a, msg)
		a.modal = m
		return cmd
	}
	if a.page == pageKeys && a.kd == nil && a.kp.filtering {
		return a.kp.filterKey(a, msg)
	}
	if a.page == pageDomains && a.dd == nil && a.dp.filtering {
		return a.dp.filterKey(a, msg)
	}
	if a.page == pageAudit && a.ap.filtering && !a.ap.hygiene {
		return a.ap.filterKey(a, msg)
	}
	switch {
	case key.Matches(msg, km.Help):
		a.showHelp = true
		return nil
	case key.Matches(msg, km.Quit):
		return a.quit()
	case key.Matches(msg, km.NextTab):
		ps := pages()
		for i, t := range ps {
			if t.p == a.page {
				a.page = ps[(i+1)%len(ps)].p
				break
			}
		}
		a.clampLists()
		if a.page == pageUsage {
			return a.up.enter(a)
		}
		if a.page == pageAudit {
			return a.ap.enter(a)
		}
		return nil
	case key.Matches(msg, km.Tab1):
		a.page = pageKeys
		a.clampLists()
		return nil
	case key.Matches(msg, km.Tab2):
		a.page = pageDomains
		a.clampLists()
		return nil
	case key.Matches(msg, km.Tab3):
		a.page = pageUsage
		return a.up.enter(a)
	case key.Matches(msg, km.Tab4):
		a.page = pageAudit
		return a.ap.enter(a)
	}
	switch a.page {
	case pageKeys:
		if a.kd != nil {
			return a.kd.update(a, msg)
		}
		return a.kp.update(a, msg)
	case pageDomains:
		if a.dd != nil {
			return a.dd.update(a, msg)
		}
		return a.dp.update(a, msg)
	case pageUsage:
		return a.up.update(a, msg)
	case pageAudit:
		return a.ap.update(a, msg)
	}
	return nil
}

// typing reports whether a text field has the keyboard (so q is a letter).
func (a *App) typing() bool {
	if a.modal != nil {
		return a.modal.typing()
	}
	return (a.page == pageKeys && a.kd == nil && a.kp.filtering) ||
		(a.page == pageDomains && a.dd == nil && a.dp.filtering) ||
		(a.page == pageAudit && a.ap.filtering && !a.ap.hygiene)
}

func (a *App) onPaste(msg tea.PasteMsg) tea.Cmd {
	if a.modal != nil {
		m, cmd := a.modal.update(a, msg)
		a.modal = m
		return cmd
	}
	if a.page == pageKeys && a.kp.filtering {
		if ch, _ := a.kp.filter.Update(msg); ch {
			a.kp.applyFilter(a)
		}
	}
	if a.page == pageDomains && a.dp.filtering {
		if ch, _ := a.dp.filter.Update(msg); ch {
			a.dp.applyFilter(a)
		}
	}
	return nil
}

// clampLists keeps every cursor valid after a resize or a data change.
func (a *App) clampLists() {
	a.kp.list.clamp(len(a.kp.rows), a.kp.listHeight(a))
	a.dp.list.clamp(len(a.dp.rows), a.dp.listHeight(a))
	if a.kd != nil {
		a.kd.clamp(a)
	}
	if a.dd != nil {
		a.dd.clamp(a)
	}
}

// activeHelp is the key help of whatever has the keyboard.
func (a *App) activeHelp() helpSet {
	km := &a.km
	var h helpSet
	switch {
	case a.modal != nil:
		h = a.modal.help(a)
	case a.page == pageKeys && a.kd != nil:
		h = a.kd.help(a)
	case a.page == pageDomains && a.dd != nil:
		h = a.dd.help(a)
	case a.page == pageKeys:
		h = a.kp.help(a)
	case a.page == pageUsage:
		h = a.up.help(a)
	case a.page == pageAudit:
		h = a.ap.help(a)
	default:
		h = a.dp.help(a)
	}
	if a.modal == nil && !a.typing() {
		h.short = append(h.short, km.Help, km.Quit)
		h.full = append(h.full, []key.Binding{km.NextTab, km.Tab1, km.Tab2, km.Tab3, km.Tab4, km.Help, km.Quit, km.ForceQuit})
	}
	return h
}

// View draws the whole screen: exactly h lines of at most w cells.
func (a *App) View() tea.View {
	v := tea.NewView(a.render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "tmaps — " + model.Escape(a.cfg.Location)
	return v
}

func (a *App) render() string {
	if a.quitting {
		return ""
	}
	w, h := a.w, a.h
	if w < 1 || h < 1 {
		return ""
	}
	lines := make([]string, 0, h)
	lines = append(lines, a.headerLine())
	if h > 1 {
		lines = append(lines, a.tabsLine())
	}
	if h > 2 {
		lines = append(lines, a.bannerLine())
	}
	bodyH := h - chromeRows
	if bodyH > 0 {
		var body []string
		switch {
		case a.showHelp:
			body = a.fullHelpBody(bodyH)
		case !a.loaded && a.loadErr == nil:
			body = []string{fit(a.th.Faint.Render(" Loading…"), w)}
		case !a.loaded:
			body = []string{a.th.BannerErr.Render(fit(" Could not load the store: "+describeErr(a.loadErr), w))}
		case a.page == pageKeys && a.kd != nil:
			body = a.kd.view(a, bodyH)
		case a.page == pageKeys:
			body = a.kp.view(a, bodyH)
		case a.page == pageUsage:
			body = a.up.view(a, bodyH)
		case a.page == pageAudit:
			body = a.ap.view(a, bodyH)
		case a.dd != nil:
			body = a.dd.view(a, bodyH)
		default:
			body = a.dp.view(a, bodyH)
		}
		for i := 0; i < bodyH; i++ {
			if i < len(body) {
				lines = append(lines, body[i])
			} else {
				lines = append(lines, "")
			}
		}
	}
	if h > 3 {
		lines = append(lines, a.footerLine())
	}
	for i, l := range lines {
		if width(l) > w {
			lines[i] = ansi.Truncate(l, w, "…")
		}
	}
	screen := strings.Join(lines, "\n")
	if a.modal != nil && !a.showHelp {
		screen = a.overlayModal(screen)
	}
	return screen
}

func (a *App) headerLine() string {
	title := " tmaps console "
	loc := " " + model.Escape(a.cfg.Location)
	room := a.w - ansi.StringWidth(title)
	if room < 0 {
		return fit(title, a.w)
	}
	return a.th.Title.Render(title) + a.th.Location.Render(fit(loc, room))
}

// tabRanges returns the x range [from, to) of each tab on the tabs row.
func (a *App) tabRanges() [][2]int {
	var out [][2]int
	x := 1
	for i, t := range pages() {
		label := tabLabel(i, t.title)
		wd := ansi.StringWidth(label)
		out = append(out, [2]int{x, x + wd})
		x += wd + 1
	}
	return out
}

func tabLabel(i int, title string) string {
	return " " + string(rune('1'+i)) + " " + title + " "
}

func (a *App) tabsLine() string {
	var b strings.Builder
	b.WriteString(" ")
	for i, t := range pages() {
		label := tabLabel(i, t.title)
		if t.p == a.page {
			b.WriteString(a.th.TabActive.Render(label))
		} else {
			b.WriteString(a.th.TabInactive.Render(label))
		}
		b.WriteString(" ")
	}
	s := b.String()
	if ansi.StringWidth(s) > a.w {
		s = ansi.Truncate(s, a.w, "…")
	}
	return s
}

func (a *App) bannerLine() string {
	if a.banner.kind == bannerNone {
		return ""
	}
	text := fit(" "+a.banner.text, a.w)
	switch a.banner.kind {
	case bannerErr:
		return a.th.BannerErr.Render(text)
	case bannerWarn:
		return a.th.BannerWarn.Render(text)
	}
	return a.th.BannerInfo.Render(text)
}

func (a *App) footerLine() string {
	s := a.help.ShortHelpView(a.activeHelp().short)
	if ansi.StringWidth(s) > a.w {
		s = ansi.Truncate(s, a.w, "…")
	}
	return s
}

func (a *App) fullHelpBody(height int) []string {
	s := a.help.FullHelpView(a.activeHelp().full)
	lines := []string{a.th.Bold.Render(" Keys") + a.th.Faint.Render("  (any key closes this help)"), ""}
	for _, l := range strings.Split(s, "\n") {
		lines = append(lines, " "+ansi.Truncate(l, a.w-1, "…"))
	}
	if len(lines) > height {
		lines = lines[:height]
	}
	return lines
}

// Messages of the shell's plumbing.

// errMsg reports a failure that only needs the banner.
type errMsg struct{ err error }

// infoMsg shows a message in the banner.
type infoMsg struct{ text string }

func (a *App) onData(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case errMsg:
		a.errBanner(msg.err)
		return nil
	case infoMsg:
		a.setBanner(bannerInfo, msg.text)
		return nil
	case dataLoadedMsg:
		return a.onDataLoaded(msg)
	case keyLoadedMsg:
		return a.onKeyLoaded(msg)
	case domainsLoadedMsg:
		return a.onDomainsLoaded(msg)
	case watchStartedMsg:
		if msg.err != nil {
			a.setBanner(bannerWarn, "Live refresh is off: "+describeErr(msg.err))
			return nil
		}
		return waitEvents(msg.ch)
	case storeEventsMsg:
		return a.onEvents(msg)
	case opDoneMsg:
		return a.onOpDone(msg)
	case keyCreatedMsg:
		return a.onKeyCreated(msg)
	case copiedMsg:
		return a.onCopied(msg)
	case domainAddedMsg:
		return a.onDomainAdded(msg)
	case usageLoadedMsg:
		return a.onUsageLoaded(msg)
	case usageDetailMsg:
		return a.onUsageDetail(msg)
	case usageTickMsg:
		return a.onUsageTick()
	case auditLoadedMsg:
		return a.onAuditLoaded(msg)
	case linksSeenMsg:
		return a.onLinksSeen(msg)
	}
	return nil
}

// ago describes how long ago t was, from the App's clock.
func (a *App) ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := a.cfg.Now().Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	}
	return plural(int(d/(24*time.Hour)), "day") + " ago"
}
