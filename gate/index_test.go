package gate

import (
	"fmt"
	"testing"

	"github.com/tmaps/console/model"
)

// Keys whose digests share the bytes the shards hash on are still told
// apart, through every kind of index update.
func TestIndexCollisions(t *testing.T) {
	mk := func(id string, first, last byte) *model.Key {
		k := &model.Key{ID: id, Status: model.Active}
		k.Digest[0] = 7 // same shard
		for i := 8; i < 16; i++ {
			k.Digest[i] = 0xAB // same fast key
		}
		k.Digest[1], k.Digest[31] = first, last
		return k
	}
	var x index
	x.init()
	a, b, c := mk("a", 1, 1), mk("b", 2, 2), mk("c", 3, 3)
	check := func(step string, want map[*model.Key]bool) {
		t.Helper()
		for k, present := range want {
			e := x.get(k.Digest)
			switch {
			case present && (e == nil || e.key.ID != k.ID):
				t.Errorf("%s: %s not found (got %v)", step, k.ID, e)
			case !present && e != nil:
				t.Errorf("%s: %s still found", step, k.ID)
			}
		}
		other := mk("other", 9, 9)
		if e := x.get(other.Digest); e != nil {
			t.Errorf("%s: a digest never added matched %s", step, e.key.ID)
		}
	}
	x.put(a, nil)
	x.put(b, nil)
	x.put(c, nil)
	check("three colliding keys", map[*model.Key]bool{a: true, b: true, c: true})
	x.remove("a") // the one in the fast map: another must take its place
	check("first removed", map[*model.Key]bool{a: false, b: true, c: true})
	b2 := mk("b", 2, 2)
	b2.Status = model.Revoked
	x.put(b2, nil)
	if e := x.get(b.Digest); e == nil || e.key.Status != model.Revoked {
		t.Errorf("replacing b: got %+v", e)
	}
	x.replace([]model.Key{*a, *c}, func(string) *counter { return nil })
	check("replace", map[*model.Key]bool{a: true, b: false, c: true})
	if x.size.Load() != 2 {
		t.Errorf("size %d, want 2", x.size.Load())
	}
}

func TestIndexManyKeys(t *testing.T) {
	var x index
	x.init()
	var keys []model.Key
	for i := range 2000 {
		s := model.NewSecret()
		keys = append(keys, model.Key{ID: fmt.Sprint(i), Digest: model.DigestOf(s)})
	}
	for i := range keys[:1000] {
		x.put(&keys[i], nil)
	}
	x.replace(keys, func(string) *counter { return nil })
	for i := range keys {
		if e := x.get(keys[i].Digest); e == nil || e.key.ID != keys[i].ID {
			t.Fatalf("key %d not found", i)
		}
	}
	for i := range keys[:500] {
		x.remove(keys[i].ID)
	}
	for i := range keys {
		if got := x.get(keys[i].Digest) != nil; got != (i >= 500) {
			t.Fatalf("key %d present = %v", i, got)
		}
	}
}
