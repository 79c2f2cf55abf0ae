package ui

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/demo"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
	"github.com/tmaps/console/ui/text"
)

// demoStore is a bolt store filled with the demo data at fixedNow.
func demoStore(t testing.TB) *bolt.Store {
	t.Helper()
	clock := demo.NewClock(func() time.Time { return fixedNow })
	st, err := bolt.Open(filepath.Join(t.TempDir(), "demo.db"), bolt.Options{Now: clock.Now, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := demo.FillTimed(context.Background(), st, fixedNow, clock); err != nil {
		t.Fatal(err)
	}
	return st
}

func keyNamed(t testing.TB, st store.Store, name string, status model.Status) model.Key {
	t.Helper()
	keys, err := st.Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.Name == name && k.Status == status {
			return k
		}
	}
	t.Fatalf("no %s key %q", status, name)
	return model.Key{}
}

func TestSpikeMarkOnTheSpikingKey(t *testing.T) {
	st := demoStore(t)
	hs := newInsightHarness(t, st, 120, 40)
	scr := hs.screen()
	if n := strings.Count(scr, "▲ "); n != 1 {
		t.Fatalf("%d spike marks in the keys list, want 1:\n%s", n, scr)
	}
	hs.want("▲ "+demo.SpikeKey, "Last 24 h")
	// The sparkline column is hidden on narrow windows; the mark stays.
	hs.send(windowSize(60, 20))
	hs.wantNot("Last 24 h")
	hs.want("▲ Production")

	hs.send(windowSize(100, 30))
	hs.ikeys("3")
	hs.want("Usage · all keys", "Last 24 hours", "Last 30 days", "▲ "+demo.SpikeKey)
	// The spiking key comes first; enter shows it.
	hs.ikeys("enter")
	hs.want("Usage · “"+demo.SpikeKey+"”", "▲ SPIKE ×", "Refused hosts (403)")
	hs.ikeys("esc")
	hs.want("Usage · all keys")
}

func TestAuthorizeRefusedHost(t *testing.T) {
	st := demoStore(t)
	leaky := keyNamed(t, st, demo.LeakyKey, model.Active)
	hs := newInsightHarness(t, st, 100, 30)
	hs.ikeys("3")
	i := slices.Index(hs.app.us.order, leaky.ID)
	if i < 0 {
		t.Fatalf("%q is not among the keys used lately", demo.LeakyKey)
	}
	for ; i > 0; i-- {
		hs.ikeys("down")
	}
	hs.ikeys("enter")
	hs.want("Usage · “"+demo.LeakyKey+"”", "souk-digital-clone.com")
	host := hs.usagePage().detail.refused[0].Host
	hs.ikeys("a")
	hs.want("Authorize "+host+"?", "Add the authorized domain "+host, "Link it to “"+demo.LeakyKey+"”")
	hs.ikeys("y")
	hs.want("Authorized " + host)
	k, err := st.Key(context.Background(), leaky.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(k.Domains, host) {
		t.Fatalf("%q not linked after authorizing: %v", host, k.Domains)
	}
	if _, err := st.Domain(context.Background(), host); err != nil {
		t.Fatalf("domain %q: %v", host, err)
	}
	hs.want(host, "(now authorized)")
	// A second time there is nothing to do.
	hs.ikeys("a")
	hs.want("already an authorized domain")
}

func TestAuthorizeRefusesInvalidHost(t *testing.T) {
	st := openStore(t)
	k, _, err := st.CreateKey(context.Background(), "web", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	h := fixedNow.Truncate(time.Hour)
	if err := st.RecordUsage(context.Background(), []store.UsageDelta{{KeyID: k.ID, Hour: h, Forbidden: 2,
		RefusedHosts: map[string]uint64{"bad_host.example": 2}, LastUsed: h}}); err != nil {
		t.Fatal(err)
	}
	hs := newInsightHarness(t, st, 100, 30)
	hs.ikeys("3", "enter")
	hs.want("bad_host.example")
	hs.ikeys("a")
	hs.want("cannot be an authorized domain")
	if hs.app.dlg != nil {
		t.Fatal("a confirmation opened for an invalid host")
	}
}

func TestGoldenUsage(t *testing.T) {
	st := demoStore(t)
	for _, sz := range [][2]int{{100, 30}, {60, 15}} {
		hs := newInsightHarness(t, st, sz[0], sz[1])
		hs.ikeys("3")
		hs.goldenPage(sizeName("usage-total", sz))
		hs.ikeys("enter")
		hs.goldenPage(sizeName("usage-spike-key", sz))
	}
}

// pageBody is the screen below the header line (whose right side belongs to
// the shell), with the demo's random key prefixes masked.
func pageBody(screen string) string {
	_, body, _ := strings.Cut(screen, "\n")
	return maskPrefixes(body) + "\n"
}

// maskPrefixes hides the demo's random key prefixes.
func maskPrefixes(s string) string {
	s = regexp.MustCompile(`ak_[0-9a-f]{1,8}`).ReplaceAllString(s, "ak_########")
	return regexp.MustCompile(`\bk[0-9a-f]{6,12}`).ReplaceAllString(s, "k############")
}

func sizeName(name string, sz [2]int) string {
	return fmt.Sprintf("%s-%dx%d", name, sz[0], sz[1])
}

func windowSize(w, h int) tea.WindowSizeMsg { return tea.WindowSizeMsg{Width: w, Height: h} }

// goldenText compares text with testdata/name.golden (-update rewrites it).
func goldenText(t *testing.T, name, got string) {
	t.Helper()
	compareGolden(t, name, got)
}

// goldenPage compares the screen below the header (pageBody) with
// testdata/name.golden and its styles with name.styles.golden.
func (hs *harness) goldenPage(name string) {
	hs.t.Helper()
	view := hs.app.View().Content
	compareGolden(hs.t, name, pageBody(plain(view)))
	_, body, _ := strings.Cut(view, "\n")
	compareGolden(hs.t, name+".styles", styleRuns(body))
}

func TestKeyDetailUsageAndRequestTester(t *testing.T) {
	st := demoStore(t)
	leaky := keyNamed(t, st, demo.LeakyKey, model.Active)
	hs := newInsightHarness(t, st, 120, 40)
	hs.app.c.openKey(leaky.ID)
	hs.want("24 h ", " requests", "refused", "from www.souk-digital.tn", "t test a request")
	hs.ikeys("t")
	hs.want("Test a request", "✓ 200 allowed", "step 6")
	hs.typeText("https://www.souk-digital.tn")
	hs.want("✓ 200 allowed", "step 7")
	// The Referer field: an evil Origin with a listed Referer passes at step 8.
	for range "https://www.souk-digital.tn" {
		hs.ikeys("backspace")
	}
	hs.typeText("https://evil.example")
	hs.want(`✗ 403 {"error":"domain not authorized"}`, "step 9", "host: evil.example")
	hs.ikeys("tab")
	hs.typeText("https://www.souk-digital.tn/shop")
	hs.want("✓ 200 allowed", "step 8")
	hs.ikeys("esc")
	if hs.app.dlg != nil {
		t.Fatal("esc does not close the tester")
	}
	// Disable shows the impact first.
	hs.ikeys(".")
	hs.showDialog(newDisableDialog(&hs.app.c, leaky.ID))
	hs.want("requests in the last 24 hours", "allowed)")
}

func TestTestDecisionMatchesCheck(t *testing.T) {
	k := &model.Key{Status: model.Active, Domains: []string{"mysite.tn"}}
	for _, c := range []struct {
		origin, referer string
		status          int
		reason          model.Reason
	}{
		{"", "", 200, model.ReasonNoHeaders},
		{"http://localhost:5173", "", 403, model.ReasonDomainNotAuthorized},
		{"https://mysite.tn", "", 200, model.ReasonOriginMatched},
		{"null", "https://mysite.tn/x", 200, model.ReasonRefererMatched},
		{"https://mysite.tn@evil.com", "", 403, model.ReasonDomainNotAuthorized},
	} {
		d := testDecision(k, c.origin, c.referer, netip.Addr{}, fixedNow)
		if d.Status != c.status || d.Reason != c.reason {
			t.Errorf("%q/%q: %d %v, want %d %v", c.origin, c.referer, d.Status, d.Reason, c.status, c.reason)
		}
	}
	dis := &model.Key{Status: model.Disabled, Domains: []string{"mysite.tn"}}
	if d := testDecision(dis, "https://mysite.tn", "", netip.Addr{}, fixedNow); d.Status != 401 || d.Reason != model.ReasonDisabled {
		t.Errorf("disabled key: %+v", d)
	}
	// The policy steps, as tmaps check explains them.
	office := &model.Key{Status: model.Active, Policy: model.Policy{AllowIPs: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")},
		Expires: fixedNow.Add(time.Hour)}}
	if d := testDecision(office, "", "", netip.MustParseAddr("203.0.113.9"), fixedNow); !d.Allowed() {
		t.Errorf("from the office: %+v", d)
	}
	if d := testDecision(office, "", "", netip.MustParseAddr("198.51.100.1"), fixedNow); d.Reason != model.ReasonIPNotAllowed {
		t.Errorf("from elsewhere: %+v", d)
	}
	if d := testDecision(office, "", "", netip.MustParseAddr("203.0.113.9"), fixedNow.Add(2*time.Hour)); d.Reason != model.ReasonExpired {
		t.Errorf("after the expiry: %+v", d)
	}
}

func TestUsageEventsReloadOnce(t *testing.T) {
	st := openStore(t)
	k, _, err := st.CreateKey(context.Background(), "web", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	hs := newInsightHarness(t, st, 100, 30)
	if _, ok := hs.app.us.byKey[k.ID]; ok {
		t.Fatal("an unused key has a summary")
	}
	h := fixedNow.Truncate(time.Hour)
	if err := st.RecordUsage(context.Background(), []store.UsageDelta{{KeyID: k.ID, Hour: h, Allowed: 9, LastUsed: h}}); err != nil {
		t.Fatal(err)
	}
	// A burst of usage events schedules one reload.
	_, cmd1 := hs.app.Update(storeEventsMsg{evs: []store.Event{{Kind: store.EventUsage}, {Kind: store.EventUsage}}})
	_, cmd2 := hs.app.Update(storeEventsMsg{evs: []store.Event{{Kind: store.EventUsage}}})
	if cmd1 == nil || cmd2 != nil || !hs.app.us.soon {
		t.Fatalf("reload scheduled: %v, again: %v", cmd1 != nil, cmd2 != nil)
	}
	// The key's new last use comes with the key event; then the tick reloads.
	hs.send(keyLoadedMsg{keys: []model.Key{{ID: k.ID, Name: "web", Status: model.Active, LastUsed: h, Created: fixedNow}}})
	hs.send(usageTickMsg{})
	if s := hs.app.us.byKey[k.ID]; s.Last24h.Allowed != 9 || hs.app.us.soon {
		t.Fatalf("after the tick: %+v, soon %v", s.Last24h, hs.app.us.soon)
	}
}

func TestMouseOnInsightPages(t *testing.T) {
	st := demoStore(t)
	hs := newInsightHarness(t, st, 100, 30)
	r := hs.app.tabRanges()
	hs.send(tea.MouseClickMsg{X: r[2][0] + 1, Y: rowTabs, Button: tea.MouseLeft})
	if hs.app.active != 2 || hs.usagePage().detail == nil {
		t.Fatalf("clicking the Usage tab: page %v, detail loaded %v", hs.app.active, hs.usagePage().detail != nil)
	}
	// Wheel and clicks in the body do not crash and move the selection.
	hs.send(tea.MouseWheelMsg{X: 10, Y: 10, Button: tea.MouseWheelDown})
	hs.send(tea.MouseClickMsg{X: 10, Y: 5, Button: tea.MouseLeft})
	top := hs.app.bodyTop() + hs.usagePage().lay.tableTop + 1
	hs.send(tea.MouseClickMsg{X: 10, Y: top + 1, Button: tea.MouseLeft})
	if hs.usagePage().list.Cursor != 1 {
		t.Fatalf("cursor = %d after a click on the second row", hs.usagePage().list.Cursor)
	}
	hs.send(tea.MouseClickMsg{X: 10, Y: top + 1, Button: tea.MouseLeft})
	if hs.usagePage().keyID != hs.app.us.order[1] {
		t.Fatal("a second click does not open the key")
	}
	hs.send(tea.MouseClickMsg{X: r[3][0] + 1, Y: rowTabs, Button: tea.MouseLeft})
	if hs.app.active != 3 || !hs.auditPage().loaded {
		t.Fatal("clicking the Audit tab does not load the log")
	}
	hs.send(tea.MouseWheelMsg{X: 10, Y: 10, Button: tea.MouseWheelDown})
	hs.send(tea.MouseClickMsg{X: 10, Y: hs.app.bodyTop() + auditTop + 2, Button: tea.MouseLeft})
	if hs.auditPage().list.Cursor != 2 {
		t.Fatalf("audit cursor = %d", hs.auditPage().list.Cursor)
	}
}

func TestInsightPagesOnTinyWindows(t *testing.T) {
	st := demoStore(t)
	hs := newInsightHarness(t, st, 100, 30)
	for _, page := range []string{"3", "4"} {
		hs.ikeys(page)
		for _, sz := range [][2]int{{1, 1}, {10, 5}, {20, 8}, {40, 10}, {59, 14}, {200, 60}} {
			hs.send(windowSize(sz[0], sz[1]))
			lines := strings.Split(hs.app.View().Content, "\n")
			if len(lines) > sz[1] {
				t.Fatalf("page %s at %dx%d: %d lines", page, sz[0], sz[1], len(lines))
			}
			for _, l := range lines {
				if w := text.Width(l); w > sz[0] {
					t.Fatalf("page %s at %dx%d: a line of %d cells: %q", page, sz[0], sz[1], w, l)
				}
			}
		}
		hs.send(windowSize(100, 30))
	}
}

func TestUnlinkShowsTheLinksTraffic(t *testing.T) {
	st := demoStore(t)
	partner := keyNamed(t, st, "Partner portal", model.Active)
	hs := newInsightHarness(t, st, 120, 40)
	hs.showDialog(newUnlinkDialog(&hs.app.c, partner.ID, "mysite.tn"))
	hs.want("│ 0 allowed requests came from mysite.tn with this key")
	hs.showDialog(newUnlinkDialog(&hs.app.c, partner.ID, "partenaires.mysite.tn"))
	scr := hs.screen()
	if strings.Contains(scr, "│ 0 allowed requests came from") || !strings.Contains(scr, "allowed requests came from partenaires.mysite.tn") {
		t.Fatalf("the used link shows no traffic:\n%s", scr)
	}
	hs.showDialog(newDeleteDomainDialog(&hs.app.c, "partenaires.mysite.tn"))
	hs.want("allowed requests came from partenaires.mysite.tn in the")
}

// sync runs cmd without the harness's time limit and feeds its message:
// loads that must finish, even on a loaded machine.
func (hs *harness) sync(cmd tea.Cmd) {
	hs.t.Helper()
	if cmd != nil {
		if msg := cmd(); msg != nil {
			hs.send(msg)
		}
	}
}

// newInsightHarness is newHarness with the data and the usage loaded.
func newInsightHarness(t *testing.T, st store.Store, w, h int) *harness {
	t.Helper()
	hs := newHarness(t, st, w, h)
	hs.sync(hs.app.loadAll())
	hs.sync(hs.app.loadUsage())
	return hs
}

// ikeys types keys (the harness runs the loads they start).
func (hs *harness) ikeys(names ...string) {
	hs.t.Helper()
	hs.keys(names...)
}
