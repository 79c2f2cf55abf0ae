package model

import (
	"sync/atomic"
	"time"
)

// TokenBucket is the token bucket of one key on one gate node (SPEC.md step 10),
// kept as the "theoretical arrival time" of the generic cell rate algorithm:
// one int64 moved by compare-and-swap, so different keys never share a
// lock and the same key never blocks. The zero value is a full bucket.
type TokenBucket struct {
	tat atomic.Int64 // unix nanoseconds; the bucket is full when tat ≤ now
}

// Take spends one token at now (unix nanoseconds) for a limit of rate
// requests per second with burst requests at once. It returns ok, or the
// wait until a token is back. A rate ≤ 0 always allows. It does not allocate.
func (b *TokenBucket) Take(now int64, rate float64, burst uint32) (ok bool, wait time.Duration) {
	if rate <= 0 {
		return true, 0
	}
	interval := int64(float64(time.Second) / rate)
	if interval < 1 {
		interval = 1
	}
	// The bucket allows a request while tat − now ≤ tolerance.
	tolerance := interval * int64(max(burst, 1)-1)
	for {
		tat := b.tat.Load()
		base := max(tat, now)
		if wait := base - now - tolerance; wait > 0 {
			if wait > interval {
				// Only a change to a faster rate or a smaller burst puts tat
				// this far ahead: count the bucket as just emptied instead
				// of making the new limit wait for the old one.
				b.tat.CompareAndSwap(tat, now+tolerance+interval)
				wait = interval
			}
			return false, time.Duration(wait)
		}
		if b.tat.CompareAndSwap(tat, base+interval) {
			return true, 0
		}
	}
}

// Reset fills the bucket (a new rate limit starts with its whole burst).
func (b *TokenBucket) Reset() { b.tat.Store(0) }

// RetrySeconds rounds a wait up to whole seconds, at least 1, for a
// Retry-After header.
func RetrySeconds(wait time.Duration) uint32 {
	s := (wait + time.Second - 1) / time.Second
	if s < 1 {
		return 1
	}
	if s > 1<<31 {
		return 1 << 31
	}
	return uint32(s)
}
