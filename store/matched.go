package store

import (
	"context"
	"time"

	"github.com/tmaps/console/model"
)

// MatchedHost is a host whose requests a key allowed because it is one of
// the key's domains (the Origin's or Referer's host at steps 7 and 8):
// the use of one key↔domain link.
type MatchedHost struct {
	Host     string    `json:"host"`
	Count    uint64    `json:"count"`   // since the store began counting
	Last7d   uint64    `json:"last_7d"` // in the last 7 days (UTC days, today included)
	LastSeen time.Time `json:"last_seen"`
}

// LinkUsage is implemented by stores that count, per key, the allowed
// requests of each matched host (UsageDelta.MatchedHosts). The bolt store
// and the remote store do; callers test for it and do without when absent.
type LinkUsage interface {
	// MatchedHosts returns the hosts that allowed requests for a key,
	// most used first.
	MatchedHosts(ctx context.Context, keyID string) ([]MatchedHost, error)
}

// LinksSeen returns, for the hygiene report, the last time each link of
// keys (not revoked, with domains) matched a request: the matched hosts of
// each key, mapped onto its domains with model.MatchHost. ok is false when
// st does not count usage per link (then nothing can be said of links).
func LinksSeen(ctx context.Context, st Store, keys []model.Key) (seen map[model.LinkUse]time.Time, ok bool, err error) {
	lu, ok := st.(LinkUsage)
	if !ok {
		return nil, false, nil
	}
	seen = map[model.LinkUse]time.Time{}
	for _, k := range keys {
		if k.Status == model.Revoked || len(k.Domains) == 0 {
			continue
		}
		hs, err := lu.MatchedHosts(ctx, k.ID)
		if err != nil {
			return nil, true, err
		}
		for _, h := range hs {
			for _, d := range k.Domains {
				if model.MatchHost(h.Host, d) {
					l := model.LinkUse{KeyID: k.ID, Domain: d}
					if h.LastSeen.After(seen[l]) {
						seen[l] = h.LastSeen
					}
				}
			}
		}
	}
	return seen, true, nil
}

// LinkLast7d is how many allowed requests matched domain among hosts (a
// key's MatchedHosts) in the last 7 days.
func LinkLast7d(hosts []MatchedHost, domain string) uint64 {
	var n uint64
	for _, h := range hosts {
		if model.MatchHost(h.Host, domain) {
			n += h.Last7d
		}
	}
	return n
}
