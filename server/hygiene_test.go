package server

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

func TestHygieneRoute(t *testing.T) {
	// The report is made two days on: what was made now is past the grace.
	f := newFixture(t, Options{Now: func() time.Time { return time.Now().Add(48 * time.Hour) }})
	ctx := context.Background()
	open, _, err := f.st.CreateKey(ctx, "open", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	// Browsers use it (no domain, so no link counted: its last host).
	// A server's key without domains is no finding.
	if _, _, err := f.st.CreateKey(ctx, "backend", model.Policy{Kind: model.KindServer}); err != nil {
		t.Fatal(err)
	}
	hour := time.Now().UTC().Truncate(time.Hour)
	if err := f.st.RecordUsage(ctx, []store.UsageDelta{{KeyID: open.ID, Hour: hour, Allowed: 1, LastUsed: hour, LastHost: "promo.tn"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.AddDomain(ctx, "lonely.tn"); err != nil {
		t.Fatal(err)
	}
	// Two links of one key: one matched a request yesterday, one never.
	web, _, err := f.st.CreateKey(ctx, "web", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"used.tn", "unused.tn"} {
		if _, err := f.st.AddDomain(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.st.LinkKey(ctx, web.ID, "used.tn", "unused.tn"); err != nil {
		t.Fatal(err)
	}
	yesterday := time.Now().Add(-24 * time.Hour).UTC().Truncate(time.Hour)
	if err := f.st.RecordUsage(ctx, []store.UsageDelta{{KeyID: web.ID, Hour: yesterday, Allowed: 3, MatchedHosts: map[string]uint64{"used.tn": 3}}}); err != nil {
		t.Fatal(err)
	}
	status, body := f.do("GET", "/v1/hygiene", "")
	if status != http.StatusOK {
		t.Fatalf("GET /v1/hygiene: %d %s", status, body)
	}
	rep := decodeInto[HygieneReport](t, body)
	kinds := map[string]string{}
	for _, fd := range rep.Findings {
		if fd.Kind == model.FindStaleLink && fd.KeyID == web.ID {
			kinds[fd.Kind] += fd.Domain + " "
			continue
		}
		kinds[fd.Kind] = fd.KeyID + fd.Domain
	}
	if kinds[model.FindStaleLink] != "unused.tn " {
		t.Errorf("stale links = %q, want only unused.tn", kinds[model.FindStaleLink])
	}
	if kinds[model.FindUnrestricted] != open.ID || kinds[model.FindOrphanDomain] != "lonely.tn" {
		t.Fatalf("findings = %+v", rep.Findings)
	}
	if !rep.LinksChecked {
		t.Error("the bolt store counts usage per link: links must be checked")
	}
}

// Issue 11, defect 6: a link and a domain made a minute ago are not
// findings yet (the grace of a new key).
func TestHygieneRouteGivesNewLinksTime(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	web, _, err := f.st.CreateKey(ctx, "web", model.Policy{Kind: model.KindBrowser})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"new.tn", "lonely.tn"} {
		if _, err := f.st.AddDomain(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.st.LinkKey(ctx, web.ID, "new.tn"); err != nil {
		t.Fatal(err)
	}
	status, body := f.do("GET", "/v1/hygiene", "")
	if status != http.StatusOK {
		t.Fatalf("GET /v1/hygiene: %d %s", status, body)
	}
	if rep := decodeInto[HygieneReport](t, body); len(rep.Findings) != 0 {
		t.Fatalf("findings = %+v, want none yet", rep.Findings)
	}
}
