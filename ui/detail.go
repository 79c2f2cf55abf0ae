package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/model"
)

// keyDetail is a key's screen: its facts and its Authorized Domains section.
type keyDetail struct {
	id   string
	key  model.Key // a copy, refreshed from the dataset
	gone bool
	list listState // over key.Domains
}

// top is the number of body rows above the domain list: fewer on a short
// window, so the list keeps some room.
func (d *keyDetail) top(a *App) int {
	if a.bodyHeight() < 16 {
		return 8
	}
	return 10
}

func (d *keyDetail) listHeight(a *App) int { return max(1, a.bodyHeight()-d.top(a)) }

func (d *keyDetail) refresh(a *App) {
	if k, ok := a.data.key(d.id); ok {
		d.key = k.Clone()
		d.gone = false
	} else {
		d.gone = true
	}
	d.clamp(a)
}

func (d *keyDetail) clamp(a *App) { d.list.clamp(len(d.key.Domains), d.listHeight(a)) }

func (d *keyDetail) selectedDomain() string {
	if d.list.cursor < 0 || d.list.cursor >= len(d.key.Domains) {
		return ""
	}
	return d.key.Domains[d.list.cursor]
}

func (d *keyDetail) update(a *App, msg tea.KeyPressMsg) tea.Cmd {
	km := &a.km
	if navigate(&d.list, km, msg, len(d.key.Domains), d.listHeight(a)) {
		return nil
	}
	switch {
	case key.Matches(msg, km.Back):
		a.kd = nil
		a.clampLists()
	case d.gone:
		return nil
	case key.Matches(msg, km.Menu):
		a.modal = newActionMenu(a, &d.key)
	case key.Matches(msg, km.Link):
		if d.key.Status == model.Revoked {
			a.setBanner(bannerWarn, "A revoked key cannot be linked to domains.")
			return nil
		}
		a.modal = newDomainPicker(a, d.key.ID)
	case key.Matches(msg, km.Unlink):
		if dom := d.selectedDomain(); dom != "" {
			a.modal = newUnlinkModal(a, d.key.ID, dom)
		}
	case key.Matches(msg, km.Open):
		if dom := d.selectedDomain(); dom != "" {
			a.openDomain(dom)
		}
	case key.Matches(msg, km.Test):
		a.modal = newTestModal(d.key.ID)
	}
	return nil
}

func (d *keyDetail) help(a *App) helpSet {
	km := &a.km
	short := []key.Binding{km.Back, km.Up, km.Down, km.Menu, km.Test}
	if d.key.Status != model.Revoked {
		short = append(short, with(km.Link, "link domain"))
	}
	if len(d.key.Domains) > 0 {
		short = append(short, with(km.Unlink, "unlink"), with(km.Open, "open domain"))
	}
	return helpSet{short: short, full: [][]key.Binding{short}}
}

func (d *keyDetail) view(a *App, height int) []string {
	t := &a.th
	k := &d.key
	lines := make([]string, 0, height)
	lines = append(lines, " "+t.Faint.Render("API Keys ›")+" "+t.Bold.Render(model.Escape(k.Name)))
	if d.gone {
		return append(lines, "", " This key no longer exists. Press esc to go back.")
	}
	field := func(label, value string) string {
		return " " + t.Faint.Render(fit(label, 12)) + value
	}
	lines = append(lines,
		field("Status", a.statusBadge(k.Status, len(k.Status.Label()))+t.Faint.Render("  since "+k.StatusChanged.Format("2006-01-02 15:04"))),
		field("Prefix", k.Prefix+t.Faint.Render("   id "+k.ID)),
		field("Created", k.Created.Format("2006-01-02 15:04")+t.Faint.Render("  ("+a.ago(k.Created)+")")),
		field("Last used", a.ago(k.LastUsed)+"  "+a.keyUsageLine(k, a.w-14)),
	)
	rot := "—"
	if k.Replaces != "" {
		rot = "replaces " + a.keyRef(k.Replaces)
	}
	if k.ReplacedBy != "" {
		if k.Replaces != "" {
			rot += "; "
		} else {
			rot = ""
		}
		rot += "replaced by " + a.keyRef(k.ReplacedBy)
		if k.Status == model.Active {
			rot += t.Warn.Render("  (still active: revoke it once the new key is deployed)")
		}
	}
	top := d.top(a)
	compact := top < 10
	lines = append(lines, field("Rotation", rot))
	if !compact {
		lines = append(lines, "")
	}
	title := "Authorized Domains (" + itoa(len(k.Domains)) + ")"
	lines = append(lines, " "+t.ColHeader.Render(title))
	if len(k.Domains) == 0 {
		lines = append(lines, " "+t.Warn.Render("Unrestricted: no linked domain, any origin (or a server) can use this key."))
		if k.Status != model.Revoked && !compact {
			lines = append(lines, " Press l to link a domain.")
		}
	} else if !compact {
		lines = append(lines, " "+t.Faint.Render("Requests from browsers must come from one of these hosts."))
	}
	for len(lines) < top {
		lines = append(lines, "")
	}
	from, to := d.list.visible(len(k.Domains), height-top)
	for r := from; r < to; r++ {
		name := k.Domains[r]
		s := name
		s = model.Escape(s)
		if i, ok := a.data.domIdx[name]; ok && a.data.uni[i] != name {
			s += "  (" + a.data.uni[i] + ")"
			if a.data.mixed[i] {
				s += "  ⚠ mixed scripts"
			}
		}
		if r == d.list.cursor {
			lines = append(lines, t.Selected.Render(fit("› "+s, a.w)))
		} else {
			lines = append(lines, "  "+s)
		}
	}
	return lines
}

// keyRef names another key: its prefix and name.
func (a *App) keyRef(id string) string {
	if k, ok := a.data.key(id); ok {
		return k.Prefix + " " + quoteName(k.Name) + " (" + k.Status.Label() + ")"
	}
	return id
}

// domainDetail is a domain's screen: its facts and its API Keys section.
type domainDetail struct {
	name string
	dom  model.Domain
	gone bool
	keys []model.Key // linked keys, copies
	list listState
}

const domainDetailTop = 7

func (d *domainDetail) listHeight(a *App) int { return max(1, a.bodyHeight()-domainDetailTop) }

func (d *domainDetail) refresh(a *App) {
	dm, ok := a.data.domain(d.name)
	if !ok {
		d.gone = true
		d.keys = nil
		d.clamp(a)
		return
	}
	d.gone = false
	d.dom = dm.Clone()
	d.keys = d.keys[:0]
	for _, id := range dm.Keys {
		if k, ok := a.data.key(id); ok {
			d.keys = append(d.keys, k.Clone())
		}
	}
	d.clamp(a)
}

func (d *domainDetail) clamp(a *App) { d.list.clamp(len(d.keys), d.listHeight(a)) }

func (d *domainDetail) selectedKey() *model.Key {
	if d.list.cursor < 0 || d.list.cursor >= len(d.keys) {
		return nil
	}
	return &d.keys[d.list.cursor]
}

func (d *domainDetail) update(a *App, msg tea.KeyPressMsg) tea.Cmd {
	km := &a.km
	if navigate(&d.list, km, msg, len(d.keys), d.listHeight(a)) {
		return nil
	}
	switch {
	case key.Matches(msg, km.Back):
		a.dd = nil
		a.clampLists()
	case d.gone:
		return nil
	case key.Matches(msg, km.Link):
		a.modal = newKeyPicker(a, d.name)
	case key.Matches(msg, km.Unlink):
		if k := d.selectedKey(); k != nil {
			a.modal = newUnlinkModal(a, k.ID, d.name)
		}
	case key.Matches(msg, km.Delete):
		a.modal = newDeleteDomainModal(a, d.name)
	case key.Matches(msg, km.Menu):
		a.modal = newDomainMenu(d.name)
	case key.Matches(msg, km.Open):
		if k := d.selectedKey(); k != nil {
			a.openKey(k.ID)
		}
	}
	return nil
}

func (d *domainDetail) help(a *App) helpSet {
	km := &a.km
	short := []key.Binding{km.Back, km.Up, km.Down, km.Menu, with(km.Link, "link key")}
	if len(d.keys) > 0 {
		short = append(short, with(km.Unlink, "unlink"), with(km.Open, "open key"))
	}
	short = append(short, km.Delete)
	return helpSet{short: short, full: [][]key.Binding{short}}
}

func (d *domainDetail) view(a *App, height int) []string {
	t := &a.th
	lines := make([]string, 0, height)
	lines = append(lines, " "+t.Faint.Render("Authorized Domains ›")+" "+t.Bold.Render(model.Escape(d.name)))
	if d.gone {
		return append(lines, "", " This domain no longer exists. Press esc to go back.")
	}
	field := func(label, value string) string {
		return " " + t.Faint.Render(fit(label, 12)) + value
	}
	uni := model.DomainUnicode(d.dom.Name)
	if d.dom.Unicode != "" {
		uni = d.dom.Unicode
	}
	lines = append(lines, field("Stored as", model.Escape(d.dom.Name)))
	if uni != d.dom.Name {
		lines = append(lines, field("Unicode", model.Escape(uni)))
	} else {
		lines = append(lines, field("Unicode", t.Faint.Render("same")))
	}
	if model.MixedScript(uni) {
		lines = append(lines, " "+t.Warn.Render("⚠ This name mixes scripts: it may imitate another site (homograph). Check it is the one you mean."))
	}
	lines = append(lines, field("Added", d.dom.Created.Format("2006-01-02 15:04")))
	for len(lines) < domainDetailTop-2 {
		lines = append(lines, "")
	}
	lines = append(lines, " "+t.ColHeader.Render("API Keys ("+itoa(len(d.keys))+")"))
	if len(d.keys) == 0 {
		lines = append(lines, " No key is linked to this domain. Press l to link one.")
	} else {
		lines = append(lines, " "+t.Faint.Render("These keys accept browser requests from this host."))
	}
	for len(lines) < domainDetailTop {
		lines = append(lines, "")
	}
	c := keyColumns(a.w)
	from, to := d.list.visible(len(d.keys), height-domainDetailTop)
	for r := from; r < to; r++ {
		lines = append(lines, a.keyRow(&d.keys[r], c, r == d.list.cursor))
	}
	return lines
}

// joinNames lists key names for a warning, escaped.
func joinNames(keys []model.Key, limit int) string {
	var parts []string
	for i, k := range keys {
		if i == limit {
			parts = append(parts, "and "+itoa(len(keys)-limit)+" more")
			break
		}
		parts = append(parts, quoteName(k.Name)+" ("+k.Prefix+")")
	}
	return strings.Join(parts, ", ")
}
