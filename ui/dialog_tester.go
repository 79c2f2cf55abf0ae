package ui

import (
	"net/netip"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/ui/text"
	"github.com/tmaps/console/ui/textfield"
)

// testDialog is the key screen's "test a request" box: an Origin, a
// Referer and a client address typed in, and the gate's decision for them
// now, with its rule (the same explanation as `tmaps check`).
type testDialog struct {
	dialogBase
	keyID               string
	origin, referer, ip textfield.Model
	focus               int // 0 Origin, 1 Referer, 2 client address
}

func newTestDialog(c *common, keyID string) *testDialog {
	return &testDialog{dialogBase: dialogBase{c: c}, keyID: keyID, origin: textfield.New(500), referer: textfield.New(500), ip: textfield.New(60)}
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
		case key.Matches(kp, c.km.Global.NextTab), kp.String() == "down", key.Matches(kp, c.km.Dialog.Confirm):
			m.focus = (m.focus + 1) % 3
			return nil
		case kp.String() == "up", kp.String() == "shift+tab":
			m.focus = (m.focus + 2) % 3
			return nil
		}
	}
	[]*textfield.Model{&m.origin, &m.referer, &m.ip}[m.focus].Update(msg)
	return nil
}

// testDecision is the gate's decision now for the key, headers and client
// address: the key as the console knows it, with a well-formed api_key (the
// secret itself is never known here, and its digest was matched by the key
// lookup). The rate limit and the quota are not run (a node's token bucket
// and the month's count live in the gates).
func testDecision(k *model.Key, origin, referer string, ip netip.Addr, now time.Time) model.Decision {
	return model.Decide(model.GateInput{Key: k, APIKeys: []string{model.SecretPrefix + strings.Repeat("0", 32)},
		Origin: origin, Referer: referer, HTTPS: true, Now: now, ClientIP: ip})
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
	ip, ipErr := netip.ParseAddr(strings.TrimSpace(m.ip.Value()))
	if ipErr == nil {
		ip = ip.Unmap()
	}
	d := testDecision(k, m.origin.Value(), m.referer.Value(), ip, c.now())
	verdict := t.Ok.Render("✓ 200 allowed")
	if !d.Allowed() {
		verdict = t.Err.Render("✗ " + text.Thousands(d.Status) + " " + string(d.Body()))
	}
	lines := []string{
		"A request with " + k.Prefix + "… over HTTPS, now, with these headers:",
		focus(m.focus == 0, "Origin ") + m.origin.View(width-12, m.focus == 0, t.Selected),
		focus(m.focus == 1, "Referer") + " " + m.referer.View(width-12, m.focus == 1, t.Selected),
		focus(m.focus == 2, "From IP") + " " + m.ip.View(width-12, m.focus == 2, t.Selected),
	}
	if m.ip.Value() != "" && ipErr != nil {
		lines = append(lines, t.Err.Render("✗ not an IP address: the client address is unknown"))
	}
	lines = append(lines, "", verdict, d.Reason.Explain())
	if d.Host != "" {
		lines = append(lines, t.Faint.Render("host: "+text.Safe(d.Host)))
	}
	if len(k.Domains) > 0 {
		lines = append(lines, t.Faint.Render("domains: "+c.domainSummary(k.Domains, width-10)))
	}
	if len(k.AllowIPs) > 0 {
		lines = append(lines, t.Faint.Render(text.Fit("IP allowlist: "+model.FormatAllowIPs(k.AllowIPs), width)))
	}
	if d.Allowed() && k.Limited() {
		lines = append(lines, t.Faint.Render(text.Fit("then the rate limit and quota apply (counted by the gates, not tested here)", width)))
	}
	return lines
}

func (m *testDialog) ShortHelp() []key.Binding {
	km := m.c.km
	return []key.Binding{withHelp(km.Global.NextTab, "origin/referer/ip"), withHelp(km.Dialog.Cancel, "close")}
}

func (m *testDialog) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }
