package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// invalid wraps a validation error of the model so that errors.Is(err,
// store.ErrInvalid) holds while the message stays the model's own.
type invalid struct{ err error }

func (e *invalid) Error() string { return e.err.Error() }
func (e *invalid) Unwrap() []error {
	return []error{store.ErrInvalid, e.err}
}

func keyNotFound(id string) error {
	return fmt.Errorf("%w: \"%s\" (see `tmaps keys list`)", store.ErrKeyNotFound, model.Escape(id))
}

// getKey loads a key record by id, without its links.
func getKey(tx *bbolt.Tx, id string) (keyRecord, error) {
	seq := tx.Bucket(bKeyIDs).Get([]byte(id))
	if len(seq) != 8 {
		return keyRecord{}, keyNotFound(id)
	}
	return getKeySeq(tx, binary.BigEndian.Uint64(seq))
}

func getKeySeq(tx *bbolt.Tx, seq uint64) (keyRecord, error) {
	v := tx.Bucket(bKeys).Get(u64(seq))
	if v == nil {
		return keyRecord{}, fmt.Errorf("key #%d: %w", seq, errCorrupt)
	}
	return decodeKey(seq, v)
}

// keyDomains returns the sorted domains linked to the key with seq.
func keyDomains(tx *bbolt.Tx, seq uint64) []string {
	prefix := u64(seq)
	var out []string
	c := tx.Bucket(bKeyDomains).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		out = append(out, string(k[8:]))
	}
	return out
}

// fullKey returns the model key of r with its links.
func fullKey(tx *bbolt.Tx, r keyRecord) model.Key {
	k := r.key
	k.Domains = keyDomains(tx, r.seq)
	if k.Domains == nil {
		k.Domains = []string{}
	}
	return k
}

func putKey(tx *bbolt.Tx, r *keyRecord) error {
	return tx.Bucket(bKeys).Put(u64(r.seq), encodeKey(r))
}

// newKey inserts a fresh Active key named name with the (normalised) policy
// p and returns its record and secret.
func (s *Store) newKey(tx *bbolt.Tx, name string, p model.Policy) (keyRecord, string, error) {
	ids := tx.Bucket(bKeyIDs)
	digests := tx.Bucket(bKeyDigests)
	var id string
	for {
		id = model.NewIDFrom(s.rand)
		if ids.Get([]byte(id)) == nil {
			break
		}
	}
	var secret string
	var d model.Digest
	for {
		secret = model.NewSecretFrom(s.rand)
		d = model.DigestOf(secret)
		if digests.Get(d[:]) == nil {
			break
		}
	}
	keys := tx.Bucket(bKeys)
	seq, err := keys.NextSequence()
	if err != nil {
		return keyRecord{}, "", err
	}
	now := s.now().UTC()
	r := keyRecord{seq: seq, key: model.Key{
		ID:            id,
		Name:          name,
		Prefix:        model.DisplayPrefix(secret),
		Digest:        d,
		Status:        model.Active,
		Created:       now,
		StatusChanged: now,
		Policy:        p,
	}}
	if err := putKey(tx, &r); err != nil {
		return keyRecord{}, "", err
	}
	if err := ids.Put([]byte(id), u64(seq)); err != nil {
		return keyRecord{}, "", err
	}
	if err := digests.Put(d[:], u64(seq)); err != nil {
		return keyRecord{}, "", err
	}
	return r, secret, nil
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
	err = s.update(ctx, func(tx *bbolt.Tx) ([]store.Event, error) {
		r, sec, err := s.newKey(tx, name, p)
		if err != nil {
			return nil, err
		}
		if err := s.audit(ctx, tx, model.AuditCreate, "key:"+r.key.ID, "", name); err != nil {
			return nil, err
		}
		if err := s.auditPolicy(ctx, tx, r.key.ID, model.Policy{}, p); err != nil {
			return nil, err
		}
		out, secret = fullKey(tx, r), sec
		return []store.Event{{Kind: store.EventKey, ID: r.key.ID, Action: model.AuditCreate}}, nil
	})
	if err != nil {
		return model.Key{}, "", err
	}
	return out, secret, nil
}

// Key returns a key by id, or store.ErrKeyNotFound.
func (s *Store) Key(ctx context.Context, id string) (model.Key, error) {
	var out model.Key
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		r, err := getKey(tx, id)
		if err != nil {
			return err
		}
		out = fullKey(tx, r)
		return nil
	})
	return out, err
}

// KeyByDigest returns the key whose secret has digest d, or store.ErrKeyNotFound.
func (s *Store) KeyByDigest(ctx context.Context, d model.Digest) (model.Key, error) {
	var out model.Key
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		seq := tx.Bucket(bKeyDigests).Get(d[:])
		if len(seq) != 8 {
			return fmt.Errorf("%w: no key has this secret", store.ErrKeyNotFound)
		}
		r, err := getKeySeq(tx, binary.BigEndian.Uint64(seq))
		if err != nil {
			return err
		}
		out = fullKey(tx, r)
		return nil
	})
	return out, err
}

// Keys returns every key, oldest first, in one pass over the file.
func (s *Store) Keys(ctx context.Context) ([]model.Key, error) {
	var out []model.Key
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		kb := tx.Bucket(bKeys)
		out = make([]model.Key, 0, kb.Sequence()) // keys are never deleted
		lc := tx.Bucket(bKeyDomains).Cursor()
		lk, _ := lc.First()
		names := map[string]string{} // one string per domain name, shared by keys
		c := kb.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(k) != 8 {
				continue
			}
			out = append(out, model.Key{})
			key := &out[len(out)-1] // decoded where the list holds it: no copy
			if _, err := decodeKeyTo(key, v); err != nil {
				return fmt.Errorf("key #%x: %w", k, err)
			}
			// Skip links of keys before this one, then collect this key's.
			for lk != nil && bytes.Compare(lk[:8], k) < 0 {
				lk, _ = lc.Next()
			}
			doms := []string{}
			for lk != nil && bytes.Equal(lk[:8], k) {
				name, ok := names[string(lk[8:])]
				if !ok {
					name = string(lk[8:])
					names[name] = name
				}
				doms = append(doms, name)
				lk, _ = lc.Next()
			}
			key.Domains = doms
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// LastHost returns the host (from Origin or Referer) of the last request the
// gate counted for the key, "" when none was recorded, or store.ErrKeyNotFound.
func (s *Store) LastHost(ctx context.Context, id string) (string, error) {
	var out string
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		r, err := getKey(tx, id)
		out = r.lastHost
		return err
	})
	return out, err
}

// changeKey loads key id, lets fn change it and write audit entries, saves it
// and returns the key with its links.
func (s *Store) changeKey(ctx context.Context, id, action string, fn func(tx *bbolt.Tx, r *keyRecord) (changed bool, err error)) (model.Key, error) {
	var out model.Key
	err := s.update(ctx, func(tx *bbolt.Tx) ([]store.Event, error) {
		r, err := getKey(tx, id)
		if err != nil {
			return nil, err
		}
		changed, err := fn(tx, &r)
		if err != nil {
			return nil, err
		}
		out = fullKey(tx, r)
		if !changed {
			return nil, nil
		}
		if err := putKey(tx, &r); err != nil {
			return nil, err
		}
		return []store.Event{{Kind: store.EventKey, ID: r.key.ID, Action: action}}, nil
	})
	if err != nil {
		return model.Key{}, err
	}
	return out, nil
}

// RenameKey renames a key. Renaming to the same name changes nothing and
// writes no audit entry. A revoked key returns model.ErrKeyRevoked; a bad
// name the model's error wrapped with store.ErrInvalid.
func (s *Store) RenameKey(ctx context.Context, id, name string) (model.Key, error) {
	name, err := model.NormalizeKeyName(name)
	if err != nil {
		return model.Key{}, &invalid{err}
	}
	return s.changeKey(ctx, id, model.AuditRename, func(tx *bbolt.Tx, r *keyRecord) (bool, error) {
		if r.key.Status == model.Revoked {
			return false, model.ErrKeyRevoked
		}
		if r.key.Name == name {
			return false, nil
		}
		old := r.key.Name
		r.key.Name = name
		return true, s.audit(ctx, tx, model.AuditRename, "key:"+r.key.ID, old, name)
	})
}

// auditPolicy writes one audit entry per policy field that differs.
func (s *Store) auditPolicy(ctx context.Context, tx *bbolt.Tx, id string, before, after model.Policy) error {
	for _, c := range model.PolicyChanges(before, after) {
		if err := s.audit(ctx, tx, c.Action, "key:"+id, c.Before, c.After); err != nil {
			return err
		}
	}
	return nil
}

// UpdateKey changes a key's name and policy (store.KeyStore.UpdateKey).
func (s *Store) UpdateKey(ctx context.Context, id string, u model.KeyUpdate) (model.Key, error) {
	if u.Empty() {
		return s.Key(ctx, id)
	}
	return s.changeKey(ctx, id, "update", func(tx *bbolt.Tx, r *keyRecord) (bool, error) {
		if r.key.Status == model.Revoked {
			return false, model.ErrKeyRevoked
		}
		next, err := u.Apply(r.key)
		if err != nil {
			return false, &invalid{err}
		}
		changed := false
		if next.Name != r.key.Name {
			if err := s.audit(ctx, tx, model.AuditRename, "key:"+r.key.ID, r.key.Name, next.Name); err != nil {
				return false, err
			}
			changed = true
		}
		if cs := model.PolicyChanges(r.key.Policy, next.Policy); len(cs) > 0 {
			if err := s.auditPolicy(ctx, tx, r.key.ID, r.key.Policy, next.Policy); err != nil {
				return false, err
			}
			changed = true
		}
		r.key.Name, r.key.Policy = next.Name, next.Policy
		return changed, nil
	})
}

func (s *Store) transition(ctx context.Context, id string, a model.Action, confirm *string) (model.Key, error) {
	return s.changeKey(ctx, id, string(a), func(tx *bbolt.Tx, r *keyRecord) (bool, error) {
		next, err := r.key.Status.Transition(a)
		if err != nil {
			return false, err
		}
		if confirm != nil && *confirm != r.key.Name {
			return false, fmt.Errorf("%w: type the key's name exactly, \"%s\"", model.ErrConfirmMismatch, model.Escape(r.key.Name))
		}
		old := r.key.Status
		r.key.Status = next
		r.key.StatusChanged = s.now().UTC()
		return true, s.audit(ctx, tx, string(a), "key:"+r.key.ID, string(old), string(next))
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
// policy (not its expiry) and links the two with Replaces/ReplacedBy. The
// old key keeps its status; with expireOldIn > 0 it expires that long from
// now unless it expires sooner already. Audit: "rotate" on the old key (and
// "policy.expires" for its grace), "create" and the policy entries on the
// new one, and one "link" per domain of the new key.
func (s *Store) RotateKey(ctx context.Context, id string, expireOldIn time.Duration) (model.Key, string, error) {
	if expireOldIn < 0 {
		return model.Key{}, "", &invalid{&model.FieldError{Field: "expire_old_in", Err: errors.New("the grace period cannot be negative")}}
	}
	var out model.Key
	var secret string
	err := s.update(ctx, func(tx *bbolt.Tx) ([]store.Event, error) {
		old, err := getKey(tx, id)
		if err != nil {
			return nil, err
		}
		if old.key.Status == model.Revoked {
			return nil, model.ErrKeyRevoked
		}
		p := old.key.Policy.ClonePolicy()
		p.Expires = time.Time{}
		nk, sec, err := s.newKey(tx, old.key.Name, p)
		if err != nil {
			return nil, err
		}
		nk.key.Replaces = old.key.ID
		if err := putKey(tx, &nk); err != nil {
			return nil, err
		}
		oldPolicy := old.key.Policy
		old.key.ReplacedBy = nk.key.ID
		if expireOldIn > 0 {
			if at := s.now().UTC().Add(expireOldIn); old.key.Expires.IsZero() || at.Before(old.key.Expires) {
				old.key.Expires = at
			}
		}
		if err := putKey(tx, &old); err != nil {
			return nil, err
		}
		if err := s.audit(ctx, tx, model.AuditRotate, "key:"+old.key.ID, "", nk.key.ID); err != nil {
			return nil, err
		}
		if err := s.auditPolicy(ctx, tx, old.key.ID, oldPolicy, old.key.Policy); err != nil {
			return nil, err
		}
		if err := s.audit(ctx, tx, model.AuditCreate, "key:"+nk.key.ID, "", nk.key.Name); err != nil {
			return nil, err
		}
		if err := s.auditPolicy(ctx, tx, nk.key.ID, model.Policy{}, nk.key.Policy); err != nil {
			return nil, err
		}
		evs := []store.Event{
			{Kind: store.EventKey, ID: old.key.ID, Action: model.AuditRotate},
			{Kind: store.EventKey, ID: nk.key.ID, Action: model.AuditCreate},
		}
		for _, d := range keyDomains(tx, old.seq) {
			if err := link(tx, nk, d); err != nil {
				return nil, err
			}
			if err := s.audit(ctx, tx, model.AuditLink, "key:"+nk.key.ID, "", d); err != nil {
				return nil, err
			}
			evs = append(evs, store.Event{Kind: store.EventDomain, ID: d, Action: model.AuditLink})
		}
		out, secret = fullKey(tx, nk), sec
		return evs, nil
	})
	if err != nil {
		return model.Key{}, "", err
	}
	return out, secret, nil
}

// trimmed reports a domain argument as typed, for messages.
func trimmed(s string) string { return model.Escape(strings.TrimSpace(s)) }
