package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// tx is one attempt at a change: what it read, all at one revision, and what
// it will write. Its commit compares the revision of P/meta/seq with the one
// read, so it fails (and the change is tried again on fresh reads) when any
// other audited change committed in between; the compares a change adds
// state its own rules (a domain not yet there, a key not changed since it
// was read) so that they hold even against a writer that skipped the seq.
type tx struct {
	s      *Store
	ctx    context.Context
	rev    int64  // revision of the reads; 0 until the first read
	seq    uint64 // last audit seq at rev
	seqRev int64  // mod revision of P/meta/seq at rev (0: never written)
	at     time.Time
	actor  string

	cmps    []clientv3.Cmp
	ops     []clientv3.Op
	entries []model.AuditEntry
}

// read runs gets in one request at the transaction's revision. The first
// read also reads P/meta/seq and fixes the revision.
func (t *tx) read(gets ...get) ([][]*mvccpb.KeyValue, error) {
	ops := make([]clientv3.Op, 0, len(gets)+1)
	first := t.rev == 0
	if first {
		ops = append(ops, clientv3.OpGet(t.s.seqKey()))
	}
	for _, g := range gets {
		ops = append(ops, g.op(t.rev))
	}
	resp, err := t.s.get(t.ctx, ops...)
	if err != nil {
		return nil, err
	}
	out := make([][]*mvccpb.KeyValue, 0, len(gets))
	for i, r := range resp.Responses {
		kvs := r.GetResponseRange().Kvs
		if first && i == 0 {
			t.rev = resp.Header.Revision
			if len(kvs) == 1 {
				v, err := strconv.ParseUint(string(kvs[0].Value), 10, 64)
				if err != nil {
					return nil, fmt.Errorf("audit sequence: %w", errCorrupt)
				}
				t.seq, t.seqRev = v, kvs[0].ModRevision
			}
			continue
		}
		out = append(out, kvs)
	}
	return out, nil
}

// one reads a single key: its kv, or nil when absent.
func (t *tx) one(key string) (*mvccpb.KeyValue, error) {
	r, err := t.read(get{key: key})
	if err != nil {
		return nil, err
	}
	if len(r[0]) == 0 {
		return nil, nil
	}
	return r[0][0], nil
}

// get is one read of a transaction: a key, or every key under a prefix.
type get struct {
	key      string
	prefix   bool
	keysOnly bool
}

func (g get) op(rev int64) clientv3.Op {
	var o []clientv3.OpOption
	if g.prefix {
		o = append(o, clientv3.WithPrefix())
	}
	if g.keysOnly {
		o = append(o, clientv3.WithKeysOnly())
	}
	if rev > 0 {
		o = append(o, clientv3.WithRev(rev))
	}
	return clientv3.OpGet(g.key, o...)
}

// when adds a compare to the commit.
func (t *tx) when(c ...clientv3.Cmp) { t.cmps = append(t.cmps, c...) }

// put and del add writes to the commit.
func (t *tx) put(key string, v []byte) { t.ops = append(t.ops, clientv3.OpPut(key, string(v))) }
func (t *tx) del(key string, opts ...clientv3.OpOption) {
	t.ops = append(t.ops, clientv3.OpDelete(key, opts...))
}

// audit appends an entry for this change.
func (t *tx) audit(action, object, before, after string) {
	t.entries = append(t.entries, model.AuditEntry{
		Time: t.at, Actor: t.actor, Action: action, Object: object, Before: before, After: after,
	})
}

// commit writes the change with its audit record; it reports false when a
// compare failed (another change came first).
func (t *tx) commit() (bool, error) {
	if len(t.ops) == 0 && len(t.entries) == 0 {
		return true, nil
	}
	if t.rev == 0 {
		if _, err := t.read(); err != nil {
			return false, err
		}
	}
	s := t.s
	if len(t.entries) > 0 {
		first := t.seq + 1
		objects := map[string]bool{}
		for i := range t.entries {
			t.entries[i].Seq = first + uint64(i)
		}
		rec, err := json.Marshal(t.entries)
		if err != nil {
			return false, err
		}
		ak := s.auditKey(first)
		t.put(ak, rec)
		for _, e := range t.entries {
			if !objects[e.Object] {
				objects[e.Object] = true
				t.put(s.auditObjectKey(e.Object, first), nil)
			}
		}
		t.put(s.seqKey(), []byte(strconv.FormatUint(first+uint64(len(t.entries))-1, 10)))
		t.when(clientv3.Compare(clientv3.ModRevision(s.seqKey()), "=", t.seqRev))
	}
	if len(t.ops) > maxTxnOps || len(t.cmps) > maxTxnOps {
		return false, fmt.Errorf("%w: the change needs %d etcd operations, more than one transaction takes (%d): do it in smaller steps", store.ErrInvalid, max(len(t.ops), len(t.cmps)), maxTxnOps)
	}
	size := 0
	for _, op := range t.ops {
		size += len(op.KeyBytes()) + len(op.ValueBytes()) + 8
	}
	if size > maxTxnBytes {
		return false, fmt.Errorf("%w: the change is %d bytes, more than one etcd transaction takes (%d)", store.ErrInvalid, size, maxTxnBytes)
	}
	ctx, cancel := s.reqCtx(t.ctx)
	defer cancel()
	resp, err := s.cli.Txn(ctx).If(t.cmps...).Then(t.ops...).Commit()
	if err != nil {
		return false, s.mapErr(t.ctx, err)
	}
	if !resp.Succeeded {
		return false, nil
	}
	s.noteWrite(resp.Header.Revision)
	return true, nil
}

// noteWrite records the revision of a committed change.
func (s *Store) noteWrite(rev int64) {
	for {
		cur := s.lastWrite.Load()
		if rev <= cur || s.lastWrite.CompareAndSwap(cur, rev) {
			return
		}
	}
}

// change runs fn on fresh reads and commits what it wrote, again and again
// while another change wins the race, until it commits, fn fails (its error
// is returned and nothing is written), or ctx ends.
func (s *Store) change(ctx context.Context, fn func(t *tx) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	pause := time.Millisecond
	for {
		t := &tx{s: s, ctx: ctx, at: s.now().UTC(), actor: store.Actor(ctx)}
		if err := fn(t); err != nil {
			return err
		}
		ok, err := t.commit()
		if err != nil || ok {
			return err
		}
		wait := pause/2 + rand.N(pause)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closeCtx.Done():
			return store.ErrClosed
		case <-time.After(wait):
		}
		pause = min(2*pause, 64*time.Millisecond)
	}
}
