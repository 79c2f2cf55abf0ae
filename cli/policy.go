package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// policyFlags are the key policy flags of `keys create` and `keys set`.
type policyFlags struct {
	kind, expiresIn, expiresAt string
	allowIP                    []string
	rate                       float64
	burst                      uint32
	quota                      uint64
	owner, note                string
	// Only on `keys set`:
	noExpiry, noAllowIP, noRate, noQuota bool
}

func (p *policyFlags) register(fs *pflag.FlagSet, set bool) {
	fs.StringVar(&p.kind, "kind", "", "where the key is used: browser, server or mobile")
	fs.StringVar(&p.expiresIn, "expires-in", "", "expire this long from now: 720h, 90m, 30d")
	fs.StringVar(&p.expiresAt, "expires-at", "", "expire at this time: RFC 3339 (2026-12-31T23:00:00Z) or a date (2026-12-31, local midnight)")
	fs.StringArrayVar(&p.allowIP, "allow-ip", nil, "allow only this client address or CIDR range (repeat for more; IPv4 or IPv6)")
	fs.Float64Var(&p.rate, "rate", 0, "rate limit: requests per second on each gate node")
	fs.Uint32Var(&p.burst, "burst", 0, "requests at once under the rate limit (default: the rate rounded up)")
	fs.Uint64Var(&p.quota, "quota", 0, "allowed requests per UTC calendar month, over every node")
	fs.StringVar(&p.owner, "owner", "", "who owns the key (free text)")
	fs.StringVar(&p.note, "note", "", "a note (free text)")
	if set {
		fs.BoolVar(&p.noExpiry, "no-expiry", false, "remove the expiry")
		fs.BoolVar(&p.noAllowIP, "no-allow-ip", false, "remove the IP allowlist (any address)")
		fs.BoolVar(&p.noRate, "no-rate", false, "remove the rate limit")
		fs.BoolVar(&p.noQuota, "no-quota", false, "remove the monthly quota")
	}
}

// parseDays reads a duration with an optional day suffix ("30d", "720h").
func parseDays(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n > 0 && n <= 36600 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	return time.ParseDuration(s)
}

// update reads the flags the command was given as a model.KeyUpdate, with
// usage errors for flags that contradict each other or do not parse.
func (p *policyFlags) update(cmd *cobra.Command, now time.Time) (model.KeyUpdate, error) {
	var u model.KeyUpdate
	ch := cmd.Flags().Changed
	both := func(a, b string) error {
		if ch(a) && ch(b) {
			return usagef("--%s and --%s contradict each other: give one", a, b)
		}
		return nil
	}
	for _, pair := range [][2]string{{"expires-in", "expires-at"}, {"expires-in", "no-expiry"}, {"expires-at", "no-expiry"},
		{"allow-ip", "no-allow-ip"}, {"rate", "no-rate"}, {"burst", "no-rate"}, {"quota", "no-quota"}} {
		if err := both(pair[0], pair[1]); err != nil {
			return u, err
		}
	}
	if ch("kind") {
		k, err := model.ParseKind(p.kind)
		if err != nil {
			return u, usagef("--kind: %s", err)
		}
		u.Kind = &k
	}
	switch {
	case ch("expires-in"):
		d, err := parseDays(p.expiresIn)
		if err != nil || d <= 0 {
			return u, usagef("--expires-in %s: give a positive duration such as 720h, 90m or 30d", qq(p.expiresIn))
		}
		t := now.Add(d).UTC().Truncate(time.Second)
		u.Expires = &t
	case ch("expires-at"):
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(p.expiresAt))
		if err != nil {
			if t, err = time.ParseInLocation("2006-01-02", strings.TrimSpace(p.expiresAt), time.Local); err != nil {
				return u, usagef("--expires-at %s: give an RFC 3339 time (2026-12-31T23:00:00Z) or a date (2026-12-31)", qq(p.expiresAt))
			}
		}
		if !t.After(now) {
			return u, usagef("--expires-at %s is in the past: to stop a key now, run `tmaps keys disable KEY`", qq(p.expiresAt))
		}
		t = t.UTC()
		u.Expires = &t
	case p.noExpiry:
		u.Expires = new(time.Time)
	}
	switch {
	case ch("allow-ip"):
		var entries []string
		for _, v := range p.allowIP {
			entries = append(entries, strings.Split(v, ",")...)
		}
		ips, err := model.ParseAllowIPs(entries)
		if err != nil {
			return u, usagef("--allow-ip: %s", err)
		}
		u.AllowIPs = &ips
	case p.noAllowIP:
		u.AllowIPs = &[]netip.Prefix{}
	}
	switch {
	case ch("rate"):
		if p.rate <= 0 {
			return u, usagef("--rate %g: give requests per second above 0 (or --no-rate on keys set)", p.rate)
		}
		u.Rate = &p.rate
	case p.noRate:
		u.Rate = new(float64)
	}
	if ch("burst") {
		u.Burst = &p.burst
	}
	switch {
	case ch("quota"):
		if p.quota == 0 {
			return u, usagef("--quota 0: give requests per month above 0 (or --no-quota on keys set)")
		}
		u.Quota = &p.quota
	case p.noQuota:
		u.Quota = new(uint64)
	}
	if ch("owner") {
		u.Owner = &p.owner
	}
	if ch("note") {
		u.Note = &p.note
	}
	return u, nil
}

// flagOf names the flag of a policy field, for errors.
var flagOf = map[string]string{
	"kind": "--kind", "expires": "--expires-in/--expires-at", "allow_ips": "--allow-ip", "rate": "--rate",
	"burst": "--burst", "quota": "--quota", "owner": "--owner", "note": "--note", "name": "--name",
}

// fieldError turns a *model.FieldError into an error naming the flag; other
// errors pass unchanged.
func fieldError(err error) error {
	var fe *model.FieldError
	if errors.As(err, &fe) {
		if f, ok := flagOf[fe.Field]; ok {
			return fmt.Errorf("%w: %s: %v", store.ErrInvalid, f, fe.Err)
		}
	}
	return err
}

func (a *app) keysSet() *cobra.Command {
	var asJSON bool
	var p policyFlags
	c := &cobra.Command{
		Use:   "set KEY [policy flags]",
		Short: "Change a key's policy: kind, expiry, IP allowlist, rate limit, monthly quota, owner, note",
		Long: `Change a key's policy; flags not given stay as they are.

    tmaps keys set KEY --expires-in 720h          # expires in 30 days
    tmaps keys set KEY --no-expiry
    tmaps keys set KEY --allow-ip 203.0.113.0/24 --allow-ip 2001:db8::/32
    tmaps keys set KEY --rate 50 --burst 100 --quota 1000000
    tmaps keys set KEY --owner "Maps team" --note "tile server backend"

The gate applies a change from the next request. An expired key is refused
with 401 "api_key expired"; a request from an address outside the allowlist
with 403 "ip not authorized" (with or without Origin/Referer); over the rate
limit (kept by each gate node) or the monthly quota (UTC months, every node)
with 429. The kind (browser, server, mobile) only drives hygiene advice.
A revoked key takes no change.`,
		Args: nargs(1, 1),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			u, err := p.update(cmd, a.now())
			if err != nil {
				return err
			}
			if u.Empty() {
				return usagef("nothing to change: give at least one policy flag (see tmaps keys set --help)")
			}
			return a.withStore(func(ctx context.Context, st store.Store) error {
				k, err := resolve(ctx, st, args[0])
				if err != nil {
					return err
				}
				if k.Status == model.Revoked {
					return fmt.Errorf("cannot change %s: %w", qq(k.Name), model.ErrKeyRevoked)
				}
				if _, err := u.Apply(k); err != nil {
					return fieldError(err)
				}
				nk, err := st.UpdateKey(ctx, k.ID, u)
				if err != nil {
					return fmt.Errorf("change the key: %w", fieldError(err))
				}
				if asJSON {
					return a.printJSON(jsonKey(nk))
				}
				changes := model.PolicyChanges(k.Policy, nk.Policy)
				if len(changes) == 0 {
					fmt.Fprintf(a.stdout, "Key %s (%s) already had this policy: nothing changed.\n", qq(nk.Name), nk.ID)
					return nil
				}
				fmt.Fprintf(a.stdout, "Changed key %s (%s):\n", qq(nk.Name), nk.ID)
				for _, c := range changes {
					fmt.Fprintf(a.stdout, "  %-10s %s → %s\n", strings.TrimPrefix(c.Action, "policy."), q(orNone(c.Before)), q(orNone(c.After)))
				}
				a.warnPolicy(nk)
				return nil
			})
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the key as JSON")
	p.register(c.Flags(), true)
	return c
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// warnPolicy gives the seed's advice for a key's kind and domains.
func (a *app) warnPolicy(k model.Key) {
	switch {
	case k.Kind == model.KindBrowser && k.Unrestricted():
		a.warnf("a browser key without domains is unrestricted: link the sites that use it (tmaps keys link %s mysite.tn)", k.ID)
	case k.Kind == model.KindServer && len(k.AllowIPs) == 0:
		fmt.Fprintf(a.stderr, "note: a server key is best limited to your servers' addresses: tmaps keys set %s --allow-ip ADDR\n", k.ID)
	}
}

// policyMarks is the short policy summary of a key list: "Expired",
// "expires in 3 d", "rate", "quota", joined with " · ".
func policyMarks(k model.Key, now time.Time) string {
	var m []string
	if l := model.ExpiryLabel(k.Expires, now); l != "" {
		m = append(m, l)
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

// addPolicyFields adds a key's policy to `keys show`.
func (a *app) addPolicyFields(ctx context.Context, st store.Store, f *fields, k model.Key) {
	now := a.now()
	if a.outTTY {
		f.add("Kind", k.Kind.Label())
	} else {
		f.add("Kind", string(k.Kind))
	}
	if k.Expires.IsZero() {
		f.add("Expires", "never")
	} else {
		f.add("Expires", a.fmtTime(k.Expires)+" ("+model.ExpiryLabel(k.Expires, now)+")")
	}
	f.add("IP allowlist", model.FormatAllowIPs(k.AllowIPs))
	if k.Rate > 0 {
		f.add("Rate limit", model.FormatRate(k.Rate, k.Burst)+", on each gate node")
	} else {
		f.add("Rate limit", "none")
	}
	if k.Quota > 0 {
		q := model.FormatQuota(k.Quota)
		if used, err := monthUsed(ctx, st, k.ID, now); err == nil {
			q += fmt.Sprintf(" (%d used this month, UTC)", used)
		}
		f.add("Monthly quota", q)
	} else {
		f.add("Monthly quota", "none")
	}
	if k.Owner != "" {
		f.add("Owner", k.Owner)
	}
	if k.Note != "" {
		f.add("Note", k.Note)
	}
}

// monthUsed sums a key's allowed requests of the UTC month holding now, as
// flushed to the store.
func monthUsed(ctx context.Context, st store.Store, id string, now time.Time) (uint64, error) {
	bs, err := st.Usage(ctx, store.UsageQuery{KeyID: id, Since: model.MonthStart(now), Until: model.NextMonthStart(now)})
	if err != nil {
		return 0, err
	}
	var n uint64
	for _, b := range bs {
		n += b.Allowed
	}
	return n, nil
}
