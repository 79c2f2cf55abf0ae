package ui

import (
	tea "charm.land/bubbletea/v2"
)

// onClick handles a left click: tabs, list rows (a click on the selected
// row opens it), the ⋯ cell, and items of the action menu.
func (a *App) onClick(m tea.Mouse) tea.Cmd {
	if m.Button != tea.MouseLeft {
		return nil
	}
	a.banner = banner{}
	if a.showHelp {
		a.showHelp = false
		return nil
	}
	if a.modal != nil {
		return a.clickModal(m)
	}
	if m.Y == rowTabs {
		for i, r := range a.tabRanges() {
			if m.X >= r[0] && m.X < r[1] {
				a.page = pages()[i].p
				a.clampLists()
				return a.enterPage()
			}
		}
		return nil
	}
	y := m.Y - rowBody
	if y < 0 || y >= a.bodyHeight() {
		return nil
	}
	if a.page == pageUsage || a.page == pageAudit {
		return a.clickInsightPage(y)
	}
	switch {
	case a.page == pageKeys && a.kd == nil:
		r := a.kp.list.offset + y - listTop
		if y < listTop || r >= len(a.kp.rows) {
			return nil
		}
		again := r == a.kp.list.cursor
		a.kp.list.cursor = r
		a.kp.list.clamp(len(a.kp.rows), a.kp.listHeight(a))
		a.kp.syncSel(a)
		k := a.kp.selected(a)
		if k == nil {
			return nil
		}
		if m.X >= keyColumns(a.w).menuX-1 {
			a.modal = newActionMenu(a, k)
		} else if again {
			a.openKey(k.ID)
		}
	case a.page == pageDomains && a.dd == nil:
		r := a.dp.list.offset + y - listTop
		if y < listTop || r >= len(a.dp.rows) {
			return nil
		}
		again := r == a.dp.list.cursor
		a.dp.list.cursor = r
		a.dp.list.clamp(len(a.dp.rows), a.dp.listHeight(a))
		if dm := a.dp.selected(a); dm != nil {
			a.dp.selName = dm.Name
			if m.X >= a.w-3 {
				a.modal = newDomainMenu(dm.Name)
			} else if again {
				a.openDomain(dm.Name)
			}
		}
	case a.page == pageKeys:
		top := a.kd.top(a)
		r := a.kd.list.offset + y - top
		if y >= top && r < len(a.kd.key.Domains) {
			a.kd.list.cursor = r
			a.kd.clamp(a)
		}
	default:
		r := a.dd.list.offset + y - domainDetailTop
		if y >= domainDetailTop && r < len(a.dd.keys) {
			again := r == a.dd.list.cursor
			a.dd.list.cursor = r
			a.dd.clamp(a)
			if again {
				a.openKey(a.dd.keys[r].ID)
			} else if m.X >= keyColumns(a.w).menuX-1 {
				k := a.dd.keys[r]
				a.modal = newActionMenu(a, &k)
			}
		}
	}
	return nil
}

// clickModal runs a clicked item of the action menu; other dialogs take the
// keyboard only.
func (a *App) clickModal(m tea.Mouse) tea.Cmd {
	menu, ok := a.modal.(*actionMenu) // key or domain actions
	if !ok {
		return nil
	}
	box := a.modalBox()
	x, y := a.modalOrigin(box)
	if m.X < x || m.X >= x+a.modalInner()+4 || m.Y < y || m.Y >= y+len(box) {
		a.modal = nil // a click outside closes the menu
		return nil
	}
	i := m.Y - y - 1 - menuTop
	if i < 0 || i >= len(menu.items) {
		return nil
	}
	next, cmd := menu.items[i].act(a)
	a.modal = next
	return cmd
}

func (a *App) onWheel(m tea.Mouse) tea.Cmd {
	delta := 0
	switch m.Button {
	case tea.MouseWheelUp:
		delta = -3
	case tea.MouseWheelDown:
		delta = 3
	default:
		return nil
	}
	if a.modal != nil || a.showHelp {
		return nil
	}
	if a.page == pageUsage || a.page == pageAudit {
		a.wheelInsightPage(delta)
		return nil
	}
	switch {
	case a.page == pageKeys && a.kd == nil:
		a.kp.list.move(delta, len(a.kp.rows), a.kp.listHeight(a))
		a.kp.syncSel(a)
	case a.page == pageDomains && a.dd == nil:
		a.dp.list.move(delta, len(a.dp.rows), a.dp.listHeight(a))
		if dm := a.dp.selected(a); dm != nil {
			a.dp.selName = dm.Name
		}
	case a.page == pageKeys:
		a.kd.list.move(delta, len(a.kd.key.Domains), a.kd.listHeight(a))
	default:
		a.dd.list.move(delta, len(a.dd.keys), a.dd.listHeight(a))
	}
	return nil
}
