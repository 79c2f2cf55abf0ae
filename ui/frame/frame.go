// Package frame draws dialogs: a title and body lines in a rounded border,
// placed over the screen. A Box remembers where each of its body lines
// landed, so a click is mapped back to the line the dialog drew.
package frame

import (
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/tmaps/console/ui/text"
	"github.com/tmaps/console/ui/theme"
)

// Inner is the inner width of a dialog on a screen w cells wide.
func Inner(w int) int { return min(66, max(10, w-6)) }

// Box is a dialog laid out on a screen.
type Box struct {
	Lines []string // the dialog's lines, borders included
	// Src is, for each line of Lines, the index of the body line drawn
	// there (-1 on the top and bottom borders); a wrapped body line
	// covers several lines.
	Src  []int
	X, Y int // where the box goes on the screen
	W    int // its width, borders included
}

// New lays out a dialog of the given body lines for a screen of w×h cells
// whose body area (below the shell's chrome) starts at row top and is
// bodyH rows high. Long lines wrap (text.Wrap: styles never reach the
// border); lines past the screen's height are dropped.
func New(th *theme.Theme, title string, body []string, w, h, top, bodyH int) Box {
	inner := Inner(w)
	b := Box{W: inner + 4}
	var lines []string
	var src []int
	for i, l := range body {
		for _, wl := range text.Wrap(l, inner) {
			lines = append(lines, wl)
			src = append(src, i)
		}
	}
	maxBody := max(1, h-2)
	if len(lines) > maxBody {
		lines, src = lines[:maxBody], src[:maxBody]
	}
	title = text.Truncate(title, inner-2)
	b.Lines = append(b.Lines, "╭─ "+th.ModalTitle.Render(title)+" "+strings.Repeat("─", max(0, inner-text.Width(title)-1))+"╮")
	b.Src = append(b.Src, -1)
	for i, l := range lines {
		b.Lines = append(b.Lines, "│ "+text.Pad(l, inner)+" │")
		b.Src = append(b.Src, src[i])
	}
	b.Lines = append(b.Lines, "╰"+strings.Repeat("─", inner+2)+"╯")
	b.Src = append(b.Src, -1)
	x := (w - b.W) / 2
	y := top + (bodyH-len(b.Lines))/2
	if y+len(b.Lines) > h {
		y = h - len(b.Lines)
	}
	b.X, b.Y = max(0, x), max(0, y)
	return b
}

// Contains reports whether screen cell (x, y) is inside the box.
func (b *Box) Contains(x, y int) bool {
	return x >= b.X && x < b.X+b.W && y >= b.Y && y < b.Y+len(b.Lines)
}

// At maps screen cell (x, y) to a body line and a column inside it; ok is
// false on the borders and outside.
func (b *Box) At(x, y int) (line, col int, ok bool) {
	if !b.Contains(x, y) {
		return 0, 0, false
	}
	i := y - b.Y
	if b.Src[i] < 0 {
		return 0, 0, false
	}
	return b.Src[i], x - b.X - 2, true
}

// Over draws the box over a screen of w×h cells.
func (b *Box) Over(screen string, w, h int) string {
	comp := lipgloss.NewCompositor(
		lipgloss.NewLayer(screen),
		lipgloss.NewLayer(strings.Join(b.Lines, "\n")).X(b.X).Y(b.Y).Z(1),
	)
	return lipgloss.NewCanvas(w, h).Compose(comp).Render()
}

// Button draws a dialog button: reversed when it has the focus, faint
// when off.
func Button(th *theme.Theme, label string, focused, off bool) string {
	s := "[ " + label + " ]"
	switch {
	case off:
		return th.ButtonOff.Render(s)
	case focused:
		return th.Button.Render(s)
	}
	return s
}

// Danger draws the focused button of an action that cannot be undone.
func Danger(th *theme.Theme, label string) string {
	return th.ButtonDanger.Render("[ " + label + " ]")
}
