package etcd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// invalid wraps a validation error of the model so that errors.Is(err,
// store.ErrInvalid) holds while the message stays the model's own.
type invalid struct{ err error }

func (e *invalid) Error() string   { return e.err.Error() }
func (e *invalid) Unwrap() []error { return []error{store.ErrInvalid, e.err} }

func keyNotFound(id string) error {
	return fmt.Errorf("%w: \"%s\" (see `tmaps keys list`)", store.ErrKeyNotFound, model.Escape(id))
}

// validID reports whether id can be a key id in the layout.
func validID(id string) bool { return id != "" && !strings.ContainsAny(id, "/\x00") }

// keyRec is a key record as read, with its revisions.
type keyRec struct {
	key    model.Key
	modRev int64
}

func (s *Store) decodeKV(kv *mvccpb.KeyValue) (keyRec, error) {
	id := strings.TrimPrefix(string(kv.Key), s.keysPrefix())
	k, err := decodeKey(id, kv.Value, nil)
	if err != nil {
		return keyRec{}, fmt.Errorf("key %s: %w", model.Escape(id), err)
	}
	return keyRec{key: k, modRev: kv.ModRevision}, nil
}

// readKey reads a key record in t, or keyNotFound.
func (t *tx) readKey(id string) (keyRec, error) {
	if !validID(id) {
		return keyRec{}, keyNotFound(id)
	}
	kv, err := t.one(t.s.keyKey(id))
	if err != nil {
		return keyRec{}, err
	}
	if kv == nil {
		return keyRec{}, keyNotFound(id)
	}
	return t.s.decodeKV(kv)
}

// writeKey saves r.key, provided the record did not change since it was read.
func (t *tx) writeKey(r keyRec) {
	k := r.key
	t.when(clientv3.Compare(clientv3.ModRevision(t.s.keyKey(k.ID)), "=", r.modRev))
	t.put(t.s.keyKey(k.ID), encodeKey(&k))
}

// newKey adds a fresh Active key named name with the (normalised) policy p
// to t and returns it with its secret. The compares make the id and the
// digest unique.
func (t *tx) newKey(name string, p model.Policy) (model.Key, string, error) {
	s := t.s
	id := model.NewID()
	secret := model.NewSecret()
	d := model.DigestOf(secret)
	r, err := t.read(get{key: s.keyKey(id)}, get{key: s.digestKey(d)})
	if err != nil {
		return model.Key{}, "", err
	}
	if len(r[0]) > 0 || len(r[1]) > 0 {
		// 48 or 128 random bits collided: draw again.
		return t.newKey(name, p)
	}
	k := model.Key{
		ID: id, Name: name, Prefix: model.DisplayPrefix(secret), Digest: d,
		Status: model.Active, Created: t.at, StatusChanged: t.at, Domains: []string{}, Policy: p,
	}
	t.when(clientv3.Compare(clientv3.CreateRevision(s.keyKey(id)), "=", 0),
		clientv3.Compare(clientv3.CreateRevision(s.digestKey(d)), "=", 0))
	t.put(s.keyKey(id), encodeKey(&k))
	t.put(s.digestKey(d), []byte(id))
	return k, secret, nil
}

// CreateKey creates an Active key with the policy p. A bad name or policy
// returns the model's error wrapped so errors.Is(err, store.ErrInvalid)
// holds.
func (s *Store) CreateKey(ctx context.Context, name string, p model.Policy) (model.Key, string, error) {
	name, err := model.NormalizeKeyName(name)
	if err != nil {
		return model.Key{}, "", &invalid{err}
	}
	if p, err = model.NormalizePolicy(p); err != nil {
		return model.Key{}, "", &invalid{err}
	}
	var out model.Key
	var secret string
	err = s.change(ctx, func(t *tx) error {
		k, sec, err := t.newKey(name, p)
		if err != nil {
			return err
		}
		t.audit(model.AuditCreate, "key:"+k.ID, "", name)
		t.auditPolicy(k.ID, model.Policy{}, p)
		out, secret = k, sec
		return nil
	})
	if err != nil {
		return model.Key{}, "", err
	}
	return out, secret, nil
}

// Key returns a key by id, or store.ErrKeyNotFound.
func (s *Store) Key(ctx context.Context, id string) (model.Key, error) {
	if err := s.check(ctx); err != nil {
		return model.Key{}, err
	}
	if !validID(id) {
		return model.Key{}, keyNotFound(id)
	}
	resp, err := s.get(ctx, clientv3.OpGet(s.keyKey(id)), clientv3.OpGet(s.lastUsedPrefix(id), clientv3.WithPrefix()))
	if err != nil {
		return model.Key{}, err
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return model.Key{}, keyNotFound(id)
	}
	r, err := s.decodeKV(kvs[0])
	if err != nil {
		return model.Key{}, err
	}
	r.key.LastUsed, _ = latestUse(resp.Responses[1].GetResponseRange().Kvs)
	return r.key, nil
}

// KeyByDigest returns the key whose secret has digest d, or store.ErrKeyNotFound.
func (s *Store) KeyByDigest(ctx context.Context, d model.Digest) (model.Key, error) {
	if err := s.check(ctx); err != nil {
		return model.Key{}, err
	}
	resp, err := s.get(ctx, clientv3.OpGet(s.digestKey(d)))
	if err != nil {
		return model.Key{}, err
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return model.Key{}, fmt.Errorf("%w: no key has this secret", store.ErrKeyNotFound)
	}
	return s.Key(ctx, string(kvs[0].Value))
}

// Keys returns every key, oldest first (creation order: the revision that
// created each record), read page by page at one revision.
func (s *Store) Keys(ctx context.Context) ([]model.Key, error) {
	keys, rev, err := s.keysAt(ctx, 0)
	if err != nil {
		return nil, err
	}
	used := map[string]lastUse{}
	err = s.scan(ctx, &rev, s.p+"u/l/", prefixEnd(s.p+"u/l/"), false, func(k, v []byte, _, _ int64) error {
		id, _, ok := strings.Cut(strings.TrimPrefix(string(k), s.p+"u/l/"), "/")
		if u, err := decodeLastUse(v); ok && err == nil && u.at.After(used[id].at) {
			used[id] = u
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range keys {
		keys[i].LastUsed = used[keys[i].ID].at
	}
	return keys, nil
}

// KeysRevision returns every key without its last use (what the gate
// indexes), oldest first, and the etcd revision it reflects: a watch from
// the next revision misses no change.
func (s *Store) KeysRevision(ctx context.Context) ([]model.Key, int64, error) {
	return s.keysAt(ctx, 0)
}

// keysAt reads every key record at rev (0: now, fixed by one quorum
// read), oldest first. The range of key records is read as 17 parts (by
// the first character after "k" of the ids, which are "k" and hex) four at
// a time: etcd counts the rest of a range on every limited page, so one
// range paged from start to end costs the square of its size.
func (s *Store) keysAt(ctx context.Context, rev int64) ([]model.Key, int64, error) {
	if err := s.check(ctx); err != nil {
		return nil, 0, err
	}
	if rev == 0 {
		resp, err := s.get(ctx, clientv3.OpGet(s.seqKey(), clientv3.WithKeysOnly()))
		if err != nil {
			return nil, 0, err
		}
		rev = resp.Header.Revision
	}
	p := s.keysPrefix()
	bounds := []string{p}
	for _, c := range "0123456789abcdef" {
		bounds = append(bounds, p+"k"+string(c))
	}
	bounds = append(bounds, prefixEnd(p))
	// The records of each part, in id order; creation order is sorted as
	// small (revision, index) pairs, then the keys are placed once.
	type rec struct {
		rev int64
		i   int
	}
	type part struct {
		keys []model.Key
		revs []int64
		err  error
	}
	parts := make([]part, len(bounds)-1)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := range parts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			pt := &parts[i]
			intern := map[string]string{}
			r := rev
			pt.err = s.scan(ctx, &r, bounds[i], bounds[i+1], false, func(k, v []byte, createRev, _ int64) error {
				id := strings.TrimPrefix(string(k), p)
				key, err := decodeKey(id, v, intern)
				if err != nil {
					return fmt.Errorf("key %s: %w", model.Escape(id), err)
				}
				pt.keys = append(pt.keys, key)
				pt.revs = append(pt.revs, createRev)
				return nil
			})
		}()
	}
	wg.Wait()
	n := 0
	for _, pt := range parts {
		if pt.err != nil {
			return nil, 0, pt.err
		}
		n += len(pt.keys)
	}
	keys := make([]model.Key, 0, n)
	recs := make([]rec, 0, n)
	for _, pt := range parts {
		for j := range pt.keys {
			recs = append(recs, rec{pt.revs[j], len(keys)})
			keys = append(keys, pt.keys[j])
		}
	}
	slices.SortFunc(recs, func(a, b rec) int {
		ka, kb := &keys[a.i], &keys[b.i]
		return cmp.Or(cmp.Compare(a.rev, b.rev), ka.Created.Compare(kb.Created), strings.Compare(ka.ID, kb.ID))
	})
	out := make([]model.Key, len(recs))
	for i, r := range recs {
		out[i] = keys[r.i]
	}
	return out, rev, nil
}

// changeKey reads key id, lets fn change it and write audit entries, and
// saves it when fn reports a change. It returns the key as saved.
func (s *Store) changeKey(ctx context.Context, id string, fn func(t *tx, k *model.Key) (changed bool, err error)) (model.Key, error) {
	var out model.Key
	err := s.change(ctx, func(t *tx) error {
		r, err := t.readKey(id)
		if err != nil {
			return err
		}
		k := r.key.Clone()
		changed, err := fn(t, &k)
		if err != nil {
			return err
		}
		if changed {
			t.writeKey(keyRec{key: k, modRev: r.modRev})
		}
		out = k
		return nil
	})
	if err != nil {
		return model.Key{}, err
	}
	return s.withLastUse(ctx, out), nil
}

// withLastUse fills k.LastUsed, leaving it zero when usage cannot be read.
func (s *Store) withLastUse(ctx context.Context, k model.Key) model.Key {
	resp, err := s.get(ctx, clientv3.OpGet(s.lastUsedPrefix(k.ID), clientv3.WithPrefix()))
	if err == nil {
		k.LastUsed, _ = latestUse(resp.Responses[0].GetResponseRange().Kvs)
	}
	return k
}

// RenameKey renames a key. Renaming to the same name changes nothing and
// writes no audit entry. A revoked key returns model.ErrKeyRevoked; a bad
// name the model's error wrapped with store.ErrInvalid.
func (s *Store) RenameKey(ctx context.Context, id, name string) (model.Key, error) {
	name, err := model.NormalizeKeyName(name)
	if err != nil {
		return model.Key{}, &invalid{err}
	}
	return s.changeKey(ctx, id, func(t *tx, k *model.Key) (bool, error) {
		if k.Status == model.Revoked {
			return false, model.ErrKeyRevoked
		}
		if k.Name == name {
			return false, nil
		}
		t.audit(model.AuditRename, "key:"+k.ID, k.Name, name)
		k.Name = name
		return true, nil
	})
}

// auditPolicy writes one audit entry per policy field that differs.
func (t *tx) auditPolicy(id string, before, after model.Policy) {
	for _, c := range model.PolicyChanges(before, after) {
		t.audit(c.Action, "key:"+id, c.Before, c.After)
	}
}

// UpdateKey changes a key's name and policy (store.KeyStore.UpdateKey), in
// one transaction.
func (s *Store) UpdateKey(ctx context.Context, id string, u model.KeyUpdate) (model.Key, error) {
	if u.Empty() {
		return s.Key(ctx, id)
	}
	return s.changeKey(ctx, id, func(t *tx, k *model.Key) (bool, error) {
		if k.Status == model.Revoked {
			return false, model.ErrKeyRevoked
		}
		next, err := u.Apply(*k)
		if err != nil {
			return false, &invalid{err}
		}
		changed := false
		if next.Name != k.Name {
			t.audit(model.AuditRename, "key:"+k.ID, k.Name, next.Name)
			changed = true
		}
		if len(model.PolicyChanges(k.Policy, next.Policy)) > 0 {
			t.auditPolicy(k.ID, k.Policy, next.Policy)
			changed = true
		}
		k.Name, k.Policy = next.Name, next.Policy
		return changed, nil
	})
}

func (s *Store) transition(ctx context.Context, id string, a model.Action, confirm *string) (model.Key, error) {
	return s.changeKey(ctx, id, func(t *tx, k *model.Key) (bool, error) {
		next, err := k.Status.Transition(a)
		if err != nil {
			return false, err
		}
		if confirm != nil && *confirm != k.Name {
			return false, fmt.Errorf("%w: type the key's name exactly, \"%s\"", model.ErrConfirmMismatch, model.Escape(k.Name))
		}
		t.audit(string(a), "key:"+k.ID, string(k.Status), string(next))
		k.Status = next
		k.StatusChanged = t.at
		// Revoked is terminal: the write happens only if the record is
		// still the one whose status was checked (writeKey's compare).
		return true, nil
	})
}

// DisableKey disables an Active key (model.ErrAlreadyDisabled,
// model.ErrKeyRevoked when refused).
func (s *Store) DisableKey(ctx context.Context, id string) (model.Key, error) {
	return s.transition(ctx, id, model.ActDisable, nil)
}

// EnableKey enables a Disabled key (model.ErrAlreadyActive,
// model.ErrKeyRevoked when refused).
func (s *Store) EnableKey(ctx context.Context, id string) (model.Key, error) {
	return s.transition(ctx, id, model.ActEnable, nil)
}

// RevokeKey revokes a key for good. confirm must equal the key's name
// exactly, else model.ErrConfirmMismatch and nothing changes.
func (s *Store) RevokeKey(ctx context.Context, id, confirm string) (model.Key, error) {
	return s.transition(ctx, id, model.ActRevoke, &confirm)
}

// RotateKey creates a new Active key with the old key's name, domains and
// policy (not its expiry) and links the two with Replaces/ReplacedBy, in
// one transaction. The old key keeps its status; with expireOldIn > 0 it
// expires that long from now unless it expires sooner already. Audit:
// "rotate" on the old key (and "policy.expires" for its grace), "create"
// and the policy entries on the new one, and one "link" per domain of the
// new key.
func (s *Store) RotateKey(ctx context.Context, id string, expireOldIn time.Duration) (model.Key, string, error) {
	if expireOldIn < 0 {
		return model.Key{}, "", &invalid{&model.FieldError{Field: "expire_old_in", Err: errors.New("the grace period cannot be negative")}}
	}
	var out model.Key
	var secret string
	err := s.change(ctx, func(t *tx) error {
		old, err := t.readKey(id)
		if err != nil {
			return err
		}
		if old.key.Status == model.Revoked {
			return model.ErrKeyRevoked
		}
		p := old.key.Policy.ClonePolicy()
		p.Expires = time.Time{}
		nk, sec, err := t.newKey(old.key.Name, p)
		if err != nil {
			return err
		}
		nk.Replaces = old.key.ID
		nk.Domains = slices.Clone(old.key.Domains)
		t.ops = t.ops[:len(t.ops)-2] // newKey's puts, redone with the final record
		t.put(s.keyKey(nk.ID), encodeKey(&nk))
		t.put(s.digestKey(nk.Digest), []byte(nk.ID))
		o := old.key.Clone()
		o.ReplacedBy = nk.ID
		if expireOldIn > 0 {
			if at := t.at.Add(expireOldIn); o.Expires.IsZero() || at.Before(o.Expires) {
				o.Expires = at
			}
		}
		t.writeKey(keyRec{key: o, modRev: old.modRev})
		t.audit(model.AuditRotate, "key:"+o.ID, "", nk.ID)
		t.auditPolicy(o.ID, old.key.Policy, o.Policy)
		t.audit(model.AuditCreate, "key:"+nk.ID, "", nk.Name)
		t.auditPolicy(nk.ID, model.Policy{}, nk.Policy)
		for _, d := range nk.Domains {
			t.when(clientv3.Compare(clientv3.Version(s.domainKey(d)), ">", 0))
			t.put(s.linkKey(d, nk.ID), nil)
			t.audit(model.AuditLink, "key:"+nk.ID, "", d)
		}
		out, secret = nk, sec
		return nil
	})
	if err != nil {
		return model.Key{}, "", err
	}
	return out, secret, nil
}
