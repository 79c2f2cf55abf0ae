package etcd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// normDomain normalises a domain a caller typed.
func normDomain(name string) (string, error) {
	n, err := model.NormalizeDomain(name)
	if err != nil {
		return "", &invalid{err}
	}
	if n == "" || strings.ContainsAny(n, "/\x00") {
		return "", &invalid{&model.DomainError{Input: name, Problem: "the domain is empty", Fix: "enter a host name such as mysite.tn"}}
	}
	return n, nil
}

// lookupName normalises a domain used as a reference to an existing one: a
// name that cannot be valid is simply not found (with the reason).
func lookupName(name string) (string, error) {
	n, err := normDomain(name)
	if err != nil {
		trimmed := model.Escape(strings.TrimSpace(name))
		var de *model.DomainError
		if errors.As(err, &de) {
			return "", fmt.Errorf("%w: \"%s\": %w", store.ErrDomainNotFound, trimmed, de)
		}
		return "", fmt.Errorf("%w: \"%s\"", store.ErrDomainNotFound, trimmed)
	}
	return n, nil
}

func domainNotFound(name string) error {
	return fmt.Errorf("%w: \"%s\" (add it with `tmaps domains add %s`)", store.ErrDomainNotFound, model.Escape(name), model.Escape(name))
}

// domainRec is a domain as read in a transaction, with its links.
type domainRec struct {
	d      model.Domain
	modRev int64
}

// readDomain reads a domain and its links in t, or domainNotFound.
func (t *tx) readDomain(n string) (domainRec, error) {
	s := t.s
	r, err := t.read(get{key: s.domainKey(n)}, get{key: s.linksPrefix(n), prefix: true, keysOnly: true})
	if err != nil {
		return domainRec{}, err
	}
	if len(r[0]) == 0 {
		return domainRec{}, domainNotFound(n)
	}
	d, err := decodeDomain(n, r[0][0].Value)
	if err != nil {
		return domainRec{}, err
	}
	for _, kv := range r[1] {
		d.Keys = append(d.Keys, strings.TrimPrefix(string(kv.Key), s.linksPrefix(n)))
	}
	return domainRec{d: d, modRev: r[0][0].ModRevision}, nil
}

// AddDomain normalises and adds a domain. A bad name returns a
// *model.DomainError wrapped with store.ErrInvalid; an existing one
// store.ErrDomainExists together with the existing domain. Two nodes adding
// the same name at once: the compare on its creation lets one win.
func (s *Store) AddDomain(ctx context.Context, name string) (model.Domain, error) {
	n, err := normDomain(name)
	if err != nil {
		return model.Domain{}, err
	}
	var out model.Domain
	err = s.change(ctx, func(t *tx) error {
		cur, err := t.readDomain(n)
		if err == nil {
			out = cur.d
			return fmt.Errorf("%w: %s", store.ErrDomainExists, model.Escape(n))
		}
		if !errors.Is(err, store.ErrDomainNotFound) {
			return err
		}
		d := model.Domain{Name: n, Unicode: model.DomainUnicode(n), Created: t.at, Keys: []string{}}
		t.when(clientv3.Compare(clientv3.CreateRevision(s.domainKey(n)), "=", 0))
		t.put(s.domainKey(n), encodeDomain(d))
		t.audit(model.AuditDomainAdd, "domain:"+n, "", n)
		out = d
		return nil
	})
	return out, err
}

// Domain returns a domain by any accepted spelling, or store.ErrDomainNotFound.
func (s *Store) Domain(ctx context.Context, name string) (model.Domain, error) {
	n, err := lookupName(name)
	if err != nil {
		return model.Domain{}, err
	}
	if err := s.check(ctx); err != nil {
		return model.Domain{}, err
	}
	t := &tx{s: s, ctx: ctx}
	r, err := t.readDomain(n)
	return r.d, err
}

// Domains returns every domain sorted by ASCII name, with its links, read
// page by page at one revision.
func (s *Store) Domains(ctx context.Context) ([]model.Domain, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	out := []model.Domain{}
	var rev int64
	err := s.scan(ctx, &rev, s.domainsPrefix(), prefixEnd(s.domainsPrefix()), false, func(k, v []byte, _, _ int64) error {
		d, err := decodeDomain(strings.TrimPrefix(string(k), s.domainsPrefix()), v)
		out = append(out, d)
		return err
	})
	if err != nil {
		return nil, err
	}
	byName := make(map[string]*model.Domain, len(out))
	for i := range out {
		byName[out[i].Name] = &out[i]
	}
	err = s.scan(ctx, &rev, s.p+"dk/", prefixEnd(s.p+"dk/"), true, func(k, _ []byte, _, _ int64) error {
		n, id, ok := strings.Cut(strings.TrimPrefix(string(k), s.p+"dk/"), "/")
		if d := byName[n]; ok && d != nil {
			d.Keys = append(d.Keys, id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteDomain removes a domain and unlinks it from every key. Up to
// deleteBatch linked keys, that is one transaction; a domain linked to more
// keys is first unlinked from them deleteBatch keys per transaction (each
// one whole: both sides of its links and its audit entries), then deleted
// with the last ones. Audit: one "unlink" per key and "domain.delete".
func (s *Store) DeleteDomain(ctx context.Context, name string) (model.Domain, error) {
	n, err := lookupName(name)
	if err != nil {
		return model.Domain{}, err
	}
	var unlinked []string
	for {
		var out model.Domain
		done := false
		err := s.change(ctx, func(t *tx) error {
			r, err := t.readDomain(n)
			if err != nil {
				return err
			}
			keys := r.d.Keys
			last := len(keys) <= deleteBatch
			if !last {
				keys = keys[:deleteBatch]
			}
			if err := t.unlinkKeys(n, keys); err != nil {
				return err
			}
			done, out = last, r.d
			if last {
				t.when(clientv3.Compare(clientv3.ModRevision(s.domainKey(n)), "=", r.modRev))
				t.del(s.domainKey(n))
				t.audit(model.AuditDomainDelete, "domain:"+n, n, "")
			}
			return nil
		})
		if err != nil {
			if len(unlinked) > 0 && errors.Is(err, store.ErrDomainNotFound) {
				err = fmt.Errorf("%w (it was deleted by another change while this one unlinked its keys)", err)
			}
			return model.Domain{}, err
		}
		if done {
			out.Keys = append(unlinked, out.Keys...)
			slices.Sort(out.Keys)
			out.Keys = slices.Compact(out.Keys)
			return out, nil
		}
		unlinked = append(unlinked, out.Keys[:deleteBatch]...)
	}
}

// unlinkKeys removes domain n from each key of ids in t: both sides of each
// link and one "unlink" entry per key.
func (t *tx) unlinkKeys(n string, ids []string) error {
	s := t.s
	gets := make([]get, len(ids))
	for i, id := range ids {
		gets[i] = get{key: s.keyKey(id)}
	}
	r, err := t.read(gets...)
	if err != nil {
		return err
	}
	for i, kvs := range r {
		if len(kvs) == 0 {
			return fmt.Errorf("domain %s links to a missing key %s: %w", model.Escape(n), model.Escape(ids[i]), errCorrupt)
		}
		rec, err := s.decodeKV(kvs[0])
		if err != nil {
			return err
		}
		k := rec.key.Clone()
		k.Domains = slices.DeleteFunc(k.Domains, func(d string) bool { return d == n })
		t.writeKey(keyRec{key: k, modRev: rec.modRev})
		t.del(s.linkKey(n, k.ID))
		t.audit(model.AuditUnlink, "key:"+k.ID, n, "")
	}
	return nil
}

// LinkKey links domains to a key, all or nothing, in one transaction:
// model.ErrKeyRevoked for a revoked key, store.ErrDomainNotFound for the
// first unknown domain. Each new link writes one "link" audit entry;
// existing links are left alone. At most maxLinkBatch domains per call.
func (s *Store) LinkKey(ctx context.Context, id string, domains ...string) (model.Key, error) {
	return s.relink(ctx, id, domains, true)
}

// UnlinkKey unlinks domains from a key, all or nothing; a domain that is not
// linked is ignored, an unknown one is store.ErrDomainNotFound. Each removed
// link writes one "unlink" audit entry.
func (s *Store) UnlinkKey(ctx context.Context, id string, domains ...string) (model.Key, error) {
	return s.relink(ctx, id, domains, false)
}

func (s *Store) relink(ctx context.Context, id string, domains []string, add bool) (model.Key, error) {
	var names []string
	seen := map[string]bool{}
	for _, name := range domains {
		n, err := lookupName(name)
		if err != nil {
			return model.Key{}, err
		}
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	if len(names) > maxLinkBatch {
		return model.Key{}, fmt.Errorf("%w: %d domains at once: link or unlink at most %d per call", store.ErrInvalid, len(names), maxLinkBatch)
	}
	return s.changeKey(ctx, id, func(t *tx, k *model.Key) (bool, error) {
		if add && k.Status == model.Revoked {
			return false, model.ErrKeyRevoked
		}
		gets := make([]get, len(names))
		for i, n := range names {
			gets[i] = get{key: s.domainKey(n), keysOnly: true}
		}
		r, err := t.read(gets...)
		if err != nil {
			return false, err
		}
		for i, kvs := range r {
			if len(kvs) == 0 {
				return false, domainNotFound(names[i])
			}
		}
		changed := false
		for i, n := range names {
			if slices.Contains(k.Domains, n) == add {
				continue
			}
			changed = true
			if add {
				t.when(clientv3.Compare(clientv3.CreateRevision(s.domainKey(n)), "=", r[i][0].CreateRevision))
				k.Domains = append(k.Domains, n)
				t.put(s.linkKey(n, k.ID), nil)
				t.audit(model.AuditLink, "key:"+k.ID, "", n)
			} else {
				k.Domains = slices.DeleteFunc(k.Domains, func(d string) bool { return d == n })
				t.del(s.linkKey(n, k.ID))
				t.audit(model.AuditUnlink, "key:"+k.ID, n, "")
			}
		}
		slices.Sort(k.Domains)
		return changed, nil
	})
}
