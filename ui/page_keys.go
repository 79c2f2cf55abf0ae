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

// Sort orders of the keys page.
const (
	sortCreatedDesc = iota
	sortCreatedAsc
	sortName
	sortStatus
	sortCount
)

func sortLabel(s int) string {
	switch s {
	case sortCreatedAsc:
		return "created " + sortUp
	case sortName:
		return "name " + sortUp
	case sortStatus:
		return "status " + sortUp
	}
	return "created " + sortDown
}

// listTop is the number of rows of a list page above its list: the toolbar
// and the column header.
const listTop = 2

// keysPage is the API Keys list: every key sorted once (order), the rows the
// filter keeps (rows), and a virtualised cursor over them.
type keysPage struct {
	c         *common
	w, h      int
	cols      keyCols // the columns at this width: drawn and clicked
	need      keyNeed // what the keys' names and domains need (keyColumns)
	sort      int
	filter    textfield.Model
	filtering bool
	query     string // the applied filter, lowercased
	order     []int32
	rows      []int32
	bufA      []int32 // two filter buffers, so narrowing reads one and writes the other
	bufB      []int32
	list      list.Model
	selID     string // the selected key, kept across reloads
}

func newKeysPage(c *common) Page {
	return &keysPage{c: c, filter: textfield.New(200)}
}

func (p *keysPage) Title() string { return "API Keys" }
func (p *keysPage) Typing() bool  { return p.filtering }

func (p *keysPage) SetSize(w, h int) {
	p.w, p.h = w, h
	p.cols = keyColumns(w, p.need)
	p.list.SetHeight(h - listTop)
}

func statusRank(s model.Status) int {
	switch s {
	case model.Active:
		return 0
	case model.Disabled:
		return 1
	}
	return 2
}

// rebuild sorts every key and re-applies the filter, keeping the selection.
// The columns are measured by the caller when the keys changed.
func (p *keysPage) rebuild() {
	d := p.c.data
	n := len(d.keys)
	if cap(p.order) >= n {
		p.order = p.order[:n]
	} else {
		p.order = make([]int32, n)
	}
	for i := range p.order {
		p.order[i] = int32(i)
	}
	keys := d.keys
	byCreated := func(i, j int32) int {
		if c := keys[i].Created.Compare(keys[j].Created); c != 0 {
			return c
		}
		return cmp.Compare(keys[i].ID, keys[j].ID)
	}
	switch p.sort {
	case sortCreatedDesc:
		slices.SortFunc(p.order, func(i, j int32) int { return byCreated(j, i) })
	case sortCreatedAsc:
		slices.SortFunc(p.order, byCreated)
	case sortName:
		hay := d.searchText()
		slices.SortFunc(p.order, func(i, j int32) int {
			if c := strings.Compare(hay[i], hay[j]); c != 0 {
				return c
			}
			return byCreated(i, j)
		})
	case sortStatus:
		slices.SortFunc(p.order, func(i, j int32) int {
			if c := cmp.Compare(statusRank(keys[i].Status), statusRank(keys[j].Status)); c != 0 {
				return c
			}
			return byCreated(j, i)
		})
	}
	p.filterFrom(p.order)
}

// measure sizes the columns to the keys.
func (p *keysPage) measure() {
	p.need = p.c.keyNeeds(p.c.data.keys)
	p.cols = keyColumns(p.w, p.need)
}

// filterFrom keeps the rows of from that match the query. Typing forward
// narrows the previous result instead of scanning every key again.
func (p *keysPage) filterFrom(from []int32) {
	q := p.query
	if q == "" {
		p.rows = p.order
	} else {
		hay := p.c.data.searchText()
		// write into the buffer that is not being read
		buf := &p.bufA
		if len(from) > 0 && len(p.bufA) > 0 && &from[0] == &p.bufA[0] {
			buf = &p.bufB
		}
		rows := (*buf)[:0]
		if cap(rows) < len(from) {
			rows = make([]int32, 0, len(from))
		}
		for _, i := range from {
			if strings.Contains(hay[i], q) {
				rows = append(rows, i)
			}
		}
		*buf = rows
		p.rows = rows
	}
	p.list.SetLen(len(p.rows))
	p.restoreSelection()
}

func (p *keysPage) restoreSelection() {
	if i, ok := p.c.data.idx[p.selID]; ok && p.selID != "" {
		want := int32(i)
		if p.list.Cursor < len(p.rows) && p.rows[p.list.Cursor] == want {
			return
		}
		for r, idx := range p.rows {
			if idx == want {
				p.list.Select(r)
				break
			}
		}
	}
	p.syncSel()
}

func (p *keysPage) syncSel() {
	if k := p.selected(); k != nil {
		p.selID = k.ID
	}
}

func (p *keysPage) selected() *model.Key {
	if p.list.Cursor < 0 || p.list.Cursor >= len(p.rows) {
		return nil
	}
	return &p.c.data.keys[p.rows[p.list.Cursor]]
}

func (p *keysPage) applyFilter() {
	old := p.query
	p.query = strings.ToLower(strings.TrimSpace(p.filter.Value()))
	p.list.Top()
	if old != "" && p.query != "" && strings.Contains(p.query, old) {
		p.filterFrom(p.rows) // narrowing: only the current matches can match
		return
	}
	p.filterFrom(p.order)
}

func (p *keysPage) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case dataChangedMsg:
		if msg.keys {
			p.rebuild()
			p.measure() // the columns fit the keys (a sort keeps them)
		}
	case usageChangedMsg:
		p.measure() // spike marks widen names
	case keyCreatedMsg:
		if msg.err == nil {
			p.selID = msg.key.ID
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

func (p *keysPage) filterKey(msg tea.KeyPressMsg) tea.Cmd {
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

func (p *keysPage) onKey(msg tea.KeyPressMsg) tea.Cmd {
	c := p.c
	km := &c.km.Keys
	if p.list.Navigate(&c.km.List, msg) {
		p.syncSel()
		return nil
	}
	switch {
	case key.Matches(msg, km.New):
		if !c.refuse(model.OpKeysCreate) {
			c.shell.dialog(newNameDialog(c, ""))
		}
	case key.Matches(msg, km.Filter):
		p.filtering = true
	case key.Matches(msg, km.ClearFilter):
		if p.query != "" {
			p.filter.Reset()
			p.applyFilter()
		}
	case key.Matches(msg, km.Sort):
		p.sortBy((p.sort + 1) % sortCount)
	case key.Matches(msg, km.Open):
		if k := p.selected(); k != nil {
			c.openKey(k.ID)
		}
	case key.Matches(msg, km.Menu):
		if k := p.selected(); k != nil {
			c.shell.dialog(newKeyMenu(c, k))
		}
	default:
		// the menu's letters act on the selected row (k9s-style)
		if k := p.selected(); k != nil {
			cmd, _ := c.runAction(c.keyActions(k), msg)
			return cmd
		}
	}
	return nil
}

// sortBy sorts the list by order s and says so.
func (p *keysPage) sortBy(s int) {
	p.sort = s
	p.rebuild()
	p.c.info("Sorted by " + sortLabel(p.sort) + ".")
}

func (p *keysPage) Click(x, y int) tea.Cmd {
	if y == listTop-1 && len(p.c.data.keys) > 0 {
		// the column header: sort by the column clicked
		if s := p.cols.sortAt(x, p.sort); s >= 0 {
			p.sortBy(s)
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
	k := p.selected()
	switch {
	case k == nil:
	case x >= p.cols.menuX-1:
		p.c.shell.dialog(newKeyMenu(p.c, k))
	case again:
		p.c.openKey(k.ID)
	}
	return nil
}

func (p *keysPage) Scroll(delta int) tea.Cmd {
	p.list.Move(delta)
	p.syncSel()
	return nil
}

func (p *keysPage) ShortHelp() []key.Binding {
	c := p.c
	if p.filtering {
		return []key.Binding{c.km.Filter.Keep, c.km.Filter.Clear}
	}
	km := &c.km.Keys
	return []key.Binding{c.km.List.Up, c.km.List.Down, km.Open, km.Menu, c.offer(km.New, model.OpKeysCreate), km.Filter, km.Sort}
}

func (p *keysPage) FullHelp() [][]key.Binding {
	c := p.c
	if p.filtering {
		return [][]key.Binding{p.ShortHelp()}
	}
	km := &c.km.Keys
	acts := []key.Binding{km.Open, km.Menu, c.offer(km.New, model.OpKeysCreate), km.Filter, km.Sort}
	if p.query != "" {
		acts = append(acts, km.ClearFilter)
	}
	out := [][]key.Binding{list.Help(&c.km.List), acts}
	if k := p.selected(); k != nil {
		out = append(out, bindings(c.keyActions(k)))
	}
	return out
}

func (p *keysPage) View() []string {
	c, t, w := p.c, p.c.th, p.w
	lines := make([]string, 0, p.h)
	total := len(c.data.keys)
	// toolbar
	var tb string
	switch {
	case p.filtering:
		tb = " Filter: " + p.filter.View(max(10, w/3), true, t.Selected)
	case p.query != "":
		tb = " Filter: " + text.Safe(p.filter.Value())
	default:
		tb = t.Faint.Render(" / to filter")
	}
	lines = append(lines, toolbar(t, tb, countLabel(&p.list, total, "key", p.query != ""), sortLabel(p.sort), w))
	if total == 0 {
		lines = append(lines, "", " "+t.Bold.Render("No API keys yet."))
		if why := c.denied(model.OpKeysCreate); why != "" {
			return append(lines, indentWrap(why, w)...)
		}
		return append(lines, indentWrap("Press n to create your first key: you will see its secret once, to copy into your app.", w)...)
	}
	lines = append(lines, t.ColHeader.Render(text.Fit(p.cols.header(p.sort), w)))
	if len(p.rows) == 0 {
		return append(lines, " No key matches “"+text.Safe(p.filter.Value())+"”. Press esc to clear the filter.")
	}
	from, to := p.list.Visible()
	for r := from; r < to; r++ {
		lines = append(lines, c.keyRow(&c.data.keys[p.rows[r]], p.cols, w, r == p.list.Cursor))
	}
	return lines
}
