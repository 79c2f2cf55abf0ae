package store

import (
	"context"

	"github.com/tmaps/console/model"
)

// LeakResult is what a leak report did to one of our keys.
type LeakResult struct {
	// Key is the key after the report.
	Key model.Key
	// New is false for a leak already recorded with the same URL (a
	// replayed report), which changed nothing.
	New bool
	// Disabled says the report disabled the key (ReportLeaks with disable).
	Disabled bool
}

// LeakStore records leak reports. The bolt store implements it (etcd
// too); the remote store does not (reports go to the daemon).
type LeakStore interface {
	// ReportLeaks records one leak report in one transaction. Each leak
	// whose digest is one of our keys marks that key: Leaked the first
	// time, LeakURL each time the URL differs (cut to model.MaxLeakURL),
	// with an audit entry model.AuditLeak (After: the URL) under the actor
	// of ctx, an EventKey, and an alert (model.AlertLeak, in the
	// AlertStore, once per key and hour). With disable, an Active key is
	// also disabled (audit "disable"). A leak already recorded with the
	// same URL changes nothing, so a replayed report is harmless. Digests
	// of no key are ignored and leave no trace; the transaction is written
	// all the same, so a report of unknown secrets takes as long as one of
	// ours. The results are in the order of the leaks found to be ours.
	ReportLeaks(ctx context.Context, leaks []model.Leak, disable bool) ([]LeakResult, error)
}
