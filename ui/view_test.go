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

// Narrowing the filter as one types (and widening with backspace) gives
// the same rows as filtering from scratch.
func TestFilterNarrowingMatchesFullScan(t *testing.T) {
	keys, doms := bigData(3000)
	hs := newHarness(t, openStore(t), 100, 30)
	hs.send(dataLoadedMsg{keys: keys, doms: doms})
	hs.keys("/")
	check := func() {
		t.Helper()
		q := hs.keysPage().query
		var want []int32
		for _, i := range hs.keysPage().order {
			if strings.Contains(hs.app.data.hay[i], q) {
				want = append(want, i)
			}
		}
		if len(want) != len(hs.keysPage().rows) {
			t.Fatalf("query %q: %d rows, want %d", q, len(hs.keysPage().rows), len(want))
		}
		for i := range want {
			if want[i] != hs.keysPage().rows[i] {
				t.Fatalf("query %q: row %d differs", q, i)
			}
		}
	}
	for _, r := range "customer 12" {
		hs.typeText(string(r))
		check()
	}
	for range 4 {
		hs.keys("backspace")
		check()
	}
	hs.typeText("9 web")
	check()
}
