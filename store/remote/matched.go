package remote

import (
	"context"
	"fmt"

	"github.com/tmaps/console/store"
)

// MatchedHosts implements store.LinkUsage over GET /v1/keys/{id}/matched-hosts.
func (s *Store) MatchedHosts(ctx context.Context, keyID string) ([]store.MatchedHost, error) {
	if keyID == "" {
		return nil, fmt.Errorf("%w: empty id", store.ErrKeyNotFound)
	}
	out := []store.MatchedHost{}
	err := s.do(ctx, call{method: "GET", path: "/v1/keys/" + seg(keyID) + "/matched-hosts", out: &out, read: true})
	return out, err
}

var _ store.LinkUsage = (*Store)(nil)

// Hygiene implements store.HygieneReporter over GET /v1/hygiene: the
// server makes the report, with the usage its store keeps.
func (s *Store) Hygiene(ctx context.Context) (store.HygieneReport, error) {
	var out store.HygieneReport
	err := s.do(ctx, call{method: "GET", path: "/v1/hygiene", out: &out, read: true})
	return out, err
}

var _ store.HygieneReporter = (*Store)(nil)
