package model

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"time"
)

// AlertKind is the condition an alert reports.
type AlertKind string

// The alert conditions.
const (
	// AlertSpike: a key's last or current hour is a spike (CheckSpike).
	AlertSpike AlertKind = "spike"
	// AlertRefused: a burst of requests refused with 403 for a key in one
	// hour (its top refused hosts in TopHosts).
	AlertRefused AlertKind = "refused_burst"
	// AlertExpiring: a key expires within ExpiringWithin.
	AlertExpiring AlertKind = "expiring"
	// AlertLeak: a leak report named one of our keys.
	AlertLeak AlertKind = "leak"
	// AlertRevoked and AlertDisabled: a key was revoked or disabled.
	AlertRevoked  AlertKind = "revoked"
	AlertDisabled AlertKind = "disabled"
)

// ExpiringWithin is how long before its expiry a key raises AlertExpiring.
const ExpiringWithin = 7 * 24 * time.Hour

// HostCount is a host and how many requests it made.
type HostCount struct {
	Host  string `json:"host"`
	Count uint64 `json:"count"`
}

// Alert is one alert: what happened to which key, when. Its JSON form
// (without Dedup and Deliveries) is the body of a webhook.
type Alert struct {
	// ID is unique ("al" + 16 hex) and the same in every delivery attempt:
	// receivers deduplicate by it.
	ID   string    `json:"id"`
	Kind AlertKind `json:"kind"`
	// Time is when the condition was found.
	Time time.Time `json:"time"`
	// The key, as it was then.
	KeyID     string `json:"key_id"`
	KeyName   string `json:"key_name"`
	KeyPrefix string `json:"key_prefix"`
	// Summary is one line for people.
	Summary string `json:"summary"`

	// Hour is the hour of a spike or refused burst; Count its total (a
	// spike) or its 403s (a burst); Usual the spike rule's usual level.
	Hour  time.Time `json:"hour,omitzero"`
	Count uint64    `json:"count,omitempty"`
	Usual float64   `json:"usual,omitempty"`
	// TopHosts are the most refused hosts of a burst, most first.
	TopHosts []HostCount `json:"top_hosts,omitempty"`
	// Expires is the expiry of an expiring key.
	Expires time.Time `json:"expires,omitzero"`
	// URL and Source say where a leak was found; Disabled that the key was
	// disabled because of it (--on-leak disable).
	URL      string `json:"url,omitempty"`
	Source   string `json:"source,omitempty"`
	Disabled bool   `json:"disabled,omitempty"`

	// Dedup is the alert's condition and period ("spike:k…:2026-05-01T10");
	// a store keeps one alert per Dedup. Not sent.
	Dedup string `json:"-"`
	// Deliveries is the state of the alert's delivery to each webhook.
	// Not sent.
	Deliveries []Delivery `json:"-"`
}

// Delivery is the state of one alert's delivery to one webhook.
type Delivery struct {
	// Target names the webhook without its secret parts (AlertTarget).
	Target    string    `json:"target"`
	Attempts  int       `json:"attempts"`
	Next      time.Time `json:"next,omitzero"`      // the next attempt, while pending
	Delivered time.Time `json:"delivered,omitzero"` // a 2xx answer
	// Failed is set when the delivery was given up (its retry window ended).
	Failed    bool   `json:"failed,omitempty"`
	LastError string `json:"last_error,omitempty"`
}

// Done reports whether the delivery needs no further attempt.
func (d Delivery) Done() bool { return !d.Delivered.IsZero() || d.Failed }

// Delivery returns the state of the delivery to target, and whether there
// is one yet.
func (a *Alert) Delivery(target string) (Delivery, bool) {
	for _, d := range a.Deliveries {
		if d.Target == target {
			return d, true
		}
	}
	return Delivery{Target: target}, false
}

// SetDelivery records d, replacing the delivery to the same target.
func (a *Alert) SetDelivery(d Delivery) {
	for i := range a.Deliveries {
		if a.Deliveries[i].Target == d.Target {
			a.Deliveries[i] = d
			return
		}
	}
	a.Deliveries = append(a.Deliveries, d)
}

// Clone returns a deep copy of a.
func (a Alert) Clone() Alert {
	a.TopHosts = append([]HostCount(nil), a.TopHosts...)
	a.Deliveries = append([]Delivery(nil), a.Deliveries...)
	return a
}

// NewAlertID returns a fresh alert id: "al" + 16 lowercase hex.
func NewAlertID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return "al" + hex.EncodeToString(b[:])
}

// AlertDedup is the deduplication key of an alert: one per kind, key and
// period. Spikes, bursts, leaks and status changes count by the UTC hour
// of at (one alert per key and condition per hour); an expiring key counts
// once per expiry time (at is the expiry).
func AlertDedup(kind AlertKind, keyID string, at time.Time) string {
	period := at.UTC().Format("2006-01-02T15")
	if kind == AlertExpiring {
		period = strconv.FormatInt(at.Unix(), 10)
	}
	return string(kind) + ":" + keyID + ":" + period
}
