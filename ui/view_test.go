package ui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// Every line of every screen fits the window, at every size down to tiny.
func TestViewFitsWindow(t *testing.T) {
	for _, sz := range [][2]int{{120, 40}, {100, 30}, {80, 24}, {60, 15}, {40, 10}, {20, 5}, {1, 1}} {
		hs := newHarness(t, openStore(t), sz[0], sz[1]).withFixture()
		for _, step := range [][]string{nil, {"down"}, {"enter"}, {"."}, {"esc", "esc", "2"}, {"enter"}, {"esc", "n"}, {"esc", "1", "n"}, {"?"}} {
			hs.keys(step...)
			lines := strings.Split(hs.app.View().Content, "\n")
			if len(lines) > sz[1] {
				t.Fatalf("%dx%d after %v: %d lines", sz[0], sz[1], step, len(lines))
			}
			for i, l := range lines {
				if w := ansi.StringWidth(l); w > sz[0] {
					t.Fatalf("%dx%d after %v: line %d is %d wide: %q", sz[0], sz[1], step, i, w, ansi.Strip(l))
				}
			}
		}
	}
}
