package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/ui/frame"
	"github.com/tmaps/console/ui/text"
	"github.com/tmaps/console/ui/textfield"
)

// Dialogs are pages shown in a frame over the screen (frame.Box); they get
// every key first. SetSize gives them the frame's inner width and the most
// lines they may have; Click gets the clicked line of their View.

// dialogBase is what most dialogs share.
type dialogBase struct {
	c    *common
	w, h int
}

func (d *dialogBase) SetSize(w, h int)       { d.w, d.h = w, h }
func (d *dialogBase) Scroll(int) tea.Cmd     { return nil }
func (d *dialogBase) Click(int, int) tea.Cmd { return nil }

// close closes the dialog shown (the caller's).
func (d *dialogBase) close() { d.c.shell.dialog(nil) }

func (d *dialogBase) button(label string, focused, off bool) string {
	return frame.Button(d.c.th, label, focused, off)
}

// ---- ⋯ action menu ----

// menuDialog lists the actions that apply to a key or a domain; each runs
// with its letter, enter, or a click. The letter of an action that does
// not apply says why.
type menuDialog struct {
	dialogBase
	label string   // what the actions apply to, escaped
	acts  []action // every action, for their letters
	items []action // the actions that apply, listed
	cur   int
}

func newMenu(c *common, label string, acts []action) *menuDialog {
	m := &menuDialog{dialogBase: dialogBase{c: c}, label: label, acts: acts}
	for _, a := range acts {
		if a.why() == "" {
			m.items = append(m.items, a)
		}
	}
	return m
}

// newKeyMenu lists the actions k's status allows.
func newKeyMenu(c *common, k *model.Key) *menuDialog {
	return newMenu(c, "Key "+text.Quote(k.Name), c.keyActions(k))
}

// newDomainMenu lists a domain's actions.
func newDomainMenu(c *common, name string) *menuDialog {
	return newMenu(c, "Domain "+text.Safe(name), c.domainActions(name))
}

func (m *menuDialog) Title() string { return "Actions" }
func (m *menuDialog) Typing() bool  { return false }

// menuTop is the number of dialog lines above the first item.
const menuTop = 1

func (m *menuDialog) run(a action) tea.Cmd {
	m.close()
	if why := a.why(); why != "" {
		m.c.warn(why)
		return nil
	}
	return a.run()
}

func (m *menuDialog) Update(msg tea.Msg) tea.Cmd {
	kp, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	c := m.c
	switch {
	case key.Matches(kp, c.km.Dialog.Cancel), key.Matches(kp, c.km.Keys.Menu), key.Matches(kp, c.km.Global.Quit):
		m.close()
	case key.Matches(kp, c.km.List.Up):
		m.cur = max(0, m.cur-1)
	case key.Matches(kp, c.km.List.Down):
		m.cur = min(len(m.items)-1, m.cur+1)
	case key.Matches(kp, c.km.Dialog.Confirm):
		return m.run(m.items[m.cur])
	default:
		for _, a := range m.acts {
			if key.Matches(kp, a.bind) {
				return m.run(a)
			}
		}
	}
	return nil
}

func (m *menuDialog) Click(x, y int) tea.Cmd {
	if y < 0 {
		m.close() // a click outside closes the menu
		return nil
	}
	if i := y - menuTop; i >= 0 && i < len(m.items) {
		return m.run(m.items[i])
	}
	return nil
}

func (m *menuDialog) View() []string {
	t := m.c.th
	lines := []string{t.Faint.Render(text.Fit(m.label, m.w))}
	for i, a := range m.items {
		row := text.Fit(" "+a.bind.Help().Key+"  "+a.label, m.w)
		if i == m.cur {
			row = t.Selected.Render(row)
		}
		lines = append(lines, row)
	}
	return lines
}

func (m *menuDialog) ShortHelp() []key.Binding {
	km := m.c.km
	return []key.Binding{km.List.Up, km.List.Down, withHelp(km.Dialog.Confirm, "run"), withHelp(km.Dialog.Cancel, "close")}
}

func (m *menuDialog) FullHelp() [][]key.Binding {
	return [][]key.Binding{m.ShortHelp(), bindings(m.acts)}
}

// ---- Create / Rename ----

// nameDialog creates a key (keyID "") or renames one. Creating also asks
// where the key will be used (browser, server, mobile: the seed's advice
// follows the choice) and offers an expiry; tab moves between the three.
type nameDialog struct {
	dialogBase
	keyID   string
	old     string
	f       textfield.Model
	busy    bool
	problem string
	focus   int // 0 the name, 1 the kind, 2 the expiry (creating only)
	kind    int // index in model.Kinds
	exp     int // index in expiries
}

// expiries are the expiries the create dialog offers.
var expiries = []struct {
	d     time.Duration
	label string
}{
	{0, "never"}, {30 * 24 * time.Hour, "30 days"}, {90 * 24 * time.Hour, "90 days"}, {365 * 24 * time.Hour, "1 year"},
}

func newNameDialog(c *common, keyID string) *nameDialog {
	m := &nameDialog{dialogBase: dialogBase{c: c}, keyID: keyID, f: textfield.New(200)}
	if k, ok := c.data.key(keyID); ok {
		m.old = k.Name
		m.f.SetValue(k.Name)
	}
	return m
}

func (m *nameDialog) Typing() bool { return true }

func (m *nameDialog) Title() string {
	if m.keyID != "" {
		return "Rename " + text.Quote(m.old)
	}
	return "Create API Key"
}

func (m *nameDialog) Update(msg tea.Msg) tea.Cmd {
	c := m.c
	switch msg := msg.(type) {
	case keyCreatedMsg:
		if msg.err != nil && c.shell.isDialog(m) {
			m.busy = false // keep the dialog and its text: the user may retry
		}
		return nil
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, c.km.Dialog.Cancel):
			m.close()
			return nil
		case key.Matches(msg, c.km.Dialog.Confirm):
			return m.submit()
		case m.keyID == "" && msg.String() == "tab":
			m.focus = (m.focus + 1) % 3
			return nil
		case m.keyID == "" && msg.String() == "shift+tab":
			m.focus = (m.focus + 2) % 3
			return nil
		case m.focus > 0:
			step := 0
			switch msg.String() {
			case "left", "h", "up", "k":
				step = -1
			case "right", "l", "down", "j", "space":
				step = 1
			}
			if m.focus == 1 {
				m.kind = (m.kind + step + len(model.Kinds)) % len(model.Kinds)
			} else {
				m.exp = (m.exp + step + len(expiries)) % len(expiries)
			}
			return nil
		}
	}
	if m.focus == 0 && m.f.Update(msg) {
		m.problem = ""
	}
	return nil
}

// policy is the policy the create dialog gives the new key.
func (m *nameDialog) policy() model.Policy {
	p := model.Policy{Kind: model.Kinds[m.kind]}
	if d := expiries[m.exp].d; d > 0 {
		p.Expires = m.c.now().Add(d).UTC().Truncate(time.Second)
	}
	return p
}

func (m *nameDialog) submit() tea.Cmd {
	c := m.c
	if m.busy {
		return nil
	}
	name, err := model.NormalizeKeyName(m.f.Value())
	if err != nil {
		m.problem = describeErr(err)
		return nil
	}
	if m.keyID == "" {
		m.busy = true
		st, ctx, p := c.cfg.Store, c.sctx(), m.policy()
		return func() tea.Msg {
			k, secret, err := st.CreateKey(ctx, name, p)
			return keyCreatedMsg{key: k, secret: secret, err: err}
		}
	}
	m.close()
	if name == m.old {
		return nil
	}
	id := m.keyID
	return c.op(func(ctx context.Context, st store.Store) opDoneMsg {
		k, err := st.RenameKey(ctx, id, name)
		if err != nil {
			return opDoneMsg{err: err}
		}
		return opDoneMsg{keys: []model.Key{k}, info: "Renamed to " + text.Quote(k.Name) + "."}
	})
}

func (m *nameDialog) View() []string {
	c, t := m.c, m.c.th
	nameLabel := "Name"
	if m.keyID == "" && m.focus == 0 {
		nameLabel = t.Bold.Render("› Name")
	}
	lines := []string{nameLabel, "> " + m.f.View(m.w-2, m.focus == 0, t.Selected)}
	name, err := model.NormalizeKeyName(m.f.Value())
	switch {
	case m.problem != "":
		lines = append(lines, t.Err.Render("✗ "+m.problem))
	case m.f.Value() == "":
		lines = append(lines, t.Faint.Render("e.g. “Production web” or “Mobile app (Android)”"))
	case err != nil:
		lines = append(lines, t.Err.Render("✗ "+describeErr(err)))
	case name != m.old && c.data.named(name) > 0:
		lines = append(lines, t.Warn.Render(fmt.Sprintf("⚠ %s already has this name: names need not be unique, but a distinct one avoids mix-ups.",
			text.Plural(c.data.named(name), "key"))))
	default:
		lines = append(lines, t.Ok.Render("✓ ok"))
	}
	if m.keyID == "" {
		lines = append(lines, m.choices()...)
	}
	label := "enter  Create"
	if m.keyID != "" {
		label = "enter  Rename"
	}
	if m.busy {
		label = "Creating…"
	}
	return append(lines, "", m.button(label, true, err != nil)+"  "+m.button("esc  Cancel", false, false))
}

// choices are the create dialog's kind and expiry, with the seed's advice
// for the kind chosen.
func (m *nameDialog) choices() []string {
	t := m.c.th
	radio := func(focused bool, label string, opts []string, cur int) []string {
		var b []string
		for i, o := range opts {
			mark := "( ) "
			if i == cur {
				mark = "(•) "
			}
			if i == cur && focused {
				b = append(b, t.Bold.Render(mark+o))
			} else {
				b = append(b, mark+o)
			}
		}
		if focused {
			label = t.Bold.Render("› " + label)
		}
		return []string{label, "  " + strings.Join(b, "  ")}
	}
	var kinds, exps []string
	for _, k := range model.Kinds {
		kinds = append(kinds, k.Label())
	}
	for _, e := range expiries {
		exps = append(exps, e.label)
	}
	// On a short window: no blank line, and the advice on one line.
	compact := m.h > 0 && m.h < 16
	var lines []string
	if !compact {
		lines = append(lines, "")
	}
	lines = append(lines, radio(m.focus == 1, "Where will the key be used? (tab, then ←/→)", kinds, m.kind)...)
	kd := model.Kinds[m.kind]
	advice := text.Wrap(kd.Label()+" key: "+kd.Advice()+".", m.w)
	if compact {
		advice = []string{text.Fit(kd.Label()+" key: "+kd.Advice()+".", m.w)}
	}
	for _, l := range advice {
		lines = append(lines, t.Faint.Render(l))
	}
	exp := radio(m.focus == 2, "Expires", exps, m.exp)
	if compact {
		exp = radio(m.focus == 2, "Expires", []string{"never", "30 d", "90 d", "1 y"}, m.exp)
		exp = []string{exp[0] + exp[1]}
	}
	return append(lines, exp...)
}

func (m *nameDialog) ShortHelp() []key.Binding {
	km := &m.c.km.Dialog
	if m.keyID == "" {
		return []key.Binding{withHelp(km.Confirm, "create"), withHelp(m.c.km.Global.NextTab, "next field"), km.Cancel}
	}
	return []key.Binding{withHelp(km.Confirm, "save"), km.Cancel}
}

func (m *nameDialog) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }

// ---- the secret, shown once ----

type secretDialog struct {
	dialogBase
	key      model.Key
	secret   string
	old      *model.Key
	copied   bool
	asking   bool
	note     string
	noteKind bannerKind
}

func newSecretDialog(c *common, k model.Key, secret string, old *model.Key) *secretDialog {
	return &secretDialog{dialogBase: dialogBase{c: c}, key: k, secret: secret, old: old}
}

func (m *secretDialog) Typing() bool { return false }

func (m *secretDialog) Title() string {
	if m.old != nil {
		return "API key rotated"
	}
	return "API key created"
}

func (m *secretDialog) Update(msg tea.Msg) tea.Cmd {
	c := m.c
	switch msg := msg.(type) {
	case copiedMsg:
		if msg.toSecret && c.shell.isDialog(m) {
			m.copied = true
			m.note, m.noteKind = copyReport(msg)
		}
		return nil
	case tea.KeyPressMsg:
		km := &c.km.Dialog
		if m.asking {
			switch {
			case key.Matches(msg, km.Yes):
				m.finish()
			case key.Matches(msg, km.No), key.Matches(msg, km.Cancel):
				m.asking = false
			case key.Matches(msg, km.Copy):
				m.asking = false
				return c.copyCmd(m.secret, "secret", true)
			}
			return nil
		}
		switch {
		case key.Matches(msg, km.Copy):
			return c.copyCmd(m.secret, "secret", true)
		case key.Matches(msg, km.Cancel), key.Matches(msg, km.Confirm), key.Matches(msg, c.km.Global.Quit):
			if !m.copied {
				m.asking = true
				return nil
			}
			m.finish()
		}
	}
	return nil
}

func (m *secretDialog) finish() {
	m.secret = "" // the only copy goes away with the dialog
	m.close()
	if m.old != nil {
		m.c.warn("Rotated: " + m.key.Prefix + " replaces " + m.old.Prefix + ", which " + m.c.graceNote(m.old) + ".")
	} else {
		switch m.key.Kind {
		case model.KindServer:
			m.c.info("Created " + text.Quote(m.key.Name) + " (" + m.key.Prefix + "). A server key gets no domain: press enter, then p to limit it to your servers' addresses.")
		case model.KindMobile:
			m.c.info("Created " + text.Quote(m.key.Name) + " (" + m.key.Prefix + "). A mobile key gets no domain; watch its usage and rotate it with each release.")
		default:
			m.c.info("Created " + text.Quote(m.key.Name) + " (" + m.key.Prefix + "). Press enter to link it to domains.")
		}
	}
}

func (m *secretDialog) View() []string {
	t := m.c.th
	var lines []string
	if m.old != nil {
		lines = append(lines,
			"New key "+m.key.Prefix+" "+text.Quote(m.key.Name),
			"replaces "+m.old.Prefix+", which "+m.c.graceNote(m.old)+".")
	} else {
		lines = append(lines, "Name   "+text.Safe(m.key.Name), "Prefix "+m.key.Prefix)
	}
	lines = append(lines, "", "  "+t.Secret.Render(m.secret), "",
		t.Warn.Render("⚠ This secret will not be shown again. Copy it now."))
	if m.note != "" {
		st := t.Ok
		if m.noteKind == bannerWarn {
			st = t.Warn
		}
		lines = append(lines, st.Render(m.note))
	}
	lines = append(lines, "")
	if m.asking {
		return append(lines, t.BannerWarn.Render("Close without copying? The secret cannot be shown again."),
			m.button("y  Close", false, false)+"  "+m.button("n  Back", true, false))
	}
	return append(lines, m.button("c  Copy", !m.copied, false)+"  "+m.button("esc  Close", m.copied, false))
}

func (m *secretDialog) ShortHelp() []key.Binding {
	km := &m.c.km.Dialog
	if m.asking {
		return []key.Binding{withHelp(km.Yes, "close without copying"), withHelp(km.No, "back")}
	}
	return []key.Binding{withHelp(km.Copy, "copy secret"), withHelp(km.Cancel, "close")}
}

func (m *secretDialog) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }

// ---- confirmation ----

// confirmDialog asks yes or no; yes runs onYes.
type confirmDialog struct {
	c      *common
	w, h   int
	title  string
	lines  []string
	yes    string
	danger bool
	onYes  func() tea.Cmd
	noFoc  bool // the Cancel button has the focus
}

func (m *confirmDialog) Title() string             { return m.title }
func (m *confirmDialog) Typing() bool              { return false }
func (m *confirmDialog) SetSize(w, h int)          { m.w, m.h = w, h }
func (m *confirmDialog) Scroll(int) tea.Cmd        { return nil }
func (m *confirmDialog) Click(x, y int) tea.Cmd    { return nil }
func (m *confirmDialog) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }

func (m *confirmDialog) Update(msg tea.Msg) tea.Cmd {
	kp, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	c := m.c
	km := &c.km.Dialog
	switch {
	case key.Matches(kp, km.Yes):
		c.shell.dialog(nil)
		return m.onYes()
	case key.Matches(kp, km.No), key.Matches(kp, km.Cancel), key.Matches(kp, c.km.Global.Quit):
		c.shell.dialog(nil)
	case key.Matches(kp, km.Confirm):
		c.shell.dialog(nil)
		if m.noFoc {
			return nil
		}
		return m.onYes()
	case key.Matches(kp, km.Focus):
		m.noFoc = !m.noFoc
	}
	return nil
}

func (m *confirmDialog) View() []string {
	th := m.c.th
	lines := append([]string(nil), m.lines...)
	yes := frame.Button(th, "y  "+m.yes, !m.noFoc, false)
	if m.danger && !m.noFoc {
		yes = frame.Danger(th, "y  "+m.yes)
	}
	return append(lines, "", yes+"  "+frame.Button(th, "n  Cancel", m.noFoc, false))
}

func (m *confirmDialog) ShortHelp() []key.Binding {
	km := &m.c.km.Dialog
	return []key.Binding{withHelp(km.Yes, strings.ToLower(m.yes)), withHelp(km.No, "cancel")}
}

func newDisableDialog(c *common, id string) Page {
	k, ok := c.data.key(id)
	if !ok {
		return nil
	}
	name, prefix := k.Name, k.Prefix
	return &confirmDialog{
		c:     c,
		title: "Disable " + text.Quote(name) + "?",
		lines: []string{
			"Requests with " + prefix + "… will be refused (401 “api_key disabled”) until you enable the key again.",
			c.impactLine(id),
		},
		yes: "Disable", danger: true,
		onYes: func() tea.Cmd {
			return c.op(func(ctx context.Context, st store.Store) opDoneMsg {
				k, err := st.DisableKey(ctx, id)
				if err != nil {
					return opDoneMsg{err: err}
				}
				return opDoneMsg{keys: []model.Key{k}, info: "Disabled " + text.Quote(k.Name) + ". Enable it from the ⋯ menu (.)."}
			})
		},
	}
}

func (c *common) enableCmd(id string) tea.Cmd {
	return c.op(func(ctx context.Context, st store.Store) opDoneMsg {
		k, err := st.EnableKey(ctx, id)
		if err != nil {
			return opDoneMsg{err: err}
		}
		return opDoneMsg{keys: []model.Key{k}, info: "Enabled " + text.Quote(k.Name) + "."}
	})
}

// rotateCmd rotates key id; the old key expires after grace (0: never).
func (c *common) rotateCmd(id string, grace time.Duration) tea.Cmd {
	st, ctx := c.cfg.Store, c.sctx()
	return func() tea.Msg {
		nk, secret, err := st.RotateKey(ctx, id, grace)
		if err != nil {
			return keyCreatedMsg{err: err}
		}
		old, err := st.Key(ctx, id)
		if err != nil {
			return keyCreatedMsg{key: nk, secret: secret}
		}
		return keyCreatedMsg{key: nk, secret: secret, old: &old}
	}
}

func newUnlinkDialog(c *common, keyID, dom string) Page {
	k, ok := c.data.key(keyID)
	if !ok {
		return nil
	}
	name := k.Name
	first := "Requests from browsers on " + domainLabel(dom) + " will be refused for this key (403)."
	if k.Status == model.Revoked {
		first = text.Quote(name) + " is revoked: it refuses every request already. Unlinking only tidies its record."
	}
	lines := []string{first, c.linkImpactLine(keyID, dom)}
	last := len(k.Domains) == 1 && k.Domains[0] == dom && k.Status != model.Revoked
	if last {
		lines = append(lines, "", c.th.BannerWarn.Render("⚠ This is the key's last domain: "+text.Quote(name)+" ("+k.Prefix+
			") becomes UNRESTRICTED: any site or server holding the secret can use it."))
	}
	return &confirmDialog{
		c:     c,
		title: "Unlink " + text.Safe(dom) + " from " + text.Quote(name) + "?",
		lines: lines, yes: "Unlink", danger: last,
		onYes: func() tea.Cmd {
			return c.op(func(ctx context.Context, st store.Store) opDoneMsg {
				k, err := st.UnlinkKey(ctx, keyID, dom)
				if err != nil {
					return opDoneMsg{err: err}
				}
				info := "Unlinked " + domainLabel(dom) + " from " + text.Quote(k.Name) + "."
				if k.Unrestricted() && k.Status != model.Revoked {
					info += " The key is now unrestricted."
				}
				return opDoneMsg{keys: []model.Key{k}, domains: true, info: info}
			})
		},
	}
}

func newDeleteDomainDialog(c *common, name string) Page {
	dm, ok := c.data.domain(name)
	if !ok {
		return nil
	}
	first := "Delete " + domainLabel(name) + "? It is linked to no key: no key's access changes."
	switch len(dm.Keys) {
	case 0:
	case 1:
		first = "Delete " + domainLabel(name) + "? It is linked to 1 key, which will stop accepting browser requests from it."
	default:
		first = "Delete " + domainLabel(name) + "? It is linked to " + text.Plural(len(dm.Keys), "key") + ", which will stop accepting browser requests from it."
	}
	lines := []string{first, c.domainImpactLine(name)}
	if un := c.data.keysOnlyLinkedTo(name); len(un) > 0 {
		lines = append(lines, "", c.th.BannerWarn.Render("⚠ These keys have no other domain and become UNRESTRICTED (usable from anywhere):"))
		for i, k := range un {
			if i == 8 {
				lines = append(lines, "  … and "+text.Thousands(len(un)-8)+" more")
				break
			}
			lines = append(lines, "  • "+text.Quote(k.Name)+" ("+k.Prefix+")")
		}
	}
	return &confirmDialog{
		c:     c,
		title: "Delete domain " + text.Safe(name) + "?",
		lines: lines, yes: "Delete", danger: true,
		onYes: func() tea.Cmd {
			return c.op(func(ctx context.Context, st store.Store) opDoneMsg {
				d, err := st.DeleteDomain(ctx, name)
				if err != nil {
					return opDoneMsg{err: err}
				}
				return opDoneMsg{deleted: d.Name, info: "Deleted " + domainLabel(d.Name) + " (unlinked from " + text.Plural(len(d.Keys), "key") + ")."}
			})
		},
	}
}

// ---- Revoke ----

type revokeDialog struct {
	dialogBase
	keyID, name, prefix string
	f                   textfield.Model
}

func newRevokeDialog(c *common, id string) Page {
	k, ok := c.data.key(id)
	if !ok {
		return nil
	}
	return &revokeDialog{dialogBase: dialogBase{c: c}, keyID: id, name: k.Name, prefix: k.Prefix, f: textfield.New(200)}
}

func (m *revokeDialog) Title() string { return "Revoke " + text.Quote(m.name) + "?" }
func (m *revokeDialog) Typing() bool  { return true }
func (m *revokeDialog) matches() bool { return m.f.Value() == m.name }

func (m *revokeDialog) Update(msg tea.Msg) tea.Cmd {
	c := m.c
	if kp, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(kp, c.km.Dialog.Cancel):
			m.close()
			return nil
		case key.Matches(kp, c.km.Dialog.Confirm):
			if !m.matches() {
				return nil
			}
			m.close()
			id, confirm := m.keyID, m.f.Value()
			return c.op(func(ctx context.Context, st store.Store) opDoneMsg {
				k, err := st.RevokeKey(ctx, id, confirm)
				if err != nil {
					return opDoneMsg{err: err}
				}
				return opDoneMsg{keys: []model.Key{k}, info: "Revoked " + text.Quote(k.Name) + " for good. Its row stays, greyed, for the record."}
			})
		}
	}
	m.f.Update(msg)
	return nil
}

func (m *revokeDialog) View() []string {
	c, t := m.c, m.c.th
	lines := []string{
		t.BannerErr.Render("Revoking is permanent."),
		"Every request with " + m.prefix + "… will be refused (401 “api_key revoked”). The key can never be enabled, renamed, linked or rotated again.",
		c.impactLine(m.keyID),
		"",
		"Type the key's name to confirm: " + t.Bold.Render(text.Safe(m.name)),
		"> " + m.f.View(m.w-2, true, t.Selected),
	}
	ok := m.matches()
	if !ok && m.f.Value() != "" {
		lines = append(lines, t.Faint.Render("does not match yet"))
	} else {
		lines = append(lines, "")
	}
	rv := m.button("enter  Revoke", false, true)
	if ok {
		rv = frame.Danger(t, "enter  Revoke")
	}
	return append(lines, rv+"  "+m.button("esc  Cancel", false, false))
}

func (m *revokeDialog) ShortHelp() []key.Binding {
	km := &m.c.km.Dialog
	return []key.Binding{withHelp(km.Confirm, "revoke (when the name matches)"), km.Cancel}
}

func (m *revokeDialog) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }

// ---- Add domain ----

type domainDialog struct {
	dialogBase
	f         textfield.Model
	busy      bool
	serverErr string
}

func newDomainDialog(c *common) *domainDialog {
	return &domainDialog{dialogBase: dialogBase{c: c}, f: textfield.New(300)}
}

func (m *domainDialog) Title() string { return "Add Domain" }
func (m *domainDialog) Typing() bool  { return true }

func (m *domainDialog) Update(msg tea.Msg) tea.Cmd {
	c := m.c
	switch msg := msg.(type) {
	case domainAddedMsg:
		if !msg.dialog || !c.shell.isDialog(m) {
			return nil
		}
		if msg.err != nil && !msg.existed {
			// stay open so the user can fix the name
			m.serverErr, m.busy = describeErr(msg.err), false
			return nil
		}
		m.close()
		return nil
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, c.km.Dialog.Cancel):
			m.close()
			return nil
		case key.Matches(msg, c.km.Dialog.Confirm):
			if m.busy {
				return nil
			}
			if _, err := model.NormalizeDomain(m.f.Value()); err != nil {
				return nil // the reason is on screen already
			}
			m.busy = true
			return c.addDomainCmd(m.f.Value(), true, "", nil)
		}
	}
	if m.f.Update(msg) {
		m.serverErr, m.busy = "", false
	}
	return nil
}

// domainVerdict explains what adding input would do, in one line.
func (c *common) domainVerdict(input string) (string, bool) {
	t := c.th
	if strings.TrimSpace(input) == "" {
		return t.Faint.Render("e.g. mysite.tn, app.mysite.tn, localhost, 127.0.0.1, ::1"), false
	}
	ascii, err := model.NormalizeDomain(input)
	if err != nil {
		return t.Err.Render("✗ " + describeErr(err)), false
	}
	if _, ok := c.data.domain(ascii); ok {
		return t.Warn.Render("• " + text.Safe(ascii) + " is already in the list"), true
	}
	msg := "✓ valid: stored as " + text.Safe(ascii)
	if uni := model.DomainUnicode(ascii); uni != ascii {
		msg += " (" + text.Safe(uni) + ")"
		if model.MixedScript(uni) {
			return t.Warn.Render(msg + " ⚠ mixes scripts: a look-alike of another name?"), true
		}
	}
	return t.Ok.Render(msg), true
}

func (m *domainDialog) View() []string {
	c := m.c
	verdict, ok := c.domainVerdict(m.f.Value())
	lines := []string{"Domain (a host name: no scheme, path, port or wildcard)", "> " + m.f.View(m.w-2, true, c.th.Selected), verdict}
	if m.serverErr != "" {
		lines = append(lines, c.th.Err.Render("✗ "+m.serverErr))
	}
	return append(lines, "", m.button("enter  Add", true, !ok)+"  "+m.button("esc  Cancel", false, false))
}

func (m *domainDialog) ShortHelp() []key.Binding {
	km := &m.c.km.Dialog
	return []key.Binding{withHelp(km.Confirm, "add"), km.Cancel}
}

func (m *domainDialog) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }
