// Package textfield is the console's one-line text input: bubbles'
// textinput does the editing (cursor moves, word and line deletes, paste
// cleaning, a rune limit), and the field draws itself so that what a user
// typed is always escaped (text.Safe) and the cursor is a plain reversed
// cell: no blinking, no timers, stable snapshots.
package textfield

import (
	"strings"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/tmaps/console/ui/text"
)

// Model is a text field.
type Model struct {
	in textinput.Model
}

// New returns an empty, focused field that takes at most limit runes (0:
// no limit).
func New(limit int) Model {
	in := textinput.New()
	in.CharLimit = limit
	in.Prompt = ""
	// Pasting goes through the terminal (bracketed paste); ctrl+v would
	// read the clipboard of the machine the console runs on, which over
	// SSH is not the user's.
	in.KeyMap.Paste = key.NewBinding(key.WithDisabled())
	// No suggestions: tab, ↑ and ↓ belong to the dialogs.
	in.KeyMap.AcceptSuggestion = key.NewBinding(key.WithDisabled())
	in.KeyMap.NextSuggestion = key.NewBinding(key.WithDisabled())
	in.KeyMap.PrevSuggestion = key.NewBinding(key.WithDisabled())
	in.Focus()
	return Model{in: in}
}

// Value is the text typed.
func (f *Model) Value() string { return f.in.Value() }

// SetValue replaces the text and puts the cursor at its end.
func (f *Model) SetValue(s string) {
	f.in.SetValue(s)
	f.in.CursorEnd()
}

// Reset empties the field.
func (f *Model) Reset() { f.in.Reset() }

// Update edits the field with a key press or a paste; it reports whether
// the value changed. Keys with modifiers other than shift that the field
// does not know are ignored.
func (f *Model) Update(msg tea.Msg) (changed bool) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		if msg.Text != "" && msg.Mod&^tea.ModShift != 0 {
			return false
		}
	case tea.PasteMsg:
	default:
		return false
	}
	before := f.in.Value()
	f.in, _ = f.in.Update(msg)
	return f.in.Value() != before
}

// View draws the field in width cells: the text escaped, a reversed cell
// at the cursor when focused, scrolled so the cursor stays in view.
func (f *Model) View(width int, focused bool, cursor lipgloss.Style) string {
	width = max(width, 2)
	v := []rune(f.in.Value())
	pos := min(f.in.Position(), len(v))
	before := text.Safe(string(v[:pos]))
	after := text.Safe(string(v[pos:]))
	// keep the cursor in view: drop the left side while too long
	for text.Width(before) > width-2 && before != "" {
		_, size := utf8.DecodeRuneInString(before)
		before = before[size:]
	}
	cur := " "
	if after != "" {
		_, size := utf8.DecodeRuneInString(after)
		cur, after = after[:size], after[size:]
	}
	var b strings.Builder
	b.WriteString(before)
	if focused {
		b.WriteString(cursor.Render(cur))
	} else {
		b.WriteString(cur)
	}
	b.WriteString(after)
	return text.Fit(b.String(), width)
}
