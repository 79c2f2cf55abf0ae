package model

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// IdleAfter is how long without a request makes a key idle, and a link
// stale, in the hygiene report.
const IdleAfter = 30 * 24 * time.Hour

// NeverUsedGrace is how old a key that was never used must be before the
// hygiene report names it (a key made a minute ago is not a finding). Links
// that never matched and domains linked to no key get the same grace.
const NeverUsedGrace = 24 * time.Hour

// ExpiringSoon is how close an expiry must be for the hygiene report to
// name the key.
const ExpiringSoon = 7 * 24 * time.Hour

// Kinds of hygiene findings.
const (
	FindUnrestricted = "unrestricted"  // an Active key with no domain that browsers use (see Hygiene)
	FindExpired      = "expired"       // an expired key not yet revoked
	FindExpiring     = "expiring"      // a key (not revoked) expiring within ExpiringSoon
	FindLimited      = "limited"       // a key (not revoked) refused with 429 in the last 24 hours
	FindNeverUsed    = "never_used"    // a key (not revoked) never used
	FindIdle         = "idle"          // a key (not revoked) idle for IdleAfter
	FindOrphanDomain = "orphan_domain" // a domain linked to no key
	FindStaleLink    = "stale_link"    // a link whose domain matched no request for IdleAfter
	FindServerNoIP   = "server_no_ip"  // advice: an Active server key without an IP allowlist
)

// Finding is one line of the hygiene report. Fix is the action that fixes
// it: "link" (link a domain to the key), "disable", "revoke",
// "delete_domain", "unlink", "extend" (a later expiry), "raise_limit" (a
// higher rate limit or quota) or "allow_ip" (an IP allowlist). Advice marks
// a recommendation rather than a problem.
type Finding struct {
	Kind   string `json:"kind"`
	KeyID  string `json:"key_id,omitempty"`
	Key    string `json:"key,omitempty"` // the key's name
	Domain string `json:"domain,omitempty"`
	Detail string `json:"detail"`
	Fix    string `json:"fix"`
	Advice bool   `json:"advice,omitempty"`
}

// LinkUse is the last time a link's domain matched a request (an Origin or
// Referer of a request allowed with the key).
type LinkUse struct {
	KeyID, Domain string
}

// HygieneInput is what the hygiene report looks at.
type HygieneInput struct {
	Keys    []Key
	Domains []Domain
	Now     time.Time
	// LinksSeen, when not nil, holds the last match of each link; links
	// missing from it never matched. When nil, link staleness is unknown
	// and not reported.
	LinksSeen map[LinkUse]time.Time
	// LinksMade holds when links were made (the audit log's "link"
	// entries); for a link missing from it, the later of its key's and its
	// domain's creation stands in.
	LinksMade map[LinkUse]time.Time
	// BrowserSeen, when not nil, holds the keys that had a request with an
	// Origin or Referer. A key of unset kind without domains is a finding
	// only if it is there; when nil (the store cannot tell), it always is.
	BrowserSeen map[string]bool
	// Limited, when not nil, holds the requests refused with 429 in the
	// last 24 hours per key id (see store.LimitedLastDay); nil is unknown.
	Limited map[string]uint64
}

// Hygiene returns the findings, grouped by kind in the order of the Find*
// constants, then by key name (or domain name). Revoked keys are never
// findings: they are kept for the record. An active key without domains is
// a finding when its kind is browser, or when its kind is unset and
// browsers used it (BrowserSeen); server and mobile keys need no domain,
// and an active server key without an IP allowlist gets advice. An expired
// key is named once, to be revoked, not also as idle or never used.
func Hygiene(in HygieneInput) []Finding {
	out := []Finding{}
	var unrestricted, expired, expiring, limited, never, idle, stale, advice []Finding
	domCreated := make(map[string]time.Time, len(in.Domains))
	for _, d := range in.Domains {
		domCreated[d.Name] = d.Created
	}
	for i := range in.Keys {
		k := &in.Keys[i]
		if k.Status == Revoked {
			continue
		}
		fixIdle := "disable"
		if k.Status == Disabled {
			fixIdle = "revoke"
		}
		if k.Status == Active && k.Unrestricted() {
			switch {
			case k.Kind == KindBrowser:
				unrestricted = append(unrestricted, Finding{Kind: FindUnrestricted, KeyID: k.ID, Key: k.Name,
					Detail: "a browser key with no domain: any site may use it", Fix: "link"})
			case k.Kind == KindUnset && (in.BrowserSeen == nil || in.BrowserSeen[k.ID]):
				detail := "no domain: any site may use it"
				if in.BrowserSeen != nil {
					detail = "no domain, yet browsers use it"
				}
				unrestricted = append(unrestricted, Finding{Kind: FindUnrestricted, KeyID: k.ID, Key: k.Name,
					Detail: detail, Fix: "link"})
			}
		}
		if k.Status == Active && k.Kind == KindServer && len(k.AllowIPs) == 0 {
			advice = append(advice, Finding{Kind: FindServerNoIP, KeyID: k.ID, Key: k.Name, Advice: true,
				Detail: "a server key usable from any address: limit it to your servers' addresses", Fix: "allow_ip"})
		}
		if n := in.Limited[k.ID]; n > 0 {
			limited = append(limited, Finding{Kind: FindLimited, KeyID: k.ID, Key: k.Name,
				Detail: fmt.Sprintf("%s requests refused with 429 in the last 24 hours (rate limit %s, quota %s)",
					thousands(n), FormatRate(k.Rate, k.Burst), FormatQuota(k.Quota)), Fix: "raise_limit"})
		}
		if k.Expired(in.Now) {
			expired = append(expired, Finding{Kind: FindExpired, KeyID: k.ID, Key: k.Name,
				Detail: "expired " + k.Expires.UTC().Format("2006-01-02 15:04") + " UTC and not revoked", Fix: "revoke"})
			continue
		}
		if !k.Expires.IsZero() && k.Expires.Sub(in.Now) <= ExpiringSoon {
			expiring = append(expiring, Finding{Kind: FindExpiring, KeyID: k.ID, Key: k.Name,
				Detail: ExpiryLabel(k.Expires, in.Now) + " (" + k.Expires.UTC().Format("2006-01-02 15:04") + " UTC)", Fix: "extend"})
		}
		switch {
		case k.LastUsed.IsZero() && in.Now.Sub(k.Created) >= NeverUsedGrace:
			never = append(never, Finding{Kind: FindNeverUsed, KeyID: k.ID, Key: k.Name,
				Detail: "never used since it was created " + k.Created.UTC().Format("2006-01-02"), Fix: fixIdle})
		case !k.LastUsed.IsZero() && in.Now.Sub(k.LastUsed) >= IdleAfter:
			idle = append(idle, Finding{Kind: FindIdle, KeyID: k.ID, Key: k.Name,
				Detail: "not used since " + k.LastUsed.UTC().Format("2006-01-02"), Fix: fixIdle})
		}
		if in.LinksSeen != nil {
			for _, d := range k.Domains {
				l := LinkUse{k.ID, d}
				t, ok := in.LinksSeen[l]
				if ok && in.Now.Sub(t) < IdleAfter {
					continue
				}
				made, known := in.LinksMade[l]
				if !known {
					made = k.Created
					if c := domCreated[d]; c.After(made) {
						made = c
					}
				}
				if !ok && in.Now.Sub(made) < NeverUsedGrace {
					continue // a new link: give it time to be used
				}
				detail := "no request matched it"
				if ok {
					detail = "last matched " + t.UTC().Format("2006-01-02")
				}
				stale = append(stale, Finding{Kind: FindStaleLink, KeyID: k.ID, Key: k.Name, Domain: d,
					Detail: detail, Fix: "unlink"})
			}
		}
	}
	var orphans []Finding
	for _, d := range in.Domains {
		if len(d.Keys) == 0 && in.Now.Sub(d.Created) >= NeverUsedGrace {
			orphans = append(orphans, Finding{Kind: FindOrphanDomain, Domain: d.Name,
				Detail: "linked to no key", Fix: "delete_domain"})
		}
	}
	// Within a list no two findings share a key id and domain, so this
	// order is total and any sort gives it. The lists are sorted as
	// indexes (100,000 keys make 60,000 findings: moving the findings
	// themselves took most of the report's time).
	byKey := func(a, b *Finding) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), strings.Compare(a.KeyID, b.KeyID), strings.Compare(a.Domain, b.Domain))
	}
	byDomain := func(a, b *Finding) int { return strings.Compare(a.Domain, b.Domain) }
	n := 0
	lists := [][]Finding{unrestricted, expired, expiring, limited, never, idle, orphans, stale, advice}
	for _, f := range lists {
		n += len(f)
	}
	out = make([]Finding, 0, n)
	var idx []int32
	for _, f := range lists {
		idx = idx[:0]
		for i := range f {
			idx = append(idx, int32(i))
		}
		by := byKey
		if len(f) > 0 && f[0].Kind == FindOrphanDomain {
			by = byDomain
		}
		slices.SortFunc(idx, func(i, j int32) int { return by(&f[i], &f[j]) })
		for _, i := range idx {
			out = append(out, f[i])
		}
	}
	return out
}

// thousands writes n with a comma between groups of three digits.
func thousands(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
