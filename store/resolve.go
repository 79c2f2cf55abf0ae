package store

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/tmaps/console/model"
)

// AmbiguousError is returned by ResolveKey when a reference matches several keys.
type AmbiguousError struct {
	Ref        string
	Candidates []model.Key
}

func (e *AmbiguousError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q matches %d keys; use an id:", e.Ref, len(e.Candidates))
	for _, k := range e.Candidates {
		fmt.Fprintf(&b, "\n  %s  %s  %s  %s", k.ID, k.Prefix, k.Status.Label(), model.Escape(k.Name))
	}
	return b.String()
}

// ResolveKey finds the key a person means by ref: an exact id, then a unique
// exact name (unless ref has the shape of an id or a display prefix, see
// model.LooksLikeKeyRef), then a unique prefix of an id or of a display
// prefix (ak_…).
// It returns ErrKeyNotFound (wrapped, naming ref) or *AmbiguousError.
func ResolveKey(ctx context.Context, s Store, ref string) (model.Key, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return model.Key{}, fmt.Errorf("%w: empty key reference", ErrKeyNotFound)
	}
	if k, err := s.Key(ctx, ref); err == nil {
		return k, nil
	}
	keys, err := s.Keys(ctx)
	if err != nil {
		return model.Key{}, err
	}
	pick := func(match func(model.Key) bool) ([]model.Key, bool) {
		var found []model.Key
		for _, k := range keys {
			if match(k) {
				found = append(found, k)
			}
		}
		return found, len(found) > 0
	}
	// A reference shaped like an id or a display prefix never matches a
	// name: names of that shape are refused now, but an older store may
	// hold one, and it must not capture `keys revoke ak_…`.
	var found []model.Key
	ok := false
	if !model.LooksLikeKeyRef(ref) {
		found, ok = pick(func(k model.Key) bool { return k.Name == ref })
	}
	if !ok && len(ref) >= 3 {
		found, ok = pick(func(k model.Key) bool {
			return strings.HasPrefix(k.ID, ref) || strings.HasPrefix(k.Prefix, ref)
		})
	}
	switch {
	case !ok:
		return model.Key{}, fmt.Errorf("%w: %q is not a key id, prefix or name (see `tmaps keys list`)", ErrKeyNotFound, ref)
	case len(found) == 1:
		return found[0], nil
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Created.Before(found[j].Created) })
	return model.Key{}, &AmbiguousError{Ref: ref, Candidates: found}
}
