package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// ---- ⋯ action menu ----

type menuItem struct {
	label  string
	hotkey string
	act    func(a *App) (modal, tea.Cmd)
}

type actionMenu struct {
	label string // what the actions apply to, escaped
	items []menuItem
	list  listState
}

// newActionMenu lists the actions the key's status allows.
func newActionMenu(a *App, k *model.Key) *actionMenu {
	id, prefix := k.ID, k.Prefix
	m := &actionMenu{label: "Key " + quoteName(k.Name)}
	add := func(label, hot string, act func(a *App) (modal, tea.Cmd)) {
		m.items = append(m.items, menuItem{label, hot, act})
	}
	add("Open", "o", func(a *App) (modal, tea.Cmd) { a.openKey(id); return nil, nil })
	if k.Status != model.Revoked {
		add("Rename", "r", func(a *App) (modal, tea.Cmd) { return newNameModal(a, id), nil })
	}
	add("Copy prefix", "c", func(a *App) (modal, tea.Cmd) { return nil, a.copyCmd(prefix, "prefix", false) })
	switch k.Status {
	case model.Active:
		add("Disable", "d", func(a *App) (modal, tea.Cmd) { return newDisableModal(a, id), nil })
	case model.Disabled:
		add("Enable", "e", func(a *App) (modal, tea.Cmd) { return nil, a.enableCmd(id) })
	}
	if k.Status != model.Revoked {
		add("Rotate", "t", func(a *App) (modal, tea.Cmd) { return nil, a.rotateCmd(id) })
		add("Link domain", "l", func(a *App) (modal, tea.Cmd) { return newDomainPicker(a, id), nil })
		add("Revoke", "x", func(a *App) (modal, tea.Cmd) { return newRevokeModal(a, id), nil })
	}
	return m
}

// newDomainMenu lists a domain's actions.
func newDomainMenu(name string) *actionMenu {
	m := &actionMenu{label: "Domain " + model.Escape(name)}
	m.items = []menuItem{
		{"Open", "o", func(a *App) (modal, tea.Cmd) { a.openDomain(name); return nil, nil }},
		{"Link keys", "l", func(a *App) (modal, tea.Cmd) { return newKeyPicker(a, name), nil }},
		{"Copy name", "c", func(a *App) (modal, tea.Cmd) { return nil, a.copyCmd(name, "domain name", false) }},
		{"Delete domain", "D", func(a *App) (modal, tea.Cmd) { return newDeleteDomainModal(a, name), nil }},
	}
	return m
}

func (m *actionMenu) typing() bool { return false }

func (m *actionMenu) update(a *App, msg tea.Msg) (modal, tea.Cmd) {
	kp, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return m, nil
	}
	km := &a.km
	switch {
	case key.Matches(kp, km.Back), key.Matches(kp, km.Menu), key.Matches(kp, km.Quit):
		return nil, nil
	case key.Matches(kp, km.Up):
		m.list.move(-1, len(m.items), len(m.items))
	case key.Matches(kp, km.Down):
		m.list.move(1, len(m.items), len(m.items))
	case key.Matches(kp, km.Confirm):
		return m.items[m.list.cursor].act(a)
	default:
		for _, it := range m.items {
			if kp.String() == it.hotkey {
				return it.act(a)
			}
		}
	}
	return m, nil
}

// menuTop is the number of dialog lines above the first item.
const menuTop = 1

func (m *actionMenu) view(a *App, width int) (string, []string) {
	lines := []string{a.th.Faint.Render(fit(m.label, width))}
	for i, it := range m.items {
		row := fit(" "+it.hotkey+"  "+it.label, width)
		if i == m.list.cursor {
			row = a.th.Selected.Render(row)
		}
		lines = append(lines, row)
	}
	return "Actions", lines
}

func (m *actionMenu) help(a *App) helpSet {
	km := &a.km
	s := []key.Binding{km.Up, km.Down, with(km.Confirm, "run"), with(km.Back, "close")}
	return helpSet{short: s, full: [][]key.Binding{s}}
}

// ---- Create / Rename ----

// nameModal creates a key (keyID "") or renames one.
type nameModal struct {
	keyID   string
	old     string
	f       field
	busy    bool
	problem string
}

func newNameModal(a *App, keyID string) *nameModal {
	m := &nameModal{keyID: keyID}
	m.f.limit = 200
	if k, ok := a.data.key(keyID); ok {
		m.old = k.Name
		m.f.SetValue(k.Name)
	}
	return m
}

func (m *nameModal) typing() bool { return true }

func (m *nameModal) update(a *App, msg tea.Msg) (modal, tea.Cmd) {
	if kp, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(kp, a.km.Back):
			return nil, nil
		case key.Matches(kp, a.km.Confirm):
			if m.busy {
				return m, nil
			}
			name, err := model.NormalizeKeyName(m.f.Value())
			if err != nil {
				m.problem = describeErr(err)
				return m, nil
			}
			if m.keyID == "" {
				m.busy = true
				st, ctx := a.cfg.Store, a.sctx()
				return m, func() tea.Msg {
					k, secret, err := st.CreateKey(ctx, name, model.Policy{})
					return keyCreatedMsg{key: k, secret: secret, err: err}
				}
			}
			if name == m.old {
				return nil, nil
			}
			id := m.keyID
			return nil, a.op(func(ctx context.Context, st store.Store) opDoneMsg {
				k, err := st.RenameKey(ctx, id, name)
				if err != nil {
					return opDoneMsg{err: err}
				}
				return opDoneMsg{keys: []model.Key{k}, info: "Renamed to " + quoteName(k.Name) + "."}
			})
		}
	}
	if changed, _ := m.f.Update(msg); changed {
		m.problem = ""
	}
	return m, nil
}

func (m *nameModal) view(a *App, width int) (string, []string) {
	title := "Create API Key"
	if m.keyID != "" {
		title = "Rename " + quoteName(m.old)
	}
	lines := []string{"Name", "> " + m.f.View(width-2, true, &a.th)}
	name, err := model.NormalizeKeyName(m.f.Value())
	switch {
	case m.problem != "":
		lines = append(lines, a.th.Err.Render("✗ "+m.problem))
	case m.f.Value() == "":
		lines = append(lines, a.th.Faint.Render("e.g. “Production web” or “Mobile app (Android)”"))
	case err != nil:
		lines = append(lines, a.th.Err.Render("✗ "+describeErr(err)))
	case name != m.old && a.data.names[name] > 0:
		lines = append(lines, a.th.Warn.Render(fmt.Sprintf("⚠ %s already has this name: names need not be unique, but a distinct one avoids mix-ups.",
			plural(a.data.names[name], "key"))))
	default:
		lines = append(lines, a.th.Ok.Render("✓ ok"))
	}
	label := "Create"
	if m.keyID != "" {
		label = "Rename"
	}
	if m.busy {
		label = "Creating…"
	}
	lines = append(lines, "", a.button(label, true, err != nil)+"  "+a.button("Cancel", false, false))
	return title, lines
}

func (m *nameModal) help(a *App) helpSet {
	s := []key.Binding{with(a.km.Confirm, "save"), with(a.km.Back, "cancel")}
	return helpSet{short: s, full: [][]key.Binding{s}}
}

// ---- the secret, shown once ----

type secretModal struct {
	key      model.Key
	secret   string
	old      *model.Key
	copied   bool
	asking   bool
	note     string
	noteKind bannerKind
}

func newSecretModal(k model.Key, secret string, old *model.Key) *secretModal {
	return &secretModal{key: k, secret: secret, old: old}
}

func (m *secretModal) typing() bool { return false }

func (m *secretModal) update(a *App, msg tea.Msg) (modal, tea.Cmd) {
	kp, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return m, nil
	}
	km := &a.km
	if m.asking {
		switch {
		case key.Matches(kp, km.Yes):
			return m.close(a)
		case key.Matches(kp, km.No), key.Matches(kp, km.Back):
			m.asking = false
		case key.Matches(kp, km.Copy):
			m.asking = false
			return m, a.copyCmd(m.secret, "secret", true)
		}
		return m, nil
	}
	switch {
	case key.Matches(kp, km.Copy):
		return m, a.copyCmd(m.secret, "secret", true)
	case key.Matches(kp, km.Back), key.Matches(kp, km.Confirm), key.Matches(kp, km.Quit):
		if !m.copied {
			m.asking = true
			return m, nil
		}
		return m.close(a)
	}
	return m, nil
}

func (m *secretModal) close(a *App) (modal, tea.Cmd) {
	m.secret = "" // the only copy goes away with the dialog
	if m.old != nil {
		a.setBanner(bannerWarn, "Rotated: "+m.key.Prefix+" replaces "+m.old.Prefix+", which stays "+
			m.old.Status.Label()+" until you revoke it (after deploying the new key).")
	} else {
		a.setBanner(bannerInfo, "Created "+quoteName(m.key.Name)+" ("+m.key.Prefix+"). Press enter to link it to domains.")
	}
	return nil, nil
}

func (m *secretModal) view(a *App, width int) (string, []string) {
	t := &a.th
	title := "API key created"
	var lines []string
	if m.old != nil {
		title = "API key rotated"
		lines = append(lines,
			"New key "+m.key.Prefix+" "+quoteName(m.key.Name),
			"replaces "+m.old.Prefix+", which stays "+m.old.Status.Label()+": revoke it after deploying the new one.")
	} else {
		lines = append(lines, "Name   "+model.Escape(m.key.Name), "Prefix "+m.key.Prefix)
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
		lines = append(lines, t.BannerWarn.Render("Close without copying? The secret cannot be shown again."),
			a.button("y  Close", false, false)+"  "+a.button("n  Back", true, false))
	} else {
		lines = append(lines, a.button("c  Copy", !m.copied, false)+"  "+a.button("esc  Close", m.copied, false))
	}
	return title, lines
}

func (m *secretModal) help(a *App) helpSet {
	km := &a.km
	s := []key.Binding{with(km.Copy, "copy secret"), with(km.Back, "close")}
	if m.asking {
		s = []key.Binding{with(km.Yes, "close without copying"), with(km.No, "back")}
	}
	return helpSet{short: s, full: [][]key.Binding{s}}
}

// ---- confirmation ----

// confirmModal asks yes or no; yes runs onYes.
type confirmModal struct {
	title  string
	lines  []string
	yes    string
	danger bool
	onYes  func(a *App) tea.Cmd
	noFoc  bool // the Cancel button has the focus
}

func (m *confirmModal) typing() bool { return false }

func (m *confirmModal) update(a *App, msg tea.Msg) (modal, tea.Cmd) {
	kp, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return m, nil
	}
	km := &a.km
	switch {
	case key.Matches(kp, km.Yes):
		return nil, m.onYes(a)
	case key.Matches(kp, km.No), key.Matches(kp, km.Back), key.Matches(kp, km.Quit):
		return nil, nil
	case key.Matches(kp, km.Confirm):
		if m.noFoc {
			return nil, nil
		}
		return nil, m.onYes(a)
	case key.Matches(kp, km.Left), key.Matches(kp, km.Right), key.Matches(kp, km.NextTab):
		m.noFoc = !m.noFoc
	}
	return m, nil
}

func (m *confirmModal) view(a *App, width int) (string, []string) {
	lines := append([]string(nil), m.lines...)
	yes := a.button("y  "+m.yes, !m.noFoc, false)
	if m.danger && !m.noFoc {
		yes = a.th.ButtonDanger.Render("[ y  " + m.yes + " ]")
	}
	lines = append(lines, "", yes+"  "+a.button("n  Cancel", m.noFoc, false))
	return m.title, lines
}

func (m *confirmModal) help(a *App) helpSet {
	s := []key.Binding{with(a.km.Yes, strings.ToLower(m.yes)), with(a.km.No, "cancel")}
	return helpSet{short: s, full: [][]key.Binding{s}}
}

func newDisableModal(a *App, id string) modal {
	k, ok := a.data.key(id)
	if !ok {
		return nil
	}
	name, prefix := k.Name, k.Prefix
	return &confirmModal{
		title: "Disable " + quoteName(name) + "?",
		lines: []string{
			"Requests with " + prefix + "… will be refused (401 “api_key disabled”) until you enable the key again.",
			a.impactLine(id),
		},
		yes: "Disable", danger: true,
		onYes: func(a *App) tea.Cmd {
			return a.op(func(ctx context.Context, st store.Store) opDoneMsg {
				k, err := st.DisableKey(ctx, id)
				if err != nil {
					return opDoneMsg{err: err}
				}
				return opDoneMsg{keys: []model.Key{k}, info: "Disabled " + quoteName(k.Name) + ". Enable it from the ⋯ menu (.)."}
			})
		},
	}
}

func (a *App) enableCmd(id string) tea.Cmd {
	return a.op(func(ctx context.Context, st store.Store) opDoneMsg {
		k, err := st.EnableKey(ctx, id)
		if err != nil {
			return opDoneMsg{err: err}
		}
		return opDoneMsg{keys: []model.Key{k}, info: "Enabled " + quoteName(k.Name) + "."}
	})
}

func (a *App) rotateCmd(id string) tea.Cmd {
	st, ctx := a.cfg.Store, a.sctx()
	return func() tea.Msg {
		nk, secret, err := st.RotateKey(ctx, id, 0)
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

func newUnlinkModal(a *App, keyID, dom string) modal {
	k, ok := a.data.key(keyID)
	if !ok {
		return nil
	}
	name := k.Name
	lines := []string{"Requests from browsers on " + model.Escape(dom) + " will be refused for this key (403).", a.linkImpactLine(keyID, dom)}
	last := len(k.Domains) == 1 && k.Domains[0] == dom && k.Status != model.Revoked
	if last {
		lines = append(lines, "", a.th.BannerWarn.Render("⚠ This is the key's last domain: "+quoteName(name)+" ("+k.Prefix+
			") becomes UNRESTRICTED: any site or server holding the secret can use it."))
	}
	return &confirmModal{
		title: "Unlink " + model.Escape(dom) + " from " + quoteName(name) + "?",
		lines: lines, yes: "Unlink", danger: last,
		onYes: func(a *App) tea.Cmd {
			return a.op(func(ctx context.Context, st store.Store) opDoneMsg {
				k, err := st.UnlinkKey(ctx, keyID, dom)
				if err != nil {
					return opDoneMsg{err: err}
				}
				info := "Unlinked " + model.Escape(dom) + " from " + quoteName(k.Name) + "."
				if k.Unrestricted() {
					info += " The key is now unrestricted."
				}
				return opDoneMsg{keys: []model.Key{k}, domains: true, info: info}
			})
		},
	}
}

func newDeleteDomainModal(a *App, name string) modal {
	dm, ok := a.data.domain(name)
	if !ok {
		return nil
	}
	lines := []string{"Delete " + model.Escape(name) + "? It is linked to " + plural(len(dm.Keys), "key") +
		"; they will stop accepting browser requests from it.", a.domainImpactLine(name)}
	if un := a.data.keysOnlyLinkedTo(name); len(un) > 0 {
		lines = append(lines, "", a.th.BannerWarn.Render("⚠ These keys have no other domain and become UNRESTRICTED (usable from anywhere):"))
		for i, k := range un {
			if i == 8 {
				lines = append(lines, "  … and "+itoa(len(un)-8)+" more")
				break
			}
			lines = append(lines, "  • "+quoteName(k.Name)+" ("+k.Prefix+")")
		}
	}
	return &confirmModal{
		title: "Delete domain " + model.Escape(name) + "?",
		lines: lines, yes: "Delete", danger: true,
		onYes: func(a *App) tea.Cmd {
			return a.op(func(ctx context.Context, st store.Store) opDoneMsg {
				d, err := st.DeleteDomain(ctx, name)
				if err != nil {
					return opDoneMsg{err: err}
				}
				return opDoneMsg{deleted: d.Name, info: "Deleted " + model.Escape(d.Name) + " (unlinked from " + plural(len(d.Keys), "key") + ")."}
			})
		},
	}
}

// ---- Revoke ----

type revokeModal struct {
	keyID, name, prefix string
	f                   field
}

func newRevokeModal(a *App, id string) modal {
	k, ok := a.data.key(id)
	if !ok {
		return nil
	}
	m := &revokeModal{keyID: id, name: k.Name, prefix: k.Prefix}
	m.f.limit = 200
	return m
}

func (m *revokeModal) typing() bool  { return true }
func (m *revokeModal) matches() bool { return m.f.Value() == m.name }

func (m *revokeModal) update(a *App, msg tea.Msg) (modal, tea.Cmd) {
	if kp, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(kp, a.km.Back):
			return nil, nil
		case key.Matches(kp, a.km.Confirm):
			if !m.matches() {
				return m, nil
			}
			id, confirm := m.keyID, m.f.Value()
			return nil, a.op(func(ctx context.Context, st store.Store) opDoneMsg {
				k, err := st.RevokeKey(ctx, id, confirm)
				if err != nil {
					return opDoneMsg{err: err}
				}
				return opDoneMsg{keys: []model.Key{k}, info: "Revoked " + quoteName(k.Name) + " for good. Its row stays, greyed, for the record."}
			})
		}
	}
	m.f.Update(msg)
	return m, nil
}

func (m *revokeModal) view(a *App, width int) (string, []string) {
	t := &a.th
	lines := []string{
		t.BannerErr.Render("Revoking is permanent."),
		"Every request with " + m.prefix + "… will be refused (401 “api_key revoked”). The key can never be enabled, renamed, linked or rotated again.",
		a.impactLine(m.keyID),
		"",
		"Type the key's name to confirm: " + t.Bold.Render(model.Escape(m.name)),
		"> " + m.f.View(width-2, true, t),
	}
	ok := m.matches()
	if !ok && m.f.Value() != "" {
		lines = append(lines, t.Faint.Render("does not match yet"))
	} else {
		lines = append(lines, "")
	}
	rv := a.button("enter  Revoke", false, true)
	if ok {
		rv = t.ButtonDanger.Render("[ enter  Revoke ]")
	}
	lines = append(lines, rv+"  "+a.button("esc  Cancel", false, false))
	return "Revoke " + quoteName(m.name) + "?", lines
}

func (m *revokeModal) help(a *App) helpSet {
	s := []key.Binding{with(a.km.Confirm, "revoke (when the name matches)"), with(a.km.Back, "cancel")}
	return helpSet{short: s, full: [][]key.Binding{s}}
}

// ---- Add domain ----

type domainModal struct {
	f         field
	busy      bool
	serverErr string
}

func newDomainModal() *domainModal {
	m := &domainModal{}
	m.f.limit = 300
	return m
}

func (m *domainModal) typing() bool { return true }

func (m *domainModal) update(a *App, msg tea.Msg) (modal, tea.Cmd) {
	if kp, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(kp, a.km.Back):
			return nil, nil
		case key.Matches(kp, a.km.Confirm):
			if m.busy {
				return m, nil
			}
			if _, err := model.NormalizeDomain(m.f.Value()); err != nil {
				return m, nil // the reason is on screen already
			}
			m.busy = true
			return m, a.addDomainCmd(m.f.Value(), "", nil)
		}
	}
	if changed, _ := m.f.Update(msg); changed {
		m.serverErr, m.busy = "", false
	}
	return m, nil
}

func (a *App) addDomainCmd(input, link string, other []string) tea.Cmd {
	st, ctx := a.cfg.Store, a.sctx()
	return func() tea.Msg {
		d, err := st.AddDomain(ctx, input)
		if errors.Is(err, store.ErrDomainExists) {
			return domainAddedMsg{dom: d, existed: true, link: link, other: other}
		}
		return domainAddedMsg{dom: d, err: err, link: link, other: other}
	}
}

// domainVerdict explains what adding input would do, in one line.
func (a *App) domainVerdict(input string) (string, bool) {
	t := &a.th
	if strings.TrimSpace(input) == "" {
		return t.Faint.Render("e.g. mysite.tn, app.mysite.tn, localhost, 127.0.0.1, ::1"), false
	}
	ascii, err := model.NormalizeDomain(input)
	if err != nil {
		return t.Err.Render("✗ " + describeErr(err)), false
	}
	if _, ok := a.data.domain(ascii); ok {
		return t.Warn.Render("• " + model.Escape(ascii) + " is already in the list"), true
	}
	msg := "✓ valid: stored as " + model.Escape(ascii)
	if uni := model.DomainUnicode(ascii); uni != ascii {
		msg += " (" + model.Escape(uni) + ")"
		if model.MixedScript(uni) {
			return t.Warn.Render(msg + " ⚠ mixes scripts: a look-alike of another name?"), true
		}
	}
	return t.Ok.Render(msg), true
}

func (m *domainModal) view(a *App, width int) (string, []string) {
	verdict, ok := a.domainVerdict(m.f.Value())
	lines := []string{"Domain (a host name: no scheme, path, port or wildcard)", "> " + m.f.View(width-2, true, &a.th), verdict}
	if m.serverErr != "" {
		lines = append(lines, a.th.Err.Render("✗ "+m.serverErr))
	}
	lines = append(lines, "", a.button("enter  Add", true, !ok)+"  "+a.button("esc  Cancel", false, false))
	return "Add Domain", lines
}

func (m *domainModal) help(a *App) helpSet {
	s := []key.Binding{with(a.km.Confirm, "add"), with(a.km.Back, "cancel")}
	return helpSet{short: s, full: [][]key.Binding{s}}
}
