package cli

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

func init() {
	register((*app).usageCmd)
	register((*app).hygieneCmd)
}

// usageJSON is what `tmaps usage --json` prints.
type usageJSON struct {
	Key   *keyJSON  `json:"key,omitempty"` // nil for the total of every key
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// By is "hour" or "day"; days are calendar days in TimeZone.
	By       string        `json:"by"`
	TimeZone string        `json:"time_zone"`
	Totals   countsJSON    `json:"totals"`
	Buckets  []bucketJSON  `json:"buckets"`
	Spike    model.Spike   `json:"spike"`
	Last24h  countsJSON    `json:"last_24h"`
	Refused  []refusedJSON `json:"refused_hosts,omitempty"`
	// Matched are the hosts whose requests the key allowed (its used
	// links), when the store counts them.
	Matched []store.MatchedHost `json:"matched_hosts,omitempty"`
	Keys    []keyUsageJSON      `json:"keys,omitempty"` // per key, for the total
}

type countsJSON struct {
	model.Counts
	Total uint64 `json:"total"`
}

func jsonCounts(c model.Counts) countsJSON { return countsJSON{c, c.Total()} }

type bucketJSON struct {
	Start time.Time `json:"start"`
	countsJSON
}

type refusedJSON = store.RefusedHost

// keyUsageJSON is one key's line in the total.
type keyUsageJSON struct {
	ID       string      `json:"id"`
	Name     string      `json:"name"`
	Prefix   string      `json:"prefix"`
	Status   string      `json:"status"`
	LastUsed time.Time   `json:"last_used,omitzero"`
	Last24h  countsJSON  `json:"last_24h"`
	Spike    model.Spike `json:"spike"`
}

// parseSince reads --since: a duration ("36h", "90m"), a number of days
// ("7d"), or a date ("2026-05-01", local midnight).
func parseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n > 0 && n <= 3660 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, time.Local); err == nil && t.Before(now) {
		return t, nil
	}
	return time.Time{}, usagef("--since %s: give a duration (24h, 7d, 30d) or a past date (2026-05-01)", qq(s))
}

func (a *app) usageCmd() *cobra.Command {
	var asJSON bool
	var since, by string
	c := &cobra.Command{
		Use:   "usage [KEY] [--since D] [--by hour|day]",
		Short: "Show requests counted by the gate: allowed, 401, 403 and 429, per hour or day, with spikes",
		Long: `Show the requests the gate counted, for one key (id, prefix or name) or for
every key together, split into allowed, 401 (no, bad, disabled, revoked or
expired key), 403 (domain or IP address not authorized, plain HTTP) and 429
(rate limit or monthly quota).

--since is a duration (24h, 7d, 30d; default 30d) or a date (2026-05-01).
--by is hour or day (default: hour up to 48 hours, day beyond); days are
calendar days in the local time zone (set TZ to choose another).

The spike check looks at the last complete hour and the current hour: a
spike is at least 50 requests and more than 4 times the median of the same
hour of the day over the previous 7 days (see docs/usage.md). For one key,
the hosts refused with 403 follow; for the total, one line per key used in
the last 24 hours.`,
		Args: nargs(0, 1),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			now := a.now()
			from, err := parseSince(since, now)
			if err != nil {
				return err
			}
			switch by {
			case "":
				by = "day"
				if now.Sub(from) <= 48*time.Hour {
					by = "hour"
				}
			case "hour", "day":
			default:
				return usagef("--by %s: use hour or day", qq(by))
			}
			if by == "hour" && now.Sub(from) > 31*24*time.Hour {
				return usagef("--by hour covers at most 31 days: use --by day or a shorter --since")
			}
			return a.withStore(func(ctx context.Context, st store.Store) error {
				out := usageJSON{By: by, Until: now.UTC(), TimeZone: time.Local.String()}
				keyID := ""
				var key model.Key
				if len(args) == 1 {
					k, err := resolve(ctx, st, args[0])
					if err != nil {
						return err
					}
					key, keyID = k, k.ID
					j := jsonKey(k)
					out.Key = &j
				}
				start := from
				if w := now.Add(-store.SpikeWindow()); w.Before(start) {
					start = w
				}
				us, err := st.Usage(ctx, store.UsageQuery{KeyID: keyID, Since: start, Until: now.Add(time.Hour)})
				if err != nil {
					return err
				}
				hours := store.Buckets(us)
				sum := store.SummaryOf(keyID, hours, now)
				out.Spike, out.Last24h = sum.Spike, jsonCounts(sum.Last24h)
				var series []model.Bucket
				if by == "hour" {
					first := model.Hourly(nil, from, 1)[0].Start
					n := int(now.Sub(first)/time.Hour) + 1
					series = model.Hourly(hours, now, n)
				} else {
					first := model.DayStart(from, time.Local)
					n := 0
					for d := first; !d.After(now); d = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, time.Local) {
						n++
					}
					series = model.Daily(hours, now, n, time.Local)
				}
				if len(series) > 0 {
					out.Since = series[0].Start.UTC()
				}
				out.Buckets = make([]bucketJSON, len(series))
				for i, b := range series {
					out.Buckets[i] = bucketJSON{b.Start, jsonCounts(b.Counts)}
				}
				out.Totals = jsonCounts(model.Sum(series))
				if keyID != "" {
					rh, err := st.RefusedHosts(ctx, keyID)
					if err != nil {
						return err
					}
					out.Refused = rh
					if lu, ok := st.(store.LinkUsage); ok {
						if out.Matched, err = lu.MatchedHosts(ctx, keyID); err != nil {
							return err
						}
					}
				} else {
					ks, err := a.keysUsage(ctx, st, now)
					if err != nil {
						return err
					}
					out.Keys = ks
				}
				if asJSON {
					if out.Refused == nil && keyID != "" {
						out.Refused = []store.RefusedHost{}
					}
					return a.printJSON(out)
				}
				return a.printUsage(out, key)
			})
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().StringVar(&since, "since", "30d", "from this long ago (24h, 7d, 30d) or this date (2026-05-01)")
	c.Flags().StringVar(&by, "by", "", "hour or day (default: hour up to 48h, else day)")
	return c
}

// keysUsage summarises every key used in the last SpikeWindow (the others
// have nothing to show), busiest first.
func (a *app) keysUsage(ctx context.Context, st store.Store, now time.Time) ([]keyUsageJSON, error) {
	keys, err := st.Keys(ctx)
	if err != nil {
		return nil, err
	}
	out := []keyUsageJSON{}
	for _, k := range keys {
		if k.LastUsed.IsZero() || now.Sub(k.LastUsed) > store.SpikeWindow() {
			// 401s still count for a disabled or revoked key whose last
			// use is old; look at those too.
			if k.Status == model.Active {
				continue
			}
		}
		s, err := store.Summarize(ctx, st, k.ID, now)
		if err != nil {
			return nil, err
		}
		if s.Last24h.Total() == 0 && !s.Spike.Spiking {
			continue
		}
		out = append(out, keyUsageJSON{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Status: string(k.Status),
			LastUsed: k.LastUsed, Last24h: jsonCounts(s.Last24h), Spike: s.Spike})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Last24h.Total > out[j].Last24h.Total })
	return out, nil
}

func (a *app) printUsage(u usageJSON, k model.Key) error {
	var f fields
	if u.Key != nil {
		f.add("Key", fmt.Sprintf("%s %s %s (%s)", k.ID, k.Prefix, k.Name, k.Status.Label()))
		f.add("Last used", a.fmtTime(k.LastUsed))
	} else {
		f.add("Key", "all keys")
	}
	f.add("Period", a.fmtTime(u.Since)+" – "+a.fmtTime(u.Until))
	f.add("Allowed", strconv.FormatUint(u.Totals.Allowed, 10))
	f.add("401", strconv.FormatUint(u.Totals.Unauthorized, 10))
	f.add("403", strconv.FormatUint(u.Totals.Forbidden, 10))
	f.add("429", strconv.FormatUint(u.Totals.Limited, 10))
	f.add("Last 24h", strconv.FormatUint(u.Last24h.Total, 10))
	f.add("Spike", spikeText(u.Spike))
	if err := a.printFields(f); err != nil {
		return err
	}
	a.stdout.Write([]byte("\n"))
	layout := "2006-01-02 15:04"
	if u.By == "day" {
		layout = "2006-01-02"
	}
	t := &table{header: []string{"START", "ALLOWED", "401", "403", "429", "TOTAL"}}
	for _, b := range u.Buckets {
		start := b.Start.In(time.Local).Format(layout)
		if !a.outTTY {
			start = b.Start.UTC().Format(time.RFC3339)
		}
		t.add(start, fmt.Sprint(b.Allowed), fmt.Sprint(b.Unauthorized), fmt.Sprint(b.Forbidden), fmt.Sprint(b.Limited), fmt.Sprint(b.Total))
	}
	if !a.outTTY {
		t.header = nil
	}
	if err := a.printTable(t); err != nil {
		return err
	}
	if len(u.Refused) > 0 {
		a.stdout.Write([]byte("\nRefused hosts (403):\n"))
		rt := &table{header: []string{"HOST", "COUNT", "LAST SEEN"}, wide: map[int]int{0: 60}}
		for _, h := range u.Refused {
			host := h.Host
			if h.Other {
				host = "(other hosts)" // past the 100 kept per key and day
			}
			rt.add(host, fmt.Sprint(h.Count), a.fmtTime(h.LastSeen))
		}
		if !a.outTTY {
			rt.header = nil
		}
		if err := a.printTable(rt); err != nil {
			return err
		}
	}
	if len(u.Matched) > 0 {
		a.stdout.Write([]byte("\nAllowed hosts (matched domains):\n"))
		mt := &table{header: []string{"HOST", "7 DAYS", "TOTAL", "LAST SEEN"}, wide: map[int]int{0: 60}}
		for _, h := range u.Matched {
			mt.add(h.Host, fmt.Sprint(h.Last7d), fmt.Sprint(h.Count), a.fmtTime(h.LastSeen))
		}
		if !a.outTTY {
			mt.header = nil
		}
		if err := a.printTable(mt); err != nil {
			return err
		}
	}
	if len(u.Keys) > 0 {
		a.stdout.Write([]byte("\nKeys used in the last 24 hours:\n"))
		kt := &table{header: []string{"ID", "PREFIX", "NAME", "STATUS", "24H", "SPIKE"}, wide: map[int]int{2: 40}}
		for _, k := range u.Keys {
			mark := ""
			if k.Spike.Spiking {
				mark = fmt.Sprintf("SPIKE ×%.0f", k.Spike.Ratio)
			}
			kt.add(k.ID, k.Prefix, k.Name, k.Status, fmt.Sprint(k.Last24h.Total), mark)
		}
		if !a.outTTY {
			kt.header = nil
		}
		return a.printTable(kt)
	}
	return nil
}

func spikeText(s model.Spike) string {
	if s.Spiking {
		return fmt.Sprintf("YES: %d requests in the hour from %s, %.1f× the usual %.0f", s.Value, s.Hour.Local().Format("15:04"), s.Ratio, s.Usual)
	}
	return "no (" + s.Why + ")"
}

// hygieneJSON is what `tmaps hygiene --json` prints.
type hygieneJSON struct {
	Findings []hygieneFinding `json:"findings"`
	// LinksChecked says whether links were checked for staleness (the
	// store counts usage per link).
	LinksChecked bool `json:"links_checked"`
}

type hygieneFinding struct {
	model.Finding
	Command string `json:"command"`
}

// fixCommand is the command that fixes a finding.
func fixCommand(f model.Finding) string {
	switch f.Fix {
	case "link":
		return "tmaps keys link " + f.KeyID + " DOMAIN"
	case "disable":
		return "tmaps keys disable " + f.KeyID
	case "revoke":
		return "tmaps keys revoke " + f.KeyID + " --confirm " + shellQuote(f.Key)
	case "delete_domain":
		return "tmaps domains delete " + f.Domain
	case "unlink":
		return "tmaps keys unlink " + f.KeyID + " " + f.Domain
	case "extend":
		return "tmaps keys set " + f.KeyID + " --expires-in 720h"
	case "raise_limit":
		return "tmaps keys set " + f.KeyID + " --rate N --quota N"
	case "allow_ip":
		return "tmaps keys set " + f.KeyID + " --allow-ip ADDR"
	}
	return ""
}

func (a *app) hygieneCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "hygiene",
		Short: "Report keys and domains to clean up: unrestricted, expired, expiring, limited, unused, unlinked",
		Long: `Report what a regular audit of keys and domains looks for, each finding with
the command that fixes it:

  unrestricted   an active key with no authorized domain that browsers use, or
                 of kind browser (server and mobile keys need no domain)
  expired        an expired key not yet revoked
  expiring       a key expiring within 7 days
  limited        a key refused with 429 (rate limit or quota) in the last 24 hours
  never_used     a key (not revoked) never used, older than a day
  idle           a key (not revoked) not used for 30 days
  orphan_domain  a domain linked to no key, added more than a day ago
  stale_link     a link whose domain matched no request with the key for 30
                 days, made more than a day ago
  server_no_ip   advice: an active server key without an IP allowlist

Revoked keys are kept for the record and never reported. The exit code is 0
whatever is found.`,
		Args: nargs(0, 0),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			return a.withStore(func(ctx context.Context, st store.Store) error {
				rep, err := store.Hygiene(ctx, st, a.now())
				if err != nil {
					return err
				}
				out := hygieneJSON{Findings: []hygieneFinding{}, LinksChecked: rep.LinksChecked}
				for _, f := range rep.Findings {
					out.Findings = append(out.Findings, hygieneFinding{f, fixCommand(f)})
				}
				if asJSON {
					return a.printJSON(out)
				}
				if len(out.Findings) == 0 && a.outTTY {
					_, err := a.stderr.Write([]byte("Nothing to clean up.\n"))
					return err
				}
				t := &table{header: []string{"FINDING", "OBJECT", "DETAIL", "FIX"}, wide: map[int]int{1: 40}}
				for _, f := range out.Findings {
					obj := f.Domain
					if f.KeyID != "" {
						obj = f.KeyID + " " + f.Key
					}
					kind := f.Kind
					if f.Advice && a.outTTY {
						kind += " (advice)"
					}
					t.add(kind, obj, f.Detail, f.Command)
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
