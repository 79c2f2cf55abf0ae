package cli

import (
	"context"
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

func (a *app) auditCmd() *cobra.Command {
	var asJSON bool
	var object, actor, text string
	var limit int
	var before uint64
	c := &cobra.Command{
		Use:   "audit [--object O] [--actor A] [--text T] [--limit N] [--before SEQ]",
		Short: "Show the audit log, newest first",
		Long: `Show the audit log (every change: who, when, what, before and after),
newest first.

--object is "key:ID", "domain:NAME", or a key reference (id, prefix, name) or
a domain name, resolved for you. --text keeps entries whose actor, action,
object, before or after holds the text (any case). --before SEQ shows the
entries older than entry SEQ (the seq of the last entry of a previous page,
in --json). On a terminal: a table. Otherwise one entry
per line, tab-separated: time (RFC 3339), actor, action, object, before, after.`,
		Args: nargs(0, 0),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return usagef("--limit must be 0 (everything) or more, not %d", limit)
			}
			return a.withStore(func(ctx context.Context, st store.Store) error {
				q := store.AuditQuery{Actor: actor, Text: text, Limit: limit, Before: before}
				if cmd.Flags().Changed("object") {
					obj, err := auditObject(ctx, st, object)
					if err != nil {
						return err
					}
					q.Object = obj
				}
				entries, err := st.Audit(ctx, q)
				if err != nil {
					return err
				}
				if asJSON {
					if entries == nil {
						entries = []model.AuditEntry{}
					}
					return a.printJSON(entries)
				}
				if len(entries) == 0 && a.outTTY {
					_, err := a.stderr.Write([]byte("No audit entries match.\n"))
					return err
				}
				names := map[string]string{}
				if a.outTTY {
					if keys, err := st.Keys(ctx); err == nil {
						for _, k := range keys {
							names["key:"+k.ID] = k.Name
						}
					}
				}
				t := &table{header: []string{"TIME", "ACTOR", "ACTION", "OBJECT", "CHANGE"}, wide: map[int]int{3: 50, 4: 60}}
				for _, e := range entries {
					if !a.outTTY {
						t.add(a.fmtTime(e.Time), e.Actor, e.Action, e.Object, e.Before, e.After)
						continue
					}
					obj := e.Object
					if n, ok := names[obj]; ok {
						obj += " " + n
					}
					change := e.After
					if e.Before != "" {
						change = e.Before + " → " + e.After
					}
					t.add(a.fmtTime(e.Time), e.Actor, e.Action, obj, change)
				}
				if !a.outTTY {
					t.header = nil
				}
				return a.printTable(t)
			})
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().StringVar(&object, "object", "", `only entries about this object: "key:ID", "domain:NAME", a key or a domain`)
	c.Flags().StringVar(&actor, "actor", "", "only entries by this actor; an SSH actor also by its fingerprint (SHA256:…) or its ssh:USER alone")
	c.Flags().IntVar(&limit, "limit", 100, "at most N entries (0: all)")
	c.Flags().StringVar(&text, "text", "", "only entries holding this text (any case) in actor, action, object, before or after")
	c.Flags().Uint64Var(&before, "before", 0, "only entries older than the one with this seq (paging)")
	return c
}

// auditObject turns what a person typed for --object into an audit object:
// "key:…"/"domain:…"/"token:…" as they are, else a key reference, else a
// domain name (which may have been deleted since).
func auditObject(ctx context.Context, st store.Store, o string) (string, error) {
	o = strings.TrimSpace(o)
	for _, p := range []string{"key:", "domain:", "token:"} {
		if strings.HasPrefix(o, p) {
			return o, nil
		}
	}
	if o == "" {
		return "", usagef(`--object needs a value: "key:ID", "domain:NAME", a key or a domain`)
	}
	k, err := store.ResolveKey(ctx, st, o)
	var amb *store.AmbiguousError
	switch {
	case err == nil:
		return "key:" + k.ID, nil
	case errors.As(err, &amb):
		return "", err
	}
	if d, err := model.NormalizeDomain(o); err == nil {
		return "domain:" + d, nil
	}
	return "", usagef(`--object %s is neither a key nor a domain: use "key:ID" or "domain:NAME"`, qq(o))
}
