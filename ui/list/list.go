// Package list is the cursor and scroll window of a virtualised list: only
// the rows between Offset and Offset+Height are ever drawn, so a list of
// 100,000 rows costs what its visible rows cost. The owner keeps the rows;
// a Model knows only how many there are and how many fit.
package list

import (
	tea "charm.land/bubbletea/v2"

	"charm.land/bubbles/v2/key"
	"github.com/tmaps/console/ui/keymap"
)

// Model is a list's cursor and window.
type Model struct {
	Cursor, Offset int
	n, height      int
}

// SetLen sets the number of rows and keeps the cursor on one.
func (l *Model) SetLen(n int) {
	l.n = n
	l.clamp()
}

// SetHeight sets how many rows fit and keeps the cursor in view.
func (l *Model) SetHeight(h int) {
	l.height = max(1, h)
	l.clamp()
}

// Len is the number of rows.
func (l *Model) Len() int { return l.n }

// Height is the number of rows that fit.
func (l *Model) Height() int { return max(1, l.height) }

func (l *Model) clamp() {
	h := l.Height()
	l.Cursor = min(l.Cursor, l.n-1)
	l.Cursor = max(l.Cursor, 0)
	if l.Offset > l.Cursor {
		l.Offset = l.Cursor
	}
	if l.Cursor >= l.Offset+h {
		l.Offset = l.Cursor - h + 1
	}
	l.Offset = min(l.Offset, l.n-h)
	l.Offset = max(l.Offset, 0)
}

// Select puts the cursor on row r.
func (l *Model) Select(r int) {
	l.Cursor = r
	l.clamp()
}

// Move moves the cursor by delta rows.
func (l *Model) Move(delta int) { l.Select(l.Cursor + delta) }

// Top selects the first row.
func (l *Model) Top() { l.Cursor, l.Offset = 0, 0 }

// Bottom selects the last row.
func (l *Model) Bottom() { l.Select(l.n - 1) }

// Visible returns the rows to draw: [from, to).
func (l *Model) Visible() (from, to int) {
	from = l.Offset
	to = min(from+l.Height(), l.n)
	return min(from, to), to
}

// RowAt returns the row drawn on line y of the list's window (0 = its
// first line), and whether there is one.
func (l *Model) RowAt(y int) (int, bool) {
	r := l.Offset + y
	if y < 0 || y >= l.Height() || r >= l.n {
		return 0, false
	}
	return r, true
}

// Navigate handles a movement key; it reports whether msg was one.
func (l *Model) Navigate(km *keymap.List, msg tea.KeyPressMsg) bool {
	switch {
	case key.Matches(msg, km.Up):
		l.Move(-1)
	case key.Matches(msg, km.Down):
		l.Move(1)
	case key.Matches(msg, km.PgUp):
		l.Move(-l.Height())
	case key.Matches(msg, km.PgDown):
		l.Move(l.Height())
	case key.Matches(msg, km.Home):
		l.Top()
	case key.Matches(msg, km.End):
		l.Bottom()
	default:
		return false
	}
	return true
}

// Help is the movement keys, for a page's full help.
func Help(km *keymap.List) []key.Binding {
	return []key.Binding{km.Up, km.Down, km.PgUp, km.PgDown, km.Home, km.End}
}
