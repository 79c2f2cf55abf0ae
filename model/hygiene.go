package model

import (
	"sort"
	"time"
)

// IdleAfter is how long without a request makes a key idle, and a link
// stale, in the hygiene report.
const IdleAfter = 30 * 24 * time.Hour

// NeverUsedGrace is how old a key that was never used must be before the
// hygiene report names it (a key made a minute ago is not a finding).
const NeverUsedGrace = 24 * time.Hour

// Kinds of hygiene findings.
const (
	FindUnrestricted = "unrestricted"  // an Active key with no domain
	FindNeverUsed    = "never_used"    // a key (not revoked) never used
	FindIdle         = "idle"          // a key (not revoked) idle for IdleAfter
	FindOrphanDomain = "orphan_domain" // a domain linked to no key
	FindStaleLink    = "stale_link"    // a link whose domain matched no request for IdleAfter
)

// Finding is one line of the hygiene report. Fix is the action that fixes
// it: "link" (link a domain to the key), "disable", "revoke",
// "delete_domain" or "unlink".
type Finding struct {
	Kind   string `json:"kind"`
	KeyID  string `json:"key_id,omitempty"`
	Key    string `json:"key,omitempty"` // the key's name
	Domain string `json:"domain,omitempty"`
	Detail string `json:"detail"`
	Fix    string `json:"fix"`
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
}

// Hygiene returns the findings, grouped by kind in the order of the Find*
// constants, then by key name (or domain name). Revoked keys are never
// findings: they are kept for the record.
func Hygiene(in HygieneInput) []Finding {
	out := []Finding{}
	var unrestricted, never, idle, stale []Finding
	for _, k := range in.Keys {
		if k.Status == Revoked {
			continue
		}
		fixIdle := "disable"
		if k.Status == Disabled {
			fixIdle = "revoke"
		}
		if k.Status == Active && k.Unrestricted() {
			unrestricted = append(unrestricted, Finding{Kind: FindUnrestricted, KeyID: k.ID, Key: k.Name,
				Detail: "no domain: any site may use it", Fix: "link"})
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
				t, ok := in.LinksSeen[LinkUse{k.ID, d}]
				if ok && in.Now.Sub(t) < IdleAfter {
					continue
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
		if len(d.Keys) == 0 {
			orphans = append(orphans, Finding{Kind: FindOrphanDomain, Domain: d.Name,
				Detail: "linked to no key", Fix: "delete_domain"})
		}
	}
	byKey := func(f []Finding) {
		sort.SliceStable(f, func(i, j int) bool {
			if f[i].Key != f[j].Key {
				return f[i].Key < f[j].Key
			}
			if f[i].KeyID != f[j].KeyID {
				return f[i].KeyID < f[j].KeyID
			}
			return f[i].Domain < f[j].Domain
		})
	}
	byKey(unrestricted)
	byKey(never)
	byKey(idle)
	byKey(stale)
	sort.SliceStable(orphans, func(i, j int) bool { return orphans[i].Domain < orphans[j].Domain })
	out = append(out, unrestricted...)
	out = append(out, never...)
	out = append(out, idle...)
	out = append(out, orphans...)
	out = append(out, stale...)
	return out
}
