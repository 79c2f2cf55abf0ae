package ui

import (
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/ui/list"
	"github.com/tmaps/console/ui/text"
	"github.com/tmaps/console/ui/textfield"
)

// domainDetail is a domain's screen: its facts and its API Keys section,
// the keys sorted by name, filtered with /; the menu's letters act on the
// selected key.
type domainDetail struct {
	c         *common
	w, h      int
	cols      keyCols // the key rows' columns: drawn and clicked
	name      string
	dom       model.Domain
	gone      bool
	keys      []model.Key // linked keys, copies, by name
	rows      []int       // the keys the filter keeps
	filter    textfield.Model
	filtering bool
	query     string
	list      list.Model
}

// domainDetailTop is the number of rows above the list of keys.
const domainDetailTop = 7

func newDomainDetail(c *common, name string) *domainDetail {
	d := &domainDetail{c: c, name: name, filter: textfield.New(200)}
	d.refresh()
	return d
}

func (d *domainDetail) identity() string { return "domain:" + d.name }
func (d *domainDetail) Title() string    { return d.name }
func (d *domainDetail) Typing() bool     { return d.filtering }

func (d *domainDetail) SetSize(w, h int) {
	d.w, d.h = w, h
	d.cols = keyColumns(w, d.c.keyNeeds(d.keys))
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
	var sel string
	if k := d.selectedKey(); k != nil {
		sel = k.ID
	}
	d.keys = d.keys[:0]
	for _, id := range dm.Keys {
		if k, ok := d.c.data.key(id); ok {
			d.keys = append(d.keys, k.Clone())
		}
	}
	slices.SortFunc(d.keys, func(x, y model.Key) int {
		if c := strings.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name)); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	d.cols = keyColumns(d.w, d.c.keyNeeds(d.keys))
	d.refilter()
	if i := slices.IndexFunc(d.rows, func(r int) bool { return d.keys[r].ID == sel }); i >= 0 {
		d.list.Select(i)
	}
}

// refilter keeps the keys whose row text matches the query.
func (d *domainDetail) refilter() {
	data := d.c.data
	d.rows = d.rows[:0]
	for i := range d.keys {
		if d.query == "" || strings.Contains(data.searchText()[data.idx[d.keys[i].ID]], d.query) {
			d.rows = append(d.rows, i)
		}
	}
	d.list.SetLen(len(d.rows))
}

func (d *domainDetail) applyFilter() {
	d.query = strings.ToLower(strings.TrimSpace(d.filter.Value()))
	d.list.Top()
	d.refilter()
}

func (d *domainDetail) selectedKey() *model.Key {
	if d.list.Cursor < 0 || d.list.Cursor >= len(d.rows) {
		return nil
	}
	return &d.keys[d.rows[d.list.Cursor]]
}

func (d *domainDetail) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case dataChangedMsg:
		d.refresh()
	case opDoneMsg:
		if msg.deleted == d.name {
			d.c.shell.remove(d)
		}
	case tea.PasteMsg:
		if d.filtering && d.filter.Update(msg) {
			d.applyFilter()
		}
	case tea.KeyPressMsg:
		if d.filtering {
			return d.filterKey(msg)
		}
		return d.onKey(msg)
	}
	return nil
}

func (d *domainDetail) filterKey(msg tea.KeyPressMsg) tea.Cmd {
	km := &d.c.km.Filter
	switch {
	case key.Matches(msg, km.Clear):
		d.filtering = false
		d.filter.Reset()
		d.applyFilter()
		return nil
	case key.Matches(msg, km.Keep):
		d.filtering = false
		return nil
	case msg.String() == "up", msg.String() == "down":
		d.filtering = false
		return d.onKey(msg)
	}
	if d.filter.Update(msg) {
		d.applyFilter()
	}
	return nil
}

// keyActions are the actions the letters run on the selected key (l links
// keys to the domain here).
func (d *domainDetail) keyActions() []action {
	k := d.selectedKey()
	if k == nil {
		return nil
	}
	var out []action
	for _, a := range d.c.keyActions(k) {
		if a.label != "Link domain" {
			out = append(out, a)
		}
	}
	return out
}

func (d *domainDetail) onKey(msg tea.KeyPressMsg) tea.Cmd {
	c := d.c
	km := &c.km.DomainDetail
	if d.list.Navigate(&c.km.List, msg) {
		return nil
	}
	switch {
	case key.Matches(msg, c.km.Dialog.Cancel):
		if d.query != "" {
			d.filter.Reset()
			d.applyFilter()
			return nil
		}
		c.shell.back()
	case d.gone:
		return nil
	case key.Matches(msg, c.km.Domain.Link):
		if !c.refuse(model.OpKeysLink) {
			c.shell.dialog(newKeyPicker(c, d.name))
		}
	case key.Matches(msg, km.Unlink):
		if k := d.selectedKey(); k != nil && !c.refuse(model.OpKeysUnlink) {
			c.shell.dialog(newUnlinkDialog(c, k.ID, d.name))
		}
	case key.Matches(msg, c.km.Domain.Delete):
		if !c.refuse(model.OpDomainsDelete) {
			c.shell.dialog(newDeleteDomainDialog(c, d.name))
		}
	case key.Matches(msg, c.km.Domains.Menu):
		c.shell.dialog(newDomainMenu(c, d.name))
	case key.Matches(msg, km.OpenKey):
		if k := d.selectedKey(); k != nil {
			c.openKey(k.ID)
		}
	case key.Matches(msg, c.km.Keys.Filter):
		d.filtering = true
	default:
		cmd, _ := c.runAction(d.keyActions(), msg)
		return cmd
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
	k := d.keys[d.rows[r]]
	switch {
	case again:
		d.c.openKey(k.ID)
	case x >= d.cols.menuX-1:
		d.c.shell.dialog(newKeyMenu(d.c, &k))
	}
	return nil
}

func (d *domainDetail) Scroll(delta int) tea.Cmd { d.list.Move(delta); return nil }

func (d *domainDetail) ShortHelp() []key.Binding {
	c := d.c
	if d.filtering {
		return []key.Binding{c.km.Filter.Keep, c.km.Filter.Clear}
	}
	km := &c.km.DomainDetail
	back := withHelp(c.km.Dialog.Cancel, "back")
	if d.query != "" {
		back = c.km.Filter.Clear
	}
	short := []key.Binding{back, c.km.List.Up, c.km.List.Down, c.km.Domains.Menu, c.offer(withHelp(c.km.Domain.Link, "link key"), model.OpKeysLink)}
	if len(d.rows) > 0 {
		short = append(short, c.offer(km.Unlink, model.OpKeysUnlink), km.OpenKey)
	}
	return append(short, c.offer(c.km.Domain.Delete, model.OpDomainsDelete), c.km.Keys.Filter)
}

func (d *domainDetail) FullHelp() [][]key.Binding {
	return [][]key.Binding{d.ShortHelp(), bindings(d.keyActions())}
}

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
	switch {
	case len(d.keys) == 0:
		lines = append(lines, " No key is linked to this domain. Press l to link one.")
	case d.filtering || d.query != "":
		tb := " Filter: " + text.Safe(d.filter.Value())
		if d.filtering {
			tb = " Filter: " + d.filter.View(max(10, d.w/3), true, t.Selected)
		}
		count := text.Thousands(len(d.rows)) + " of " + text.Plural(len(d.keys), "key") + " "
		lines = append(lines, text.Spread(tb, t.Faint.Render(count), d.w))
	default:
		lines = append(lines, " "+t.Faint.Render("These keys accept browser requests from this host.  / filters them."))
	}
	for len(lines) < domainDetailTop {
		lines = append(lines, "")
	}
	if len(d.rows) == 0 && len(d.keys) > 0 {
		return append(lines, " No key matches “"+text.Safe(d.filter.Value())+"”. Press esc to clear the filter.")
	}
	from, to := d.list.Visible()
	for r := from; r < to; r++ {
		lines = append(lines, c.keyRow(&d.keys[d.rows[r]], d.cols, d.w, r == d.list.Cursor))
	}
	return lines
}
