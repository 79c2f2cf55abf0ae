package store

import (
	"context"
	"time"

	"github.com/tmaps/console/model"
)

// HygieneReport is the hygiene report: the answer of GET /v1/hygiene, what
// `tmaps hygiene` prints and what the console's Hygiene view lists.
type HygieneReport struct {
	Findings []model.Finding `json:"findings"`
	// LinksChecked says whether links were checked for staleness (the
	// store counts usage per link: LinkUsage).
	LinksChecked bool `json:"links_checked"`
}

// HygieneReporter is a store that makes the report itself: the remote
// store asks the server, whose store has the usage data.
type HygieneReporter interface {
	Hygiene(ctx context.Context) (HygieneReport, error)
}

// LastHoster is a store that remembers the host (Origin's, else Referer's)
// of the last request of each key that sent one.
type LastHoster interface {
	LastHost(ctx context.Context, id string) (string, error)
}

// Hygiene makes st's hygiene report at now. Every caller (the API, the CLI,
// the console) goes through it or HygieneOf, so they all agree.
func Hygiene(ctx context.Context, st Store, now time.Time) (HygieneReport, error) {
	if r, ok := st.(HygieneReporter); ok {
		return r.Hygiene(ctx)
	}
	keys, err := st.Keys(ctx)
	if err != nil {
		return HygieneReport{}, err
	}
	doms, err := st.Domains(ctx)
	if err != nil {
		return HygieneReport{}, err
	}
	return HygieneOf(ctx, st, keys, doms, now, 0)
}

// HygieneOf makes the report of keys and domains read from st (a
// HygieneReporter answers for itself). When more than limit keys (limit >
// 0) would need a usage look-up, links, browser use and 429s are not
// checked.
func HygieneOf(ctx context.Context, st Store, keys []model.Key, doms []model.Domain, now time.Time, limit int) (HygieneReport, error) {
	if r, ok := st.(HygieneReporter); ok {
		return r.Hygiene(ctx)
	}
	in := model.HygieneInput{Keys: keys, Domains: doms, Now: now}
	n := 0
	for _, k := range keys {
		if k.Status != model.Revoked && (len(k.Domains) > 0 || !k.LastUsed.IsZero()) {
			n++
		}
	}
	if limit > 0 && n > limit {
		return HygieneReport{Findings: model.Hygiene(in)}, nil
	}
	seen, checked, err := LinksSeen(ctx, st, keys)
	if err != nil {
		return HygieneReport{}, err
	}
	in.LinksSeen = seen
	if checked {
		if in.LinksMade, err = linksMade(ctx, st, keys, doms, seen, now); err != nil {
			return HygieneReport{}, err
		}
	}
	if in.BrowserSeen, err = browserSeen(ctx, st, keys); err != nil {
		return HygieneReport{}, err
	}
	if in.Limited, err = LimitedLastDay(ctx, st, keys, now); err != nil {
		return HygieneReport{}, err
	}
	return HygieneReport{Findings: model.Hygiene(in), LinksChecked: checked}, nil
}

// linksMade reads, from each key's audit entries, when its links that
// never matched lately were made; only links whose key and domain are both
// older than the grace need it (a newer one dates the link already).
func linksMade(ctx context.Context, st Store, keys []model.Key, doms []model.Domain, seen map[model.LinkUse]time.Time, now time.Time) (map[model.LinkUse]time.Time, error) {
	created := make(map[string]time.Time, len(doms))
	for _, d := range doms {
		created[d.Name] = d.Created
	}
	made := map[model.LinkUse]time.Time{}
	for _, k := range keys {
		if k.Status == model.Revoked || now.Sub(k.Created) < model.NeverUsedGrace {
			continue
		}
		need := false
		for _, d := range k.Domains {
			t, ok := seen[model.LinkUse{KeyID: k.ID, Domain: d}]
			if (!ok || now.Sub(t) >= model.IdleAfter) && now.Sub(created[d]) >= model.NeverUsedGrace {
				need = true
			}
		}
		if !need {
			continue
		}
		es, err := st.Audit(ctx, AuditQuery{Object: "key:" + k.ID})
		if err != nil {
			return nil, err
		}
		for _, e := range es { // newest first: the latest link of each domain
			if e.Action != model.AuditLink {
				continue
			}
			l := model.LinkUse{KeyID: k.ID, Domain: e.After}
			if _, ok := made[l]; !ok {
				made[l] = e.Time
			}
		}
	}
	return made, nil
}

// browserSeen returns the active keys without domains, of unset kind,
// that had a request with an Origin or Referer (their last such host is
// kept); nil when st does not keep hosts (LastHoster).
func browserSeen(ctx context.Context, st Store, keys []model.Key) (map[string]bool, error) {
	lh, ok := st.(LastHoster)
	if !ok {
		return nil, nil
	}
	out := map[string]bool{}
	for _, k := range keys {
		if k.Status != model.Active || len(k.Domains) > 0 || k.Kind != model.KindUnset || k.LastUsed.IsZero() {
			continue
		}
		h, err := lh.LastHost(ctx, k.ID)
		if err != nil {
			return nil, err
		}
		if h != "" {
			out[k.ID] = true
		}
	}
	return out, nil
}
