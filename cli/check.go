package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// checkJSON is what `tmaps check --json` prints. It never holds the secret.
type checkJSON struct {
	Status  int      `json:"status"`
	Error   string   `json:"error"`
	Reason  string   `json:"reason"`
	Explain string   `json:"explain"`
	Host    string   `json:"host,omitempty"`
	Key     *keyJSON `json:"key,omitempty"`
}

func (a *app) checkCmd() *cobra.Command {
	var asJSON, plainHTTP bool
	var secret, origin, referer string
	c := &cobra.Command{
		Use:   "check --key SECRET [--origin O] [--referer R] [--http]",
		Short: "Explain the gate's decision for a request with this key, Origin and Referer",
		Long: `Explain what the gate decides for one request: the HTTP status, the error
body, and the rule that decided. The key is looked up by its secret's digest;
the secret is never printed.

    tmaps check --key "$KEY" --origin https://mysite.tn
    tmaps check --key "$KEY" --referer https://evil.example/page --json

--http checks a plain-HTTP request (refused with 403 "https required").
The exit code is 0 whatever the decision; read the status.`,
		Args: nargs(0, 0),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("key") {
				return usagef(`--key is required: tmaps check --key "$KEY" --origin https://mysite.tn`)
			}
			return a.withStore(func(ctx context.Context, st store.Store) error {
				in := model.GateInput{APIKeys: []string{secret}, Origin: origin, Referer: referer, HTTPS: !plainHTTP}
				if model.ValidSecret(secret) {
					k, err := st.KeyByDigest(ctx, model.DigestOf(secret))
					switch {
					case err == nil:
						in.Key = &k
					case !errors.Is(err, store.ErrNotFound):
						return fmt.Errorf("look up the key: %w", err)
					}
				}
				d := model.Decide(in)
				out := checkJSON{Status: d.Status, Error: d.Error, Reason: d.Reason.String(), Explain: d.Reason.Explain(), Host: d.Host}
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
				if k := in.Key; k != nil {
					f.add("Key", fmt.Sprintf("%s %s %s (%s)", k.ID, k.Prefix, k.Name, k.Status.Label()))
					if k.Unrestricted() {
						f.add("Domains", "none: unrestricted")
					} else {
						f.add("Domains", strings.Join(k.Domains, ", "))
					}
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
	c.Flags().BoolVar(&plainHTTP, "http", false, "the request arrives over plain HTTP, not HTTPS")
	return c
}

// checkNextStep suggests what to do about a refusal.
func checkNextStep(d model.Decision, k *model.Key) string {
	switch d.Reason {
	case model.ReasonDisabled:
		return "tmaps keys enable " + k.ID
	case model.ReasonDomainNotAuthorized:
		if d.Host != "" {
			return fmt.Sprintf("if %s is yours: tmaps domains add %s && tmaps keys link %s %s", d.Host, shellQuote(d.Host), k.ID, shellQuote(d.Host))
		}
	case model.ReasonUnknownKey:
		return "the secret is not in this store: check --db / --api, or create a key with tmaps keys create"
	}
	return ""
}
