package ui

import (
	"testing"

	tea "charm.land/bubbletea/v2"
)

// dialogRect is where the open dialog's frame is on screen.
func (hs *harness) dialogRect() (x, y, w, h int) {
	b := hs.app.box()
	return b.X, b.Y, b.W, len(b.Lines)
}

// wantPlainBorders fails when a cell of the dialog's frame has a style
// (issue 11, defect 4: a wrapped coloured message turned the borders red).
func (hs *harness) wantPlainBorders() {
	hs.t.Helper()
	x, y, w, h := hs.dialogRect()
	cells := styleCells(hs.app.View().Content)
	for row := y + 1; row < y+h-1; row++ {
		for _, col := range []int{x, x + w - 1} {
			if col < len(cells[row]) && cells[row][col] != (sgrState{}) {
				hs.t.Fatalf("the dialog border at row %d, column %d is styled %q:\n%s", row, col, cells[row][col].String(), styleRuns(hs.app.View().Content))
			}
		}
	}
}

func TestDialogBordersStayPlainWhenColouredTextWraps(t *testing.T) {
	hs := newHarness(t, openStore(t), 100, 30).withFixture()
	hs.keys("2", "down", "D") // localhost: its key becomes unrestricted (a yellow warning that wraps)
	hs.want("become UNRESTRICTED")
	hs.wantPlainBorders()

	hs.keys("esc", "n")
	hs.typeText("ok.tn")
	hs.send(domainAddedMsg{err: errLong, dialog: true})
	hs.want("✗ ")
	hs.wantPlainBorders()
	_ = tea.KeyPressMsg{}
}

var errLong = errString("the server refused the domain because its name is far too long to be an authorized domain of this store, try a shorter one")

type errString string

func (e errString) Error() string { return string(e) }
