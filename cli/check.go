package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// checkJSON is what `tmaps check --json` prints. It never holds the secret.
type checkJSON struct {
	Status  int    `json:"status"`
	Error   string `json:"error"`
	Reason  string `json:"reason"`
	Explain string `json:"explain"`
	Host    string `json:"host,omitempty"`
	// RetryAfter is the Retry-After of a 429, in seconds.
	RetryAfter uint32 `json:"retry_after,omitempty"`
	// QuotaUsed is the key's allowed requests of this UTC month, as
	// flushed to the store, for a key with a quota.
	QuotaUsed *uint64 `json:"quota_used,omitempty"`
	// Notes say what the check could not know (the rate limit is kept by
	// each gate node in memory) or assumed (no --ip).
	Notes []string `json:"notes,omitempty"`
	Key   *keyJSON `json:"key,omitempty"`
}

func (a *app) checkCmd() *cobra.Command {
	var asJSON, plainHTTP bool
	var secret, origin, referer, ip string
	c := &cobra.Command{
		Use:   "check --key SECRET [--origin O] [--referer R] [--ip ADDR] [--http]",
		Short: "Explain the gate's decision for a request with this key, Origin, Referer and client address",
		Long: `Explain what the gate decides for one request now: the HTTP status, the
error body, and the rule that decided (SPEC.md steps 1–10, the key's expiry,
IP allowlist and monthly quota included). The key is looked up by its
secret's digest; the secret is never printed.

    tmaps check --key "$KEY" --origin https://mysite.tn
    tmaps check --key "$KEY" --referer https://evil.example/page --json
    tmaps check --key "$KEY" --ip 203.0.113.7

--ip is the client's address, for a key with an IP allowlist (without it the
address is unknown, and such a key is refused). The monthly quota is checked
against the usage flushed to the store; the rate limit is kept by each gate
node in memory, so check says it applies but cannot tell whether a node's
bucket is empty. --http checks a plain-HTTP request (refused with 403 "https
required"). The exit code is 0 whatever the decision; read the status.`,
		Args: nargs(0, 0),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("key") {
				return usagef(`--key is required: tmaps check --key "$KEY" --origin https://mysite.tn`)
			}
			var clientIP netip.Addr
			if cmd.Flags().Changed("ip") {
				a, err := netip.ParseAddr(strings.TrimSpace(ip))
				if err != nil || a.Zone() != "" {
					return usagef("--ip %s: give an IPv4 or IPv6 address such as 203.0.113.7 or 2001:db8::1", qq(ip))
				}
				clientIP = a.Unmap()
			}
			return a.withStore(func(ctx context.Context, st store.Store) error {
				now := a.now()
				in := model.GateInput{APIKeys: []string{secret}, Origin: origin, Referer: referer, HTTPS: !plainHTTP,
					Now: now, ClientIP: clientIP}
				var notes []string
				var quotaUsed *uint64
				if model.ValidSecret(secret) {
					k, err := st.KeyByDigest(ctx, model.DigestOf(secret))
					switch {
					case err == nil:
						in.Key = &k
					case !errors.Is(err, store.ErrNotFound):
						return fmt.Errorf("look up the key: %w", err)
					}
				}
				if k := in.Key; k != nil {
					if len(k.AllowIPs) > 0 && !clientIP.IsValid() {
						notes = append(notes, "no --ip: the client address is unknown, which no IP allowlist contains")
					}
					if k.Quota > 0 {
						used, err := monthUsed(ctx, st, k.ID, now)
						if err != nil {
							return fmt.Errorf("read the key's usage for its quota: %w", err)
						}
						in.QuotaUsed, quotaUsed = used, &used
					}
					if k.Rate > 0 {
						notes = append(notes, fmt.Sprintf("rate limit %s on each gate node: kept in the nodes' memory, not checked here", model.FormatRate(k.Rate, k.Burst)))
					}
				}
				d := model.Decide(in)
				out := checkJSON{Status: d.Status, Error: d.Error, Reason: d.Reason.String(), Explain: d.Reason.Explain(), Host: d.Host,
					RetryAfter: d.RetryAfter, QuotaUsed: quotaUsed, Notes: notes}
				if in.Key != nil {
					j := jsonKey(*in.Key)
					out.Key = &j
				}
				if asJSON {
					return a.printJSON(out)
				}
				var f fields
				status := fmt.Sprint(d.Status)
				if body := d.Body(); body != nil {
					status += " " + string(body)
				} else if d.Allowed() {
					status += " allowed"
				}
				f.add("Status", status)
				f.add("Reason", out.Reason)
				f.add("Rule", out.Explain)
				if d.Host != "" {
					f.add("Host", d.Host)
				}
				if d.RetryAfter > 0 {
					f.add("Retry-After", fmt.Sprintf("%d s", d.RetryAfter))
				}
				if k := in.Key; k != nil {
					f.add("Key", fmt.Sprintf("%s %s %s (%s)", k.ID, k.Prefix, k.Name, k.Status.Label()))
					if k.Unrestricted() {
						f.add("Domains", "none: unrestricted")
					} else {
						f.add("Domains", strings.Join(k.Domains, ", "))
					}
					if !k.Expires.IsZero() {
						f.add("Expires", a.fmtTime(k.Expires)+" ("+model.ExpiryLabel(k.Expires, now)+")")
					}
					if len(k.AllowIPs) > 0 {
						f.add("IP allowlist", model.FormatAllowIPs(k.AllowIPs))
					}
					if quotaUsed != nil {
						f.add("Quota", fmt.Sprintf("%d of %s used (this UTC month, flushed usage)", *quotaUsed, model.FormatQuota(k.Quota)))
					}
				}
				for _, n := range notes {
					f.add("Note", n)
				}
				if next := checkNextStep(d, in.Key); next != "" {
					f.add("Next", next)
				}
				return a.printFields(f)
			})
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, `print {"status":N,"error":"…","reason":"…",…}`)
	c.Flags().StringVar(&secret, "key", "", "the key's secret (ak_…); prefer \"$KEY\" from a variable")
	c.Flags().StringVar(&origin, "origin", "", "the request's Origin header (empty: absent)")
	c.Flags().StringVar(&referer, "referer", "", "the request's Referer header (empty: absent)")
	c.Flags().StringVar(&ip, "ip", "", "the client's address, for a key with an IP allowlist")
	c.Flags().BoolVar(&plainHTTP, "http", false, "the request arrives over plain HTTP, not HTTPS")
	return c
}

// checkNextStep suggests what to do about a refusal.
func checkNextStep(d model.Decision, k *model.Key) string {
	switch d.Reason {
	case model.ReasonDisabled:
		return "tmaps keys enable " + k.ID
	case model.ReasonExpired:
		return "tmaps keys set " + k.ID + " --expires-in 720h (or --no-expiry)"
	case model.ReasonIPNotAllowed:
		return "if the address is yours: tmaps keys set " + k.ID + " --allow-ip ADDR (every entry, the old ones too)"
	case model.ReasonQuotaExceeded:
		return fmt.Sprintf("tmaps keys set %s --quota N (above %d), or wait for the next UTC month", k.ID, k.Quota)
	case model.ReasonDomainNotAuthorized:
		if d.Host != "" {
			return fmt.Sprintf("if %s is yours: tmaps domains add %s && tmaps keys link %s %s", d.Host, shellQuote(d.Host), k.ID, shellQuote(d.Host))
		}
	case model.ReasonUnknownKey:
		return "the secret is not in this store: check --db / --api, or create a key with tmaps keys create"
	}
	return ""
}
