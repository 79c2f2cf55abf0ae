package gate

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// After Sync returns, the index holds every change made before the call:
// one key, and a change of several keys at once (a domain delete).
func TestSyncSeesEveryEarlierChange(t *testing.T) {
	f := newFixture(t, Options{})
	a, _ := f.create("a")
	b, _ := f.create("b")
	f.link(a.ID, "app.mysite.tn")
	f.link(b.ID, "app.mysite.tn", "mysite.tn")
	for i := 0; i < 50; i++ {
		if _, err := f.st.DisableKey(f.ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.g.Sync(f.ctx); err != nil {
			t.Fatal(err)
		}
		if k := f.g.indexed(a.ID); k == nil || k.Status != model.Disabled {
			t.Fatalf("round %d: after Sync the index has %+v, want disabled", i, k)
		}
		if _, err := f.st.EnableKey(f.ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.g.Sync(f.ctx); err != nil {
			t.Fatal(err)
		}
		if k := f.g.indexed(a.ID); k.Status != model.Active {
			t.Fatalf("round %d: after Sync the index has %+v, want active", i, k)
		}
	}
	if _, err := f.st.DeleteDomain(f.ctx, "app.mysite.tn"); err != nil {
		t.Fatal(err)
	}
	if err := f.g.Sync(f.ctx); err != nil {
		t.Fatal(err)
	}
	if ka, kb := f.g.indexed(a.ID), f.g.indexed(b.ID); len(ka.Domains) != 0 || !slices.Equal(kb.Domains, []string{"mysite.tn"}) {
		t.Fatalf("after a domain delete and Sync: a %v, b %v", ka.Domains, kb.Domains)
	}
	rv := f.st.(store.Revisioner)
	rev, _ := rv.Revision(f.ctx)
	if got := f.g.Applied(); got != rev {
		t.Fatalf("Applied = %d, store revision %d", got, rev)
	}
}

// Sync ends with ctx, and with ErrNotFollowing once the index no longer
// follows the store.
func TestSyncWhenTheIndexStops(t *testing.T) {
	f := newFixture(t, Options{})
	gctx, stop := context.WithCancel(f.ctx)
	g, err := New(gctx, f.st, Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	stop()
	<-g.stopped
	if _, _, err := f.st.CreateKey(f.ctx, "after", model.Policy{}); err != nil {
		t.Fatal(err)
	}
	if err := g.Sync(f.ctx); !errors.Is(err, ErrNotFollowing) {
		t.Fatalf("Sync on a stopped index: %v", err)
	}
	// A gate that did not see the change yet waits until ctx ends.
	g2 := &Gate{st: f.st, changed: make(chan struct{}), stopped: make(chan struct{})}
	ctx, cancel := context.WithTimeout(f.ctx, 20*time.Millisecond)
	defer cancel()
	if err := g2.Sync(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Sync behind the store: %v", err)
	}
}

// noRevisions hides the store's revisions.
type noRevisions struct{ store.GateSource }

func TestSyncWithoutRevisionsReturnsAtOnce(t *testing.T) {
	f := newFixture(t, Options{})
	g, err := New(f.ctx, noRevisions{f.st}, Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Sync(f.ctx); err != nil || g.Applied() != 0 {
		t.Fatalf("Sync = %v, Applied = %d", err, g.Applied())
	}
}
