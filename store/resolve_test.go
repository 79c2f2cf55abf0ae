package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// keysOnly is a Store that answers Key and Keys from a fixed list; other
// methods are not used by ResolveKey (calling one panics).
type keysOnly struct {
	store.Store
	keys []model.Key
	err  error
}

func (s keysOnly) Key(_ context.Context, id string) (model.Key, error) {
	for _, k := range s.keys {
		if k.ID == id {
			return k, nil
		}
	}
	return model.Key{}, store.ErrKeyNotFound
}

func (s keysOnly) Keys(context.Context) ([]model.Key, error) { return s.keys, s.err }

func TestResolveKey(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	keys := []model.Key{
		{ID: "k1a2b3c4d5e6f", Name: "web", Prefix: "ak_3f9a1c07", Status: model.Active, Created: t0.Add(3 * time.Hour)},
		{ID: "k1a2bffffffff", Name: "mobile", Prefix: "ak_77aa0000", Status: model.Disabled, Created: t0.Add(time.Hour)},
		{ID: "k9999aaaa0000", Name: "mobile", Prefix: "ak_3f9a9999", Status: model.Revoked, Created: t0},
		{ID: "k5555aaaa0000", Name: "k9999", Prefix: "ak_12345678", Status: model.Active, Created: t0},
		// A name from before names shaped like key references were refused.
		{ID: "k6666aaaa0000", Name: "ak_77aa0000", Prefix: "ak_66666666", Status: model.Active, Created: t0},
		{ID: "k4444aaaa0000", Name: "evil\x1b[2Jname", Prefix: "ak_abcdef01", Status: model.Active, Created: t0.Add(2 * time.Hour)},
		{ID: "k4444bbbb0000", Name: "evil\x1b[2Jname", Prefix: "ak_abcdef02", Status: model.Active, Created: t0.Add(time.Hour)},
	}
	s := keysOnly{keys: keys}
	ctx := context.Background()
	for _, tc := range []struct{ ref, want string }{
		{"k1a2b3c4d5e6f", "k1a2b3c4d5e6f"},     // exact id
		{"  k1a2b3c4d5e6f\n", "k1a2b3c4d5e6f"}, // spaces around
		{"web", "k1a2b3c4d5e6f"},               // unique exact name
		{"k1a2b3", "k1a2b3c4d5e6f"},            // unique id prefix
		{"ak_77aa", "k1a2bffffffff"},           // unique display prefix
		{"ak_12345678", "k5555aaaa0000"},       // whole display prefix
		{"k9999", "k9999aaaa0000"},             // a name shaped like an id prefix never captures it
		{"ak_77aa0000", "k1a2bffffffff"},       // nor a name shaped like a display prefix
		{"k6666", "k6666aaaa0000"},
		{"k9999a", "k9999aaaa0000"}, // id prefix
	} {
		got, err := store.ResolveKey(ctx, s, tc.ref)
		if err != nil || got.ID != tc.want {
			t.Errorf("ResolveKey(%q) = %s, %v; want %s", tc.ref, got.ID, err, tc.want)
		}
	}

	for _, tc := range []struct {
		ref  string
		want []string // candidate ids, oldest first
	}{
		{"mobile", []string{"k9999aaaa0000", "k1a2bffffffff"}},
		{"k1a2b", []string{"k1a2bffffffff", "k1a2b3c4d5e6f"}},
		{"ak_3f9a", []string{"k9999aaaa0000", "k1a2b3c4d5e6f"}},
		{"evil\x1b[2Jname", []string{"k4444bbbb0000", "k4444aaaa0000"}},
	} {
		_, err := store.ResolveKey(ctx, s, tc.ref)
		var amb *store.AmbiguousError
		if !errors.As(err, &amb) {
			t.Errorf("ResolveKey(%q) = %v, want *AmbiguousError", tc.ref, err)
			continue
		}
		var ids []string
		for _, k := range amb.Candidates {
			ids = append(ids, k.ID)
		}
		if strings.Join(ids, ",") != strings.Join(tc.want, ",") {
			t.Errorf("ResolveKey(%q) candidates %v, want %v", tc.ref, ids, tc.want)
		}
		msg := err.Error()
		for _, id := range tc.want {
			if !strings.Contains(msg, id) {
				t.Errorf("ambiguity message %q does not list %s", msg, id)
			}
		}
		if strings.Contains(msg, "\x1b") {
			t.Errorf("ambiguity message %q carries a raw escape character", msg)
		}
		if errors.Is(err, store.ErrNotFound) {
			t.Errorf("an ambiguous reference should not read as not found")
		}
	}

	for _, ref := range []string{"", "   ", "nope", "k1", "ak", "ak_0000", "WEB", "we"} {
		_, err := store.ResolveKey(ctx, s, ref)
		if !errors.Is(err, store.ErrKeyNotFound) || !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ResolveKey(%q) = %v, want ErrKeyNotFound", ref, err)
		}
		if ref != "" && strings.TrimSpace(ref) != "" && !strings.Contains(err.Error(), ref) {
			t.Errorf("ResolveKey(%q): message %q should name the reference", ref, err)
		}
	}

	boom := errors.New("disk on fire")
	if _, err := store.ResolveKey(ctx, keysOnly{err: boom}, "web"); !errors.Is(err, boom) {
		t.Errorf("a failing Keys() should surface: %v", err)
	}
}

func TestActor(t *testing.T) {
	if got := store.Actor(context.Background()); got != "unknown" {
		t.Fatalf("Actor(empty) = %q", got)
	}
	if got := store.Actor(store.WithActor(context.Background(), "")); got != "unknown" {
		t.Fatalf("Actor(\"\") = %q", got)
	}
	if got := store.Actor(store.WithActor(context.Background(), "alice")); got != "alice" {
		t.Fatalf("Actor = %q", got)
	}
}

func TestSentinels(t *testing.T) {
	for _, err := range []error{store.ErrKeyNotFound, store.ErrDomainNotFound, store.ErrTokenNotFound} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%v is not ErrNotFound", err)
		}
	}
	if errors.Is(store.ErrKeyNotFound, store.ErrDomainNotFound) {
		t.Error("key and domain not-found errors must differ")
	}
}
