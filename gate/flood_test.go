package gate

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// A flood of 10,000 random 240-character Origins with a restricted key,
// through the gate and its flushes into the bolt store, leaves at most
// store.MaxRefusedHostsPerDay + 1 refused-host rows for the key and day
// (issue 9, item 2), while every refusal is still counted; the gate's own
// memory of hosts stays bounded between flushes.
func TestRefusedHostFloodIsBounded(t *testing.T) {
	f := newFixture(t, Options{AllowHTTP: true})
	k := f.linkedKey
	rng := rand.New(rand.NewPCG(9, 2))
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	origin := func() string {
		b := make([]byte, 240)
		for i := range b {
			b[i] = letters[rng.IntN(len(letters))]
		}
		b[60], b[120], b[180] = '.', '.', '.'
		return "https://" + string(b)
	}
	const flood = 10_000
	for i := range flood {
		d := f.g.Decide(call(tile(f.linked), "Origin", origin()))
		if d.Reason != model.ReasonDomainNotAuthorized {
			t.Fatalf("request %d: %+v", i, d)
		}
		if c := f.g.usage.existing(k.ID); c != nil {
			c.mu.Lock()
			n := len(c.hosts)
			c.mu.Unlock()
			if n > MaxRefusedHosts {
				t.Fatalf("the gate remembers %d hosts between flushes", n)
			}
		}
		if i%500 == 499 { // flushes as Run makes them, so the store sees them all
			if err := f.g.Flush(f.ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := f.g.Flush(f.ctx); err != nil {
		t.Fatal(err)
	}
	hs, err := f.st.RefusedHosts(context.Background(), k.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The fixture's clock stays in one hour, so this is one day's rows.
	if len(hs) > store.MaxRefusedHostsPerDay+1 {
		t.Fatalf("%d refused-host rows for one key and day, want at most %d", len(hs), store.MaxRefusedHostsPerDay+1)
	}
	var sum uint64
	for _, h := range hs {
		sum += h.Count
	}
	if sum != flood || !hs[len(hs)-1].Other {
		t.Fatalf("the rows count %d refusals (last %+v), want all %d with the other hosts last", sum, hs[len(hs)-1], flood)
	}
}
