// Package keymap is every key binding of the console, grouped by the page
// or dialog that honours it. Each binding carries its help text, so the
// footer, the ? help and a command palette list what a view can do; views
// match keys with key.Matches only.
package keymap

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

func b(keys []string, k, desc string) key.Binding {
	return key.NewBinding(key.WithKeys(keys...), key.WithHelp(k, desc))
}

// Global keys work on every page (unless a text field has the keyboard).
type Global struct {
	Help, Quit, ForceQuit, NextTab, PrevTab, Palette key.Binding
}

// HelpView keys of the ? help and of the command palette.
type HelpView struct {
	Search, Close, Run key.Binding
}

// List moves a cursor through rows.
type List struct {
	Up, Down, PgUp, PgDown, Home, End key.Binding
}

// KeyActions act on one key: the selected row of a key list (k9s-style), a
// key's screen, or the ⋯ menu. The menu lists them with the same letters.
type KeyActions struct {
	Open, Rename, CopyPrefix, Disable, Enable, Rotate, Link, Policies, Revoke key.Binding
}

// DomainActions act on one domain: the selected row or its screen, or its
// ⋯ menu.
type DomainActions struct {
	Open, Link, CopyName, Delete key.Binding
}

// ListPage keys of the API Keys and Authorized Domains pages.
type ListPage struct {
	Open, Menu, New, Filter, Sort, ClearFilter key.Binding
}

// Filter keys while a filter field has the keyboard.
type Filter struct {
	Keep, Clear key.Binding
}

// KeyDetail keys of a key's screen.
type KeyDetail struct {
	Test, Unlink, OpenDomain key.Binding
}

// DomainDetail keys of a domain's screen.
type DomainDetail struct {
	Unlink, OpenKey key.Binding
}

// Usage keys of the Usage page.
type Usage struct {
	ShowKey, AllKeys, Authorize, OpenKey key.Binding
}

// Audit keys of the Audit page and its hygiene report.
type Audit struct {
	Switch, ByObject, ByActor, Fix, ClearFilters key.Binding
}

// Dialog keys of dialogs.
type Dialog struct {
	Confirm, Cancel, Yes, No, Toggle, Focus, Copy, Move key.Binding
}

// KeyMap is the console's bindings.
type KeyMap struct {
	Global       Global
	List         List
	Key          KeyActions
	Domain       DomainActions
	Keys         ListPage
	Domains      ListPage
	Filter       Filter
	KeyDetail    KeyDetail
	DomainDetail DomainDetail
	Usage        Usage
	Audit        Audit
	Dialog       Dialog
	HelpView     HelpView
}

// New returns the console's key bindings.
func New() KeyMap {
	return KeyMap{
		Global: Global{
			Help:      b([]string{"?"}, "?", "help"),
			Quit:      b([]string{"q"}, "q", "quit"),
			ForceQuit: b([]string{"ctrl+c"}, "ctrl+c", "quit"),
			NextTab:   b([]string{"tab"}, "tab", "next page"),
			PrevTab:   b([]string{"shift+tab"}, "shift+tab", "previous page"),
			Palette:   b([]string{":"}, ":", "commands"),
		},
		HelpView: HelpView{
			Search: b([]string{"/"}, "/", "search"),
			Close:  b([]string{"esc"}, "esc", "close"),
			Run:    b([]string{"enter"}, "enter", "run"),
		},
		List: List{
			Up:     b([]string{"up", "k"}, "↑/k", "up"),
			Down:   b([]string{"down", "j"}, "↓/j", "down"),
			PgUp:   b([]string{"pgup", "ctrl+b"}, "pgup", "page up"),
			PgDown: b([]string{"pgdown", "ctrl+f"}, "pgdn", "page down"),
			Home:   b([]string{"home", "g"}, "g/home", "first"),
			End:    b([]string{"end", "G"}, "G/end", "last"),
		},
		Key: KeyActions{
			Open:       b([]string{"o"}, "o", "open"),
			Rename:     b([]string{"r"}, "r", "rename"),
			CopyPrefix: b([]string{"c"}, "c", "copy prefix"),
			Disable:    b([]string{"d"}, "d", "disable"),
			Enable:     b([]string{"e"}, "e", "enable"),
			Rotate:     b([]string{"t"}, "t", "rotate"),
			Link:       b([]string{"l"}, "l", "link domain"),
			Policies:   b([]string{"p"}, "p", "policies"),
			Revoke:     b([]string{"x"}, "x", "revoke"),
		},
		Domain: DomainActions{
			Open:     b([]string{"o"}, "o", "open"),
			Link:     b([]string{"l"}, "l", "link keys"),
			CopyName: b([]string{"c"}, "c", "copy name"),
			Delete:   b([]string{"D"}, "D", "delete domain"),
		},
		Keys: ListPage{
			Open:        b([]string{"enter"}, "enter", "open"),
			Menu:        b([]string{"."}, ".", "actions"),
			New:         b([]string{"n"}, "n", "new key"),
			Filter:      b([]string{"/"}, "/", "filter"),
			Sort:        b([]string{"s"}, "s", "sort"),
			ClearFilter: b([]string{"esc"}, "esc", "clear filter"),
		},
		Domains: ListPage{
			Open:        b([]string{"enter"}, "enter", "open"),
			Menu:        b([]string{"."}, ".", "actions"),
			New:         b([]string{"n"}, "n", "add domain"),
			Filter:      b([]string{"/"}, "/", "filter"),
			Sort:        b([]string{"s"}, "s", "sort"),
			ClearFilter: b([]string{"esc"}, "esc", "clear filter"),
		},
		Filter: Filter{
			Keep:  b([]string{"enter"}, "enter", "keep filter"),
			Clear: b([]string{"esc"}, "esc", "clear filter"),
		},
		KeyDetail: KeyDetail{
			Test:       b([]string{"t"}, "t", "test a request"),
			Unlink:     b([]string{"u", "delete"}, "u", "unlink"),
			OpenDomain: b([]string{"enter"}, "enter", "open domain"),
		},
		DomainDetail: DomainDetail{
			Unlink:  b([]string{"u", "delete"}, "u", "unlink"),
			OpenKey: b([]string{"enter"}, "enter", "open key"),
		},
		Usage: Usage{
			ShowKey:   b([]string{"enter"}, "enter", "show key"),
			AllKeys:   b([]string{"esc"}, "esc", "all keys"),
			Authorize: b([]string{"a"}, "a", "authorize host"),
			OpenKey:   b([]string{"enter"}, "enter", "open key"),
		},
		Audit: Audit{
			Switch:       b([]string{"right", "left", "l", "h"}, "←/→", "hygiene/alerts"),
			ByObject:     b([]string{"o"}, "o", "this object"),
			ByActor:      b([]string{"a"}, "a", "this actor"),
			Fix:          b([]string{"enter"}, "enter", "fix"),
			ClearFilters: b([]string{"esc"}, "esc", "clear filters"),
		},
		Dialog: Dialog{
			Confirm: b([]string{"enter"}, "enter", "confirm"),
			Cancel:  b([]string{"esc"}, "esc", "cancel"),
			Yes:     b([]string{"y"}, "y", "yes"),
			No:      b([]string{"n"}, "n", "no"),
			Toggle:  b([]string{"tab"}, "tab", "select"),
			Focus:   b([]string{"left", "right", "tab", "shift+tab", "h", "l"}, "←/→", "switch button"),
			Copy:    b([]string{"c"}, "c", "copy"),
			Move:    b([]string{"up", "down"}, "↑/↓", "move"),
		},
	}
}

// With returns a copy of b whose help text is desc.
func With(b key.Binding, desc string) key.Binding {
	b.SetHelp(b.Help().Key, desc)
	return b
}

// Tab is the binding that shows tab i (0-based) titled title: its digit.
func Tab(i int, title string) key.Binding {
	d := string(rune('1' + i))
	return b([]string{d}, d, title)
}

// special are the named keys a binding may use, by name.
var special = map[string]rune{
	"enter": tea.KeyEnter, "tab": tea.KeyTab, "backspace": tea.KeyBackspace, "esc": tea.KeyEscape,
	"space": tea.KeySpace, "up": tea.KeyUp, "down": tea.KeyDown, "left": tea.KeyLeft,
	"right": tea.KeyRight, "insert": tea.KeyInsert, "delete": tea.KeyDelete, "pgup": tea.KeyPgUp,
	"pgdown": tea.KeyPgDown, "home": tea.KeyHome, "end": tea.KeyEnd,
}

// Press returns the key press that a binding's key name (such as "d",
// "G", "enter", "shift+tab" or "ctrl+c") matches, so a command palette can
// run a binding as if it were typed; ok is false for a name it cannot make.
func Press(name string) (msg tea.KeyPressMsg, ok bool) {
	rest := name
	var mod tea.KeyMod
	for {
		switch {
		case strings.HasPrefix(rest, "ctrl+") && len(rest) > 5:
			mod |= tea.ModCtrl
			rest = rest[5:]
			continue
		case strings.HasPrefix(rest, "alt+") && len(rest) > 4:
			mod |= tea.ModAlt
			rest = rest[4:]
			continue
		case strings.HasPrefix(rest, "shift+") && len(rest) > 6:
			mod |= tea.ModShift
			rest = rest[6:]
			continue
		}
		break
	}
	if code, found := special[rest]; found {
		msg = tea.KeyPressMsg{Code: code, Mod: mod}
		if code == tea.KeySpace && mod == 0 {
			msg.Text = " "
		}
	} else if r := []rune(rest); len(r) == 1 {
		msg = tea.KeyPressMsg{Code: r[0], Mod: mod}
		if mod == 0 {
			msg.Text = rest
		}
	} else {
		return tea.KeyPressMsg{}, false
	}
	return msg, msg.String() == name
}
