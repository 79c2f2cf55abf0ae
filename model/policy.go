package model

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind says where a key is used (SPEC.md "Key policies"): it drives defaults
// and hygiene only; the gate ignores it. "" is a key whose kind was never
// chosen (keys made before kinds existed).
type Kind string

// The kinds of key.
const (
	KindUnset   Kind = ""
	KindBrowser Kind = "browser"
	KindServer  Kind = "server"
	KindMobile  Kind = "mobile"
)

// Kinds lists the kinds a person can choose, in the order the console shows them.
var Kinds = []Kind{KindBrowser, KindServer, KindMobile}

// Valid reports whether k is one of Kinds or unset.
func (k Kind) Valid() bool {
	return k == KindUnset || k == KindBrowser || k == KindServer || k == KindMobile
}

// Label is the kind as the console shows it: "Browser", "Server", "Mobile",
// or "—" when unset.
func (k Kind) Label() string {
	switch k {
	case KindBrowser:
		return "Browser"
	case KindServer:
		return "Server"
	case KindMobile:
		return "Mobile"
	case KindUnset:
		return "—"
	}
	return "Unknown"
}

// Advice is the seed's advice for a key of this kind, in a sentence.
func (k Kind) Advice() string {
	switch k {
	case KindBrowser:
		return "used from web pages: link the domains of the sites that call it"
	case KindServer:
		return "used by a backend: no domain (browsers' headers do not apply); limit it to your servers' IP addresses"
	case KindMobile:
		return "used by a native app: no domain (apps send no Origin); watch its usage and rotate it with each release"
	}
	return ""
}

// ParseKind reads a kind, case-insensitively; "" is unset.
func ParseKind(s string) (Kind, error) {
	k := Kind(strings.ToLower(strings.TrimSpace(s)))
	if !k.Valid() {
		return "", fmt.Errorf("unknown kind %q: use browser, server or mobile", Escape(s))
	}
	return k, nil
}

// Limits of a policy.
const (
	// MaxAllowIPs is the most entries an IP allowlist holds.
	MaxAllowIPs = 100
	// MinRate and MaxRate bound a rate limit, in requests per second.
	MinRate = 0.001
	MaxRate = 1_000_000
	// MaxBurst bounds a rate limit's burst.
	MaxBurst = 1_000_000
	// MaxOwnerLen and MaxNoteLen bound the owner and the note, in characters.
	MaxOwnerLen = MaxNameLen
	MaxNoteLen  = 500
)

// Policy is a key's optional restrictions and labels (SPEC.md "Key
// policies"). The zero value is no policy: no expiry, any address, no rate
// limit, no quota. Use NormalizePolicy before storing one.
type Policy struct {
	// Kind is where the key is used; the gate ignores it.
	Kind Kind `json:"kind"`
	// Expires is when the key stops working (SPEC step 4a); zero never.
	Expires time.Time `json:"expires,omitzero"`
	// AllowIPs are the client addresses allowed (SPEC step 4b), masked,
	// sorted and without duplicates; empty allows any address.
	AllowIPs []netip.Prefix `json:"allow_ips"`
	// Rate is the requests per second each gate node allows (SPEC step
	// 10), with Burst requests at once; 0 is no rate limit (Burst is 0 then).
	Rate  float64 `json:"rate"`
	Burst uint32  `json:"burst"`
	// Quota is the allowed requests per UTC calendar month, over every node;
	// 0 is no quota.
	Quota uint64 `json:"quota"`
	// Owner and Note are free text, with the character rules of names.
	Owner string `json:"owner"`
	Note  string `json:"note"`
}

// Expired reports whether the key's expiry has passed at now.
func (p *Policy) Expired(now time.Time) bool {
	return !p.Expires.IsZero() && !now.Before(p.Expires)
}

// Limited reports whether the policy has a rate limit or a quota.
func (p *Policy) Limited() bool { return p.Rate > 0 || p.Quota > 0 }

// ClonePolicy returns a deep copy of p.
func (p Policy) ClonePolicy() Policy {
	p.AllowIPs = slices.Clone(p.AllowIPs)
	return p
}

// FieldError is a validation error that names the field at fault, with the
// names of the API (kind, expires, allow_ips, rate, burst, quota, owner,
// note, name).
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field string, err error) error { return &FieldError{Field: field, Err: err} }

// NormalizePolicy checks p and returns it in its stored form: kind valid;
// expiry in UTC; the allowlist masked, sorted, without duplicates, at most
// MaxAllowIPs entries, IPv4-mapped IPv6 prefixes as IPv4; a rate between
// MinRate and MaxRate with a burst of 1 to MaxBurst (0 takes the rate
// rounded up, at least 1); no burst without a rate; owner and note trimmed,
// valid text of at most MaxOwnerLen and MaxNoteLen characters. Errors are
// *FieldError.
func NormalizePolicy(p Policy) (Policy, error) {
	p = p.ClonePolicy()
	if !p.Kind.Valid() {
		return p, fieldErr("kind", fmt.Errorf("unknown kind %q: use browser, server or mobile", Escape(string(p.Kind))))
	}
	if !p.Expires.IsZero() {
		p.Expires = p.Expires.UTC()
	}
	ips, err := NormalizeAllowIPs(p.AllowIPs)
	if err != nil {
		return p, fieldErr("allow_ips", err)
	}
	p.AllowIPs = ips
	switch {
	case p.Rate == 0 && p.Burst != 0:
		return p, fieldErr("burst", errors.New("a burst needs a rate limit: set the rate too (requests per second)"))
	case p.Rate != 0:
		if math.IsNaN(p.Rate) || p.Rate < MinRate || p.Rate > MaxRate {
			return p, fieldErr("rate", fmt.Errorf("the rate must be between %g and %d requests per second", MinRate, MaxRate))
		}
		if p.Burst == 0 {
			p.Burst = uint32(max(1, math.Ceil(p.Rate)))
		}
		if p.Burst > MaxBurst {
			return p, fieldErr("burst", fmt.Errorf("the burst must be between 1 and %d requests", MaxBurst))
		}
	}
	if p.Owner, err = NormalizeText("owner", p.Owner, MaxOwnerLen); err != nil {
		return p, fieldErr("owner", err)
	}
	if p.Note, err = NormalizeText("note", p.Note, MaxNoteLen); err != nil {
		return p, fieldErr("note", err)
	}
	return p, nil
}

// NormalizeText trims spaces and checks free text (an owner, a note) with
// the character rules of names (CheckText, whose *TextError names field and
// the character), at most max characters. "" is valid (no text).
func NormalizeText(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if err := CheckText(field, s); err != nil {
		return "", err
	}
	if n := utf8.RuneCountInString(s); n > max {
		return "", fmt.Errorf("the %s is too long: %d characters, at most %d", field, n, max)
	}
	return s, nil
}

// ParseIPPrefix reads one IP allowlist entry: an IPv4 or IPv6 address
// ("203.0.113.7", "2001:db8::1") or a CIDR range ("10.0.0.0/8",
// "2001:db8::/32"). Spaces around it are ignored. It refuses zones, host
// bits set under the mask (saying which range or address was meant), and
// anything else that is not an address; an IPv4-mapped IPv6 entry
// ("::ffff:10.0.0.0/104") becomes its IPv4 form.
func ParseIPPrefix(s string) (netip.Prefix, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return netip.Prefix{}, errors.New("empty entry: give an address such as 203.0.113.7 or a range such as 10.0.0.0/8")
	}
	if strings.IndexByte(t, '%') >= 0 {
		return netip.Prefix{}, fmt.Errorf("%q has a zone: remove the %%… part", Escape(t))
	}
	var p netip.Prefix
	if strings.IndexByte(t, '/') < 0 {
		a, err := netip.ParseAddr(t)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR range (e.g. 203.0.113.7, 10.0.0.0/8, 2001:db8::/32)", Escape(t))
		}
		p = netip.PrefixFrom(a, a.BitLen())
	} else {
		var err error
		if p, err = netip.ParsePrefix(t); err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR range (e.g. 10.0.0.0/8, 2001:db8::/32)", Escape(t))
		}
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("%q has bits set after the /%d: use %s for the whole range or %s for one address",
			Escape(t), p.Bits(), m, p.Addr())
	}
	return p, nil
}

// ParseAllowIPs reads an IP allowlist (see ParseIPPrefix) and normalises it
// (see NormalizeAllowIPs). The error names the entry at fault.
func ParseAllowIPs(entries []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(entries))
	for _, e := range entries {
		p, err := ParseIPPrefix(e)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return NormalizeAllowIPs(out)
}

// NormalizeAllowIPs checks parsed entries and returns them masked-checked,
// sorted, without duplicates; nil for an empty list. It refuses invalid
// prefixes, zones, unmasked prefixes and more than MaxAllowIPs entries.
func NormalizeAllowIPs(ps []netip.Prefix) ([]netip.Prefix, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	out := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		if !p.IsValid() || p.Addr().Zone() != "" {
			return nil, fmt.Errorf("%q is not a valid address or range", p)
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		if p.Masked() != p {
			return nil, fmt.Errorf("%q has bits set after the /%d: use %s", p, p.Bits(), p.Masked())
		}
		out = append(out, p)
	}
	slices.SortFunc(out, comparePrefix)
	out = slices.Compact(out)
	if len(out) > MaxAllowIPs {
		return nil, fmt.Errorf("%d entries: at most %d (use wider ranges)", len(out), MaxAllowIPs)
	}
	return out, nil
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// IPAllowed reports whether addr is in one of the prefixes (an IPv4-mapped
// IPv6 address counts as its IPv4 form). An invalid addr (unknown client)
// is in none. It does not allocate.
func IPAllowed(addr netip.Addr, allow []netip.Prefix) bool {
	if !addr.IsValid() {
		return false
	}
	addr = addr.Unmap()
	for _, p := range allow {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// FormatPrefix writes an allowlist entry as a person types it: the address
// alone for one address, else the CIDR range.
func FormatPrefix(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// FormatAllowIPs joins an allowlist with ", "; "any address" when empty.
func FormatAllowIPs(ps []netip.Prefix) string {
	if len(ps) == 0 {
		return "any address"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = FormatPrefix(p)
	}
	return strings.Join(s, ", ")
}

// FormatRate says a rate limit in words: "50/s, burst 100", "0.5/s, burst
// 1", or "none".
func FormatRate(rate float64, burst uint32) string {
	if rate == 0 {
		return "none"
	}
	return strconv.FormatFloat(rate, 'g', -1, 64) + "/s, burst " + strconv.FormatUint(uint64(burst), 10)
}

// FormatQuota says a monthly quota in words: "1000000/month" or "none".
func FormatQuota(q uint64) string {
	if q == 0 {
		return "none"
	}
	return strconv.FormatUint(q, 10) + "/month"
}

// FormatExpires says an expiry: RFC 3339 in UTC, or "never".
func FormatExpires(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

// ExpiryLabel is the short expiry mark of a key list at now: "Expired",
// "expires in 3 d", "expires in 5 h", "expires in 12 min", or "" when the
// key never expires. The time left is rounded to the minute, then whole
// units are rounded down (2 d 23 h is "2 d"; 30 d less a second is "30 d").
func ExpiryLabel(expires, now time.Time) string {
	if expires.IsZero() {
		return ""
	}
	left := expires.Sub(now)
	if left <= 0 {
		return "Expired"
	}
	left = left.Round(time.Minute)
	switch {
	case left <= 0:
		return "expires in < 1 min"
	case left >= 48*time.Hour:
		return fmt.Sprintf("expires in %d d", int(left/(24*time.Hour)))
	case left >= 2*time.Hour:
		return fmt.Sprintf("expires in %d h", int(left/time.Hour))
	case left >= time.Minute:
		return fmt.Sprintf("expires in %d min", int(left/time.Minute))
	}
	return "expires in < 1 min"
}

// MonthStart is the start of the UTC calendar month holding t; quotas
// count from it.
func MonthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// NextMonthStart is the start of the UTC calendar month after the one
// holding t.
func NextMonthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
}

// KeyUpdate is a change to a key's name and policy: nil fields stay as they
// are. A pointer to the zero value clears a field: a zero Expires never
// expires, an empty AllowIPs allows any address, a zero Rate removes the
// rate limit (and its burst), a zero Quota removes the quota. A Rate without
// a Burst takes the default burst (the rate rounded up).
type KeyUpdate struct {
	Name     *string
	Kind     *Kind
	Expires  *time.Time
	AllowIPs *[]netip.Prefix
	Rate     *float64
	Burst    *uint32
	Quota    *uint64
	Owner    *string
	Note     *string
}

// Empty reports whether u changes nothing.
func (u KeyUpdate) Empty() bool { return u == KeyUpdate{} }

// Apply returns k changed by u, normalised (NormalizeKeyName,
// NormalizePolicy). Errors are *FieldError; k itself is not modified.
func (u KeyUpdate) Apply(k Key) (Key, error) {
	k = k.Clone()
	if u.Name != nil {
		n, err := NormalizeKeyName(*u.Name)
		if err != nil {
			return k, fieldErr("name", err)
		}
		k.Name = n
	}
	p := k.Policy
	if u.Kind != nil {
		p.Kind = *u.Kind
	}
	if u.Expires != nil {
		p.Expires = *u.Expires
	}
	if u.AllowIPs != nil {
		p.AllowIPs = *u.AllowIPs
	}
	if u.Rate != nil {
		// A new rate without a burst takes the default burst again.
		p.Rate, p.Burst = *u.Rate, 0
	}
	if u.Burst != nil {
		p.Burst = *u.Burst
	}
	if u.Quota != nil {
		p.Quota = *u.Quota
	}
	if u.Owner != nil {
		p.Owner = *u.Owner
	}
	if u.Note != nil {
		p.Note = *u.Note
	}
	p, err := NormalizePolicy(p)
	if err != nil {
		return k, err
	}
	k.Policy = p
	return k, nil
}

// Audit actions of policy changes: one entry per field that changed, with
// its before and after in words (the Format functions).
const (
	AuditKind     = "policy.kind"
	AuditExpires  = "policy.expires"
	AuditAllowIPs = "policy.allow_ips"
	AuditRate     = "policy.rate"
	AuditQuota    = "policy.quota"
	AuditOwner    = "policy.owner"
	AuditNote     = "policy.note"
)

// Change is one field of a policy that differs, as the audit log records it.
type Change struct {
	Action, Before, After string
}

// PolicyChanges lists the fields that differ from before to after, in the
// order of the Audit* constants. Rate and burst are one change.
func PolicyChanges(before, after Policy) []Change {
	var out []Change
	add := func(action, b, a string) {
		if b != a {
			out = append(out, Change{action, b, a})
		}
	}
	add(AuditKind, string(before.Kind), string(after.Kind))
	add(AuditExpires, expiresText(before.Expires), expiresText(after.Expires))
	add(AuditAllowIPs, ipsText(before.AllowIPs), ipsText(after.AllowIPs))
	add(AuditRate, rateText(before), rateText(after))
	add(AuditQuota, quotaText(before.Quota), quotaText(after.Quota))
	add(AuditOwner, before.Owner, after.Owner)
	add(AuditNote, before.Note, after.Note)
	return out
}

// The audit's forms: "" for none, so an entry reads "(none) → 50/s, burst 100".
func expiresText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func ipsText(ps []netip.Prefix) string {
	if len(ps) == 0 {
		return ""
	}
	return FormatAllowIPs(ps)
}

func rateText(p Policy) string {
	if p.Rate == 0 {
		return ""
	}
	return FormatRate(p.Rate, p.Burst)
}

func quotaText(q uint64) string {
	if q == 0 {
		return ""
	}
	return FormatQuota(q)
}
