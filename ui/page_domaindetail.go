package ui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/ui/list"
	"github.com/tmaps/console/ui/text"
)

// domainDetail is a domain's screen: its facts and its API Keys section.
type domainDetail struct {
	c    *common
	w, h int
	cols keyCols // the key rows' columns: drawn and clicked
	name string
	dom  model.Domain
	gone bool
	keys []model.Key // linked keys, copies
	list list.Model
}

// domainDetailTop is the number of rows above the list of keys.
const domainDetailTop = 7

func newDomainDetail(c *common, name string) *domainDetail {
	d := &domainDetail{c: c, name: name}
	d.refresh()
	return d
}

func (d *domainDetail) identity() string { return "domain:" + d.name }
func (d *domainDetail) Title() string    { return d.name }
func (d *domainDetail) Typing() bool     { return false }

func (d *domainDetail) SetSize(w, h int) {
	d.w, d.h = w, h
	d.cols = keyColumns(w)
	d.list.SetHeight(h - domainDetailTop)
}

func (d *domainDetail) refresh() {
	dm, ok := d.c.data.domain(d.name)
	if !ok {
		d.gone = true
		d.keys = nil
		d.list.SetLen(0)
		return
	}
	d.gone = false
	d.dom = dm.Clone()
	d.keys = d.keys[:0]
	for _, id := range dm.Keys {
		if k, ok := d.c.data.key(id); ok {
			d.keys = append(d.keys, k.Clone())
		}
	}
	d.list.SetLen(len(d.keys))
}

func (d *domainDetail) selectedKey() *model.Key {
	if d.list.Cursor < 0 || d.list.Cursor >= len(d.keys) {
		return nil
	}
	return &d.keys[d.list.Cursor]
}

func (d *domainDetail) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case dataChangedMsg:
		d.refresh()
	case opDoneMsg:
		if msg.deleted == d.name {
			d.c.shell.remove(d)
		}
	case tea.KeyPressMsg:
		return d.onKey(msg)
	}
	return nil
}

func (d *domainDetail) onKey(msg tea.KeyPressMsg) tea.Cmd {
	c := d.c
	km := &c.km.DomainDetail
	if d.list.Navigate(&c.km.List, msg) {
		return nil
	}
	switch {
	case key.Matches(msg, c.km.Dialog.Cancel):
		c.shell.back()
	case d.gone:
		return nil
	case key.Matches(msg, c.km.Domain.Link):
		c.shell.dialog(newKeyPicker(c, d.name))
	case key.Matches(msg, km.Unlink):
		if k := d.selectedKey(); k != nil {
			c.shell.dialog(newUnlinkDialog(c, k.ID, d.name))
		}
	case key.Matches(msg, c.km.Domain.Delete):
		c.shell.dialog(newDeleteDomainDialog(c, d.name))
	case key.Matches(msg, c.km.Domains.Menu):
		c.shell.dialog(newDomainMenu(c, d.name))
	case key.Matches(msg, km.OpenKey):
		if k := d.selectedKey(); k != nil {
			c.openKey(k.ID)
		}
	}
	return nil
}

func (d *domainDetail) Click(x, y int) tea.Cmd {
	r, ok := d.list.RowAt(y - domainDetailTop)
	if !ok {
		return nil
	}
	again := r == d.list.Cursor
	d.list.Select(r)
	switch {
	case again:
		d.c.openKey(d.keys[r].ID)
	case x >= d.cols.menuX-1:
		k := d.keys[r]
		d.c.shell.dialog(newKeyMenu(d.c, &k))
	}
	return nil
}

func (d *domainDetail) Scroll(delta int) { d.list.Move(delta) }

func (d *domainDetail) ShortHelp() []key.Binding {
	c := d.c
	km := &c.km.DomainDetail
	short := []key.Binding{withHelp(c.km.Dialog.Cancel, "back"), c.km.List.Up, c.km.List.Down, c.km.Domains.Menu, withHelp(c.km.Domain.Link, "link key")}
	if len(d.keys) > 0 {
		short = append(short, km.Unlink, km.OpenKey)
	}
	return append(short, c.km.Domain.Delete)
}

func (d *domainDetail) FullHelp() [][]key.Binding { return [][]key.Binding{d.ShortHelp()} }

func (d *domainDetail) View() []string {
	c, t := d.c, d.c.th
	lines := make([]string, 0, d.h)
	lines = append(lines, c.crumbs(d, text.Safe(d.name), d.w))
	if d.gone {
		return append(lines, "", " This domain no longer exists. Press esc to go back.")
	}
	field := func(label, value string) string {
		return " " + t.Faint.Render(text.Fit(label, 12)) + value
	}
	uni := model.DomainUnicode(d.dom.Name)
	if d.dom.Unicode != "" {
		uni = d.dom.Unicode
	}
	lines = append(lines, field("Stored as", text.Safe(d.dom.Name)))
	if uni != d.dom.Name {
		lines = append(lines, field("Unicode", text.Safe(uni)))
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
	lines = append(lines, " "+t.ColHeader.Render("API Keys ("+text.Thousands(len(d.keys))+")"))
	if len(d.keys) == 0 {
		lines = append(lines, " No key is linked to this domain. Press l to link one.")
	} else {
		lines = append(lines, " "+t.Faint.Render("These keys accept browser requests from this host."))
	}
	for len(lines) < domainDetailTop {
		lines = append(lines, "")
	}
	from, to := d.list.Visible()
	for r := from; r < to; r++ {
		lines = append(lines, c.keyRow(&d.keys[r], d.cols, d.w, r == d.list.Cursor))
	}
	return lines
}
