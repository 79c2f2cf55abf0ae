package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/ui/text"
	"github.com/tmaps/console/ui/textfield"
)

// testDialog is the key screen's "test a request" box: an Origin and a
// Referer typed in, and the gate's decision for them, with its rule (the
// same explanation as `tmaps check`).
type testDialog struct {
	dialogBase
	keyID           string
	origin, referer textfield.Model
	onReferer       bool
}

func newTestDialog(c *common, keyID string) *testDialog {
	return &testDialog{dialogBase: dialogBase{c: c}, keyID: keyID, origin: textfield.New(500), referer: textfield.New(500)}
}

func (m *testDialog) Typing() bool { return true }

func (m *testDialog) Title() string {
	if k, ok := m.c.data.key(m.keyID); ok {
		return "Test a request · " + text.Quote(k.Name)
	}
	return "Test a request"
}

func (m *testDialog) Update(msg tea.Msg) tea.Cmd {
	c := m.c
	if kp, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(kp, c.km.Dialog.Cancel):
			m.close()
			return nil
		case key.Matches(kp, c.km.Global.NextTab), kp.String() == "up", kp.String() == "down", key.Matches(kp, c.km.Dialog.Confirm):
			m.onReferer = !m.onReferer
			return nil
		}
	}
	if m.onReferer {
		m.referer.Update(msg)
	} else {
		m.origin.Update(msg)
	}
	return nil
}

// testDecision is the gate's decision for the key and headers: the key as
// the console knows it, with a well-formed api_key (the secret itself is
// never known here, and its digest was matched by the key lookup).
func testDecision(k *model.Key, origin, referer string) model.Decision {
	return model.Decide(model.GateInput{Key: k, APIKeys: []string{model.SecretPrefix + strings.Repeat("0", 32)},
		Origin: origin, Referer: referer, HTTPS: true})
}

func (m *testDialog) View() []string {
	c, t, width := m.c, m.c.th, m.w
	k, ok := c.data.key(m.keyID)
	if !ok {
		return []string{"This key no longer exists."}
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
		verdict = t.Err.Render("✗ " + text.Thousands(d.Status) + " " + string(d.Body()))
	}
	lines := []string{
		"A request with " + k.Prefix + "… over HTTPS, with these headers:",
		focus(!m.onReferer, "Origin ") + m.origin.View(width-12, !m.onReferer, t.Selected),
		focus(m.onReferer, "Referer") + " " + m.referer.View(width-12, m.onReferer, t.Selected),
		"",
		verdict,
		d.Reason.Explain(),
	}
	if d.Host != "" {
		lines = append(lines, t.Faint.Render("host: "+text.Safe(d.Host)))
	}
	if len(k.Domains) > 0 {
		lines = append(lines, t.Faint.Render("domains: "+c.domainSummary(k.Domains, width-10)))
	}
	return lines
}

func (m *testDialog) ShortHelp() []key.Binding {
	km := m.c.km
	return []key.Binding{withHelp(km.Global.NextTab, "origin/referer"), withHelp(km.Dialog.Cancel, "close")}
}

func (m *testDialog) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }
