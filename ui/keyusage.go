package ui

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// lastHoster is implemented by stores that remember the host of a key's
// last request (the bolt store does).
type lastHoster interface {
	LastHost(ctx context.Context, id string) (string, error)
}

// keyUsageLine is the key screen's usage line: the last host, the last 24
// hours as a sparkline with its total, the spike flag, and the key that
// opens the request tester.
func (a *App) keyUsageLine(k *model.Key, width int) string {
	t := &a.th
	var b strings.Builder
	if h := a.us.lastHost[k.ID]; h != "" {
		b.WriteString("from " + model.Escape(h) + "  ")
	}
	if s, ok := a.us.byKey[k.ID]; ok {
		b.WriteString("24 h " + a.keySpark(k.ID, 24) + " " + thousands(int(s.Last24h.Total())) + " requests")
		if s.Last24h.Forbidden > 0 {
			b.WriteString(", " + thousands(int(s.Last24h.Forbidden)) + " refused")
		}
		if s.Spike.Spiking {
			b.WriteString("  " + t.Err.Render(fmt.Sprintf("▲ SPIKE ×%.0f", s.Spike.Ratio)))
		}
	} else if !k.LastUsed.IsZero() {
		b.WriteString(t.Faint.Render("no request in the last days"))
	}
	return b.String()
}

// impactLine is what a confirmation that takes a key out of service shows
// first: its last use and its requests in the last 24 hours.
func (a *App) impactLine(id string) string {
	k, ok := a.data.key(id)
	if !ok {
		return ""
	}
	s := "Last used " + a.ago(k.LastUsed)
	if u, ok := a.us.byKey[id]; ok {
		s += "; " + thousands(int(u.Last24h.Total())) + " requests in the last 24 hours (" + thousands(int(u.Last24h.Allowed)) + " allowed)"
	} else {
		s += "; no request in the last 24 hours"
	}
	return s + "."
}

// testModal is the key screen's "test a request" box: an Origin and a
// Referer typed in, and the gate's decision for them, with its rule (the
// same explanation as `tmaps check`).
type testModal struct {
	keyID           string
	origin, referer field
	onReferer       bool
}

func newTestModal(keyID string) *testModal {
	m := &testModal{keyID: keyID}
	m.origin.limit, m.referer.limit = 500, 500
	return m
}

func (m *testModal) typing() bool { return true }

func (m *testModal) update(a *App, msg tea.Msg) (modal, tea.Cmd) {
	if kp, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(kp, a.km.Back):
			return nil, nil
		case key.Matches(kp, a.km.NextTab), kp.String() == "up", kp.String() == "down", key.Matches(kp, a.km.Confirm):
			m.onReferer = !m.onReferer
			return m, nil
		}
	}
	if m.onReferer {
		m.referer.Update(msg)
	} else {
		m.origin.Update(msg)
	}
	return m, nil
}

// testDecision is the gate's decision for the key and headers: the key as
// the console knows it, with a well-formed api_key (the secret itself is
// never known here, and its digest was matched by the key lookup).
func testDecision(k *model.Key, origin, referer string) model.Decision {
	return model.Decide(model.GateInput{Key: k, APIKeys: []string{model.SecretPrefix + strings.Repeat("0", 32)},
		Origin: origin, Referer: referer, HTTPS: true})
}

func (m *testModal) view(a *App, width int) (string, []string) {
	t := &a.th
	k, ok := a.data.key(m.keyID)
	if !ok {
		return "Test a request", []string{"This key no longer exists."}
	}
	focus := func(on bool, label string) string {
		if on {
			return t.Bold.Render("› " + label)
		}
		return "  " + label
	}
	d := testDecision(k, m.origin.Value(), m.referer.Value())
	verdict := t.Ok.Render("✓ 200 allowed")
	if !d.Allowed() {
		verdict = t.Err.Render("✗ " + itoa(d.Status) + " " + string(d.Body()))
	}
	lines := []string{
		"A request with " + k.Prefix + "… over HTTPS, with these headers:",
		focus(!m.onReferer, "Origin ") + m.origin.View(width-12, !m.onReferer, t),
		focus(m.onReferer, "Referer") + " " + m.referer.View(width-12, m.onReferer, t),
		"",
		verdict,
		d.Reason.Explain(),
	}
	if d.Host != "" {
		lines = append(lines, t.Faint.Render("host: "+model.Escape(d.Host)))
	}
	if len(k.Domains) > 0 {
		lines = append(lines, t.Faint.Render("domains: "+a.domainSummary(k.Domains, width-10)))
	}
	return "Test a request · " + quoteName(k.Name), lines
}

func (m *testModal) help(a *App) helpSet {
	s := []key.Binding{with(a.km.NextTab, "origin/referer"), with(a.km.Back, "close")}
	return helpSet{short: s, full: [][]key.Binding{s}}
}

// linkImpactLine is what unlinking dom from a key shows first. The store
// counts usage per key, not per domain: it says what the key carried and
// whether its last request came from dom.
func (a *App) linkImpactLine(keyID, dom string) string {
	s, ok := a.us.byKey[keyID]
	if !ok {
		return "The key had no request in the last days."
	}
	if hs, ok := a.us.matched[keyID]; ok {
		return thousands(int(store.LinkLast7d(hs, dom))) + " allowed requests came from " + model.Escape(dom) +
			" with this key in the last 7 days (" + thousands(int(s.Last7d.Allowed)) + " with all its domains)."
	}
	line := "The key carried " + thousands(int(s.Last7d.Allowed)) + " allowed requests in the last 7 days (all its domains together)"
	if model.MatchHost(a.us.lastHost[keyID], dom) {
		line += "; its last request came from " + model.Escape(dom)
	}
	return line + "."
}

// domainImpactLine is what deleting domain name shows first: the allowed
// requests its keys carried in 7 days, and the keys whose last request
// came from it.
func (a *App) domainImpactLine(name string) string {
	dm, ok := a.data.domain(name)
	if !ok || len(dm.Keys) == 0 {
		return "No key uses it."
	}
	var allowed, viaDomain uint64
	perLink := a.us.matched != nil
	var from []string
	for _, id := range dm.Keys {
		if s, ok := a.us.byKey[id]; ok {
			allowed += s.Last7d.Allowed
		}
		viaDomain += store.LinkLast7d(a.us.matched[id], name)
		if model.MatchHost(a.us.lastHost[id], name) {
			if k, ok := a.data.key(id); ok {
				from = append(from, k.Name)
			}
		}
	}
	if perLink {
		return thousands(int(viaDomain)) + " allowed requests came from " + model.Escape(name) + " in the last 7 days."
	}
	line := "Its keys carried " + thousands(int(allowed)) + " allowed requests in the last 7 days (all their domains together)"
	if len(from) > 0 {
		line += "; the last request of " + listNames(from) + " came from it"
	}
	return line + "."
}
