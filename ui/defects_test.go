package ui

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/tmaps/console/demo"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/ui/text"
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

// Issue 11, defect 1: in the Link keys picker a space types into the
// filter (key names have spaces), tab ticks, a filter that matches nothing
// says so, and enter then links nothing (no hidden key).
func TestKeyPickerSpaceTypesTabTicks(t *testing.T) {
	st := openStore(t)
	ks := seed(t, st)
	hs := newHarness(t, st, 100, 30)
	hs.keys("2", "/")
	hs.typeText("localhost")
	hs.keys("enter", "enter", "l")
	hs.want("Link keys to localhost", "Mobile app", "Production web")
	hs.typeText("Mobile app")
	hs.want("> Mobile app", "[ ] Mobile app")
	hs.wantNot("Production web  ak_")
	hs.keys("tab")
	hs.want("[x] Mobile app", "1 item selected")
	hs.typeText(" zzz")
	hs.want("No key matches “Mobile app zzz”")
	hs.wantNot("No key left to link")
	hs.keys("enter")
	if k := mustKey(t, st, ks["Mobile app"].ID); len(k.Domains) != 0 {
		t.Fatalf("enter linked a key the filter hides: %v", k.Domains)
	}
	hs.want("Link keys to localhost")
	// Back to a match: enter links the ticked key.
	for range " zzz" {
		hs.keys("backspace")
	}
	hs.want("[x] Mobile app")
	hs.keys("enter")
	if k := mustKey(t, st, ks["Mobile app"].ID); len(k.Domains) != 1 || k.Domains[0] != "localhost" {
		t.Fatalf("Mobile app's domains: %v", k.Domains)
	}
}

// A click on a picker's row ticks it.
func TestPickerClickTicks(t *testing.T) {
	st := openStore(t)
	seed(t, st)
	hs := newHarness(t, st, 100, 30)
	hs.selectKey("Mobile app")
	hs.keys("enter", "l")
	b := hs.app.box()
	hs.send(tea.MouseClickMsg{X: b.X + 6, Y: b.Y + 1 + pickerTop + 1, Button: tea.MouseLeft})
	hs.want("[x] localhost", "1 item selected")
}

// Issue 11, defect 3: the filters match what the rows show: a domain's
// Unicode form, the status; the Domains header counts the rows kept.
func TestFiltersMatchWhatRowsShow(t *testing.T) {
	hs := newHarness(t, openStore(t), 120, 30).withFixture()
	hs.keys("/")
	hs.typeText("café")
	hs.keys("enter")
	hs.want("Production web", "1 of 5 keys")
	hs.keys("esc", "/")
	hs.typeText("disabled")
	hs.keys("enter")
	hs.want("QA sandbox", "1 of 5 keys")
	hs.wantNot("Mobile app")
	hs.keys("esc", "2", "/")
	hs.typeText("café")
	hs.keys("enter")
	hs.want("xn--caf-dma.tn", "1 of 6 domains")
}

// footerOf is the last line of the screen.
func footerOf(scr string) string {
	lines := strings.Split(scr, "\n")
	return lines[len(lines)-1]
}

// Issue 11, defect 5: at 80 columns the Created column stays, the footer
// keeps "? help" and "q quit", the empty-store hint and the key screen's
// request count are whole.
func TestEightyColumns(t *testing.T) {
	hs := newHarness(t, openStore(t), 80, 24)
	hs.want("No API keys yet", "your app.")
	hs.keys("2")
	hs.want("No authorized domains yet", "those sites.")
	hs = newHarness(t, openStore(t), 80, 24).withFixture()
	hs.want("Created", "2026-10-14")
	for _, step := range [][]string{nil, {"enter"}, {"esc", "2"}, {"enter"}} {
		hs.keys(step...)
		if f := footerOf(hs.screen()); !strings.Contains(f, "? help") || !strings.Contains(f, "q quit") {
			t.Fatalf("after %v the footer lacks ? help or q quit: %q", step, f)
		}
	}

	st := demoStore(t)
	leaky := keyNamed(t, st, demo.LeakyKey, model.Active)
	hs = newInsightHarness(t, st, 80, 24)
	hs.keys("/")
	hs.typeText(demo.LeakyKey)
	hs.keys("enter", "enter")
	hs.want(demo.LeakyKey)
	if !regexp.MustCompile(`[0-9,]+ requests, [0-9,]+ refused`).MatchString(hs.screen()) {
		t.Fatalf("the request count of %s is cut:\n%s", leaky.Prefix, hs.screen())
	}
}

// Issue 11, defect 8: the menu's letters act on the selected row, with the
// same confirmations; a letter that does not apply says why; shift+tab goes
// to the previous page; a domain's screen lists its keys by name and
// filters them with /.
func TestRowHotkeys(t *testing.T) {
	st := openStore(t)
	ks := seed(t, st)
	hs := newHarness(t, st, 100, 30)
	hs.selectKey("Mobile app")
	hs.keys("d")
	hs.want("Disable “Mobile app”?", "401")
	hs.keys("y")
	if got := mustKey(t, st, ks["Mobile app"].ID).Status; got != model.Disabled {
		t.Fatalf("d then y: status %s", got)
	}
	hs.keys("e")
	if got := mustKey(t, st, ks["Mobile app"].ID).Status; got != model.Active {
		t.Fatalf("e: status %s", got)
	}
	hs.keys("r")
	hs.want("Rename “Mobile app”")
	hs.keys("esc", "l")
	hs.want("Link domains to “Mobile app”")
	hs.keys("esc", "x")
	hs.want("Revoking is permanent", "Type the key's name")
	hs.keys("esc", "c")
	hs.want("Copied the prefix")
	// The same letters on a domain's list of keys.
	hs.keys("2", "/")
	hs.typeText("localhost")
	hs.keys("enter", "enter", "d")
	hs.want("Disable “Solo”?")
	hs.keys("n")

	// A revoked key: d in its menu says why nothing happens.
	hs = newHarness(t, openStore(t), 100, 30).withFixture()
	for !strings.Contains(hs.screen(), "› Legacy site") {
		hs.keys("down")
	}
	hs.keys(".", "d")
	hs.want("is revoked")
	hs.keys("e")
	hs.want("can never be enabled again")

	// shift+tab: the previous page.
	hs.send(tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift})
	hs.want("Audit log")
}

func TestDomainScreenFiltersItsKeys(t *testing.T) {
	st := openStore(t)
	ctx := store.WithActor(t.Context(), "seed")
	if _, err := st.AddDomain(ctx, "big.tn"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{17, 3, 29, 11, 5, 23, 8, 14, 20, 26, 2, 12, 30, 9, 21} {
		k, _, err := st.CreateKey(ctx, fmt.Sprintf("client %02d", n), model.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.LinkKey(ctx, k.ID, "big.tn"); err != nil {
			t.Fatal(err)
		}
	}
	hs := newHarness(t, st, 100, 40)
	hs.keys("2", "enter")
	hs.want("Authorized Domains › big.tn", "API Keys (15)")
	scr := hs.screen()
	if i, j := strings.Index(scr, "client 02"), strings.Index(scr, "client 30"); i < 0 || j < 0 || i > j {
		t.Fatalf("the keys are not sorted by name:\n%s", scr)
	}
	hs.keys("/")
	hs.typeText("client 2")
	hs.keys("enter")
	hs.want("client 20", "client 21", "client 23", "client 26", "client 29", "5 of 15")
	hs.wantNot("client 02", "client 17")
	hs.keys("esc")
	hs.want("client 02", "client 17")
	hs.keys("esc")
	hs.want("1 domain · sort")
}

// Issue 11, defect 12: each domain on a key's screen has a clickable ×
// that unlinks it (after the confirmation u shows).
func TestKeyScreenUnlinkCross(t *testing.T) {
	hs := newHarness(t, openStore(t), 100, 30).withFixture()
	for !strings.Contains(hs.screen(), "› Production web") {
		hs.keys("down")
	}
	hs.keys("enter")
	scr := hs.screen()
	rows := 0
	col := -1
	for _, l := range strings.Split(scr, "\n") {
		for _, d := range []string{"app.mysite.tn", " mysite.tn", "shop.mysite.tn", "xn--caf-dma.tn"} {
			if strings.Contains(l, d) && strings.HasSuffix(strings.TrimRight(l, " "), "×") {
				rows++
				col = len([]rune(strings.TrimRight(l, " "))) - 1
			}
		}
	}
	if rows != 4 {
		t.Fatalf("%d domain rows end with ×, want 4:\n%s", rows, scr)
	}
	// click the × of the second domain
	y := -1
	for i, l := range strings.Split(scr, "\n") {
		if strings.Contains(l, " mysite.tn") && strings.Contains(l, "×") && !strings.Contains(l, "app.") && !strings.Contains(l, "shop.") {
			y = i
		}
	}
	hs.send(tea.MouseClickMsg{X: col, Y: y, Button: tea.MouseLeft})
	hs.want("Unlink mysite.tn from “Production web”?")
}

// Issue 11, defect 10: the wording list.
func TestWording(t *testing.T) {
	st := openStore(t)
	ks := seed(t, st)
	ctx := store.WithActor(t.Context(), "seed")
	if _, err := st.AddDomain(ctx, "unused.tn"); err != nil {
		t.Fatal(err)
	}
	hs := newHarness(t, st, 120, 40)
	// Deleting a domain: its keys in a sentence that agrees with their number.
	hs.keys("2", "/")
	hs.typeText("localhost")
	hs.keys("enter", "D")
	hs.want("linked to 1 key, which will stop accepting")
	hs.wantNot("1 key; they")
	hs.keys("n", "esc", "/")
	hs.typeText("unused")
	hs.keys("enter", "D")
	hs.want("linked to no key")
	hs.wantNot("0 keys; they")
	hs.keys("n", "esc")
	// Adding café.tn: the banner says café.tn.
	hs.keys("n")
	hs.typeText("café.tn")
	hs.keys("enter")
	hs.want("Added café.tn")
	hs.wantNot("Added xn--caf-dma.tn")
	// Create and Rename buttons carry their key.
	hs.keys("1", "n")
	hs.want("[ enter  Create ]", "[ esc  Cancel ]")
	hs.keys("esc")
	// Rotate asks first.
	hs.selectKey("Production web")
	hs.keys(".", "t")
	hs.want("Rotate “Production web”?")
	if keys, _ := st.Keys(t.Context()); len(keys) != 3 {
		t.Fatalf("rotated before confirming: %d keys", len(keys))
	}
	hs.keys("y")
	hs.want("API key rotated")
	hs.keys("c", "esc")
	// Linking a domain to an unrestricted key says what changes.
	hs.selectKey("Mobile app")
	hs.keys("enter", "l")
	hs.typeText("localhost")
	hs.keys("enter")
	hs.want("was unrestricted")
	if k := mustKey(t, st, ks["Mobile app"].ID); len(k.Domains) != 1 {
		t.Fatalf("Mobile app's domains: %v", k.Domains)
	}
	// Unlinking from a revoked key does not threaten a 403.
	if _, err := st.RevokeKey(ctx, ks["Solo"].ID, "Solo"); err != nil {
		t.Fatal(err)
	}
	hs.send(storeEventsMsg{evs: []store.Event{{Kind: store.EventKey, ID: ks["Solo"].ID}}})
	hs.selectKey("Solo")
	hs.keys("enter", "u")
	hs.want("is revoked")
	hs.wantNot("(403)")
	hs.keys("n")
	// The audit filter has a label.
	hs.keys("4", "/")
	hs.typeText("seed")
	hs.want("filter “seed")
}

// Thousands have separators, in the hygiene report's count too.
func TestFindingsCountHasSeparators(t *testing.T) {
	keys, doms := bigData(4000)
	hs := newHarness(t, openStore(t), 120, 40)
	hs.send(dataLoadedMsg{keys: keys, doms: doms})
	hs.keys("4", "l")
	if !regexp.MustCompile(`[0-9],[0-9]{3} findings`).MatchString(hs.screen()) {
		t.Fatalf("no separated count of findings:\n%s", hs.screen())
	}
}

// columnsOf returns, for every line of the plain screen that holds mark,
// the cell column of its last mark by grapheme widths and by rune widths
// (terminals use either).
func columnsOf(scr, mark string) (byGrapheme, byRune []int) {
	for _, l := range strings.Split(scr, "\n") {
		i := strings.LastIndex(l, mark)
		if i < 0 {
			continue
		}
		byGrapheme = append(byGrapheme, ansi.StringWidth(l[:i]))
		byRune = append(byRune, ansi.StringWidthWc(l[:i]))
	}
	return
}

func allEqual(cols []int) bool {
	for _, c := range cols {
		if c != cols[0] {
			return false
		}
	}
	return len(cols) > 0
}

// Issue 11, defect 11: invisible characters in a name are refused with a
// message naming them, and no name (a family emoji joined with U+200D, a
// zero width space from before the rule) shifts its row or a dialog's
// border, whichever width the terminal gives graphemes.
func TestNamesNeverShiftRowsOrBorders(t *testing.T) {
	st := openStore(t)
	hs := newHarness(t, st, 100, 30)
	hs.keys("n")
	hs.typeText("Pay\u200bPal")
	hs.want("U+200B")
	hs.keys("enter")
	if keys, _ := st.Keys(t.Context()); len(keys) != 0 {
		t.Fatalf("a name with a zero width space was created: %q", keys[0].Name)
	}
	hs.keys("esc")

	keys, doms := fixture()
	keys[1].Name = "Family 👨\u200d👩\u200d👧\u200d👦 app"
	keys[2].Name = "Pay\u200bPal"
	hs.send(dataLoadedMsg{keys: keys, doms: doms})
	hs.want(`Pay\u200bPal`)
	g, r := columnsOf(hs.screen(), "⋯")
	if len(g) != len(keys) || !allEqual(g) || !allEqual(r) || g[0] != r[0] {
		t.Fatalf("the ⋯ cells are not in one column: by graphemes %v, by runes %v:\n%s", g, r, hs.screen())
	}
	for !strings.Contains(hs.screen(), "› Family") {
		hs.keys("down")
	}
	hs.keys("d") // a dialog whose title and text hold the name, over the rows
	hs.want("Disable “Family")
	g, r = columnsOf(hs.screen(), "│")
	if len(g) < 4 || !allEqual(g) || !allEqual(r) || g[0] != r[0] {
		t.Fatalf("the dialog's right border moves: by graphemes %v, by runes %v:\n%s", g, r, hs.screen())
	}
	g, r = columnsOf(hs.screen(), "╮")
	g2, r2 := columnsOf(hs.screen(), "╯")
	if len(g) != 1 || g[0] != g2[0] || r[0] != r2[0] || g[0] != r[0] {
		t.Fatalf("the dialog's corners move: %v %v %v %v", g, g2, r, r2)
	}
}

// Issue 11, defect 6: in the console too, a link made a minute ago is not
// stale and a server's key without domains is no finding.
func TestHygieneGivesNewLinksTime(t *testing.T) {
	st := openStore(t)
	ctx := store.WithActor(t.Context(), "seed")
	k, _, err := st.CreateKey(ctx, "web", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddDomain(ctx, "new.tn"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.LinkKey(ctx, k.ID, "new.tn"); err != nil {
		t.Fatal(err)
	}
	hs := newHarness(t, st, 120, 30)
	hs.keys("4", "l")
	hs.want("Nothing to clean up")
	hs.wantNot("Stale link")
}

// Issue 11, defect 7: the Usage header does not say "no spike" while a key
// spikes; "a authorize host" is offered only with a refused host selected;
// a refusal for a long host wraps so its reason shows.
func TestUsageHeaderAndAuthorize(t *testing.T) {
	st := demoStore(t)
	hs := newInsightHarness(t, st, 100, 30)
	hs.ikeys("3")
	scr := hs.screen()
	if strings.Contains(scr, "×") && strings.Contains(scr, "no spike") {
		t.Fatalf("the header says no spike while a key spikes:\n%s", scr)
	}
	hs.want("1 key spiking")

	st2 := openStore(t)
	ctx := t.Context()
	quiet, _, err := st2.CreateKey(ctx, "quiet", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	leaky, _, err := st2.CreateKey(ctx, "leaky", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	host := strings.Repeat("a", 70) + "." + strings.Repeat("b", 60) + ".bad_host." + strings.Repeat("c", 100) + ".tn"
	h := fixedNow.Truncate(time.Hour)
	if err := st2.RecordUsage(ctx, []store.UsageDelta{
		{KeyID: quiet.ID, Hour: h, Allowed: 5, LastUsed: h},
		{KeyID: leaky.ID, Hour: h, Allowed: 1, Forbidden: 2, RefusedHosts: map[string]uint64{host: 2}, LastUsed: h},
	}); err != nil {
		t.Fatal(err)
	}
	hs = newInsightHarness(t, st2, 100, 30)
	hs.ikeys("3")
	for !strings.Contains(hs.screen(), "› quiet") {
		hs.ikeys("down")
	}
	hs.ikeys("enter")
	hs.want("Usage · “quiet”", "No host was refused")
	if f := footerOf(hs.screen()); strings.Contains(f, "authorize") {
		t.Fatalf("authorize is offered with no refused host: %q", f)
	}
	hs.ikeys("esc")
	for !strings.Contains(hs.screen(), "› leaky") {
		hs.ikeys("down")
	}
	hs.ikeys("enter")
	if f := footerOf(hs.screen()); !strings.Contains(f, "a authorize host") {
		t.Fatalf("authorize is not offered for a refused host: %q", f)
	}
	hs.ikeys("a")
	hs.want("cannot be an authorized domain", "which is not allowed in a domain name", "e.g. my-site.tn")
}

// Issue 11, defect 2: the Audit page reads the log a page at a time from
// the store, so the oldest entry of a long log is reachable, a filter
// searches the whole log (in the store), and opening the tab reads one page.
func TestAuditPagesThroughTheWholeLog(t *testing.T) {
	keys, doms := bigData(50)
	es := benchAudit(keys, 12_000)
	es[len(es)-1].After = "the very first change"
	st := &benchStore{listStore: listStore{keys: keys, doms: doms}, audit: es}
	hs := newHarness(t, st, 120, 40)
	hs.keys("4")
	if n := len(hs.auditPage().entries); n != auditPageSize {
		t.Fatalf("opening the tab read %d entries, want one page (%d)", n, auditPageSize)
	}
	hs.want(text.Thousands(auditPageSize) + "+ entries")
	for i := 0; i < 100 && !strings.Contains(hs.screen(), "the very first change"); i++ {
		hs.keys("G")
	}
	hs.want("the very first change", "12,000 entries")
	hs.keys("g", "/")
	hs.typeText("VERY FIRST")
	hs.keys("enter")
	hs.want("the very first change", "1 matching")
	if n := len(hs.auditPage().entries); n != 1 {
		t.Fatalf("the filter kept %d entries, want 1", n)
	}
}

// A banner that wraps keeps its left margin on every row (seen at 80
// columns: the second row of "Saved the IP allowlist …" started in column 0).
func TestWrappedBannerKeepsItsMargin(t *testing.T) {
	hs := newHarness(t, openStore(t), 40, 24).withFixture()
	hs.app.c.info("Saved the IP allowlist of “Production web”: the gate applies it from the next request.")
	rows := strings.Split(hs.screen(), "\n")[rowBanner : rowBanner+3]
	for i, r := range rows {
		if !strings.HasPrefix(r, " ") || strings.HasPrefix(r, "  ") {
			t.Fatalf("banner row %d is %q, want one space of margin:\n%s", i, r, hs.screen())
		}
	}
}

// At 80 columns the rotation dialog wraps its first sentence instead of
// cutting it ("its secret is s…"), and a click still picks the grace row
// under the pointer.
func TestRotateDialogWrapsAndClicksAtEighty(t *testing.T) {
	st := openStore(t)
	seed(t, st)
	hs := newHarness(t, st, 80, 24)
	hs.selectKey("Production web")
	hs.keys(".", "t")
	hs.want("its secret is", "│ shown once.", "(•) 24 hours")
	row := -1
	for i, l := range strings.Split(hs.screen(), "\n") {
		if strings.Contains(l, "( ) 7 days") {
			row = i
		}
	}
	if row < 0 {
		t.Fatalf("no 7 days row:\n%s", hs.screen())
	}
	x, _, _, _ := hs.dialogRect()
	hs.send(tea.MouseClickMsg{X: x + 6, Y: row, Button: tea.MouseLeft})
	hs.want("(•) 7 days")
}
