// Package bolt is the on-disk Store: one bbolt file holding keys, domains,
// their links, the audit log, usage counters and operator tokens.
//
// Layout (all buckets are created at open):
//
//	meta         "version" → schema version; "rev" → latest revision (8 bytes)
//	keys         seq (8 bytes, big endian, creation order) → key record
//	key_ids      key id → seq
//	key_digests  SHA-256 digest of the secret → seq (O(1) KeyByDigest)
//	key_domains  seq + domain → "" (a key's links, in creation order of keys)
//	domains      ASCII name → domain record
//	domain_keys  domain + 0x00 + key id → "" (a domain's links)
//	audit        seq (8 bytes) → JSON audit entry
//	audit_objects object + 0x00 + seq → "" (the entries of one key or domain)
//	usage        day (4 bytes) + key id → the day's hourly counters (codec.go)
//	usage_total  day (4 bytes) → the same, summed over every key
//	usage_daily  day (4 bytes) + key id → the day's counters (rolled up after 35 days)
//	usage_total_daily day (4 bytes) → the day's counters summed over every key
//	refused_days key id + 0x00 + day (4 bytes) + host → count (8) + last seen (8);
//	             at most 100 hosts per key and day, host "" sums the others
//	tokens       token name → JSON token record (digest, prefix, created)
//	token_digests digest → token name
//	alerts       found time (8 bytes) + alert id → JSON alert record (alerts.go)
//	alert_ids    alert id → its key in alerts
//	alert_dedup  dedup key → alert id (one alert per condition and period)
//
// Keys() is one pass over keys and key_domains side by side (both ordered by
// seq), so listing 100k keys needs no sort and no index rebuild. Secrets are
// never written: only their digest and display prefix.
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// schemaVersion is written to meta at creation.
const schemaVersion = "1"

var (
	bMeta         = []byte("meta")
	bKeys         = []byte("keys")
	bKeyIDs       = []byte("key_ids")
	bKeyDigests   = []byte("key_digests")
	bKeyDomains   = []byte("key_domains")
	bDomains      = []byte("domains")
	bDomainKeys   = []byte("domain_keys")
	bAudit        = []byte("audit")
	bAuditObjects = []byte("audit_objects")
	bUsage        = []byte("usage")
	bUsageTotal   = []byte("usage_total")
	bRefusedDays  = []byte("refused_days") // refused.go
	// bRefusedV1 held refused hosts without days; opening migrates it.
	bRefusedV1       = []byte("refused")
	bUsageDaily      = []byte("usage_daily")       // day + key id → dayRecord (slot 0 = the day)
	bUsageTotalDaily = []byte("usage_total_daily") // day → dayRecord (slot 0 = the day)
	bTokens          = []byte("tokens")
	bTokenDigests    = []byte("token_digests")
	bMatched         = []byte("matched") // key id, 0, host → matchedRecord (matched.go)
	bAlerts          = []byte("alerts")
	bAlertIDs        = []byte("alert_ids")
	bAlertDedup      = []byte("alert_dedup")

	allBuckets = [][]byte{bMeta, bKeys, bKeyIDs, bKeyDigests, bKeyDomains, bDomains,
		bDomainKeys, bAudit, bAuditObjects, bUsage, bUsageTotal, bRefusedDays, bUsageDaily, bUsageTotalDaily,
		bTokens, bTokenDigests, bMatched, bAlerts, bAlertIDs, bAlertDedup}
)

// Options tune Open.
type Options struct {
	// Timeout is how long Open waits for the file lock held by another
	// process; 0 means 1 second.
	Timeout time.Duration
	// Now is the clock for created, changed and audit times; nil means time.Now.
	Now func() time.Time
	// NoSync skips fsync after each commit. Only for throw-away stores (the
	// demo, benchmarks): a crash can lose or corrupt recent changes.
	NoSync bool
	// Rand is the source of new secrets and key ids; nil means crypto/rand.
	// Only for throw-away stores (the reproducible demo): a known source
	// makes the secrets known. It is used under the write lock.
	Rand io.Reader
}

// Store is the bbolt-backed store.Store and store.TokenStore.
type Store struct {
	db     *bbolt.DB
	path   string
	now    func() time.Time
	rand   io.Reader // nil: crypto/rand
	hub    store.Hub
	closed atomic.Bool

	writeMu sync.Mutex    // held from a write's commit to its publication
	rev     atomic.Uint64 // the latest revision (meta "rev")
}

var (
	_ store.Store      = (*Store)(nil)
	_ store.Revisioner = (*Store)(nil)
	_ store.TokenStore = (*Store)(nil)
)

// Open opens (creating when needed) the store file at path. Missing parent
// directories are created with mode 0700 and the file with mode 0600. When
// another process holds the file, Open gives up after opt.Timeout with an
// error wrapping store.ErrInUse.
func Open(path string, opt Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("open store: empty path")
	}
	if opt.Timeout <= 0 {
		opt.Timeout = time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create the directory of the store: %w", err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: opt.Timeout, FreelistType: bbolt.FreelistMapType, NoSync: opt.NoSync})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, store.InUseError("the store at " + model.Escape(path) + " is in use by another process that does not share it " +
				"(`tmaps serve`: use --api; or another user's console)")
		}
		return nil, fmt.Errorf("open the store at %s: %w", model.Escape(path), err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		_ = os.Chmod(path, 0o600)
	}
	err = db.View(func(tx *bbolt.Tx) error { return checkLayout(tx, false) })
	if errors.Is(err, errNeedsSetup) {
		err = db.Update(func(tx *bbolt.Tx) error { return checkLayout(tx, true) })
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open the store at %s: %w", model.Escape(path), err)
	}
	st := &Store{db: db, path: path, now: opt.Now, rand: opt.Rand}
	_ = db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bMeta).Get(metaRev); len(v) == 8 {
			st.rev.Store(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	return st, nil
}

// metaRev is the meta key of the latest revision (8 bytes, big endian).
var metaRev = []byte("rev")

var errNeedsSetup = errors.New("the store needs buckets created")

// checkLayout checks the schema version and that every bucket exists; with
// create it makes what is missing (a new file, or one from before a bucket
// was added: then the audit object index is filled from the log once).
func checkLayout(tx *bbolt.Tx, create bool) error {
	for _, name := range allBuckets {
		if tx.Bucket(name) != nil {
			continue
		}
		if !create {
			return errNeedsSetup
		}
		if _, err := tx.CreateBucket(name); err != nil {
			return err
		}
		if bytes.Equal(name, bAuditObjects) {
			if err := indexAudit(tx); err != nil {
				return err
			}
		}
	}
	if tx.Bucket(bRefusedV1) != nil {
		if !create {
			return errNeedsSetup
		}
		if err := migrateRefused(tx); err != nil {
			return fmt.Errorf("move refused hosts to per-day records: %w", err)
		}
	}
	meta := tx.Bucket(bMeta)
	v := meta.Get([]byte("version"))
	switch {
	case v == nil && !create:
		return errNeedsSetup
	case v == nil:
		return meta.Put([]byte("version"), []byte(schemaVersion))
	case string(v) != schemaVersion:
		return fmt.Errorf("unsupported store version %q (this tmaps knows version %s)", v, schemaVersion)
	}
	return nil
}

// Path returns the file the store was opened from.
func (s *Store) Path() string { return s.path }

// Close closes the file and every Watch channel. Later calls return
// store.ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return store.ErrClosed
	}
	s.hub.Close()
	return s.db.Close()
}

// Watch delivers change events until ctx ends or the store is closed.
func (s *Store) Watch(ctx context.Context) (<-chan store.Event, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	return s.hub.Subscribe(ctx), nil
}

// Health reads the schema version in a read transaction.
func (s *Store) Health(ctx context.Context) store.Health {
	h := store.Health{Backend: "bolt"}
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bMeta).Get([]byte("version")) == nil {
			return errors.New("no schema version")
		}
		return nil
	})
	switch {
	case err == nil:
		h.OK = true
	case errors.Is(err, store.ErrClosed):
		h.Error = "the store is closed"
	default:
		h.Error = "the store cannot be read"
	}
	return h
}

// Size is the size of the store's file in bytes (free pages included).
func (s *Store) Size(ctx context.Context) (int64, error) {
	var n int64
	err := s.view(ctx, func(tx *bbolt.Tx) error { n = tx.Size(); return nil })
	return n, err
}

// view runs fn in a read transaction.
func (s *Store) view(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	return s.mapErr(s.db.View(fn))
}

// update runs fn in a write transaction and publishes the events it returns
// after a successful commit.
func (s *Store) update(ctx context.Context, fn func(tx *bbolt.Tx) ([]store.Event, error)) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	// Writers are serialised (bbolt does it too) up to the publication, so
	// that events reach subscribers in revision order.
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	var evs []store.Event
	var rev uint64
	err := s.db.Update(func(tx *bbolt.Tx) error {
		var err error
		if evs, err = fn(tx); err != nil || len(evs) == 0 {
			return err
		}
		rev = s.rev.Load() + 1
		return tx.Bucket(bMeta).Put(metaRev, binary.BigEndian.AppendUint64(nil, rev))
	})
	if err != nil {
		return s.mapErr(err)
	}
	if len(evs) > 0 {
		s.rev.Store(rev)
		for i := range evs {
			evs[i].Rev = rev
		}
		evs[len(evs)-1].RevEnd = true
		s.hub.Publish(evs...)
	}
	return nil
}

// Revision implements store.Revisioner: the revision of the latest change
// (every commit that publishes events is one), kept in the file so that it
// keeps growing across restarts.
func (s *Store) Revision(ctx context.Context) (uint64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	return s.rev.Load(), nil
}

func (s *Store) check(ctx context.Context) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return ctx.Err()
}

func (s *Store) mapErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return store.ErrClosed
	}
	return err
}
