package remote

import (
	"testing"
	"time"
)

func TestBackoffCappedAt5s(t *testing.T) {
	first := 500 * time.Millisecond
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for n, w := range want {
		if got := backoff(first, n); got != w {
			t.Errorf("backoff(%v, %d) = %v, want %v", first, n, got, w)
		}
	}
	if got := backoff(first, 1000); got != 5*time.Second {
		t.Errorf("backoff after 1000 attempts = %v, want 5s", got)
	}
}
