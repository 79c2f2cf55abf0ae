package ui

import (
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// auditLimit is how many audit entries the page loads (newest first).
const auditLimit = 5000

// auditPage is tab 4: the audit log, newest first, filterable by object and
// actor; and the hygiene report, each finding with the action that fixes it.
// ←/→ switch between the two.
type auditPage struct {
	hygiene bool // the hygiene report is shown (else the audit log)

	loaded  bool
	gen     int
	entries []model.AuditEntry
	rows    []int // entries the filter keeps
	// object and actor filter the log exactly (o and a on an entry);
	// filter is free text over actor, action, object and change.
	object, actor string
	filter        field
	filtering     bool
	list          listState

	findings []model.Finding
	hlist    listState
	// linksChecked says whether the findings include stale links (the
	// store counts usage per link, and there were not too many keys).
	linksChecked bool
	linksGen     int
}

// maxLinkCheckKeys caps the keys whose links the console checks for the
// hygiene report (one store call each); beyond, `tmaps hygiene` does it.
const maxLinkCheckKeys = 2000

// linksSeenMsg carries the last match of every link, for the hygiene report.
type linksSeenMsg struct {
	gen  int
	seen map[model.LinkUse]time.Time
	err  error
}

// auditLoadedMsg carries the audit log.
type auditLoadedMsg struct {
	gen     int
	entries []model.AuditEntry
	err     error
}

const auditTop = 2 // toolbar and column header

func (p *auditPage) listHeight(a *App) int { return max(1, a.bodyHeight()-auditTop) }

func (p *auditPage) load(a *App) tea.Cmd {
	p.gen++
	gen := p.gen
	st, ctx := a.cfg.Store, a.ctx
	return func() tea.Msg {
		es, err := st.Audit(ctx, store.AuditQuery{Limit: auditLimit})
		return auditLoadedMsg{gen: gen, entries: es, err: err}
	}
}

func (a *App) onAuditLoaded(msg auditLoadedMsg) tea.Cmd {
	p := &a.ap
	if msg.gen != p.gen {
		return nil
	}
	if msg.err != nil {
		a.errBanner(msg.err)
		return nil
	}
	p.loaded, p.entries = true, msg.entries
	p.refilter()
	p.list.clamp(len(p.rows), p.listHeight(a))
	return nil
}

// enter is called when the page is shown.
func (p *auditPage) enter(a *App) tea.Cmd {
	p.findings = model.Hygiene(model.HygieneInput{Keys: a.data.keys, Domains: a.data.doms, Now: a.cfg.Now()})
	p.linksChecked = false
	p.hlist.clamp(len(p.findings), p.listHeight(a))
	return tea.Batch(p.load(a), p.loadLinks(a))
}

// loadLinks fetches the use of every link (of keys not revoked), then the
// report is made again with stale links.
func (p *auditPage) loadLinks(a *App) tea.Cmd {
	if _, ok := a.cfg.Store.(store.LinkUsage); !ok {
		return nil
	}
	var keys []model.Key
	for i := range a.data.keys {
		if k := &a.data.keys[i]; k.Status != model.Revoked && len(k.Domains) > 0 {
			keys = append(keys, *k) // copies: Domains slices are replaced, never changed in place
		}
	}
	if len(keys) > maxLinkCheckKeys {
		return nil
	}
	p.linksGen++
	gen, st, ctx := p.linksGen, a.cfg.Store, a.ctx
	return func() tea.Msg {
		seen, _, err := store.LinksSeen(ctx, st, keys)
		return linksSeenMsg{gen: gen, seen: seen, err: err}
	}
}

func (a *App) onLinksSeen(msg linksSeenMsg) tea.Cmd {
	p := &a.ap
	if msg.gen != p.linksGen {
		return nil
	}
	if msg.err != nil {
		a.errBanner(msg.err)
		return nil
	}
	p.findings = model.Hygiene(model.HygieneInput{Keys: a.data.keys, Domains: a.data.doms, Now: a.cfg.Now(), LinksSeen: msg.seen})
	p.linksChecked = true
	p.hlist.clamp(len(p.findings), p.listHeight(a))
	return nil
}

// storeChanged refreshes the page after changes, when it is shown.
func (a *App) auditStoreChanged() tea.Cmd {
	if a.page != pageAudit {
		return nil
	}
	return a.ap.enter(a)
}

func (p *auditPage) refilter() {
	p.rows = p.rows[:0]
	q := strings.ToLower(strings.TrimSpace(p.filter.Value()))
	for i := range p.entries {
		e := &p.entries[i]
		if p.object != "" && e.Object != p.object || p.actor != "" && e.Actor != p.actor {
			continue
		}
		if q != "" && !strings.Contains(strings.ToLower(e.Actor+"\x00"+e.Action+"\x00"+e.Object+"\x00"+e.Before+"\x00"+e.After), q) {
			continue
		}
		p.rows = append(p.rows, i)
	}
	p.list.top()
}

func (p *auditPage) selected() *model.AuditEntry {
	if p.list.cursor < 0 || p.list.cursor >= len(p.rows) {
		return nil
	}
	return &p.entries[p.rows[p.list.cursor]]
}

func (p *auditPage) filterKey(a *App, msg tea.KeyPressMsg) tea.Cmd {
	km := &a.km
	switch {
	case key.Matches(msg, km.Back):
		p.filtering = false
		p.filter.Reset()
		p.refilter()
		return nil
	case key.Matches(msg, km.Confirm):
		p.filtering = false
		return nil
	}
	if changed, _ := p.filter.Update(msg); changed {
		p.refilter()
	}
	return nil
}

func (p *auditPage) update(a *App, msg tea.KeyPressMsg) tea.Cmd {
	km := &a.km
	if p.filtering && !p.hygiene {
		return p.filterKey(a, msg)
	}
	if key.Matches(msg, km.Left) || key.Matches(msg, km.Right) {
		p.hygiene = !p.hygiene
		return nil
	}
	if p.hygiene {
		if navigate(&p.hlist, km, msg, len(p.findings), p.listHeight(a)) {
			return nil
		}
		if key.Matches(msg, km.Open) && p.hlist.cursor < len(p.findings) {
			a.modal = a.fixModal(p.findings[p.hlist.cursor])
		}
		return nil
	}
	if navigate(&p.list, km, msg, len(p.rows), p.listHeight(a)) {
		return nil
	}
	switch {
	case key.Matches(msg, km.Filter):
		p.filtering = true
	case key.Matches(msg, km.ByObject):
		if e := p.selected(); e != nil {
			p.object = e.Object
			p.refilter()
		}
	case key.Matches(msg, km.ByActor):
		if e := p.selected(); e != nil {
			p.actor = e.Actor
			p.refilter()
		}
	case key.Matches(msg, km.Back):
		p.object, p.actor = "", ""
		p.filter.Reset()
		p.refilter()
	}
	return nil
}

// fixModal is the action that fixes a hygiene finding.
func (a *App) fixModal(f model.Finding) modal {
	switch f.Fix {
	case "link":
		return newDomainPicker(a, f.KeyID)
	case "disable":
		return newDisableModal(a, f.KeyID)
	case "revoke":
		return newRevokeModal(a, f.KeyID)
	case "delete_domain":
		return newDeleteDomainModal(a, f.Domain)
	case "unlink":
		return newUnlinkModal(a, f.KeyID, f.Domain)
	}
	return nil
}

func (p *auditPage) help(a *App) helpSet {
	km := &a.km
	sw := key.NewBinding(key.WithKeys("left", "right"), key.WithHelp("←/→", "log / hygiene"))
	if p.hygiene {
		s := []key.Binding{sw, km.Up, km.Down, with(km.Open, "fix")}
		return helpSet{short: s, full: [][]key.Binding{s}}
	}
	if p.filtering {
		s := []key.Binding{with(km.Confirm, "keep filter"), with(km.Back, "clear filter")}
		return helpSet{short: s, full: [][]key.Binding{s}}
	}
	s := []key.Binding{sw, km.Up, km.Down, km.Filter, km.ByObject, km.ByActor}
	if p.object != "" || p.actor != "" || p.filter.Value() != "" {
		s = append(s, with(km.Back, "clear filters"))
	}
	return helpSet{short: s, full: [][]key.Binding{s}}
}

func (p *auditPage) view(a *App, height int) []string {
	t := &a.th
	w := a.w
	tabs := " " + t.Bold.Render("Audit log") + t.Faint.Render(" │ Hygiene")
	if p.hygiene {
		tabs = " " + t.Faint.Render("Audit log │ ") + t.Bold.Render("Hygiene")
	}
	if p.hygiene {
		return p.hygieneView(a, tabs, height)
	}
	var filt []string
	if p.object != "" {
		filt = append(filt, "object "+model.Escape(p.object))
	}
	if p.actor != "" {
		filt = append(filt, "actor "+model.Escape(p.actor))
	}
	switch {
	case p.filtering:
		filt = append(filt, "“"+p.filter.View(max(10, w/4), true, t)+"”")
	case p.filter.Value() != "":
		filt = append(filt, "“"+model.Escape(p.filter.Value())+"”")
	}
	right := thousands(len(p.entries)) + " entries "
	if len(filt) > 0 {
		right = thousands(len(p.rows)) + " of " + right
	}
	left := tabs
	if len(filt) > 0 {
		left += "  · " + strings.Join(filt, " · ")
	}
	lines := []string{spread(left, t.Faint.Render(right), w)}
	if !p.loaded {
		return append(lines, t.Faint.Render(" Loading the audit log…"))
	}
	tw, aw, cw, layout := 16, 14, 14, "2006-01-02 15:04"
	if w < 90 {
		tw, aw, cw, layout = 11, 10, 8, "01-02 15:04"
	}
	ow := min(40, max(12, (w-tw-aw-cw-10)/2))
	chw := max(8, w-tw-aw-cw-ow-10)
	lines = append(lines, t.ColHeader.Render(fit("  "+fit("Time", tw)+"  "+fit("Actor", aw)+"  "+fit("Action", cw)+"  "+fit("Object", ow)+"  "+fit("Change", chw), w)))
	if len(p.rows) == 0 {
		return append(lines, " No audit entry matches. Press esc to clear the filters.")
	}
	loc := a.cfg.Now().Location()
	from, to := p.list.visible(len(p.rows), height-auditTop)
	for r := from; r < to; r++ {
		e := &p.entries[p.rows[r]]
		obj := e.Object
		if id, ok := strings.CutPrefix(obj, "key:"); ok {
			if k, ok := a.data.key(id); ok {
				obj = k.Name + " " + k.Prefix
			}
		} else if d, ok := strings.CutPrefix(obj, "domain:"); ok {
			obj = model.DomainUnicode(d)
		}
		change := e.After
		if e.Before != "" {
			change = e.Before + " → " + e.After
		}
		row := "  " + fit(e.Time.In(loc).Format(layout), tw) + "  " + fit(model.Escape(e.Actor), aw) + "  " +
			fit(model.Escape(e.Action), cw) + "  " + fit(model.Escape(obj), ow) + "  " + fit(model.Escape(change), chw)
		if r == p.list.cursor {
			row = t.Selected.Render(fit("›"+row[1:], w))
		}
		lines = append(lines, row)
	}
	return lines
}

func (p *auditPage) hygieneView(a *App, tabs string, height int) []string {
	t := &a.th
	w := a.w
	right := plural(len(p.findings), "finding") + " "
	if !p.linksChecked {
		right = plural(len(p.findings), "finding") + " (links not checked) "
	}
	lines := []string{spread(tabs, t.Faint.Render(right), w)}
	if len(p.findings) == 0 {
		return append(lines, "", " Nothing to clean up: every active key has a domain, every key is in use, every domain is linked.")
	}
	kw, ow := 14, min(30, max(14, w/3))
	dw := max(8, w-kw-ow-8)
	lines = append(lines, t.ColHeader.Render(fit("  "+fit("Finding", kw)+"  "+fit("Key or domain", ow)+"  "+fit("Detail · enter fixes", dw), w)))
	from, to := p.hlist.visible(len(p.findings), height-auditTop)
	for r := from; r < to; r++ {
		f := p.findings[r]
		obj := model.Escape(f.Key)
		if f.Domain != "" {
			d := model.Escape(model.DomainUnicode(f.Domain))
			if obj != "" {
				obj += " · " + d
			} else {
				obj = d
			}
		}
		row := "  " + fit(findingLabel(f.Kind), kw) + "  " + fit(obj, ow) + "  " + fit(f.Detail+" → "+fixLabel(f.Fix), dw)
		if r == p.hlist.cursor {
			row = t.Selected.Render(fit("›"+row[1:], w))
		}
		lines = append(lines, ansi.Truncate(row, w, "…"))
	}
	return lines
}

func findingLabel(kind string) string {
	switch kind {
	case model.FindUnrestricted:
		return "Unrestricted"
	case model.FindNeverUsed:
		return "Never used"
	case model.FindIdle:
		return "Idle 30 days"
	case model.FindOrphanDomain:
		return "Domain unused"
	case model.FindStaleLink:
		return "Stale link"
	}
	return kind
}

func fixLabel(fix string) string {
	switch fix {
	case "link":
		return "link a domain"
	case "delete_domain":
		return "delete the domain"
	}
	return fix
}
