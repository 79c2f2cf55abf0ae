package memtune

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func live() uint64 {
	s := []metrics.Sample{{Name: liveMetric}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// waitLimit collects garbage until the limit is set from the live heap of
// the last collection (the tuner runs after it, in its own goroutine).
func waitLimit(t *testing.T) (limit int64, heap uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		heap = live()
		for range 100 {
			if limit = debug.SetMemoryLimit(-1); limit == Limit(heap) {
				return limit, heap
			}
			time.Sleep(time.Millisecond)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the limit is %d MiB, want %d MiB (live heap %d MiB)", limit>>20, Limit(heap)>>20, heap>>20)
		}
	}
}

var hold [][]byte

// The limit follows the live heap, up and down, and stop restores the
// limit there was.
func TestLimitFollowsTheLiveHeap(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	before := debug.SetMemoryLimit(-1)
	stop := Start()
	small, _ := waitLimit(t)
	for range 96 {
		hold = append(hold, make([]byte, 1<<20))
	}
	big, heap := waitLimit(t)
	if heap < 96<<20 || big < small+64<<20 {
		t.Fatalf("holding 96 MiB more: limit %d MiB from %d MiB, live %d MiB", big>>20, small>>20, heap>>20)
	}
	hold = nil
	if after, _ := waitLimit(t); after > small+16<<20 {
		t.Errorf("the heap let go: limit still %d MiB (was %d MiB)", after>>20, small>>20)
	}
	stop()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("after stop the limit is %d, want %d as before", got, before)
	}
	runtime.GC()
	time.Sleep(10 * time.Millisecond)
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("a collection after stop set the limit to %d", got)
	}
}

// A limit the user set with GOMEMLIMIT is theirs.
func TestUserLimitWins(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "1GiB")
	before := debug.SetMemoryLimit(-1)
	stop := Start()
	defer stop()
	runtime.GC()
	runtime.GC()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Fatalf("GOMEMLIMIT is set, yet the limit changed from %d to %d", before, got)
	}
}

func TestLimit(t *testing.T) {
	for _, c := range []struct{ live, want uint64 }{
		{0, MinHeadroom},
		{10 << 20, 10<<20 + MinHeadroom},
		{60 << 20, 60<<20 + MinHeadroom},
		{400 << 20, 500 << 20},
	} {
		if got := Limit(c.live); got != int64(c.want) {
			t.Errorf("Limit(%d MiB) = %d MiB, want %d MiB", c.live>>20, got>>20, c.want>>20)
		}
	}
}
