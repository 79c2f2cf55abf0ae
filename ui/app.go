// Package ui is the console's terminal user interface (Bubble Tea v2): a
// shell (header, tabs, banner, help footer) around pages that implement
// one contract (Page), each tab a stack of them, and dialogs over them.
//
// The UI never knows where it runs (local, demo, remote API, SSH session): it
// is built from a Config and does all I/O in tea.Cmd closures.
package ui

import (
	"context"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/ui/frame"
	"github.com/tmaps/console/ui/keymap"
	"github.com/tmaps/console/ui/text"
	"github.com/tmaps/console/ui/theme"
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
	// Role is what the console's user may do (model.RoleAdmin when
	// empty): actions the role may not do are not offered, and say why
	// when their key is pressed. The store must refuse them as well
	// (store.Guard, or the API's own check).
	Role model.Role
}

// Rows of the shell.
const (
	rowHeader = 0
	rowTabs   = 1
	rowBanner = 2
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
	c      common
	cancel context.CancelFunc
	th     theme.Theme
	km     keymap.KeyMap
	help   help.Model
	data   dataset
	us     usageState
	// tick schedules a message after a delay (tea.Tick; tests replace it).
	tick func(time.Duration, func(time.Time) tea.Msg) tea.Cmd

	w, h     int
	stacks   [][]Page // per tab: its page, then the detail pages opened over it
	active   int      // the tab shown
	dlg      Page     // the dialog over everything, or nil
	showHelp bool
	hs       helpSearch // the ? help's search (helpsearch.go)
	banner   banner
	// status is the header's right side: the state of the connection to
	// the store ("" while all is well).
	status   banner
	conn     conn // the link to the store (conn.go)
	loaded   bool
	loadErr  error
	quitting bool
}

// New builds a console. Call Close (or let Run do it) when done.
func New(cfg Config) *App {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &App{cancel: cancel, km: keymap.New(), th: theme.New(true), w: 80, h: 24, tick: tea.Tick}
	a.c = common{cfg: cfg, ctx: ctx, th: &a.th, km: &a.km, data: &a.data, us: &a.us, shell: a}
	a.help = help.New()
	a.help.Styles = a.th.Help
	for _, t := range tabs {
		a.stacks = append(a.stacks, []Page{t.new(&a.c)})
	}
	a.layout()
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

// ---- layout of the shell ----

// maxBannerRows is the most rows a long banner wraps to.
const maxBannerRows = 3

// bannerRows is how many rows the banner takes: one, or the rows its
// message wraps to on a small screen's third of the body at most.
func (a *App) bannerRows() int {
	return len(a.bannerLines())
}

// bannerLines is the banner's message wrapped to the width (one empty
// line when there is none), at most maxBannerRows.
func (a *App) bannerLines() []string {
	if a.banner.kind == bannerNone || a.w < 1 {
		return []string{""}
	}
	if a.w < 3 {
		return []string{text.Truncate(" "+a.banner.text, a.w)}
	}
	lines := text.Wrap(a.banner.text, a.w-1)
	for i := range lines {
		lines[i] = " " + lines[i] // every row keeps the left margin
	}
	limit := maxBannerRows
	if a.h < 12 {
		limit = 1
	}
	if len(lines) > limit {
		lines = lines[:limit]
		lines[limit-1] = text.Truncate(lines[limit-1]+" …", a.w)
	}
	return lines
}

// bodyTop is the first row of the page area.
func (a *App) bodyTop() int { return rowBanner + a.bannerRows() }

// bodyHeight is the number of rows of the page area (header, tabs, banner
// and footer take the rest).
func (a *App) bodyHeight() int { return max(1, a.h-a.bodyTop()-1) }

// layout gives every page, and the dialog, its size.
func (a *App) layout() {
	for _, st := range a.stacks {
		for _, p := range st {
			p.SetSize(a.w, a.bodyHeight())
		}
	}
	if a.dlg != nil {
		a.dlg.SetSize(frame.Inner(a.w), max(1, a.h-2))
	}
}

// top is the page on screen (under the dialog, if any).
func (a *App) top() Page {
	st := a.stacks[a.active]
	return st[len(st)-1]
}

// ---- shell: what pages may ask ----

func (a *App) push(p Page) {
	st := a.stacks[a.active]
	// Opening a page already in the stack goes back to it.
	if id, ok := p.(identified); ok {
		for i, q := range st {
			if qi, ok := q.(identified); ok && qi.identity() == id.identity() {
				a.stacks[a.active] = st[:i+1]
				q.Update(shownMsg{})
				return
			}
		}
	}
	p.SetSize(a.w, a.bodyHeight())
	a.stacks[a.active] = append(st, p)
	p.Update(shownMsg{})
}

// identified is a page that shows one object: opening it again goes back
// to it instead of stacking a copy.
type identified interface{ identity() string }

func (a *App) back() {
	st := a.stacks[a.active]
	if len(st) > 1 {
		a.stacks[a.active] = st[:len(st)-1]
		a.top().Update(shownMsg{})
	}
}

func (a *App) remove(p Page) {
	for t, st := range a.stacks {
		if i := slices.Index(st, p); i > 0 {
			a.stacks[t] = st[:i]
		}
	}
}

func (a *App) dialog(p Page) {
	a.dlg = p
	if p != nil {
		p.SetSize(frame.Inner(a.w), max(1, a.h-2))
	}
}

func (a *App) isDialog(p Page) bool { return a.dlg != nil && a.dlg == p }

func (a *App) shown(p Page) bool { return a.top() == p }

func (a *App) trail(p Page) []string {
	for _, st := range a.stacks {
		if i := slices.Index(st, p); i >= 0 {
			out := make([]string, i)
			for j, q := range st[:i] {
				out[j] = text.Safe(q.Title())
			}
			return out
		}
	}
	return nil
}

func (a *App) notify(k bannerKind, msg string) { a.banner = banner{kind: k, text: msg} }

func (a *App) setBanner(k bannerKind, msg string) { a.banner = banner{kind: k, text: msg} }

func (a *App) errBanner(err error) { a.banner = banner{kind: bannerErr, text: describeErr(err)} }

// showTab makes tab i the active one.
func (a *App) showTab(i int) tea.Cmd {
	a.active = (i + len(a.stacks)) % len(a.stacks)
	return a.top().Update(shownMsg{})
}

// ---- update ----

// Update handles one message. It changes state only; I/O runs in commands.
func (a *App) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		a.w, a.h = msg.Width, msg.Height
		a.help.SetWidth(a.w)
	case tea.BackgroundColorMsg:
		a.th = theme.New(msg.IsDark())
		a.help.Styles = a.th.Help
	case tea.KeyPressMsg:
		cmd = a.onKey(msg)
	case tea.PasteMsg:
		cmd = a.onPaste(msg)
	case tea.MouseClickMsg:
		cmd = a.onClick(msg.Mouse())
	case tea.MouseWheelMsg:
		cmd = a.onWheel(msg.Mouse())
	default:
		cmd = a.onData(msg)
	}
	a.layout()
	return a, cmd
}

func (a *App) quit() tea.Cmd {
	a.quitting = true
	a.cancel()
	return tea.Quit
}

// tabKeys are the bindings that show each tab.
func (a *App) tabKeys() []key.Binding {
	out := make([]key.Binding, len(tabs))
	for i, t := range tabs {
		title := t.title
		if title == "Authorized Domains" {
			title = "Domains"
		}
		out[i] = keymap.Tab(i, title)
	}
	return out
}

func (a *App) onKey(msg tea.KeyPressMsg) tea.Cmd {
	g := &a.km.Global
	if key.Matches(msg, g.ForceQuit) {
		return a.quit()
	}
	a.banner = banner{}
	if a.showHelp {
		return a.helpKey(msg)
	}
	if a.dlg != nil {
		return a.dlg.Update(msg)
	}
	p := a.top()
	if p.Typing() {
		return p.Update(msg)
	}
	switch {
	case key.Matches(msg, g.Help):
		a.openHelp()
		return nil
	case key.Matches(msg, g.Quit):
		return a.quit()
	case key.Matches(msg, g.NextTab):
		return a.showTab(a.active + 1)
	case key.Matches(msg, g.PrevTab):
		return a.showTab(a.active - 1)
	case key.Matches(msg, g.Palette):
		a.dialog(a.newPalette())
		return nil
	}
	for i, b := range a.tabKeys() {
		if key.Matches(msg, b) {
			return a.showTab(i)
		}
	}
	return p.Update(msg)
}

// typing reports whether a text field has the keyboard (so q is a letter).
func (a *App) typing() bool {
	if a.dlg != nil {
		return a.dlg.Typing()
	}
	return a.top().Typing()
}

func (a *App) onPaste(msg tea.PasteMsg) tea.Cmd {
	if a.dlg != nil {
		return a.dlg.Update(msg)
	}
	if p := a.top(); p.Typing() {
		return p.Update(msg)
	}
	return nil
}

// box lays out the dialog on the screen.
func (a *App) box() frame.Box {
	return frame.New(&a.th, a.dlg.Title(), a.dlg.View(), a.w, a.h, a.bodyTop(), a.bodyHeight())
}

// tabRanges returns the x range [from, to) of each tab on the tabs row.
func (a *App) tabRanges() [][2]int {
	var out [][2]int
	x := 1
	for i, t := range tabs {
		wd := text.Width(tabLabel(i, t.title))
		out = append(out, [2]int{x, x + wd})
		x += wd + 1
	}
	return out
}

func tabLabel(i int, title string) string {
	return " " + string(rune('1'+i)) + " " + title + " "
}

// onClick handles a left click: tabs, the dialog, or the page's body.
func (a *App) onClick(m tea.Mouse) tea.Cmd {
	if m.Button != tea.MouseLeft {
		return nil
	}
	a.banner = banner{}
	if a.showHelp {
		a.showHelp = false
		return nil
	}
	if a.dlg != nil {
		b := a.box()
		if line, col, ok := b.At(m.X, m.Y); ok {
			return a.dlg.Click(col, line)
		}
		if !b.Contains(m.X, m.Y) {
			return a.dlg.Click(-1, -1)
		}
		return nil
	}
	if m.Y == rowTabs {
		for i, r := range a.tabRanges() {
			if m.X >= r[0] && m.X < r[1] {
				return a.showTab(i)
			}
		}
		return nil
	}
	y := m.Y - a.bodyTop()
	if y < 0 || y >= a.bodyHeight() {
		return nil
	}
	return a.top().Click(m.X, y)
}

func (a *App) onWheel(m tea.Mouse) tea.Cmd {
	delta := 0
	switch m.Button {
	case tea.MouseWheelUp:
		delta = -3
	case tea.MouseWheelDown:
		delta = 3
	default:
		return nil
	}
	if a.dlg != nil || a.showHelp {
		return nil
	}
	return a.top().Scroll(delta)
}

// broadcast sends msg to every page of every tab and to the dialog.
func (a *App) broadcast(msg tea.Msg) tea.Cmd {
	var cmds []tea.Cmd
	for _, st := range a.stacks {
		for _, p := range slices.Clone(st) {
			cmds = append(cmds, p.Update(msg))
		}
	}
	if a.dlg != nil {
		cmds = append(cmds, a.dlg.Update(msg))
	}
	return tea.Batch(cmds...)
}

// ---- view ----

// View draws the whole screen: exactly h lines of at most w cells.
func (a *App) View() tea.View {
	v := tea.NewView(a.render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "tmaps — " + text.Safe(a.c.cfg.Location)
	return v
}

// activeHelp is the key help of whatever has the keyboard, with the
// shell's keys when no text field has it.
func (a *App) activeHelp() helpSet {
	var h helpSet
	var km help.KeyMap = a.top()
	if a.dlg != nil {
		km = a.dlg
	}
	h.short = slices.Clone(km.ShortHelp())
	h.full = slices.Clone(km.FullHelp())
	if a.dlg == nil && !a.typing() {
		g := &a.km.Global
		h.short = append(h.short, g.Help, g.Quit)
		h.shell = 2
		col := []key.Binding{g.NextTab, g.PrevTab}
		col = append(col, a.tabKeys()...)
		h.full = append(h.full, append(col, g.Palette, g.Help, g.Quit, g.ForceQuit))
	}
	return h
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
		lines = append(lines, a.bannerLine()...)
	}
	bodyH := h - a.bodyTop() - 1
	if bodyH > 0 {
		var body []string
		switch {
		case a.showHelp:
			body = a.fullHelpBody(bodyH)
		case !a.loaded && a.loadErr == nil:
			body = []string{text.Fit(a.th.Faint.Render(" Loading…"), w)}
		case !a.loaded && unreachable(a.loadErr):
			body = a.unreachableBody()
		case !a.loaded:
			body = []string{a.th.BannerErr.Render(text.Fit(" Could not load the store: "+describeErr(a.loadErr), w))}
		default:
			body = a.top().View()
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
		lines[i] = text.Truncate(l, w)
	}
	screen := strings.Join(lines, "\n")
	if a.dlg != nil && !a.showHelp {
		b := a.box()
		screen = b.Over(screen, a.w, a.h)
	}
	return screen
}

// headerLine is the title, the store's location, and the status slot at
// the right (the connection's state, when it is not well).
func (a *App) headerLine() string {
	title := " tmaps console "
	loc := " " + text.Safe(a.c.cfg.Location)
	if note := a.c.roleNote(); note != "" {
		loc = " " + note + " ·" + loc
	}
	room := a.w - text.Width(title)
	if room < 0 {
		return text.Fit(title, a.w)
	}
	if a.status.kind == bannerNone {
		return a.th.Title.Render(title) + a.th.Location.Render(text.Fit(loc, room))
	}
	st := " " + a.status.text + " "
	stw := min(text.Width(st), room)
	return a.th.Title.Render(title) + a.th.Location.Render(text.Fit(loc, room-stw)) + a.bannerStyle(a.status.kind).Render(text.Fit(st, stw))
}

func (a *App) tabsLine() string {
	var b strings.Builder
	b.WriteString(" ")
	for i, t := range tabs {
		label := tabLabel(i, t.title)
		if i == a.active {
			b.WriteString(a.th.TabActive.Render(label))
		} else {
			b.WriteString(a.th.TabInactive.Render(label))
		}
		b.WriteString(" ")
	}
	return text.Truncate(b.String(), a.w)
}

func (a *App) bannerStyle(k bannerKind) interface{ Render(...string) string } {
	switch k {
	case bannerErr:
		return a.th.BannerErr
	case bannerWarn:
		return a.th.BannerWarn
	}
	return a.th.BannerInfo
}

func (a *App) bannerLine() []string {
	lines := a.bannerLines()
	if a.banner.kind == bannerNone {
		return lines
	}
	for i, l := range lines {
		lines[i] = a.bannerStyle(a.banner.kind).Render(text.Fit(l, a.w))
	}
	return lines
}

// footerLine is the short help of whatever has the keyboard; the shell's
// "? help" and "q quit" always keep their place at its end.
func (a *App) footerLine() string {
	h := a.activeHelp()
	n := len(h.short) - h.shell
	if h.shell == 0 {
		return text.Truncate(a.help.ShortHelpView(h.short), a.w)
	}
	shell := a.help.ShortHelpView(h.short[n:])
	sep := a.help.Styles.ShortSeparator.Render(a.help.ShortSeparator)
	room := a.w - text.Width(shell) - text.Width(sep)
	if n == 0 || room < 2 {
		return text.Truncate(shell, a.w)
	}
	// the page's keys that fit whole, then "…" when some were left out
	page := h.short[:n]
	for k := n; k > 0; k-- {
		s := a.help.ShortHelpView(page[:k])
		if k < n {
			s += " " + a.help.Styles.Ellipsis.Render(a.help.Ellipsis)
		}
		if text.Width(s) <= room {
			return s + sep + shell
		}
	}
	return text.Truncate(shell, a.w)
}

// fullHelpBody is the ? help: every key of the view in columns, the
// columns that do not fit beside the others below them.
func (a *App) fullHelpBody(height int) []string {
	lines := []string{a.helpTitle(), ""}
	if a.c.role() == model.RoleAuditor {
		why := "Read only: your role is auditor, which cannot create, change, link, disable or revoke anything. Those keys are not listed; pressed, they say so."
		for _, l := range indentWrap(why, a.w-1) {
			lines = append(lines, a.th.Warn.Render(l))
		}
		lines = append(lines, "")
	}
	hm := a.help
	hm.SetWidth(0)
	var band []string
	bandW := 0
	flush := func() {
		if len(band) == 0 {
			return
		}
		if len(lines) > 2 {
			lines = append(lines, "")
		}
		for _, l := range strings.Split(lipgloss.JoinHorizontal(lipgloss.Top, band...), "\n") {
			lines = append(lines, " "+text.Truncate(strings.TrimRight(l, " "), a.w-1))
		}
		band, bandW = nil, 0
	}
	for _, group := range a.helpGroups() {
		col := hm.FullHelpView([][]key.Binding{group})
		if col == "" {
			continue
		}
		cw := lipgloss.Width(col)
		gap := ""
		if len(band) > 0 {
			gap = "    "
		}
		if len(band) > 0 && bandW+len(gap)+cw > a.w-1 {
			flush()
			gap = ""
		}
		band = append(band, gap+strings.ReplaceAll(col, "\n", "\n"+gap))
		bandW += len(gap) + cw
	}
	flush()
	if len(lines) > height {
		lines = lines[:height]
	}
	return lines
}

// helpSet is a help.KeyMap made of a short line and full columns.
type helpSet struct {
	short []key.Binding
	full  [][]key.Binding
	shell int // the last bindings of short are the shell's, kept whole
}

func (h helpSet) ShortHelp() []key.Binding  { return h.short }
func (h helpSet) FullHelp() [][]key.Binding { return h.full }

var _ help.KeyMap = helpSet{}
