package ui

import (
	"slices"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/ui/keymap"
	"github.com/tmaps/console/ui/list"
	"github.com/tmaps/console/ui/text"
	"github.com/tmaps/console/ui/textfield"
)

// command is one entry of the command palette: a binding of the view
// shown (or of another tab's page), which the palette runs by typing its
// key there. Commands are built from the pages' own help (FullHelp), so
// the palette never lists an action a view does not have.
type command struct {
	desc  string // the binding's help text
	keys  string // the binding's help key, as the footer shows it
	page  string // where it runs, escaped
	tab   int    // the tab to show first, or -1 for the view shown
	press tea.KeyPressMsg
	hay   string
}

// commands lists what the palette offers, each once: the actions of the
// view shown, then those of every other tab's page, then the view's
// movement keys and the shell's keys (tabs, help, quit).
func (a *App) commands() []command {
	var out, later []command
	seen := map[string]bool{}
	add := func(to *[]command, b key.Binding, page string, tab int) {
		h := b.Help()
		if !b.Enabled() || h.Desc == "" || len(b.Keys()) == 0 {
			return
		}
		press, ok := keymap.Press(b.Keys()[0])
		if !ok {
			return
		}
		id := page + "\x00" + h.Key + "\x00" + h.Desc
		if seen[id] {
			return
		}
		seen[id] = true
		*to = append(*to, command{desc: h.Desc, keys: h.Key, page: page, tab: tab, press: press,
			hay: h.Desc + " " + page + " " + h.Key})
	}
	g := &a.km.Global
	shell := map[string]bool{}
	for _, b := range append(a.tabKeys(), g.NextTab, g.PrevTab, g.Palette, g.Help, g.Quit, g.ForceQuit) {
		shell[b.Help().Key] = true
	}
	moves := map[string]bool{}
	for _, b := range list.Help(&a.km.List) {
		moves[b.Help().Key] = true
	}
	here := text.Safe(a.top().Title())
	if a.dlg != nil {
		here = text.Safe(a.dlg.Title())
	}
	for _, group := range a.activeHelp().full {
		for _, b := range group {
			switch k := b.Help().Key; {
			case k == g.Palette.Help().Key:
			case shell[k]:
				add(&later, b, "console", -1)
			case moves[k]:
				add(&later, b, here, -1)
			default:
				add(&out, b, here, -1)
			}
		}
	}
	for i := range tabs {
		if i == a.active {
			continue
		}
		st := a.stacks[i]
		p := st[len(st)-1]
		for _, group := range p.FullHelp() {
			for _, b := range group {
				if !moves[b.Help().Key] {
					add(&out, b, text.Safe(p.Title()), i)
				}
			}
		}
	}
	return append(out, later...)
}

// runCommand closes the palette and types the command's key where it
// belongs.
func (a *App) runCommand(c command) tea.Cmd {
	a.dialog(nil)
	var cmd tea.Cmd
	if c.tab >= 0 {
		cmd = a.showTab(c.tab)
	}
	return tea.Batch(cmd, a.onKey(c.press))
}

// palette is the `:` command palette: a search field over the commands,
// fuzzy-matched, best first; enter (or a click) runs the highlighted one.
type palette struct {
	dialogBase
	all   []command
	shown []int // indexes into all, best match first
	f     textfield.Model
	list  list.Model
	run   func(command) tea.Cmd
}

func (a *App) newPalette() *palette {
	p := &palette{dialogBase: dialogBase{c: &a.c}, all: a.commands(), f: textfield.New(60), run: a.runCommand}
	p.refilter()
	return p
}

func (p *palette) Title() string { return "Commands" }
func (p *palette) Typing() bool  { return true }

// paletteTop is the number of lines above the first command.
const paletteTop = 2

func (p *palette) SetSize(w, h int) {
	p.w, p.h = w, h
	p.list.SetHeight(max(1, min(14, h-paletteTop-2)))
}

func (p *palette) refilter() {
	q := p.f.Value()
	type hit struct{ i, score int }
	var hits []hit
	for i, c := range p.all {
		if s, ok := text.Fuzzy(c.hay, q); ok {
			hits = append(hits, hit{i, s})
		}
	}
	slices.SortStableFunc(hits, func(x, y hit) int { return y.score - x.score })
	p.shown = p.shown[:0]
	for _, h := range hits {
		p.shown = append(p.shown, h.i)
	}
	p.list.SetLen(len(p.shown))
	p.list.Top()
}

func (p *palette) Update(msg tea.Msg) tea.Cmd {
	if kp, ok := msg.(tea.KeyPressMsg); ok {
		km := p.c.km
		switch {
		case key.Matches(kp, km.HelpView.Close):
			p.close()
			return nil
		case key.Matches(kp, km.HelpView.Run):
			return p.runAt(p.list.Cursor)
		case kp.String() == "up" || kp.String() == "ctrl+p":
			p.list.Move(-1)
			return nil
		case kp.String() == "down" || kp.String() == "ctrl+n":
			p.list.Move(1)
			return nil
		case kp.String() == "pgup":
			p.list.Move(-p.list.Height())
			return nil
		case kp.String() == "pgdown":
			p.list.Move(p.list.Height())
			return nil
		}
	}
	if p.f.Update(msg) {
		p.refilter()
	}
	return nil
}

func (p *palette) runAt(r int) tea.Cmd {
	if r < 0 || r >= len(p.shown) {
		return nil
	}
	return p.run(p.all[p.shown[r]])
}

// Click runs the command clicked.
func (p *palette) Click(x, y int) tea.Cmd {
	if y < 0 {
		p.close()
		return nil
	}
	if r, ok := p.list.RowAt(y - paletteTop); ok {
		return p.runAt(r)
	}
	return nil
}

func (p *palette) View() []string {
	t, w := p.c.th, p.w
	lines := []string{": " + p.f.View(w-2, true, t.Selected)}
	switch {
	case len(p.shown) == 0:
		lines = append(lines, "No command matches “"+text.Safe(p.f.Value())+"”.")
	case p.f.Value() == "":
		lines = append(lines, t.Faint.Render(text.Fit("type to search "+text.Plural(len(p.all), "command")+"; enter runs", w)))
	default:
		lines = append(lines, t.Faint.Render(text.Fit(text.Thousands(len(p.shown))+" of "+text.Plural(len(p.all), "command"), w)))
	}
	// columns: what it does, its key, its page (the last two as wide as
	// their widest shown, within limits)
	keyW, pageW := 0, 0
	for _, i := range p.shown {
		keyW = max(keyW, text.Width(p.all[i].keys))
		pageW = max(pageW, text.Width(p.all[i].page))
	}
	keyW, pageW = min(keyW, 12), min(pageW, max(8, w/3))
	rw := min(keyW+pageW+3, max(0, w-12))
	from, to := p.list.Visible()
	for r := from; r < to; r++ {
		c := p.all[p.shown[r]]
		right := text.Fit(" "+text.Fit(c.keys, keyW)+"  "+text.Fit(c.page, pageW), rw)
		var row string
		if r == p.list.Cursor {
			row = t.Selected.Render(text.Fit("› "+c.desc, w-rw) + right)
		} else {
			row = text.Fit("  "+c.desc, w-rw) + t.Faint.Render(right)
		}
		lines = append(lines, row)
	}
	return lines
}

func (p *palette) ShortHelp() []key.Binding {
	km := p.c.km
	return []key.Binding{km.HelpView.Run, km.Dialog.Move, km.HelpView.Close}
}

func (p *palette) FullHelp() [][]key.Binding { return [][]key.Binding{p.ShortHelp()} }
