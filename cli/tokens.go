package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

func init() { register((*app).tokensCmd) }

// tokenAdmin is what `tmaps tokens` needs: the local bolt store has it, and
// so has the remote store (over /v1/tokens, with an existing token).
type tokenAdmin interface {
	CreateToken(ctx context.Context, name string, role model.Role) (store.Token, string, error)
	SetTokenRole(ctx context.Context, name string, role model.Role) (store.Token, error)
	Tokens(ctx context.Context) ([]store.Token, error)
	RevokeToken(ctx context.Context, name string) error
}

const tokensLong = `Manage the operator tokens of the management API (` + "`tmaps serve`" + `).

A token is shown once, at creation; the store keeps only its digest. Clients
send it as "Authorization: Bearer TOKEN" (tmaps --api URL reads TMAPS_TOKEN).
Changes made with a token are audited under the token's name.

Each token has a role: admin (everything, including tokens and roles),
operator (keys, domains, links, policies; no tokens) or auditor (read only).
Tokens created before roles existed are admins. A call the role does not
allow is refused with "forbidden: <role> cannot <action>" and audited.

Run these commands on the daemon's host with the daemon's --db before its
first start (the store file is locked while ` + "`tmaps serve`" + ` runs), or
against a running daemon with --api URL and an existing token.`

func (a *app) tokensCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "tokens",
		Short: "Create, list and revoke operator tokens of the management API",
		Long:  tokensLong,
		RunE:  a.group,
	}
	c.AddCommand(a.tokensCreate(), a.tokensList(), a.tokensRevoke(), a.tokensSetRole())
	return c
}

// withTokens opens the store and runs fn on its token admin.
func (a *app) withTokens(fn func(ctx context.Context, ta tokenAdmin) error) error {
	return a.withStore(func(ctx context.Context, st store.Store) error {
		ta, ok := st.(tokenAdmin)
		if !ok {
			return errors.New("this store has no operator tokens: run `tmaps tokens` with --db on the daemon's host")
		}
		return fn(ctx, ta)
	})
}

func (a *app) tokensCreate() *cobra.Command {
	var asJSON bool
	var roleFlag string
	c := &cobra.Command{
		Use:   "create NAME [--role admin|operator|auditor]",
		Short: "Create an operator token and print it, once",
		Long: `Create an operator token and print it, once.

On a terminal the token is shown with a warning. Otherwise only the token is
printed on stdout (the warning goes to stderr), so this works:

    export TMAPS_TOKEN=$(tmaps tokens create ci-bot --role operator --db /var/lib/tmaps/console.db)

--role is admin by default (what every token could do before roles); give
dashboards and reviewers --role auditor.`,
		Args: nargs(1, 1),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			n, err := checkName("token name", args[0])
			if err != nil {
				return err
			}
			role, err := model.ParseRole(roleFlag)
			if err != nil {
				return usagef("--role: %v", err)
			}
			return a.withTokens(func(ctx context.Context, ta tokenAdmin) error {
				t, secret, err := ta.CreateToken(ctx, n, role)
				if err != nil {
					return fmt.Errorf("create the token: %w", err)
				}
				if asJSON {
					return a.printJSON(map[string]any{"token": t, "secret": secret})
				}
				warning := "This token is shown once and cannot be shown again: store it now."
				if a.outTTY {
					fmt.Fprintf(a.stdout, "Created token %s (%s, role %s).\n\n    %s\n\n%s\nUse it with: TMAPS_TOKEN=… tmaps --api URL\n", qq(t.Name), t.Prefix, t.Role, secret, warning)
					return nil
				}
				fmt.Fprintln(a.stdout, secret)
				fmt.Fprintf(a.stderr, "Created token %s (%s, role %s). %s\n", qq(t.Name), t.Prefix, t.Role, warning)
				return nil
			})
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, `print {"token":{…},"secret":"tm_…"}`)
	c.Flags().StringVar(&roleFlag, "role", string(model.RoleAdmin), "what the token may do: admin, operator or auditor")
	return c
}

func (a *app) tokensList() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List operator tokens (names and prefixes; never the tokens)",
		Args:  nargs(0, 0),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			return a.withTokens(func(ctx context.Context, ta tokenAdmin) error {
				ts, err := ta.Tokens(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					if ts == nil {
						ts = []store.Token{}
					}
					return a.printJSON(ts)
				}
				if len(ts) == 0 && a.outTTY {
					fmt.Fprintln(a.stderr, "No token yet. Create one: tmaps tokens create NAME")
					return nil
				}
				t := &table{header: []string{"NAME", "PREFIX", "ROLE", "CREATED"}}
				for _, tok := range ts {
					t.add(tok.Name, tok.Prefix, string(tok.Role), a.fmtTime(tok.Created))
				}
				return a.printTable(t)
			})
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (a *app) tokensRevoke() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke an operator token: requests with it are refused at once",
		Args:  nargs(1, 1),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			return a.withTokens(func(ctx context.Context, ta tokenAdmin) error {
				if err := ta.RevokeToken(ctx, args[0]); err != nil {
					if errors.Is(err, store.ErrNotFound) {
						return fmt.Errorf("%w: no token named %s (see `tmaps tokens list`)", store.ErrTokenNotFound, qq(args[0]))
					}
					return err
				}
				fmt.Fprintf(a.stderr, "Revoked token %s.\n", qq(args[0]))
				return nil
			})
		}),
	}
}

func (a *app) tokensSetRole() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "set-role NAME admin|operator|auditor",
		Short: "Change what an operator token may do (at its next request)",
		Args:  nargs(2, 2),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			role, err := model.ParseRole(args[1])
			if err != nil {
				return usagef("%v", err)
			}
			return a.withTokens(func(ctx context.Context, ta tokenAdmin) error {
				t, err := ta.SetTokenRole(ctx, args[0], role)
				if err != nil {
					if errors.Is(err, store.ErrNotFound) {
						return fmt.Errorf("%w: no token named %s (see `tmaps tokens list`)", store.ErrTokenNotFound, qq(args[0]))
					}
					return err
				}
				if asJSON {
					return a.printJSON(t)
				}
				fmt.Fprintf(a.stderr, "Token %s now has the role %s.\n", qq(t.Name), t.Role)
				return nil
			})
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the token as JSON")
	return c
}
