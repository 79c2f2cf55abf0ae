package ui

import (
	"context"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// picker is a multi-select with a filter: domains to link to a key (keyID
// set; typing a new valid name offers to add it), or keys to link to a
// domain (domain set).
type picker struct {
	keyID  string
	domain string
	title  string
	f      field
	cands  []string // domain names, or key ids
	hays   []string // lowercased search text per candidate
	shown  []int    // indexes into cands that match the filter
	addRow bool     // row 0 offers to add the typed domain
	list   listState
	chosen map[string]bool
	order  []string // chosen, in the order picked
}

func newDomainPicker(a *App, keyID string) modal {
	k, ok := a.data.key(keyID)
	if !ok {
		return nil
	}
	p := &picker{keyID: keyID, title: "Link domains to " + quoteName(k.Name), chosen: map[string]bool{}}
	linked := map[string]bool{}
	for _, d := range k.Domains {
		linked[d] = true
	}
	for i, d := range a.data.doms {
		if !linked[d.Name] {
			p.cands = append(p.cands, d.Name)
			p.hays = append(p.hays, d.Name+"\x00"+strings.ToLower(a.data.uni[i]))
		}
	}
	p.f.limit = 300
	p.refilter(a)
	return p
}

func newKeyPicker(a *App, domain string) modal {
	dm, ok := a.data.domain(domain)
	if !ok {
		return nil
	}
	p := &picker{domain: domain, title: "Link keys to " + model.Escape(domain), chosen: map[string]bool{}}
	linked := map[string]bool{}
	for _, id := range dm.Keys {
		linked[id] = true
	}
	for _, i := range a.kp.order {
		k := &a.data.keys[i]
		if k.Status != model.Revoked && !linked[k.ID] {
			p.cands = append(p.cands, k.ID)
			p.hays = append(p.hays, a.data.hay[i])
		}
	}
	p.f.limit = 200
	p.refilter(a)
	return p
}

func (p *picker) typing() bool { return true }

func (p *picker) refilter(a *App) {
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
			if _, exists := a.data.domain(ascii); !exists {
				p.addRow = true
			}
		}
	}
	p.list.clamp(p.rows(), p.height(a))
}

func (p *picker) rows() int {
	n := len(p.shown)
	if p.addRow {
		n++
	}
	return n
}

func (p *picker) height(a *App) int { return max(1, min(10, a.h-10)) }

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

func (p *picker) update(a *App, msg tea.Msg) (modal, tea.Cmd) {
	if kp, ok := msg.(tea.KeyPressMsg); ok {
		switch kp.String() {
		case "esc":
			return nil, nil
		case "up":
			p.list.move(-1, p.rows(), p.height(a))
			return p, nil
		case "down":
			p.list.move(1, p.rows(), p.height(a))
			return p, nil
		case "pgup":
			p.list.move(-p.height(a), p.rows(), p.height(a))
			return p, nil
		case "pgdown":
			p.list.move(p.height(a), p.rows(), p.height(a))
			return p, nil
		case "space":
			p.toggle(p.at(p.list.cursor))
			return p, nil
		case "enter":
			return p.confirm(a)
		}
	}
	if changed, _ := p.f.Update(msg); changed {
		p.list.top()
		p.refilter(a)
	}
	return p, nil
}

func (p *picker) confirm(a *App) (modal, tea.Cmd) {
	if p.addRow && p.list.cursor == 0 {
		return nil, a.addDomainCmd(p.f.Value(), p.keyID, append([]string(nil), p.order...))
	}
	picked := append([]string(nil), p.order...)
	if len(picked) == 0 {
		if c := p.at(p.list.cursor); c != "" {
			picked = []string{c}
		}
	}
	if len(picked) == 0 {
		return p, nil
	}
	if p.keyID != "" {
		return nil, a.linkDomainsCmd(p.keyID, picked)
	}
	dom := p.domain
	return nil, a.op(func(ctx context.Context, st store.Store) opDoneMsg {
		var keys []model.Key
		for _, id := range picked {
			k, err := st.LinkKey(ctx, id, dom)
			if err != nil {
				return opDoneMsg{err: err, keys: keys, domains: true}
			}
			keys = append(keys, k)
		}
		return opDoneMsg{keys: keys, domains: true,
			info: "Linked " + model.Escape(dom) + " to " + plural(len(keys), "key") + "."}
	})
}

func (p *picker) view(a *App, width int) (string, []string) {
	t := &a.th
	lines := []string{"Filter", "> " + p.f.View(width-2, true, t)}
	if p.keyID != "" {
		if v, _ := a.domainVerdict(p.f.Value()); p.f.Value() != "" {
			lines = append(lines, v)
		} else {
			lines = append(lines, t.Faint.Render("type to filter, or type a new domain to add it"))
		}
	} else {
		lines = append(lines, t.Faint.Render("type to filter by name, prefix or domain"))
	}
	n := p.rows()
	if n == 0 {
		if p.keyID != "" {
			lines = append(lines, "No other domain to link. Type a new one to add it.")
		} else {
			lines = append(lines, "No key left to link (revoked keys cannot be linked).")
		}
	}
	from, to := p.list.visible(n, p.height(a))
	for r := from; r < to; r++ {
		c := p.at(r)
		var row string
		if c == "" {
			row = "  + Add new domain " + model.Escape(strings.TrimSpace(p.f.Value()))
		} else {
			box := "[ ] "
			if p.chosen[c] {
				box = "[x] "
			}
			row = "  " + box + p.label(a, c)
		}
		if r == p.list.cursor {
			row = t.Selected.Render(fit("›"+row[1:], width))
		}
		lines = append(lines, row)
	}
	lines = append(lines, t.Faint.Render(plural(len(p.chosen), "item")+" selected · "+itoa(len(p.shown))+" shown"))
	return p.title, lines
}

func (p *picker) label(a *App, c string) string {
	if p.keyID != "" {
		s := model.Escape(c)
		if i, ok := a.data.domIdx[c]; ok && a.data.uni[i] != c {
			s += " (" + a.data.uni[i] + ")"
		}
		return s
	}
	if k, ok := a.data.key(c); ok {
		return model.Escape(k.Name) + "  " + k.Prefix + "  " + k.Status.Label()
	}
	return c
}

func (p *picker) help(a *App) helpSet {
	km := &a.km
	s := []key.Binding{with(km.Toggle, "select"), with(km.Confirm, "link"), with(km.Back, "cancel"),
		key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "move"))}
	return helpSet{short: s, full: [][]key.Binding{s}}
}
