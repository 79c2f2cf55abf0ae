package bolt

import (
	"context"
	"path/filepath"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// A store written before the audit object index existed gets it filled once,
// at open.
func TestAuditIndexBackfill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "console.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, _, _ := s.CreateKey(ctx, "a", model.Policy{})
	b, _, _ := s.CreateKey(ctx, "b", model.Policy{})
	for range 3 {
		s.DisableKey(ctx, a.ID)
		s.EnableKey(ctx, a.ID)
		s.DisableKey(ctx, b.ID)
		s.EnableKey(ctx, b.ID)
	}
	want, _ := s.Audit(ctx, store.AuditQuery{Object: "key:" + a.ID})
	if len(want) != 7 {
		t.Fatalf("%d entries for key a, want 7", len(want))
	}
	if err := s.db.Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket(bAuditObjects) }); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Audit(ctx, store.AuditQuery{Object: "key:" + a.ID})
	if err != nil || len(got) != len(want) {
		t.Fatalf("after backfill: %d entries, %v; want %d", len(got), err, len(want))
	}
	for i := range got {
		if got[i].Seq != want[i].Seq || got[i].Object != "key:"+a.ID {
			t.Fatalf("entry %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	lim, _ := s.Audit(ctx, store.AuditQuery{Object: "key:" + b.ID, Limit: 2})
	if len(lim) != 2 || lim[0].Action != "enable" || lim[1].Action != "disable" || lim[0].Seq <= lim[1].Seq {
		t.Fatalf("limited object query: %+v", lim)
	}
	if none, _ := s.Audit(ctx, store.AuditQuery{Object: "key:k"}); len(none) != 0 {
		t.Fatalf("a prefix of an object matched: %+v", none)
	}
}
