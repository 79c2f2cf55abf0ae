package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// TestCreateServerKeyWithExpiry: the create dialog asks where the key is
// used, explains the seed's advice, and offers an expiry.
func TestCreateServerKeyWithExpiry(t *testing.T) {
	st := openStore(t)
	hs := newHarness(t, st, 100, 30)
	hs.keys("n")
	hs.typeText("Tiles backend")
	hs.want("Where will the key be used?", "(•) Browser", "Browser key: used from web pages: link the domains", "(•) never")
	hs.keys("tab", "right")
	hs.want("(•) Server", "Server key: used by a backend: no domain")
	hs.keys("tab", "right")
	hs.want("(•) 30 days")
	// Typing goes to the name only while it has the focus.
	hs.typeText("x")
	hs.keys("tab")
	hs.typeText(" 2")
	hs.keys("enter")
	hs.want("API key created", "Tiles backend 2")
	keys, err := st.Keys(context.Background())
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys %v %v", keys, err)
	}
	k := keys[0]
	if k.Name != "Tiles backend 2" || k.Kind != model.KindServer || !k.Expires.Equal(fixedNow.Add(30*24*time.Hour)) {
		t.Fatalf("created %q kind %q expires %v; want a server key expiring 30 days from %v", k.Name, k.Kind, k.Expires, fixedNow)
	}
	hs.keys("c", "esc")
	hs.want("A server key gets no domain: press enter, then p")
	hs.want("Policy", "expires in 30 d")
}

// TestPolicyEditors: p on a key's screen lists the policy; each editor
// parses as it is typed, and a change is confirmed with its impact before
// it is saved and audited.
func TestPolicyEditors(t *testing.T) {
	st := openStore(t)
	ks := seed(t, st)
	web := ks["Production web"]
	// 8000 allowed requests in one of the last hours: over 2/s (7200 an hour).
	h := fixedNow.Truncate(time.Hour).Add(-3 * time.Hour)
	if err := st.RecordUsage(context.Background(), []store.UsageDelta{{KeyID: web.ID, Hour: h, Allowed: 8000, LastUsed: h.Add(time.Minute)},
		{KeyID: web.ID, Hour: model.MonthStart(fixedNow).Add(time.Hour), Allowed: 500}}); err != nil {
		t.Fatal(err)
	}
	hs := newInsightHarness(t, st, 110, 36)
	hs.selectKey("Production web")
	hs.keys("enter")
	hs.want("Policy", "no kind chosen · never expires", "p edits", "Limits", "IP any address")
	hs.keys("p")
	hs.want("Policies · “Production web”", "1  Kind", "3  IP allowlist", "4  Rate limit", "5  Monthly quota")

	// IP allowlist: a refused entry says why; the confirmation says what
	// the console cannot know.
	hs.keys("3")
	hs.typeText("203.0.113.0/24, 10.1.2.3/8")
	hs.want("✗", "has bits set after the /8: use 10.0.0.0/8 for the")
	hs.keys("enter") // refused: nothing happens
	hs.want("IP allowlist · “Production web”")
	for range len("10.1.2.3/8") {
		hs.keys("backspace")
	}
	hs.typeText("2001:db8::/32")
	hs.want("✓ 203.0.113.0/24, 2001:db8::/32")
	hs.keys("enter")
	hs.want("Change the IP allowlist of “Production web”?", "allow_ips: (none) → 203.0.113.0/24, 2001:db8::/32",
		"Requests from any other address are refused (403", "The gate keeps no client addresses", "an allowlist suits")
	hs.keys("y")
	hs.want("Saved the IP allowlist of “Production web”")
	if k := mustKey(t, st, web.ID); model.FormatAllowIPs(k.AllowIPs) != "203.0.113.0/24, 2001:db8::/32" {
		t.Fatalf("allowlist %v", k.AllowIPs)
	}
	hs.want("Limits", "IP 203.0.113.0/24, 2001:db8::/32")

	// Rate limit: the hours over the new rate are counted.
	hs.keys("p", "4")
	hs.typeText("2")
	hs.keys("tab")
	hs.typeText("10")
	hs.want("✓ 2/s, burst 10 on each gate node")
	hs.keys("enter")
	hs.want("rate: (none) → 2/s, burst 10", "At least 800 of the last 24 hours' 8,000 allowed", "on each gate node separately")
	hs.keys("y")
	if k := mustKey(t, st, web.ID); k.Rate != 2 || k.Burst != 10 {
		t.Fatalf("rate %v burst %d", k.Rate, k.Burst)
	}

	// Quota: the month's usage is read before the confirmation.
	hs.keys("p", "5")
	hs.typeText("5000")
	hs.keys("enter")
	hs.want("quota: (none) → 5000/month", "8,500 requests were allowed this month (UTC): the", "(429 “quota exceeded”)")
	hs.keys("n") // cancelled: nothing saved
	if k := mustKey(t, st, web.ID); k.Quota != 0 {
		t.Fatalf("a cancelled quota was saved: %d", k.Quota)
	}

	// Expiry, then kind and owner.
	hs.keys("p", "2")
	hs.typeText("3d")
	hs.want("✓ expires in 3 d (2026-11-26 10:00)")
	hs.keys("enter")
	hs.want("expires: (none) → 2026-11-26T10:00:00Z", "(401 “api_key expired”)", "None of the last 24 hours' requests would have")
	hs.keys("y")
	hs.keys("p", "1", "right", "enter")
	hs.want("kind: (none) → server", "Server key: used by a backend")
	hs.keys("y")
	hs.keys("p", "6")
	hs.typeText("Maps team")
	hs.keys("enter", "y")
	k := mustKey(t, st, web.ID)
	if !k.Expires.Equal(fixedNow.Add(72*time.Hour)) || k.Kind != model.KindServer || k.Owner != "Maps team" {
		t.Fatalf("policy after the editors: %+v", k.Policy)
	}
	es, err := st.Audit(context.Background(), store.AuditQuery{Object: "key:" + web.ID})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range es {
		if e.Actor != "tester" {
			continue
		}
		actions = append(actions, e.Action)
	}
	if strings.Join(actions, " ") != "policy.owner policy.kind policy.expires policy.rate policy.allow_ips" {
		t.Fatalf("audit of the console's changes: %v", actions)
	}
	// The same value again changes nothing.
	hs.keys("p", "6", "enter")
	hs.want("Nothing changed: “Production web” already has this owner.")
}

// TestKeysListPolicyMarks: the list marks Expired, "expires in 3 d", and
// rate, quota and ip; the filter finds keys by owner.
func TestKeysListPolicyMarks(t *testing.T) {
	st := openStore(t)
	ctx := store.WithActor(context.Background(), "seed")
	for _, c := range []struct {
		name string
		p    model.Policy
	}{
		{"gone by now", model.Policy{Expires: fixedNow.Add(-time.Hour), Owner: "Growth"}},
		{"soon", model.Policy{Expires: fixedNow.Add(3*24*time.Hour + time.Hour), Owner: "Maps team"}},
		{"throttled", model.Policy{Rate: 5, Quota: 100, Owner: "maps TEAM"}},
		{"plain", model.Policy{}},
	} {
		if _, _, err := st.CreateKey(ctx, c.name, c.p); err != nil {
			t.Fatal(err)
		}
	}
	hs := newHarness(t, st, 100, 30)
	hs.want("Policy", "Expired", "expires in 3 d", "rate · quota")
	// Narrower, the Policy column goes; an expired active key says so in
	// its status.
	narrow := newHarness(t, st, 80, 24)
	narrow.wantNot("Policy", "expires in 3 d")
	narrow.want("Expired")
	// Filter by owner.
	hs.keys("/")
	hs.typeText("owner:maps")
	hs.want("2 of 4 keys", "soon", "throttled")
	hs.wantNot("gone by now", "plain")
	// A revoked key offers no policy change.
	hs.keys("esc")
	k, _ := st.Keys(context.Background())
	for _, x := range k {
		if x.Name == "plain" {
			if _, err := st.RevokeKey(ctx, x.ID, "plain"); err != nil {
				t.Fatal(err)
			}
		}
	}
	hs2 := newHarness(t, st, 100, 30)
	hs2.selectKey("plain")
	hs2.keys("p")
	hs2.want("“plain” is revoked: it cannot be given a new policy")
}

// TestHygieneOffersPolicyFixes: the Audit page's report names expired,
// expiring and rate-limited keys, and its fixes open the right dialog.
func TestHygieneOffersPolicyFixes(t *testing.T) {
	st := demoStore(t)
	hs := newInsightHarness(t, st, 120, 40)
	hs.keys("4", "right")
	hs.want("Expired", "Ramadan campaign 2026", "Expiring", "Mobile app iOS", "Hit 429", "Open data portal", "Advice: IPs")
	p := hs.auditPage()
	for i, f := range p.findings {
		if f.Kind == model.FindExpired {
			p.hlist.Select(i)
			break
		}
	}
	hs.keys("enter")
	hs.want("Revoke “Ramadan campaign 2026”?", "Type the key's name to confirm")
	hs.keys("esc")
	for i, f := range p.findings {
		if f.Kind == model.FindExpiring {
			p.hlist.Select(i)
			break
		}
	}
	hs.keys("enter")
	hs.want("Expiry · “Mobile app iOS”")
}

// The Policy column sits between Status and Created: the header's titles
// are where clicks look for them.
func TestKeyColumnsWithPolicy(t *testing.T) {
	for _, w := range []int{96, 100, 120, 160} {
		c := keyColumns(w, keyNeed{name: 20, domains: 30, domainsMin: 12, policy: true})
		if c.policy == 0 {
			t.Fatalf("width %d: no Policy column", w)
		}
		hdr := []rune(c.header(-1))
		for title, x := range map[string]int{"Status": c.statusX, "Policy": c.statusX + c.status + 2, "Created": c.createdX} {
			if got := string(hdr[x : x+len(title)]); got != title {
				t.Errorf("width %d: %q at x=%d, header %q", w, got, x, string(hdr))
			}
		}
		if c.sortAt(c.createdX, sortCreatedDesc) != sortCreatedAsc || c.sortAt(c.statusX+c.status+3, sortName) != -1 {
			t.Errorf("width %d: a click on Created or Policy sorts wrong", w)
		}
	}
	if c := keyColumns(95, keyNeed{policy: true}); c.policy != 0 {
		t.Error("a Policy column below 96 columns")
	}
	if c := keyColumns(120, keyNeed{}); c.policy != 0 {
		t.Error("a Policy column when no key has a policy")
	}
}
