// Package etcd is the Store kept in an etcd v3 cluster, so that any number
// of stateless `tmaps serve` nodes share one truth (SPEC.md, "Many nodes on
// one store"). Every change is one etcd transaction whose compares enforce
// the rules two nodes could race on; usage counts are written per node as
// absolute values, so a retried flush never counts twice.
//
// Layout, under a prefix P (default "/tmaps/"):
//
//	P/meta/version            schema version
//	P/meta/seq                the last audit sequence number; every audited
//	                          change compares its revision and bumps it, so
//	                          changes are serialisable and the log has no gap
//	P/k/<id>                  key record (name, prefix, digest, status, times,
//	                          rotation, sorted domains): the gate's whole input
//	P/kh/<digest hex>         key id (one key per secret digest)
//	P/d/<name>                domain record (Unicode form, created)
//	P/dk/<name>/<id>          "" : a link, the domain's side (the key's side
//	                          is the key record's domain list; both change in
//	                          one transaction)
//	P/a/<^seq hex>            audit record: the entries of one change; ^seq
//	                          (all bits flipped) makes ascending order newest
//	                          first, so a page is one limited range read
//	P/ao/<object>\x00<^seq hex>  audit record key: the changes of one object
//	P/t/<name>                operator token record (prefix, digest, created)
//	P/th/<digest hex>         token name
//	P/u/h/<day>/<id>/<node>   usage of one key, day and node: 24 hours × 3 counts
//	P/u/t/<day>/<node>        usage of every key (and unknown ones) summed, per node
//	P/u/r/<id>/<day>/<node>   refused hosts of one key, day and node
//	P/u/m/<id>/<day>/<node>   matched hosts (link use) of one key, day and node
//	P/u/l/<id>/<node>         last use (time and host) of a key seen by a node
//	P/u/d/, P/u/dt/, P/u/m/<id>/all  rolled-up usage (maintain.go)
//	P/al/, P/ali/, P/ald/     alerts (alerts.go)
//	P/elect/<role>/           etcd's election of the node that maintains (elect.go)
//
// <day> is the UTC day number since the Unix epoch in 6 decimal digits;
// <node> is the writer's node id. Keys() orders keys by the revision that
// created their record (then by creation time and id): creation order.
package etcd

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// schemaVersion is written to P/meta/version by the first Open.
const schemaVersion = "1"

// DefaultPrefix is where a store lives in the cluster when Options.Prefix is empty.
const DefaultPrefix = "/tmaps/"

// Limits of one etcd request that the store keeps under (etcd's defaults:
// --max-txn-ops 128, --max-request-bytes 1.5 MiB).
const (
	maxTxnOps      = 120
	maxTxnBytes    = 1 << 20
	maxLinkBatch   = 100 // domains linked or unlinked in one call
	deleteBatch    = 35  // keys unlinked from a domain per transaction (3 writes each)
	readPage       = 5000
	defaultTimeout = 5 * time.Second
)

// Options configure Open.
type Options struct {
	// Endpoints are the client URLs of the etcd members.
	Endpoints []string
	// TLS is the client TLS configuration; nil means plain connections.
	TLS *tls.Config
	// Prefix is the key prefix of this store in the cluster; "" means DefaultPrefix.
	Prefix string
	// DialTimeout bounds the first contact at Open; 0 means 5 seconds.
	DialTimeout time.Duration
	// RequestTimeout bounds every etcd request; 0 means 5 seconds. A
	// request that times out (no quorum) is store.ErrUnavailable.
	RequestTimeout time.Duration
	// Now is the clock of created, changed and audit times; nil means time.Now.
	Now func() time.Time
	// Node names this process in usage records; "" means a random id. Two
	// live processes must never share one.
	Node string
	// Logger receives the store's logs; nil discards them.
	Logger *slog.Logger
	// Lazy skips the first contact at Open: the store is returned at once
	// and its requests fail with store.ErrUnavailable until the cluster
	// answers (a daemon that must start while etcd is down).
	Lazy bool
}

// Store is the etcd-backed store.Store, store.TokenStore and store.LinkUsage.
type Store struct {
	cli     *clientv3.Client
	ownCli  bool
	p       string
	now     func() time.Time
	node    string
	timeout time.Duration
	log     *slog.Logger

	closed   atomic.Bool
	closeCtx context.Context
	cancel   context.CancelFunc
	bg       sync.WaitGroup // elections, waited for by Close

	schemaOnce sync.Mutex
	schemaOK   atomic.Bool

	usage usageCache

	followMu sync.Mutex
	follows  map[*follow]bool // live Follow subscriptions (Revision asks them for progress)

	lastWrite atomic.Int64 // revision of the latest change this store committed

	// afterUsageWrite, when set (tests), may turn the outcome of one usage
	// transaction into a failure, as a lost answer would.
	afterUsageWrite func(err error) error
}

var (
	_ store.Store      = (*Store)(nil)
	_ store.TokenStore = (*Store)(nil)
	_ store.LinkUsage  = (*Store)(nil)
)

// Open connects to the cluster at opt.Endpoints and returns the store under
// opt.Prefix, creating its schema marker on first use. Unless opt.Lazy, an
// unreachable cluster is store.ErrUnavailable after opt.DialTimeout.
func Open(ctx context.Context, opt Options) (*Store, error) {
	if len(opt.Endpoints) == 0 {
		return nil, errors.New("etcd: no endpoints: give the client URLs of the members, e.g. http://127.0.0.1:2379")
	}
	if opt.DialTimeout <= 0 {
		opt.DialTimeout = defaultTimeout
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            opt.Endpoints,
		TLS:                  opt.TLS,
		DialTimeout:          opt.DialTimeout,
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 3 * time.Second,
		PermitWithoutStream:  true,
		Logger:               zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client for %s: %w", strings.Join(opt.Endpoints, ","), err)
	}
	s, err := newStore(cli, true, opt)
	if err != nil {
		cli.Close()
		return nil, err
	}
	if !opt.Lazy {
		if err := s.ensureSchema(ctx, opt.DialTimeout); err != nil {
			s.Close()
			return nil, fmt.Errorf("etcd at %s: %w", strings.Join(opt.Endpoints, ","), err)
		}
	}
	return s, nil
}

// New returns a store on an existing client, which the caller keeps and
// closes after the store. It does not contact the cluster.
func New(cli *clientv3.Client, opt Options) (*Store, error) {
	return newStore(cli, false, opt)
}

func newStore(cli *clientv3.Client, own bool, opt Options) (*Store, error) {
	p := opt.Prefix
	if p == "" {
		p = DefaultPrefix
	}
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.RequestTimeout <= 0 {
		opt.RequestTimeout = defaultTimeout
	}
	node := opt.Node
	if node == "" {
		node = randomID()
	}
	if strings.ContainsAny(node, "/\x00") {
		return nil, fmt.Errorf("etcd: node name %q may not contain / or NUL", node)
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{cli: cli, ownCli: own, p: p, now: opt.Now, node: node, timeout: opt.RequestTimeout, log: log}
	s.closeCtx, s.cancel = context.WithCancel(context.Background())
	s.usage.init()
	return s, nil
}

func randomID() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return "n" + hex.EncodeToString(b[:])
}

// Node returns the node id under which this store writes its usage.
func (s *Store) Node() string { return s.node }

// Prefix returns the key prefix of the store in the cluster.
func (s *Store) Prefix() string { return s.p }

// Client returns the etcd client (for elections and maintenance).
func (s *Store) Client() *clientv3.Client { return s.cli }

// LastWrite returns the etcd revision of the latest change committed
// through this store (0 before the first).
func (s *Store) LastWrite() int64 { return s.lastWrite.Load() }

// Close stops the watch feed, closes every Watch channel, gives up the
// roles of its elections and, when Open made it, closes the client. Later calls return store.ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return store.ErrClosed
	}
	s.cancel()
	s.bg.Wait()
	if s.ownCli {
		return s.cli.Close()
	}
	return nil
}

// ensureSchema checks (once it succeeds) that the prefix holds this schema
// version, writing it into an empty prefix.
func (s *Store) ensureSchema(ctx context.Context, timeout time.Duration) error {
	if s.schemaOK.Load() {
		return nil
	}
	s.schemaOnce.Lock()
	defer s.schemaOnce.Unlock()
	if s.schemaOK.Load() {
		return nil
	}
	key := s.p + "meta/version"
	cctx, cancel := s.reqCtxFor(ctx, timeout)
	defer cancel()
	resp, err := s.cli.Txn(cctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, schemaVersion)).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return s.mapErr(ctx, err)
	}
	if !resp.Succeeded {
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 1 && string(kvs[0].Value) != schemaVersion {
			return fmt.Errorf("unsupported store version %q under %s (this tmaps knows version %s)", model.Escape(string(kvs[0].Value)), model.Escape(s.p), schemaVersion)
		}
	}
	s.schemaOK.Store(true)
	return nil
}

// reqCtx bounds one request, requires a member with a leader (so that a
// member cut from the quorum answers at once instead of waiting), and ends
// when the store closes.
func (s *Store) reqCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return s.reqCtxFor(ctx, s.timeout)
}

func (s *Store) reqCtxFor(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	c, cancel := context.WithTimeout(clientv3.WithRequireLeader(ctx), timeout)
	stop := context.AfterFunc(s.closeCtx, cancel)
	return c, func() { stop(); cancel() }
}

// check is called at the start of every method.
func (s *Store) check(ctx context.Context) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.ensureSchema(ctx, s.timeout)
}

// mapErr turns an etcd client error into the store's: store.ErrClosed after
// Close, the caller's own context error, a plain error for a request etcd
// refuses as too large, and store.ErrUnavailable for everything else (no
// leader, no quorum, timeouts, unreachable members).
func (s *Store) mapErr(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case s.closed.Load():
		return store.ErrClosed
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, rpctypes.ErrRequestTooLarge), errors.Is(err, rpctypes.ErrTooManyOps),
		errors.Is(err, rpctypes.ErrGRPCRequestTooLarge), errors.Is(err, rpctypes.ErrGRPCTooManyOps):
		return fmt.Errorf("the change is too large for one etcd transaction: %v", err)
	}
	return fmt.Errorf("%w: etcd: %v", store.ErrUnavailable, err)
}

// get reads ops (Gets built with their options) in one request, so at
// one revision.
func (s *Store) get(ctx context.Context, ops ...clientv3.Op) (*clientv3.TxnResponse, error) {
	cctx, cancel := s.reqCtx(ctx)
	defer cancel()
	resp, err := s.cli.Txn(cctx).Then(ops...).Commit()
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	return resp, nil
}

// scan reads every key in [from, end) at revision *rev, page by page,
// calling fn for each. When *rev is 0 it reads the newest revision (a
// quorum read) and sets *rev to it before the first call of fn. Pages at
// a known revision are serializable reads: the member answers from its
// own copy without a quorum round, which is exact at a revision it has
// applied (history does not change) and refused at one it has not (then
// the page is read again through the quorum).
func (s *Store) scan(ctx context.Context, rev *int64, from, end string, keysOnly bool, fn func(k, v []byte, createRev, modRev int64) error) error {
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(readPage)}
		if keysOnly {
			opts = append(opts, clientv3.WithKeysOnly())
		}
		if *rev > 0 {
			opts = append(opts, clientv3.WithRev(*rev))
		}
		cctx, cancel := s.reqCtx(ctx)
		var resp *clientv3.GetResponse
		var err error
		if *rev > 0 {
			resp, err = s.cli.Get(cctx, from, append(opts, clientv3.WithSerializable())...)
			if errors.Is(err, rpctypes.ErrFutureRev) || errors.Is(err, rpctypes.ErrGRPCFutureRev) {
				resp, err = s.cli.Get(cctx, from, opts...) // a member behind rev
			}
		} else {
			resp, err = s.cli.Get(cctx, from, opts...)
		}
		cancel()
		if err != nil {
			return s.mapErr(ctx, err)
		}
		if *rev == 0 {
			*rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			if err := fn(kv.Key, kv.Value, kv.CreateRevision, kv.ModRevision); err != nil {
				return err
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// prefixEnd is the end of the range of keys starting with p.
func prefixEnd(p string) string { return clientv3.GetPrefixRangeEnd(p) }
