package ui

import (
	"strings"
	"unicode"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/tmaps/console/model"
)

// field is a one-line text input. It is small on purpose: no blinking cursor
// (snapshots stay stable) and no timers.
type field struct {
	value  []rune
	cursor int
	limit  int // in runes; 0 = none
}

func (f *field) Value() string { return string(f.value) }

func (f *field) SetValue(s string) {
	f.value = []rune(s)
	f.cursor = len(f.value)
}

func (f *field) Reset() { f.value, f.cursor = nil, 0 }

// insert adds typed or pasted text at the cursor, dropping control characters
// (a pasted newline must not submit anything).
func (f *field) insert(s string) bool {
	changed := false
	for _, r := range s {
		if unicode.IsControl(r) {
			continue
		}
		if f.limit > 0 && len(f.value) >= f.limit {
			break
		}
		f.value = append(f.value, 0)
		copy(f.value[f.cursor+1:], f.value[f.cursor:])
		f.value[f.cursor] = r
		f.cursor++
		changed = true
	}
	return changed
}

// Update edits the field; it reports whether the value changed and whether
// the message was consumed.
func (f *field) Update(msg tea.Msg) (changed, consumed bool) {
	switch msg := msg.(type) {
	case tea.PasteMsg:
		return f.insert(msg.Content), true
	case tea.KeyPressMsg:
		switch msg.String() {
		case "backspace", "ctrl+h":
			if f.cursor > 0 {
				f.value = append(f.value[:f.cursor-1], f.value[f.cursor:]...)
				f.cursor--
				return true, true
			}
			return false, true
		case "delete", "ctrl+d":
			if f.cursor < len(f.value) {
				f.value = append(f.value[:f.cursor], f.value[f.cursor+1:]...)
				return true, true
			}
			return false, true
		case "left", "ctrl+b":
			if f.cursor > 0 {
				f.cursor--
			}
			return false, true
		case "right", "ctrl+f":
			if f.cursor < len(f.value) {
				f.cursor++
			}
			return false, true
		case "home", "ctrl+a":
			f.cursor = 0
			return false, true
		case "end", "ctrl+e":
			f.cursor = len(f.value)
			return false, true
		case "ctrl+u":
			changed := len(f.value) > 0
			f.Reset()
			return changed, true
		case "ctrl+w":
			i := f.cursor
			for i > 0 && f.value[i-1] == ' ' {
				i--
			}
			for i > 0 && f.value[i-1] != ' ' {
				i--
			}
			changed := i != f.cursor
			f.value = append(f.value[:i], f.value[f.cursor:]...)
			f.cursor = i
			return changed, true
		}
		if msg.Text != "" && msg.Mod&^tea.ModShift == 0 {
			return f.insert(msg.Text), true
		}
	}
	return false, false
}

// View renders the field in width cells with a block cursor, scrolling so the
// cursor stays visible. The value is escaped.
func (f *field) View(width int, focused bool, t *theme) string {
	if width < 2 {
		width = 2
	}
	before := model.Escape(string(f.value[:f.cursor]))
	after := model.Escape(string(f.value[f.cursor:]))
	// keep the cursor in view: trim the left side when too long
	for ansi.StringWidth(before) > width-2 && before != "" {
		_, size := firstRune(before)
		before = before[size:]
	}
	cur := " "
	if after != "" {
		r, size := firstRune(after)
		cur, after = string(r), after[size:]
	}
	var b strings.Builder
	b.WriteString(before)
	if focused {
		b.WriteString(t.Selected.Render(cur))
	} else {
		b.WriteString(cur)
	}
	b.WriteString(after)
	return padRight(ansi.Truncate(b.String(), width, "…"), width)
}

func firstRune(s string) (rune, int) { return utf8.DecodeRuneInString(s) }

// width is the display width of s (which may hold ANSI styles), with a fast
// path for plain printable ASCII.
func width(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return ansi.StringWidth(s)
		}
	}
	return len(s)
}

// padRight pads s with spaces to width cells (s may hold ANSI styles).
func padRight(s string, wd int) string {
	w := width(s)
	if w >= wd {
		return s
	}
	return s + strings.Repeat(" ", wd-w)
}

// fit truncates plain s to width cells with an ellipsis and pads it.
func fit(s string, wd int) string {
	if wd <= 0 {
		return ""
	}
	if w := width(s); w > wd {
		s = ansi.Truncate(s, wd, "…")
	}
	return padRight(s, wd)
}
