package ui

import (
	"fmt"
	"strings"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/ui/text"
)

// Pieces that several pages and dialogs draw for a key: its row in a list,
// its status badge, its domains in a few words, and the recent traffic a
// confirmation shows before taking it out of service.

// keyCols is the column layout of key rows at one width.
type keyCols struct {
	name, prefix, status, created, domains int
	policy                                 int // Expired, expires in 3 d, ip · rate · quota (wide windows)
	spark                                  int // the 24-hour sparkline (wide windows only)
	statusX, createdX                      int // x of the Status and Created columns (createdX 0: none)
	menuX                                  int // x of the ⋯ cell
}

// keyNeed is how wide the name and domains columns would like to be: the
// widest name (with its spike mark) and the widest list of domains of the
// keys a list shows, and the least the domains need to say something of
// every key (its first domain and "+N"); policy says whether some key has
// a policy mark to show (policyMarks).
type keyNeed struct {
	name, domains, domainsMin int
	policy                    bool
}

// cellWidth is the width of user text as drawn (escaped); plain ASCII is
// measured without building anything.
func cellWidth(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return text.Width(text.Safe(s))
		}
	}
	return len(s)
}

// keyNeeds measures keys for keyColumns.
func (c *common) keyNeeds(keys []model.Key) keyNeed {
	var n keyNeed
	d := c.data
	for i := range keys {
		k := &keys[i]
		w := cellWidth(k.Name) + len(leakMark(k))
		if c.us.spiking(k.ID) {
			w += 2
		}
		n.name = max(n.name, w)
		dw := 0
		for j, dom := range k.Domains {
			if j > 0 {
				dw += 2
			}
			if di, ok := d.domIdx[dom]; ok && di < len(d.uniW) {
				dw += d.uniW[di]
			} else {
				dw += len(dom)
			}
			if j == 0 {
				first := dw
				if more := len(k.Domains) - 1; more > 0 {
					first += 2 + len(text.Thousands(more))
				}
				n.domainsMin = max(n.domainsMin, first)
			}
		}
		n.domains = max(n.domains, dw)
		n.policy = n.policy || hasPolicyMark(k)
	}
	return n
}

// keyColumns shares w cells among the columns by priority: name, prefix,
// status and domains always; then Created (the seed's column) while name
// and domains keep 12 cells each; then, on wide windows, the policy marks
// (when some key has one: need.policy) and the sparkline. Name
// and domains share what is left by need: the name gets what its widest
// entry needs (at most 64 cells) when the domains keep what theirs needs,
// or at least each key's first domain and "+N"; otherwise the name gets
// its share (45%, at most 40 cells), more when the domains need less.
func keyColumns(w int, need keyNeed) keyCols {
	c := keyCols{prefix: 11, status: 8}
	fixed := 2 + 2 + (c.prefix + 2) + (c.status + 2) + 3 // marker, gaps, "  ⋯"
	if w-fixed-12 >= 2*12 {
		c.created = 10
		fixed += c.created + 2
	}
	if w >= 96 && need.policy {
		c.policy = 15
		fixed += c.policy + 2
	}
	if w >= 110 {
		c.spark = 12
		fixed += c.spark + 2
	}
	rest := max(8, w-fixed)
	c.name = min(40, rest*45/100)
	if need != (keyNeed{}) {
		nameNeed := min(max(need.name, 8), 64) // room for "Name ▲"
		domMin := max(need.domainsMin, 12)     // "unrestricted"
		if nameNeed+domMin <= rest {
			c.name = nameNeed
		} else {
			c.name = min(nameNeed, max(c.name, rest-domMin))
		}
	}
	c.domains = rest - c.name
	c.statusX = 2 + c.name + 2 + c.prefix + 2
	if c.created > 0 {
		c.createdX = c.statusX + c.status + 2
		if c.policy > 0 {
			c.createdX += c.policy + 2
		}
	}
	c.menuX = w - 2
	return c
}

// Sort marks of column headers.
const (
	sortUp   = "▲"
	sortDown = "▼"
)

// colTitle is a column's title in w cells, with mark ("", ▲ or ▼) after it.
func colTitle(title, mark string, w int) string {
	if mark != "" {
		title += " " + mark
	}
	return text.Fit(title, w)
}

// header is the column header line of key rows; the column the list is
// sorted by carries its mark (sortBy is a keys page order, or -1).
func (c keyCols) header(sortBy int) string {
	mark := func(s ...int) string {
		switch {
		case len(s) == 2 && sortBy == s[1]:
			return sortUp
		case sortBy == s[0] && s[0] == sortCreatedDesc:
			return sortDown
		case sortBy == s[0]:
			return sortUp
		}
		return ""
	}
	hdr := "  " + colTitle("Name", mark(sortName), c.name) + "  " + text.Fit("Prefix", c.prefix) + "  " + colTitle("Status", mark(sortStatus), c.status) + "  "
	if c.policy > 0 {
		hdr += text.Fit("Policy", c.policy) + "  "
	}
	if c.created > 0 {
		hdr += colTitle("Created", mark(sortCreatedDesc, sortCreatedAsc), c.created) + "  "
	}
	if c.spark > 0 {
		hdr += text.Fit("Last 24 h", c.spark) + "  "
	}
	return hdr + text.Fit("Domains", c.domains)
}

// domainLabel names a domain for a message: its Unicode form, and the
// stored ASCII form after it when they differ ("café.tn (xn--caf-dma.tn)").
func domainLabel(name string) string {
	if uni := model.DomainUnicode(name); uni != name {
		return text.Safe(uni) + " (" + text.Safe(name) + ")"
	}
	return text.Safe(name)
}

// domainLabels lists domains for a message: "a", "a and b", "a and 3 more".
func domainLabels(names []string) string {
	switch len(names) {
	case 0:
		return "nothing"
	case 1:
		return domainLabel(names[0])
	case 2:
		return domainLabel(names[0]) + " and " + domainLabel(names[1])
	}
	return domainLabel(names[0]) + " and " + text.Thousands(len(names)-1) + " more"
}

// sortAt is the order a click on the header at x asks for (-1: none):
// Name, Status, or Created (again: the other way).
func (c keyCols) sortAt(x, current int) int {
	switch {
	case x >= 2 && x < 2+c.name:
		return sortName
	case x >= c.statusX && x < c.statusX+c.status:
		return sortStatus
	case c.createdX > 0 && x >= c.createdX && x < c.createdX+c.created:
		if current == sortCreatedDesc {
			return sortCreatedAsc
		}
		return sortCreatedDesc
	}
	return -1
}

// domainSummary is "mysite.tn, app.mysite.tn +2" in at most width cells, or
// "unrestricted".
func (c *common) domainSummary(doms []string, width int) string {
	if len(doms) == 0 {
		return "unrestricted"
	}
	var b strings.Builder
	for i, d := range doms {
		if di, ok := c.data.domIdx[d]; ok {
			d = c.data.uni[di]
		} else {
			d = text.Safe(d)
		}
		more := ""
		if rest := len(doms) - i - 1; rest > 0 {
			more = " +" + text.Thousands(rest)
		}
		sep := ""
		if i > 0 {
			sep = ", "
		}
		if text.Width(b.String())+len(sep)+text.Width(d)+len(more) > width && i > 0 {
			b.WriteString(" +" + text.Thousands(len(doms)-i))
			break
		}
		b.WriteString(sep)
		b.WriteString(d)
	}
	return b.String()
}

func (c *common) statusBadge(s model.Status, width int) string {
	label := text.Fit(s.Label(), width)
	switch s {
	case model.Active:
		return c.th.BadgeActive.Render(label)
	case model.Disabled:
		return c.th.BadgeDisabled.Render(label)
	}
	return c.th.BadgeRevok.Render(label)
}

// leakMark starts the name of a key a leak report named.
func leakMark(k *model.Key) string {
	if k.Leaked.IsZero() {
		return ""
	}
	return "LEAKED "
}

// leakNote is the key screen's word on a leak: when and where it was
// reported, and what to do ("" for a key never reported).
func (c *common) leakNote(k *model.Key) string {
	if k.Leaked.IsZero() {
		return ""
	}
	where := ""
	if k.LeakURL != "" {
		where = " at " + text.Safe(k.LeakURL)
	}
	todo := "rotate it and revoke this one"
	if k.Status == model.Revoked {
		todo = "revoked already"
	}
	return c.th.Err.Render("  LEAKED "+c.ago(k.Leaked)+where) + c.th.Faint.Render(" ("+todo+")")
}

// keyRow is a key's row in a list of w cells.
func (c *common) keyRow(k *model.Key, cols keyCols, w int, sel bool) string {
	marker := "  "
	if sel {
		marker = "› "
	}
	name := text.Fit(leakMark(k)+c.us.spikeMark(k.ID)+text.Safe(k.Name), cols.name)
	prefix := text.Fit(k.Prefix, cols.prefix)
	expired := k.Status != model.Revoked && k.Expired(c.now())
	statusLabel := k.Status.Label()
	if expired && cols.policy == 0 && k.Status == model.Active {
		statusLabel = "Expired" // no Policy column to say it
	}
	policy, policyCell := "", ""
	if cols.policy > 0 {
		policy = text.Fit(c.policyMarks(k), cols.policy) + "  "
		policyCell = policy
		if expired {
			policyCell = c.th.Err.Render(text.Fit(c.policyMarks(k), cols.policy)) + "  "
		}
	}
	created := ""
	if cols.created > 0 {
		created = text.Fit(k.Created.Format("2006-01-02"), cols.created) + "  "
	}
	if cols.spark > 0 {
		created += text.Fit(c.us.spark(k.ID, cols.spark), cols.spark) + "  "
	}
	doms := text.Fit(c.domainSummary(k.Domains, cols.domains), cols.domains)
	if sel || k.Status == model.Revoked {
		row := text.Fit(marker+name+"  "+prefix+"  "+text.Fit(statusLabel, cols.status)+"  "+policy+created+doms+"  ⋯", w)
		if sel {
			return c.th.Selected.Render(row)
		}
		return c.th.Revoked.Render(row)
	}
	badge := c.statusBadge(k.Status, cols.status)
	if statusLabel == "Expired" {
		badge = c.th.Err.Render(text.Fit(statusLabel, cols.status))
	}
	return marker + name + "  " + prefix + "  " + badge + "  " + policyCell + created + doms + "  ⋯"
}

// keyRef names another key: its prefix and name.
func (c *common) keyRef(id string) string {
	if k, ok := c.data.key(id); ok {
		return k.Prefix + " " + text.Quote(k.Name) + " (" + k.Status.Label() + ")"
	}
	return id
}

// joinKeys lists key names for a warning, escaped.
func joinKeys(keys []model.Key, limit int) string {
	var parts []string
	for i, k := range keys {
		if i == limit {
			parts = append(parts, "and "+text.Thousands(len(keys)-limit)+" more")
			break
		}
		parts = append(parts, text.Quote(k.Name)+" ("+k.Prefix+")")
	}
	return strings.Join(parts, ", ")
}

// keyUsageLine is the key screen's usage line: the last 24 hours as a
// sparkline with its total, and the spike flag.
func (c *common) keyUsageLine(k *model.Key) string {
	t := c.th
	var b strings.Builder
	if s, ok := c.us.byKey[k.ID]; ok {
		b.WriteString(c.us.spark(k.ID, 24) + " " + text.Thousands(int(s.Last24h.Total())) + " requests")
		if s.Last24h.Forbidden > 0 {
			b.WriteString(", " + text.Thousands(int(s.Last24h.Forbidden)) + " refused")
		}
		if s.Last24h.Limited > 0 {
			b.WriteString(", " + t.Warn.Render(text.Thousands(int(s.Last24h.Limited))+" over its limits (429)"))
		}
		if s.Spike.Spiking {
			b.WriteString("  " + t.Err.Render(fmt.Sprintf("▲ SPIKE ×%.0f", s.Spike.Ratio)))
		}
	} else if k.LastUsed.IsZero() {
		b.WriteString(t.Faint.Render("no request yet"))
	} else {
		b.WriteString(t.Faint.Render("no request in the last 24 hours"))
	}
	return b.String()
}

// lastHostNote is "  from HOST" for a key whose last request's host the
// store keeps.
func (c *common) lastHostNote(id string) string {
	if h := c.us.lastHost[id]; h != "" {
		return "  from " + text.Safe(h)
	}
	return ""
}

// impactLine is what a confirmation that takes a key out of service shows
// first: its last use and its requests in the last 24 hours.
func (c *common) impactLine(id string) string {
	k, ok := c.data.key(id)
	if !ok {
		return ""
	}
	s := "Last used " + c.ago(k.LastUsed)
	if u, ok := c.us.byKey[id]; ok {
		s += "; " + text.Thousands(int(u.Last24h.Total())) + " requests in the last 24 hours (" + text.Thousands(int(u.Last24h.Allowed)) + " allowed)"
	} else {
		s += "; no request in the last 24 hours"
	}
	return s + "."
}

// linkImpactLine is what unlinking dom from a key shows first: the allowed
// requests that came from dom with the key (where the store counts usage
// per link), or what the key carried and whether its last request came
// from dom.
func (c *common) linkImpactLine(keyID, dom string) string {
	s, ok := c.us.byKey[keyID]
	if !ok {
		return "The key had no request in the last " + recentDays() + "."
	}
	if hs, ok := c.us.matched[keyID]; ok {
		return text.Thousands(int(store.LinkLast7d(hs, dom))) + " allowed requests came from " + text.Safe(dom) +
			" with this key in the last 7 days (" + text.Thousands(int(s.Last7d.Allowed)) + " with all its domains)."
	}
	line := "The key carried " + text.Thousands(int(s.Last7d.Allowed)) + " allowed requests in the last 7 days (all its domains together)"
	if model.MatchHost(c.us.lastHost[keyID], dom) {
		line += "; its last request came from " + text.Safe(dom)
	}
	return line + "."
}

// domainImpactLine is what deleting domain name shows first: the allowed
// requests its keys carried in 7 days, and the keys whose last request
// came from it.
func (c *common) domainImpactLine(name string) string {
	dm, ok := c.data.domain(name)
	if !ok || len(dm.Keys) == 0 {
		return "No key uses it."
	}
	var allowed, viaDomain uint64
	perLink := c.us.matched != nil
	var from []string
	for _, id := range dm.Keys {
		if s, ok := c.us.byKey[id]; ok {
			allowed += s.Last7d.Allowed
		}
		viaDomain += store.LinkLast7d(c.us.matched[id], name)
		if model.MatchHost(c.us.lastHost[id], name) {
			if k, ok := c.data.key(id); ok {
				from = append(from, k.Name)
			}
		}
	}
	if perLink {
		return text.Thousands(int(viaDomain)) + " allowed requests came from " + text.Safe(name) + " in the last 7 days."
	}
	line := "Its keys carried " + text.Thousands(int(allowed)) + " allowed requests in the last 7 days (all their domains together)"
	if len(from) > 0 {
		line += "; the last request of " + text.Names(from) + " came from it"
	}
	return line + "."
}
