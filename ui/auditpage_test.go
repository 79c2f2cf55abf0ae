package ui

import (
	"context"
	"strings"
	"testing"

	"github.com/tmaps/console/demo"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

func TestAuditPageFilters(t *testing.T) {
	st := demoStore(t)
	hs := newInsightHarness(t, st, 120, 40)
	hs.ikeys("4")
	hs.want("Audit log", "Time", "Actor", "amira.benali")
	all := len(hs.auditPage().entries)
	if all == 0 {
		t.Fatal("no audit entry loaded")
	}
	// Newest first.
	es := hs.auditPage().entries
	for i := 1; i < len(es); i++ {
		if es[i].Time.After(es[i-1].Time) {
			t.Fatalf("entry %d is newer than entry %d", i, i-1)
		}
	}
	// o keeps the selected entry's object, a its actor (the store filters).
	first := es[0]
	hs.ikeys("o")
	for _, e := range hs.auditPage().entries {
		if e.Object != first.Object {
			t.Fatalf("object filter kept %q", e.Object)
		}
	}
	hs.ikeys("a")
	for _, e := range hs.auditPage().entries {
		if e.Actor != first.Actor || e.Object != first.Object {
			t.Fatalf("actor filter kept %+v", e)
		}
	}
	hs.want("object "+first.Object, "actor "+first.Actor)
	hs.ikeys("esc")
	if len(hs.auditPage().entries) != all {
		t.Fatal("esc does not clear the filters")
	}
	// Free text: only sami's entries.
	hs.ikeys("/")
	hs.typeText("sami.gharbi")
	hs.ikeys("enter")
	if len(hs.auditPage().entries) == 0 {
		t.Fatal("no entry by sami.gharbi")
	}
	for _, e := range hs.auditPage().entries {
		if !strings.Contains(e.Actor+e.Before+e.After+e.Object, "sami.gharbi") {
			t.Fatalf("text filter kept %+v", e)
		}
	}
	hs.wantNot("amira.benali")
}

func TestHygieneListsUnrestrictedAndFixes(t *testing.T) {
	st := demoStore(t)
	hs := newInsightHarness(t, st, 120, 40)
	hs.ikeys("4", "l")
	hs.want("Hygiene", "Unrestricted", demo.BrowserUnrestrictedKey, "Domain unused", "promo-ete-2025.tn", "Stale link", "Partner portal · mysite.tn")
	// A key without domains that no browser uses (a server's) is fine.
	hs.wantNot(demo.UnrestrictedKey)
	hs.wantNot("links not checked")
	// enter on the unrestricted key opens the domain picker for it.
	i := -1
	for j, f := range hs.auditPage().findings {
		if f.Kind == model.FindUnrestricted && f.Key == demo.BrowserUnrestrictedKey {
			i = j
		}
	}
	if i < 0 {
		t.Fatalf("no unrestricted finding for %q", demo.BrowserUnrestrictedKey)
	}
	for ; i > 0; i-- {
		hs.ikeys("down")
	}
	hs.ikeys("enter")
	if hs.app.dlg == nil {
		t.Fatal("enter on a finding opens no action")
	}
	hs.ikeys("esc")
	// The orphan domain's fix deletes it, after a confirmation.
	for j, f := range hs.auditPage().findings {
		if f.Kind == model.FindOrphanDomain {
			hs.auditPage().hlist.Select(j)
		}
	}
	hs.ikeys("enter")
	hs.want("Delete")
	hs.ikeys("y")
	if _, err := st.Domain(t.Context(), "promo-ete-2025.tn"); err == nil {
		t.Fatal("the orphan domain is still there")
	}
}

func TestGoldenAudit(t *testing.T) {
	st := demoStore(t)
	for _, sz := range [][2]int{{100, 30}, {60, 15}} {
		hs := newInsightHarness(t, st, sz[0], sz[1])
		hs.ikeys("4")
		hs.goldenPage(sizeName("audit", sz))
		hs.ikeys("l")
		hs.goldenPage(sizeName("hygiene", sz))
	}
}

// reportingStore is a store that makes the hygiene report itself (as the
// remote store does), counting how often it is asked.
type reportingStore struct {
	store.Store
	asked int
}

func (s *reportingStore) Hygiene(ctx context.Context) (store.HygieneReport, error) {
	s.asked++
	return store.Hygiene(ctx, s.Store, fixedNow)
}

// Regression (issue 11, speed): opening the Audit tab made the hygiene
// report of every key (520 ms of CPU at 100,000 keys) though the log is
// shown; the report is made when the Hygiene view is, and dropped after.
func TestAuditLogDoesNotMakeTheHygieneReport(t *testing.T) {
	st := &reportingStore{Store: demoStore(t)}
	hs := newInsightHarness(t, st, 120, 40)
	hs.ikeys("4")
	hs.want("Audit log", "amira.benali")
	if p := hs.auditPage(); p.findings != nil || st.asked != 0 {
		t.Fatalf("the log is shown, yet the report was made: %d findings, store asked %d times", len(p.findings), st.asked)
	}
	hs.ikeys("l")
	hs.want("Hygiene", "Unrestricted", demo.BrowserUnrestrictedKey)
	if p := hs.auditPage(); len(p.findings) == 0 || st.asked != 1 {
		t.Fatalf("the Hygiene view: %d findings, store asked %d times (want 1)", len(p.findings), st.asked)
	}
	// The alerts and the log again: the report is let go.
	hs.ikeys("l")
	hs.want("Alerts")
	if p := hs.auditPage(); p.findings != nil {
		t.Fatalf("the report is kept after its view: %d findings", len(p.findings))
	}
	// Another tab and back to the log: still not made.
	hs.ikeys("l", "1", "4")
	hs.want("Audit log", "amira.benali")
	if p := hs.auditPage(); p.findings != nil || st.asked != 1 {
		t.Fatalf("back on the log: %d findings, store asked %d times (want 1)", len(p.findings), st.asked)
	}
}

// While the store's report is under way, the Hygiene view shows no finding
// it may take back: the console's copy alone cannot tell a key browsers use
// from a server's key without domains (seen in tmux: the demo's server key
// listed as "Unrestricted", then gone).
func TestHygieneWaitsForTheStoresReport(t *testing.T) {
	hs := newInsightHarness(t, demoStore(t), 120, 40)
	hs.ikeys("4")
	hs.want("Audit log", "amira.benali")
	p := hs.auditPage()
	p.view = viewHygiene
	cmd := p.report() // the store's report, not run yet
	hs.want("Checking links and usage")
	hs.wantNot(demo.UnrestrictedKey, demo.BrowserUnrestrictedKey)
	hs.keys("enter") // no finding to fix meanwhile
	hs.want("Checking links and usage")
	hs.run(cmd)
	hs.want("Unrestricted", demo.BrowserUnrestrictedKey)
	hs.wantNot(demo.UnrestrictedKey, "Checking links and usage")
}
