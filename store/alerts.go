package store

import (
	"context"
	"errors"
	"time"

	"github.com/tmaps/console/model"
)

// ErrNoAlerts is the answer of a store that keeps no alert history.
var ErrNoAlerts = errors.New("this store keeps no alert history")

// EventAlert is published when an alert is recorded or its delivery
// changes; ID is the alert id.
const EventAlert EventKind = "alert"

// AlertStore keeps alerts: their history, one per condition and period
// (model.Alert.Dedup), and the state of their webhook deliveries, so that
// delivery survives a restart and every node of a cluster sees the same
// queue. The bolt store implements it (etcd too); the remote store does
// not (the daemon sends alerts).
type AlertStore interface {
	AlertReader
	// AddAlert records a, unless an alert with the same Dedup exists: then
	// it returns that one and false. a.ID and a.Dedup are required
	// (ErrInvalid). It writes no audit entry and publishes EventAlert.
	AddAlert(ctx context.Context, a model.Alert) (model.Alert, bool, error)
	// SetAlertDelivery records the state of an alert's delivery to
	// d.Target (replacing the previous one); ErrNotFound for an unknown
	// alert. It publishes EventAlert.
	SetAlertDelivery(ctx context.Context, id string, d model.Delivery) error
	// PruneAlerts deletes the alerts found before t, and returns how many.
	PruneAlerts(ctx context.Context, before time.Time) (int, error)
}

// AlertReader reads the alert history: the daemon's store, and the remote
// store over GET /v1/alerts.
type AlertReader interface {
	// Alerts returns the alerts matching q, newest first.
	Alerts(ctx context.Context, q AlertQuery) ([]model.Alert, error)
}

// AlertQuery filters alerts. Zero fields match everything.
type AlertQuery struct {
	KeyID string
	Since time.Time // alerts found at or after Since
	Limit int       // 0 = no limit
}
