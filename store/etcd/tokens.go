package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

type tokenRecord struct {
	Prefix  string    `json:"p"`
	Digest  string    `json:"d"`
	Created time.Time `json:"c"`
	Role    string    `json:"r"`
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
	role := model.Role(r.Role)
	if !role.Valid() {
		return store.Token{}, errCorrupt
	}
	return store.Token{Name: name, Prefix: r.Prefix, Digest: d, Created: r.Created.UTC(), Role: role}, nil
}

func encodeToken(t store.Token) ([]byte, error) {
	return json.Marshal(tokenRecord{Prefix: t.Prefix, Digest: t.Digest.String(), Created: t.Created, Role: string(t.Role)})
}

// CreateToken creates an operator token with a role and returns it with
// its secret ("tm_" + 32 hex), which is not kept. The name follows the
// name rules (model.NormalizeName) and the role must be valid
// (store.ErrInvalid); a taken name is store.ErrTokenExists, also when two
// nodes race for it (a compare on the name's creation).
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
	err = s.change(ctx, func(t *tx) error {
		secret = model.NewTokenSecret()
		d := model.DigestOf(secret)
		r, err := t.read(get{key: s.tokenKey(name), keysOnly: true}, get{key: s.tokenDigestKey(d), keysOnly: true})
		if err != nil {
			return err
		}
		if len(r[0]) > 0 {
			return fmt.Errorf("%w: \"%s\"", store.ErrTokenExists, model.Escape(name))
		}
		if len(r[1]) > 0 {
			return fmt.Errorf("token digest collision: try again")
		}
		out = store.Token{Name: name, Prefix: model.TokenDisplayPrefix(secret), Digest: d, Created: t.at, Role: role}
		v, err := encodeToken(out)
		if err != nil {
			return err
		}
		t.when(clientv3.Compare(clientv3.CreateRevision(s.tokenKey(name)), "=", 0),
			clientv3.Compare(clientv3.CreateRevision(s.tokenDigestKey(d)), "=", 0))
		t.put(s.tokenKey(name), v)
		t.put(s.tokenDigestKey(d), []byte(name))
		t.audit(model.AuditCreate, "token:"+name, "", out.Prefix+" "+string(role))
		return nil
	})
	if err != nil {
		return store.Token{}, "", err
	}
	return out, secret, nil
}

// SetTokenRole changes a token's role: store.ErrTokenNotFound when there
// is no such token, store.ErrInvalid for a bad role. Setting the role it
// has changes nothing and writes no audit entry.
func (s *Store) SetTokenRole(ctx context.Context, name string, role model.Role) (store.Token, error) {
	if err := model.CheckRole(role); err != nil {
		return store.Token{}, &invalid{err}
	}
	var out store.Token
	err := s.change(ctx, func(t *tx) error {
		kv, err := t.one(s.tokenKey(name))
		if err != nil {
			return err
		}
		if kv == nil {
			return fmt.Errorf("%w: \"%s\" (see `tmaps tokens list`)", store.ErrTokenNotFound, model.Escape(name))
		}
		tok, err := decodeToken(name, kv.Value)
		if err != nil {
			return err
		}
		out = tok
		if tok.Role == role {
			return nil
		}
		out.Role = role
		v, err := encodeToken(out)
		if err != nil {
			return err
		}
		t.when(clientv3.Compare(clientv3.ModRevision(s.tokenKey(name)), "=", kv.ModRevision))
		t.put(s.tokenKey(name), v)
		t.audit(model.AuditRole, "token:"+name, string(tok.Role), string(role))
		return nil
	})
	if err != nil {
		return store.Token{}, err
	}
	return out, nil
}

// AppendAudit implements store.AuditAppender: one entry with the actor of
// ctx, in its own transaction.
func (s *Store) AppendAudit(ctx context.Context, action, object, before, after string) error {
	return s.change(ctx, func(t *tx) error {
		t.audit(action, object, before, after)
		return nil
	})
}

var _ store.AuditAppender = (*Store)(nil)

// Tokens lists the tokens by name.
func (s *Store) Tokens(ctx context.Context) ([]store.Token, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	out := []store.Token{}
	var rev int64
	err := s.scan(ctx, &rev, s.tokensPrefix(), prefixEnd(s.tokensPrefix()), false, func(k, v []byte, _, _ int64) error {
		t, err := decodeToken(strings.TrimPrefix(string(k), s.tokensPrefix()), v)
		out = append(out, t)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RevokeToken deletes a token; store.ErrTokenNotFound when there is none.
func (s *Store) RevokeToken(ctx context.Context, name string) error {
	return s.change(ctx, func(t *tx) error {
		kv, err := t.one(s.tokenKey(name))
		if err != nil {
			return err
		}
		if kv == nil {
			return fmt.Errorf("%w: \"%s\" (see `tmaps tokens list`)", store.ErrTokenNotFound, model.Escape(name))
		}
		tok, err := decodeToken(name, kv.Value)
		if err != nil {
			return err
		}
		t.when(clientv3.Compare(clientv3.ModRevision(s.tokenKey(name)), "=", kv.ModRevision))
		t.del(s.tokenKey(name))
		t.del(s.tokenDigestKey(tok.Digest))
		t.audit(model.AuditRevoke, "token:"+name, tok.Prefix, "")
		return nil
	})
}

// TokenByDigest returns the token whose secret has digest d, or
// store.ErrTokenNotFound. It reads the cluster each time, so a token revoked
// on any node is refused on every node at once.
func (s *Store) TokenByDigest(ctx context.Context, d model.Digest) (store.Token, error) {
	if err := s.check(ctx); err != nil {
		return store.Token{}, err
	}
	resp, err := s.get(ctx, clientv3.OpGet(s.tokenDigestKey(d)))
	if err != nil {
		return store.Token{}, err
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return store.Token{}, store.ErrTokenNotFound
	}
	name := string(kvs[0].Value)
	resp, err = s.get(ctx, clientv3.OpGet(s.tokenKey(name)))
	if err != nil {
		return store.Token{}, err
	}
	kvs = resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return store.Token{}, store.ErrTokenNotFound
	}
	return decodeToken(name, kvs[0].Value)
}
