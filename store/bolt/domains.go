package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// domainRecord is a domain as stored; its name is the bucket key and its
// links live in domain_keys.
type domainRecord struct {
	Unicode string    `json:"u"`
	Created time.Time `json:"c"`
}

// normDomain normalises a domain a caller typed.
func normDomain(name string) (string, error) {
	n, err := model.NormalizeDomain(name)
	if err != nil {
		return "", &invalid{err}
	}
	if n == "" || strings.IndexByte(n, 0) >= 0 {
		return "", &invalid{&model.DomainError{Input: name, Problem: "the domain is empty", Fix: "enter a host name such as mysite.tn"}}
	}
	return n, nil
}

// lookupName normalises a domain used as a reference to an existing one: a
// name that cannot be valid is simply not found (with the reason).
func lookupName(name string) (string, error) {
	n, err := normDomain(name)
	if err != nil {
		var de *model.DomainError
		if errors.As(err, &de) {
			return "", fmt.Errorf("%w: \"%s\": %w", store.ErrDomainNotFound, trimmed(name), de)
		}
		return "", fmt.Errorf("%w: \"%s\"", store.ErrDomainNotFound, trimmed(name))
	}
	return n, nil
}

func domainNotFound(name string) error {
	return fmt.Errorf("%w: \"%s\" (add it with `tmaps domains add %s`)", store.ErrDomainNotFound, model.Escape(name), model.Escape(name))
}

func dkKey(domain, id string) []byte {
	b := make([]byte, 0, len(domain)+1+len(id))
	b = append(b, domain...)
	b = append(b, 0)
	return append(b, id...)
}

func kdKey(seq uint64, domain string) []byte {
	return append(u64(seq), domain...)
}

// getDomain loads a domain with its links, or ErrDomainNotFound.
func getDomain(tx *bbolt.Tx, name string) (model.Domain, error) {
	v := tx.Bucket(bDomains).Get([]byte(name))
	if v == nil {
		return model.Domain{}, domainNotFound(name)
	}
	d, err := decodeDomain(name, v)
	if err != nil {
		return d, err
	}
	d.Keys = domainKeys(tx, name)
	return d, nil
}

func decodeDomain(name string, v []byte) (model.Domain, error) {
	var r domainRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return model.Domain{}, fmt.Errorf("domain %q: %w", name, errCorrupt)
	}
	u := r.Unicode
	if u == "" {
		u = name
	}
	return model.Domain{Name: name, Unicode: u, Created: r.Created.UTC(), Keys: []string{}}, nil
}

// domainKeys returns the sorted ids of the keys linked to a domain.
func domainKeys(tx *bbolt.Tx, name string) []string {
	prefix := dkKey(name, "")
	out := []string{}
	c := tx.Bucket(bDomainKeys).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		out = append(out, string(k[len(prefix):]))
	}
	return out
}

// link records a link both ways; it reports nothing when it already exists.
func link(tx *bbolt.Tx, r keyRecord, domain string) error {
	if err := tx.Bucket(bKeyDomains).Put(kdKey(r.seq, domain), nil); err != nil {
		return err
	}
	return tx.Bucket(bDomainKeys).Put(dkKey(domain, r.key.ID), nil)
}

func unlink(tx *bbolt.Tx, r keyRecord, domain string) error {
	if err := tx.Bucket(bKeyDomains).Delete(kdKey(r.seq, domain)); err != nil {
		return err
	}
	return tx.Bucket(bDomainKeys).Delete(dkKey(domain, r.key.ID))
}

func linked(tx *bbolt.Tx, r keyRecord, domain string) bool {
	return tx.Bucket(bKeyDomains).Get(kdKey(r.seq, domain)) != nil
}

// AddDomain normalises and adds a domain. A bad name returns a
// *model.DomainError wrapped with store.ErrInvalid; an existing one
// store.ErrDomainExists together with the existing domain.
func (s *Store) AddDomain(ctx context.Context, name string) (model.Domain, error) {
	n, err := normDomain(name)
	if err != nil {
		return model.Domain{}, err
	}
	var out model.Domain
	err = s.update(ctx, func(tx *bbolt.Tx) ([]store.Event, error) {
		if d, err := getDomain(tx, n); err == nil {
			out = d
			return nil, fmt.Errorf("%w: %s", store.ErrDomainExists, model.Escape(n))
		}
		rec := domainRecord{Unicode: model.DomainUnicode(n), Created: s.now().UTC()}
		v, err := json.Marshal(rec)
		if err != nil {
			return nil, err
		}
		if err := tx.Bucket(bDomains).Put([]byte(n), v); err != nil {
			return nil, err
		}
		if err := s.audit(ctx, tx, model.AuditDomainAdd, "domain:"+n, "", n); err != nil {
			return nil, err
		}
		out, err = getDomain(tx, n)
		return []store.Event{{Kind: store.EventDomain, ID: n, Action: model.AuditDomainAdd}}, err
	})
	return out, err
}

// Domain returns a domain by any accepted spelling, or store.ErrDomainNotFound.
func (s *Store) Domain(ctx context.Context, name string) (model.Domain, error) {
	n, err := lookupName(name)
	if err != nil {
		return model.Domain{}, err
	}
	var out model.Domain
	err = s.view(ctx, func(tx *bbolt.Tx) error {
		out, err = getDomain(tx, n)
		return err
	})
	return out, err
}

// Domains returns every domain sorted by ASCII name, in one pass.
func (s *Store) Domains(ctx context.Context) ([]model.Domain, error) {
	out := []model.Domain{}
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		lc := tx.Bucket(bDomainKeys).Cursor()
		lk, _ := lc.First()
		c := tx.Bucket(bDomains).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			d, err := decodeDomain(string(k), v)
			if err != nil {
				return err
			}
			prefix := dkKey(d.Name, "")
			for lk != nil && bytes.Compare(lk, prefix) < 0 {
				lk, _ = lc.Next()
			}
			for lk != nil && bytes.HasPrefix(lk, prefix) {
				d.Keys = append(d.Keys, string(lk[len(prefix):]))
				lk, _ = lc.Next()
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteDomain removes a domain and unlinks it from every key in the same
// transaction. Audit: "domain.delete" plus one "unlink" per key.
func (s *Store) DeleteDomain(ctx context.Context, name string) (model.Domain, error) {
	n, err := lookupName(name)
	if err != nil {
		return model.Domain{}, err
	}
	var out model.Domain
	err = s.update(ctx, func(tx *bbolt.Tx) ([]store.Event, error) {
		d, err := getDomain(tx, n)
		if err != nil {
			return nil, err
		}
		evs := []store.Event{{Kind: store.EventDomain, ID: n, Action: model.AuditDomainDelete}}
		for _, id := range d.Keys {
			r, err := getKey(tx, id)
			if err != nil {
				return nil, fmt.Errorf("domain %s links to a missing key: %w", n, err)
			}
			if err := unlink(tx, r, n); err != nil {
				return nil, err
			}
			if err := s.audit(ctx, tx, model.AuditUnlink, "key:"+id, n, ""); err != nil {
				return nil, err
			}
			evs = append(evs, store.Event{Kind: store.EventKey, ID: id, Action: model.AuditUnlink})
		}
		if err := tx.Bucket(bDomains).Delete([]byte(n)); err != nil {
			return nil, err
		}
		if err := s.audit(ctx, tx, model.AuditDomainDelete, "domain:"+n, n, ""); err != nil {
			return nil, err
		}
		out = d
		return evs, nil
	})
	if err != nil {
		return model.Domain{}, err
	}
	return out, nil
}

// resolveDomains normalises domain arguments, drops duplicates and checks
// each exists; the first missing one is store.ErrDomainNotFound.
func resolveDomains(tx *bbolt.Tx, names []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, name := range names {
		n, err := lookupName(name)
		if err != nil {
			return nil, err
		}
		if tx.Bucket(bDomains).Get([]byte(n)) == nil {
			return nil, domainNotFound(n)
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// LinkKey links domains to a key, all or nothing: model.ErrKeyRevoked for a
// revoked key, store.ErrDomainNotFound for the first unknown domain. Each
// new link writes one "link" audit entry; existing links are left alone.
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
	var out model.Key
	err := s.update(ctx, func(tx *bbolt.Tx) ([]store.Event, error) {
		r, err := getKey(tx, id)
		if err != nil {
			return nil, err
		}
		if add && r.key.Status == model.Revoked {
			return nil, model.ErrKeyRevoked
		}
		names, err := resolveDomains(tx, domains)
		if err != nil {
			return nil, err
		}
		var evs []store.Event
		for _, n := range names {
			if linked(tx, r, n) == add {
				continue
			}
			action, before, after := model.AuditLink, "", n
			if add {
				err = link(tx, r, n)
			} else {
				action, before, after = model.AuditUnlink, n, ""
				err = unlink(tx, r, n)
			}
			if err != nil {
				return nil, err
			}
			if err := s.audit(ctx, tx, action, "key:"+r.key.ID, before, after); err != nil {
				return nil, err
			}
			evs = append(evs, store.Event{Kind: store.EventDomain, ID: n, Action: action})
		}
		if len(evs) > 0 {
			action := model.AuditLink
			if !add {
				action = model.AuditUnlink
			}
			evs = append([]store.Event{{Kind: store.EventKey, ID: r.key.ID, Action: action}}, evs...)
		}
		out = fullKey(tx, r)
		return evs, nil
	})
	if err != nil {
		return model.Key{}, err
	}
	return out, nil
}
