package store

import (
	"fmt"
	"math/bits"
	"strings"
	"time"

	"github.com/tmaps/console/model"
)

// Usage retention (SPEC.md "Usage storage bounds").
const (
	// HourlyRetention is how long hourly buckets are kept.
	HourlyRetention = 35 * 24 * time.Hour
	// DailyRetention is how long daily buckets are kept; usage older than
	// this is pruned, and RecordUsage refuses it.
	DailyRetention = 400 * 24 * time.Hour
	// MaxUsageAhead is how far in the future a usage hour may be (clock
	// skew between a gate and the store).
	MaxUsageAhead = 24 * time.Hour
	// MaxRefusedHostsPerDay is how many distinct refused hosts are kept per
	// key and UTC day; further hosts add to that day's "other hosts" count.
	MaxRefusedHostsPerDay = 100
	// MaxUsageHostLen is the longest host a usage delta may name.
	MaxUsageHostLen = 253
)

// CheckUsage checks deltas before a backend records them, all or nothing:
// hours (and last-used times) within [now − DailyRetention, now +
// MaxUsageAhead], hosts as the gate reports them (UsageHost), and no counter
// that overflows within the batch. It returns nil or an error wrapping
// ErrInvalid that names the delta and the problem. Backends also refuse
// unknown key ids, and sums with what is stored that would pass 2^64−1
// (AddCount), inside their transaction.
func CheckUsage(deltas []UsageDelta, now time.Time) error {
	lo, hi := now.Add(-DailyRetention).Truncate(time.Hour), now.Add(MaxUsageAhead)
	for i, d := range deltas {
		where := fmt.Sprintf("delta %d (key %q)", i, model.Escape(d.KeyID))
		if d.Hour.Before(lo) || d.Hour.After(hi) {
			return fmt.Errorf("%w: %s: hour %s is outside the accepted window %s to %s",
				ErrInvalid, where, d.Hour.UTC().Format(time.RFC3339), lo.Format(time.RFC3339), hi.Truncate(time.Hour).Format(time.RFC3339))
		}
		if !d.LastUsed.IsZero() && (d.LastUsed.Before(lo) || d.LastUsed.After(hi)) {
			return fmt.Errorf("%w: %s: last_used %s is outside the accepted window", ErrInvalid, where, d.LastUsed.UTC().Format(time.RFC3339))
		}
		if d.LastHost != "" {
			if err := UsageHost(d.LastHost); err != nil {
				return fmt.Errorf("%w: %s: last_host: %w", ErrInvalid, where, err)
			}
		}
		for what, hosts := range map[string]map[string]uint64{"refused_hosts": d.RefusedHosts, "matched_hosts": d.MatchedHosts} {
			for h := range hosts {
				if err := UsageHost(h); err != nil {
					return fmt.Errorf("%w: %s: %s: %w", ErrInvalid, where, what, err)
				}
			}
		}
	}
	// Sums within the batch (per key and hour) must not wrap either.
	type kh struct {
		id   string
		hour int64
	}
	sums := map[kh][4]uint64{}
	for i, d := range deltas {
		k := kh{d.KeyID, d.Hour.Unix() / 3600}
		s := sums[k]
		for j, n := range [4]uint64{d.Allowed, d.Unauthorized, d.Forbidden, d.Limited} {
			var err error
			if s[j], err = AddCount(s[j], n); err != nil {
				return fmt.Errorf("%w: delta %d (key %q): %w", ErrInvalid, i, model.Escape(d.KeyID), err)
			}
		}
		sums[k] = s
	}
	return nil
}

// AddCount returns a+b, or an error when the sum would pass 2^64−1 (a
// counter never wraps around).
func AddCount(a, b uint64) (uint64, error) {
	s, carry := bits.Add64(a, b, 0)
	if carry != 0 {
		return a, fmt.Errorf("a count would pass 2^64−1 (%d + %d): refused, nothing was recorded", a, b)
	}
	return s, nil
}

// UsageHost checks a host named in usage: what model.HeaderHost returns,
// at most MaxUsageHostLen characters of ASCII letters, digits, '-', '.',
// '_' and ':' (IPv6). Anything else (a control, bidi or non-ASCII
// character, a space) is refused, naming the character.
func UsageHost(h string) error {
	if h == "" {
		return fmt.Errorf("empty host")
	}
	if len(h) > MaxUsageHostLen {
		return fmt.Errorf("host of %d bytes: at most %d", len(h), MaxUsageHostLen)
	}
	if model.HasSecret(h) {
		// Not echoed: the error would carry the secret.
		return fmt.Errorf("a host holds an API key secret or operator token: gates redact it (model.RedactSecrets) before they send usage")
	}
	for i, r := range h {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("-._:", r):
		default:
			return fmt.Errorf("host %q has %s at byte %d: a host holds only ASCII letters, digits, '-', '.', '_' and ':'",
				model.Escape(h), model.RuneName(r), i)
		}
	}
	return nil
}
