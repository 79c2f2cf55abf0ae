package ui

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/ui/text"
	"github.com/tmaps/console/ui/textfield"
)

// Key policies in the console (SPEC.md "Key policies"): the Policies
// section of a key's screen, the policy menu (p), one editor per field, and
// the confirmation that shows what a change would have refused in the last
// 24 hours before it is saved.

// policyField is one editable field of a key's policy.
type policyField int

const (
	fieldKind policyField = iota
	fieldExpires
	fieldAllowIPs
	fieldRate
	fieldQuota
	fieldOwner
	fieldNote
	numPolicyFields
)

func (f policyField) label() string {
	return [...]string{"Kind", "Expiry", "IP allowlist", "Rate limit", "Monthly quota", "Owner", "Note"}[f]
}

// inSentence is the field's label inside a sentence: lower case, but an
// acronym (IP) keeps its capitals.
func (f policyField) inSentence() string {
	l := f.label()
	if len(l) > 1 && l[1] >= 'A' && l[1] <= 'Z' {
		return l
	}
	return strings.ToLower(l[:1]) + l[1:]
}

// policyValue is a field's current value, in words.
func (c *common) policyValue(k *model.Key, f policyField) string {
	switch f {
	case fieldKind:
		if k.Kind == model.KindUnset {
			return "not chosen"
		}
		return k.Kind.Label()
	case fieldExpires:
		if k.Expires.IsZero() {
			return "never"
		}
		return model.ExpiryLabel(k.Expires, c.now()) + " (" + k.Expires.In(c.now().Location()).Format("2006-01-02 15:04") + ")"
	case fieldAllowIPs:
		return model.FormatAllowIPs(k.AllowIPs)
	case fieldRate:
		if k.Rate == 0 {
			return "none"
		}
		return model.FormatRate(k.Rate, k.Burst) + " on each gate node"
	case fieldQuota:
		if k.Quota == 0 {
			return "none"
		}
		return text.Thousands(int(k.Quota)) + " requests a month (UTC)"
	case fieldOwner:
		return orDash(text.Safe(k.Owner))
	case fieldNote:
		return orDash(text.Safe(k.Note))
	}
	return ""
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// expiryMark is "Expired" or "expires in 3 d" for a key list, "" otherwise.
func (c *common) expiryMark(k *model.Key) string {
	if k.Status == model.Revoked {
		return ""
	}
	return model.ExpiryLabel(k.Expires, c.now())
}

// expiredBadge is "  Expired" beside the status of an expired key that is
// not revoked (the gate refuses it with 401 "api_key expired").
func (c *common) expiredBadge(k *model.Key) string {
	if k.Status == model.Revoked || !k.Expired(c.now()) {
		return ""
	}
	return "  " + c.th.Err.Render("Expired")
}

// hasPolicyMark reports whether a key's row has a policy mark to show.
func hasPolicyMark(k *model.Key) bool {
	return k.Limited() || len(k.AllowIPs) > 0 || (!k.Expires.IsZero() && k.Status != model.Revoked)
}

// policyMarks is the short policy summary of a key row: its expiry mark,
// then "ip", "rate", "quota" for the restrictions it has.
func (c *common) policyMarks(k *model.Key) string {
	var m []string
	if e := c.expiryMark(k); e != "" {
		m = append(m, e)
	}
	if len(k.AllowIPs) > 0 {
		m = append(m, "ip")
	}
	if k.Rate > 0 {
		m = append(m, "rate")
	}
	if k.Quota > 0 {
		m = append(m, "quota")
	}
	return strings.Join(m, " · ")
}

// policyLines are the Policies section of a key's screen: two lines, or
// one in a compact layout.
func (c *common) policyLines(k *model.Key, w int, compact bool) []string {
	t := c.th
	field := func(label, value string) string { return " " + t.Faint.Render(text.Fit(label, 12)) + value }
	kind := "no kind chosen"
	if k.Kind != model.KindUnset {
		kind = k.Kind.Label() + " key"
	}
	exp := "never expires"
	if !k.Expires.IsZero() {
		exp = c.policyValue(k, fieldExpires)
		if k.Expired(c.now()) && k.Status != model.Revoked {
			exp = t.Err.Render(exp)
		}
	}
	limits := "IP " + model.FormatAllowIPs(k.AllowIPs)
	if k.Rate > 0 {
		limits += " · " + model.FormatRate(k.Rate, k.Burst) + " per node"
	}
	if k.Quota > 0 {
		limits += " · quota " + text.Thousands(int(k.Quota)) + "/month"
	}
	if compact {
		return []string{field("Policy", text.Fit(kind+" · "+exp+" · "+limits, max(1, w-13)))}
	}
	who := ""
	if k.Owner != "" {
		who = " · owner " + text.Safe(k.Owner)
	}
	return []string{
		field("Policy", kind+" · "+exp+who+t.Faint.Render("   p edits")),
		field("Limits", text.Fit(limits, max(1, w-13))),
	}
}

// ---- the policy menu (p) ----

// policyMenu lists a key's policy fields with their values; enter (or the
// field's digit) opens its editor.
type policyMenu struct {
	dialogBase
	keyID string
	cur   int
}

func newPolicyMenu(c *common, keyID string) Page {
	k, ok := c.data.key(keyID)
	if !ok {
		return nil
	}
	if k.Status == model.Revoked {
		c.warn(text.Quote(k.Name) + " is revoked: its policy cannot change (revoking is permanent).")
		return nil
	}
	return &policyMenu{dialogBase: dialogBase{c: c}, keyID: keyID}
}

func (m *policyMenu) Title() string {
	if k, ok := m.c.data.key(m.keyID); ok {
		return "Policies · " + text.Quote(k.Name)
	}
	return "Policies"
}

func (m *policyMenu) Typing() bool { return false }

func (m *policyMenu) open(f policyField) tea.Cmd {
	m.close()
	m.c.shell.dialog(newPolicyEdit(m.c, m.keyID, f))
	return nil
}

func (m *policyMenu) Update(msg tea.Msg) tea.Cmd {
	kp, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	c := m.c
	switch {
	case key.Matches(kp, c.km.Dialog.Cancel), key.Matches(kp, c.km.Global.Quit), key.Matches(kp, c.km.Key.Policies):
		m.close()
	case key.Matches(kp, c.km.List.Up):
		m.cur = max(0, m.cur-1)
	case key.Matches(kp, c.km.List.Down):
		m.cur = min(int(numPolicyFields)-1, m.cur+1)
	case key.Matches(kp, c.km.Dialog.Confirm):
		return m.open(policyField(m.cur))
	default:
		if s := kp.String(); len(s) == 1 && s[0] >= '1' && s[0] < '1'+byte(numPolicyFields) {
			return m.open(policyField(s[0] - '1'))
		}
	}
	return nil
}

// policyMenuTop is the number of dialog lines above the first field.
const policyMenuTop = 1

func (m *policyMenu) Click(x, y int) tea.Cmd {
	if y < 0 {
		m.close()
		return nil
	}
	if i := y - policyMenuTop; i >= 0 && i < int(numPolicyFields) {
		return m.open(policyField(i))
	}
	return nil
}

func (m *policyMenu) View() []string {
	c, t := m.c, m.c.th
	k, ok := c.data.key(m.keyID)
	if !ok {
		return []string{"This key no longer exists."}
	}
	lines := []string{t.Faint.Render(text.Fit("Changes apply from the next request; each is audited.", m.w))}
	for f := range numPolicyFields {
		row := text.Fit(fmt.Sprintf(" %d  %s", f+1, text.Fit(f.label(), 14))+c.policyValue(k, f), m.w)
		if int(f) == m.cur {
			row = t.Selected.Render(row)
		}
		lines = append(lines, row)
	}
	return lines
}

func (m *policyMenu) ShortHelp() []key.Binding {
	km := m.c.km
	return []key.Binding{km.List.Up, km.List.Down, withHelp(km.Dialog.Confirm, "edit"), withHelp(km.Dialog.Cancel, "close")}
}

func (m *policyMenu) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }

// ---- one field's editor ----

// policyEdit edits one policy field. Text fields are parsed as they are
// typed, so the dialog says at once what the value means or why it is
// refused; enter shows the impact of the change, then saves it.
type policyEdit struct {
	dialogBase
	keyID  string
	field  policyField
	f, f2  textfield.Model // f2 is the burst of a rate limit
	second bool            // f2 has the keyboard
	kind   int             // index in model.Kinds, for fieldKind
	busy   bool
}

func newPolicyEdit(c *common, keyID string, field policyField) Page {
	k, ok := c.data.key(keyID)
	if !ok {
		return nil
	}
	if k.Status == model.Revoked {
		c.warn(text.Quote(k.Name) + " is revoked: its policy cannot change (revoking is permanent).")
		return nil
	}
	m := &policyEdit{dialogBase: dialogBase{c: c}, keyID: keyID, field: field, f: textfield.New(2000), f2: textfield.New(20)}
	switch field {
	case fieldKind:
		for i, kd := range model.Kinds {
			if kd == k.Kind {
				m.kind = i
			}
		}
	case fieldExpires:
		if !k.Expires.IsZero() {
			m.f.SetValue(k.Expires.UTC().Format(time.RFC3339))
		}
	case fieldAllowIPs:
		var s []string
		for _, p := range k.AllowIPs {
			s = append(s, model.FormatPrefix(p))
		}
		m.f.SetValue(strings.Join(s, ", "))
	case fieldRate:
		if k.Rate > 0 {
			m.f.SetValue(strconv.FormatFloat(k.Rate, 'g', -1, 64))
			m.f2.SetValue(strconv.FormatUint(uint64(k.Burst), 10))
		}
	case fieldQuota:
		if k.Quota > 0 {
			m.f.SetValue(strconv.FormatUint(k.Quota, 10))
		}
	case fieldOwner:
		m.f.SetValue(k.Owner)
	case fieldNote:
		m.f.SetValue(k.Note)
	}
	return m
}

func (m *policyEdit) Title() string {
	if k, ok := m.c.data.key(m.keyID); ok {
		return m.field.label() + " · " + text.Quote(k.Name)
	}
	return m.field.label()
}

func (m *policyEdit) Typing() bool { return m.field != fieldKind }

// parseExpiry reads what a person types for an expiry: empty or "never"
// (no expiry), a duration from now ("30d", "720h", "90m"), a date
// ("2026-12-31", midnight where the console runs) or an RFC 3339 time.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "", "never", "none":
		return time.Time{}, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n > 0 && n <= 36600 {
			return now.Add(time.Duration(n) * 24 * time.Hour).Truncate(time.Second), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("give a duration after now, such as 30d or 720h")
		}
		return now.Add(d).Truncate(time.Second), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, now.Location()); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("not a time: type 30d, 720h, 2026-12-31, 2026-12-31T23:00:00Z or never")
}

// update reads the dialog as a change of the key's policy, or says why it
// cannot be one.
func (m *policyEdit) update() (model.KeyUpdate, error) {
	var u model.KeyUpdate
	v := strings.TrimSpace(m.f.Value())
	switch m.field {
	case fieldKind:
		k := model.Kinds[m.kind]
		u.Kind = &k
	case fieldExpires:
		t, err := parseExpiry(v, m.c.now())
		if err != nil {
			return u, err
		}
		u.Expires = &t
	case fieldAllowIPs:
		var entries []string
		for _, e := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
			entries = append(entries, e)
		}
		ips, err := model.ParseAllowIPs(entries)
		if err != nil {
			return u, err
		}
		if ips == nil {
			ips = []netip.Prefix{}
		}
		u.AllowIPs = &ips
	case fieldRate:
		var rate float64
		if v != "" && v != "none" {
			r, err := strconv.ParseFloat(v, 64)
			if err != nil || r <= 0 {
				return u, fmt.Errorf("the rate is requests per second, such as 50 or 0.5 (empty: no rate limit)")
			}
			rate = r
		}
		u.Rate = &rate
		if b := strings.TrimSpace(m.f2.Value()); b != "" && rate > 0 {
			n, err := strconv.ParseUint(b, 10, 32)
			if err != nil || n == 0 {
				return u, fmt.Errorf("the burst is a whole number of requests, such as 100 (empty: the rate rounded up)")
			}
			burst := uint32(n)
			u.Burst = &burst
		}
	case fieldQuota:
		var q uint64
		if v != "" && v != "none" {
			n, err := strconv.ParseUint(strings.ReplaceAll(v, ",", ""), 10, 64)
			if err != nil {
				return u, fmt.Errorf("the quota is a whole number of requests a month, such as 1000000 (empty: no quota)")
			}
			q = n
		}
		u.Quota = &q
	case fieldOwner:
		o := m.f.Value()
		u.Owner = &o
	case fieldNote:
		n := m.f.Value()
		u.Note = &n
	}
	k, _ := m.c.data.key(m.keyID)
	if _, err := u.Apply(*k); err != nil {
		return u, err
	}
	return u, nil
}

// policyImpactMsg carries the confirmation of a policy change: what it
// would have refused, computed (for a quota, after reading the month's
// usage).
type policyImpactMsg struct {
	edit  *policyEdit
	u     model.KeyUpdate
	lines []string
	err   error
}

func (m *policyEdit) Update(msg tea.Msg) tea.Cmd {
	c := m.c
	switch msg := msg.(type) {
	case policyImpactMsg:
		if msg.edit != m || !c.shell.isDialog(m) {
			return nil
		}
		m.busy = false
		if msg.err != nil {
			c.fail(msg.err)
			return nil
		}
		c.shell.dialog(m.confirm(msg.u, msg.lines))
		return nil
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, c.km.Dialog.Cancel):
			m.close()
			return nil
		case key.Matches(msg, c.km.Dialog.Confirm):
			return m.submit()
		case m.field == fieldKind && (msg.String() == "left" || msg.String() == "up" || msg.String() == "h" || msg.String() == "k"):
			m.kind = (m.kind + len(model.Kinds) - 1) % len(model.Kinds)
			return nil
		case m.field == fieldKind && (msg.String() == "right" || msg.String() == "down" || msg.String() == "l" || msg.String() == "j" || msg.String() == "tab"):
			m.kind = (m.kind + 1) % len(model.Kinds)
			return nil
		case m.field == fieldRate && (msg.String() == "tab" || msg.String() == "shift+tab"):
			m.second = !m.second
			return nil
		}
	}
	if m.field == fieldKind {
		return nil
	}
	if m.second {
		m.f2.Update(msg)
	} else {
		m.f.Update(msg)
	}
	return nil
}

func (m *policyEdit) submit() tea.Cmd {
	if m.busy {
		return nil
	}
	u, err := m.update()
	if err != nil {
		return nil // the reason is on screen already
	}
	k, _ := m.c.data.key(m.keyID)
	before := *k
	after, _ := u.Apply(before)
	if len(model.PolicyChanges(before.Policy, after.Policy)) == 0 {
		m.close()
		m.c.info("Nothing changed: " + text.Quote(k.Name) + " already has this " + strings.ToLower(m.field.label()) + ".")
		return nil
	}
	m.busy = true
	c, edit := m.c, m
	if m.field != fieldQuota || after.Quota == 0 {
		return func() tea.Msg { return policyImpactMsg{edit: edit, u: u, lines: c.policyImpact(&before, &after, 0)} }
	}
	st, ctx, now := c.cfg.Store, c.ctx, c.now()
	return func() tea.Msg {
		bs, err := st.Usage(ctx, store.UsageQuery{KeyID: before.ID, Since: model.MonthStart(now), Until: model.NextMonthStart(now)})
		if err != nil {
			return policyImpactMsg{edit: edit, err: err}
		}
		var used uint64
		for _, b := range bs {
			used += b.Allowed
		}
		return policyImpactMsg{edit: edit, u: u, lines: c.policyImpact(&before, &after, used)}
	}
}

// confirm is the confirmation of a change: what changes, and its impact.
func (m *policyEdit) confirm(u model.KeyUpdate, impact []string) Page {
	c := m.c
	k, _ := c.data.key(m.keyID)
	before := *k
	after, _ := u.Apply(before)
	lines := []string{}
	for _, ch := range model.PolicyChanges(before.Policy, after.Policy) {
		lines = append(lines, text.Safe(strings.TrimPrefix(ch.Action, "policy."))+": "+text.Safe(orNone(ch.Before))+" → "+text.Safe(orNone(ch.After)))
	}
	lines = append(lines, "")
	lines = append(lines, impact...)
	id, label := m.keyID, m.field.inSentence()
	danger := len(impact) > 0 && strings.HasPrefix(impact[0], "⚠")
	return &confirmDialog{
		c:     c,
		title: "Change the " + label + " of " + text.Quote(k.Name) + "?",
		lines: lines, yes: "Save", danger: danger,
		onYes: func() tea.Cmd {
			return c.op(func(ctx context.Context, st store.Store) opDoneMsg {
				k, err := st.UpdateKey(ctx, id, u)
				if err != nil {
					return opDoneMsg{err: err}
				}
				return opDoneMsg{keys: []model.Key{k}, info: "Saved the " + label + " of " + text.Quote(k.Name) + ": the gate applies it from the next request."}
			})
		},
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// policyImpact says what a policy change would have refused among the
// requests of the last 24 hours the console counted (and, for a quota,
// among this month's, used), and what it will refuse from now on.
func (c *common) policyImpact(before, after *model.Key, used uint64) []string {
	now := c.now()
	s, counted := c.us.byKey[before.ID]
	day := s.Last24h
	var out []string
	switch {
	case !after.Expires.Equal(before.Expires):
		switch {
		case after.Expires.IsZero():
			out = append(out, "The key will not expire.")
		case !after.Expires.After(now):
			out = append(out, "⚠ The key expires NOW: every request is refused (401 “api_key expired”). It had "+
				text.Thousands(int(day.Allowed))+" allowed requests in the last 24 hours.")
		default:
			out = append(out, "From "+after.Expires.In(now.Location()).Format("2006-01-02 15:04")+" ("+model.ExpiryLabel(after.Expires, now)+
				") every request is refused (401 “api_key expired”): at the last 24 hours' pace, "+
				text.Thousands(int(day.Allowed))+" requests a day.", "None of the last 24 hours' requests would have been refused.")
		}
	case len(after.AllowIPs) > 0 && model.FormatAllowIPs(after.AllowIPs) != model.FormatAllowIPs(before.AllowIPs):
		out = append(out, "Requests from any other address are refused (403 “ip not authorized”), with or without Origin.",
			"The gate keeps no client addresses: it cannot say which of the last 24 hours' "+text.Thousands(int(day.Allowed))+
				" allowed requests came from outside the list. Test one with t on the key's screen.")
		if len(before.Domains) > 0 {
			out = append(out, "Browsers call from their users' addresses: an allowlist suits server keys, not browser ones.")
		}
	case len(after.AllowIPs) == 0 && len(before.AllowIPs) > 0:
		out = append(out, "Any address may use the key again.")
	case after.Rate != before.Rate || after.Burst != before.Burst:
		if after.Rate == 0 {
			out = append(out, "The key has no rate limit any more.")
			break
		}
		perHour := after.Rate * 3600
		var over uint64
		for _, b := range s.Hourly {
			if float64(b.Allowed) > perHour {
				over += b.Allowed - uint64(perHour)
			}
		}
		line := "At least " + text.Thousands(int(over)) + " of the last 24 hours' " + text.Thousands(int(day.Allowed)) +
			" allowed requests were over " + model.FormatRate(after.Rate, after.Burst) + " in their hour and would have been refused (429)"
		if over > 0 {
			line = "⚠ " + line
		}
		out = append(out, line+"; bursts within an hour could make more.", "The limit applies on each gate node separately.")
	case after.Quota != before.Quota:
		if after.Quota == 0 {
			out = append(out, "The key has no monthly quota any more.")
			break
		}
		if used >= after.Quota {
			out = append(out, "⚠ "+text.Thousands(int(used))+" requests were allowed this month (UTC): the quota is used up, and every request is refused (429 “quota exceeded”) until the next month.")
		} else {
			out = append(out, text.Thousands(int(used))+" requests were allowed this month (UTC): "+text.Thousands(int(after.Quota-used))+
				" remain until the next month, "+text.Thousands(int(day.Allowed))+" were used in the last 24 hours.")
		}
	case after.Kind != before.Kind:
		if adv := after.Kind.Advice(); adv != "" {
			out = append(out, after.Kind.Label()+" key: "+adv+".")
		}
		out = append(out, "The kind changes no decision of the gate; the hygiene report advises by it.")
	default:
		out = append(out, "This changes no decision of the gate.")
	}
	if !counted && (after.Rate != before.Rate || !after.Expires.Equal(before.Expires)) {
		out = append(out, c.th.Faint.Render("(no request counted in the last 24 hours)"))
	}
	return out
}

func (m *policyEdit) View() []string {
	c, t := m.c, m.c.th
	k, ok := c.data.key(m.keyID)
	if !ok {
		return []string{"This key no longer exists."}
	}
	var lines []string
	switch m.field {
	case fieldKind:
		lines = append(lines, "Where is the key used? (←/→)")
		var opts []string
		for i, kd := range model.Kinds {
			mark := "( ) "
			if i == m.kind {
				mark = "(•) "
			}
			o := mark + kd.Label()
			if i == m.kind {
				o = t.Bold.Render(o)
			}
			opts = append(opts, o)
		}
		lines = append(lines, "  "+strings.Join(opts, "   "), "")
		lines = append(lines, text.Wrap(model.Kinds[m.kind].Label()+" key: "+model.Kinds[m.kind].Advice()+".", m.w)...)
	case fieldRate:
		focus := func(on bool, label string) string {
			if on {
				return t.Bold.Render("› " + label)
			}
			return "  " + label
		}
		lines = append(lines, "Requests per second on each gate node (empty: no rate limit); tab: burst",
			focus(!m.second, "Rate ")+m.f.View(m.w-10, !m.second, t.Selected),
			focus(m.second, "Burst")+" "+m.f2.View(m.w-10, m.second, t.Selected))
	default:
		lines = append(lines, policyHint(m.field), "> "+m.f.View(m.w-2, true, t.Selected))
	}
	u, err := m.update()
	switch {
	case err != nil:
		lines = append(lines, t.Err.Render("✗ "+describeErr(err)))
	default:
		after, _ := u.Apply(*k)
		lines = append(lines, t.Ok.Render("✓ "+c.policyValue(&after, m.field)))
	}
	label := "enter  Review"
	if m.busy {
		label = "Reading usage…"
	}
	return append(lines, "", m.button(label, true, err != nil)+"  "+m.button("esc  Cancel", false, false))
}

// policyHint is the line above a field's text box.
func policyHint(f policyField) string {
	switch f {
	case fieldExpires:
		return "Expires: 30d, 720h, 2026-12-31, 2026-12-31T23:00:00Z, or empty for never"
	case fieldAllowIPs:
		return "Addresses and CIDR ranges, comma-separated (203.0.113.7, 10.0.0.0/8, 2001:db8::/32); empty: any address"
	case fieldQuota:
		return "Allowed requests per UTC calendar month, over every node (empty: no quota)"
	case fieldOwner:
		return "Who owns the key (free text)"
	case fieldNote:
		return "A note (free text)"
	}
	return ""
}

func (m *policyEdit) ShortHelp() []key.Binding {
	km := &m.c.km.Dialog
	if m.field == fieldKind {
		return []key.Binding{withHelp(km.Focus, "choose"), withHelp(km.Confirm, "review"), km.Cancel}
	}
	return []key.Binding{withHelp(km.Confirm, "review"), km.Cancel}
}

func (m *policyEdit) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }
