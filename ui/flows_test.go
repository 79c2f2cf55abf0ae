package ui

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"time"
)

var secretRe = regexp.MustCompile(`ak_[0-9a-f]{32}`)

// seed fills st through its API and returns the keys by name.
func seed(t *testing.T, st store.Store) map[string]model.Key {
	t.Helper()
	ctx := store.WithActor(context.Background(), "seed")
	out := map[string]model.Key{}
	for _, d := range []string{"mysite.tn", "app.mysite.tn", "localhost"} {
		if _, err := st.AddDomain(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"Production web", "Mobile app", "Solo"} {
		k, _, err := st.CreateKey(ctx, n, model.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		out[n] = k
	}
	link := func(name string, doms ...string) {
		k, err := st.LinkKey(ctx, out[name].ID, doms...)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = k
	}
	link("Production web", "mysite.tn", "app.mysite.tn")
	link("Solo", "localhost")
	return out
}

// selectKey filters the keys page down to name and selects it.
func (hs *harness) selectKey(name string) {
	hs.t.Helper()
	hs.keys("1")
	for len(hs.app.stacks[0]) > 1 {
		hs.keys("esc")
	}
	hs.keys("/")
	hs.send(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	hs.typeText(name)
	hs.keys("enter")
}

func mustKey(t *testing.T, st store.Store, id string) model.Key {
	t.Helper()
	k, err := st.Key(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestCreateKeyShowsSecretOnceAndCopies(t *testing.T) {
	st := openStore(t)
	hs := newHarness(t, st, 100, 30)
	hs.want("No API keys yet", "Press n to create your first key")
	hs.keys("n")
	hs.want("Create API Key")
	hs.keys("enter")
	hs.want("the name is required")
	hs.typeText("Web app")
	hs.keys("enter")
	scr := hs.screen()
	secret := secretRe.FindString(scr)
	if secret == "" {
		t.Fatalf("no secret on screen:\n%s", scr)
	}
	hs.want("will not be shown again")
	k, err := st.KeyByDigest(context.Background(), model.DigestOf(secret))
	if err != nil || k.Name != "Web app" {
		t.Fatalf("the secret shown is not the key's: %v %+v", err, k)
	}
	// closing before copying asks first
	hs.keys("esc")
	hs.want("Close without copying?")
	hs.keys("n")
	hs.wantNot("Close without copying?")
	hs.want(secret)
	hs.keys("c")
	if !slices.Contains(hs.copies, secret) {
		t.Fatalf("native clipboard got %q", hs.copies)
	}
	if !slices.Contains(hs.osc52, secret) {
		t.Fatalf("OSC 52 got %q", hs.osc52)
	}
	hs.want("Copied the secret to the system clipboard")
	hs.keys("esc")
	hs.wantNot(secret, "Close without copying?")
	hs.want("Created “Web app”", k.Prefix)
	// the secret is gone from the console's memory
	if strings.Contains(hs.screen(), secret) {
		t.Fatal("secret still visible")
	}
}

func TestCopyReportsFailedNativeClipboard(t *testing.T) {
	st := openStore(t)
	hs := newHarness(t, st, 100, 30)
	hs.clipErr = errors.New("exec: \"xclip\": executable file not found")
	hs.keys("n")
	hs.typeText("Web app")
	hs.keys("enter", "c")
	hs.want("Sent the secret to your terminal with OSC 52", "did not take it")
	if len(hs.osc52) != 1 {
		t.Fatalf("OSC 52 copies: %d", len(hs.osc52))
	}
	hs.keys("esc") // copied via OSC 52: no question
	hs.wantNot("Close without copying?", "API key created")
}

func TestDuplicateNameWarning(t *testing.T) {
	st := openStore(t)
	seed(t, st)
	hs := newHarness(t, st, 100, 30)
	hs.keys("n")
	hs.typeText("Solo")
	hs.want("1 key already has this name")
	hs.keys("esc")
	hs.wantNot("Create API Key")
}

func TestDisableConfirmsEnableDoesNot(t *testing.T) {
	st := openStore(t)
	ks := seed(t, st)
	hs := newHarness(t, st, 100, 30)
	hs.selectKey("Mobile app")
	hs.keys(".")
	hs.want("Open", "Rename", "Copy prefix", "Disable", "Rotate", "Link domain", "Revoke")
	hs.wantNot("e  Enable")
	hs.keys("d")
	hs.want("Disable “Mobile app”?", "401")
	if mustKey(t, st, ks["Mobile app"].ID).Status != model.Active {
		t.Fatal("disabled before confirming")
	}
	hs.keys("y")
	if got := mustKey(t, st, ks["Mobile app"].ID).Status; got != model.Disabled {
		t.Fatalf("status %s", got)
	}
	hs.want("Disabled “Mobile app”")
	hs.keys(".")
	hs.want("e  Enable")
	// The menu offers no Disable item; "…d  Disabled" in a row (a prefix
	// ending in d beside the status badge) is not one.
	if m := regexp.MustCompile(`(?m)d  Disable([^d]|$)`).FindString(hs.screen()); m != "" {
		t.Fatalf("the menu of a disabled key offers Disable:\n%s", hs.screen())
	}
	hs.keys("e")
	if got := mustKey(t, st, ks["Mobile app"].ID).Status; got != model.Active {
		t.Fatalf("status %s", got)
	}
	hs.want("Enabled “Mobile app”")
}

func TestRevokeNeedsExactName(t *testing.T) {
	st := openStore(t)
	ks := seed(t, st)
	hs := newHarness(t, st, 100, 30)
	hs.selectKey("Mobile app")
	hs.keys(".", "x")
	hs.want("Revoking is permanent", "Type the key's name")
	hs.typeText("mobile app")
	hs.keys("enter")
	hs.want("does not match yet")
	if mustKey(t, st, ks["Mobile app"].ID).Status != model.Active {
		t.Fatal("revoked with a wrong name")
	}
	hs.send(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	hs.typeText("Mobile app")
	hs.keys("enter")
	if got := mustKey(t, st, ks["Mobile app"].ID).Status; got != model.Revoked {
		t.Fatalf("status %s", got)
	}
	hs.want("Revoked “Mobile app”", "Revoked")
	// a revoked key offers only what is still possible
	hs.keys(".")
	hs.want("Open", "Copy prefix")
	hs.wantNot("Rename", "Rotate", "Revoke ", "Link domain", "Enable", "Disable")
}

func TestRotateShowsNewSecretAndReplacement(t *testing.T) {
	st := openStore(t)
	ks := seed(t, st)
	hs := newHarness(t, st, 100, 30)
	hs.selectKey("Production web")
	hs.keys(".", "t")
	// The rotation asks for the old key's grace period: 24 hours by default.
	hs.want("Rotate “Production web”?", "keeps working for:", "(•) 24 hours", "Then it expires")
	hs.keys("enter")
	hs.want("API key rotated", "replaces "+ks["Production web"].Prefix, "keeps working until it expires")
	secret := secretRe.FindString(hs.screen())
	nk, err := st.KeyByDigest(context.Background(), model.DigestOf(secret))
	if err != nil || nk.Replaces != ks["Production web"].ID {
		t.Fatalf("new key %+v %v", nk, err)
	}
	if old := mustKey(t, st, ks["Production web"].ID); old.Expires.IsZero() || old.Expires.Sub(nk.Created) > 24*time.Hour+time.Minute {
		t.Fatalf("the old key expires %v after a rotation with 24 hours of grace at %v", old.Expires, nk.Created)
	}
	hs.keys("c", "esc")
	hs.want("Rotated: " + nk.Prefix + " replaces " + ks["Production web"].Prefix + ", which keeps working until it expires")
	// "until I revoke it": no expiry for the old key.
	hs.selectKey("Mobile app")
	hs.keys(".", "t", "down", "down", "enter")
	hs.want("API key rotated", "stays Active until you revoke it")
	if old := mustKey(t, st, ks["Mobile app"].ID); !old.Expires.IsZero() {
		t.Fatalf("rotation without grace set an expiry %v", old.Expires)
	}
}

func TestLinkAndUnlinkFromKey(t *testing.T) {
	st := openStore(t)
	ks := seed(t, st)
	hs := newHarness(t, st, 100, 30)
	hs.selectKey("Mobile app")
	hs.keys("enter")
	hs.want("Unrestricted")
	hs.keys("l")
	hs.want("Link domains to “Mobile app”", "[ ] app.mysite.tn", "[ ] localhost")
	hs.typeText("https://x.tn")
	hs.want("remove the scheme")
	hs.send(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	hs.typeText("mysite")
	hs.keys("down", "tab", "down", "tab", "enter")
	k := mustKey(t, st, ks["Mobile app"].ID)
	if !slices.Equal(k.Domains, []string{"app.mysite.tn", "mysite.tn"}) {
		t.Fatalf("domains %v", k.Domains)
	}
	hs.want("Authorized Domains (2)", "app.mysite.tn", "mysite.tn")
	// add a new domain inline from the picker
	hs.keys("l")
	hs.typeText("Café.tn")
	hs.want("+ Add new domain Café.tn", "stored as xn--caf-dma.tn")
	hs.keys("enter")
	k = mustKey(t, st, ks["Mobile app"].ID)
	if !slices.Contains(k.Domains, "xn--caf-dma.tn") {
		t.Fatalf("domains %v", k.Domains)
	}
	hs.want("Authorized Domains (3)", "café.tn")
	// unlink one: no unrestricted warning
	hs.keys("u")
	hs.want("Unlink")
	hs.wantNot("UNRESTRICTED")
	hs.keys("y")
	if got := len(mustKey(t, st, ks["Mobile app"].ID).Domains); got != 2 {
		t.Fatalf("%d domains", got)
	}
	// the last one warns
	hs.keys("u", "y")
	hs.keys("u")
	hs.want("last domain", "UNRESTRICTED")
	hs.keys("n")
	if got := len(mustKey(t, st, ks["Mobile app"].ID).Domains); got != 1 {
		t.Fatalf("unlinked without confirmation: %d domains", got)
	}
	hs.keys("u", "y")
	if !mustKey(t, st, ks["Mobile app"].ID).Unrestricted() {
		t.Fatal("still linked")
	}
	hs.want("now unrestricted", "Unrestricted")
}

func TestAddDomainValidation(t *testing.T) {
	st := openStore(t)
	seed(t, st)
	hs := newHarness(t, st, 100, 30)
	hs.keys("2", "n")
	for in, reason := range map[string]string{
		"https://mysite.tn":   "remove the scheme",
		"mysite.tn/dashboard": "remove the path",
		"*.mysite.tn":         "wildcards are not supported",
		"mysite.tn:8443":      "remove the port",
		"my_site.tn":          "✗",
	} {
		hs.send(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
		hs.typeText(in)
		hs.want(reason)
		hs.keys("enter") // refused: nothing is added
		hs.want("Add Domain")
	}
	hs.send(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	hs.typeText("mysite.tn")
	hs.want("already in the list")
	hs.send(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	hs.typeText("mуsite.tn") // Cyrillic у
	hs.want("mixes scripts")
	hs.send(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	hs.typeText("Shop.MySite.tn.")
	hs.want("✓ valid: stored as shop.mysite.tn")
	hs.keys("enter")
	if _, err := st.Domain(context.Background(), "shop.mysite.tn"); err != nil {
		t.Fatal(err)
	}
	hs.want("Added shop.mysite.tn")
	hs.wantNot("Add Domain")
	doms, _ := st.Domains(context.Background())
	if len(doms) != 4 {
		t.Fatalf("%d domains", len(doms))
	}
}

func TestLinkAndUnlinkFromDomain(t *testing.T) {
	st := openStore(t)
	ks := seed(t, st)
	hs := newHarness(t, st, 100, 30)
	hs.keys("2", "/")
	hs.typeText("localhost")
	hs.keys("enter", "enter")
	hs.want("Authorized Domains › localhost", "API Keys (1)", "Solo")
	hs.keys("l")
	hs.want("Link keys to localhost", "Mobile app", "Production web")
	hs.typeText("mobile")
	hs.keys("tab", "enter")
	if k := mustKey(t, st, ks["Mobile app"].ID); !slices.Equal(k.Domains, []string{"localhost"}) {
		t.Fatalf("domains %v", k.Domains)
	}
	hs.want("API Keys (2)")
	// unlinking Solo's only domain warns
	hs.keys("g")
	for strings.Contains(hs.screen(), "› Solo") == false {
		hs.keys("down")
	}
	hs.keys("u")
	hs.want("UNRESTRICTED", "Solo")
	hs.keys("y")
	if !mustKey(t, st, ks["Solo"].ID).Unrestricted() {
		t.Fatal("Solo still linked")
	}
	hs.want("API Keys (1)")
}

func TestDeleteDomainWarnsAboutUnrestrictedKeys(t *testing.T) {
	st := openStore(t)
	ks := seed(t, st)
	hs := newHarness(t, st, 100, 30)
	hs.keys("2", "/")
	hs.typeText("localhost")
	hs.keys("enter", "D")
	hs.want("Delete domain localhost?", "become UNRESTRICTED", "“Solo” ("+ks["Solo"].Prefix+")")
	hs.keys("n")
	if _, err := st.Domain(context.Background(), "localhost"); err != nil {
		t.Fatal("deleted without confirmation")
	}
	// a domain whose keys keep another domain does not warn
	hs.keys("esc")
	hs.send(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	hs.keys("/")
	hs.typeText("app.mysite")
	hs.keys("enter", "D")
	hs.wantNot("UNRESTRICTED")
	hs.keys("n", "esc", "/")
	hs.send(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	hs.typeText("localhost")
	hs.keys("enter", "enter", "D", "y")
	if _, err := st.Domain(context.Background(), "localhost"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("not deleted: %v", err)
	}
	hs.want("Deleted localhost")
	hs.keys("1")
	hs.selectKey("Solo")
	hs.want("unrestricted")
}

func TestLiveRefreshFromStoreEvents(t *testing.T) {
	st := openStore(t)
	seed(t, st)
	hs := newHarness(t, st, 100, 30)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := st.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// a change made elsewhere (the CLI, another console)
	k, _, err := st.CreateKey(store.WithActor(ctx, "cli"), "Made by the CLI", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.DeleteDomain(store.WithActor(ctx, "cli"), "localhost"); err != nil {
		t.Fatal(err)
	}
	hs.wantNot("Made by the CLI")
	var evs []store.Event
	for len(evs) < 2 {
		evs = append(evs, <-ch)
	}
	hs.send(storeEventsMsg{evs: evs})
	hs.want("Made by the CLI", k.Prefix)
	hs.keys("2")
	hs.wantNot("localhost")
	hs.keys("1")
	hs.selectKey("Solo")
	hs.want("unrestricted")
}

func TestFilterAndSort(t *testing.T) {
	st := openStore(t)
	seed(t, st)
	hs := newHarness(t, st, 100, 30)
	hs.keys("/")
	hs.typeText("app.mysite")
	hs.want("Production web", "1 of 3 keys")
	hs.wantNot("Mobile app", "Solo")
	hs.keys("esc")
	hs.want("Production web", "Mobile app", "Solo", "3 keys")
	hs.keys("q") // q outside a text field quits; inside it types
	if !hs.app.quitting {
		t.Fatal("q did not quit")
	}
	hs2 := newHarness(t, st, 100, 30)
	hs2.keys("/", "q")
	if hs2.app.quitting {
		t.Fatal("q quit while typing in the filter")
	}
	hs2.keys("esc", "s", "s") // created ↑ then name
	hs2.want("sort: name")
	scr := hs2.screen()
	if !(strings.Index(scr, "Mobile app") < strings.Index(scr, "Production web") &&
		strings.Index(scr, "Production web") < strings.Index(scr, "Solo")) {
		t.Fatalf("not sorted by name:\n%s", scr)
	}
}

func TestMouseTabsRowsAndMenu(t *testing.T) {
	st := openStore(t)
	seed(t, st)
	hs := newHarness(t, st, 100, 30)
	r := hs.app.tabRanges()[1]
	hs.send(tea.MouseClickMsg{X: r[0] + 2, Y: rowTabs, Button: tea.MouseLeft})
	hs.want("domains · sort")
	r = hs.app.tabRanges()[0]
	hs.send(tea.MouseClickMsg{X: r[0] + 2, Y: rowTabs, Button: tea.MouseLeft})
	hs.want("keys · sort")
	// click the second row, then its ⋯
	y := hs.app.bodyTop() + listTop + 1
	hs.send(tea.MouseClickMsg{X: 5, Y: y, Button: tea.MouseLeft})
	if hs.keysPage().list.Cursor != 1 {
		t.Fatalf("cursor %d", hs.keysPage().list.Cursor)
	}
	hs.send(tea.MouseClickMsg{X: 99, Y: y, Button: tea.MouseLeft})
	hs.want("Actions", "Copy prefix")
	// click "Open" in the menu
	b := hs.app.box()
	hs.send(tea.MouseClickMsg{X: b.X + 3, Y: b.Y + 1 + menuTop, Button: tea.MouseLeft})
	hs.want("API Keys ›", "Authorized Domains (")
}

func TestRenameAndCopyPrefix(t *testing.T) {
	st := openStore(t)
	ks := seed(t, st)
	hs := newHarness(t, st, 100, 30)
	hs.selectKey("Solo")
	hs.keys(".", "r")
	hs.want("Rename “Solo”")
	hs.send(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	hs.keys("enter")
	hs.want("the name is required")
	hs.typeText("Solo v2")
	hs.keys("enter")
	if got := mustKey(t, st, ks["Solo"].ID).Name; got != "Solo v2" {
		t.Fatalf("name %q", got)
	}
	hs.want("Renamed to “Solo v2”")
	hs.keys(".", "c")
	if !slices.Contains(hs.copies, ks["Solo"].Prefix) || !slices.Contains(hs.osc52, ks["Solo"].Prefix) {
		t.Fatalf("prefix not copied: native %q, OSC 52 %q", hs.copies, hs.osc52)
	}
	hs.want("Copied the prefix to the system clipboard")
}

// A resize keeps the selection visible and the place in the list.
func TestResizeKeepsPlace(t *testing.T) {
	keys, doms := bigData(500)
	hs := newHarness(t, openStore(t), 100, 30)
	hs.send(dataLoadedMsg{keys: keys, doms: doms})
	for range 40 {
		hs.keys("down")
	}
	sel := hs.keysPage().selected().Name
	hs.send(tea.WindowSizeMsg{Width: 60, Height: 15})
	hs.want("› " + sel[:10])
	hs.send(tea.WindowSizeMsg{Width: 130, Height: 50})
	hs.want("› " + sel)
	if hs.keysPage().selected().Name != sel {
		t.Fatal("selection changed on resize")
	}
}

// An error keeps the dialog and the place: a store failure during create
// shows in the banner and the name is still there to retry.
func TestErrorBannerKeepsPlace(t *testing.T) {
	st := openStore(t)
	seed(t, st)
	hs := newHarness(t, st, 100, 30)
	hs.keys("down")
	cur := hs.keysPage().list.Cursor
	hs.keys("n")
	hs.typeText("Will fail")
	st.Close() // the store goes away under the console
	hs.keys("enter")
	hs.want("closed", "Create API Key", "Will fail", "[ enter  Create ]")
	hs.wantNot("Creating…")
	hs.keys("esc")
	if hs.keysPage().list.Cursor != cur {
		t.Fatal("lost the place in the list")
	}
}

func TestDomainMenu(t *testing.T) {
	st := openStore(t)
	seed(t, st)
	hs := newHarness(t, st, 100, 30)
	hs.keys("2", ".")
	hs.want("Domain app.mysite.tn", "Open", "Link keys", "Copy name", "Delete domain")
	hs.keys("l")
	hs.want("Link keys to app.mysite.tn")
	hs.keys("esc")
	hs.send(tea.MouseClickMsg{X: 99, Y: hs.app.bodyTop() + listTop + 1, Button: tea.MouseLeft})
	hs.want("Domain localhost")
	hs.keys("D")
	hs.want("Delete domain localhost?", "UNRESTRICTED")
}

// esc goes back where one came from: a domain, one of its keys, then esc
// lands on the domain again, and once more on the domains list.
func TestDetailStackGoesBack(t *testing.T) {
	st := openStore(t)
	seed(t, st)
	hs := newHarness(t, st, 100, 30)
	hs.keys("2", "/")
	hs.typeText("localhost")
	hs.keys("enter", "enter")
	hs.want("Authorized Domains › localhost", "API Keys (1)")
	hs.keys("enter") // its key, Solo
	hs.want("Authorized Domains › localhost › Solo", "Authorized Domains (1)")
	hs.keys("enter") // and its domain again: back to it, not a copy
	hs.want("Authorized Domains › localhost", "API Keys (1)")
	hs.wantNot("› Solo ›")
	hs.keys("enter", "esc")
	hs.want("Authorized Domains › localhost", "API Keys (1)")
	hs.keys("esc")
	hs.want("domains · sort")
	// The keys tab keeps its own stack.
	hs.keys("1")
	hs.selectKey("Production web")
	hs.keys("enter", "enter")
	hs.want("API Keys › Production web › app.mysite.tn")
	hs.keys("2")
	hs.want("domains · sort")
	hs.keys("1", "esc")
	hs.want("API Keys › Production web")
}
