package server

import (
	"context"
	"errors"
	"sync"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// errTokenRevoked is the cause of a request context ended because its
// operator token was revoked.
var errTokenRevoked = errors.New("the operator token was revoked")

// live tracks the requests in flight by their token, so that revoking a
// token ends its requests at once (its event streams above all).
type live struct {
	mu   sync.Mutex
	reqs map[*liveReq]struct{}
}

type liveReq struct {
	digest model.Digest
	cancel context.CancelCauseFunc
}

// add registers a request made with the token of digest d; the returned
// context ends when the token is revoked, and done unregisters it.
func (l *live) add(ctx context.Context, d model.Digest) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	r := &liveReq{digest: d, cancel: cancel}
	l.mu.Lock()
	if l.reqs == nil {
		l.reqs = map[*liveReq]struct{}{}
	}
	l.reqs[r] = struct{}{}
	l.mu.Unlock()
	return ctx, func() {
		l.mu.Lock()
		delete(l.reqs, r)
		l.mu.Unlock()
		cancel(nil)
	}
}

// recheck ends every request whose token the store no longer has. A lookup
// that fails for another reason leaves the request alone.
func (l *live) recheck(ctx context.Context, tokens store.TokenStore) {
	l.mu.Lock()
	byDigest := map[model.Digest][]*liveReq{}
	for r := range l.reqs {
		byDigest[r.digest] = append(byDigest[r.digest], r)
	}
	l.mu.Unlock()
	for d, rs := range byDigest {
		if _, err := tokens.TokenByDigest(ctx, d); errors.Is(err, store.ErrNotFound) {
			for _, r := range rs {
				r.cancel(errTokenRevoked)
			}
		}
	}
}

// followTokens subscribes to the store's events and, in a goroutine,
// rechecks the requests in flight on every token event (and resync) until
// ctx ends or the store closes: a token revoked by any path (the API, the
// CLI or an SSH command on the daemon's store, another node of a cluster)
// ends its requests here.
func (srv *Server) followTokens(ctx context.Context) {
	ch, err := srv.s.Watch(ctx)
	if err != nil {
		srv.log.Error("not following token revocations: requests of a revoked token run to their end", "err", err)
		return
	}
	go func() {
		for ev := range ch {
			if ev.Kind == store.EventToken || ev.Kind == store.EventResync {
				srv.live.recheck(ctx, srv.opt.Tokens)
			}
		}
	}()
}

// tokenOf returns the digest of the token a request was authorized with.
func tokenOf(ctx context.Context) (model.Digest, bool) {
	t, ok := ctx.Value(tokenCtxKey{}).(store.Token)
	return t.Digest, ok
}
