package store

import (
	"context"
	"errors"
	"time"

	"github.com/tmaps/console/model"
)

// ErrTokenNotFound is returned for an unknown or revoked operator token.
var ErrTokenNotFound = &wrapped{"no such token", ErrNotFound}

// ErrTokenExists is returned when a token name is already taken.
var ErrTokenExists = errors.New("a token with this name already exists")

// Token is an operator token of the management API. Its secret ("tm_" + 32
// hex) is shown once; the store keeps only its digest.
type Token struct {
	Name    string       `json:"name"`
	Prefix  string       `json:"prefix"`
	Digest  model.Digest `json:"-"`
	Created time.Time    `json:"created"`
	// Role is what the token may do; tokens made before roles existed are
	// model.RoleAdmin.
	Role model.Role `json:"role"`
}

// TokenStore keeps operator tokens. Only the daemon's local store has them.
type TokenStore interface {
	// CreateToken creates a token with a role and returns it with its
	// secret. An invalid role is ErrInvalid; a taken name ErrTokenExists.
	CreateToken(ctx context.Context, name string, role model.Role) (Token, string, error)
	// SetTokenRole changes a token's role (audited as model.AuditRole,
	// nothing when the role is unchanged) and returns the token.
	SetTokenRole(ctx context.Context, name string, role model.Role) (Token, error)
	// Tokens lists tokens by name.
	Tokens(ctx context.Context) ([]Token, error)
	// RevokeToken deletes a token; ErrTokenNotFound when there is none.
	// A store that is also a Watcher publishes an EventToken after the
	// commit, so that every server ends the token's requests in flight
	// (its open event streams) whoever revoked it.
	RevokeToken(ctx context.Context, name string) error
	// TokenByDigest returns the token whose secret has digest d.
	TokenByDigest(ctx context.Context, d model.Digest) (Token, error)
}
