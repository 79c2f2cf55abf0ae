package ui

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fixedNow is the clock of every test.
var fixedNow = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func openStore(t testing.TB) *bolt.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "t.db"), bolt.Options{Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// harness drives an App synchronously: it runs the commands Update returns
// and feeds their messages back, like the Bubble Tea loop does.
type harness struct {
	t       testing.TB
	app     *App
	copies  []string // what reached the native clipboard
	osc52   []string // what was sent with tea.SetClipboard
	clipErr error
	// ticks are the timers the App asked for, in order; fire runs them.
	ticks []tick
	// passWatch lets watchStartedMsg through to the App (its channel must
	// never block).
	passWatch bool
}

// tick is a timer the App asked for.
type tick struct {
	d  time.Duration
	fn func(time.Time) tea.Msg
}

// fire runs the oldest pending timer whose message has the type of like
// (as if its time had come) and returns its delay.
func (hs *harness) fire(like tea.Msg) time.Duration {
	hs.t.Helper()
	for i, tk := range hs.ticks {
		msg := tk.fn(fixedNow)
		if reflect.TypeOf(msg) == reflect.TypeOf(like) {
			hs.ticks = append(hs.ticks[:i:i], hs.ticks[i+1:]...)
			hs.send(msg)
			return tk.d
		}
	}
	hs.t.Fatalf("no %T timer pending", like)
	return 0
}

// pending counts the pending timers whose message has the type of like.
func (hs *harness) pending(like tea.Msg) int {
	n := 0
	for _, tk := range hs.ticks {
		if reflect.TypeOf(tk.fn(fixedNow)) == reflect.TypeOf(like) {
			n++
		}
	}
	return n
}

func newHarness(t testing.TB, st store.Store, w, h int) *harness {
	t.Helper()
	return newHarnessRole(t, st, w, h, "")
}

// newHarnessRole is newHarness with a console of role ("" for admin).
func newHarnessRole(t testing.TB, st store.Store, w, h int, role model.Role) *harness {
	t.Helper()
	hs := &harness{t: t}
	hs.app = New(Config{Store: st, Location: "/tmp/test.db", Now: func() time.Time { return fixedNow }, Actor: "tester", Role: role,
		Clipboard: func(s string) error {
			if hs.clipErr != nil {
				return hs.clipErr
			}
			hs.copies = append(hs.copies, s)
			return nil
		}})
	t.Cleanup(hs.app.Close)
	hs.app.tick = func(d time.Duration, fn func(time.Time) tea.Msg) tea.Cmd {
		hs.ticks = append(hs.ticks, tick{d, fn})
		return func() tea.Msg { return nil }
	}
	hs.send(tea.WindowSizeMsg{Width: w, Height: h})
	hs.run(hs.app.Init())
	return hs
}

func (hs *harness) send(msg tea.Msg) {
	hs.t.Helper()
	_, cmd := hs.app.Update(msg)
	hs.run(cmd)
}

// run executes cmd and everything it leads to, synchronously. Nothing
// blocks: the harness never starts the store subscription (watchStartedMsg
// is dropped; tests feed events by hand) and the App's timer is disabled.
func (hs *harness) run(cmd tea.Cmd) {
	hs.t.Helper()
	if cmd == nil {
		return
	}
	msg := cmd()
	switch m := msg.(type) {
	case nil:
		return
	case tea.BatchMsg:
		for _, c := range m {
			hs.run(c)
		}
		return
	case storeEventsMsg:
		m.ch = nil // do not wait for more events
		hs.send(m)
		return
	case watchStartedMsg:
		if !hs.passWatch {
			return
		}
	}
	v := reflect.ValueOf(msg)
	if v.Kind() == reflect.Slice && v.Type().Elem() == reflect.TypeOf(tea.Cmd(nil)) {
		for i := 0; i < v.Len(); i++ { // a tea.Sequence
			hs.run(v.Index(i).Interface().(tea.Cmd))
		}
		return
	}
	if s := reflect.TypeOf(msg).String(); strings.Contains(s, "setClipboardMsg") {
		hs.osc52 = append(hs.osc52, reflect.ValueOf(msg).String())
		return
	}
	hs.send(msg)
}

// keys types each key name (as tea would deliver it).
func (hs *harness) keys(names ...string) {
	hs.t.Helper()
	for _, n := range names {
		hs.send(keyMsg(n))
	}
}

// typeText types a string, one rune at a time.
func (hs *harness) typeText(s string) {
	hs.t.Helper()
	for _, r := range s {
		hs.send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func keyMsg(name string) tea.KeyPressMsg {
	switch name {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(name)
	if len(r) != 1 {
		panic("unknown key " + name)
	}
	return tea.KeyPressMsg{Code: r[0], Text: name}
}

// screen is the plain text of the view (colours and styles stripped).
func (hs *harness) screen() string {
	return plain(hs.app.View().Content)
}

func plain(s string) string {
	lines := strings.Split(ansi.Strip(s), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

func (hs *harness) want(subs ...string) {
	hs.t.Helper()
	scr := hs.screen()
	for _, s := range subs {
		if !strings.Contains(scr, s) {
			hs.t.Fatalf("screen lacks %q:\n%s", s, scr)
		}
	}
}

func (hs *harness) wantNot(subs ...string) {
	hs.t.Helper()
	scr := hs.screen()
	for _, s := range subs {
		if strings.Contains(scr, s) {
			hs.t.Fatalf("screen shows %q:\n%s", s, scr)
		}
	}
}

// golden compares the screen with testdata/name.golden, and its styles
// (styleRuns) with testdata/name.styles.golden (-update rewrites both).
func (hs *harness) golden(name string) {
	hs.t.Helper()
	view := hs.app.View().Content
	compareGolden(hs.t, name, plain(view)+"\n")
	compareGolden(hs.t, name+".styles", styleRuns(view))
}

// compareGolden compares got with testdata/name.golden (-update rewrites it).
func compareGolden(t testing.TB, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./ui -run %s -update)", err, t.Name())
	}
	if string(want) != got {
		t.Fatalf("%s differs (run with -update after checking):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// fixture is deterministic data for snapshots: keys in every status, an
// IDN and a mixed-script domain, an unrestricted key.
func fixture() ([]model.Key, []model.Domain) {
	day := func(d int) time.Time { return fixedNow.Add(-time.Duration(d) * 24 * time.Hour) }
	keys := []model.Key{
		{ID: "k000000000001", Name: "Production web", Prefix: "ak_3f9a1c07", Status: model.Active, Created: day(40), StatusChanged: day(40), LastUsed: fixedNow.Add(-3 * time.Hour),
			Domains: []string{"app.mysite.tn", "mysite.tn", "shop.mysite.tn", "xn--caf-dma.tn"}},
		{ID: "k000000000002", Name: "Mobile app", Prefix: "ak_0b12aa90", Status: model.Active, Created: day(30), StatusChanged: day(30)},
		{ID: "k000000000003", Name: "QA sandbox", Prefix: "ak_77e0c1d2", Status: model.Disabled, Created: day(20), StatusChanged: day(2), Domains: []string{"localhost"}},
		{ID: "k000000000004", Name: "Legacy site", Prefix: "ak_91aa0b3c", Status: model.Revoked, Created: day(90), StatusChanged: day(10), Domains: []string{"mysite.tn"}},
		{ID: "k000000000005", Name: "Evil\x1b[31m name\u202e", Prefix: "ak_5c5c5c5c", Status: model.Active, Created: day(5), StatusChanged: day(5), Domains: []string{"xn--msite-8qf.tn"}},
	}
	doms := []model.Domain{
		{Name: "app.mysite.tn", Unicode: "app.mysite.tn", Created: day(40), Keys: []string{"k000000000001"}},
		{Name: "localhost", Unicode: "localhost", Created: day(20), Keys: []string{"k000000000003"}},
		{Name: "mysite.tn", Unicode: "mysite.tn", Created: day(40), Keys: []string{"k000000000001", "k000000000004"}},
		{Name: "shop.mysite.tn", Unicode: "shop.mysite.tn", Created: day(40), Keys: []string{"k000000000001"}},
		{Name: "xn--caf-dma.tn", Unicode: "café.tn", Created: day(40), Keys: []string{"k000000000001"}},
		{Name: "xn--msite-8qf.tn", Unicode: "mуsite.tn", Created: day(5), Keys: []string{"k000000000005"}},
	}
	return keys, doms
}

// withFixture loads the fixture into hs without a store round trip.
func (hs *harness) withFixture() *harness {
	keys, doms := fixture()
	hs.send(dataLoadedMsg{keys: keys, doms: doms})
	return hs
}

var _ = context.Background

// Pages of the harness's console.
func (hs *harness) keysPage() *keysPage       { return hs.app.stacks[0][0].(*keysPage) }
func (hs *harness) domainsPage() *domainsPage { return hs.app.stacks[1][0].(*domainsPage) }
func (hs *harness) usagePage() *usagePage     { return hs.app.stacks[2][0].(*usagePage) }
func (hs *harness) auditPage() *auditPage     { return hs.app.stacks[3][0].(*auditPage) }

// showDialog opens a dialog as a page would.
func (hs *harness) showDialog(p Page) { hs.app.dialog(p) }
