// Package store defines the Store interface every backend implements (bolt
// on disk, remote over the HTTP API), its sentinel errors, change events, and
// helpers shared by the backends and their callers.
package store

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/tmaps/console/model"
)

// Sentinel errors. Backends wrap them with details; test with errors.Is.
var (
	ErrNotFound       = errors.New("not found")
	ErrKeyNotFound    = &wrapped{"no such key", ErrNotFound}
	ErrDomainNotFound = &wrapped{"no such domain", ErrNotFound}
	ErrDomainExists   = errors.New("the domain already exists")
	ErrInvalid        = errors.New("invalid input")
	ErrClosed         = errors.New("the store is closed")
	ErrInUse          = errors.New("the store is in use by another process")
	ErrUnavailable    = errors.New("the store is unavailable")
)

// InUseError is ErrInUse with msg as its whole message (which should say
// which store and what to do).
func InUseError(msg string) error { return &wrapped{msg, ErrInUse} }

// wrapped is an error that is also another sentinel.
type wrapped struct {
	msg string
	is  error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.is }

// Store is the data the console manages. Every method is safe for concurrent
// use. Methods that change data take the audit actor from the context
// (WithActor), append one audit entry per change, commit everything a change
// touches atomically, and publish change events to Watch subscribers after
// the commit. Returned values are copies the caller owns.
//
// Status rules come from model: DisableKey, EnableKey and RevokeKey return
// model.ErrKeyRevoked, model.ErrAlreadyActive or model.ErrAlreadyDisabled
// when refused; RevokeKey returns model.ErrConfirmMismatch unless confirm
// equals the key's name exactly. RenameKey, UpdateKey, RotateKey and LinkKey
// refuse a revoked key with model.ErrKeyRevoked. Bad names, policies or
// domains return the model's validation error (a *model.FieldError for
// policies, a *model.DomainError for domains), wrapped so errors.Is(err,
// ErrInvalid) holds.
type Store interface {
	KeyStore
	DomainStore
	AuditReader
	UsageStore
	Watcher
	// Close releases the store. Later calls return ErrClosed.
	Close() error
}

// KeyReader reads keys.
type KeyReader interface {
	// Key returns a key by id, or ErrKeyNotFound.
	Key(ctx context.Context, id string) (model.Key, error)
	// KeyByDigest returns the key whose secret has this digest, or ErrKeyNotFound.
	KeyByDigest(ctx context.Context, d model.Digest) (model.Key, error)
	// Keys returns every key, oldest first.
	Keys(ctx context.Context) ([]model.Key, error)
}

// KeyStore reads and changes keys.
type KeyStore interface {
	KeyReader
	// CreateKey creates an Active key with the policy p (normalised with
	// model.NormalizePolicy; the zero Policy is none) and returns it with its
	// secret; the secret is not kept anywhere. Audit: "create", then one
	// entry per policy field set (model.PolicyChanges from no policy).
	CreateKey(ctx context.Context, name string, p model.Policy) (model.Key, string, error)
	RenameKey(ctx context.Context, id, name string) (model.Key, error)
	// UpdateKey changes a key's name and policy fields (model.KeyUpdate.Apply),
	// all or nothing. Audit: "rename" for the name, one entry per policy
	// field that changed (model.PolicyChanges); a change to the same values
	// writes nothing and publishes no event.
	UpdateKey(ctx context.Context, id string, u model.KeyUpdate) (model.Key, error)
	DisableKey(ctx context.Context, id string) (model.Key, error)
	EnableKey(ctx context.Context, id string) (model.Key, error)
	RevokeKey(ctx context.Context, id, confirm string) (model.Key, error)
	// RotateKey creates a new Active key with the old one's name, domains
	// and policy (its expiry excepted), records Replaces/ReplacedBy on both,
	// and returns the new key and its secret. The old key keeps its status.
	// With expireOldIn > 0 the old key expires that long after the rotation
	// (its grace period), unless it already expires sooner; it gets a
	// "policy.expires" audit entry. expireOldIn < 0 is ErrInvalid.
	RotateKey(ctx context.Context, id string, expireOldIn time.Duration) (model.Key, string, error)
	// LinkKey links domains to a key, all or nothing. Already-linked
	// domains are left as they are (no audit entry). ErrDomainNotFound
	// names the first missing domain.
	LinkKey(ctx context.Context, id string, domains ...string) (model.Key, error)
	// UnlinkKey unlinks domains from a key, all or nothing; a domain that is
	// not linked is ignored, an unknown one is ErrDomainNotFound.
	UnlinkKey(ctx context.Context, id string, domains ...string) (model.Key, error)
}

// DomainStore reads and changes authorized domains.
type DomainStore interface {
	// AddDomain normalises and adds a domain; ErrDomainExists (with the
	// existing domain returned) when it is already there.
	AddDomain(ctx context.Context, name string) (model.Domain, error)
	// Domain returns a domain by name (any accepted spelling), or ErrDomainNotFound.
	Domain(ctx context.Context, name string) (model.Domain, error)
	// Domains returns every domain, sorted by ASCII name.
	Domains(ctx context.Context) ([]model.Domain, error)
	// DeleteDomain removes a domain and unlinks it from every key in one step.
	// It returns the domain as it was (with the keys it was linked to).
	DeleteDomain(ctx context.Context, name string) (model.Domain, error)
}

// AuditReader reads the audit log.
type AuditReader interface {
	// Audit returns audit entries matching q, newest first: Seq strictly
	// decreases along the result. Page through the log by passing the Seq
	// of a page's last entry as the next query's Before.
	Audit(ctx context.Context, q AuditQuery) ([]model.AuditEntry, error)
}

// UsageRecorder takes the gate's counts.
type UsageRecorder interface {
	// RecordUsage adds usage counts in one transaction. It writes no audit
	// entry and publishes one EventUsage.
	RecordUsage(ctx context.Context, deltas []UsageDelta) error
}

// UsageReader reads usage buckets.
type UsageReader interface {
	// Usage returns hourly buckets matching q, oldest first.
	Usage(ctx context.Context, q UsageQuery) ([]UsageBucket, error)
}

// UsageStore records and reads usage.
type UsageStore interface {
	UsageRecorder
	UsageReader
	// RefusedHosts returns the hosts refused with 403 for a key over the
	// days kept, most refused first (RefusedBefore). Per key and UTC day at
	// most MaxRefusedHostsPerDay hosts are kept; the refusals of further
	// hosts are summed in one entry with Other set (Host ""), so a flood of
	// made-up Origins cannot grow the store.
	RefusedHosts(ctx context.Context, keyID string) ([]RefusedHost, error)
}

// UsageMaintainer is a store that keeps its usage within the bounds of
// SPEC.md "Usage storage bounds". The daemon calls MaintainUsage at start
// and every hour (in a cluster, one elected node may do it for all).
type UsageMaintainer interface {
	// MaintainUsage, as of now, rolls the hourly buckets of the UTC days
	// that ended more than HourlyRetention ago into daily buckets, and
	// deletes the daily buckets and refused hosts of the days that ended
	// more than DailyRetention ago. Running it again changes nothing; it
	// publishes one EventUsage when it changed something.
	MaintainUsage(ctx context.Context, now time.Time) (UsageMaintenance, error)
}

// UsageMaintenance says what one MaintainUsage did.
type UsageMaintenance struct {
	RolledUpDays  int `json:"rolled_up_days"` // day records rolled into daily buckets
	PrunedRecords int `json:"pruned_records"` // records deleted
}

// Watcher delivers change events.
//
// A change publishes, after its commit, one EventKey for every key whose
// own fields or links it changed (a link, an unlink and a domain delete
// included), and one EventDomain for every domain it changed. Every
// subscriber receives the events in commit order.
type Watcher interface {
	// Watch delivers change events until ctx ends, then closes the channel.
	// Events are hints to reload; a subscriber never blocks the store.
	Watch(ctx context.Context) (<-chan Event, error)
}

// Revisioner is a store whose changes are numbered, so that a reader can
// tell whether it has seen a given change (read your writes: gate.Sync).
// The contract, which an etcd backend meets with etcd's revisions:
//   - every committed change has a revision, greater than every revision
//     committed before it;
//   - every event of a change carries that revision (Event.Rev), and the
//     last event of the change says so (Event.RevEnd); a subscriber gets
//     the events in revision order;
//   - Revision returns a revision at least as new as every change
//     committed before the call;
//   - EventResync carries no revision: a subscriber that gets one reads
//     Revision, then reloads everything, and has then seen that revision.
type Revisioner interface {
	// Revision returns the revision of the latest committed change, 0 when
	// there was none.
	Revision(ctx context.Context) (uint64, error)
}

// Health is a store's answer to a readiness check (/readyz). A cluster
// backend may add its own fields (revision, staleness).
type Health struct {
	OK      bool   `json:"ok"`
	Backend string `json:"backend"`
	// Error says why the store is not OK, without paths or secrets: it
	// is served without authentication.
	Error string `json:"error,omitempty"`
}

// HealthChecker is a store that checks it can be read. Stores without it
// are checked with a key lookup.
type HealthChecker interface {
	Health(ctx context.Context) Health
}

// Backuper is a store that writes a consistent copy of all its data, as
// of one moment, while it stays in use (`tmaps backup`, GET /v1/backup).
// The bolt store writes its file; another backend writes its own
// consistent export, which its restore then reads.
type Backuper interface {
	Backup(ctx context.Context, w io.Writer) (int64, error)
}

// Sizer is a store that knows how many bytes it takes (its file).
type Sizer interface {
	Size(ctx context.Context) (int64, error)
}

// GateSource is what the gate reads and writes: keys, their changes, the
// usage it counts, and the usage it reads back for monthly quotas.
type GateSource interface {
	KeyReader
	UsageRecorder
	UsageReader
	Watcher
}

// AuditQuery filters the audit log. Zero fields match everything.
type AuditQuery struct {
	Object string // exact object, e.g. "key:k0123456789ab" or "domain:mysite.tn"
	Actor  string // an actor (see MatchActor)
	Since  time.Time
	// Before keeps the entries older than the one with this Seq (a cursor:
	// the Seq of the last entry of the previous page); 0 starts at the
	// newest.
	Before uint64
	// Text keeps the entries whose actor, action, object, before or after
	// holds it, ignoring case.
	Text  string
	Limit int // 0 = no limit
}

// Match reports whether e passes every filter of q (Limit aside). Backends
// may read fewer entries (an index, a cursor), but keep exactly these.
func (q *AuditQuery) Match(e *model.AuditEntry) bool {
	switch {
	case q.Object != "" && e.Object != q.Object,
		!q.MatchActor(e.Actor),
		!q.Since.IsZero() && e.Time.Before(q.Since),
		q.Before != 0 && e.Seq >= q.Before:
		return false
	}
	if q.Text == "" {
		return true
	}
	t := strings.ToLower(q.Text)
	for _, f := range []string{e.Actor, e.Action, e.Object, e.Before, e.After} {
		if strings.Contains(strings.ToLower(f), t) {
			return true
		}
	}
	return false
}

// MatchActor reports whether an entry's actor matches q.Actor: the whole
// actor, or for an SSH actor ("ssh:USER SHA256:FINGERPRINT") its user part
// or its fingerprint alone. An empty q.Actor matches every actor.
func (q *AuditQuery) MatchActor(actor string) bool {
	if q.Actor == "" || actor == q.Actor {
		return true
	}
	if !strings.HasPrefix(actor, "ssh:") {
		return false
	}
	user, fp, ok := strings.Cut(actor, " ")
	return ok && (q.Actor == user || q.Actor == fp)
}

// UsageDelta is what the gate counted for one key in one hourly bucket.
// KeyID is "" for requests that named no known key.
type UsageDelta struct {
	KeyID        string            `json:"key_id"`
	Hour         time.Time         `json:"hour"` // truncated to the hour, UTC
	Allowed      uint64            `json:"allowed"`
	Unauthorized uint64            `json:"unauthorized"` // 401
	Forbidden    uint64            `json:"forbidden"`    // 403
	Limited      uint64            `json:"limited"`      // 429 (rate limit or quota)
	RefusedHosts map[string]uint64 `json:"refused_hosts,omitempty"`
	// MatchedHosts counts the allowed requests per matched host (steps 7
	// and 8), for stores that implement LinkUsage.
	MatchedHosts map[string]uint64 `json:"matched_hosts,omitempty"`
	// OtherHosts counts refused requests whose host the gate did not keep
	// (past its bound between flushes); they join the day's other hosts.
	OtherHosts uint64    `json:"other_hosts,omitempty"`
	LastUsed   time.Time `json:"last_used,omitzero"`
	LastHost   string    `json:"last_host,omitempty"`
}

// UsageQuery selects usage buckets. KeyID "" means every key summed.
type UsageQuery struct {
	KeyID string
	Since time.Time
	Until time.Time // zero = now
}

// UsageBucket is one hour of counts; or, with Daily, one UTC day's (Hour is
// the day's start), for days older than HourlyRetention.
type UsageBucket struct {
	Hour         time.Time `json:"hour"`
	Daily        bool      `json:"daily,omitempty"`
	Allowed      uint64    `json:"allowed"`
	Unauthorized uint64    `json:"unauthorized"`
	Forbidden    uint64    `json:"forbidden"`
	Limited      uint64    `json:"limited"` // 429
}

// RefusedHost is a host that was refused for a key; with Other, the sum of
// the hosts not kept (Host is then "").
type RefusedHost struct {
	Host     string    `json:"host"`
	Other    bool      `json:"other,omitempty"`
	Count    uint64    `json:"count"`
	LastSeen time.Time `json:"last_seen"`
}

// RefusedBefore is the order of RefusedHosts: named hosts most refused
// first, then by name; the other-hosts entry last.
func RefusedBefore(a, b RefusedHost) bool {
	if a.Other != b.Other {
		return b.Other
	}
	if a.Count != b.Count {
		return a.Count > b.Count
	}
	return a.Host < b.Host
}

// EventKind says what changed.
type EventKind string

// Event kinds.
const (
	EventKey    EventKind = "key"    // ID is the key id
	EventDomain EventKind = "domain" // ID is the domain name
	EventUsage  EventKind = "usage"
	EventToken  EventKind = "token" // ID is the operator token's name (revoked)
	// EventResync means events were lost (a slow subscriber, a reconnect):
	// reload everything.
	EventResync EventKind = "resync"
	// EventOffline means the store cannot be reached for now (a remote
	// store's event stream broke and did not reconnect at once): what the
	// subscriber holds may be stale. An EventResync follows once it is
	// reached again.
	EventOffline EventKind = "offline"
)

// Event is a change notification.
type Event struct {
	Kind   EventKind `json:"kind"`
	ID     string    `json:"id,omitempty"`
	Action string    `json:"action,omitempty"`
	// Rev is the revision of the change, from a Revisioner; 0 otherwise.
	Rev uint64 `json:"rev,omitempty"`
	// RevEnd marks the last event of the change with revision Rev.
	RevEnd bool `json:"rev_end,omitempty"`
}

type actorKey struct{}

// WithActor returns a context whose changes are audited as actor.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// Actor returns the audit actor of ctx, or "unknown".
func Actor(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return "unknown"
}
