package ui

import (
	"cmp"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/tmaps/console/model"
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
		return "created ↑"
	case sortName:
		return "name"
	case sortStatus:
		return "status"
	}
	return "created ↓"
}

// keysPage is the API Keys list: every key sorted once (order), the rows the
// filter keeps (rows), and a virtualised cursor over them.
type keysPage struct {
	sort      int
	filter    field
	filtering bool
	query     string // the applied filter, lowercased
	order     []int32
	rows      []int32
	bufA      []int32 // two filter buffers, so narrowing reads one and writes the other
	bufB      []int32
	list      listState
	selID     string // the selected key, kept across reloads
}

func (p *keysPage) init() { p.filter.limit = 200 }

// Rows of the keys page body before the list: the toolbar and the column
// header.
const listTop = 2

func (p *keysPage) listHeight(a *App) int {
	h := a.bodyHeight() - listTop
	if h < 1 {
		h = 1
	}
	return h
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
func (p *keysPage) rebuild(a *App) {
	d := &a.data
	n := len(d.keys)
	if cap(p.order) >= n {
		p.order = p.order[:n]
	} else {
		p.order = make([]int32, n)
	}
	for i := range p.order {
		p.order[i] = int32(i)
	}
	keys, hay := d.keys, d.hay
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
	p.refilter(a)
}

// refilter recomputes the visible rows from order and the query.
func (p *keysPage) refilter(a *App) { p.filterFrom(a, p.order) }

// filterFrom keeps the rows of from that match the query. Typing forward
// narrows the previous result instead of scanning every key again.
func (p *keysPage) filterFrom(a *App, from []int32) {
	q := p.query
	if q == "" {
		p.rows = p.order
	} else {
		hay := a.data.hay
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
	p.restoreSelection(a)
}

func (p *keysPage) restoreSelection(a *App) {
	if p.selID != "" {
		if i, ok := a.data.idx[p.selID]; ok {
			want := int32(i)
			if p.list.cursor < len(p.rows) && p.rows[p.list.cursor] == want {
				p.list.clamp(len(p.rows), p.listHeight(a))
				return
			}
			for r, idx := range p.rows {
				if idx == want {
					p.list.cursor = r
					break
				}
			}
		}
	}
	p.list.clamp(len(p.rows), p.listHeight(a))
	p.syncSel(a)
}

func (p *keysPage) syncSel(a *App) {
	if k := p.selected(a); k != nil {
		p.selID = k.ID
	}
}

func (p *keysPage) selected(a *App) *model.Key {
	if p.list.cursor < 0 || p.list.cursor >= len(p.rows) {
		return nil
	}
	return &a.data.keys[p.rows[p.list.cursor]]
}

func (p *keysPage) applyFilter(a *App) {
	old := p.query
	p.query = strings.ToLower(strings.TrimSpace(p.filter.Value()))
	p.list.top()
	if old != "" && p.query != "" && strings.Contains(p.query, old) {
		p.filterFrom(a, p.rows) // narrowing: only the current matches can match
		return
	}
	p.refilter(a)
}

func (p *keysPage) filterKey(a *App, msg tea.KeyPressMsg) tea.Cmd {
	km := &a.km
	switch {
	case key.Matches(msg, km.Back):
		p.filtering = false
		p.filter.Reset()
		p.applyFilter(a)
		return nil
	case key.Matches(msg, km.Confirm), msg.String() == "up", msg.String() == "down":
		p.filtering = false
		if msg.String() == "up" || msg.String() == "down" {
			return p.update(a, msg)
		}
		return nil
	}
	if changed, _ := p.filter.Update(msg); changed {
		p.applyFilter(a)
	}
	return nil
}

// move is a navigation keystroke; it reports whether msg was one.
func navigate(l *listState, km *keyMap, msg tea.KeyPressMsg, n, height int) bool {
	switch {
	case key.Matches(msg, km.Up):
		l.move(-1, n, height)
	case key.Matches(msg, km.Down):
		l.move(1, n, height)
	case key.Matches(msg, km.PgUp):
		l.move(-height, n, height)
	case key.Matches(msg, km.PgDown):
		l.move(height, n, height)
	case key.Matches(msg, km.Home):
		l.top()
	case key.Matches(msg, km.End):
		l.bottom(n, height)
	default:
		return false
	}
	return true
}

func (p *keysPage) update(a *App, msg tea.KeyPressMsg) tea.Cmd {
	km := &a.km
	if navigate(&p.list, km, msg, len(p.rows), p.listHeight(a)) {
		p.syncSel(a)
		return nil
	}
	switch {
	case key.Matches(msg, km.New):
		a.modal = newNameModal(a, "")
	case key.Matches(msg, km.Filter):
		p.filtering = true
		p.filter.SetValue(p.filter.Value())
	case key.Matches(msg, km.Back):
		if p.query != "" {
			p.filter.Reset()
			p.applyFilter(a)
		}
	case key.Matches(msg, km.Sort):
		p.sort = (p.sort + 1) % sortCount
		p.rebuild(a)
		a.setBanner(bannerInfo, "Sorted by "+sortLabel(p.sort)+".")
	case key.Matches(msg, km.Open):
		if k := p.selected(a); k != nil {
			a.openKey(k.ID)
		}
	case key.Matches(msg, km.Menu):
		if k := p.selected(a); k != nil {
			a.modal = newActionMenu(a, k)
		}
	}
	return nil
}

// openKey shows a key's detail screen on the keys page.
func (a *App) openKey(id string) {
	a.page = pageKeys
	a.kp.selID = id
	a.kd = &keyDetail{id: id}
	a.kd.refresh(a)
	a.clampLists()
}

func (p *keysPage) help(a *App) helpSet {
	km := &a.km
	if p.filtering {
		return helpSet{
			short: []key.Binding{with(km.Confirm, "keep filter"), with(km.Back, "clear filter")},
			full:  [][]key.Binding{{with(km.Confirm, "keep filter"), with(km.Back, "clear filter")}},
		}
	}
	nav := []key.Binding{km.Up, km.Down, km.PgUp, km.PgDown, km.Home, km.End}
	acts := []key.Binding{km.Open, km.Menu, with(km.New, "new key"), km.Filter, km.Sort}
	if p.query != "" {
		acts = append(acts, with(km.Back, "clear filter"))
	}
	return helpSet{
		short: []key.Binding{km.Up, km.Down, km.Open, km.Menu, with(km.New, "new key"), km.Filter, km.Sort},
		full:  [][]key.Binding{nav, acts},
	}
}

// keyCols is the column layout of key rows at one width.
type keyCols struct {
	name, prefix, status, created, domains int
	spark                                  int // the 24-hour sparkline (wide windows only)
	menuX                                  int // x of the ⋯ cell
}

func keyColumns(w int) keyCols {
	c := keyCols{prefix: 11, status: 8}
	fixed := 2 + 2 + (c.prefix + 2) + (c.status + 2) + 3 // marker, gaps, "  ⋯"
	if w >= 92 {
		c.created = 10
		fixed += c.created + 2
	}
	if w >= 110 {
		c.spark = 12
		fixed += c.spark + 2
	}
	rest := w - fixed
	if rest < 8 {
		rest = 8
	}
	c.name = rest * 45 / 100
	if c.name > 40 {
		c.name = 40
	}
	c.domains = rest - c.name
	c.menuX = w - 2
	return c
}

// domainSummary is "mysite.tn, app.mysite.tn +2" in at most width cells, or
// "unrestricted".
func (a *App) domainSummary(doms []string, width int) string {
	if len(doms) == 0 {
		return "unrestricted"
	}
	var b strings.Builder
	for i, d := range doms {
		if di, ok := a.data.domIdx[d]; ok {
			d = a.data.uni[di]
		} else {
			d = model.Escape(d)
		}
		more := ""
		if rest := len(doms) - i - 1; rest > 0 {
			more = " +" + itoa(rest)
		}
		sep := ""
		if i > 0 {
			sep = ", "
		}
		if ansi.StringWidth(b.String())+len(sep)+ansi.StringWidth(d)+len(more) > width && i > 0 {
			b.WriteString(" +" + itoa(len(doms)-i))
			break
		}
		b.WriteString(sep)
		b.WriteString(d)
	}
	return b.String()
}

func (a *App) statusBadge(s model.Status, width int) string {
	label := fit(s.Label(), width)
	switch s {
	case model.Active:
		return a.th.BadgeActive.Render(label)
	case model.Disabled:
		return a.th.BadgeDisabled.Render(label)
	}
	return a.th.BadgeRevok.Render(label)
}

func (p *keysPage) view(a *App, height int) []string {
	w := a.w
	lines := make([]string, 0, height)
	total := len(a.data.keys)
	// toolbar
	var tb string
	switch {
	case p.filtering:
		tb = " Filter: " + p.filter.View(max(10, w/3), true, &a.th)
	case p.query != "":
		tb = " Filter: " + model.Escape(p.filter.Value())
	default:
		tb = a.th.Faint.Render(" / to filter")
	}
	keys := " keys"
	if total == 1 {
		keys = " key"
	}
	count := thousands(len(p.rows)) + " of " + thousands(total) + keys + " · sort: " + sortLabel(p.sort) + " "
	if p.query == "" {
		count = thousands(total) + keys + " · sort: " + sortLabel(p.sort) + " "
	}
	gap := w - ansi.StringWidth(tb) - ansi.StringWidth(count)
	if gap >= 1 {
		lines = append(lines, tb+strings.Repeat(" ", gap)+a.th.Faint.Render(count))
	} else {
		lines = append(lines, ansi.Truncate(tb, w, "…"))
	}
	if total == 0 {
		lines = append(lines, "", " "+a.th.Bold.Render("No API keys yet."),
			" Press n to create your first key: you will see its secret once, to copy into your app.")
		return lines
	}
	c := keyColumns(w)
	hdr := "  " + fit("Name", c.name) + "  " + fit("Prefix", c.prefix) + "  " + fit("Status", c.status) + "  "
	if c.created > 0 {
		hdr += fit("Created", c.created) + "  "
	}
	if c.spark > 0 {
		hdr += fit("Last 24 h", c.spark) + "  "
	}
	hdr += fit("Domains", c.domains)
	lines = append(lines, a.th.ColHeader.Render(fit(hdr, w)))
	if len(p.rows) == 0 {
		lines = append(lines, " No key matches “"+model.Escape(p.filter.Value())+"”. Press esc to clear the filter.")
		return lines
	}
	lh := height - listTop
	from, to := p.list.visible(len(p.rows), lh)
	for r := from; r < to; r++ {
		k := &a.data.keys[p.rows[r]]
		sel := r == p.list.cursor
		lines = append(lines, a.keyRow(k, c, sel))
	}
	return lines
}

func (a *App) keyRow(k *model.Key, c keyCols, sel bool) string {
	marker := "  "
	if sel {
		marker = "› "
	}
	name := fit(a.spikeMark(k.ID)+model.Escape(k.Name), c.name)
	prefix := fit(k.Prefix, c.prefix)
	created := ""
	if c.created > 0 {
		created = fit(k.Created.Format("2006-01-02"), c.created) + "  "
	}
	if c.spark > 0 {
		created += fit(a.keySpark(k.ID, c.spark), c.spark) + "  "
	}
	doms := fit(a.domainSummary(k.Domains, c.domains), c.domains)
	if sel || k.Status == model.Revoked {
		row := marker + name + "  " + prefix + "  " + fit(k.Status.Label(), c.status) + "  " + created + doms + "  ⋯"
		row = fit(row, a.w)
		if sel {
			return a.th.Selected.Render(row)
		}
		return a.th.Revoked.Render(row)
	}
	return marker + name + "  " + prefix + "  " + a.statusBadge(k.Status, c.status) + "  " + created + doms + "  ⋯"
}

func itoa(n int) string { return thousands(n) }
