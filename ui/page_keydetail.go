package ui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/ui/list"
	"github.com/tmaps/console/ui/text"
)

// keyDetail is a key's screen: its facts and its Authorized Domains section.
type keyDetail struct {
	c    *common
	w, h int
	top  int // rows above the domain list: drawn and clicked
	xX   int // column of each domain's × (unlink): drawn and clicked
	id   string
	key  model.Key // a copy, refreshed from the dataset
	gone bool
	list list.Model // over key.Domains
}

func newKeyDetail(c *common, id string) *keyDetail {
	d := &keyDetail{c: c, id: id}
	d.refresh()
	return d
}

func (d *keyDetail) identity() string { return "key:" + d.id }
func (d *keyDetail) Title() string    { return d.key.Name }
func (d *keyDetail) Typing() bool     { return false }

func (d *keyDetail) SetSize(w, h int) {
	d.w, d.h = w, h
	d.xX = max(0, w-3)
	// fewer rows above the list on a short window, so the list keeps some room
	d.top = 13
	if h < 16 {
		d.top = 10
	}
	d.list.SetHeight(h - d.top)
}

func (d *keyDetail) refresh() {
	if k, ok := d.c.data.key(d.id); ok {
		d.key = k.Clone()
		d.gone = false
	} else {
		d.gone = true
	}
	d.list.SetLen(len(d.key.Domains))
}

func (d *keyDetail) selectedDomain() string {
	if d.list.Cursor < 0 || d.list.Cursor >= len(d.key.Domains) {
		return ""
	}
	return d.key.Domains[d.list.Cursor]
}

func (d *keyDetail) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case dataChangedMsg:
		d.refresh()
	case tea.KeyPressMsg:
		return d.onKey(msg)
	}
	return nil
}

func (d *keyDetail) onKey(msg tea.KeyPressMsg) tea.Cmd {
	c := d.c
	km := &c.km.KeyDetail
	if d.list.Navigate(&c.km.List, msg) {
		return nil
	}
	switch {
	case key.Matches(msg, c.km.Dialog.Cancel):
		c.shell.back()
	case d.gone:
		return nil
	case key.Matches(msg, c.km.Keys.Menu):
		c.shell.dialog(newKeyMenu(c, &d.key))
	case key.Matches(msg, c.km.Key.Link):
		if c.refuse(model.OpKeysLink) {
			return nil
		}
		if d.key.Status == model.Revoked {
			c.warn("A revoked key cannot be linked to domains.")
			return nil
		}
		c.shell.dialog(newDomainPicker(c, d.key.ID))
	case key.Matches(msg, km.Unlink):
		if dom := d.selectedDomain(); dom != "" && !c.refuse(model.OpKeysUnlink) {
			c.shell.dialog(newUnlinkDialog(c, d.key.ID, dom))
		}
	case key.Matches(msg, km.OpenDomain):
		if dom := d.selectedDomain(); dom != "" {
			c.openDomain(dom)
		}
	case key.Matches(msg, km.Test):
		c.shell.dialog(newTestDialog(c, d.key.ID))
	default:
		// the menu's letters act on the key (t tests a request here:
		// rotate from the menu)
		cmd, _ := c.runAction(d.actions(), msg)
		return cmd
	}
	return nil
}

// actions are the key's actions that its screen's letters run.
func (d *keyDetail) actions() []action {
	var out []action
	for _, a := range d.c.keyActions(&d.key) {
		if a.label != "Rotate" && a.label != "Open" && a.label != "Link domain" {
			out = append(out, a)
		}
	}
	return out
}

// Click selects the clicked domain; its × unlinks it (after the same
// confirmation as u).
func (d *keyDetail) Click(x, y int) tea.Cmd {
	r, ok := d.list.RowAt(y - d.top)
	if !ok {
		return nil
	}
	d.list.Select(r)
	if x >= d.xX-1 && x <= d.xX+1 && !d.gone && !d.c.refuse(model.OpKeysUnlink) {
		d.c.shell.dialog(newUnlinkDialog(d.c, d.key.ID, d.key.Domains[r]))
	}
	return nil
}

func (d *keyDetail) Scroll(delta int) tea.Cmd { d.list.Move(delta); return nil }

func (d *keyDetail) ShortHelp() []key.Binding {
	c := d.c
	km := &c.km.KeyDetail
	short := []key.Binding{withHelp(c.km.Dialog.Cancel, "back"), c.km.List.Up, c.km.List.Down, c.km.Keys.Menu, km.Test}
	if d.key.Status != model.Revoked {
		short = append(short, c.offer(c.km.Key.Link, model.OpKeysLink), c.offer(c.km.Key.Policies, model.OpKeysPolicy))
	}
	if len(d.key.Domains) > 0 {
		short = append(short, c.offer(km.Unlink, model.OpKeysUnlink), km.OpenDomain)
	}
	return short
}

func (d *keyDetail) FullHelp() [][]key.Binding {
	return [][]key.Binding{d.ShortHelp(), bindings(d.actions())}
}

func (d *keyDetail) View() []string {
	c, t := d.c, d.c.th
	k := &d.key
	lines := make([]string, 0, d.h)
	lines = append(lines, c.crumbs(d, text.Safe(k.Name), d.w))
	if d.gone {
		return append(lines, "", " This key no longer exists. Press esc to go back.")
	}
	field := func(label, value string) string {
		return " " + t.Faint.Render(text.Fit(label, 12)) + value
	}
	lines = append(lines,
		field("Status", c.statusBadge(k.Status, len(k.Status.Label()))+c.expiredBadge(k)+t.Faint.Render("  since "+k.StatusChanged.Format("2006-01-02 15:04"))+c.leakNote(k)),
		field("Prefix", k.Prefix+t.Faint.Render("   id "+k.ID)),
		field("Created", k.Created.Format("2006-01-02 15:04")+t.Faint.Render("  ("+c.ago(k.Created)+")")),
		field("Last used", c.ago(k.LastUsed)+c.lastHostNote(k.ID)),
		field("Last 24 h", c.keyUsageLine(k)),
	)
	rot := "—"
	if k.Replaces != "" {
		rot = "replaces " + c.keyRef(k.Replaces)
	}
	if k.ReplacedBy != "" {
		if k.Replaces != "" {
			rot += "; "
		} else {
			rot = ""
		}
		rot += "replaced by " + c.keyRef(k.ReplacedBy)
		if k.Status == model.Active {
			rot += t.Warn.Render("  (still active: revoke it once the new key is deployed)")
		}
	}
	compact := d.top < 13
	lines = append(lines, field("Rotation", rot))
	lines = append(lines, c.policyLines(k, d.w, compact)...)
	if !compact {
		lines = append(lines, "")
	}
	title := "Authorized Domains (" + text.Thousands(len(k.Domains)) + ")"
	lines = append(lines, " "+t.ColHeader.Render(title))
	if len(k.Domains) == 0 {
		lines = append(lines, " "+t.Warn.Render("Unrestricted: no linked domain, any origin (or a server) can use this key."))
		if k.Status != model.Revoked && !compact {
			lines = append(lines, " Press l to link a domain.")
		}
	} else if !compact {
		lines = append(lines, " "+t.Faint.Render("Requests from browsers must come from one of these hosts.  u or × unlinks one."))
	}
	for len(lines) < d.top {
		lines = append(lines, "")
	}
	from, to := d.list.Visible()
	for r := from; r < to; r++ {
		name := k.Domains[r]
		s := text.Safe(name)
		if i, ok := c.data.domIdx[name]; ok && c.data.uni[i] != name {
			s += "  (" + c.data.uni[i] + ")"
			if c.data.mixed[i] {
				s += "  ⚠ mixed scripts"
			}
		}
		row := text.Fit(text.Fit("  "+s, d.xX)+"×", d.w)
		if r == d.list.Cursor {
			row = t.Selected.Render("›" + row[1:])
		}
		lines = append(lines, row)
	}
	return lines
}
