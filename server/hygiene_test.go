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

// TestHygieneRoutePolicies: the report names expired, expiring and
// rate-limited keys, and advises an IP allowlist for a server key.
func TestHygieneRoutePolicies(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	now := time.Now()
	expired, _, err := f.st.CreateKey(ctx, "expired", model.Policy{Kind: model.KindMobile, Expires: now.Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	soon, _, _ := f.st.CreateKey(ctx, "soon", model.Policy{Kind: model.KindMobile, Expires: now.Add(48 * time.Hour)})
	server, _, _ := f.st.CreateKey(ctx, "backend", model.Policy{Kind: model.KindServer, Rate: 2})
	if err := f.st.RecordUsage(ctx, []store.UsageDelta{{KeyID: server.ID, Hour: now.UTC().Truncate(time.Hour), Allowed: 5, Limited: 9}}); err != nil {
		t.Fatal(err)
	}
	status, body := f.do("GET", "/v1/hygiene", "")
	if status != http.StatusOK {
		t.Fatalf("GET /v1/hygiene: %d %s", status, body)
	}
	got := map[string]model.Finding{}
	for _, fd := range decodeInto[HygieneReport](t, body).Findings {
		got[fd.Kind+" "+fd.KeyID] = fd
	}
	for _, w := range []struct{ kind, id, fix string }{
		{model.FindExpired, expired.ID, "revoke"},
		{model.FindExpiring, soon.ID, "extend"},
		{model.FindLimited, server.ID, "raise_limit"},
		{model.FindServerNoIP, server.ID, "allow_ip"},
	} {
		if fd, ok := got[w.kind+" "+w.id]; !ok || fd.Fix != w.fix {
			t.Errorf("no %s finding for %s fixed by %s in %s", w.kind, w.id, w.fix, body)
		}
	}
	if fd := got[model.FindServerNoIP+" "+server.ID]; !fd.Advice {
		t.Errorf("server_no_ip is advice: %+v", fd)
	}
	if _, ok := got[model.FindUnrestricted+" "+server.ID]; ok {
		t.Error("a server key without domains is not unrestricted in the report")
	}
}
