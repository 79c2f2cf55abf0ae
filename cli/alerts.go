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

func init() { register((*app).alertsCmd) }

func (a *app) alertsCmd() *cobra.Command {
	var asJSON bool
	var since string
	var limit int
	c := &cobra.Command{
		Use:   "alerts [KEY] [--since D] [--limit N]",
		Short: "Show the alert history: spikes, refused bursts, expiring, leaked, revoked keys",
		Long: `Show the alerts the daemon found (docs/alerts.md), newest first, with the
state of their webhook deliveries: delivered, pending (with the attempts so
far), or failed (given up after 24 hours).

On a terminal: a table. Otherwise one alert per line, tab-separated: time
(RFC 3339), kind, key id, key prefix, summary, deliveries.`,
		Args: nargs(0, 1),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return usagef("--limit must be 0 (everything) or more, not %d", limit)
			}
			return a.withStore(func(ctx context.Context, st store.Store) error {
				ar, ok := st.(store.AlertReader)
				if !ok {
					return store.ErrNoAlerts
				}
				q := store.AlertQuery{Limit: limit}
				if since != "" {
					t, err := parseSince(since, a.now())
					if err != nil {
						return usagef("--since: %v", err)
					}
					q.Since = t
				}
				if len(args) == 1 {
					k, err := resolve(ctx, st, args[0])
					if err != nil {
						return err
					}
					q.KeyID = k.ID
				}
				as, err := ar.Alerts(ctx, q)
				if err != nil {
					if errors.Is(err, store.ErrNoAlerts) {
						return fmt.Errorf("%w (it needs the daemon's store or --api)", err)
					}
					return err
				}
				if asJSON {
					out := make([]alertJSON, len(as))
					for i, al := range as {
						out[i] = alertJSON{Alert: al, Deliveries: append([]model.Delivery{}, al.Deliveries...)}
					}
					return a.printJSON(out)
				}
				if len(as) == 0 && a.outTTY {
					fmt.Fprintln(a.stdout, "No alerts.")
					return nil
				}
				t := &table{header: []string{"TIME", "KIND", "KEY", "SUMMARY", "DELIVERY"}, wide: map[int]int{3: 70}}
				for _, al := range as {
					if !a.outTTY {
						t.add(a.fmtTime(al.Time), string(al.Kind), al.KeyID, al.KeyPrefix, al.Summary, deliverySummary(al))
						continue
					}
					t.add(a.fmtTime(al.Time), string(al.Kind), al.KeyPrefix, al.Summary, deliverySummary(al))
				}
				if !a.outTTY {
					t.header = nil
				}
				return a.printTable(t)
			})
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON (each alert with its deliveries)")
	c.Flags().StringVar(&since, "since", "", "only alerts from this long ago (24h, 7d) or this date (2026-05-01)")
	c.Flags().IntVar(&limit, "limit", 100, "at most N alerts (0: all)")
	return c
}

// alertJSON is an alert as `alerts --json` prints it.
type alertJSON struct {
	model.Alert
	Deliveries []model.Delivery `json:"deliveries"`
}

// deliverySummary says where an alert's deliveries stand, e.g.
// "delivered 1, pending 1 (3 attempts)".
func deliverySummary(a model.Alert) string {
	if len(a.Deliveries) == 0 {
		return "-"
	}
	var delivered, pending, failed, attempts int
	for _, d := range a.Deliveries {
		switch {
		case !d.Delivered.IsZero():
			delivered++
		case d.Failed:
			failed++
		default:
			pending++
			attempts += d.Attempts
		}
	}
	var parts []string
	if delivered > 0 {
		parts = append(parts, fmt.Sprintf("delivered %d", delivered))
	}
	if pending > 0 {
		parts = append(parts, fmt.Sprintf("pending %d (%d attempts)", pending, attempts))
	}
	if failed > 0 {
		parts = append(parts, fmt.Sprintf("failed %d", failed))
	}
	return strings.Join(parts, ", ")
}
