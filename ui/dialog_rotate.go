package ui

import (
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/ui/text"
)

// graces are the grace periods a rotation offers for the old key: how long
// it keeps working (then it expires), or none (it works until revoked).
var graces = []struct {
	d     time.Duration
	label string
}{
	{time.Hour, "1 hour"},
	{24 * time.Hour, "24 hours"},
	{7 * 24 * time.Hour, "7 days"},
	{0, "until I revoke it"},
}

// rotateDialog asks for the old key's grace period, then rotates: a new
// key with the same name, domains and policy, its secret shown once.
type rotateDialog struct {
	dialogBase
	keyID string
	cur   int
}

func newRotateDialog(c *common, id string) Page {
	if _, ok := c.data.key(id); !ok {
		return nil
	}
	return &rotateDialog{dialogBase: dialogBase{c: c}, keyID: id, cur: 1} // 24 hours
}

func (m *rotateDialog) Title() string {
	if k, ok := m.c.data.key(m.keyID); ok {
		return "Rotate " + text.Quote(k.Name) + "?"
	}
	return "Rotate"
}

func (m *rotateDialog) Typing() bool { return false }

func (m *rotateDialog) Update(msg tea.Msg) tea.Cmd {
	kp, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	c := m.c
	switch {
	case key.Matches(kp, c.km.Dialog.Cancel), key.Matches(kp, c.km.Global.Quit):
		m.close()
	case key.Matches(kp, c.km.List.Up):
		m.cur = max(0, m.cur-1)
	case key.Matches(kp, c.km.List.Down):
		m.cur = min(len(graces)-1, m.cur+1)
	case key.Matches(kp, c.km.Dialog.Confirm), key.Matches(kp, c.km.Dialog.Yes):
		m.close()
		return c.rotateCmd(m.keyID, graces[m.cur].d)
	}
	return nil
}

// intro is the dialog's lines above the first grace, wrapped to its
// width: View draws them and Click counts them.
func (m *rotateDialog) intro(k *model.Key) []string {
	return append(text.Wrap("A new key with the same name, domains and policy; its secret is shown once.", m.w),
		"The old key "+k.Prefix+" keeps working for:")
}

func (m *rotateDialog) Click(x, y int) tea.Cmd {
	k, ok := m.c.data.key(m.keyID)
	if !ok {
		return nil
	}
	if i := y - len(m.intro(k)); i >= 0 && i < len(graces) {
		m.cur = i
	}
	return nil
}

func (m *rotateDialog) View() []string {
	c, t := m.c, m.c.th
	k, ok := c.data.key(m.keyID)
	if !ok {
		return []string{"This key no longer exists."}
	}
	lines := m.intro(k)
	for i, g := range graces {
		row := "  ( ) " + g.label
		if i == m.cur {
			row = t.Selected.Render(text.Fit("  (•) "+g.label, m.w))
		}
		lines = append(lines, row)
	}
	g := graces[m.cur]
	var after string
	switch {
	case g.d == 0:
		after = "It stays " + k.Status.Label() + " until you revoke it (after deploying the new key)."
	case !k.Expires.IsZero() && k.Expires.Before(c.now().Add(g.d)):
		after = "It already expires sooner: " + model.ExpiryLabel(k.Expires, c.now()) + "."
	default:
		after = "Then it expires (401 “api_key expired”): deploy the new secret before " +
			c.now().Add(g.d).Format("2006-01-02 15:04") + "."
	}
	lines = append(lines, "")
	lines = append(lines, text.Wrap(after, m.w)...)
	lines = append(lines, c.impactLine(m.keyID))
	return append(lines, "", m.button("y  Rotate", true, false)+"  "+m.button("esc  Cancel", false, false))
}

func (m *rotateDialog) ShortHelp() []key.Binding {
	km := m.c.km
	return []key.Binding{km.List.Up, km.List.Down, withHelp(km.Dialog.Yes, "rotate"), km.Dialog.Cancel}
}

func (m *rotateDialog) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }

// graceNote is what the console says after a rotation about the old key.
func (c *common) graceNote(old *model.Key) string {
	if old.Expires.IsZero() || old.Status == model.Revoked {
		return "stays " + old.Status.Label() + " until you revoke it (after deploying the new key)"
	}
	return "keeps working until it expires, " + strings.TrimPrefix(model.ExpiryLabel(old.Expires, c.now()), "expires ")
}
