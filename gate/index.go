package gate

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/tmaps/console/model"
)

// index maps secret digests to entries. It is sharded by the digest's first
// byte; each shard is immutable and swapped atomically (copy-on-write), so
// lookups take no lock and a writer copies one shard (1/256 of the keys).
type index struct {
	shards [256]atomic.Pointer[shard]
	size   atomic.Int64

	mu   sync.Mutex              // serialises writers
	byID map[string]model.Digest // guarded by mu
}

// shard holds the entries whose digest starts with one byte value. Entries
// are found by 8 further bytes of the digest (a uint64 key hashes faster
// than 32 bytes) and confirmed on the whole digest; the rare entries whose
// 8 bytes collide with another's live in slow.
type shard struct {
	fast map[uint64]*entry
	slow map[model.Digest]*entry // nil unless there is a collision
}

// entry is one key as the gate sees it. It is never modified after it is
// published (a change replaces it), except ctr, set on the key's first
// counted decision: counters are made lazily, so that loading 100k keys
// does not make 100k counters.
type entry struct {
	key *model.Key
	ctr atomic.Pointer[counter]
	// idHeader is the key id as a header value, made once.
	idHeader []string
}

func newEntry(k *model.Key, c *counter) *entry {
	e := &entry{key: k, idHeader: []string{k.ID}}
	if c != nil {
		e.ctr.Store(c)
	}
	return e
}

func fastKey(d *model.Digest) uint64 { return binary.LittleEndian.Uint64(d[8:16]) }

func newShard(n int) *shard { return &shard{fast: make(map[uint64]*entry, n)} }

func (s *shard) get(d *model.Digest) *entry {
	if e := s.fast[fastKey(d)]; e != nil && e.key.Digest == *d {
		return e
	}
	if s.slow != nil {
		return s.slow[*d]
	}
	return nil
}

// add inserts or replaces e in a shard that is not yet published.
func (s *shard) add(e *entry) {
	d := &e.key.Digest
	k := fastKey(d)
	if old := s.fast[k]; old == nil || old.key.Digest == *d {
		s.fast[k] = e
		return
	}
	if s.slow == nil {
		s.slow = map[model.Digest]*entry{}
	}
	s.slow[*d] = e
}

func (s *shard) len() int { return len(s.fast) + len(s.slow) }

// without returns a copy of s without digest d.
func (s *shard) without(d model.Digest) *shard {
	next := newShard(s.len())
	for _, e := range s.fast {
		if e.key.Digest != d {
			next.add(e)
		}
	}
	for _, e := range s.slow {
		if e.key.Digest != d {
			next.add(e)
		}
	}
	return next
}

func (x *index) init() {
	empty := newShard(0)
	for i := range x.shards {
		x.shards[i].Store(empty)
	}
	x.byID = map[string]model.Digest{}
}

func (x *index) get(d model.Digest) *entry {
	return x.shards[d[0]].Load().get(&d)
}

// put inserts or replaces k's entry.
func (x *index) put(k *model.Key, c *counter) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if old, ok := x.byID[k.ID]; ok && old != k.Digest {
		x.delete(old)
	}
	x.byID[k.ID] = k.Digest
	sh := &x.shards[k.Digest[0]]
	next := sh.Load().without(k.Digest)
	next.add(newEntry(k, c))
	sh.Store(next)
	x.size.Store(int64(len(x.byID)))
}

// remove drops the key with this id, if any.
func (x *index) remove(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if d, ok := x.byID[id]; ok {
		delete(x.byID, id)
		x.delete(d)
		x.size.Store(int64(len(x.byID)))
	}
}

// delete removes digest d from its shard; x.mu is held.
func (x *index) delete(d model.Digest) {
	sh := &x.shards[d[0]]
	cur := sh.Load()
	if cur.get(&d) == nil {
		return
	}
	sh.Store(cur.without(d))
}

// replace rebuilds the whole index from keys.
func (x *index) replace(keys []model.Key, counterFor func(id string) *counter) {
	var shards [256]*shard
	per := len(keys)/256 + 1
	for i := range shards {
		shards[i] = newShard(per + per/4)
	}
	byID := make(map[string]model.Digest, len(keys))
	// One allocation for all the entries and one for their id headers.
	entries := make([]entry, len(keys))
	ids := make([]string, len(keys))
	for i := range keys {
		k := &keys[i]
		ids[i] = k.ID
		e := &entries[i]
		e.key, e.idHeader = k, ids[i:i+1:i+1]
		if c := counterFor(k.ID); c != nil {
			e.ctr.Store(c)
		}
		shards[k.Digest[0]].add(e)
		byID[k.ID] = k.Digest
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for i := range shards {
		x.shards[i].Store(shards[i])
	}
	x.byID = byID
	x.size.Store(int64(len(byID)))
}
