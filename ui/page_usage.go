package ui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/ui/chart"
	"github.com/tmaps/console/ui/list"
	"github.com/tmaps/console/ui/text"
)

// usageDetailMsg carries the 30 days and the refused hosts of the key (or
// total) the Usage page shows.
type usageDetailMsg struct {
	keyID   string
	gen     int
	hours   []model.Bucket
	refused []store.RefusedHost
	err     error
}

// usagePage is tab 3: the total or one key, its last 24 hours and last 30
// days as charts, and below them the keys used lately (for the total) or
// the hosts refused for the key (for a key).
type usagePage struct {
	c     *common
	w, h  int
	lay   usageLayout
	keyID string     // "" = every key
	list  list.Model // over usage order (total) or refused hosts (key)
	// detail is the 30 days and refused hosts of keyID, loaded on demand.
	detail    *usageDetailMsg
	detailGen int
	// alerts are the last 7 days of alerts of keyID (every key's for "").
	alerts    []model.Alert
	alertsGen int
}

// usageAlertDays is how far back the Usage page counts alerts.
const usageAlertDays = 7

// usageLayout is where the page's parts go: drawn and clicked from it.
type usageLayout struct {
	chartH    int  // rows of each chart's bars
	days      bool // the 30-day chart has room
	tableTop  int  // row of the table's header
	tableRows int  // rows of the table, its header included
}

func newUsagePage(c *common) Page { return &usagePage{c: c} }

func (p *usagePage) Title() string { return "Usage" }
func (p *usagePage) Typing() bool  { return false }

func (p *usagePage) SetSize(w, h int) {
	p.w, p.h = w, h
	p.relayout()
}

func (p *usagePage) entries() int {
	if p.keyID == "" {
		return len(p.c.us.order)
	}
	if p.detail != nil {
		return len(p.detail.refused)
	}
	return 0
}

// relayout sizes the charts and the table from the page's size and the
// number of rows of the table.
func (p *usagePage) relayout() {
	h := p.h
	l := usageLayout{}
	l.tableRows = max(2, min(max(3, h/4), p.entries()+1))
	avail := h - 2 - 3 - l.tableRows // title, totals; chart axis+labels; table
	l.days = avail >= 3+3+4
	if l.days {
		avail -= 4 // the 30-day title, its axis and labels, a blank line
		l.chartH = min(8, avail/2)
	} else {
		l.chartH = min(8, max(2, avail))
	}
	l.tableTop = 2 + l.chartH + 2 // title, totals, chart, axis, labels
	if l.days {
		l.tableTop += 2 + l.chartH + 2
	}
	p.lay = l
	p.list.SetLen(p.entries())
	p.list.SetHeight(l.tableRows - 1)
}

// loadDetail fetches the 30 days (and refused hosts) of the page's key.
func (p *usagePage) loadDetail() tea.Cmd {
	p.detailGen++
	gen, id, now := p.detailGen, p.keyID, p.c.now()
	loc := now.Location()
	st, ctx := p.c.cfg.Store, p.c.ctx
	return func() tea.Msg {
		msg := usageDetailMsg{keyID: id, gen: gen}
		since := model.DayStart(now, loc).AddDate(0, 0, -31)
		us, err := st.Usage(ctx, store.UsageQuery{KeyID: id, Since: since, Until: now.Add(time.Hour)})
		if err != nil {
			msg.err = err
			return msg
		}
		msg.hours = store.Buckets(us)
		if id != "" {
			msg.refused, msg.err = st.RefusedHosts(ctx, id)
		}
		return msg
	}
}

// show switches the page to key id ("" for every key).
func (p *usagePage) show(id string) tea.Cmd {
	p.keyID = id
	p.detail = nil
	p.alerts = nil
	p.list.Top()
	p.relayout()
	return tea.Batch(p.loadDetail(), p.loadAlerts())
}

// loadAlerts fetches the recent alerts of the page's key (or of all).
func (p *usagePage) loadAlerts() tea.Cmd {
	p.alertsGen++
	since := p.c.now().Add(-usageAlertDays * 24 * time.Hour)
	return p.c.loadAlerts(store.AlertQuery{KeyID: p.keyID, Since: since, Limit: 100}, p.alertsGen)
}

func (p *usagePage) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case shownMsg:
		p.relayout()
		if p.detail == nil {
			return tea.Batch(p.loadDetail(), p.loadAlerts())
		}
		return p.loadAlerts()
	case alertsChangedMsg:
		if p.c.shell.shown(p) {
			return p.loadAlerts()
		}
	case alertsLoadedMsg:
		if msg.gen == p.alertsGen && msg.err == nil {
			p.alerts = msg.alerts
		}
	case usageChangedMsg:
		p.relayout()
		return p.loadDetail()
	case usageDetailMsg:
		if msg.gen != p.detailGen || msg.keyID != p.keyID {
			return nil
		}
		if msg.err != nil {
			p.c.fail(msg.err)
			return nil
		}
		p.detail = &msg
		p.relayout()
	case tea.KeyPressMsg:
		return p.onKey(msg)
	}
	return nil
}

func (p *usagePage) onKey(msg tea.KeyPressMsg) tea.Cmd {
	c := p.c
	km := &c.km.Usage
	if p.list.Navigate(&c.km.List, msg) {
		return nil
	}
	switch {
	case key.Matches(msg, km.AllKeys):
		if p.keyID != "" {
			return p.show("")
		}
	case key.Matches(msg, km.ShowKey):
		if p.keyID == "" && p.list.Cursor < len(c.us.order) {
			return p.show(c.us.order[p.list.Cursor])
		}
		if p.keyID != "" {
			c.openKey(p.keyID)
		}
	case key.Matches(msg, km.Authorize):
		if h := p.selectedHost(); h != nil && !c.refuse(model.OpDomainsAdd, model.OpKeysLink) {
			c.shell.dialog(newAuthorizeDialog(c, p.keyID, *h))
		}
	}
	return nil
}

func (p *usagePage) selectedHost() *store.RefusedHost {
	if p.keyID == "" || p.detail == nil || p.list.Cursor >= len(p.detail.refused) {
		return nil
	}
	return &p.detail.refused[p.list.Cursor]
}

func (p *usagePage) Click(x, y int) tea.Cmd {
	r, ok := p.list.RowAt(y - p.lay.tableTop - 1)
	if !ok {
		return nil
	}
	again := r == p.list.Cursor
	p.list.Select(r)
	if again && p.keyID == "" {
		return p.show(p.c.us.order[r])
	}
	return nil
}

func (p *usagePage) Scroll(delta int) tea.Cmd { p.list.Move(delta); return nil }

func (p *usagePage) ShortHelp() []key.Binding {
	c := p.c
	km := &c.km.Usage
	if p.keyID == "" {
		return []key.Binding{c.km.List.Up, c.km.List.Down, km.ShowKey}
	}
	if p.selectedHost() == nil {
		return []key.Binding{km.AllKeys, c.km.List.Up, c.km.List.Down, km.OpenKey}
	}
	return []key.Binding{km.AllKeys, c.km.List.Up, c.km.List.Down, c.offer(km.Authorize, model.OpDomainsAdd, model.OpKeysLink), km.OpenKey}
}

func (p *usagePage) FullHelp() [][]key.Binding { return [][]key.Binding{p.ShortHelp()} }

func (p *usagePage) View() []string {
	c, t, w := p.c, p.c.th, p.w
	cs := chart.NewStyles(t)
	now := c.now()
	loc := now.Location()
	lines := make([]string, 0, p.h)
	var sum store.UsageSummary
	title := " Usage · all keys"
	if p.keyID != "" {
		k, ok := c.data.key(p.keyID)
		name := p.keyID
		if ok {
			name = text.Quote(k.Name) + " " + k.Prefix + " " + k.Status.Label()
		}
		title = " Usage · " + name
		sum = c.us.byKey[p.keyID]
	} else {
		sum = c.us.total
	}
	if !c.us.loaded {
		return append(lines, title, "", t.Faint.Render(" Loading usage…"))
	}
	if sum.Hourly == nil {
		sum = store.SummaryOf(p.keyID, nil, now)
	}
	mark := t.Faint.Render("no spike")
	spiking := 0
	if p.keyID == "" {
		for _, id := range c.us.order {
			if c.us.spiking(id) {
				spiking++
			}
		}
	}
	switch {
	case sum.Spike.Spiking:
		mark = t.Err.Render(fmt.Sprintf("▲ SPIKE ×%.0f", sum.Spike.Ratio))
	case spiking > 0:
		// the total is within its usual level, but some keys are not
		mark = t.Err.Render("▲ " + text.Plural(spiking, "key") + " spiking")
	}
	if n := len(p.alerts); n > 0 {
		last := p.alerts[0]
		note := fmt.Sprintf("%s in %d d, last %s %s", text.Plural(n, "alert"), usageAlertDays, alertKindLabel(last.Kind), c.ago(last.Time))
		mark = t.Warn.Render(note) + t.Faint.Render(" · ") + mark
	}
	lines = append(lines, text.Spread(t.Bold.Render(title), mark+" ", w))

	l := p.lay
	nb, bw := chart.BarsFor(w, 24)
	hourly := sum.Hourly[len(sum.Hourly)-nb:]
	lines = append(lines, text.Fit(fmt.Sprintf(" Last %d hours · %s", nb, chart.Totals(model.Sum(hourly))), w))
	for _, cl := range chart.Bars(hourly, bw, l.chartH, chart.HourLabel(hourly, loc), &cs) {
		lines = append(lines, " "+cl)
	}
	if l.days {
		var daily []model.Bucket
		nd, dw := chart.BarsFor(w, 30)
		if p.detail != nil {
			daily = model.Daily(p.detail.hours, now, nd, loc)
		} else {
			daily = model.Daily(nil, now, nd, loc)
		}
		lines = append(lines, "", text.Fit(fmt.Sprintf(" Last %d days · %s", nd, chart.Totals(model.Sum(daily))), w))
		for _, cl := range chart.Bars(daily, dw, l.chartH, chart.DayLabel(daily), &cs) {
			lines = append(lines, " "+cl)
		}
	}
	if len(lines) >= p.h {
		return lines[:p.h]
	}
	return append(lines, p.table(min(l.tableRows, p.h-len(lines)))...)
}

// table is the list under the charts, in height rows (header included).
func (p *usagePage) table(height int) []string {
	c, t, w := p.c, p.c.th, p.w
	if height < 1 {
		return nil
	}
	var out []string
	if p.keyID == "" {
		nw := min(34, max(10, w-28))
		out = append(out, t.ColHeader.Render(text.Fit("  "+text.Fit("Keys used lately (▲ spike)", nw)+"  "+text.Fit("24 h", 12)+"  "+text.PadLeft("requests", 8), w)))
		if len(c.us.order) == 0 {
			return append(out, t.Faint.Render(" No key was used in the last "+recentDays()+"."))
		}
		from, to := p.list.Visible()
		to = min(to, from+height-1)
		for i := from; i < to; i++ {
			id := c.us.order[i]
			s := c.us.byKey[id]
			name := id
			if k, ok := c.data.key(id); ok {
				name = text.Safe(k.Name)
			}
			row := "  " + text.Fit(c.us.spikeMark(id)+name, nw) + "  " + text.Fit(c.us.spark(id, 12), 12) + "  " + text.PadLeft(text.Thousands(int(s.Last24h.Total())), 8)
			if s.Spike.Spiking {
				row += fmt.Sprintf("  ×%.0f the usual %s/h", s.Spike.Ratio, text.Thousands(int(s.Spike.Usual)))
			}
			out = append(out, p.row(row, i == p.list.Cursor))
		}
		return out
	}
	out = append(out, t.ColHeader.Render(text.Fit("  Refused hosts (403)                     count   last seen", w)))
	if p.detail == nil {
		return append(out, t.Faint.Render(" Loading…"))
	}
	if len(p.detail.refused) == 0 {
		return append(out, t.Faint.Render(" No host was refused for this key."))
	}
	k, _ := c.data.key(p.keyID)
	from, to := p.list.Visible()
	to = min(to, from+height-1)
	for i := from; i < to; i++ {
		h := p.detail.refused[i]
		note := ""
		if k != nil && slices.Contains(k.Domains, h.Host) {
			note = "  (now authorized)"
		}
		host := text.Safe(h.Host)
		if h.Other {
			host = "(other hosts)" // past the 100 kept per day
		}
		row := "  " + text.Fit(host, 38) + "  " + text.PadLeft(text.Thousands(int(h.Count)), 7) + "   " + c.ago(h.LastSeen) + note
		out = append(out, p.row(row, i == p.list.Cursor))
	}
	return out
}

func (p *usagePage) row(row string, sel bool) string {
	if sel {
		return p.c.th.Selected.Render(text.Fit("›"+row[1:], p.w))
	}
	return row
}

// newAuthorizeDialog confirms adding a refused host as an authorized domain
// and linking it to the key, showing what changes first.
func newAuthorizeDialog(c *common, keyID string, h store.RefusedHost) Page {
	k, ok := c.data.key(keyID)
	if !ok {
		return nil
	}
	if h.Other {
		c.shell.notify(bannerErr, "(other hosts) sums the hosts past the 100 kept per day: it cannot be authorized")
		return nil
	}
	host := text.Truncate(text.Safe(h.Host), 64)
	name, err := model.NormalizeDomain(h.Host)
	if err != nil {
		c.shell.notify(bannerErr, host+" cannot be an authorized domain: "+describeErr(err))
		return nil
	}
	if k.Status == model.Revoked {
		c.warn("A revoked key cannot be linked to domains.")
		return nil
	}
	if slices.Contains(k.Domains, name) {
		c.info(host + " is already an authorized domain of " + text.Quote(k.Name) + ".")
		return nil
	}
	lines := []string{
		host + " was refused " + text.Plural(int(h.Count), "time") + " for " + text.Quote(k.Name) + ", last " + c.ago(h.LastSeen) + ".",
		"",
	}
	if _, exists := c.data.domain(name); exists {
		lines = append(lines, "• "+domainLabel(name)+" is already an authorized domain.")
	} else {
		lines = append(lines, "• Add the authorized domain "+domainLabel(name)+".")
	}
	lines = append(lines, "• Link it to "+text.Quote(k.Name)+" ("+k.Prefix+"), which has "+c.domainSummary(k.Domains, 40)+".",
		"Requests from "+host+" with this key will then be allowed.")
	return &confirmDialog{
		c:     c,
		title: "Authorize " + host + "?",
		lines: lines,
		yes:   "Authorize",
		onYes: func() tea.Cmd {
			return c.op(func(ctx context.Context, st store.Store) opDoneMsg {
				if _, err := st.AddDomain(ctx, name); err != nil && !errors.Is(err, store.ErrDomainExists) {
					return opDoneMsg{err: err}
				}
				k, err := st.LinkKey(ctx, keyID, name)
				if err != nil {
					return opDoneMsg{err: err, domains: true}
				}
				return opDoneMsg{keys: []model.Key{k}, domains: true,
					info: "Authorized " + domainLabel(name) + " for " + text.Quote(k.Name) + "."}
			})
		},
	}
}
