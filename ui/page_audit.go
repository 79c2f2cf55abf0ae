package ui

import (
	"errors"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/ui/list"
	"github.com/tmaps/console/ui/text"
	"github.com/tmaps/console/ui/textfield"
)

// auditPageSize is how many audit entries one load reads from the store.
const auditPageSize = 500

// auditPage is tab 4: the audit log, newest first, filterable by object,
// actor and text; the hygiene report, each finding with the action that
// fixes it; and the alert history. ←/→ switch between the three.
//
// The log is read from the store a page at a time (the store filters):
// opening the tab reads one page, and the next page is read when the
// cursor comes near the end of what is loaded, so the whole history is
// reachable and only what was scrolled through is held.
type auditPage struct {
	c    *common
	w, h int
	view auditView

	loaded  bool
	gen     int
	entries []model.AuditEntry // the pages loaded, newest first, as filtered
	more    bool               // the store may hold older matching entries
	loading bool               // a page is being read
	// object and actor filter the log exactly (o and a on an entry);
	// filter is free text over actor, action, object and change.
	object, actor string
	filter        textfield.Model
	filtering     bool
	list          list.Model

	findings []model.Finding
	hlist    list.Model
	// linksChecked says whether the findings include stale links (the
	// store counts usage per link, and there were not too many keys).
	linksChecked bool
	linksGen     int
	// checking is true while the store's report (loadLinks) is under way:
	// the report from the console's copy alone is not shown meanwhile,
	// since the store's may take findings back (a key without domains
	// that no browser used is no finding).
	checking bool

	alerts       []model.Alert
	alertsErr    error
	alertsLoaded bool
	alertsGen    int
	alist        list.Model
}

// auditView is the part of the Audit page shown.
type auditView int

const (
	viewLog auditView = iota
	viewHygiene
	viewAlerts
	auditViews
)

// alertsLimit is how many alerts the page loads (newest first).
const alertsLimit = 1000

// maxLinkCheckKeys caps the keys whose links the console checks for the
// hygiene report (one store call each); beyond, `tmaps hygiene` does it.
const maxLinkCheckKeys = 2000

// hygieneMsg carries the hygiene report made with the store's usage
// (links checked, browser use), which replaces the first one.
type hygieneMsg struct {
	gen int
	rep store.HygieneReport
	err error
}

// auditLoadedMsg carries a page of the audit log: the first (reset), the
// next one, or the newest entries (fresh) after a change.
type auditLoadedMsg struct {
	gen          int
	reset, fresh bool
	entries      []model.AuditEntry
	err          error
}

// auditTop is the number of rows above the list: toolbar and column header.
const auditTop = 2

func newAuditPage(c *common) Page { return &auditPage{c: c, filter: textfield.New(200)} }

func (p *auditPage) Title() string { return "Audit" }
func (p *auditPage) Typing() bool  { return p.filtering && p.view == viewLog }

func (p *auditPage) SetSize(w, h int) {
	p.w, p.h = w, h
	p.list.SetHeight(h - auditTop)
	p.hlist.SetHeight(h - auditTop)
	p.alist.SetHeight(h - auditTop)
}

// query is the store query of the page's filters.
func (p *auditPage) query() store.AuditQuery {
	return store.AuditQuery{Object: p.object, Actor: p.actor, Text: strings.TrimSpace(p.filter.Value()), Limit: auditPageSize}
}

// load reads the first page (reset) or the page after the loaded ones. A
// newer load makes an older one's answer stale.
func (p *auditPage) load(reset bool) tea.Cmd {
	q := p.query()
	if !reset {
		if len(p.entries) == 0 || !p.more {
			return nil
		}
		q.Before = p.entries[len(p.entries)-1].Seq
	}
	p.gen++
	p.loading = true
	gen := p.gen
	st, ctx := p.c.cfg.Store, p.c.ctx
	return func() tea.Msg {
		es, err := st.Audit(ctx, q)
		return auditLoadedMsg{gen: gen, reset: reset, entries: es, err: err}
	}
}

// refresh reads the newest page after a change, to put the new entries on
// top without losing the place in what is loaded.
func (p *auditPage) refresh() tea.Cmd {
	if !p.loaded || p.loading {
		return p.load(true)
	}
	q := p.query()
	gen := p.gen
	st, ctx := p.c.cfg.Store, p.c.ctx
	return func() tea.Msg {
		es, err := st.Audit(ctx, q)
		return auditLoadedMsg{gen: gen, fresh: true, entries: es, err: err}
	}
}

// onLoaded applies a page; it asks for the next one when the cursor is
// already near the end (G, a long jump).
func (p *auditPage) onLoaded(msg auditLoadedMsg) tea.Cmd {
	switch {
	case msg.fresh:
		var newer []model.AuditEntry
		if len(p.entries) > 0 {
			for _, e := range msg.entries {
				if e.Seq <= p.entries[0].Seq {
					break
				}
				newer = append(newer, e)
			}
		}
		if len(p.entries) == 0 || len(newer) == len(msg.entries) {
			return p.load(true) // nothing to keep, or a gap: start again
		}
		p.entries = append(newer, p.entries...)
		if p.list.Cursor > 0 {
			p.list.Offset += len(newer)
			p.list.Cursor += len(newer)
		}
	case msg.reset:
		p.loading = false
		p.entries = msg.entries
		p.more = len(msg.entries) == auditPageSize
		p.list.Top()
	default:
		p.loading = false
		p.entries = append(p.entries, msg.entries...)
		p.more = len(msg.entries) == auditPageSize
	}
	p.loaded = true
	p.list.SetLen(len(p.entries))
	return p.loadNear()
}

// loadNear reads the next page when the cursor is within a screen of the
// end of what is loaded.
func (p *auditPage) loadNear() tea.Cmd {
	if p.loading || !p.more || p.list.Cursor < len(p.entries)-p.list.Height() {
		return nil
	}
	return p.load(false)
}

// enter reloads the log, the alerts, and the report when it is shown.
func (p *auditPage) enter() tea.Cmd {
	return tea.Batch(p.load(true), p.report(), p.loadAlerts())
}

// loadAlerts reloads the alert history.
func (p *auditPage) loadAlerts() tea.Cmd {
	p.alertsGen++
	return p.c.loadAlerts(store.AlertQuery{Limit: alertsLimit}, p.alertsGen)
}

// report makes the hygiene report while the Hygiene view is shown: at once
// from the console's copy of the store, then with the store's usage
// (loadLinks). Otherwise it drops the report: over 100,000 keys it costs
// time and memory the log and the alerts do not need.
func (p *auditPage) report() tea.Cmd {
	p.linksGen++ // a report under way is not wanted any more
	if p.view != viewHygiene {
		p.findings, p.linksChecked, p.checking = nil, false, false
		p.hlist.SetLen(0)
		return nil
	}
	c := p.c
	p.findings = model.Hygiene(model.HygieneInput{Keys: c.data.keys, Domains: c.data.doms, Now: c.now()})
	p.linksChecked = false
	cmd := p.loadLinks()
	p.checking = cmd != nil
	p.hlist.SetLen(p.shownFindings())
	return cmd
}

// shownFindings is how many findings the Hygiene view lists: none while
// the store's report is under way.
func (p *auditPage) shownFindings() int {
	if p.checking {
		return 0
	}
	return len(p.findings)
}

// loadLinks makes the report again with the store's usage (store.HygieneOf:
// the same report as `tmaps hygiene` and GET /v1/hygiene), in a command. A
// store that reports itself is asked without copying the keys; with too
// many keys to check (maxLinkCheckKeys) the report shown already is that
// one, and nothing is copied or read.
func (p *auditPage) loadLinks() tea.Cmd {
	c := p.c
	gen, st, ctx, now := p.linksGen, c.cfg.Store, c.ctx, c.now()
	if r, ok := st.(store.HygieneReporter); ok {
		return func() tea.Msg {
			rep, err := r.Hygiene(ctx)
			return hygieneMsg{gen: gen, rep: rep, err: err}
		}
	}
	n, active := 0, 0
	for i := range c.data.keys {
		if k := &c.data.keys[i]; k.Status != model.Revoked {
			active++
			if len(k.Domains) > 0 || !k.LastUsed.IsZero() {
				n++
			}
		}
	}
	if n > maxLinkCheckKeys {
		return nil
	}
	keys := make([]model.Key, 0, active)
	for i := range c.data.keys {
		if k := &c.data.keys[i]; k.Status != model.Revoked {
			keys = append(keys, *k) // copies: Domains slices are replaced, never changed in place
		}
	}
	doms := slices.Clone(c.data.doms)
	return func() tea.Msg {
		rep, err := store.HygieneOf(ctx, st, keys, doms, now, maxLinkCheckKeys)
		return hygieneMsg{gen: gen, rep: rep, err: err}
	}
}

func (p *auditPage) Update(msg tea.Msg) tea.Cmd {
	c := p.c
	switch msg := msg.(type) {
	case shownMsg:
		return p.enter()
	case storeChangedMsg:
		if c.shell.shown(p) {
			return tea.Batch(p.refresh(), p.report())
		}
	case alertsChangedMsg:
		if c.shell.shown(p) {
			return p.loadAlerts()
		}
	case alertsLoadedMsg:
		if msg.gen != p.alertsGen {
			return nil
		}
		p.alertsLoaded, p.alerts, p.alertsErr = true, msg.alerts, msg.err
		p.alist.SetLen(len(p.alerts))
	case auditLoadedMsg:
		if msg.gen != p.gen {
			return nil
		}
		if msg.err != nil {
			p.loading = false
			c.fail(msg.err)
			return nil
		}
		return p.onLoaded(msg)
	case hygieneMsg:
		if msg.gen != p.linksGen {
			return nil
		}
		p.checking = false
		if msg.err != nil {
			p.hlist.SetLen(len(p.findings)) // the console's own report, then
			c.fail(msg.err)
			return nil
		}
		p.findings, p.linksChecked = msg.rep.Findings, msg.rep.LinksChecked
		p.hlist.SetLen(len(p.findings))
	case tea.PasteMsg:
		if p.Typing() && p.filter.Update(msg) {
			return p.load(true)
		}
	case tea.KeyPressMsg:
		return p.onKey(msg)
	}
	return nil
}

func (p *auditPage) selected() *model.AuditEntry {
	if p.list.Cursor < 0 || p.list.Cursor >= len(p.entries) {
		return nil
	}
	return &p.entries[p.list.Cursor]
}

func (p *auditPage) filterKey(msg tea.KeyPressMsg) tea.Cmd {
	km := &p.c.km.Filter
	switch {
	case key.Matches(msg, km.Clear):
		p.filtering = false
		p.filter.Reset()
		return p.load(true)
	case key.Matches(msg, km.Keep):
		p.filtering = false
		return nil
	}
	if p.filter.Update(msg) {
		return p.load(true)
	}
	return nil
}

func (p *auditPage) onKey(msg tea.KeyPressMsg) tea.Cmd {
	c := p.c
	km := &c.km.Audit
	if p.Typing() {
		return p.filterKey(msg)
	}
	if key.Matches(msg, km.Switch) {
		step := auditView(1)
		if msg.String() == "left" || msg.String() == "h" {
			step = auditViews - 1
		}
		p.view = (p.view + step) % auditViews
		return p.report()
	}
	if p.view == viewAlerts {
		if p.alist.Navigate(&c.km.List, msg) {
			return nil
		}
		if key.Matches(msg, c.km.Usage.OpenKey) {
			p.openAlertKey()
		}
		return nil
	}
	if p.view == viewHygiene {
		if p.hlist.Navigate(&c.km.List, msg) {
			return nil
		}
		if key.Matches(msg, km.Fix) && p.hlist.Cursor < p.shownFindings() {
			c.fix(p.findings[p.hlist.Cursor])
		}
		return nil
	}
	if p.list.Navigate(&c.km.List, msg) {
		return p.loadNear()
	}
	switch {
	case key.Matches(msg, c.km.Keys.Filter):
		p.filtering = true
	case key.Matches(msg, km.ByObject):
		if e := p.selected(); e != nil {
			p.object = e.Object
			return p.load(true)
		}
	case key.Matches(msg, km.ByActor):
		if e := p.selected(); e != nil {
			p.actor = e.Actor
			return p.load(true)
		}
	case key.Matches(msg, km.ClearFilters):
		if p.object != "" || p.actor != "" || p.filter.Value() != "" {
			p.object, p.actor = "", ""
			p.filter.Reset()
			return p.load(true)
		}
	}
	return nil
}

// fixOps are the operations of the fix of a hygiene finding.
var fixOps = map[string]model.Op{
	"link": model.OpKeysLink, "disable": model.OpKeysDisable, "revoke": model.OpKeysRevoke,
	"delete_domain": model.OpDomainsDelete, "unlink": model.OpKeysUnlink,
}

// fix opens the dialog that fixes f, or says why the role may not.
func (c *common) fix(f model.Finding) {
	if op, ok := fixOps[f.Fix]; ok && c.refuse(op) {
		return
	}
	c.shell.dialog(c.fixDialog(f))
}

// fixDialog is the action that fixes a hygiene finding.
func (c *common) fixDialog(f model.Finding) Page {
	switch f.Fix {
	case "link":
		return newDomainPicker(c, f.KeyID)
	case "disable":
		return newDisableDialog(c, f.KeyID)
	case "revoke":
		return newRevokeDialog(c, f.KeyID)
	case "delete_domain":
		return newDeleteDomainDialog(c, f.Domain)
	case "unlink":
		return newUnlinkDialog(c, f.KeyID, f.Domain)
	case "extend":
		return newPolicyEdit(c, f.KeyID, fieldExpires)
	case "raise_limit":
		return newPolicyMenu(c, f.KeyID)
	case "allow_ip":
		return newPolicyEdit(c, f.KeyID, fieldAllowIPs)
	}
	return nil
}

// openAlertKey opens the screen of the selected alert's key.
func (p *auditPage) openAlertKey() {
	if p.alist.Cursor < 0 || p.alist.Cursor >= len(p.alerts) {
		return
	}
	id := p.alerts[p.alist.Cursor].KeyID
	if _, ok := p.c.data.key(id); !ok {
		p.c.warn("That key no longer exists.")
		return
	}
	p.c.openKey(id)
}

func (p *auditPage) Click(x, y int) tea.Cmd {
	l := &p.list
	switch p.view {
	case viewHygiene:
		l = &p.hlist
	case viewAlerts:
		l = &p.alist
	}
	r, ok := l.RowAt(y - auditTop)
	if !ok {
		return nil
	}
	again := r == l.Cursor
	l.Select(r)
	switch {
	case p.view == viewHygiene && again:
		p.c.fix(p.findings[r])
	case p.view == viewAlerts && again:
		p.openAlertKey()
	case p.view == viewLog:
		return p.loadNear()
	}
	return nil
}

func (p *auditPage) Scroll(delta int) tea.Cmd {
	switch p.view {
	case viewHygiene:
		p.hlist.Move(delta)
	case viewAlerts:
		p.alist.Move(delta)
	default:
		p.list.Move(delta)
		return p.loadNear()
	}
	return nil
}

func (p *auditPage) ShortHelp() []key.Binding {
	c := p.c
	km := &c.km.Audit
	if p.view == viewAlerts {
		return []key.Binding{km.Switch, c.km.List.Up, c.km.List.Down, c.km.Usage.OpenKey}
	}
	if p.view == viewHygiene {
		fix := km.Fix
		if !c.allowed(model.OpKeysLink, model.OpKeysDisable, model.OpKeysRevoke, model.OpDomainsDelete, model.OpKeysUnlink) {
			fix.SetEnabled(false) // an auditor fixes nothing
		}
		return []key.Binding{km.Switch, c.km.List.Up, c.km.List.Down, fix}
	}
	if p.filtering {
		return []key.Binding{c.km.Filter.Keep, c.km.Filter.Clear}
	}
	s := []key.Binding{km.Switch, c.km.List.Up, c.km.List.Down, c.km.Keys.Filter, km.ByObject, km.ByActor}
	if p.object != "" || p.actor != "" || p.filter.Value() != "" {
		s = append(s, km.ClearFilters)
	}
	return s
}

func (p *auditPage) FullHelp() [][]key.Binding { return [][]key.Binding{p.ShortHelp()} }

func (p *auditPage) View() []string {
	c, t, w := p.c, p.c.th, p.w
	names := []string{"Audit log", "Hygiene", "Alerts"}
	tabs := " "
	for i, n := range names {
		if i > 0 {
			tabs += t.Faint.Render(" │ ")
		}
		if auditView(i) == p.view {
			tabs += t.Bold.Render(n)
		} else {
			tabs += t.Faint.Render(n)
		}
	}
	switch p.view {
	case viewHygiene:
		return p.hygieneView(tabs)
	case viewAlerts:
		return p.alertsView(tabs)
	}
	var filt []string
	if p.object != "" {
		filt = append(filt, "object "+text.Safe(p.object))
	}
	if p.actor != "" {
		filt = append(filt, "actor "+text.Safe(p.actor))
	}
	switch {
	case p.filtering:
		filt = append(filt, "filter “"+p.filter.View(max(10, w/4), true, t.Selected)+"”")
	case p.filter.Value() != "":
		filt = append(filt, "filter “"+text.Safe(p.filter.Value())+"”")
	}
	n := text.Thousands(len(p.entries))
	if p.more {
		n += "+"
	}
	right := n + " entries "
	if len(filt) > 0 {
		right = n + " matching "
	}
	left := tabs
	if len(filt) > 0 {
		left += "  · " + strings.Join(filt, " · ")
	}
	lines := []string{text.Spread(left, t.Faint.Render(right), w)}
	if !p.loaded {
		return append(lines, t.Faint.Render(" Loading the audit log…"))
	}
	tw, aw, cw, layout := 16, 14, 14, "2006-01-02 15:04"
	if w < 90 {
		tw, aw, cw, layout = 11, 10, 8, "01-02 15:04"
	}
	ow := min(40, max(12, (w-tw-aw-cw-10)/2))
	chw := max(8, w-tw-aw-cw-ow-10)
	lines = append(lines, t.ColHeader.Render(text.Fit("  "+text.Fit("Time", tw)+"  "+text.Fit("Actor", aw)+"  "+text.Fit("Action", cw)+"  "+text.Fit("Object", ow)+"  "+text.Fit("Change", chw), w)))
	if len(p.entries) == 0 {
		if p.loading {
			return append(lines, t.Faint.Render(" Searching the audit log…"))
		}
		return append(lines, " No audit entry matches. Press esc to clear the filters.")
	}
	loc := c.now().Location()
	from, to := p.list.Visible()
	for r := from; r < to; r++ {
		e := &p.entries[r]
		obj := e.Object
		if id, ok := strings.CutPrefix(obj, "key:"); ok {
			if k, ok := c.data.key(id); ok {
				obj = k.Name + " " + k.Prefix
			}
		} else if d, ok := strings.CutPrefix(obj, "domain:"); ok {
			obj = model.DomainUnicode(d)
		}
		change := e.After
		if e.Before != "" {
			change = e.Before + " → " + e.After
		}
		row := "  " + text.Fit(e.Time.In(loc).Format(layout), tw) + "  " + text.Fit(text.Safe(e.Actor), aw) + "  " +
			text.Fit(text.Safe(e.Action), cw) + "  " + text.Fit(text.Safe(obj), ow) + "  " + text.Fit(text.Safe(change), chw)
		if r == p.list.Cursor {
			row = t.Selected.Render(text.Fit("›"+row[1:], w))
		}
		lines = append(lines, row)
	}
	return lines
}

func (p *auditPage) hygieneView(tabs string) []string {
	t, w := p.c.th, p.w
	right := text.Plural(len(p.findings), "finding") + " "
	if !p.linksChecked {
		right = text.Plural(len(p.findings), "finding") + " (links not checked) "
	}
	if p.checking {
		right = "checking… "
	}
	lines := []string{text.Spread(tabs, t.Faint.Render(right), w)}
	if p.checking {
		return append(lines, "", " Checking links and usage…")
	}
	if len(p.findings) == 0 {
		return append(lines, "", " Nothing to clean up: every active key has a domain, no key has expired, every key is in use, every domain is linked.")
	}
	kw, ow := 14, min(30, max(14, w/3))
	dw := max(8, w-kw-ow-8)
	detail := "Detail · enter fixes"
	if !p.c.allowed(model.OpKeysLink, model.OpKeysDisable, model.OpKeysRevoke, model.OpDomainsDelete, model.OpKeysUnlink) {
		detail = "Detail · the fix (for an operator)"
	}
	lines = append(lines, t.ColHeader.Render(text.Fit("  "+text.Fit("Finding", kw)+"  "+text.Fit("Key or domain", ow)+"  "+text.Fit(detail, dw), w)))
	from, to := p.hlist.Visible()
	for r := from; r < to; r++ {
		f := p.findings[r]
		obj := text.Safe(f.Key)
		if f.Domain != "" {
			d := text.Safe(model.DomainUnicode(f.Domain))
			if obj != "" {
				obj += " · " + d
			} else {
				obj = d
			}
		}
		row := "  " + text.Fit(findingLabel(f.Kind), kw) + "  " + text.Fit(obj, ow) + "  " + text.Fit(f.Detail+" → "+fixLabel(f.Fix), dw)
		switch {
		case r == p.hlist.Cursor:
			row = t.Selected.Render(text.Fit("›"+row[1:], w))
		case f.Advice:
			row = t.Faint.Render(row)
		}
		lines = append(lines, text.Truncate(row, w))
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
	case model.FindExpired:
		return "Expired"
	case model.FindExpiring:
		return "Expiring"
	case model.FindLimited:
		return "Hit 429"
	case model.FindServerNoIP:
		return "Advice: IPs"
	}
	return kind
}

func fixLabel(fix string) string {
	switch fix {
	case "link":
		return "link a domain"
	case "delete_domain":
		return "delete the domain"
	case "extend":
		return "set a later expiry"
	case "raise_limit":
		return "raise the rate limit or quota"
	case "allow_ip":
		return "set an IP allowlist"
	}
	return fix
}

// alertsView is the alert history: when, what, which key, and whether the
// webhooks got it.
func (p *auditPage) alertsView(tabs string) []string {
	c, t, w := p.c, p.c.th, p.w
	right := text.Plural(len(p.alerts), "alert") + " "
	lines := []string{text.Spread(tabs, t.Faint.Render(right), w)}
	switch {
	case errors.Is(p.alertsErr, store.ErrNoAlerts):
		return append(lines, "", " This store keeps no alert history.")
	case p.alertsErr != nil:
		return append(lines, "", " "+t.Err.Render("The alerts could not be read: "+describeErr(p.alertsErr)))
	case !p.alertsLoaded:
		return append(lines, t.Faint.Render(" Loading the alerts…"))
	case len(p.alerts) == 0:
		return append(lines, "", " No alert yet. The daemon records one when a key spikes, gets a burst of refused",
			" hosts, nears its expiry, is reported leaked, or is revoked or disabled (docs/alerts.md).")
	}
	tw, layout := 16, "2006-01-02 15:04"
	if w < 90 {
		tw, layout = 11, "01-02 15:04"
	}
	kw, dw := 13, 9
	nw := min(28, max(10, (w-tw-kw-dw-10)/3))
	sw := max(8, w-tw-kw-nw-dw-10)
	lines = append(lines, t.ColHeader.Render(text.Fit("  "+text.Fit("Time", tw)+"  "+text.Fit("Alert", kw)+"  "+text.Fit("Key", nw)+"  "+text.Fit("Summary", sw)+"  "+text.Fit("Webhooks", dw), w)))
	loc := c.now().Location()
	from, to := p.alist.Visible()
	for r := from; r < to; r++ {
		a := &p.alerts[r]
		kind := text.Fit(alertKindLabel(a.Kind), kw)
		row := func(kind string) string {
			return "  " + text.Fit(a.Time.In(loc).Format(layout), tw) + "  " + kind + "  " + text.Fit(text.Safe(a.KeyName)+" "+a.KeyPrefix, nw) + "  " +
				text.Fit(text.Safe(a.Summary), sw) + "  " + text.Fit(deliveryLabel(*a), dw)
		}
		switch {
		case r == p.alist.Cursor:
			lines = append(lines, t.Selected.Render(text.Fit("›"+row(kind)[1:], w)))
		case a.Kind == model.AlertLeak || a.Kind == model.AlertRefused:
			lines = append(lines, text.Truncate(row(t.Err.Render(kind)), w))
		default:
			lines = append(lines, text.Truncate(row(kind), w))
		}
	}
	return lines
}
