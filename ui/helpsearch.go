package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/ui/text"
	"github.com/tmaps/console/ui/textfield"
)

// helpSearch is the search of the ? help: / opens a field, and the help
// then lists only the keys whose description or key contain every word
// typed (the command palette, `:`, matches loosely and runs them).
type helpSearch struct {
	typing bool // the field has the keyboard
	f      textfield.Model
}

// openHelp shows the ? help, unfiltered.
func (a *App) openHelp() {
	a.showHelp = true
	a.hs = helpSearch{f: textfield.New(40)}
}

// helpKey handles a key while the help is shown: the search field's keys,
// / to search, q to quit; any other key closes the help.
func (a *App) helpKey(msg tea.KeyPressMsg) tea.Cmd {
	km := &a.km
	if a.hs.typing {
		switch {
		case key.Matches(msg, km.HelpView.Close):
			a.hs = helpSearch{f: textfield.New(40)}
		case key.Matches(msg, km.Filter.Keep):
			a.hs.typing = false
		default:
			a.hs.f.Update(msg)
		}
		return nil
	}
	switch {
	case key.Matches(msg, km.HelpView.Search):
		a.hs.typing = true
		return nil
	case key.Matches(msg, km.Global.Quit) && !a.typing():
		return a.quit()
	case key.Matches(msg, km.Global.Palette) && a.dlg == nil && !a.typing():
		a.showHelp = false
		a.dialog(a.newPalette())
		return nil
	}
	a.showHelp = false
	return nil
}

// helpGroups are the help's columns, with only the keys that match the
// search (columns left empty are dropped).
func (a *App) helpGroups() [][]key.Binding {
	full := a.activeHelp().full
	q := a.hs.f.Value()
	if q == "" {
		return full
	}
	var out [][]key.Binding
	for _, group := range full {
		var keep []key.Binding
		for _, b := range group {
			if b.Enabled() && matchWords(b.Help().Desc+" "+b.Help().Key, q) {
				keep = append(keep, b)
			}
		}
		if len(keep) > 0 {
			out = append(out, keep)
		}
	}
	return out
}

// helpTitle is the help's first line: how to search and close it, or the
// search field and what it found.
func (a *App) helpTitle() string {
	t := a.th
	q := a.hs.f.Value()
	if !a.hs.typing && q == "" {
		return t.Bold.Render(" Keys") + t.Faint.Render("  / search · : commands · other keys close this help")
	}
	field := a.hs.f.View(24, a.hs.typing, t.Selected)
	n := 0
	for _, g := range a.helpGroups() {
		n += len(g)
	}
	hint := "  " + text.Plural(n, "key") + " match"
	if n == 1 {
		hint += "es"
	}
	if n == 0 {
		hint = "  no key matches"
	}
	if a.hs.typing {
		hint += " · enter keeps · esc clears"
	} else {
		hint += " · / edits · any other key closes"
	}
	return t.Bold.Render(" Keys") + "  / " + field + t.Faint.Render(hint)
}

// matchWords reports whether s contains every space-separated word of q,
// case folded.
func matchWords(s, q string) bool {
	s = strings.ToLower(s)
	for _, w := range strings.Fields(strings.ToLower(q)) {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}
