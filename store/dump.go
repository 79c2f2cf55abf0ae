package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/tmaps/console/model"
)

// Item is one record of a store's whole data, in a form every backend
// reads and writes: what `tmaps migrate` and the backup of a cluster
// move between backends. Exactly one field is set.
type Item struct {
	Token   *Token
	Domain  *model.Domain // Keys left empty: a key's Domains are its links
	Key     *KeyItem
	Audit   *model.AuditEntry
	Usage   *UsageItem
	Refused *RefusedItem
	Matched *MatchedItem
	Alert   *model.Alert // with its Dedup and Deliveries
}

// KeyItem is a key with its links (Key.Domains), its last use and the
// host of that use.
type KeyItem struct {
	Key      model.Key
	LastHost string
}

// UsageItem is one UTC day of a key's counts (KeyID "" with Total: every
// key summed), summed over the nodes that counted. Hours holds the 24
// hours (allowed, 401, 403, 429); a Daily item (a day rolled up) holds the
// day's counts in Hours[0].
type UsageItem struct {
	KeyID string
	Total bool
	Day   int64 // days since 1970-01-01 UTC
	Daily bool
	Hours [24][4]uint64
}

// RefusedItem is one refused host of a key on a day (Other: the count of
// the hosts past the day's bound), summed over the nodes.
type RefusedItem struct {
	KeyID string
	Day   int64
	Host  string
	Other bool
	Count uint64
	Last  int64 // unix nanoseconds
}

// MatchedItem is the use of one link: the allowed requests of a host for
// a key in total, the last time, and the counts of the recent days (at
// least the last 8) by day number.
type MatchedItem struct {
	KeyID string
	Host  string
	Count uint64
	Last  int64 // unix nanoseconds
	Days  map[int64]uint64
}

// Exporter is a store that passes its whole data to fn, item by item, as
// of one moment: tokens, domains, keys (in creation order), audit
// entries, usage, refused and matched hosts, alerts. An error of fn ends
// the export with it.
type Exporter interface {
	Export(ctx context.Context, fn func(Item) error) error
}

// DumpCounts counts the items of an export by kind.
type DumpCounts struct {
	Tokens, Domains, Keys, Links, Audit, Usage, Refused, Matched, Alerts int
}

// Add counts one item.
func (c *DumpCounts) Add(it Item) {
	switch {
	case it.Token != nil:
		c.Tokens++
	case it.Domain != nil:
		c.Domains++
	case it.Key != nil:
		c.Keys++
		c.Links += len(it.Key.Key.Domains)
	case it.Audit != nil:
		c.Audit++
	case it.Usage != nil:
		c.Usage++
	case it.Refused != nil:
		c.Refused++
	case it.Matched != nil:
		c.Matched++
	case it.Alert != nil:
		c.Alerts++
	}
}

// String says the counts in one line.
func (c DumpCounts) String() string {
	return strings.Join([]string{
		count(c.Keys, "key", "keys"), count(c.Domains, "domain", "domains"), count(c.Links, "link", "links"),
		count(c.Audit, "audit entry", "audit entries"), count(c.Tokens, "token", "tokens"),
		count(c.Usage, "usage day", "usage days"), count(c.Refused, "refused host", "refused hosts"),
		count(c.Matched, "matched host", "matched hosts"), count(c.Alerts, "alert", "alerts"),
	}, ", ")
}

// count is "1 key", "0 keys", "2 keys".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// CountExport counts what an exporter holds.
func CountExport(ctx context.Context, e Exporter) (DumpCounts, error) {
	var c DumpCounts
	err := e.Export(ctx, func(it Item) error { c.Add(it); return nil })
	return c, err
}

// CheckExport reads a whole export without writing anything and refuses
// what a store could not hold: empty or repeated names and ids, a secret
// digest twice, a link to a domain the export lacks, usage or hosts of a
// key it lacks, an audit entry without its sequence number, an alert
// without id or dedup key. It returns the counts of what it read.
func CheckExport(ctx context.Context, export func(fn func(Item) error) error) (DumpCounts, error) {
	var c DumpCounts
	tokens, tokenDigests := map[string]bool{}, map[model.Digest]bool{}
	domains, keys, digests := map[string]bool{}, map[string]bool{}, map[model.Digest]bool{}
	seqs, alerts, dedups := map[uint64]bool{}, map[string]bool{}, map[string]bool{}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	known := func(what, id string) error {
		if id != "" && !keys[id] {
			return bad("%s of the key id %q, which the source does not have", what, model.Escape(id))
		}
		return nil
	}
	err := export(func(it Item) error {
		c.Add(it)
		if err := ctx.Err(); err != nil {
			return err
		}
		switch {
		case it.Token != nil:
			t := it.Token
			if t.Name == "" || tokens[t.Name] || tokenDigests[t.Digest] || !t.Role.Valid() {
				return bad("token %q is unnamed, repeated, or has a bad role", model.Escape(t.Name))
			}
			tokens[t.Name], tokenDigests[t.Digest] = true, true
		case it.Domain != nil:
			if n := it.Domain.Name; n == "" || domains[n] || strings.ContainsAny(n, "/\x00") {
				return bad("domain %q is unnamed, repeated or malformed", model.Escape(n))
			} else {
				domains[n] = true
			}
		case it.Key != nil:
			k := it.Key.Key
			if k.ID == "" || keys[k.ID] || strings.ContainsAny(k.ID, "/\x00") {
				return bad("key id %q is empty, repeated or malformed", model.Escape(k.ID))
			}
			if digests[k.Digest] {
				return bad("key %s has the secret digest of another key", model.Escape(k.ID))
			}
			for _, d := range k.Domains {
				if !domains[d] {
					return bad("key %s is linked to %s, a domain the source does not have", model.Escape(k.ID), model.Escape(d))
				}
			}
			keys[k.ID], digests[k.Digest] = true, true
		case it.Audit != nil:
			if s := it.Audit.Seq; s == 0 || seqs[s] {
				return bad("audit entry %d has no sequence number or a repeated one", s)
			} else {
				seqs[s] = true
			}
		case it.Usage != nil:
			if it.Usage.Day < 0 {
				return bad("usage of a day before 1970")
			}
			if !it.Usage.Total {
				return known("usage", it.Usage.KeyID)
			}
		case it.Refused != nil:
			return known("refused hosts", it.Refused.KeyID)
		case it.Matched != nil:
			return known("matched hosts", it.Matched.KeyID)
		case it.Alert != nil:
			a := it.Alert
			if a.ID == "" || a.Dedup == "" || alerts[a.ID] || dedups[a.Dedup] || strings.ContainsAny(a.ID, "/\x00") {
				return bad("alert %q has no id or dedup key, or repeats one", model.Escape(a.ID))
			}
			alerts[a.ID], dedups[a.Dedup] = true, true
		}
		return nil
	})
	return c, err
}
