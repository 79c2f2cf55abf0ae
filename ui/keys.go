package ui

import (
	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
)

// keyMap is every binding of the console, with its help text. Views pick the
// ones they honour for their help (helpSet).
type keyMap struct {
	Up, Down, PgUp, PgDown, Home, End key.Binding
	Open, Menu, New, Filter, Sort     key.Binding
	Back, Help, Quit, ForceQuit       key.Binding
	NextTab, Tab1, Tab2, Tab3, Tab4   key.Binding
	Authorize, ByObject, ByActor      key.Binding
	Test                              key.Binding
	Copy, Link, Unlink, Delete        key.Binding
	Toggle, Confirm, Yes, No          key.Binding
	Left, Right                       key.Binding
}

func newKeyMap() keyMap {
	b := func(keys []string, k, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(k, desc))
	}
	return keyMap{
		Up:        b([]string{"up", "k"}, "↑/k", "up"),
		Down:      b([]string{"down", "j"}, "↓/j", "down"),
		PgUp:      b([]string{"pgup", "ctrl+b"}, "pgup", "page up"),
		PgDown:    b([]string{"pgdown", "ctrl+f"}, "pgdn", "page down"),
		Home:      b([]string{"home", "g"}, "g/home", "first"),
		End:       b([]string{"end", "G"}, "G/end", "last"),
		Open:      b([]string{"enter"}, "enter", "open"),
		Menu:      b([]string{"."}, ".", "actions"),
		New:       b([]string{"n"}, "n", "new"),
		Filter:    b([]string{"/"}, "/", "filter"),
		Sort:      b([]string{"s"}, "s", "sort"),
		Back:      b([]string{"esc"}, "esc", "back"),
		Help:      b([]string{"?"}, "?", "help"),
		Quit:      b([]string{"q"}, "q", "quit"),
		ForceQuit: b([]string{"ctrl+c"}, "ctrl+c", "quit"),
		NextTab:   b([]string{"tab"}, "tab", "next page"),
		Tab1:      b([]string{"1"}, "1", "API Keys"),
		Tab2:      b([]string{"2"}, "2", "Domains"),
		Tab3:      b([]string{"3"}, "3", "Usage"),
		Tab4:      b([]string{"4"}, "4", "Audit"),
		Authorize: b([]string{"a"}, "a", "authorize"),
		ByObject:  b([]string{"o"}, "o", "this object"),
		ByActor:   b([]string{"a"}, "a", "this actor"),
		Test:      b([]string{"t"}, "t", "test a request"),
		Copy:      b([]string{"c"}, "c", "copy"),
		Link:      b([]string{"l"}, "l", "link"),
		Unlink:    b([]string{"u", "x"}, "u", "unlink"),
		Delete:    b([]string{"D"}, "D", "delete domain"),
		Toggle:    b([]string{"space"}, "space", "select"),
		Confirm:   b([]string{"enter"}, "enter", "confirm"),
		Yes:       b([]string{"y"}, "y", "yes"),
		No:        b([]string{"n"}, "n", "no"),
		Left:      b([]string{"left", "h"}, "←/h", "left"),
		Right:     b([]string{"right", "l"}, "→/l", "right"),
	}
}

// helpSet is a help.KeyMap made of a short line and full columns.
type helpSet struct {
	short []key.Binding
	full  [][]key.Binding
}

func (h helpSet) ShortHelp() []key.Binding  { return h.short }
func (h helpSet) FullHelp() [][]key.Binding { return h.full }

var _ help.KeyMap = helpSet{}

// with returns a copy of b whose help text is desc.
func with(b key.Binding, desc string) key.Binding {
	b.SetHelp(b.Help().Key, desc)
	return b
}
