package ui

import (
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// modal is a dialog drawn over the screen; it gets every key first.
type modal interface {
	// update handles a key or a paste; it returns the modal to show next
	// (nil closes it).
	update(a *App, msg tea.Msg) (modal, tea.Cmd)
	// view returns the title and the lines of the dialog, at most width cells.
	view(a *App, width int) (string, []string)
	help(a *App) helpSet
	// typing reports whether a text field has the keyboard.
	typing() bool
}

// modalInner is the inner width of dialogs at the App's size.
func (a *App) modalInner() int {
	w := a.w - 6
	if w > 66 {
		w = 66
	}
	if w < 10 {
		w = 10
	}
	return w
}

// modalBox draws the current modal in a rounded box; it returns its lines.
func (a *App) modalBox() []string {
	inner := a.modalInner()
	title, body := a.modal.view(a, inner)
	var lines []string
	for _, l := range body {
		if ansi.StringWidth(l) > inner {
			for _, wl := range strings.Split(ansi.Wrap(l, inner, " "), "\n") {
				lines = append(lines, wl)
			}
			continue
		}
		lines = append(lines, l)
	}
	maxBody := a.h - 2
	if maxBody < 1 {
		maxBody = 1
	}
	if len(lines) > maxBody {
		lines = lines[:maxBody]
	}
	title = ansi.Truncate(title, inner-2, "…")
	top := "╭─ " + a.th.ModalTitle.Render(title) + " " + strings.Repeat("─", max(0, inner-ansi.StringWidth(title)-1)) + "╮"
	out := make([]string, 0, len(lines)+2)
	out = append(out, top)
	for _, l := range lines {
		out = append(out, "│ "+padRight(l, inner)+" │")
	}
	out = append(out, "╰"+strings.Repeat("─", inner+2)+"╯")
	return out
}

// modalOrigin is where the modal's box goes on screen.
func (a *App) modalOrigin(box []string) (x, y int) {
	bw := a.modalInner() + 4
	x = (a.w - bw) / 2
	y = rowBody + (a.bodyHeight()-len(box))/2
	if y+len(box) > a.h {
		y = a.h - len(box)
	}
	return max(0, x), max(0, y)
}

func (a *App) overlayModal(screen string) string {
	box := a.modalBox()
	x, y := a.modalOrigin(box)
	comp := lipgloss.NewCompositor(
		lipgloss.NewLayer(screen),
		lipgloss.NewLayer(strings.Join(box, "\n")).X(x).Y(y).Z(1),
	)
	return lipgloss.NewCanvas(a.w, a.h).Compose(comp).Render()
}

// button draws a dialog button, inactive when off.
func (a *App) button(label string, focused, off bool) string {
	s := "[ " + label + " ]"
	switch {
	case off:
		return a.th.ButtonOff.Render(s)
	case focused:
		return a.th.Button.Render(s)
	}
	return s
}
