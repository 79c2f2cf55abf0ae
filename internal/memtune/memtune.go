// Package memtune keeps a long-running process's memory near what it
// holds: a soft memory limit (runtime/debug.SetMemoryLimit) of the live
// heap plus headroom, set again after every garbage collection.
//
// With GOGC alone the heap grows to twice the live heap before a
// collection, and the runtime keeps what a collection freed mapped for a
// while: a console holding 100,000 keys (about 60 MB live) sat at 140 to
// 200 MB of anonymous memory. The limit follows the live heap, so a larger
// store raises it instead of making the collector run without end.
package memtune

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// MinHeadroom is the least room above the live heap the limit leaves:
// allocation between two collections, and the runtime's own memory
// (stacks, metadata), which the limit counts too.
const MinHeadroom = 24 << 20

// Limit is the soft memory limit for a live heap of live bytes: live plus
// the larger of MinHeadroom and a quarter of live.
func Limit(live uint64) int64 {
	return int64(live + max(MinHeadroom, live/4))
}

// liveMetric is the runtime's measure of the heap marked live by the last
// collection.
const liveMetric = "/gc/heap/live:bytes"

// Start sets the limit after every collection from now on, until stop is
// called (which restores the limit there was). A limit the user set with
// GOMEMLIMIT is left alone: Start does nothing then.
func Start() (stop func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	t := &tuner{prev: debug.SetMemoryLimit(-1)}
	t.arm()
	return t.stop
}

type tuner struct {
	mu      sync.Mutex
	stopped bool
	prev    int64
	sample  [1]metrics.Sample
}

// sentinel is garbage from birth: its cleanup runs after the next
// collection. It is big enough not to share a tiny-allocator block, whose
// cleanups may never run.
type sentinel struct{ _ [64]byte }

// arm registers the cleanup that tunes the limit after the next
// collection, and arms again.
func (t *tuner) arm() {
	runtime.AddCleanup(new(sentinel), func(t *tuner) {
		if t.tune() {
			t.arm()
		}
	}, t)
}

// tune sets the limit from the live heap; false once stopped.
func (t *tuner) tune() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	t.sample[0].Name = liveMetric
	metrics.Read(t.sample[:])
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		debug.SetMemoryLimit(Limit(t.sample[0].Value.Uint64()))
	}
	return true
}

func (t *tuner) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.stopped {
		t.stopped = true
		debug.SetMemoryLimit(t.prev)
	}
}
