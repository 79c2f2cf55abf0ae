package ui

import (
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/ui/text"
)

// alertsChangedMsg tells that an alert was recorded or delivered.
type alertsChangedMsg struct{}

// alertsLoadedMsg carries alerts a page asked for.
type alertsLoadedMsg struct {
	gen    int
	alerts []model.Alert
	err    error
}

// loadAlerts reads the alert history matching q, in a command; a store
// that keeps none answers store.ErrNoAlerts.
func (c *common) loadAlerts(q store.AlertQuery, gen int) tea.Cmd {
	st, ctx := c.cfg.Store, c.ctx
	return func() tea.Msg {
		ar, ok := st.(store.AlertReader)
		if !ok {
			return alertsLoadedMsg{gen: gen, err: store.ErrNoAlerts}
		}
		as, err := ar.Alerts(ctx, q)
		return alertsLoadedMsg{gen: gen, alerts: as, err: err}
	}
}

// alertKindLabel names an alert's condition.
func alertKindLabel(k model.AlertKind) string {
	switch k {
	case model.AlertSpike:
		return "Spike"
	case model.AlertRefused:
		return "Refused burst"
	case model.AlertExpiring:
		return "Expiring"
	case model.AlertLeak:
		return "LEAKED"
	case model.AlertRevoked:
		return "Revoked"
	case model.AlertDisabled:
		return "Disabled"
	}
	return text.Safe(string(k))
}

// deliveryLabel says where an alert's webhook deliveries stand.
func deliveryLabel(a model.Alert) string {
	if len(a.Deliveries) == 0 {
		return "recorded"
	}
	var sent, pending, failed int
	for _, d := range a.Deliveries {
		switch {
		case !d.Delivered.IsZero():
			sent++
		case d.Failed:
			failed++
		default:
			pending++
		}
	}
	var parts []string
	if sent > 0 {
		parts = append(parts, "sent")
	}
	if pending > 0 {
		parts = append(parts, "retrying")
	}
	if failed > 0 {
		parts = append(parts, "failed")
	}
	return strings.Join(parts, ", ")
}
