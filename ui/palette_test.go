package ui

import (
	"strings"
	"testing"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// paletteOf returns the palette shown, failing when there is none.
func paletteOf(t *testing.T, hs *harness) *palette {
	t.Helper()
	p, ok := hs.app.dlg.(*palette)
	if !ok {
		t.Fatalf("no command palette shown:\n%s", hs.screen())
	}
	return p
}

// TestPaletteListsOnlyWhatTheViewHas: every command the palette offers for
// the view shown is one of the view's bindings (its help), so it can never
// offer an action the view lacks, and the actions that do not apply to the
// selected key (disable on a revoked key) are not offered.
func TestPaletteListsOnlyWhatTheViewHas(t *testing.T) {
	hs := newHarness(t, openStore(t), 100, 30).withFixture()
	for _, setup := range [][]string{nil, {"G"}, {"2"}, {"4"}, {"1", "enter"}} {
		hs.keys("esc", "esc")
		hs.keys("1")
		hs.keys(setup...)
		help := hs.app.activeHelp().full
		hs.keys(":")
		p := paletteOf(t, hs)
		if len(p.all) < 8 {
			t.Fatalf("after %v: only %d commands", setup, len(p.all))
		}
		for _, c := range p.all {
			if c.tab >= 0 {
				continue
			}
			found := false
			for _, g := range help {
				for _, b := range g {
					if key.Matches(c.press, b) && b.Help().Desc == c.desc {
						found = true
					}
				}
			}
			if !found {
				t.Errorf("after %v: the palette offers %q (%s), which the view's help lacks", setup, c.desc, c.keys)
			}
		}
		hs.keys("esc")
	}
	// On the revoked key, its actions that do not apply are not offered.
	hs.keys("esc", "G", ":") // back from the key's screen to the list
	if hs.app.top() != Page(hs.keysPage()) {
		t.Fatalf("not on the keys list:\n%s", hs.screen())
	}
	hs.typeText("disable")
	hs.want("Commands", "No command matches")
	hs.keys("esc")
	hs.keys("g", ":")
	hs.typeText("disable")
	hs.want("disable")
	hs.wantNot("No command matches")
}

// TestPaletteFuzzyRuns: typing a few letters finds the command, best match
// first, and enter runs it as its key would; a command of another page
// shows that page first.
func TestPaletteFuzzyRuns(t *testing.T) {
	hs := newHarness(t, openStore(t), 100, 30).withFixture()
	hs.keys(":")
	hs.want("Commands", "new key", "API Keys")
	hs.typeText("nwky")
	p := paletteOf(t, hs)
	if got := p.all[p.shown[0]].desc; got != "new key" {
		t.Fatalf("best match for nwky: %q", got)
	}
	hs.keys("enter")
	hs.want("Create API Key")
	hs.keys("esc")

	// Another tab's action: the audit log's hygiene report.
	hs.keys(":")
	hs.typeText("hygiene")
	p = paletteOf(t, hs)
	if len(p.shown) == 0 || p.all[p.shown[0]].page != "Audit" {
		t.Fatalf("hygiene: %d matches, first %+v", len(p.shown), p.all[p.shown[0]])
	}
	hs.keys("enter")
	if hs.app.active != 3 {
		t.Fatalf("tab %d shown, want Audit", hs.app.active)
	}
	if hs.auditPage().view != viewHygiene {
		t.Fatalf("the hygiene report is not shown:\n%s", hs.screen())
	}

	// The shell's keys are commands too; esc closes without running.
	hs.keys(":")
	hs.typeText("quit")
	hs.keys("esc")
	if hs.app.quitting || hs.app.dlg != nil {
		t.Fatal("esc ran the command or left the palette open")
	}
	// A click on a command runs it.
	hs.keys("1", ":")
	hs.typeText("filter")
	b := hs.app.box()
	hs.send(tea.MouseClickMsg{X: b.X + 3, Y: b.Y + 1 + paletteTop, Button: tea.MouseLeft})
	if !hs.keysPage().filtering {
		t.Fatalf("a click on filter did not start the filter:\n%s", hs.screen())
	}
}

// TestHelpIsSearchable: / in the ? help filters the keys listed.
func TestHelpIsSearchable(t *testing.T) {
	hs := newHarness(t, openStore(t), 100, 30).withFixture()
	hs.keys("?")
	hs.want("rename", "revoke", "/ search")
	hs.keys("/")
	hs.typeText("revo")
	scr := hs.screen()
	if !strings.Contains(scr, "x revoke") || strings.Contains(scr, "rename") || strings.Contains(scr, "page down") {
		t.Fatalf("help searched for revo:\n%s", scr)
	}
	hs.want("1 key matches")
	hs.keys("enter")
	hs.want("x revoke")
	hs.keys("q") // not typing any more: q still quits from the help
	if !hs.app.quitting {
		t.Fatal("q in the help did not quit")
	}
}
