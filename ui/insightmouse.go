package ui

import tea "charm.land/bubbletea/v2"

// enterPage is what showing the current page needs loaded (the Usage and
// Audit pages load on entry).
func (a *App) enterPage() tea.Cmd {
	switch a.page {
	case pageUsage:
		return a.up.enter(a)
	case pageAudit:
		return a.ap.enter(a)
	}
	return nil
}

// usageTableTop is the body row of the first row of the Usage page's table.
func (p *usagePage) usageTableTop(a *App) int {
	chartH, _, days := p.layout(a)
	top := 2 + chartH + 2 // title, totals, chart, axis, labels
	if days {
		top += 2 + chartH + 2
	}
	return top + 1 // the table's header
}

// clickInsightPage selects the clicked row of the Usage or Audit page; a
// click on the selected row opens it (Usage) or fixes it (hygiene).
func (a *App) clickInsightPage(y int) tea.Cmd {
	if a.page == pageUsage {
		p := &a.up
		r := p.list.offset + y - p.usageTableTop(a)
		if y < p.usageTableTop(a) || r >= p.entries(a) {
			return nil
		}
		again := r == p.list.cursor
		p.list.cursor = r
		p.clamp(a)
		if again && p.keyID == "" {
			return p.show(a, a.us.order[r])
		}
		return nil
	}
	p := &a.ap
	l, n := &p.list, len(p.rows)
	if p.hygiene {
		l, n = &p.hlist, len(p.findings)
	}
	r := l.offset + y - auditTop
	if y < auditTop || r >= n {
		return nil
	}
	again := r == l.cursor
	l.cursor = r
	l.clamp(n, p.listHeight(a))
	if again && p.hygiene {
		a.modal = a.fixModal(p.findings[r])
	}
	return nil
}

func (a *App) wheelInsightPage(delta int) {
	if a.page == pageUsage {
		a.up.list.move(delta, a.up.entries(a), a.up.tableHeight(a))
		return
	}
	p := &a.ap
	if p.hygiene {
		p.hlist.move(delta, len(p.findings), p.listHeight(a))
		return
	}
	p.list.move(delta, len(p.rows), p.listHeight(a))
}
