package ui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// usageState is the console's copy of recent usage: the summaries (last 24
// hours, spike check) of the total and of every key used lately. Views only
// read it; it is loaded in the background (loadUsage), so drawing the keys
// list never touches the store.
type usageState struct {
	loaded  bool
	gen     int // generation of the latest load asked for
	applied int // generation of the load shown
	total   store.UsageSummary
	byKey   map[string]store.UsageSummary
	// order is the keys of byKey: spiking first, then busiest in 24 h.
	order []string
	// lastHost is the host of each key's last request, where the store
	// keeps it.
	lastHost map[string]string
	// matched is the use of each link of the keys of byKey (nil when the
	// store does not count usage per link).
	matched map[string][]store.MatchedHost
	// soon is set while a reload after usage events is scheduled.
	soon bool
}

// usageRefresh is how long usage events wait before a reload: the gate
// flushes every few seconds, and hourly charts need no more than this.
const usageRefresh = 10 * time.Second

// usageTickMsg asks for the reload that usageSoon scheduled.
type usageTickMsg struct{}

// usageSoon schedules one reload of the usage, however many usage events
// arrive meanwhile.
func (a *App) usageSoon() tea.Cmd {
	if a.us.soon {
		return nil
	}
	a.us.soon = true
	return tea.Tick(usageRefresh, func(time.Time) tea.Msg { return usageTickMsg{} })
}

// usageLoadedMsg carries the summaries of a load.
type usageLoadedMsg struct {
	gen     int
	total   store.UsageSummary
	byKey   map[string]store.UsageSummary
	hosts   map[string]string // last host per key
	matched map[string][]store.MatchedHost
	err     error
}

// usageDetailMsg carries the 30 days and the refused hosts of the key (or
// total) the Usage page shows.
type usageDetailMsg struct {
	keyID   string
	gen     int
	hours   []model.Bucket
	refused []store.RefusedHost
	err     error
}

// loadUsage summarises the total and every key whose last use falls in the
// spike window (a key unused for longer has an empty 24 hours and cannot
// spike), in a command.
func (a *App) loadUsage() tea.Cmd {
	a.us.gen++
	gen := a.us.gen
	now := a.cfg.Now()
	var ids []string
	for i := range a.data.keys {
		k := &a.data.keys[i]
		if !k.LastUsed.IsZero() && now.Sub(k.LastUsed) <= store.SpikeWindow() {
			ids = append(ids, k.ID)
		}
	}
	st, ctx := a.cfg.Store, a.ctx
	return func() tea.Msg {
		msg := usageLoadedMsg{gen: gen, byKey: make(map[string]store.UsageSummary, len(ids))}
		msg.total, msg.err = store.Summarize(ctx, st, "", now)
		if msg.err != nil {
			return msg
		}
		for _, id := range ids {
			s, err := store.Summarize(ctx, st, id, now)
			if err != nil {
				msg.err = err
				return msg
			}
			msg.byKey[id] = s
			if lu, ok := st.(store.LinkUsage); ok {
				if hs, err := lu.MatchedHosts(ctx, id); err == nil {
					if msg.matched == nil {
						msg.matched = map[string][]store.MatchedHost{}
					}
					msg.matched[id] = hs
				}
			}
			if lh, ok := st.(lastHoster); ok {
				if h, err := lh.LastHost(ctx, id); err == nil && h != "" {
					if msg.hosts == nil {
						msg.hosts = map[string]string{}
					}
					msg.hosts[id] = h
				}
			}
		}
		return msg
	}
}

func (a *App) onUsageTick() tea.Cmd {
	a.us.soon = false
	return a.loadUsage()
}

func (a *App) onUsageLoaded(msg usageLoadedMsg) tea.Cmd {
	if msg.gen < a.us.applied {
		return nil // an older load finishing late
	}
	if msg.err != nil {
		if !errors.Is(msg.err, context.Canceled) {
			a.setBanner(bannerWarn, "Usage could not be loaded: "+describeErr(msg.err))
		}
		return nil
	}
	u := &a.us
	u.loaded, u.applied = true, msg.gen
	u.total, u.byKey, u.lastHost, u.matched = msg.total, msg.byKey, msg.hosts, msg.matched
	u.order = u.order[:0]
	for id := range msg.byKey {
		u.order = append(u.order, id)
	}
	slices.SortFunc(u.order, func(x, y string) int {
		sx, sy := u.byKey[x], u.byKey[y]
		if sx.Spike.Spiking != sy.Spike.Spiking {
			if sx.Spike.Spiking {
				return -1
			}
			return 1
		}
		if c := compareDesc(sx.Last24h.Total(), sy.Last24h.Total()); c != 0 {
			return c
		}
		var nx, ny string
		if k, ok := a.data.key(x); ok {
			nx = k.Name
		}
		if k, ok := a.data.key(y); ok {
			ny = k.Name
		}
		if c := strings.Compare(nx, ny); c != 0 {
			return c
		}
		return strings.Compare(x, y)
	})
	a.up.clamp(a)
	return a.up.loadDetail(a)
}

func compareDesc(x, y uint64) int {
	switch {
	case x > y:
		return -1
	case x < y:
		return 1
	}
	return 0
}

// spiking reports whether key id spiked, as of the last load.
func (a *App) spiking(id string) bool {
	s, ok := a.us.byKey[id]
	return ok && s.Spike.Spiking
}

// spikeMark goes before a key's name in lists: "▲ " on a spike.
func (a *App) spikeMark(id string) string {
	if a.spiking(id) {
		return "▲ "
	}
	return ""
}

// keySpark is the 24-hour sparkline of a key in width cells ("" when the
// key was not used lately).
func (a *App) keySpark(id string, width int) string {
	s, ok := a.us.byKey[id]
	if !ok {
		return ""
	}
	vals := make([]uint64, len(s.Hourly))
	for i, b := range s.Hourly {
		vals[i] = b.Total()
	}
	return sparkline(vals, width)
}

// usagePage is tab 3: the total or one key, its last 24 hours and last 30
// days as charts, and below them the keys used lately (for the total) or
// the hosts refused for the key (for a key).
type usagePage struct {
	keyID string    // "" = every key
	list  listState // over usage order (total) or refused hosts (key)
	// detail is the 30 days and refused hosts of keyID, loaded on demand.
	detail    *usageDetailMsg
	detailGen int
}

func (p *usagePage) entries(a *App) int {
	if p.keyID == "" {
		return len(a.us.order)
	}
	if p.detail != nil {
		return len(p.detail.refused)
	}
	return 0
}

func (p *usagePage) clamp(a *App) { p.list.clamp(p.entries(a), p.tableHeight(a)) }

// loadDetail fetches the 30 days (and refused hosts) of the page's key.
func (p *usagePage) loadDetail(a *App) tea.Cmd {
	p.detailGen++
	gen, id, now := p.detailGen, p.keyID, a.cfg.Now()
	loc := now.Location()
	st, ctx := a.cfg.Store, a.ctx
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

func (a *App) onUsageDetail(msg usageDetailMsg) tea.Cmd {
	p := &a.up
	if msg.gen != p.detailGen || msg.keyID != p.keyID {
		return nil
	}
	if msg.err != nil {
		a.errBanner(msg.err)
		return nil
	}
	p.detail = &msg
	p.clamp(a)
	return nil
}

// show switches the page to key id ("" for every key).
func (p *usagePage) show(a *App, id string) tea.Cmd {
	p.keyID = id
	p.detail = nil
	p.list.top()
	return p.loadDetail(a)
}

// layout sizes the page: the height of each chart and of the table, and
// whether the 30-day chart has room.
func (p *usagePage) layout(a *App) (chartH, tableH int, days bool) {
	h := a.bodyHeight()
	tableH = min(max(3, h/4), p.entries(a)+1)
	tableH = max(tableH, 2)
	avail := h - 2 - 3 - tableH // title, totals; chart axis+labels; table
	days = avail >= 3+3+4
	if days {
		avail -= 4 // the 30-day title, its axis and labels, a blank line
		chartH = min(8, avail/2)
	} else {
		chartH = min(8, max(2, avail))
	}
	return chartH, tableH, days
}

func (p *usagePage) tableHeight(a *App) int {
	_, t, _ := p.layout(a)
	return max(1, t-1)
}

func (p *usagePage) update(a *App, msg tea.KeyPressMsg) tea.Cmd {
	km := &a.km
	if navigate(&p.list, km, msg, p.entries(a), p.tableHeight(a)) {
		return nil
	}
	switch {
	case key.Matches(msg, km.Back):
		if p.keyID != "" {
			return p.show(a, "")
		}
	case key.Matches(msg, km.Open):
		if p.keyID == "" && p.list.cursor < len(a.us.order) {
			return p.show(a, a.us.order[p.list.cursor])
		}
		if p.keyID != "" {
			a.openKey(p.keyID)
		}
	case key.Matches(msg, km.Authorize):
		if h := p.selectedHost(); h != nil {
			a.modal = newAuthorizeModal(a, p.keyID, *h)
		}
	}
	return nil
}

func (p *usagePage) selectedHost() *store.RefusedHost {
	if p.keyID == "" || p.detail == nil || p.list.cursor >= len(p.detail.refused) {
		return nil
	}
	return &p.detail.refused[p.list.cursor]
}

func (p *usagePage) help(a *App) helpSet {
	km := &a.km
	var short []key.Binding
	if p.keyID == "" {
		short = []key.Binding{km.Up, km.Down, with(km.Open, "show key")}
	} else {
		short = []key.Binding{with(km.Back, "all keys"), km.Up, km.Down, with(km.Authorize, "authorize host"), with(km.Open, "open key")}
	}
	return helpSet{short: short, full: [][]key.Binding{short}}
}

// hourLabel labels every sixth hour of the 24-hour chart.
func hourLabel(bs []model.Bucket, loc *time.Location) func(int) string {
	return func(i int) string {
		t := bs[i].Start.In(loc)
		if t.Hour()%6 == 0 {
			return t.Format("15h")
		}
		return ""
	}
}

// dayLabel labels every seventh day of the daily chart, the last included.
func dayLabel(bs []model.Bucket) func(int) string {
	return func(i int) string {
		if (len(bs)-1-i)%7 == 0 {
			return bs[i].Start.Format("Jan 2")
		}
		return ""
	}
}

// barsFor is how many bars of barW cells fit in width, at most n.
func barsFor(width, n int) (bars, barW int) {
	room := width - 8 // y-axis gutter and margins
	barW = min(3, max(1, room/n-1))
	return min(n, max(1, room/(barW+1))), barW
}

func (p *usagePage) view(a *App, height int) []string {
	t := &a.th
	w := a.w
	cs := newChartStyles(t)
	now := a.cfg.Now()
	loc := now.Location()
	lines := make([]string, 0, height)
	var sum store.UsageSummary
	title := " Usage · all keys"
	if p.keyID != "" {
		k, ok := a.data.key(p.keyID)
		name := p.keyID
		if ok {
			name = quoteName(k.Name) + " " + k.Prefix + " " + k.Status.Label()
		}
		title = " Usage · " + name
		sum = a.us.byKey[p.keyID]
	} else {
		sum = a.us.total
	}
	if !a.us.loaded {
		return append(lines, title, "", t.Faint.Render(" Loading usage…"))
	}
	if sum.Hourly == nil {
		sum = store.SummaryOf(p.keyID, nil, now)
	}
	mark := t.Faint.Render("no spike")
	if sum.Spike.Spiking {
		mark = t.Err.Render(fmt.Sprintf("▲ SPIKE ×%.0f", sum.Spike.Ratio))
	}
	lines = append(lines, spread(t.Bold.Render(title), mark+" ", w))

	chartH, tableH, days := p.layout(a)
	nb, bw := barsFor(w, 24)
	hourly := sum.Hourly[len(sum.Hourly)-nb:]
	lines = append(lines, fit(fmt.Sprintf(" Last %d hours · %s", nb, totalsLine(model.Sum(hourly))), w))
	for _, l := range barChart(hourly, bw, chartH, hourLabel(hourly, loc), &cs) {
		lines = append(lines, " "+l)
	}
	if days {
		var daily []model.Bucket
		nd, dw := barsFor(w, 30)
		if p.detail != nil {
			daily = model.Daily(p.detail.hours, now, nd, loc)
		} else {
			daily = model.Daily(nil, now, nd, loc)
		}
		lines = append(lines, "", fit(fmt.Sprintf(" Last %d days · %s", nd, totalsLine(model.Sum(daily))), w))
		for _, l := range barChart(daily, dw, chartH, dayLabel(daily), &cs) {
			lines = append(lines, " "+l)
		}
	}
	if len(lines) >= height {
		return lines[:height]
	}
	room := min(tableH, height-len(lines))
	return append(lines, p.table(a, room)...)
}

// spread puts left and right on one line of width cells.
func spread(left, right string, w int) string {
	gap := w - width(left) - width(right)
	if gap < 1 {
		room := w - width(right) - 1
		if room < 8 {
			return fit(left, w)
		}
		return ansi.Truncate(left, room, "…") + " " + right
	}
	return left + strings.Repeat(" ", gap) + right
}

// table is the list under the charts, in height rows (header included).
func (p *usagePage) table(a *App, height int) []string {
	t := &a.th
	w := a.w
	if height < 1 {
		return nil
	}
	rows := height - 1
	var out []string
	if p.keyID == "" {
		nw := min(34, max(10, w-28))
		out = append(out, t.ColHeader.Render(fit("  "+fit("Keys used lately (▲ spike)", nw)+"  "+fit("24 h", 12)+"  "+padLeft("requests", 8), w)))
		if len(a.us.order) == 0 {
			return append(out, t.Faint.Render(" No key was used in the last days."))
		}
		from, to := p.list.visible(len(a.us.order), rows)
		for i := from; i < to; i++ {
			id := a.us.order[i]
			s := a.us.byKey[id]
			name := id
			if k, ok := a.data.key(id); ok {
				name = model.Escape(k.Name)
			}
			row := "  " + fit(a.spikeMark(id)+name, nw) + "  " + fit(a.keySpark(id, 12), 12) + "  " + padLeft(thousands(int(s.Last24h.Total())), 8)
			if s.Spike.Spiking {
				row += fmt.Sprintf("  ×%.0f the usual %s/h", s.Spike.Ratio, thousands(int(s.Spike.Usual)))
			}
			out = append(out, a.usageRow(row, i == p.list.cursor))
		}
		return out
	}
	out = append(out, t.ColHeader.Render(fit("  Refused hosts (403)                     count   last seen", w)))
	if p.detail == nil {
		return append(out, t.Faint.Render(" Loading…"))
	}
	if len(p.detail.refused) == 0 {
		return append(out, t.Faint.Render(" No host was refused for this key."))
	}
	k, _ := a.data.key(p.keyID)
	from, to := p.list.visible(len(p.detail.refused), rows)
	for i := from; i < to; i++ {
		h := p.detail.refused[i]
		note := ""
		if k != nil && slices.Contains(k.Domains, h.Host) {
			note = "  (now authorized)"
		}
		row := "  " + fit(model.Escape(h.Host), 38) + "  " + padLeft(thousands(int(h.Count)), 7) + "   " + a.ago(h.LastSeen) + note
		out = append(out, a.usageRow(row, i == p.list.cursor))
	}
	return out
}

func (a *App) usageRow(row string, sel bool) string {
	if sel {
		return a.th.Selected.Render(fit("›"+row[1:], a.w))
	}
	return row
}

// newAuthorizeModal confirms adding a refused host as an authorized domain
// and linking it to the key, showing what changes first.
func newAuthorizeModal(a *App, keyID string, h store.RefusedHost) modal {
	k, ok := a.data.key(keyID)
	if !ok {
		return nil
	}
	host := model.Escape(h.Host)
	name, err := model.NormalizeDomain(h.Host)
	if err != nil {
		a.setBanner(bannerErr, host+" cannot be an authorized domain: "+describeErr(err))
		return nil
	}
	if k.Status == model.Revoked {
		a.setBanner(bannerWarn, "A revoked key cannot be linked to domains.")
		return nil
	}
	if slices.Contains(k.Domains, name) {
		a.setBanner(bannerInfo, host+" is already an authorized domain of "+quoteName(k.Name)+".")
		return nil
	}
	lines := []string{
		host + " was refused " + plural(int(h.Count), "time") + " for " + quoteName(k.Name) + ", last " + a.ago(h.LastSeen) + ".",
		"",
	}
	if _, exists := a.data.domain(name); exists {
		lines = append(lines, "• "+model.Escape(name)+" is already an authorized domain.")
	} else {
		lines = append(lines, "• Add the authorized domain "+model.Escape(name)+".")
	}
	lines = append(lines, "• Link it to "+quoteName(k.Name)+" ("+k.Prefix+"), which has "+a.domainSummary(k.Domains, 40)+".",
		"Requests from "+host+" with this key will then be allowed.")
	return &confirmModal{
		title: "Authorize " + host + "?",
		lines: lines,
		yes:   "Authorize",
		onYes: func(a *App) tea.Cmd {
			return a.op(func(ctx context.Context, st store.Store) opDoneMsg {
				if _, err := st.AddDomain(ctx, name); err != nil && !errors.Is(err, store.ErrDomainExists) {
					return opDoneMsg{err: err}
				}
				k, err := st.LinkKey(ctx, keyID, name)
				if err != nil {
					return opDoneMsg{err: err, domains: true}
				}
				return opDoneMsg{keys: []model.Key{k}, domains: true,
					info: "Authorized " + model.Escape(name) + " for " + quoteName(k.Name) + "."}
			})
		},
	}
}

// enter is called when the page is shown: it loads what it lacks.
func (p *usagePage) enter(a *App) tea.Cmd {
	p.clamp(a)
	if p.detail == nil {
		return p.loadDetail(a)
	}
	return nil
}
