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

// domainsPage is the Authorized Domains list.
type domainsPage struct {
	byKeys    bool // sort by linked-key count instead of name
	filter    field
	filtering bool
	query     string
	rows      []int // indexes into dataset.doms
	list      listState
	selName   string
}

func (p *domainsPage) init() { p.filter.limit = 300 }

func (p *domainsPage) listHeight(a *App) int {
	h := a.bodyHeight() - listTop
	if h < 1 {
		h = 1
	}
	return h
}

func (p *domainsPage) rebuild(a *App) {
	d := &a.data
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
	if p.selName != "" {
		if i, ok := d.domIdx[p.selName]; ok {
			for r, idx := range p.rows {
				if idx == i {
					p.list.cursor = r
					break
				}
			}
		}
	}
	p.list.clamp(len(p.rows), p.listHeight(a))
	if dm := p.selected(a); dm != nil {
		p.selName = dm.Name
	}
}

func (p *domainsPage) selected(a *App) *model.Domain {
	if p.list.cursor < 0 || p.list.cursor >= len(p.rows) {
		return nil
	}
	return &a.data.doms[p.rows[p.list.cursor]]
}

func (p *domainsPage) applyFilter(a *App) {
	p.query = strings.ToLower(strings.TrimSpace(p.filter.Value()))
	p.list.top()
	p.selName = ""
	p.rebuild(a)
}

func (p *domainsPage) filterKey(a *App, msg tea.KeyPressMsg) tea.Cmd {
	km := &a.km
	switch {
	case key.Matches(msg, km.Back):
		p.filtering = false
		p.filter.Reset()
		p.applyFilter(a)
		return nil
	case key.Matches(msg, km.Confirm), msg.String() == "up", msg.String() == "down":
		p.filtering = false
		if msg.String() != "enter" {
			return p.update(a, msg)
		}
		return nil
	}
	if changed, _ := p.filter.Update(msg); changed {
		p.applyFilter(a)
	}
	return nil
}

func (p *domainsPage) update(a *App, msg tea.KeyPressMsg) tea.Cmd {
	km := &a.km
	if navigate(&p.list, km, msg, len(p.rows), p.listHeight(a)) {
		if dm := p.selected(a); dm != nil {
			p.selName = dm.Name
		}
		return nil
	}
	switch {
	case key.Matches(msg, km.New):
		a.modal = newDomainModal()
	case key.Matches(msg, km.Filter):
		p.filtering = true
	case key.Matches(msg, km.Back):
		if p.query != "" {
			p.filter.Reset()
			p.applyFilter(a)
		}
	case key.Matches(msg, km.Sort):
		p.byKeys = !p.byKeys
		p.rebuild(a)
		if p.byKeys {
			a.setBanner(bannerInfo, "Sorted by linked keys.")
		} else {
			a.setBanner(bannerInfo, "Sorted by name.")
		}
	case key.Matches(msg, km.Open):
		if dm := p.selected(a); dm != nil {
			a.openDomain(dm.Name)
		}
	case key.Matches(msg, km.Delete):
		if dm := p.selected(a); dm != nil {
			a.modal = newDeleteDomainModal(a, dm.Name)
		}
	case key.Matches(msg, km.Menu):
		if dm := p.selected(a); dm != nil {
			a.modal = newDomainMenu(dm.Name)
		}
	}
	return nil
}

// openDomain shows a domain's detail screen on the domains page.
func (a *App) openDomain(name string) {
	a.page = pageDomains
	a.dp.selName = name
	a.dp.rebuild(a)
	a.dd = &domainDetail{name: name}
	a.dd.refresh(a)
	a.clampLists()
}

func (p *domainsPage) help(a *App) helpSet {
	km := &a.km
	if p.filtering {
		return helpSet{
			short: []key.Binding{with(km.Confirm, "keep filter"), with(km.Back, "clear filter")},
			full:  [][]key.Binding{{with(km.Confirm, "keep filter"), with(km.Back, "clear filter")}},
		}
	}
	return helpSet{
		short: []key.Binding{km.Up, km.Down, km.Open, km.Menu, with(km.New, "add domain"), km.Filter, km.Sort, km.Delete},
		full: [][]key.Binding{{km.Up, km.Down, km.PgUp, km.PgDown, km.Home, km.End},
			{km.Open, km.Menu, with(km.New, "add domain"), km.Filter, with(km.Sort, "sort by name/keys"), km.Delete}},
	}
}

func (p *domainsPage) view(a *App, height int) []string {
	w := a.w
	d := &a.data
	lines := make([]string, 0, height)
	var tb string
	switch {
	case p.filtering:
		tb = " Filter: " + p.filter.View(max(10, w/3), true, &a.th)
	case p.query != "":
		tb = " Filter: " + model.Escape(p.filter.Value())
	default:
		tb = a.th.Faint.Render(" / to filter")
	}
	sortBy := "name"
	if p.byKeys {
		sortBy = "keys"
	}
	count := thousands(len(d.doms)) + " domains · sort: " + sortBy + " "
	if gap := w - ansi.StringWidth(tb) - ansi.StringWidth(count); gap >= 1 {
		lines = append(lines, tb+strings.Repeat(" ", gap)+a.th.Faint.Render(count))
	} else {
		lines = append(lines, ansi.Truncate(tb, w, "…"))
	}
	if len(d.doms) == 0 {
		lines = append(lines, "", " "+a.th.Bold.Render("No authorized domains yet."),
			" Press n to add one (e.g. mysite.tn). A key linked to domains only works from those sites.")
		return lines
	}
	nameW, uniW, keysW := domainColumns(w)
	hdr := "  " + fit("Domain", nameW) + "  " + fit("Unicode form", uniW) + "  " + fit("Keys", keysW)
	lines = append(lines, a.th.ColHeader.Render(fit(hdr, w)))
	if len(p.rows) == 0 {
		lines = append(lines, " No domain matches “"+model.Escape(p.filter.Value())+"”. Press esc to clear the filter.")
		return lines
	}
	from, to := p.list.visible(len(p.rows), height-listTop)
	for r := from; r < to; r++ {
		i := p.rows[r]
		dm := &d.doms[i]
		marker := "  "
		if r == p.list.cursor {
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
		name := fit(model.Escape(dm.Name), nameW)
		row := marker + name + "  " + fit(uni, uniW) + "  " + fit(itoa(len(dm.Keys)), keysW) + "  "
		warnW := w - width(row) - 3
		if r == p.list.cursor {
			lines = append(lines, a.th.Selected.Render(fit(row+fit(warn, warnW)+"  ⋯", w)))
			continue
		}
		lines = append(lines, row+a.th.Warn.Render(fit(warn, warnW))+"  ⋯")
	}
	return lines
}

func domainColumns(w int) (name, uni, keys int) {
	keys = 5
	rest := w - 2 - 2 - 2 - keys - 2 - 16 - 3
	if rest < 16 {
		rest = 16
	}
	name = rest * 55 / 100
	uni = rest - name
	return
}
