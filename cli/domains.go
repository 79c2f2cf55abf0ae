package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

func (a *app) domainsCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "domains",
		Short: "List, show, add and delete authorized domains",
		Long: `Manage authorized domains.

A domain is a host name without scheme, path, port or wildcard: mysite.tn,
app.mysite.tn, localhost, 127.0.0.1, ::1. Internationalised names are stored
in their ASCII form (café.tn is stored as xn--caf-dma.tn).`,
		Args: cobra.ArbitraryArgs,
		RunE: a.runE(a.group),
	}
	c.AddCommand(a.domainsList(), a.domainsShow(), a.domainsAdd(), a.domainsDelete())
	return c
}

// domainJSON is a domain as --json prints it.
type domainJSON struct {
	model.Domain
	MixedScript bool `json:"mixed_script"`
}

func jsonDomain(d model.Domain) domainJSON {
	if d.Keys == nil {
		d.Keys = []string{}
	}
	if d.Unicode == "" {
		d.Unicode = model.DomainUnicode(d.Name)
	}
	return domainJSON{Domain: d, MixedScript: model.MixedScript(d.Unicode)}
}

// normDomain normalises a domain argument, or says why it is refused.
func normDomain(name string) (string, error) {
	ascii, err := model.NormalizeDomain(name)
	if err != nil {
		return "", fmt.Errorf("%w: %s is not a valid domain: %v", store.ErrInvalid, qq(name), err)
	}
	return ascii, nil
}

// findDomain looks a domain up, saying how to add it when it is missing.
func findDomain(ctx context.Context, st store.Store, name string) (model.Domain, error) {
	ascii, err := normDomain(name)
	if err != nil {
		return model.Domain{}, err
	}
	d, err := st.Domain(ctx, ascii)
	if errors.Is(err, store.ErrNotFound) {
		return d, fmt.Errorf("%w: %s (see `tmaps domains list`, or add it with `tmaps domains add %s`)", store.ErrDomainNotFound, qq(ascii), shellQuote(ascii))
	}
	return d, err
}

func (a *app) domainsList() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List authorized domains",
		Long: `List authorized domains, by ASCII name.

On a terminal: a table. Otherwise one domain per line, tab-separated: ASCII
name, Unicode name, number of linked keys, created (RFC 3339).`,
		Args: nargs(0, 0),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			return a.withStore(func(ctx context.Context, st store.Store) error {
				ds, err := st.Domains(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					list := make([]domainJSON, 0, len(ds))
					for _, d := range ds {
						list = append(list, jsonDomain(d))
					}
					return a.printJSON(list)
				}
				if len(ds) == 0 && a.outTTY {
					fmt.Fprintln(a.stderr, "No authorized domains yet. Add one: tmaps domains add mysite.tn")
					return nil
				}
				t := &table{header: []string{"DOMAIN", "UNICODE", "KEYS", "CREATED", "NOTE"}}
				for _, d := range ds {
					j := jsonDomain(d)
					if !a.outTTY {
						t.add(j.Name, j.Unicode, strconv.Itoa(len(j.Keys)), a.fmtTime(j.Created))
						continue
					}
					uni, note := "", ""
					if j.Unicode != j.Name {
						uni = j.Unicode
					}
					if j.MixedScript {
						note = "mixed scripts"
					}
					t.add(j.Name, uni, strconv.Itoa(len(j.Keys)), a.fmtTime(j.Created), note)
				}
				if !a.outTTY {
					t.header = nil
				}
				return a.printTable(t)
			})
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (a *app) domainsShow() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a domain and the keys linked to it",
		Args:  nargs(1, 1),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			return a.withStore(func(ctx context.Context, st store.Store) error {
				d, err := findDomain(ctx, st, args[0])
				if err != nil {
					return err
				}
				j := jsonDomain(d)
				if asJSON {
					return a.printJSON(j)
				}
				var f fields
				f.add("Domain", j.Name)
				if j.Unicode != j.Name {
					f.add("Unicode", j.Unicode)
				}
				if j.MixedScript {
					f.add("Warning", "the name mixes scripts: check it is not a look-alike of another site")
				}
				f.add("Created", a.fmtTime(j.Created))
				if len(j.Keys) == 0 {
					f.add("Keys", "none")
				}
				for _, id := range j.Keys {
					f.add("Key", a.keyRef(ctx, st, id))
				}
				return a.printFields(f)
			})
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (a *app) domainsAdd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "add NAME",
		Short: "Add an authorized domain (then link it to keys)",
		Long: `Add an authorized domain. It is checked and normalised first: lower case,
no trailing dot, internationalised names in ASCII form. Then link it to keys
with: tmaps keys link KEY NAME`,
		Args: nargs(1, 1),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			ascii, err := normDomain(args[0])
			if err != nil {
				return err
			}
			return a.withStore(func(ctx context.Context, st store.Store) error {
				d, err := st.AddDomain(ctx, ascii)
				if errors.Is(err, store.ErrDomainExists) {
					return fmt.Errorf("%s already exists, linked to %d key(s): nothing changed (see `tmaps domains show %s`)", qq(domainLabel(ascii)), len(d.Keys), shellQuote(ascii))
				}
				if err != nil {
					return fmt.Errorf("add the domain: %w", err)
				}
				j := jsonDomain(d)
				if j.MixedScript {
					a.warnf("%s mixes scripts in one label: make sure it is not a look-alike of another site", qq(j.Unicode))
				}
				if asJSON {
					return a.printJSON(j)
				}
				fmt.Fprintf(a.stderr, "Added domain %s. Link it to a key with: tmaps keys link KEY %s\n", q(domainLabel(j.Name)), shellQuote(j.Name))
				return nil
			})
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the domain as JSON")
	return c
}

func (a *app) domainsDelete() *cobra.Command {
	var asJSON, yes bool
	c := &cobra.Command{
		Use:   "delete NAME [--yes]",
		Short: "Delete a domain and unlink it from every key",
		Long: `Delete a domain and unlink it from every key at once. When that leaves a
key with no domain (unrestricted: any site may use it), the keys are named and
the deletion needs confirmation: asked on a terminal, --yes elsewhere.`,
		Args: nargs(1, 1),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			return a.withStore(func(ctx context.Context, st store.Store) error {
				d, err := findDomain(ctx, st, args[0])
				if err != nil {
					return err
				}
				var loose []string
				for _, id := range d.Keys {
					k, err := st.Key(ctx, id)
					if err != nil {
						continue
					}
					if k.Status != model.Revoked && len(k.Domains) == 1 && k.Domains[0] == d.Name {
						loose = append(loose, fmt.Sprintf("%s %s (%s)", k.Prefix, qq(k.Name), k.Status.Label()))
					}
				}
				if len(loose) > 0 {
					list := strings.Join(loose, ", ")
					err := a.confirm(yes,
						fmt.Sprintf("Deleting %s leaves these keys with no domain, unrestricted (any site may use them): %s. Delete?", d.Name, list),
						fmt.Sprintf("deleting %s would leave these keys with no domain, unrestricted (any site may use them): %s", d.Name, list))
					if err != nil {
						return err
					}
				}
				old, err := st.DeleteDomain(ctx, d.Name)
				if err != nil {
					return fmt.Errorf("delete the domain: %w", err)
				}
				if asJSON {
					return a.printJSON(jsonDomain(old))
				}
				fmt.Fprintf(a.stderr, "Deleted domain %s; unlinked it from %d key(s).\n", q(domainLabel(old.Name)), len(old.Keys))
				return nil
			})
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the deleted domain as JSON")
	c.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return c
}
