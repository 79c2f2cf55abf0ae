// Package alert tells people when something happens to a key: it finds
// the conditions (a spike, a burst of refused hosts, a key about to expire,
// a key revoked or disabled; leak reports are recorded by the store), keeps
// each alert in the store (store.AlertStore: one per key, condition and
// hour, surviving restarts and shared by a cluster) and POSTs it as signed
// JSON to webhooks, retrying with backoff for up to a day.
//
// It runs beside the gate, never in its path: it reads the store the gate
// flushes to. On a cluster only the node whose Leader function says so
// finds conditions and sends; every node may record alerts.
package alert

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// Defaults of Config.
const (
	DefaultCheckEvery = time.Minute
	DefaultRetryMin   = 10 * time.Second
	DefaultRetryMax   = 30 * time.Minute
	DefaultGiveUp     = 24 * time.Hour
	DefaultRefusedMin = 100
	DefaultKeep       = 30 * 24 * time.Hour
	DefaultTimeout    = 10 * time.Second
	// TopHosts is how many refused hosts a burst alert names.
	TopHosts = 5
)

// Source is the store alerts are found in and kept in.
type Source interface {
	store.Store
	store.AlertStore
}

// Config configures a Service. Zero values take the defaults.
type Config struct {
	// Webhooks are the URLs alerts are POSTed to: https, or http to a
	// loopback address. None: alerts are only recorded (the console and
	// `tmaps alerts` show them).
	Webhooks []string
	// Secret keys the HMAC-SHA256 signature of each webhook (required
	// with Webhooks).
	Secret []byte
	// CheckEvery is the period of the search for conditions.
	CheckEvery time.Duration
	// RetryMin is the pause after a failed attempt, doubled after each
	// failure up to RetryMax.
	RetryMin, RetryMax time.Duration
	// GiveUp ends the attempts to deliver an alert this long after it was
	// found; the delivery is then marked failed (and logged).
	GiveUp time.Duration
	// RefusedMin is how many 403s a key must get in one hour for a burst.
	RefusedMin uint64
	// Spike is the spike rule (model.DefaultSpikeRule when zero).
	Spike model.SpikeRule
	// Keep is how long alerts stay in the history.
	Keep time.Duration
	// Leader reports whether this node finds conditions and sends; nil
	// means always (one node). A cluster hands its election here.
	Leader func() bool
	// Client sends the webhooks; nil means a client with a 10 s timeout
	// that does not follow redirects.
	Client *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives what happens; nil discards.
	Logger *slog.Logger
}

// target is one webhook.
type target struct {
	url  string
	name string // model.Delivery.Target
}

// TargetName names a webhook in the store, the logs and the console
// without the secrets its URL may hold: its host and a digest of the URL.
func TargetName(rawURL string) string {
	host := "?"
	if u, err := url.Parse(rawURL); err == nil && u.Host != "" {
		host = u.Host
	}
	d := sha256.Sum256([]byte(rawURL))
	return host + " " + hex.EncodeToString(d[:4])
}

// CheckWebhook refuses a URL that is not https (or http to a loopback
// address: a receiver on the same host).
func CheckWebhook(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("webhook %q: want an https:// URL", model.Escape(raw))
	}
	if u.User != nil {
		return fmt.Errorf("webhook %s: no user:password in the URL (the body is signed with the secret)", TargetName(raw))
	}
	if u.Scheme == "http" {
		h := u.Hostname()
		ip, err := netip.ParseAddr(h)
		if h != "localhost" && (err != nil || !ip.IsLoopback()) {
			return fmt.Errorf("webhook %s: plain http only to a loopback address; use https", TargetName(raw))
		}
	}
	return nil
}

// Service finds alert conditions and delivers alerts. Start it once.
type Service struct {
	st      Source
	cfg     Config
	log     *slog.Logger
	targets []target

	wake   chan struct{} // a new alert or delivery to look at
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// New checks cfg. It does no I/O.
func New(st Source, cfg Config) (*Service, error) {
	if st == nil {
		return nil, errors.New("alert: no store")
	}
	if len(cfg.Webhooks) > 0 && len(cfg.Secret) == 0 {
		return nil, errors.New("alert: webhooks need a secret to sign with (--alert-secret-file)")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.CheckEvery, DefaultCheckEvery)
	def(&cfg.RetryMin, DefaultRetryMin)
	def(&cfg.RetryMax, DefaultRetryMax)
	def(&cfg.GiveUp, DefaultGiveUp)
	def(&cfg.Keep, DefaultKeep)
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = cfg.RetryMin
	}
	if cfg.RefusedMin == 0 {
		cfg.RefusedMin = DefaultRefusedMin
	}
	if cfg.Spike == (model.SpikeRule{}) {
		cfg.Spike = model.DefaultSpikeRule
	}
	if cfg.Leader == nil {
		cfg.Leader = func() bool { return true }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{
			Timeout:       DefaultTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{st: st, cfg: cfg, log: log, wake: make(chan struct{}, 1)}
	seen := map[string]bool{}
	for _, u := range cfg.Webhooks {
		if err := CheckWebhook(u); err != nil {
			return nil, fmt.Errorf("alert: %w", err)
		}
		if seen[u] {
			continue
		}
		seen[u] = true
		s.targets = append(s.targets, target{url: u, name: TargetName(u)})
	}
	return s, nil
}

// Start follows the store's changes and starts the search and delivery
// loops; it returns at once.
func (s *Service) Start(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	events, err := s.st.Watch(runCtx)
	if err != nil {
		cancel()
		return fmt.Errorf("alert: watch the store: %w", err)
	}
	s.cancel = cancel
	s.done.Go(func() { s.findLoop(runCtx, events) })
	s.done.Go(func() { s.deliverLoop(runCtx) })
	return nil
}

// Stop ends the loops, waiting until ctx ends for an attempt in flight to
// finish and be recorded (at most the 10 s timeout of one attempt).
func (s *Service) Stop(ctx context.Context) error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	done := make(chan struct{})
	go func() { s.done.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Announce is the daemon's stdout line about the webhooks, "" without.
func (s *Service) Announce() string {
	if len(s.targets) == 0 {
		return ""
	}
	names := make([]string, len(s.targets))
	for i, t := range s.targets {
		names[i] = t.name
	}
	return "alerts to " + strings.Join(names, ", ")
}

func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Service) findLoop(ctx context.Context, events <-chan store.Event) {
	tick := time.NewTicker(s.cfg.CheckEvery)
	defer tick.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	s.maintain(ctx)
	s.findAll(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.findAll(ctx)
		case <-prune.C:
			s.maintain(ctx)
		case ev, ok := <-events:
			if !ok {
				return
			}
			switch ev.Kind {
			case store.EventKey:
				if s.cfg.Leader() {
					if k, err := s.st.Key(ctx, ev.ID); err == nil {
						s.findKeyStatus(ctx, k, s.cfg.Now())
					}
				}
			case store.EventAlert:
				s.poke()
			case store.EventResync:
				s.findAll(ctx)
			}
		}
	}
}

// maintain prunes the history and gives up old deliveries, when this
// node leads.
func (s *Service) maintain(ctx context.Context) {
	if !s.cfg.Leader() {
		return
	}
	if n, err := s.st.PruneAlerts(ctx, s.cfg.Now().Add(-s.cfg.Keep)); err != nil {
		s.log.Error("alert history prune failed", "err", err)
	} else if n > 0 {
		s.log.Info("alert history pruned", "alerts", n)
	}
	if err := s.Expire(ctx); err != nil && ctx.Err() == nil {
		s.log.Error("alert delivery expiry failed", "err", err)
	}
}

// Expire marks failed the deliveries still pending of the alerts found
// more than GiveUp ago (Deliver does it only within its window: those of a
// daemon that was down longer are found here). It does not look at Leader.
func (s *Service) Expire(ctx context.Context) error {
	now := s.cfg.Now()
	alerts, err := s.st.Alerts(ctx, store.AlertQuery{Since: now.Add(-s.cfg.Keep)})
	if err != nil {
		return err
	}
	for _, a := range alerts {
		if now.Sub(a.Time) <= s.cfg.GiveUp {
			continue
		}
		for _, t := range s.targets {
			if d, _ := a.Delivery(t.name); !d.Done() {
				if err := s.giveUp(ctx, a, t, d); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// giveUp marks a delivery failed.
func (s *Service) giveUp(ctx context.Context, a model.Alert, t target, d model.Delivery) error {
	d.Failed, d.Next = true, time.Time{}
	s.log.Error("alert not delivered: giving up", "id", a.ID, "kind", string(a.Kind), "webhook", t.name, "attempts", d.Attempts, "last_error", d.LastError)
	return s.st.SetAlertDelivery(ctx, a.ID, d)
}

// findAll searches every key for conditions, when this node leads.
func (s *Service) findAll(ctx context.Context) {
	if !s.cfg.Leader() {
		return
	}
	if err := s.Find(ctx); err != nil && ctx.Err() == nil {
		s.log.Error("alert search failed", "err", err)
	}
}

// Find searches every key once for alert conditions and records the new
// alerts. It does not look at Leader (the loop does).
func (s *Service) Find(ctx context.Context) error {
	keys, err := s.st.Keys(ctx)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	for _, k := range keys {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.findKeyStatus(ctx, k, now)
		if k.Status == model.Revoked || k.LastUsed.IsZero() || now.Sub(k.LastUsed) > 2*time.Hour {
			continue // no traffic in the hours a spike or a burst is judged on
		}
		if err := s.findKeyUsage(ctx, k, now); err != nil {
			return err
		}
	}
	return nil
}

// findKeyStatus records the alerts of a key's status and expiry.
func (s *Service) findKeyStatus(ctx context.Context, k model.Key, now time.Time) {
	if k.Status != model.Revoked && !k.Expires.IsZero() && k.Expires.After(now) && k.Expires.Sub(now) <= model.ExpiringWithin {
		left := k.Expires.Sub(now).Round(time.Hour)
		s.add(ctx, k, now, model.Alert{Kind: model.AlertExpiring, Expires: k.Expires.UTC(),
			Summary: fmt.Sprintf("key %q (%s) expires in %s, on %s", k.Name, k.Prefix, left, k.Expires.UTC().Format(time.RFC3339)),
			Dedup:   model.AlertDedup(model.AlertExpiring, k.ID, k.Expires)})
	}
	if k.StatusChanged.IsZero() || now.Sub(k.StatusChanged) > s.cfg.GiveUp {
		return
	}
	switch k.Status {
	case model.Revoked:
		s.add(ctx, k, now, model.Alert{Kind: model.AlertRevoked,
			Summary: fmt.Sprintf("key %q (%s) was revoked", k.Name, k.Prefix),
			Dedup:   model.AlertDedup(model.AlertRevoked, k.ID, k.StatusChanged)})
	case model.Disabled:
		if k.Leaked.Equal(k.StatusChanged) {
			return // disabled by the leak report: its leak alert says so
		}
		s.add(ctx, k, now, model.Alert{Kind: model.AlertDisabled,
			Summary: fmt.Sprintf("key %q (%s) was disabled", k.Name, k.Prefix),
			Dedup:   model.AlertDedup(model.AlertDisabled, k.ID, k.StatusChanged)})
	}
}

// findKeyUsage records a key's spike and refused burst.
func (s *Service) findKeyUsage(ctx context.Context, k model.Key, now time.Time) error {
	us, err := s.st.Usage(ctx, store.UsageQuery{KeyID: k.ID, Since: now.Add(-time.Duration(s.cfg.Spike.Days+2) * 24 * time.Hour), Until: now.Add(time.Hour)})
	if err != nil {
		return err
	}
	hours := store.Buckets(us)
	if sp := model.CheckSpike(hours, now, s.cfg.Spike); sp.Spiking {
		s.add(ctx, k, now, model.Alert{Kind: model.AlertSpike, Hour: sp.Hour, Count: sp.Value, Usual: sp.Usual,
			Summary: fmt.Sprintf("key %q (%s): %d requests in the hour from %s, usually %.0f", k.Name, k.Prefix, sp.Value, sp.Hour.UTC().Format("15:04 UTC"), sp.Usual),
			Dedup:   model.AlertDedup(model.AlertSpike, k.ID, now)})
	}
	hour := now.UTC().Truncate(time.Hour)
	cur := model.Hourly(hours, now, 1)[0]
	if cur.Forbidden < s.cfg.RefusedMin {
		return nil
	}
	dedup := model.AlertDedup(model.AlertRefused, k.ID, hour)
	a := model.Alert{Kind: model.AlertRefused, Hour: hour, Count: cur.Forbidden, Dedup: dedup}
	hosts, err := s.st.RefusedHosts(ctx, k.ID)
	if err != nil {
		return err
	}
	for _, h := range hosts[:min(len(hosts), TopHosts)] {
		host := h.Host
		if h.Other {
			host = "(other hosts)" // the hosts past the 100 kept per day
		}
		a.TopHosts = append(a.TopHosts, model.HostCount{Host: host, Count: h.Count})
	}
	var names []string
	for _, h := range a.TopHosts {
		names = append(names, h.Host)
	}
	a.Summary = fmt.Sprintf("key %q (%s): %d requests refused (403) since %s, from %s", k.Name, k.Prefix, cur.Forbidden, hour.Format("15:04 UTC"), strings.Join(names, ", "))
	s.add(ctx, k, now, a)
	return nil
}

// add records an alert about k found at now.
func (s *Service) add(ctx context.Context, k model.Key, now time.Time, a model.Alert) {
	a.ID = model.NewAlertID()
	a.Time = now.UTC()
	a.KeyID, a.KeyName, a.KeyPrefix = k.ID, k.Name, k.Prefix
	got, added, err := s.st.AddAlert(ctx, a)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			s.log.Error("cannot record an alert", "kind", string(a.Kind), "key_id", k.ID, "err", err)
		}
	case added:
		s.log.Warn("alert", "id", got.ID, "kind", string(got.Kind), "key_id", got.KeyID, "summary", model.Escape(got.Summary))
		s.poke()
	}
}

func (s *Service) deliverLoop(ctx context.Context) {
	// Retries are due at times of their own: look at least every RetryMin.
	tick := time.NewTicker(min(s.cfg.RetryMin, time.Second))
	defer tick.Stop()
	for {
		if s.cfg.Leader() && len(s.targets) > 0 {
			if err := s.Deliver(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("alert delivery pass failed", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-s.wake:
		}
	}
}

// Deliver makes one pass over the alerts of the retry window: each alert
// not yet delivered to a webhook, and due, is sent; the outcome is kept
// in the store. A webhook that fails is not tried again in the same pass.
// The loop calls it only on the leader; it stops before the next attempt
// once Leader says the role moved.
func (s *Service) Deliver(ctx context.Context) error {
	now := s.cfg.Now()
	// The window reaches an hour past GiveUp, to mark as failed what has
	// just run out (Expire finds the older ones).
	alerts, err := s.st.Alerts(ctx, store.AlertQuery{Since: now.Add(-s.cfg.GiveUp - time.Hour)})
	if err != nil {
		return err
	}
	slices.Reverse(alerts) // oldest first
	down := map[string]bool{}
	for _, a := range alerts {
		for _, t := range s.targets {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			d, _ := a.Delivery(t.name)
			if d.Done() || down[t.name] {
				continue
			}
			if !s.cfg.Leader() { // the role moved during the pass
				return nil
			}
			now := s.cfg.Now()
			if now.Sub(a.Time) > s.cfg.GiveUp {
				if err := s.giveUp(ctx, a, t, d); err != nil {
					return err
				}
				continue
			}
			if d.Next.After(now) {
				continue
			}
			// An attempt under way is finished and recorded even when the
			// service stops meanwhile (Stop waits for it): stopping in
			// between would send the alert again after a restart.
			actx := context.WithoutCancel(ctx)
			err := s.send(actx, t, a)
			d.Attempts++
			if err == nil {
				d.Delivered, d.Next, d.LastError = s.cfg.Now().UTC(), time.Time{}, ""
				s.log.Info("alert delivered", "id", a.ID, "kind", string(a.Kind), "webhook", t.name, "attempts", d.Attempts)
			} else {
				down[t.name] = true
				d.LastError = err.Error()
				d.Next = s.cfg.Now().Add(s.backoff(d.Attempts)).UTC()
				s.log.Warn("alert delivery failed; will retry", "id", a.ID, "webhook", t.name, "attempts", d.Attempts, "next", d.Next, "err", err)
			}
			if err := s.st.SetAlertDelivery(actx, a.ID, d); err != nil {
				return err
			}
		}
	}
	return nil
}

// backoff is the pause after the n-th failed attempt.
func (s *Service) backoff(n int) time.Duration {
	d := s.cfg.RetryMin
	for i := 1; i < n && d < s.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, s.cfg.RetryMax)
}

// send POSTs one alert to one webhook; any 2xx answer is a delivery.
func (s *Service) send(ctx context.Context, t target, a model.Alert) error {
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tmaps-alerts")
	req.Header.Set(IDHeader, a.ID)
	req.Header.Set(KindHeader, string(a.Kind))
	req.Header.Set(SignatureHeader, Sign(s.cfg.Secret, s.cfg.Now(), body))
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may hold a secret
		}
		var oe *net.OpError
		if errors.As(err, &oe) {
			return fmt.Errorf("%s: %v", oe.Op, oe.Err)
		}
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}
