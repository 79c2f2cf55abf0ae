package store

import (
	"context"
	"time"
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
