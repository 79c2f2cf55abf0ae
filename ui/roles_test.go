package ui

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
)

// roleStore is a store with a key linked to a domain, another domain, and
// a hygiene finding (the domain linked to no key).
func roleStore(t *testing.T) *bolt.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "t.db"), bolt.Options{Now: func() time.Time { return fixedNow.Add(-72 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := store.WithActor(t.Context(), "setup")
	k, _, err := st.CreateKey(c, "web", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"mysite.tn", "other.tn"} {
		if _, err := st.AddDomain(c, d); err != nil {
			t.Fatal(err)
		}
	}
	if _, err = st.LinkKey(c, k.ID, "mysite.tn"); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestConsoleAsAuditor: an auditor's console offers no change (not in the
// footer, the menu or the help), says why on each key press, changes
// nothing, and its help and header say it is read only.
func TestConsoleAsAuditor(t *testing.T) {
	ts := roleStore(t)
	hs := newHarnessRole(t, store.Guard(ts, model.RoleAuditor), 120, 30, model.RoleAuditor)
	hs.want("read only (auditor)", "web")
	hs.wantNot("new key")
	before, _ := ts.Keys(t.Context())

	refusals := []struct {
		keys []string
		want string
	}{
		{[]string{"n"}, "cannot create keys"},
		{[]string{"x"}, "cannot revoke keys"},
		{[]string{"d"}, "cannot disable keys"},
		{[]string{"r"}, "cannot rename keys"},
		{[]string{"l"}, "cannot link domains to keys"},
		{[]string{"p"}, "cannot change key policies"},
	}
	for _, r := range refusals {
		hs.keys(r.keys...)
		hs.want("Your role is auditor: it " + r.want + " (this console is read only).")
		if hs.app.dlg != nil {
			t.Fatalf("%v opened a dialog:\n%s", r.keys, hs.screen())
		}
	}
	// The menu lists what an auditor may do only.
	hs.keys(".")
	hs.want("Open", "Copy prefix")
	hs.wantNot("Revoke", "Disable", "Rename", "Rotate", "Policies")
	hs.keys("x")
	hs.want("cannot revoke keys")

	// The help says why the keys are missing.
	hs.keys("?")
	hs.want("Read only: your role is auditor")
	help := hs.screen()
	help = help[strings.Index(help, "listed; pressed, they say so."):]
	for _, action := range []string{"new key", "revoke", "disable", "rename", "rotate", "link", "policies"} {
		if strings.Contains(help, action) {
			t.Fatalf("the auditor's help lists %q:\n%s", action, help)
		}
	}
	hs.keys("esc")

	// A key's screen: unlinking is refused, testing a request is not.
	hs.keys("enter")
	hs.want("mysite.tn")
	hs.keys("u")
	hs.want("cannot unlink domains from keys")
	hs.keys("esc")

	// Domains: adding and deleting are refused.
	hs.keys("2", "n")
	hs.want("cannot add domains")
	hs.keys("D")
	hs.want("cannot delete domains")

	// Hygiene: no fix is offered; enter says why.
	hs.keys("4", "l")
	hs.want("Domain unused")
	hs.wantNot("enter fix")
	hs.keys("enter")
	hs.want("Your role is auditor: it cannot", "(this console is read only).")

	after, _ := ts.Keys(t.Context())
	if len(after) != len(before) || after[0].Status != model.Active || after[0].Name != "web" || len(after[0].Domains) != 1 {
		t.Fatalf("the auditor's console changed the keys: %+v", after)
	}
	if ds, _ := ts.Domains(t.Context()); len(ds) != 2 {
		t.Fatalf("the auditor's console changed the domains: %+v", ds)
	}
}

// TestConsoleAsOperator: an operator's console does what an auditor's
// may not, and says nothing of roles.
func TestConsoleAsOperator(t *testing.T) {
	ts := roleStore(t)
	hs := newHarnessRole(t, store.Guard(ts, model.RoleOperator), 120, 30, model.RoleOperator)
	hs.want("operator ·", "new key")
	hs.keys("n")
	if hs.app.dlg == nil {
		t.Fatalf("n opened no dialog:\n%s", hs.screen())
	}
	hs.typeText("made by an operator")
	hs.keys("enter")
	hs.want("will not be shown again")
	ks, _ := ts.Keys(t.Context())
	if len(ks) != 2 || ks[1].Name != "made by an operator" {
		t.Fatalf("keys: %+v", ks)
	}
	hs.keys("esc")
	hs.keys("?")
	hs.wantNot("Read only")
}

// TestConsoleAdminByDefault: a console without a role (local) is an
// admin's, with no role in its header.
func TestConsoleAdminByDefault(t *testing.T) {
	ts := roleStore(t)
	hs := newHarness(t, ts, 120, 30)
	hs.want("new key")
	if strings.Contains(hs.screen(), "read only") || strings.Contains(hs.screen(), "operator ·") {
		t.Fatalf("an admin's console names a role:\n%s", hs.screen())
	}
}

// TestAlertHistoryAndLeakMark: a leaked key is marked on its row and its
// screen; the Audit page's Alerts view and the Usage page show the alerts.
func TestAlertHistoryAndLeakMark(t *testing.T) {
	st := openStore(t)
	c := store.WithActor(t.Context(), "setup")
	if _, _, err := st.CreateKey(c, "quiet", model.Policy{}); err != nil {
		t.Fatal(err)
	}
	k, secret, err := st.CreateKey(c, "web", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReportLeaks(store.WithActor(c, "leak-report"), []model.Leak{{Digest: model.DigestOf(secret), URL: "https://github.com/octo/app/blob/1/.env", Source: "content"}}, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.AddAlert(c, model.Alert{ID: model.NewAlertID(), Kind: model.AlertRefused, Time: fixedNow.Add(-time.Hour), KeyID: k.ID,
		KeyName: "web", KeyPrefix: k.Prefix, Summary: "key \"web\": 150 requests refused (403)", Count: 150, Dedup: "refused:x",
		Deliveries: []model.Delivery{{Target: "hooks.example.tn 01020304", Attempts: 1, Delivered: fixedNow}}}); err != nil {
		t.Fatal(err)
	}
	hs := newHarness(t, st, 140, 30)
	hs.want("LEAKED web")
	hs.wantNot("LEAKED quiet")
	// both keys share a creation time: pick web by its name
	hs.keys("/")
	hs.typeText("web")
	hs.keys("enter", "enter")
	hs.want("LEAKED", "at https://github.com/octo/app/blob/1/.env", "(rotate it and revoke this one)")
	hs.keys("esc")

	hs.keys("4", "l", "l")
	hs.want("Audit log │ Hygiene │ Alerts", "2 alerts", "LEAKED", "Refused burst", "150 requests refused (403)", "sent", "recorded")
	// enter opens the alert's key
	hs.keys("enter")
	hs.want("at https://github.com/octo/app/blob/1/.env")
	hs.keys("esc")

	hs.keys("3", "enter")
	hs.want("Usage · ", "2 alerts in 7 d, last LEAKED")
}
