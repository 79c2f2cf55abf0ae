package store

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/tmaps/console/model"
)

// AuditAppender is implemented by stores that can record an audit entry
// that is not a change, such as a refusal by role. The bolt store does; the
// remote store does not (the server audits what it refuses).
type AuditAppender interface {
	// AppendAudit appends one entry with the actor of ctx.
	AppendAudit(ctx context.Context, action, object, before, after string) error
}

// Guarded is a store restricted to what a role may do. Every method checks
// the role table (model.Role.Can) before it reaches the store underneath;
// a refused call changes nothing, returns a *model.ForbiddenError and, when
// the store is an AuditAppender, is audited as model.AuditRefused with the
// operation in After. The operator tokens of the store underneath (when it
// has them) are guarded the same way.
type Guarded struct {
	st   Store
	role model.Role
}

// guardedLinks is a Guarded whose store counts usage per link.
type guardedLinks struct {
	*Guarded
	lu LinkUsage
}

// MatchedHosts implements LinkUsage.
func (g guardedLinks) MatchedHosts(ctx context.Context, keyID string) ([]MatchedHost, error) {
	if err := g.check(ctx, model.OpUsageRead, "key:"+keyID); err != nil {
		return nil, err
	}
	return g.lu.MatchedHosts(ctx, keyID)
}

// Guard returns st restricted to role. The result implements LinkUsage
// when st does.
func Guard(st Store, role model.Role) Store {
	g := &Guarded{st: st, role: role}
	if lu, ok := st.(LinkUsage); ok {
		return guardedLinks{g, lu}
	}
	return g
}

// Role is the role the store is restricted to.
func (g *Guarded) Role() model.Role { return g.role }

// Unwrap returns the store underneath.
func (g *Guarded) Unwrap() Store { return g.st }

// check refuses op unless the role allows it, auditing the refusal.
func (g *Guarded) check(ctx context.Context, op model.Op, object string) error {
	err := g.role.Check(op)
	if err == nil {
		return nil
	}
	if op.Changes() {
		if aa, ok := g.st.(AuditAppender); ok {
			// The refusal is the answer; a failure to audit it must not
			// turn it into something else.
			_ = aa.AppendAudit(ctx, model.AuditRefused, object, "", string(op))
		}
	}
	return err
}

// Key implements Store.
func (g *Guarded) Key(ctx context.Context, id string) (model.Key, error) {
	if err := g.check(ctx, model.OpKeysRead, "key:"+id); err != nil {
		return model.Key{}, err
	}
	return g.st.Key(ctx, id)
}

// KeyByDigest implements Store.
func (g *Guarded) KeyByDigest(ctx context.Context, d model.Digest) (model.Key, error) {
	if err := g.check(ctx, model.OpKeysRead, ""); err != nil {
		return model.Key{}, err
	}
	return g.st.KeyByDigest(ctx, d)
}

// Keys implements Store.
func (g *Guarded) Keys(ctx context.Context) ([]model.Key, error) {
	if err := g.check(ctx, model.OpKeysRead, ""); err != nil {
		return nil, err
	}
	return g.st.Keys(ctx)
}

// CreateKey implements Store.
func (g *Guarded) CreateKey(ctx context.Context, name string, p model.Policy) (model.Key, string, error) {
	if err := g.check(ctx, model.OpKeysCreate, ""); err != nil {
		return model.Key{}, "", err
	}
	return g.st.CreateKey(ctx, name, p)
}

// UpdateKey implements Store.
func (g *Guarded) UpdateKey(ctx context.Context, id string, u model.KeyUpdate) (model.Key, error) {
	if err := g.check(ctx, model.OpKeysPolicy, "key:"+id); err != nil {
		return model.Key{}, err
	}
	return g.st.UpdateKey(ctx, id, u)
}

// RenameKey implements Store.
func (g *Guarded) RenameKey(ctx context.Context, id, name string) (model.Key, error) {
	if err := g.check(ctx, model.OpKeysRename, "key:"+id); err != nil {
		return model.Key{}, err
	}
	return g.st.RenameKey(ctx, id, name)
}

// DisableKey implements Store.
func (g *Guarded) DisableKey(ctx context.Context, id string) (model.Key, error) {
	if err := g.check(ctx, model.OpKeysDisable, "key:"+id); err != nil {
		return model.Key{}, err
	}
	return g.st.DisableKey(ctx, id)
}

// EnableKey implements Store.
func (g *Guarded) EnableKey(ctx context.Context, id string) (model.Key, error) {
	if err := g.check(ctx, model.OpKeysEnable, "key:"+id); err != nil {
		return model.Key{}, err
	}
	return g.st.EnableKey(ctx, id)
}

// RevokeKey implements Store.
func (g *Guarded) RevokeKey(ctx context.Context, id, confirm string) (model.Key, error) {
	if err := g.check(ctx, model.OpKeysRevoke, "key:"+id); err != nil {
		return model.Key{}, err
	}
	return g.st.RevokeKey(ctx, id, confirm)
}

// RotateKey implements Store.
func (g *Guarded) RotateKey(ctx context.Context, id string, expireOldIn time.Duration) (model.Key, string, error) {
	if err := g.check(ctx, model.OpKeysRotate, "key:"+id); err != nil {
		return model.Key{}, "", err
	}
	return g.st.RotateKey(ctx, id, expireOldIn)
}

// LinkKey implements Store.
func (g *Guarded) LinkKey(ctx context.Context, id string, domains ...string) (model.Key, error) {
	if err := g.check(ctx, model.OpKeysLink, "key:"+id); err != nil {
		return model.Key{}, err
	}
	return g.st.LinkKey(ctx, id, domains...)
}

// UnlinkKey implements Store.
func (g *Guarded) UnlinkKey(ctx context.Context, id string, domains ...string) (model.Key, error) {
	if err := g.check(ctx, model.OpKeysUnlink, "key:"+id); err != nil {
		return model.Key{}, err
	}
	return g.st.UnlinkKey(ctx, id, domains...)
}

// AddDomain implements Store.
func (g *Guarded) AddDomain(ctx context.Context, name string) (model.Domain, error) {
	if err := g.check(ctx, model.OpDomainsAdd, "domain:"+name); err != nil {
		return model.Domain{}, err
	}
	return g.st.AddDomain(ctx, name)
}

// Domain implements Store.
func (g *Guarded) Domain(ctx context.Context, name string) (model.Domain, error) {
	if err := g.check(ctx, model.OpDomainsRead, "domain:"+name); err != nil {
		return model.Domain{}, err
	}
	return g.st.Domain(ctx, name)
}

// Domains implements Store.
func (g *Guarded) Domains(ctx context.Context) ([]model.Domain, error) {
	if err := g.check(ctx, model.OpDomainsRead, ""); err != nil {
		return nil, err
	}
	return g.st.Domains(ctx)
}

// DeleteDomain implements Store.
func (g *Guarded) DeleteDomain(ctx context.Context, name string) (model.Domain, error) {
	if err := g.check(ctx, model.OpDomainsDelete, "domain:"+name); err != nil {
		return model.Domain{}, err
	}
	return g.st.DeleteDomain(ctx, name)
}

// Audit implements Store.
func (g *Guarded) Audit(ctx context.Context, q AuditQuery) ([]model.AuditEntry, error) {
	if err := g.check(ctx, model.OpAuditRead, ""); err != nil {
		return nil, err
	}
	return g.st.Audit(ctx, q)
}

// RecordUsage implements Store.
func (g *Guarded) RecordUsage(ctx context.Context, deltas []UsageDelta) error {
	if err := g.check(ctx, model.OpUsageRecord, ""); err != nil {
		return err
	}
	return g.st.RecordUsage(ctx, deltas)
}

// Usage implements Store.
func (g *Guarded) Usage(ctx context.Context, q UsageQuery) ([]UsageBucket, error) {
	if err := g.check(ctx, model.OpUsageRead, ""); err != nil {
		return nil, err
	}
	return g.st.Usage(ctx, q)
}

// RefusedHosts implements Store.
func (g *Guarded) RefusedHosts(ctx context.Context, keyID string) ([]RefusedHost, error) {
	if err := g.check(ctx, model.OpUsageRead, "key:"+keyID); err != nil {
		return nil, err
	}
	return g.st.RefusedHosts(ctx, keyID)
}

// Watch implements Store.
func (g *Guarded) Watch(ctx context.Context) (<-chan Event, error) {
	if err := g.check(ctx, model.OpEventsRead, ""); err != nil {
		return nil, err
	}
	return g.st.Watch(ctx)
}

// Close closes the store underneath.
func (g *Guarded) Close() error { return g.st.Close() }

// errNoTokens is the answer of the token methods over a store without
// operator tokens.
var errNoTokens = errors.New("this store has no operator tokens: run `tmaps tokens` with --db on the daemon's host")

func (g *Guarded) tokens() (TokenStore, error) {
	ts, ok := g.st.(TokenStore)
	if !ok {
		return nil, errNoTokens
	}
	return ts, nil
}

// CreateToken implements TokenStore.
func (g *Guarded) CreateToken(ctx context.Context, name string, role model.Role) (Token, string, error) {
	if err := g.check(ctx, model.OpTokensCreate, "token:"+name); err != nil {
		return Token{}, "", err
	}
	ts, err := g.tokens()
	if err != nil {
		return Token{}, "", err
	}
	return ts.CreateToken(ctx, name, role)
}

// SetTokenRole implements TokenStore.
func (g *Guarded) SetTokenRole(ctx context.Context, name string, role model.Role) (Token, error) {
	if err := g.check(ctx, model.OpTokensSetRole, "token:"+name); err != nil {
		return Token{}, err
	}
	ts, err := g.tokens()
	if err != nil {
		return Token{}, err
	}
	return ts.SetTokenRole(ctx, name, role)
}

// Tokens implements TokenStore.
func (g *Guarded) Tokens(ctx context.Context) ([]Token, error) {
	if err := g.check(ctx, model.OpTokensRead, ""); err != nil {
		return nil, err
	}
	ts, err := g.tokens()
	if err != nil {
		return nil, err
	}
	return ts.Tokens(ctx)
}

// RevokeToken implements TokenStore.
func (g *Guarded) RevokeToken(ctx context.Context, name string) error {
	if err := g.check(ctx, model.OpTokensRevoke, "token:"+name); err != nil {
		return err
	}
	ts, err := g.tokens()
	if err != nil {
		return err
	}
	return ts.RevokeToken(ctx, name)
}

// TokenByDigest implements TokenStore.
func (g *Guarded) TokenByDigest(ctx context.Context, d model.Digest) (Token, error) {
	if err := g.check(ctx, model.OpTokensRead, ""); err != nil {
		return Token{}, err
	}
	ts, err := g.tokens()
	if err != nil {
		return Token{}, err
	}
	return ts.TokenByDigest(ctx, d)
}

// Alerts implements AlertReader; a store that keeps no alerts answers
// ErrUnsupported.
func (g *Guarded) Alerts(ctx context.Context, q AlertQuery) ([]model.Alert, error) {
	if err := g.check(ctx, model.OpAlertsRead, ""); err != nil {
		return nil, err
	}
	ar, ok := g.st.(AlertReader)
	if !ok {
		return nil, ErrNoAlerts
	}
	return ar.Alerts(ctx, q)
}

var (
	_ AlertReader = (*Guarded)(nil)
	_ Store       = (*Guarded)(nil)
	_ TokenStore  = (*Guarded)(nil)
	_ LinkUsage   = guardedLinks{}
)

// Backup implements Backuper when the store underneath does; backing up
// needs the admin role (a copy holds every digest and the audit log).
func (g *Guarded) Backup(ctx context.Context, w io.Writer) (int64, error) {
	if err := g.check(ctx, model.OpStoreBackup, ""); err != nil {
		return 0, err
	}
	b, ok := g.st.(Backuper)
	if !ok {
		return 0, errors.New("this store cannot be backed up")
	}
	return b.Backup(ctx, w)
}
