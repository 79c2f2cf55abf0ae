package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// tokenRecord is a token as stored. Records written before roles existed
// have no "r": they decode as admins.
type tokenRecord struct {
	Prefix  string    `json:"p"`
	Digest  string    `json:"d"`
	Created time.Time `json:"c"`
	Role    string    `json:"r,omitempty"`
}

func decodeToken(name string, v []byte) (store.Token, error) {
	var r tokenRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return store.Token{}, errCorrupt
	}
	d, err := model.ParseDigest(r.Digest)
	if err != nil {
		return store.Token{}, errCorrupt
	}
	role := model.RoleAdmin
	if r.Role != "" {
		role = model.Role(r.Role)
		if !role.Valid() {
			return store.Token{}, errCorrupt
		}
	}
	return store.Token{Name: name, Prefix: r.Prefix, Digest: d, Created: r.Created.UTC(), Role: role}, nil
}

func encodeToken(t store.Token) ([]byte, error) {
	return json.Marshal(tokenRecord{Prefix: t.Prefix, Digest: t.Digest.String(), Created: t.Created, Role: string(t.Role)})
}

// CreateToken creates an operator token with a role and returns it with
// its secret ("tm_" + 32 hex), which is not kept. The name follows the
// key-name rules and refuses the same characters (model.NormalizeName),
// and the role must be valid (store.ErrInvalid); a taken name is
// store.ErrTokenExists.
func (s *Store) CreateToken(ctx context.Context, name string, role model.Role) (store.Token, string, error) {
	name, err := model.NormalizeName("token name", name)
	if err != nil {
		return store.Token{}, "", &invalid{err}
	}
	if err := model.CheckRole(role); err != nil {
		return store.Token{}, "", &invalid{err}
	}
	var out store.Token
	var secret string
	err = s.update(ctx, func(tx *bbolt.Tx) ([]store.Event, error) {
		tb, db := tx.Bucket(bTokens), tx.Bucket(bTokenDigests)
		if tb.Get([]byte(name)) != nil {
			return nil, fmt.Errorf("%w: \"%s\"", store.ErrTokenExists, model.Escape(name))
		}
		var d model.Digest
		for {
			secret = model.NewTokenSecret()
			d = model.DigestOf(secret)
			if db.Get(d[:]) == nil {
				break
			}
		}
		out = store.Token{Name: name, Prefix: model.TokenDisplayPrefix(secret), Digest: d, Created: s.now().UTC(), Role: role}
		v, err := encodeToken(out)
		if err != nil {
			return nil, err
		}
		if err := tb.Put([]byte(name), v); err != nil {
			return nil, err
		}
		if err := db.Put(d[:], []byte(name)); err != nil {
			return nil, err
		}
		return nil, s.audit(ctx, tx, model.AuditCreate, "token:"+name, "", out.Prefix+" "+string(role))
	})
	if err != nil {
		return store.Token{}, "", err
	}
	return out, secret, nil
}

// Tokens lists the tokens by name.
func (s *Store) Tokens(ctx context.Context) ([]store.Token, error) {
	out := []store.Token{}
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bTokens).ForEach(func(k, v []byte) error {
			t, err := decodeToken(string(k), v)
			if err != nil {
				return err
			}
			out = append(out, t)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RevokeToken deletes a token and publishes an EventToken;
// store.ErrTokenNotFound when there is none.
func (s *Store) RevokeToken(ctx context.Context, name string) error {
	return s.update(ctx, func(tx *bbolt.Tx) ([]store.Event, error) {
		tb := tx.Bucket(bTokens)
		v := tb.Get([]byte(name))
		if v == nil {
			return nil, fmt.Errorf("%w: \"%s\" (see `tmaps tokens list`)", store.ErrTokenNotFound, model.Escape(name))
		}
		t, err := decodeToken(name, v)
		if err != nil {
			return nil, err
		}
		if err := tx.Bucket(bTokenDigests).Delete(t.Digest[:]); err != nil {
			return nil, err
		}
		if err := tb.Delete([]byte(name)); err != nil {
			return nil, err
		}
		return []store.Event{{Kind: store.EventToken, ID: name, Action: model.AuditRevoke}},
			s.audit(ctx, tx, model.AuditRevoke, "token:"+name, t.Prefix, "")
	})
}

// SetTokenRole changes a token's role: store.ErrTokenNotFound when there
// is no such token, store.ErrInvalid for a bad role. Setting the role it
// has changes nothing and writes no audit entry.
func (s *Store) SetTokenRole(ctx context.Context, name string, role model.Role) (store.Token, error) {
	if err := model.CheckRole(role); err != nil {
		return store.Token{}, &invalid{err}
	}
	var out store.Token
	err := s.update(ctx, func(tx *bbolt.Tx) ([]store.Event, error) {
		tb := tx.Bucket(bTokens)
		v := tb.Get([]byte(name))
		if v == nil {
			return nil, fmt.Errorf("%w: \"%s\" (see `tmaps tokens list`)", store.ErrTokenNotFound, model.Escape(name))
		}
		t, err := decodeToken(name, v)
		if err != nil {
			return nil, err
		}
		out = t
		if t.Role == role {
			return nil, nil
		}
		before := t.Role
		out.Role = role
		nv, err := encodeToken(out)
		if err != nil {
			return nil, err
		}
		if err := tb.Put([]byte(name), nv); err != nil {
			return nil, err
		}
		return nil, s.audit(ctx, tx, model.AuditRole, "token:"+name, string(before), string(role))
	})
	if err != nil {
		return store.Token{}, err
	}
	return out, nil
}

// TokenByDigest returns the token whose secret has digest d, or
// store.ErrTokenNotFound.
func (s *Store) TokenByDigest(ctx context.Context, d model.Digest) (store.Token, error) {
	var out store.Token
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		name := tx.Bucket(bTokenDigests).Get(d[:])
		if name == nil {
			return store.ErrTokenNotFound
		}
		v := tx.Bucket(bTokens).Get(name)
		if v == nil {
			return store.ErrTokenNotFound
		}
		var err error
		out, err = decodeToken(string(name), v)
		return err
	})
	return out, err
}
