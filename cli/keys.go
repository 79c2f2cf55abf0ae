package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

func (a *app) keysCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "keys",
		Short: "List, create, disable, revoke, rotate API keys and link their domains",
		Long: `Manage API keys.

KEY is a key id (k…), a unique display prefix (ak_…) or id prefix, or a unique
exact name. An ambiguous KEY is an error that lists the candidates.`,
		Args: cobra.ArbitraryArgs,
		RunE: a.runE(a.group),
	}
	c.AddCommand(a.keysList(), a.keysShow(), a.keysCreate(), a.keysRename(), a.keysSet(),
		a.keysDisable(), a.keysEnable(), a.keysRevoke(), a.keysRotate(),
		a.keysLink(), a.keysUnlink())
	return c
}

// resolve finds the key a person means by ref (see store.ResolveKey) and
// says how to find the right one when it fails.
func resolve(ctx context.Context, st store.Store, ref string) (model.Key, error) {
	k, err := store.ResolveKey(ctx, st, ref)
	var amb *store.AmbiguousError
	if errors.As(err, &amb) {
		return k, err
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return k, fmt.Errorf("look up key %s: %w", qq(ref), err)
	}
	return k, err
}

// keyJSON is a key as --json prints it: every field of the key, its policy
// included, and whether it is unrestricted or expired now.
type keyJSON struct {
	model.Key
	Unrestricted bool `json:"unrestricted"`
	Expired      bool `json:"expired"`
}

// statusLabel is the status a table shows, with the leak mark: "Active,
// LEAKED" for a key a leak report named.
func statusLabel(k model.Key) string {
	if k.Leaked.IsZero() {
		return k.Status.Label()
	}
	return k.Status.Label() + ", LEAKED"
}

func jsonKey(k model.Key) keyJSON {
	if k.Domains == nil {
		k.Domains = []string{}
	}
	if k.AllowIPs == nil {
		k.AllowIPs = []netip.Prefix{}
	}
	return keyJSON{Key: k, Unrestricted: k.Unrestricted(), Expired: k.Expired(time.Now())}
}

func (a *app) keysList() *cobra.Command {
	var asJSON bool
	var status, owner string
	c := &cobra.Command{
		Use:   "list",
		Short: "List API keys, oldest first",
		Long: `List API keys, oldest first.

On a terminal: a table, with the key's policy marks (Expired, expires in 3 d,
ip, rate, quota). Otherwise one key per line, tab-separated: id, name, prefix,
status, created (RFC 3339), linked domains (comma-separated, empty when the key
is unrestricted), kind, expires (RFC 3339, empty when never), owner, leaked
(RFC 3339 time of the first leak report, empty when never). On a terminal a
leaked key's status reads "Active, LEAKED".

--owner keeps the keys whose owner contains the text (any case).`,
		Args: nargs(0, 0),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			var want model.Status
			if status != "" {
				s, err := model.ParseStatus(status)
				if err != nil {
					return usagef("--status: %s", q(err.Error()))
				}
				want = s
			}
			return a.withStore(func(ctx context.Context, st store.Store) error {
				keys, err := st.Keys(ctx)
				if err != nil {
					return err
				}
				out := keys[:0]
				for _, k := range keys {
					if (want == "" || k.Status == want) && (owner == "" || containsFold(k.Owner, owner)) {
						out = append(out, k)
					}
				}
				if asJSON {
					list := make([]keyJSON, 0, len(out))
					for _, k := range out {
						list = append(list, jsonKey(k))
					}
					return a.printJSON(list)
				}
				if len(out) == 0 && a.outTTY {
					if want != "" {
						fmt.Fprintf(a.stderr, "No %s keys.\n", want)
					} else {
						fmt.Fprintln(a.stderr, "No API keys yet. Create the first one: tmaps keys create --name \"Production frontend\"")
					}
					return nil
				}
				t := &table{header: []string{"NAME", "ID", "PREFIX", "STATUS", "KIND", "CREATED", "DOMAINS", "POLICY"}, wide: map[int]int{0: 40, 6: 40}}
				if !a.outTTY {
					t.header = nil
				}
				now := a.now()
				for _, k := range out {
					if a.outTTY {
						t.add(k.Name, k.ID, k.Prefix, statusLabel(k), k.Kind.Label(), a.fmtTime(k.Created), domainsSummary(k.Domains), policyMarks(k, now))
					} else {
						exp := ""
						if !k.Expires.IsZero() {
							exp = k.Expires.UTC().Format(time.RFC3339)
						}
						leaked := ""
						if !k.Leaked.IsZero() {
							leaked = k.Leaked.UTC().Format(time.RFC3339)
						}
						t.add(k.ID, k.Name, k.Prefix, string(k.Status), a.fmtTime(k.Created), strings.Join(k.Domains, ","), string(k.Kind), exp, k.Owner, leaked)
					}
				}
				return a.printTable(t)
			})
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().StringVar(&status, "status", "", "only keys with this status: active, disabled or revoked")
	c.Flags().StringVar(&owner, "owner", "", "only keys whose owner contains this text (any case)")
	return c
}

// containsFold reports whether s contains sub, ignoring case.
func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func (a *app) keysShow() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "show KEY",
		Short: "Show one key: status, dates, domains, recent usage",
		Args:  nargs(1, 1),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			return a.withStore(func(ctx context.Context, st store.Store) error {
				k, err := resolve(ctx, st, args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(jsonKey(k))
				}
				var f fields
				f.add("Name", k.Name)
				f.add("ID", k.ID)
				f.add("Prefix", k.Prefix)
				if a.outTTY {
					f.add("Status", k.Status.Label())
				} else {
					f.add("Status", string(k.Status))
				}
				if !k.Leaked.IsZero() {
					where := k.LeakURL
					if where == "" {
						where = "(no URL given)"
					}
					f.add("Leaked", a.fmtTime(k.Leaked)+" "+where)
				}
				f.add("Created", a.fmtTime(k.Created))
				f.add("Status changed", a.fmtTime(k.StatusChanged))
				f.add("Last used", a.fmtTime(k.LastUsed))
				if k.Replaces != "" {
					f.add("Replaces", a.keyRef(ctx, st, k.Replaces))
				}
				if k.ReplacedBy != "" {
					f.add("Replaced by", a.keyRef(ctx, st, k.ReplacedBy))
				}
				a.addPolicyFields(ctx, st, &f, k)
				if k.Unrestricted() {
					f.add("Domains", "none: unrestricted (any site, or server-to-server)")
				}
				for _, d := range k.Domains {
					f.add("Domain", domainLabel(d))
				}
				if u, ok := a.recentUsage(ctx, st, k.ID); ok {
					f.add("Requests (24h)", u)
				}
				if hosts, err := st.RefusedHosts(ctx, k.ID); err == nil {
					for i, h := range hosts {
						if i == 3 {
							break
						}
						host := h.Host
						if h.Other {
							host = "(other hosts)"
						}
						f.add("Refused host", fmt.Sprintf("%s (%d, last %s)", host, h.Count, a.fmtTime(h.LastSeen)))
					}
				}
				return a.printFields(f)
			})
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// keyRef names a key by id, prefix and name, for messages.
func (a *app) keyRef(ctx context.Context, st store.Store, id string) string {
	k, err := st.Key(ctx, id)
	if err != nil {
		return id
	}
	return fmt.Sprintf("%s %s %s (%s)", k.ID, k.Prefix, k.Name, k.Status.Label())
}

// recentUsage sums a key's last 24 hours of requests, in words.
func (a *app) recentUsage(ctx context.Context, st store.Store, id string) (string, bool) {
	now := a.now()
	buckets, err := st.Usage(ctx, store.UsageQuery{KeyID: id, Since: now.Add(-24 * time.Hour), Until: now})
	if err != nil {
		return "", false
	}
	var ok, u, f, l uint64
	for _, b := range buckets {
		ok += b.Allowed
		u += b.Unauthorized
		f += b.Forbidden
		l += b.Limited
	}
	s := fmt.Sprintf("%d allowed, %d refused with 401, %d refused with 403", ok, u, f)
	if l > 0 {
		s += fmt.Sprintf(", %d refused with 429", l)
	}
	return s, true
}

// checkName validates a name (field is "name" for keys, "token name" for
// tokens) the way the store will, for an early, clear error.
func checkName(field, name string) (string, error) {
	n, err := model.NormalizeName(field, name)
	if err != nil {
		return "", fmt.Errorf("%w: %v (a name is 1 to %d characters, e.g. \"Production frontend\")", store.ErrInvalid, err, model.MaxNameLen)
	}
	return n, nil
}

// warnDuplicateName warns when another key already has this name.
func (a *app) warnDuplicateName(ctx context.Context, st store.Store, name, exceptID string) {
	keys, err := st.Keys(ctx)
	if err != nil {
		return
	}
	for _, k := range keys {
		if k.Name == name && k.ID != exceptID {
			a.warnf("another key is already named %s (%s, %s); names need not be unique, refer to keys by id", qq(name), k.ID, k.Status.Label())
			return
		}
	}
}

// printSecret shows a new secret once: JSON, or a framed block on a
// terminal, or only the secret on stdout (the warning on stderr) for
// KEY=$(tmaps keys create --name x).
func (a *app) printSecret(asJSON bool, verb string, k model.Key, secret string, extra map[string]any) error {
	if asJSON {
		out := map[string]any{"key": jsonKey(k), "secret": secret}
		for n, v := range extra {
			out[n] = v
		}
		return a.printJSON(out)
	}
	warning := "This secret is shown once and cannot be shown again: store it now."
	if a.outTTY {
		fmt.Fprintf(a.stdout, "%s key %s (%s, %s).\n\n    %s\n\n%s\n", verb, qq(k.Name), k.ID, k.Prefix, secret, warning)
		return nil
	}
	fmt.Fprintln(a.stdout, secret)
	fmt.Fprintf(a.stderr, "%s key %s (%s, %s). %s\n", verb, qq(k.Name), k.ID, k.Prefix, warning)
	return nil
}

func (a *app) keysCreate() *cobra.Command {
	var asJSON bool
	var name string
	var p policyFlags
	c := &cobra.Command{
		Use:   "create --name NAME [--kind browser|server|mobile] [policy flags]",
		Short: "Create an Active key and print its secret, once",
		Long: `Create an Active key and print its secret, once.

On a terminal the secret is shown with a warning. Otherwise only the secret
is printed on stdout (the warning goes to stderr), so this works:

    KEY=$(tmaps keys create --name "Production frontend" --kind browser)

A new key has no domain, so it is unrestricted until you link one:
    tmaps keys link KEY mysite.tn

One key per usage (the console's advice): a browser key gets the domains of
its sites; a server or mobile key none (their calls carry no Origin), so limit
a server key to your servers' addresses instead:

    tmaps keys create --name "Tiles backend" --kind server \
        --allow-ip 203.0.113.0/24 --rate 50 --burst 100 --expires-in 720h

Policy flags (all optional; change them later with tmaps keys set):
--expires-in 720h | --expires-at 2026-12-31T23:00:00Z, --allow-ip CIDR
(repeat), --rate N [--burst N], --quota N (per UTC month), --owner TEXT,
--note TEXT.`,
		Args: nargs(0, 0),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("name") {
				return usagef(`--name is required: tmaps keys create --name "Production frontend"`)
			}
			n, err := checkName("name", name)
			if err != nil {
				return err
			}
			u, err := p.update(cmd, a.now())
			if err != nil {
				return err
			}
			u.Name = &n
			nk, err := u.Apply(model.Key{})
			if err != nil {
				return fieldError(err)
			}
			return a.withStore(func(ctx context.Context, st store.Store) error {
				a.warnDuplicateName(ctx, st, n, "")
				k, secret, err := st.CreateKey(ctx, n, nk.Policy)
				if err != nil {
					return fmt.Errorf("create the key: %w", fieldError(err))
				}
				if err := a.printSecret(asJSON, "Created", k, secret, nil); err != nil {
					return err
				}
				if !asJSON {
					a.warnPolicy(k)
				}
				return nil
			})
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, `print {"key":{…},"secret":"ak_…"}`)
	c.Flags().StringVar(&name, "name", "", "name of the key (1 to 100 characters)")
	p.register(c.Flags(), false)
	return c
}

func (a *app) keysRename() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "rename KEY NAME",
		Short: "Rename a key",
		Args:  nargs(2, 2),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			n, err := checkName("name", args[1])
			if err != nil {
				return err
			}
			return a.withStore(func(ctx context.Context, st store.Store) error {
				k, err := resolve(ctx, st, args[0])
				if err != nil {
					return err
				}
				if k.Status == model.Revoked {
					return fmt.Errorf("cannot rename %s: %w", qq(k.Name), model.ErrKeyRevoked)
				}
				a.warnDuplicateName(ctx, st, n, k.ID)
				nk, err := st.RenameKey(ctx, k.ID, n)
				if err != nil {
					return fmt.Errorf("rename the key: %w", err)
				}
				if asJSON {
					return a.printJSON(jsonKey(nk))
				}
				fmt.Fprintf(a.stderr, "Renamed key %s from %s to %s.\n", nk.ID, qq(k.Name), qq(nk.Name))
				return nil
			})
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the key as JSON")
	return c
}

// confirm asks a yes/no question on a terminal. With yes it proceeds; when
// stdin is not a terminal it refuses with refusal and the --yes hint.
func (a *app) confirm(yes bool, question, refusal string) error {
	if yes {
		return nil
	}
	if !a.inTTY {
		return refusedf("%s: nothing changed; rerun with --yes to confirm", refusal)
	}
	fmt.Fprintf(a.stderr, "%s [y/N] ", question)
	line, _ := a.readLine()
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return refusedf("not confirmed: nothing changed")
}

// readLine reads one line from stdin, without its line ending. It gives up
// when the command's context ends (Ctrl-C at a prompt), answering "".
func (a *app) readLine() (string, error) {
	if a.in == nil {
		a.in = bufio.NewReader(a.stdin)
	}
	type answer struct {
		line string
		err  error
	}
	ch := make(chan answer, 1)
	go func() {
		line, err := a.in.ReadString('\n')
		ch <- answer{strings.TrimRight(line, "\r\n"), err}
	}()
	select {
	case ans := <-ch:
		return ans.line, ans.err
	case <-a.ctx.Done():
		fmt.Fprintln(a.stderr)
		return "", a.ctx.Err()
	}
}

func (a *app) keysDisable() *cobra.Command {
	var asJSON, yes bool
	c := &cobra.Command{
		Use:   "disable KEY [--yes]",
		Short: "Disable a key: its requests are refused with 401 until enabled again",
		Long: `Disable a key: its requests are refused with 401 "api_key disabled" until
you enable it again. Asks for confirmation on a terminal; elsewhere pass --yes.`,
		Args: nargs(1, 1),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			return a.withStore(func(ctx context.Context, st store.Store) error {
				k, err := resolve(ctx, st, args[0])
				if err != nil {
					return err
				}
				if _, err := k.Status.Transition(model.ActDisable); err != nil {
					return fmt.Errorf("cannot disable %s: %w", qq(k.Name), err)
				}
				impact := ""
				if u, ok := a.recentUsage(ctx, st, k.ID); ok {
					impact = " Last 24 hours: " + u + "."
				}
				err = a.confirm(yes,
					fmt.Sprintf("Disable key %s (%s)? Its requests will be refused with 401.%s", qq(k.Name), k.Prefix, impact),
					fmt.Sprintf("disabling key %s (%s) needs confirmation", qq(k.Name), k.Prefix))
				if err != nil {
					return err
				}
				nk, err := st.DisableKey(ctx, k.ID)
				if err != nil {
					return fmt.Errorf("disable the key: %w", err)
				}
				if asJSON {
					return a.printJSON(jsonKey(nk))
				}
				fmt.Fprintf(a.stderr, "Disabled key %s (%s). Enable it again with: tmaps keys enable %s\n", qq(nk.Name), nk.Prefix, nk.ID)
				return nil
			})
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the key as JSON")
	c.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return c
}

func (a *app) keysEnable() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "enable KEY",
		Short: "Enable a disabled key",
		Args:  nargs(1, 1),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			return a.withStore(func(ctx context.Context, st store.Store) error {
				k, err := resolve(ctx, st, args[0])
				if err != nil {
					return err
				}
				nk, err := st.EnableKey(ctx, k.ID)
				if err != nil {
					return fmt.Errorf("cannot enable %s: %w", qq(k.Name), err)
				}
				if asJSON {
					return a.printJSON(jsonKey(nk))
				}
				fmt.Fprintf(a.stderr, "Enabled key %s (%s).\n", qq(nk.Name), nk.Prefix)
				return nil
			})
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the key as JSON")
	return c
}

func (a *app) keysRevoke() *cobra.Command {
	var asJSON bool
	var confirmName string
	c := &cobra.Command{
		Use:   "revoke KEY --confirm NAME",
		Short: "Revoke a key, permanently (type its exact name with --confirm)",
		Long: `Revoke a key, permanently: its requests are refused with 401 "api_key revoked"
and it can never be enabled, renamed, linked or rotated again.

--confirm must be the key's exact name. On a terminal, without --confirm, the
name is asked for.`,
		Args: nargs(1, 1),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			return a.withStore(func(ctx context.Context, st store.Store) error {
				k, err := resolve(ctx, st, args[0])
				if err != nil {
					return err
				}
				if k.Status == model.Revoked {
					return fmt.Errorf("cannot revoke %s: %w", qq(k.Name), model.ErrKeyRevoked)
				}
				hint := fmt.Sprintf("tmaps keys revoke %s --confirm %s", k.ID, shellQuote(q(k.Name)))
				if !cmd.Flags().Changed("confirm") {
					if !a.inTTY {
						return refusedf("revoking key %s (%s) is permanent: nothing changed; confirm with the key's exact name: %s", qq(k.Name), k.Prefix, hint)
					}
					impact := ""
					if u, ok := a.recentUsage(ctx, st, k.ID); ok {
						impact = " Last 24 hours: " + u + "."
					}
					fmt.Fprintf(a.stderr, "Revoke key %s (%s)? This is permanent.%s\nType the key's name to confirm: ", qq(k.Name), k.Prefix, impact)
					confirmName, _ = a.readLine()
				}
				if confirmName != k.Name {
					return refusedf("%v: nothing changed; to revoke, type the exact name: %s", model.ErrConfirmMismatch, hint)
				}
				nk, err := st.RevokeKey(ctx, k.ID, confirmName)
				if err != nil {
					return fmt.Errorf("revoke the key: %w", err)
				}
				if asJSON {
					return a.printJSON(jsonKey(nk))
				}
				fmt.Fprintf(a.stderr, "Revoked key %s (%s), permanently.\n", qq(nk.Name), nk.Prefix)
				return nil
			})
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the key as JSON")
	c.Flags().StringVar(&confirmName, "confirm", "", "the key's exact name")
	return c
}

func (a *app) keysRotate() *cobra.Command {
	var asJSON bool
	var grace string
	c := &cobra.Command{
		Use:   "rotate KEY [--expire-old-in 24h]",
		Short: "Create a replacement key with the same name, domains and policy; print its secret once",
		Long: `Rotate a key: create a new Active key with the same name, domains and policy
(not its expiry) and print its secret once (like keys create). The old key
stays as it is until you revoke it, so you can deploy the new secret first:

    NEW=$(tmaps keys rotate KEY)      # deploy $NEW, then:
    tmaps keys revoke OLD-ID --confirm NAME

With --expire-old-in the old key expires by itself after that grace period
(401 "api_key expired" from then on), unless it already expires sooner:

    NEW=$(tmaps keys rotate KEY --expire-old-in 24h)`,
		Args: nargs(1, 1),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			var graceDur time.Duration
			if cmd.Flags().Changed("expire-old-in") {
				d, err := parseDays(grace)
				if err != nil || d <= 0 {
					return usagef("--expire-old-in %s: give a positive duration such as 24h, 90m or 7d", qq(grace))
				}
				graceDur = d
			}
			return a.withStore(func(ctx context.Context, st store.Store) error {
				k, err := resolve(ctx, st, args[0])
				if err != nil {
					return err
				}
				if k.Status == model.Revoked {
					return fmt.Errorf("cannot rotate %s: %w", qq(k.Name), model.ErrKeyRevoked)
				}
				nk, secret, err := st.RotateKey(ctx, k.ID, graceDur)
				if err != nil {
					return fmt.Errorf("rotate the key: %w", err)
				}
				if old, err := st.Key(ctx, k.ID); err == nil {
					k = old
				}
				if err := a.printSecret(asJSON, "Rotated", nk, secret, map[string]any{"replaces": jsonKey(k)}); err != nil {
					return err
				}
				switch {
				case asJSON:
				case !k.Expires.IsZero():
					fmt.Fprintf(a.stderr, "The old key %s (%s) stays %s until it expires at %s (%s); revoke it sooner once the new secret is deployed:\n  tmaps keys revoke %s --confirm %s\n",
						k.ID, k.Prefix, k.Status.Label(), a.fmtTime(k.Expires), model.ExpiryLabel(k.Expires, a.now()), k.ID, shellQuote(q(k.Name)))
				default:
					fmt.Fprintf(a.stderr, "The old key %s (%s) stays %s until you revoke it, once the new secret is deployed:\n  tmaps keys revoke %s --confirm %s\n",
						k.ID, k.Prefix, k.Status.Label(), k.ID, shellQuote(q(k.Name)))
				}
				return nil
			})
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, `print {"key":{…},"secret":"ak_…","replaces":{…}}`)
	c.Flags().StringVar(&grace, "expire-old-in", "", "the old key expires this long after the rotation: 24h, 90m, 7d")
	return c
}

// lookupDomains normalises each name (an invalid one is an error with the
// reason) and checks that it exists (a missing one says how to add it).
func lookupDomains(ctx context.Context, st store.Store, names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		ascii, err := model.NormalizeDomain(n)
		if err != nil {
			return nil, fmt.Errorf("%w: %s is not a valid domain: %v", store.ErrInvalid, qq(n), err)
		}
		d, err := st.Domain(ctx, ascii)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: %s does not exist: run `tmaps domains add %s` first", store.ErrDomainNotFound, qq(ascii), shellQuote(ascii))
		}
		if err != nil {
			return nil, err
		}
		out = append(out, d.Name)
	}
	return out, nil
}

func (a *app) keysLink() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "link KEY DOMAIN...",
		Short: "Link domains to a key: browsers on those sites may use it",
		Args:  nargs(2, -1),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			return a.withStore(func(ctx context.Context, st store.Store) error {
				k, err := resolve(ctx, st, args[0])
				if err != nil {
					return err
				}
				if k.Status == model.Revoked {
					return fmt.Errorf("cannot link domains to %s: %w", qq(k.Name), model.ErrKeyRevoked)
				}
				names, err := lookupDomains(ctx, st, args[1:])
				if err != nil {
					return err
				}
				nk, err := st.LinkKey(ctx, k.ID, names...)
				if err != nil {
					return fmt.Errorf("link: %w", err)
				}
				if asJSON {
					return a.printJSON(jsonKey(nk))
				}
				var added, already []string
				for _, n := range names {
					if contains(k.Domains, n) {
						already = append(already, n)
					} else if !contains(added, n) {
						added = append(added, n)
					}
				}
				if len(added) > 0 {
					fmt.Fprintf(a.stderr, "Linked %s to key %s (%s).\n", labels(added), qq(nk.Name), nk.Prefix)
				}
				if len(already) > 0 {
					fmt.Fprintf(a.stderr, "Already linked: %s.\n", labels(already))
				}
				if k.Unrestricted() && len(added) > 0 {
					fmt.Fprintf(a.stderr, "The key was unrestricted; requests that send an Origin or Referer must now come from a linked domain (calls with neither still pass).\n")
				}
				return nil
			})
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the key as JSON")
	return c
}

func (a *app) keysUnlink() *cobra.Command {
	var asJSON, yes bool
	c := &cobra.Command{
		Use:   "unlink KEY DOMAIN... [--yes]",
		Short: "Unlink domains from a key (unlinking the last one needs --yes)",
		Long: `Unlink domains from a key. Unlinking its last domain makes the key
unrestricted (any site may use it): that asks for confirmation on a terminal,
and needs --yes elsewhere.`,
		Args: nargs(2, -1),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			return a.withStore(func(ctx context.Context, st store.Store) error {
				k, err := resolve(ctx, st, args[0])
				if err != nil {
					return err
				}
				names, err := lookupDomains(ctx, st, args[1:])
				if err != nil {
					return err
				}
				var remaining, notLinked []string
				for _, d := range k.Domains {
					if !contains(names, d) {
						remaining = append(remaining, d)
					}
				}
				for _, n := range names {
					if !contains(k.Domains, n) {
						notLinked = append(notLinked, n)
					}
				}
				if len(notLinked) > 0 {
					fmt.Fprintf(a.stderr, "Not linked to key %s: %s.\n", qq(k.Name), labels(notLinked))
				}
				if len(notLinked) == len(names) {
					if asJSON {
						return a.printJSON(jsonKey(k))
					}
					return nil
				}
				if len(remaining) == 0 && k.Status != model.Revoked {
					err := a.confirm(yes,
						fmt.Sprintf("Key %s (%s) will have no domain left and become unrestricted: any site may use it. Unlink?", qq(k.Name), k.Prefix),
						fmt.Sprintf("unlinking would leave key %s (%s) with no domain, unrestricted (any site may use it)", qq(k.Name), k.Prefix))
					if err != nil {
						return err
					}
				}
				nk, err := st.UnlinkKey(ctx, k.ID, names...)
				if err != nil {
					return fmt.Errorf("unlink: %w", err)
				}
				if asJSON {
					return a.printJSON(jsonKey(nk))
				}
				var removed []string
				for _, n := range names {
					if contains(k.Domains, n) && !contains(removed, n) {
						removed = append(removed, n)
					}
				}
				fmt.Fprintf(a.stderr, "Unlinked %s from key %s (%s).\n", labels(removed), qq(nk.Name), nk.Prefix)
				if nk.Unrestricted() {
					fmt.Fprintf(a.stderr, "Key %s is now unrestricted.\n", qq(nk.Name))
				}
				return nil
			})
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the key as JSON")
	c.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return c
}

// labels lists domains with their Unicode form, escaped.
func labels(domains []string) string {
	out := make([]string, len(domains))
	for i, d := range domains {
		out[i] = q(domainLabel(d))
	}
	return strings.Join(out, ", ")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
