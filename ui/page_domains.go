package ui

import (
	"cmp"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/ui/list"
	"github.com/tmaps/console/ui/text"
	"github.com/tmaps/console/ui/textfield"
)

// domainsPage is the Authorized Domains list.
type domainsPage struct {
	c         *common
	w, h      int
	cols      domainCols // drawn and clicked
	need      [2]int     // widest name and Unicode form (domainColumns)
	byKeys    bool       // sort by linked-key count instead of name
	filter    textfield.Model
	filtering bool
	query     string
	rows      []int // indexes into dataset.doms
	list      list.Model
	selName   string
}

func newDomainsPage(c *common) Page {
	return &domainsPage{c: c, filter: textfield.New(300)}
}

func (p *domainsPage) Title() string { return "Authorized Domains" }
func (p *domainsPage) Typing() bool  { return p.filtering }

// domainCols is the column layout of domain rows at one width.
type domainCols struct {
	name, uni, keys int
	menuX           int // x of the ⋯ cell
}

// domainColumns shares w cells: the name gets 55% of what the Keys and
// warning columns leave and the Unicode form the rest; when what the
// widest name and Unicode form need fits, each gets that and the warning
// column the rest (need: the widest name, the widest Unicode form that
// differs from its name; zero: not measured).
func domainColumns(w int, need [2]int) domainCols {
	c := domainCols{keys: 6, menuX: w - 1}
	rest := max(16, w-2-2-2-c.keys-2-16-3)
	c.name = rest * 55 / 100
	c.uni = rest - c.name
	if need != [2]int{} {
		nameNeed, uniNeed := max(need[0], 8), max(need[1], 12) // "Unicode form"
		if nameNeed+uniNeed <= rest {
			c.name, c.uni = nameNeed, uniNeed
		} else {
			c.name = min(nameNeed, max(c.name, rest-uniNeed))
			c.uni = rest - c.name
		}
	}
	return c
}

// measure sizes the columns to the domains.
func (p *domainsPage) measure() {
	d := p.c.data
	var need [2]int
	for i := range d.doms {
		need[0] = max(need[0], cellWidth(d.doms[i].Name))
		if d.uni[i] != d.doms[i].Name {
			need[1] = max(need[1], d.uniW[i])
		}
	}
	p.need = need
	p.cols = domainColumns(p.w, need)
}

func (p *domainsPage) SetSize(w, h int) {
	p.w, p.h = w, h
	p.cols = domainColumns(w, p.need)
	p.list.SetHeight(h - listTop)
}

func (p *domainsPage) rebuild() {
	d := p.c.data
	q := p.query
	p.rows = p.rows[:0]
	for i := range d.doms {
		if q == "" || strings.Contains(d.doms[i].Name, q) || strings.Contains(strings.ToLower(d.uni[i]), q) {
			p.rows = append(p.rows, i)
		}
	}
	if p.byKeys {
		slices.SortStableFunc(p.rows, func(i, j int) int {
			return cmp.Compare(len(d.doms[j].Keys), len(d.doms[i].Keys))
		})
	}
	p.list.SetLen(len(p.rows))
	if i, ok := d.domIdx[p.selName]; ok && p.selName != "" {
		if r := slices.Index(p.rows, i); r >= 0 {
			p.list.Select(r)
		}
	}
	p.syncSel()
}

func (p *domainsPage) syncSel() {
	if dm := p.selected(); dm != nil {
		p.selName = dm.Name
	}
}

func (p *domainsPage) selected() *model.Domain {
	if p.list.Cursor < 0 || p.list.Cursor >= len(p.rows) {
		return nil
	}
	return &p.c.data.doms[p.rows[p.list.Cursor]]
}

func (p *domainsPage) applyFilter() {
	p.query = strings.ToLower(strings.TrimSpace(p.filter.Value()))
	p.list.Top()
	p.selName = ""
	p.rebuild()
}

func (p *domainsPage) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case dataChangedMsg:
		if msg.domains {
			p.rebuild()
			p.measure()
		}
	case domainAddedMsg:
		if msg.err == nil && msg.link == "" {
			p.selName = msg.dom.Name
		}
	case tea.PasteMsg:
		if p.filtering && p.filter.Update(msg) {
			p.applyFilter()
		}
	case tea.KeyPressMsg:
		if p.filtering {
			return p.filterKey(msg)
		}
		return p.onKey(msg)
	}
	return nil
}

func (p *domainsPage) filterKey(msg tea.KeyPressMsg) tea.Cmd {
	km := &p.c.km.Filter
	switch {
	case key.Matches(msg, km.Clear):
		p.filtering = false
		p.filter.Reset()
		p.applyFilter()
		return nil
	case key.Matches(msg, km.Keep):
		p.filtering = false
		return nil
	case msg.String() == "up", msg.String() == "down":
		p.filtering = false
		return p.onKey(msg)
	}
	if p.filter.Update(msg) {
		p.applyFilter()
	}
	return nil
}

func (p *domainsPage) onKey(msg tea.KeyPressMsg) tea.Cmd {
	c := p.c
	km := &c.km.Domains
	if p.list.Navigate(&c.km.List, msg) {
		p.syncSel()
		return nil
	}
	switch {
	case key.Matches(msg, km.New):
		if !c.refuse(model.OpDomainsAdd) {
			c.shell.dialog(newDomainDialog(c))
		}
	case key.Matches(msg, km.Filter):
		p.filtering = true
	case key.Matches(msg, km.ClearFilter):
		if p.query != "" {
			p.filter.Reset()
			p.applyFilter()
		}
	case key.Matches(msg, km.Sort):
		p.sortBy(!p.byKeys)
	case key.Matches(msg, km.Open):
		if dm := p.selected(); dm != nil {
			c.openDomain(dm.Name)
		}
	case key.Matches(msg, km.Menu):
		if dm := p.selected(); dm != nil {
			c.shell.dialog(newDomainMenu(c, dm.Name))
		}
	default:
		// the menu's letters act on the selected row
		if dm := p.selected(); dm != nil {
			cmd, _ := c.runAction(c.domainActions(dm.Name), msg)
			return cmd
		}
	}
	return nil
}

// sortBy sorts by linked keys (most first) or by name, and says so.
func (p *domainsPage) sortBy(byKeys bool) {
	p.byKeys = byKeys
	p.rebuild()
	if p.byKeys {
		p.c.info("Sorted by linked keys.")
	} else {
		p.c.info("Sorted by name.")
	}
}

func (p *domainsPage) Click(x, y int) tea.Cmd {
	if y == listTop-1 && len(p.c.data.doms) > 0 {
		// the column header: sort by the column clicked
		keysX := 2 + p.cols.name + 2 + p.cols.uni + 2
		switch {
		case x >= 2 && x < 2+p.cols.name:
			p.sortBy(false)
		case x >= keysX && x < keysX+p.cols.keys:
			p.sortBy(true)
		}
		return nil
	}
	r, ok := p.list.RowAt(y - listTop)
	if !ok {
		return nil
	}
	again := r == p.list.Cursor
	p.list.Select(r)
	p.syncSel()
	dm := p.selected()
	switch {
	case dm == nil:
	case x >= p.cols.menuX-2:
		p.c.shell.dialog(newDomainMenu(p.c, dm.Name))
	case again:
		p.c.openDomain(dm.Name)
	}
	return nil
}

func (p *domainsPage) Scroll(delta int) tea.Cmd {
	p.list.Move(delta)
	p.syncSel()
	return nil
}

func (p *domainsPage) ShortHelp() []key.Binding {
	c := p.c
	if p.filtering {
		return []key.Binding{c.km.Filter.Keep, c.km.Filter.Clear}
	}
	km := &c.km.Domains
	return []key.Binding{c.km.List.Up, c.km.List.Down, km.Open, km.Menu, c.offer(km.New, model.OpDomainsAdd), km.Filter, km.Sort, c.offer(c.km.Domain.Delete, model.OpDomainsDelete)}
}

func (p *domainsPage) FullHelp() [][]key.Binding {
	c := p.c
	if p.filtering {
		return [][]key.Binding{p.ShortHelp()}
	}
	km := &c.km.Domains
	out := [][]key.Binding{list.Help(&c.km.List), {km.Open, km.Menu, c.offer(km.New, model.OpDomainsAdd), km.Filter, withHelp(km.Sort, "sort by name/keys")}}
	if dm := p.selected(); dm != nil {
		out = append(out, bindings(c.domainActions(dm.Name)))
	}
	return out
}

func (p *domainsPage) View() []string {
	c, t, w := p.c, p.c.th, p.w
	d := c.data
	lines := make([]string, 0, p.h)
	var tb string
	switch {
	case p.filtering:
		tb = " Filter: " + p.filter.View(max(10, w/3), true, t.Selected)
	case p.query != "":
		tb = " Filter: " + text.Safe(p.filter.Value())
	default:
		tb = t.Faint.Render(" / to filter")
	}
	sortBy, nameMark, keysMark := "name "+sortUp, sortUp, ""
	if p.byKeys {
		sortBy, nameMark, keysMark = "keys "+sortDown, "", sortDown
	}
	lines = append(lines, toolbar(t, tb, countLabel(&p.list, len(d.doms), "domain", p.query != ""), sortBy, w))
	if len(d.doms) == 0 {
		lines = append(lines, "", " "+t.Bold.Render("No authorized domains yet."))
		if why := c.denied(model.OpDomainsAdd); why != "" {
			return append(lines, indentWrap(why, w)...)
		}
		return append(lines, indentWrap("Press n to add one (e.g. mysite.tn). A key linked to domains only works from those sites.", w)...)
	}
	cols := p.cols
	hdr := "  " + colTitle("Domain", nameMark, cols.name) + "  " + text.Fit("Unicode form", cols.uni) + "  " + colTitle("Keys", keysMark, cols.keys)
	lines = append(lines, t.ColHeader.Render(text.Fit(hdr, w)))
	if len(p.rows) == 0 {
		return append(lines, " No domain matches “"+text.Safe(p.filter.Value())+"”. Press esc to clear the filter.")
	}
	from, to := p.list.Visible()
	for r := from; r < to; r++ {
		i := p.rows[r]
		dm := &d.doms[i]
		marker := "  "
		if r == p.list.Cursor {
			marker = "› "
		}
		uni := ""
		if d.uni[i] != dm.Name {
			uni = d.uni[i]
		}
		warn := ""
		if d.mixed[i] {
			warn = "⚠ mixed scripts"
		}
		row := marker + text.Fit(text.Safe(dm.Name), cols.name) + "  " + text.Fit(uni, cols.uni) + "  " + text.Fit(text.Thousands(len(dm.Keys)), cols.keys) + "  "
		warnW := w - text.Width(row) - 3
		if r == p.list.Cursor {
			lines = append(lines, t.Selected.Render(text.Fit(row+text.Fit(warn, warnW)+"  ⋯", w)))
			continue
		}
		lines = append(lines, row+t.Warn.Render(text.Fit(warn, warnW))+"  ⋯")
	}
	return lines
}

// withHelp returns a copy of b whose help text is desc.
func withHelp(b key.Binding, desc string) key.Binding {
	b.SetHelp(b.Help().Key, desc)
	return b
}
