// Package demo fills a store with realistic demo data: keys in every status
// and of every kind, with policies (an IP allowlist, rate limits, a quota,
// an expired key and one expiring soon), Tunisian domains (one
// internationalised), N:N links, an audit history made by a few operators
// over the last 30 days, and 30 days of hourly usage with a spike, refused
// hosts and 429s. Everything is deterministic except the secrets and key
// ids, which the store generates.
package demo

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// Names of the demo data that tests and the UI may rely on.
const (
	// SpikeKey is the key whose last hour is far above its usual level.
	SpikeKey = "Production frontend"
	// LeakyKey is the key whose secret is used by sites it is not linked to.
	LeakyKey = "Souk Digital storefront"
	// UnrestrictedKey is an Active key with no domain, used by a server
	// (no Origin, no Referer): not a hygiene finding.
	UnrestrictedKey = "Server-to-server geocoding"
	// BrowserUnrestrictedKey is an Active key with no domain that browsers
	// use (from the orphan domain promo-ete-2025.tn): a hygiene finding.
	BrowserUnrestrictedKey = "Summer promo landing"
	// OfficeKey is a server key limited to the office's addresses.
	OfficeKey = "Tiles backend (office)"
	// LimitedKey is a rate-limited server key whose last day has 429s.
	LimitedKey = "Open data portal"
	// ExpiredKey is a key whose expiry has passed, not revoked.
	ExpiredKey = "Ramadan campaign 2026"
	// ExpiringKey is a key that expires within a week.
	ExpiringKey = "Mobile app iOS"
	// IDNDomain is the internationalised domain, as typed.
	IDNDomain = "café.tn"
	// Days is how much history the demo has.
	Days = 30
)

// Actors of the demo's audit history.
var actors = []string{"amira.benali", "youssef.trabelsi", "ci-deploy", "sami.gharbi"}

// Domains of the demo, as typed by the operators.
var domains = []string{
	"mysite.tn", "app.mysite.tn", "staging.mysite.tn", "partenaires.mysite.tn",
	"www.souk-digital.tn", "livraison-express.tn", "carthage-tours.com.tn",
	"dashboard.transport-tunis.tn", IDNDomain, "localhost", "127.0.0.1",
	"promo-ete-2025.tn",
}

// Clock is the clock a demo store is opened with: while the demo is being
// filled it shows the (past) time of each change, so created dates and the
// audit history spread over 30 days; after FillTimed it follows the real clock.
// It is safe for concurrent use.
type Clock struct {
	mu    sync.Mutex
	fixed time.Time
	real  func() time.Time
}

// NewClock returns a clock that follows real (time.Now when nil) until
// FillTimed sets it.
func NewClock(real func() time.Time) *Clock {
	if real == nil {
		real = time.Now
	}
	return &Clock{real: real}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.fixed.IsZero() {
		return c.fixed
	}
	return c.real()
}

func (c *Clock) set(t time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.fixed = t
	c.mu.Unlock()
}

// Fill fills an empty store with the demo data; now is the end of the
// usage history. Changes are made at the store's own clock; use FillTimed
// with a Clock to spread them over the last 30 days.
func Fill(ctx context.Context, s store.Store, now time.Time) error {
	return FillTimed(ctx, s, now, nil)
}

// FillTimed is Fill with the clock the store was opened with: each change
// happens at its place in the demo's history, and clock follows the real
// time again when FillTimed returns.
func FillTimed(ctx context.Context, s store.Store, now time.Time, clock *Clock) error {
	defer clock.set(time.Time{})
	f := &filler{ctx: ctx, s: s, now: now, clock: clock, keys: map[string]model.Key{}}
	f.history()
	if f.err != nil {
		return f.err
	}
	// Usage is recorded at the present: the store checks its hours
	// against its clock.
	clock.set(time.Time{})
	return s.RecordUsage(ctx, f.usage())
}

// filler replays the demo's history; the first error stops it.
type filler struct {
	ctx   context.Context
	s     store.Store
	now   time.Time
	clock *Clock
	err   error
	// keys by demo name ("Production frontend (old)" for the rotated one).
	keys map[string]model.Key
	// plans of usage, by demo name.
	plans []plan
}

// at sets the clock to days and hours before now and returns a context
// whose changes are made by actor.
func (f *filler) at(days, hours float64, actor string) context.Context {
	t := f.now.Add(-time.Duration((days*24 + hours) * float64(time.Hour)))
	f.clock.set(t)
	return store.WithActor(f.ctx, actor)
}

func (f *filler) fail(what string, err error) {
	if f.err == nil && err != nil {
		f.err = fmt.Errorf("%s: %w", what, err)
	}
}

func (f *filler) create(ctx context.Context, name string, p model.Policy, domains ...string) {
	if f.err != nil {
		return
	}
	k, _, err := f.s.CreateKey(ctx, name, p)
	f.fail("create key "+name, err)
	if err != nil {
		return
	}
	f.keys[name] = k
	if len(domains) > 0 {
		k, err = f.s.LinkKey(ctx, k.ID, domains...)
		f.fail("link key "+name, err)
		f.keys[name] = k
	}
}

// do runs one change on the key with this demo name.
func (f *filler) do(what, name string, op func(id string) (model.Key, error)) {
	if f.err != nil {
		return
	}
	k, err := op(f.keys[name].ID)
	f.fail(what+" "+name, err)
	if err == nil {
		f.keys[name] = k
	}
}

// history makes the changes, oldest first.
func (f *filler) history() {
	amira, youssef, ci, sami := actors[0], actors[1], actors[2], actors[3]
	for i, d := range domains {
		if f.err != nil {
			return
		}
		_, err := f.s.AddDomain(f.at(Days+5, -float64(i)*0.2, amira), d)
		f.fail("add domain "+d, err)
	}
	s := f.s

	web := func(owner string) model.Policy { return model.Policy{Kind: model.KindBrowser, Owner: owner} }
	mobile := model.Policy{Kind: model.KindMobile, Owner: "Équipe mobile", Rate: 200, Burst: 400}
	ios := mobile
	ios.Expires = f.now.Add(5*24*time.Hour + 3*time.Hour).UTC().Truncate(time.Hour) // rotated with each release
	ios.Note = "rotated with each App Store release"
	f.create(f.at(Days+4, 0, amira), SpikeKey, web("Équipe web"), "mysite.tn", "app.mysite.tn")
	f.keys[SpikeKey+" (old)"] = f.keys[SpikeKey]
	f.create(f.at(Days+4, -1, amira), ExpiringKey, ios)
	f.create(f.at(Days+4, -1.5, amira), "Mobile app Android", mobile)
	f.create(f.at(Days+3, 0, youssef), "Staging backend", model.Policy{Kind: model.KindServer, Owner: "Plateforme",
		AllowIPs: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}}, "staging.mysite.tn", "localhost", "127.0.0.1")
	f.create(f.at(Days+3, -2, youssef), "Local development", web("Plateforme"), "localhost", "127.0.0.1")
	f.create(f.at(Days+2, 0, sami), "Souk storefront", web("Souk Digital (partenaire)"), "www.souk-digital.tn")
	f.create(f.at(Days+2, -3, sami), "Livraison Express tracking", web("Livraison Express (partenaire)"), "livraison-express.tn")
	f.create(f.at(Days+1, 0, amira), "Carthage Tours booking widget", web("Carthage Tours (partenaire)"), "carthage-tours.com.tn", IDNDomain)
	f.create(f.at(Days+1, -4, amira), "Partner portal", web("Équipe web"), "partenaires.mysite.tn", "mysite.tn", "promo-ete-2025.tn")
	f.create(f.at(Days, 0, youssef), "Transport dashboard", web("Transport Tunis (partenaire)"), "dashboard.transport-tunis.tn")
	f.create(f.at(Days, -1, youssef), "QA sandbox", web("Plateforme"), "staging.mysite.tn")
	f.create(f.at(Days, -2, amira), "Legacy website 2019", web("Équipe web"), "mysite.tn")
	f.create(f.at(Days, -3, ci), UnrestrictedKey, model.Policy{})
	f.create(f.at(Days-1, 0, sami), "Hackathon Sfax 2025", model.Policy{})
	f.create(f.at(Days-2, 0, youssef), OfficeKey, model.Policy{Kind: model.KindServer, Owner: "Plateforme",
		AllowIPs: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8:216::/48")},
		Rate:     100, Burst: 200, Note: "the tile server's renderers, in the Tunis office"})
	f.create(f.at(Days-3, 0, amira), LimitedKey, model.Policy{Kind: model.KindServer, Owner: "Open data Tunisie",
		Rate: 0.25, Burst: 5, Quota: 2_000_000, Note: "public portal: shared, so rate-limited"})

	f.do("rename", "Souk storefront", func(id string) (model.Key, error) {
		return s.RenameKey(f.at(26, 3, sami), id, LeakyKey)
	})
	f.keys[LeakyKey] = f.keys["Souk storefront"]
	delete(f.keys, "Souk storefront")
	f.do("revoke", "Legacy website 2019", func(id string) (model.Key, error) {
		return s.RevokeKey(f.at(25, 0, amira), id, "Legacy website 2019")
	})
	f.create(f.at(24, 0, sami), ExpiredKey, model.Policy{Kind: model.KindBrowser, Owner: "Équipe marketing",
		Expires: f.now.Add(-2*24*time.Hour - 5*time.Hour).UTC().Truncate(time.Hour)}, "mysite.tn")
	f.do("revoke", "Hackathon Sfax 2025", func(id string) (model.Key, error) {
		return s.RevokeKey(f.at(22, 5, sami), id, "Hackathon Sfax 2025")
	})
	f.do("unlink", "Partner portal", func(id string) (model.Key, error) {
		return s.UnlinkKey(f.at(20, 0, youssef), id, "promo-ete-2025.tn")
	})
	f.do("link", "Carthage Tours booking widget", func(id string) (model.Key, error) {
		return s.LinkKey(f.at(18, 2, amira), id, "localhost")
	})
	f.do("unlink", "Carthage Tours booking widget", func(id string) (model.Key, error) {
		return s.UnlinkKey(f.at(18, 1, amira), id, "localhost")
	})
	f.do("disable", "Livraison Express tracking", func(id string) (model.Key, error) {
		return s.DisableKey(f.at(15, 6, sami), id)
	})
	f.do("enable", "Livraison Express tracking", func(id string) (model.Key, error) {
		return s.EnableKey(f.at(14, 20, sami), id)
	})
	f.create(f.at(12, 0, youssef), BrowserUnrestrictedKey, model.Policy{Owner: "Équipe marketing"})
	// Rotation, the seed's best practice: create new, deploy, revoke old.
	if f.err == nil {
		nk, _, err := s.RotateKey(f.at(10, 0, ci), f.keys[SpikeKey].ID, 0)
		f.fail("rotate "+SpikeKey, err)
		f.keys[SpikeKey] = nk
	}
	f.do("link", SpikeKey, func(id string) (model.Key, error) {
		return s.LinkKey(f.at(9, 23, amira), id, IDNDomain)
	})
	f.do("revoke", SpikeKey+" (old)", func(id string) (model.Key, error) {
		return s.RevokeKey(f.at(9, 0, amira), id, SpikeKey)
	})
	f.do("disable", "QA sandbox", func(id string) (model.Key, error) {
		return s.DisableKey(f.at(6, 0, youssef), id)
	})
	f.do("raise the rate limit of", LimitedKey, func(id string) (model.Key, error) {
		rate, burst := 0.5, uint32(10)
		return s.UpdateKey(f.at(3, 0, amira), id, model.KeyUpdate{Rate: &rate, Burst: &burst})
	})
	f.do("disable", "Transport dashboard", func(id string) (model.Key, error) {
		return s.DisableKey(f.at(2, 4, amira), id)
	})
	f.do("link", LeakyKey, func(id string) (model.Key, error) {
		return s.LinkKey(f.at(1, 2, sami), id, "localhost")
	})
	f.do("unlink", LeakyKey, func(id string) (model.Key, error) {
		return s.UnlinkKey(f.at(1, 1, sami), id, "localhost")
	})

	f.plans = []plan{
		{name: SpikeKey + " (old)", peak: 900, until: 9, offAfter: true},
		{name: SpikeKey, peak: 950, from: 10, spike: true, forbidden: 0.004, hosts: []string{"mysite.tn.cdn-cache.net", "translate.goog"}},
		{name: "Mobile app iOS", peak: 420},
		{name: "Mobile app Android", peak: 610},
		{name: "Staging backend", peak: 35, forbidden: 0.01, hosts: []string{"staging2.mysite.tn"}},
		{name: "Local development", peak: 12},
		{name: LeakyKey, peak: 180, forbidden: 0.02, leak: true,
			hosts: []string{"souk-digital-clone.com", "www.souk-digital.tn.shop-promo.net", "cartes-gratuites.xyz", "localhost"}},
		{name: "Livraison Express tracking", peak: 260, offFrom: 15.25, offTo: 14.84},
		{name: "Carthage Tours booking widget", peak: 75, forbidden: 0.005, hosts: []string{"booking.carthage-tours.com"}},
		{name: "Partner portal", peak: 40, unused: []string{"mysite.tn"}},
		{name: "Transport dashboard", peak: 55, until: 2.17, offAfter: true},
		{name: "QA sandbox", peak: 8, until: 6, offAfter: true},
		{name: "Legacy website 2019", peak: 30, until: 25, offAfter: true},
		{name: UnrestrictedKey, peak: 1400},
		{name: "Hackathon Sfax 2025", peak: 5, from: Days - 1, until: 22.2},
		{name: BrowserUnrestrictedKey, peak: 6, from: 12, browser: "promo-ete-2025.tn"},
		{name: OfficeKey, peak: 900, from: Days - 2},
		// 0.5 request/s is 1800 an hour: the afternoons of the last two
		// days went over it, and the gate answered 429.
		{name: LimitedKey, peak: 1500, from: Days - 3, limitedFrom: 2, limitedPeak: 4500},
		{name: ExpiredKey, peak: 120, from: 24, until: 2.2, offAfter: true},
	}
}

// plan says how a key is used over the demo's history. Days count back
// from now.
type plan struct {
	name string
	peak float64 // requests in the busiest hour of a weekday
	// from: the key is used only in the last `from` days (0: all along).
	from float64
	// until: the key stops being allowed `until` days ago (disabled or
	// revoked then); with offAfter its clients keep calling and get 401.
	until    float64
	offAfter bool
	// offFrom..offTo: a window (days ago) when the key was disabled: 401.
	offFrom, offTo float64
	// forbidden: share of requests refused with 403, from hosts.
	forbidden float64
	hosts     []string
	// spike: the last two hours are about 12× the usual level.
	spike bool
	// leak: refused requests from hosts grow over the last week.
	leak bool
	// unused: linked domains no request comes from (a stale link).
	unused []string
	// browser: the host browsers call an unrestricted key from.
	browser string
	// limitedFrom: in the last limitedFrom days the demand rose to
	// limitedPeak requests in the busiest hour; what went over the key's
	// rate limit (its Rate per second, over an hour) was refused with 429.
	limitedFrom, limitedPeak float64
}

// usage is 30 days of synthetic hourly counts for every planned key, plus
// requests with unknown keys.
func (f *filler) usage() []store.UsageDelta {
	rng := rand.New(rand.NewPCG(2026, 30))
	end := f.now.UTC().Truncate(time.Hour)
	start := end.Add(-Days * 24 * time.Hour)
	var out []store.UsageDelta
	for _, p := range f.plans {
		k, ok := f.keys[p.name]
		if !ok {
			continue
		}
		for h := start; !h.After(end); h = h.Add(time.Hour) {
			ago := end.Sub(h).Hours() / 24
			if p.from > 0 && ago > p.from {
				continue
			}
			rate := p.peak * shape(h) * (0.85 + 0.3*rng.Float64())
			d := store.UsageDelta{KeyID: k.ID, Hour: h}
			switch {
			case p.until > 0 && ago <= p.until && p.offAfter:
				// Disabled or revoked: the remaining clients get 401, fading.
				d.Unauthorized = uint64(rate * 0.3 * math.Exp(-(p.until-ago)/3))
			case p.until > 0 && ago <= p.until:
				continue
			case p.offFrom > 0 && ago <= p.offFrom && ago >= p.offTo:
				d.Unauthorized = uint64(rate)
			default:
				if p.spike && end.Sub(h) <= time.Hour {
					rate *= 12
				}
				if p.limitedFrom > 0 && ago < p.limitedFrom {
					rate = p.limitedPeak * shape(h) * (0.85 + 0.3*rng.Float64())
					if most := k.Rate * 3600 * 0.97; rate > most {
						d.Limited = uint64(rate - most)
						rate = most
					}
				}
				d.Allowed = uint64(rate)
				share := p.forbidden
				if p.leak && ago < 7 {
					share *= 1 + (7-ago)*3
				}
				if refused := uint64(rate * share * (0.5 + rng.Float64())); refused > 0 && len(p.hosts) > 0 {
					d.Forbidden = refused
					d.RefusedHosts = map[string]uint64{}
					for n := refused; n > 0; {
						// The first hosts are the most frequent.
						host := p.hosts[min(int(rng.ExpFloat64()*0.8), len(p.hosts)-1)]
						c := min(n, 1+uint64(rng.IntN(int(refused/2+1))))
						d.RefusedHosts[host] += c
						n -= c
					}
				}
				if d.Allowed > 0 {
					d.LastUsed = lastMinute(h, f.now, rng)
					// Browsers send 70 % of the allowed requests, from the
					// key's used domains, the first one most; the last host
					// is one of them (none for an unrestricted key).
					if p.browser != "" {
						d.LastHost = p.browser
					}
					if doms := usedDomains(k.Domains, p.unused); len(doms) > 0 {
						d.LastHost = doms[rng.IntN(len(doms))]
						d.MatchedHosts = map[string]uint64{}
						browser := d.Allowed * 7 / 10
						for i, dom := range doms {
							n := browser / 2
							if i == len(doms)-1 {
								n = browser
							} else if i > 0 {
								n = browser / uint64(len(doms)-i+1)
							}
							if n > 0 {
								d.MatchedHosts[dom] += n
							}
							browser -= n
						}
					}
				}
				if rng.IntN(6) == 0 {
					d.Unauthorized = uint64(rng.IntN(3)) // the odd malformed call
				}
			}
			if d.Allowed+d.Unauthorized+d.Forbidden+d.Limited > 0 {
				out = append(out, d)
			}
		}
	}
	// Requests with unknown or malformed keys: scanners and typos.
	for h := start; !h.After(end); h = h.Add(time.Hour) {
		if n := uint64(rng.IntN(8) * rng.IntN(3)); n > 0 {
			out = append(out, store.UsageDelta{Hour: h, Unauthorized: n})
		}
	}
	return out
}

// usedDomains is doms without unused.
func usedDomains(doms, unused []string) []string {
	var out []string
	for _, d := range doms {
		if !slices.Contains(unused, d) {
			out = append(out, d)
		}
	}
	return out
}

// shape is the relative traffic of an hour: a day curve peaking mid-afternoon
// in Tunis (UTC+1), lower at weekends.
func shape(h time.Time) float64 {
	local := h.Add(time.Hour)
	x := float64(local.Hour()) - 14.5
	v := 0.08 + 0.92*math.Exp(-x*x/(2*4.5*4.5))
	switch local.Weekday() {
	case time.Saturday:
		v *= 0.7
	case time.Sunday:
		v *= 0.55
	}
	return v
}

// lastMinute is a plausible last-use time within hour h, not after now.
func lastMinute(h, now time.Time, rng *rand.Rand) time.Time {
	t := h.Add(time.Duration(50+rng.IntN(10)) * time.Minute)
	if t.After(now) {
		t = now.Add(-time.Duration(rng.IntN(50)+1) * time.Second)
		if t.Before(h) {
			t = h
		}
	}
	return t
}
