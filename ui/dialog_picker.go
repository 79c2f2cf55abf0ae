package ui

import (
	"context"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/ui/list"
	"github.com/tmaps/console/ui/text"
	"github.com/tmaps/console/ui/textfield"
)

// picker is a multi-select with a filter: domains to link to a key (keyID
// set; typing a new valid name offers to add it), or keys to link to a
// domain (domain set). Everything typed, spaces included, goes to the
// filter; tab ticks the highlighted row; enter links the ticked rows the
// filter shows (or the highlighted one), never one the filter hides.
type picker struct {
	dialogBase
	keyID  string
	domain string
	title  string
	f      textfield.Model
	cands  []string // domain names, or key ids
	hays   []string // lowercased search text per candidate
	shown  []int    // indexes into cands that match the filter
	addRow bool     // row 0 offers to add the typed domain
	list   list.Model
	chosen map[string]bool
	order  []string // chosen, in the order picked
}

func newDomainPicker(c *common, keyID string) Page {
	k, ok := c.data.key(keyID)
	if !ok {
		return nil
	}
	p := &picker{dialogBase: dialogBase{c: c}, keyID: keyID, title: "Link domains to " + text.Quote(k.Name),
		chosen: map[string]bool{}, f: textfield.New(300)}
	linked := map[string]bool{}
	for _, d := range k.Domains {
		linked[d] = true
	}
	for i, d := range c.data.doms {
		if !linked[d.Name] {
			p.cands = append(p.cands, d.Name)
			p.hays = append(p.hays, d.Name+"\x00"+strings.ToLower(c.data.uni[i]))
		}
	}
	p.refilter()
	return p
}

func newKeyPicker(c *common, domain string) Page {
	dm, ok := c.data.domain(domain)
	if !ok {
		return nil
	}
	p := &picker{dialogBase: dialogBase{c: c}, domain: domain, title: "Link keys to " + text.Safe(domain),
		chosen: map[string]bool{}, f: textfield.New(200)}
	linked := map[string]bool{}
	for _, id := range dm.Keys {
		linked[id] = true
	}
	for _, k := range c.data.byName() {
		if k.Status != model.Revoked && !linked[k.ID] {
			p.cands = append(p.cands, k.ID)
			p.hays = append(p.hays, c.data.searchText()[c.data.idx[k.ID]])
		}
	}
	p.refilter()
	return p
}

func (p *picker) Title() string { return p.title }
func (p *picker) Typing() bool  { return true }

func (p *picker) SetSize(w, h int) {
	p.w, p.h = w, h
	p.list.SetHeight(p.height())
}

// height is the number of candidate rows shown.
func (p *picker) height() int { return max(1, min(10, p.h-8)) }

func (p *picker) refilter() {
	q := strings.ToLower(strings.TrimSpace(p.f.Value()))
	p.shown = p.shown[:0]
	for i, hay := range p.hays {
		if q == "" || strings.Contains(hay, q) {
			p.shown = append(p.shown, i)
		}
	}
	p.addRow = false
	if p.keyID != "" && q != "" {
		if ascii, err := model.NormalizeDomain(p.f.Value()); err == nil {
			if _, exists := p.c.data.domain(ascii); !exists {
				p.addRow = true
			}
		}
	}
	p.list.SetLen(p.rows())
}

func (p *picker) rows() int {
	n := len(p.shown)
	if p.addRow {
		n++
	}
	return n
}

// at returns the candidate on row r ("" for the add row).
func (p *picker) at(r int) string {
	if p.addRow {
		if r == 0 {
			return ""
		}
		r--
	}
	if r < 0 || r >= len(p.shown) {
		return ""
	}
	return p.cands[p.shown[r]]
}

func (p *picker) toggle(c string) {
	if c == "" {
		return
	}
	if p.chosen[c] {
		delete(p.chosen, c)
		for i, o := range p.order {
			if o == c {
				p.order = append(p.order[:i], p.order[i+1:]...)
				break
			}
		}
		return
	}
	p.chosen[c] = true
	p.order = append(p.order, c)
}

func (p *picker) Update(msg tea.Msg) tea.Cmd {
	if kp, ok := msg.(tea.KeyPressMsg); ok {
		switch kp.String() {
		case "esc":
			p.close()
			return nil
		case "up":
			p.list.Move(-1)
			return nil
		case "down":
			p.list.Move(1)
			return nil
		case "pgup":
			p.list.Move(-p.height())
			return nil
		case "pgdown":
			p.list.Move(p.height())
			return nil
		case "enter":
			return p.confirm()
		}
		if key.Matches(kp, p.c.km.Dialog.Toggle) {
			p.toggle(p.at(p.list.Cursor))
			return nil
		}
	}
	if p.f.Update(msg) {
		p.list.Top()
		p.refilter()
	}
	return nil
}

// pickedShown is the ticked candidates the filter shows, in the order
// they were ticked.
func (p *picker) pickedShown() []string {
	shown := make(map[string]bool, len(p.shown))
	for _, i := range p.shown {
		shown[p.cands[i]] = true
	}
	var out []string
	for _, cand := range p.order {
		if shown[cand] {
			out = append(out, cand)
		}
	}
	return out
}

func (p *picker) confirm() tea.Cmd {
	c := p.c
	if p.addRow && p.list.Cursor == 0 {
		p.close()
		return c.addDomainCmd(p.f.Value(), false, p.keyID, p.pickedShown())
	}
	picked := p.pickedShown()
	if len(picked) == 0 {
		if cand := p.at(p.list.Cursor); cand != "" {
			picked = []string{cand}
		}
	}
	if len(picked) == 0 {
		return nil
	}
	p.close()
	if p.keyID != "" {
		return c.linkDomainsCmd(p.keyID, picked)
	}
	dom := p.domain
	var unrestricted []string
	for _, id := range picked {
		if k, ok := c.data.key(id); ok && k.Unrestricted() {
			unrestricted = append(unrestricted, k.Name)
		}
	}
	return c.op(func(ctx context.Context, st store.Store) opDoneMsg {
		var keys []model.Key
		for _, id := range picked {
			k, err := st.LinkKey(ctx, id, dom)
			if err != nil {
				return opDoneMsg{err: err, keys: keys, domains: true}
			}
			keys = append(keys, k)
		}
		info := "Linked " + domainLabel(dom) + " to " + text.Plural(len(keys), "key") + "."
		switch {
		case len(unrestricted) == 1 && len(keys) == 1:
			info += unrestrictedNotice
		case len(unrestricted) > 0:
			info += " " + text.Names(unrestricted) + " were unrestricted: requests that send an Origin or Referer must now come from a linked domain (calls with neither still pass)."
		}
		return opDoneMsg{keys: keys, domains: true, info: info}
	})
}

// pickerTop is the number of lines above the rows: the label, the field
// and the hint.
const pickerTop = 3

// Click ticks the clicked row (or adds the typed domain).
func (p *picker) Click(x, y int) tea.Cmd {
	r, ok := p.list.RowAt(y - pickerTop)
	if !ok {
		return nil
	}
	p.list.Select(r)
	if p.at(r) == "" {
		return p.confirm()
	}
	p.toggle(p.at(r))
	return nil
}

func (p *picker) View() []string {
	c, t, width := p.c, p.c.th, p.w
	lines := []string{"Filter", "> " + p.f.View(width-2, true, t.Selected)}
	if p.keyID != "" {
		if v, _ := c.domainVerdict(p.f.Value()); p.f.Value() != "" {
			lines = append(lines, v)
		} else {
			lines = append(lines, t.Faint.Render("type to filter, or type a new domain to add it"))
		}
	} else {
		lines = append(lines, t.Faint.Render("type to filter by name, prefix or domain"))
	}
	n := p.rows()
	q := strings.TrimSpace(p.f.Value())
	switch {
	case n > 0:
	case q != "" && p.keyID != "":
		lines = append(lines, "No domain matches “"+text.Safe(q)+"”.")
	case q != "":
		lines = append(lines, "No key matches “"+text.Safe(q)+"”.")
	case p.keyID != "":
		lines = append(lines, "No other domain to link. Type a new one to add it.")
	default:
		lines = append(lines, "No key left to link (revoked keys cannot be linked).")
	}
	from, to := p.list.Visible()
	for r := from; r < to; r++ {
		cand := p.at(r)
		var row string
		if cand == "" {
			row = "  + Add new domain " + text.Safe(strings.TrimSpace(p.f.Value()))
		} else {
			box := "[ ] "
			if p.chosen[cand] {
				box = "[x] "
			}
			row = "  " + box + p.label(cand)
		}
		if r == p.list.Cursor {
			row = t.Selected.Render(text.Fit("›"+row[1:], width))
		}
		lines = append(lines, row)
	}
	status := text.Plural(len(p.chosen), "item") + " selected · " + text.Thousands(len(p.shown)) + " shown"
	if hidden := len(p.chosen) - len(p.pickedShown()); hidden > 0 {
		status += " · " + text.Thousands(hidden) + " selected but hidden by the filter (enter leaves it)"
	}
	return append(lines, t.Faint.Render(status))
}

func (p *picker) label(cand string) string {
	c := p.c
	if p.keyID != "" {
		s := text.Safe(cand)
		if i, ok := c.data.domIdx[cand]; ok && c.data.uni[i] != cand {
			s += " (" + c.data.uni[i] + ")"
		}
		return s
	}
	if k, ok := c.data.key(cand); ok {
		return text.Safe(k.Name) + "  " + k.Prefix + "  " + k.Status.Label()
	}
	return cand
}

func (p *picker) ShortHelp() []key.Binding {
	km := &p.c.km.Dialog
	return []key.Binding{km.Toggle, withHelp(km.Confirm, "link"), km.Cancel, km.Move}
}

func (p *picker) FullHelp() [][]key.Binding { return [][]key.Binding{p.ShortHelp()} }
