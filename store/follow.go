package store

import (
	"context"
	"time"

	"github.com/tmaps/console/model"
)

// Follower is implemented by stores whose changes carry revisions (etcd): a
// gate loads every key at one revision, then applies the key changes after
// it, in order, and learns from progress marks how fresh it is. A store
// shared by several processes implements it so that each process's gate
// can prove that it is not behind.
type Follower interface {
	// KeysRevision returns every key (LastUsed may be left zero) and the
	// revision they reflect.
	KeysRevision(ctx context.Context) ([]model.Key, int64, error)
	// Follow delivers changes until ctx ends, then closes the channel.
	// Subscribe before loading: every change after the revision of a later
	// KeysRevision is delivered, in revision order.
	Follow(ctx context.Context) (<-chan Change, error)
}

// ChangeKind says what a Change is.
type ChangeKind uint8

// Change kinds.
const (
	// ChangeKey: key ID is now Key (nil: the key is gone). The last key
	// change of a revision has RevEnd set.
	ChangeKey ChangeKind = iota + 1
	// ChangeResync: changes were lost (compacted history, a slow
	// subscriber): load every key again and skip changes at or below the
	// revision of that load.
	ChangeResync
	// ChangeProgress: every change up to Rev was delivered before this
	// one, and Rev was the newest revision of the whole store at time At
	// (a quorum read): the subscriber is fresh as of At.
	ChangeProgress
)

// Change is one step of Follow.
type Change struct {
	Kind   ChangeKind
	Rev    int64
	RevEnd bool
	ID     string
	Key    *model.Key
	At     time.Time
}
